//! Sources: safe unpacking of archives and the ordered patch series.
//!
//! Unpacking refuses any entry that would land outside the destination:
//! absolute paths, `..` components, and symlinks or hard links whose target
//! escapes. It unpacks into a sibling temporary directory and renames it
//! into place only when everything succeeded.
//!
//! Patches are applied with GNU `patch` after a `--dry-run` of the whole
//! series, so a patch that does not apply changes nothing and the error
//! names the patch, the file and the hunk.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::cmd::Cmd;

/// Unpack `archive` (`.tar.xz`, `.tar.gz`, `.tgz`, `.tar`, `.deb`) into
/// `dest`, dropping `strip` leading components. `dest` must not exist.
pub fn unpack(archive: &Path, dest: &Path, strip: usize) -> Result<()> {
    if dest.exists() {
        bail!("refusing to unpack {} over existing {}", archive.display(), dest.display());
    }
    let parent = dest.parent().context("destination has no parent")?;
    fs::create_dir_all(parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    unpack_into(archive, tmp.path(), strip).with_context(|| format!("unpacking {}", archive.display()))?;
    let tmp = tmp.keep();
    fs::rename(&tmp, dest).with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))?;
    Ok(())
}

fn unpack_into(archive: &Path, dest: &Path, strip: usize) -> Result<()> {
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let file = BufReader::new(File::open(archive).with_context(|| format!("opening {}", archive.display()))?);
    if name.ends_with(".deb") {
        let mut ar = ar::Archive::new(file);
        while let Some(entry) = ar.next_entry() {
            let entry = entry?;
            let id = String::from_utf8_lossy(entry.header().identifier()).to_string();
            if let Some(kind) = id.strip_prefix("data.tar") {
                return unpack_tar(decompressor(kind, Box::new(entry))?, dest, strip);
            }
        }
        bail!("{}: no data.tar member", archive.display());
    }
    let kind = if name.ends_with(".tar.xz") || name.ends_with(".txz") {
        ".xz"
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        ".gz"
    } else if name.ends_with(".tar") {
        ""
    } else {
        bail!(
            "{}: unknown archive type (known: .tar.xz, .tar.gz, .tgz, .tar, .deb)",
            archive.display()
        );
    };
    unpack_tar(decompressor(kind, Box::new(file))?, dest, strip)
}

fn decompressor<'a>(kind: &str, r: Box<dyn Read + 'a>) -> Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        ".xz" => Box::new(xz2::read::XzDecoder::new(r)),
        ".gz" => Box::new(flate2::read::GzDecoder::new(r)),
        "" => r,
        other => bail!("unsupported compression {other:?}"),
    })
}

/// Lexically normalise `p` (no filesystem access); `None` if it climbs
/// above its start or is absolute.
fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn unpack_tar(r: Box<dyn Read + '_>, dest: &Path, strip: usize) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let rel = normalise(&raw)
            .filter(|_| !raw.is_absolute())
            .ok_or_else(|| anyhow!("refused archive entry {:?}: escapes the destination", raw))?;
        // Also refuse `a/../../x`, which normalise() catches, and absolute
        // names, which it refuses; now strip the leading components.
        let rel: PathBuf = rel.components().skip(strip).collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()?
                .ok_or_else(|| anyhow!("link {:?} has no target", raw))?
                .into_owned();
            let resolved = if kind.is_symlink() {
                if target.is_absolute() {
                    None
                } else {
                    normalise(&rel.parent().unwrap_or(Path::new("")).join(&target))
                }
            } else {
                normalise(&target).map(|t| t.components().skip(strip).collect())
            };
            if resolved.is_none() {
                bail!("refused archive entry {:?}: link to {:?} escapes the destination", raw, target);
            }
            if kind.is_hard_link() {
                let src = dest.join(resolved.expect("checked"));
                let dst = dest.join(&rel);
                if let Some(p) = dst.parent() {
                    fs::create_dir_all(p)?;
                }
                fs::hard_link(&src, &dst).with_context(|| format!("hard link {} -> {}", dst.display(), src.display()))?;
                continue;
            }
        }
        let out = dest.join(&rel);
        // Never write through a symlink that an earlier entry created.
        if let Some(parent) = rel.parent() {
            let mut cur = dest.to_path_buf();
            for c in parent.components() {
                cur.push(c);
                if cur.is_symlink() {
                    bail!("refused archive entry {:?}: its directory {} is a symlink", raw, cur.display());
                }
            }
            fs::create_dir_all(dest.join(parent))?;
        }
        entry.unpack(&out).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// The patch files of a series directory, in name order (`NNNN-*.patch`).
