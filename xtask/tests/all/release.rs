//! Slow tier: release artifacts checked with real tools (sha256sum, skopeo,
//! Debian's docker-registry on 127.0.0.1), reproducibility, and what a
//! second clone sharing the user-level cache gets.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output};

use crate::support::host_tool;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn xtask(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args).current_dir(repo());
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("running xtask");
    assert!(
        out.status.success(),
        "xtask {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Registry(Child);
impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[test]
#[ignore = "slow tier: builds PHP, needs skopeo and docker-registry"]
fn php_release_checks_out_with_sha256sum_skopeo_and_a_registry() {
    let dist = tempfile::tempdir().unwrap();
    xtask(&["release", "php", "--out", dist.path().to_str().unwrap()], &[]);
    host_tool("sha256sum", &["-c", "SHA256SUMS"], dist.path());
    let layout = format!("oci:{}:8.4.16", dist.path().join("php-8.4.16.oci").display());
    let config: serde_json::Value = serde_json::from_str(&host_tool("skopeo", &["inspect", "--config", &layout], dist.path())).unwrap();
    assert_eq!(
        (config["os"].as_str(), config["architecture"].as_str()),
        (Some("wasi"), Some("wasm"))
    );
    assert_eq!(config["config"]["Entrypoint"][0], "/bin/php.wasm");
    assert_eq!(config["config"]["Labels"]["dev.kiln.serve.entrypoint"], "/bin/php-cgi.wasm");

    // php-cgi travels beside php: its own artifact, in the tarball, in the
    // image's module layer; the tarball's copy runs.
    assert!(dist.path().join("php-8.4.16-cgi.wasm").is_file());
    let listing = host_tool("tar", &["-tzf", "php-8.4.16-wasi.tar.gz"], dist.path());
    assert!(listing.lines().any(|l| l == "php-8.4.16/bin/php-cgi.wasm"), "{listing}");
    let manifest_oci: serde_json::Value = serde_json::from_str(&host_tool("skopeo", &["inspect", "--raw", &layout], dist.path())).unwrap();
    let layer = manifest_oci["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blob = dist.path().join("php-8.4.16.oci/blobs/sha256").join(layer);
    let layer_listing = host_tool("tar", &["-tzf", blob.to_str().unwrap()], dist.path());
    assert!(layer_listing.lines().any(|l| l == "bin/php-cgi.wasm"), "{layer_listing}");
    let unpacked = tempfile::tempdir().unwrap();
    host_tool(
        "tar",
        &[
            "-xzf",
            dist.path().join("php-8.4.16-wasi.tar.gz").to_str().unwrap(),
            "-C",
            unpacked.path().to_str().unwrap(),
        ],
        dist.path(),
    );
    let cgi = unpacked.path().join("php-8.4.16/bin/php-cgi.wasm");
    let v = xtask(&["run", "php", "--module", cgi.to_str().unwrap(), "--", "-v"], &[]);
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("(cgi-fcgi)"),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );

    let info =
        String::from_utf8_lossy(&xtask(&["inspect", dist.path().join("php-8.4.16.wasm").to_str().unwrap()], &[]).stdout).into_owned();
    assert!(
        info.contains("f66f8f48db34e9e29f7bfd6901178e9cf4a1b163e6e497716dfcb8f88bcfae30"),
        "{info}"
    );
    assert!(!info.contains("custom:name"), "release module keeps its name section:\n{info}");
    // PHP's setjmp/longjmp are Wasm exceptions: a runtime must have exnref.
    let proposals = info.lines().find(|l| l.starts_with("proposals needed")).expect("a proposals line");
    assert!(proposals.contains("exceptions (exnref)"), "{proposals}");

    // Push to a registry on 127.0.0.1 and pull back: same digest.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let reg = tempfile::tempdir().unwrap();
    let cfg = reg.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            reg.path().join("data").display()
        ),
    )
    .unwrap();
    let _reg = Registry(
        Command::new("docker-registry")
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry)"),
    );
    let remote = format!("docker://127.0.0.1:{port}/kiln/php:8.4.16");
    let mut pushed = false;
    for _ in 0..50 {
        if Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", &layout, &remote])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            pushed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(pushed, "could not push to the local registry");
    let remote_info: serde_json::Value =
        serde_json::from_str(&host_tool("skopeo", &["inspect", "--tls-verify=false", &remote], dist.path())).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.path().join("php-8.4.16.manifest.json")).unwrap()).unwrap();
    assert_eq!(remote_info["Digest"], manifest["image"]["digest"]);
    let pulled = dist.path().join("pulled");
    host_tool(
        "skopeo",
        &[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &remote,
            &format!("oci:{}:8.4.16", pulled.display()),
        ],
        dist.path(),
    );
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest["image"]["digest"]);
}

