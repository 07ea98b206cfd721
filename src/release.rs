//! Release artifacts, byte-for-byte reproducible: per interpreter and
//! flavour the post-processed module (+ debug module), a `-wasi.tar.gz`
//! (bin/ + lib/), a manifest, and an OCI image (image-layout directory and
//! oci-archive tarball) in the Docker+Wasm convention (platform `wasi/wasm`,
//! the module as entrypoint, the stdlib as its own layer). `SHA256SUMS`
//! covers the files at the top of the output directory.
//!
//! Reproducibility: tar entries sorted, mtime = `SOURCE_DATE_EPOCH`
//! (default below), uid/gid 0, normalised modes; gzip without timestamp or
//! name; JSON with sorted keys.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use serde_json::json;

use crate::fsutil::{sha256_bytes, sha256_file};
use crate::plan::BuildPlan;
use crate::postprocess::{self, BuildInfo};

/// One file or directory tree to put in an archive at `dest`.
struct Entry {
    src: PathBuf,
    dest: String,
}

/// The name an image gets when a container engine imports the archive.
pub fn image_name(recipe: &str, tag: &str) -> String {
    format!("docker.io/kiln/{recipe}:{tag}")
}

/// A deterministic tar (optionally gzipped) of `entries`, then the
/// symbolic links `links` (name, relative target).
fn tar_bytes(entries: &[Entry], links: &[(String, String)], gzip: bool, epoch: u64) -> Result<Vec<u8>> {
    let mut files: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    for e in entries {
        if e.src.is_dir() {
            for w in walkdir::WalkDir::new(&e.src).follow_links(true) {
                let w = w?;
                let rel = w.path().strip_prefix(&e.src).expect("under root");
                let name = Path::new(&e.dest).join(rel).display().to_string();
                files.insert(name, w.file_type().is_file().then(|| w.path().to_path_buf()));
            }
        } else {
            files.insert(e.dest.clone(), Some(e.src.clone()));
        }
    }
    // Parent directories of files get entries too.
    let dirs: Vec<String> = files
        .keys()
        .flat_map(|k| {
            Path::new(k)
                .ancestors()
                .skip(1)
                .map(|a| a.display().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|d| !d.is_empty())
        .collect();
    for d in dirs {
        files.entry(d).or_insert(None);
    }
    files.remove("");
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    for (name, src) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(epoch);
        h.set_uid(0);
        h.set_gid(0);
        match src {
            Some(p) => {
                let data = fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                let exec = name.ends_with(".wasm") || is_executable(p);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if exec { 0o755 } else { 0o644 });
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, data.as_slice())?;
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{name}/"), std::io::empty())?;
            }
        }
    }
    for (name, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(epoch);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, name, target)?;
    }
    let raw = b.into_inner()?;
    if !gzip {
        return Ok(raw);
    }
    let mut gz: GzEncoder<Vec<u8>> = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn write(path: &Path, data: &[u8]) -> Result<String> {
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    Ok(sha256_bytes(data))
}

/// Blob in an OCI layout; returns its descriptor.
fn blob(layout: &Path, media_type: &str, data: &[u8]) -> Result<serde_json::Value> {
    let digest = sha256_bytes(data);
    let dir = layout.join("blobs").join("sha256");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(&digest), data)?;
    Ok(json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": data.len()}))
}

/// What `release` produced for one plan.
#[derive(Debug, Clone)]
pub struct Released {
    pub id: String,
    pub files: Vec<PathBuf>,
    pub image_digest: String,
    pub sizes: BTreeMap<String, u64>,
}