pub fn patch_series(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    v.sort();
    Ok(v)
}

/// Apply `patches` in order to `tree`. Every patch is checked with
/// `--dry-run` against the tree as the earlier ones leave it, on a scratch
/// copy-free basis: patches that touch the same file are checked in
/// sequence by applying to a temporary copy of those files. Nothing in
/// `tree` changes unless the whole series applies.
pub fn apply_patches(tree: &Path, patches: &[PathBuf], log_dir: &Path) -> Result<()> {
    if patches.is_empty() {
        return Ok(());
    }
    // Check on a scratch copy of just the files the series touches.
    let scratch = tempfile::tempdir().context("creating a scratch dir for patch checks")?;
    for p in patches {
        for f in touched_files(p)? {
            let src = tree.join(&f);
            let dst = scratch.path().join(&f);
            if src.is_file() && !dst.exists() {
                fs::create_dir_all(dst.parent().expect("relative path has a parent"))?;
                fs::copy(&src, &dst)?;
            }
        }
    }
    for p in patches {
        let log = log_dir.join(format!("patch-{}.log", p.file_name().unwrap_or_default().to_string_lossy()));
        let res = patch_cmd(scratch.path(), p).run(&log);
        if res.is_err() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "patch {} does not apply to {}:\n{}(nothing was changed; log: {})",
                p.display(),
                tree.display(),
                describe_failure(&text),
                log.display()
            );
        }
    }
    for p in patches {
        let log = log_dir.join(format!("patch-{}.log", p.file_name().unwrap_or_default().to_string_lossy()));
        patch_cmd(tree, p).run(&log).with_context(|| format!("applying {}", p.display()))?;
    }
    Ok(())
}

fn patch_cmd(dir: &Path, p: &Path) -> Cmd {
    Cmd::new("patch", dir)
        .args(["-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-r", "-", "-i"])
        .arg(p)
}

/// Files a unified diff modifies (`+++ b/path`), relative to the tree.
pub fn touched_files(patch: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string(patch).with_context(|| format!("reading {}", patch.display()))?;
    let mut v = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("+++ ") {
            let path = rest.split('\t').next().unwrap_or(rest).trim();
            let rel: PathBuf = Path::new(path).components().skip(1).collect();
            match normalise(&rel) {
                Some(r) if !r.as_os_str().is_empty() => v.push(r),
                _ => bail!("{}: patch touches {path:?}, outside the source tree", patch.display()),
            }
        }
    }
    Ok(v)
}

/// Turn GNU patch's chatter into "file X: hunk #N FAILED at L" lines.
fn describe_failure(log: &str) -> String {
    let mut out = String::new();
    let mut file = String::new();
    for line in log.lines() {
        if let Some(f) = line.strip_prefix("patching file ") {
            file = f.trim_matches('\'').to_string();
        } else if line.contains("FAILED")
            || line.contains("can't find file")
            || line.contains("No file to patch")
            || line.contains("Reversed (or previously applied)")
            || line.contains("malformed")
        {
            out.push_str(&format!("  file {file}: {}\n", line.trim()));
        }
    }
    if out.is_empty() {
        out = crate::cmd::tail_of_str(log, 10);
    }
    out
}