/// Two clean builds of the same recipe in different directories (separate
/// target dirs, no build cache) give byte-identical outputs: zlib, the
/// smallest recipe, with the same flags and prefix maps every recipe gets.
/// And two releases of one build are byte-identical (archives, OCI image,
/// build-info, SHA256SUMS).
#[test]
#[ignore = "slow tier: builds zlib twice from scratch, releases PHP twice"]
fn clean_builds_and_releases_are_byte_identical() {
    let mut libs = Vec::new();
    for _ in 0..2 {
        let target = tempfile::tempdir().unwrap();
        let out = xtask(
            &["build", "zlib"],
            &[("KILN_TARGET_DIR", target.path()), ("KILN_NO_BUILD_CACHE", Path::new("1"))],
        );
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(dir.starts_with(&target.path().display().to_string()), "{dir}");
        libs.push(std::fs::read(Path::new(&dir).join("lib/libz.a")).unwrap());
    }
    assert!(libs[0].len() > 10_000);
    assert!(libs[0] == libs[1], "two clean zlib builds differ");

    let mut sums = Vec::new();
    for _ in 0..2 {
        let dist = tempfile::tempdir().unwrap();
        xtask(&["release", "php", "--out", dist.path().to_str().unwrap()], &[]);
        sums.push(std::fs::read_to_string(dist.path().join("SHA256SUMS")).unwrap());
    }
    assert!(sums[0].contains("php-8.4.16.wasm") && sums[0].contains("php-8.4.16.oci.tar"));
    assert_eq!(sums[0], sums[1]);
}

/// Ruby's release: module, debug module (its DWARF as the linker and
/// Asyncify wrote it), tarball, OCI image and SHA256SUMS; its build-info
/// names only the flags Ruby's build used (no Wasm-EH setjmp flags).
#[test]
#[ignore = "slow tier: builds Ruby"]
fn ruby_release_has_every_artifact_and_true_build_info() {
    let dist = tempfile::tempdir().unwrap();
    xtask(&["release", "ruby", "--out", dist.path().to_str().unwrap()], &[]);
    host_tool("sha256sum", &["-c", "SHA256SUMS"], dist.path());
    for f in [
        "ruby-3.3.8.wasm",
        "ruby-3.3.8.debug.wasm",
        "ruby-3.3.8-wasi.tar.gz",
        "ruby-3.3.8.oci.tar",
        "ruby-3.3.8.manifest.json",
    ] {
        assert!(dist.path().join(f).is_file(), "{f} missing");
    }
    let layout = format!("oci:{}:3.3.8", dist.path().join("ruby-3.3.8.oci").display());
    let config: serde_json::Value = serde_json::from_str(&host_tool("skopeo", &["inspect", "--config", &layout], dist.path())).unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/bin/ruby.wasm");
    for m in ["ruby-3.3.8.wasm", "ruby-3.3.8.debug.wasm"] {
        let info = String::from_utf8_lossy(&xtask(&["inspect", dist.path().join(m).to_str().unwrap()], &[]).stdout).into_owned();
        assert!(info.contains("\"recipe\": \"ruby\""), "{info}");
        assert!(
            !info.contains("sjlj"),
            "Ruby's build-info claims a flag its build never used:\n{info}"
        );
        assert!(info.contains("stack-size=16777216"), "{info}");
        // Asyncify, not Wasm exceptions: runs where exnref does not.
        let proposals = info.lines().find(|l| l.starts_with("proposals needed")).expect("a proposals line");
        assert!(!proposals.contains("exception-handling"), "{proposals}");
    }
    // The release module runs.
    let out = xtask(
        &[
            "run",
            "ruby",
            "--module",
            dist.path().join("ruby-3.3.8.wasm").to_str().unwrap(),
            "--",
            "-e",
            "print 6*7",
        ],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42");
}