/// Release one built plan into `out`.
/// `epoch` is the archives' timestamp (`SOURCE_DATE_EPOCH`).
pub fn release(plan: &BuildPlan, out: &Path, epoch: u64) -> Result<Released> {
    fs::create_dir_all(out)?;
    let id = &plan.id;
    let module_rel = plan.recipe.run.module.clone();
    let info = BuildInfo::of(plan);
    let (release_bytes, debug_bytes) = postprocess::process(&plan.module(), &info)?;
    let mut files = Vec::new();
    let mut sizes = BTreeMap::new();
    sizes.insert("built".into(), fs::metadata(plan.module())?.len());
    let wasm_path = out.join(format!("{id}.wasm"));
    write(&wasm_path, &release_bytes)?;
    sizes.insert("release".into(), release_bytes.len() as u64);
    files.push(wasm_path.clone());
    let debug_path = out.join(format!("{id}.debug.wasm"));
    write(&debug_path, &debug_bytes)?;
    sizes.insert("debug".into(), debug_bytes.len() as u64);
    files.push(debug_path);

    // Staging tree: bin/<module> (release) + lib/ (minus what the release
    // layout leaves out).
    let stage = tempfile::tempdir()?;
    let bin = stage.path().join(&module_rel);
    fs::create_dir_all(bin.parent().expect("module in a dir"))?;
    fs::write(&bin, &release_bytes)?;
    // The `[serve]` CGI module, beside the main one: in the tarball, in the
    // image's module layer, and as its own file `<id>-<suffix>.wasm`.
    let mut module_layer = vec![Entry {
        src: bin.clone(),
        dest: module_rel.clone(),
    }];
    let serve_rel = plan.recipe.serve.as_ref().map(|s| s.module.clone());
    if let Some(rel) = &serve_rel {
        let built = plan.dirs.out.join(rel);
        let (rel_bytes, dbg_bytes) = postprocess::process(&built, &info)?;
        sizes.insert("serve built".into(), fs::metadata(&built)?.len());
        sizes.insert("serve release".into(), rel_bytes.len() as u64);
        let suffix = serve_suffix(&plan.recipe.name, rel);
        let p = out.join(format!("{id}-{suffix}.wasm"));
        write(&p, &rel_bytes)?;
        files.push(p);
        let p = out.join(format!("{id}-{suffix}.debug.wasm"));
        write(&p, &dbg_bytes)?;
        files.push(p);
        let staged = stage.path().join(rel);
        fs::create_dir_all(staged.parent().expect("module in a dir"))?;
        fs::write(&staged, &rel_bytes)?;
        module_layer.push(Entry {
            src: staged,
            dest: rel.clone(),
        });
    }
    let lib_src = plan.dirs.out.join("lib");
    let lib = stage.path().join("lib");
    if lib_src.is_dir() {
        crate::fsutil::copy_tree(&lib_src, &lib)?;
        for p in &plan.recipe.release_prune() {
            let v = stage.path().join(p);
            if v.is_dir() {
                fs::remove_dir_all(&v)?;
            }
        }
    }
    let tarball = tar_bytes(
        &[
            Entry {
                src: stage.path().join(Path::new(&module_rel).parent().unwrap_or(Path::new(""))),
                dest: format!("{id}/{}", Path::new(&module_rel).parent().unwrap_or(Path::new("")).display()),
            },
            Entry {
                src: lib.clone(),
                dest: format!("{id}/lib"),
            },
        ]
        .into_iter()
        .filter(|e| e.src.exists())
        .collect::<Vec<_>>(),
        &[],
        true,
        epoch,
    )?;
    let tar_path = out.join(format!("{id}-wasi.tar.gz"));
    write(&tar_path, &tarball)?;
    files.push(tar_path);

    // OCI image: module layer + stdlib layer (if any).
    let layout = out.join(format!("{id}.oci"));
    let _ = fs::remove_dir_all(&layout);
    fs::create_dir_all(&layout)?;
    fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let entry_point = format!("/{module_rel}");
    let mut layer_specs = vec![module_layer];
    if lib.is_dir() {
        let mut v = Vec::new();
        for (host, guest) in &plan.recipe.run.dirs {
            if host == "lib" {
                v.push(Entry {
                    src: lib.clone(),
                    dest: guest.trim_start_matches('/').to_string(),
                });
            }
        }
        if v.is_empty() {
            v.push(Entry {
                src: lib.clone(),
                dest: "lib".into(),
            });
        }
        layer_specs.push(v);
    }
    for (i, spec) in layer_specs.iter().enumerate() {
        // The module layer names each module also without `.wasm`
        // (`bin/php` -> `php.wasm`), so an argv given to a container
        // runtime starts like a command line: `php -r ...`.
        let links: Vec<(String, String)> = if i == 0 {
            spec.iter()
                .filter_map(|e| {
                    let stem = e.dest.strip_suffix(".wasm")?;
                    let file = Path::new(&e.dest).file_name()?.to_string_lossy().into_owned();
                    Some((stem.to_string(), file))
                })
                .collect()
        } else {
            Vec::new()
        };
        let raw = tar_bytes(spec, &links, false, epoch)?;
        diff_ids.push(format!("sha256:{}", sha256_bytes(&raw)));
        let mut gz: GzEncoder<Vec<u8>> = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
        gz.write_all(&raw)?;
        layers.push(blob(&layout, "application/vnd.oci.image.layer.v1.tar+gzip", &gz.finish()?)?);
    }
    let env: Vec<String> = plan.recipe.run.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let created = chrono_like(epoch);
    let mut labels = json!({"org.opencontainers.image.version": plan.recipe.version, "dev.kiln.recipe": plan.recipe.name, "dev.kiln.flavor": plan.flavor});
    if let Some(rel) = &serve_rel {
        // The CGI program's entrypoint, for `--entrypoint`.
        labels["dev.kiln.serve.entrypoint"] = json!(format!("/{rel}"));
    }
    let config = json!({
        "architecture": "wasm",
        "os": "wasi",
        "created": created,
        "config": {"Entrypoint": [entry_point], "Env": env, "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": format!("kiln {}", env!("CARGO_PKG_VERSION"))}],
    });
    let config_desc = blob(&layout, "application/vnd.oci.image.config.v1+json", &serde_json::to_vec(&config)?)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layers,
        "annotations": {"org.opencontainers.image.title": id, "org.opencontainers.image.created": created},
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let mut mdesc = blob(&layout, "application/vnd.oci.image.manifest.v1+json", &manifest_bytes)?;
    let image_digest = mdesc["digest"].as_str().unwrap_or_default().to_string();
    mdesc["platform"] = json!({"architecture": "wasm", "os": "wasi"});
    // The tag, and the full name containerd's `ctr image import` (and
    // Docker's image store) give the image: `docker.io/kiln/php:8.4.16`,
    // shown by Docker as `kiln/php:8.4.16`.
    let tag = id.strip_prefix(&format!("{}-", plan.recipe.name)).unwrap_or(id).to_string();
    mdesc["annotations"] = json!({
        "org.opencontainers.image.ref.name": tag,
        "io.containerd.image.name": image_name(&plan.recipe.name, &tag),
    });
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [mdesc]});
    fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    let archive = tar_bytes(
        &[Entry {
            src: layout.clone(),
            dest: String::new(),
        }],
        &[],
        false,
        epoch,
    )?;
    let archive_path = out.join(format!("{id}.oci.tar"));
    write(&archive_path, &archive)?;
    files.push(archive_path);

    let manifest_json = json!({
        "id": id,
        "recipe": plan.recipe.name,
        "version": plan.recipe.version,
        "flavor": plan.flavor,
        "build_info": info,
        "image": {"digest": image_digest, "platform": "wasi/wasm", "layout": format!("{id}.oci"), "archive": format!("{id}.oci.tar")},
        "files": files.iter().map(|f| json!({"name": f.file_name().unwrap_or_default().to_string_lossy(), "sha256": sha256_file(f).unwrap_or_default(), "size": fs::metadata(f).map(|m| m.len()).unwrap_or(0)})).collect::<Vec<_>>(),
    });
    let mpath = out.join(format!("{id}.manifest.json"));
    write(&mpath, &serde_json::to_vec_pretty(&manifest_json)?)?;
    files.push(mpath);
    Ok(Released {
        id: id.clone(),
        files,
        image_digest,
        sizes,
    })
}

/// `php` + `bin/php-cgi.wasm` -> `cgi`: the serve module's file stem
/// without the recipe's name.
fn serve_suffix(name: &str, rel: &str) -> String {
    let stem = Path::new(rel)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.strip_prefix(&format!("{name}-")) {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => stem,
    }
}

/// Write `SHA256SUMS` for every regular file directly in `out`.
pub fn write_sums(out: &Path) -> Result<PathBuf> {
    let mut names: Vec<String> = fs::read_dir(out)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "SHA256SUMS")
        .collect();
    names.sort();
    let mut text = String::new();
    for n in names {
        text.push_str(&format!("{}  {n}\n", sha256_file(&out.join(&n))?));
    }
    let p = out.join("SHA256SUMS");
    fs::write(&p, text)?;
    Ok(p)
}

/// Today's UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    chrono_like(now)[..10].to_string()
}

/// RFC 3339 UTC for a Unix time (no external date crate needed for this).
pub fn chrono_like(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_module_file_names() {
        assert_eq!(serve_suffix("php", "bin/php-cgi.wasm"), "cgi");
        assert_eq!(serve_suffix("php", "bin/cgi.wasm"), "cgi");
        assert_eq!(serve_suffix("php", "bin/php-.wasm"), "php-");
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(chrono_like(0), "1970-01-01T00:00:00Z");
        assert_eq!(chrono_like(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
