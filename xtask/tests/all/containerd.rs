//! Slow tier: kiln's release images under a real containerd (Debian's, a
//! private instance: its own root, state, config and socket in a temp dir,
//! never the system's) with the kiln shim, and the release modules on the
//! stock wasmtime CLI. Needs root (containerd makes mounts and namespaces).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::text;

fn xtask_ok(args: &[&str]) -> Output {
    let out = crate::support::ci_xtask(args);
    assert!(out.status.success(), "xtask {args:?} failed:\n{}", text(&out));
    out
}

/// `release php python ruby` into a temp dir (the builds come from the
/// cache the other tiers filled).
fn release_all() -> tempfile::TempDir {
    let dist = tempfile::tempdir().unwrap();
    xtask_ok(&["release", "php", "python", "ruby", "--out", dist.path().to_str().unwrap()]);
    dist
}

/// A private containerd; stopped, its mounts and shims cleaned up, and its
/// directory removed when dropped, also when a test fails.
struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Containerd {
    /// Start one whose PATH begins with `shim_dir` (where containerd looks
    /// up `containerd-shim-kiln-v1`).
    fn start(shim_dir: &Path) -> Containerd {
        let dir = tempfile::Builder::new().prefix("kiln-ctd-").tempdir().unwrap();
        let d = dir.path();
        let sock = d.join("containerd.sock");
        let config = d.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = sock.display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap_or_default());
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .env("PATH", path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (Debian package containerd)");
        let c = Containerd { child, dir, sock };
        let t = Instant::now();
        while !c.ctr_raw(&["version"]).status.success() {
            assert!(t.elapsed() < Duration::from_secs(30), "containerd did not start:\n{}", c.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr_raw(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ctr (Debian package containerd)")
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let out = self.ctr_raw(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed:\n{}\ncontainerd's log (tail):\n{}",
            text(&out),
            tail(&self.log(), 30)
        );
        out
    }

    /// `ctr run --rm` with the kiln runtime: (status, stdout, stderr).
    fn run(&self, extra: &[&str], image: &str, id: &str, argv: &[&str]) -> (i32, String, String) {
        let mut args = vec!["run", "--rm", "--runtime", "io.containerd.kiln.v1", "--platform", "wasi/wasm"];
        args.extend_from_slice(extra);
        args.push(image);
        args.push(id);
        args.extend_from_slice(argv);
        let out = self.ctr_raw(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Containers left by a failed test, then containerd itself.
        if let Ok(o) = Command::new("ctr")
            .arg("--address")
            .arg(&self.sock)
            .args(["tasks", "ls", "-q"])
            .output()
        {
            for id in String::from_utf8_lossy(&o.stdout).lines() {
                let _ = Command::new("ctr")
                    .arg("--address")
                    .arg(&self.sock)
                    .args(["tasks", "kill", "-s", "SIGKILL", id])
                    .output();
                let _ = Command::new("ctr")
                    .arg("--address")
                    .arg(&self.sock)
                    .args(["tasks", "delete", "-f", id])
                    .output();
                let _ = Command::new("ctr")
                    .arg("--address")
                    .arg(&self.sock)
                    .args(["containers", "delete", id])
                    .output();
            }
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Shims of this instance (their command line names its socket).
        let _ = Command::new("pkill").arg("-f").arg(self.sock.display().to_string()).status();
        // Mounts under its root (snapshots, rootfs), deepest first.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = self.dir.path().display().to_string();
        let mut points: Vec<String> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|p| p.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", &p]).status();
        }
    }
}

#[test]
#[ignore = "slow tier: releases all three interpreters, starts containerd (root)"]
fn kiln_images_run_under_containerd_with_the_kiln_shim() {
    let dist = release_all();
    let prefix = tempfile::tempdir().unwrap();
    let installed = text(&xtask_ok(&["shim", "install", "--prefix", prefix.path().to_str().unwrap()]));
    assert!(installed.contains("containerd runtime: io.containerd.kiln.v1"), "{installed}");
    let shim_dir = prefix.path().join("bin");
    assert!(shim_dir.join("containerd-shim-kiln-v1").is_file());

    let ctd = Containerd::start(&shim_dir);
    for archive in ["php-8.4.16.oci.tar", "python-3.13.5.oci.tar", "ruby-3.3.8.oci.tar"] {
        let p = dist.path().join(archive);
        ctd.ctr(&["images", "import", "--platform", "wasi/wasm", p.to_str().unwrap()]);
    }
    // The index names each image: no `import-<date>` names.
    let images = String::from_utf8_lossy(&ctd.ctr(&["images", "ls", "-q"]).stdout).into_owned();
    for name in [
        "docker.io/kiln/php:8.4.16",
        "docker.io/kiln/python:3.13.5",
        "docker.io/kiln/ruby:3.3.8",
    ] {
        assert!(images.lines().any(|l| l == name), "{name} not among:\n{images}");
    }

    let php = "docker.io/kiln/php:8.4.16";
    let (status, out, err) = ctd.run(&[], php, "php1", &["php", "-r", "echo 6*7;"]);
    assert_eq!((status, out.as_str()), (0, "42"), "stderr: {err}\n{}", tail(&ctd.log(), 30));
    // The image's Entrypoint path works as argv[0] too.
    let (status, out, _) = ctd.run(&[], php, "php2", &["/bin/php.wasm", "-r", "echo PHP_VERSION;"]);
    assert_eq!((status, out.as_str()), (0, "8.4.16"));
    // A fatal error: PHP's 255 comes through, after the shutdown function.
    let (status, out, _) = ctd.run(
        &[],
        php,
        "php3",
        &[
            "php",
            "-r",
            "register_shutdown_function(function () { echo 'shutdown'; }); undefined_function();",
        ],
    );
    assert_eq!(status, 255, "{out}");
    assert!(
        out.contains("Call to undefined function undefined_function()") && out.ends_with("shutdown"),
        "{out}"
    );
    // The OCI process's environment (the guest starts in `/` whatever its
    // cwd: docs/containers.md).
    let (status, out, _) = ctd.run(
        &["--env", "GREETING=hi there"],
        php,
        "php4",
        &["php", "-r", "echo getenv('GREETING');"],
    );
    assert_eq!((status, out.as_str()), (0, "hi there"));
    // A bind mount is a directory the guest reads and writes.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("in.txt"), "from the host").unwrap();
    let mount = format!("type=bind,src={},dst=/data,options=rbind:rw", data.path().display());
    let (status, out, err) = ctd.run(
        &["--mount", &mount],
        php,
        "php5",
        &[
            "php",
            "-r",
            "echo file_get_contents('/data/in.txt'); file_put_contents('/data/out.txt', 'from the guest');",
        ],
    );
    assert_eq!((status, out.as_str()), (0, "from the host"), "{err}");
    assert_eq!(std::fs::read_to_string(data.path().join("out.txt")).unwrap(), "from the guest");
    // A missing entrypoint fails the container with a reason, not a hang.
    let (status, _, err) = ctd.run(&[], php, "php6", &["no-such-command"]);
    assert_ne!(status, 0, "{err}");

    // Python from the image's stdlib layer, found through its PYTHONHOME.
    let (status, out, err) = ctd.run(
        &[],
        "docker.io/kiln/python:3.13.5",
        "py1",
        &[
            "python",
            "-c",
            "import sqlite3, json, sys; print(json.dumps([sqlite3.sqlite_version, sys.prefix]))",
        ],
    );
    assert_eq!((status, out.trim()), (0, "[\"3.46.1\", \"/usr/local\"]"), "{err}");
    let (status, out, err) = ctd.run(
        &[],
        "docker.io/kiln/ruby:3.3.8",
        "rb1",
        &["ruby", "-e", "require 'json'; puts JSON.generate([RUBY_VERSION, 1])"],
    );
    assert_eq!((status, out.trim()), (0, "[\"3.3.8\",1]"), "{err}");
    let (status, _, _) = ctd.run(&[], "docker.io/kiln/ruby:3.3.8", "rb2", &["ruby", "-e", "exit 3"]);
    assert_eq!(status, 3);
}

/// docs/containers.md's commands for the stock wasmtime CLI, one per interpreter.
#[test]
#[ignore = "slow tier: installs the pinned wasmtime CLI with cargo, releases all three interpreters"]
fn release_modules_run_on_the_stock_wasmtime_cli() {
    let wasmtime = PathBuf::from(String::from_utf8_lossy(&xtask_ok(&["wasmtime-cli"]).stdout).trim());
    let v = Command::new(&wasmtime).arg("--version").output().unwrap();
    assert!(text(&v).contains("wasmtime 48."), "{}", text(&v));
    let dist = release_all();
    let d = dist.path();
    // docs/containers.md's layout: each tarball unpacked as /usr/local of a root.
    for (t, root) in [("python-3.13.5-wasi.tar.gz", "python"), ("ruby-3.3.8-wasi.tar.gz", "ruby")] {
        std::fs::create_dir_all(d.join(root).join("usr/local")).unwrap();
        let ok = Command::new("tar")
            .arg("-xzf")
            .arg(d.join(t))
            .arg("-C")
            .arg(d.join(root).join("usr/local"))
            .arg("--strip-components=1")
            .status()
            .unwrap();
        assert!(ok.success());
    }
    // (status, stdout); stderr is shown when a check fails.
    let run = |args: &[&str]| -> (i32, String) {
        let out = Command::new(&wasmtime).arg("run").args(args).current_dir(d).output().unwrap();
        eprintln!("wasmtime run {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // PHP's module needs exceptions (exnref): without them it does not load.
    let (status, out) = run(&["-W", "exceptions=n", "php-8.4.16.wasm", "-r", "echo 1;"]);
    assert_ne!(status, 0, "{out}");
    let (status, out) = run(&["-W", "exceptions=y", "php-8.4.16.wasm", "-r", "echo PHP_VERSION;"]);
    assert_eq!((status, out.trim()), (0, "8.4.16"));
    // What docs/containers.md's table says about the stock CLI: WASI's proc_exit
    // there refuses statuses of 126 and more, so PHP's 255 after a fatal
    // error comes out as 1 (kiln's runner and shim pass 255 through).
    let out = Command::new(&wasmtime)
        .args(["run", "-W", "exceptions=y", "php-8.4.16.wasm", "-r", "undefined_function();"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("invalid exit status outside of [0..126)"), "{}", text(&out));
    let (status, out) = run(&[
        "-W",
        "exceptions=y",
        "--dir",
        "python::/",
        "--env",
        "PYTHONHOME=/usr/local",
        "python-3.13.5.wasm",
        "-c",
        "import json, sqlite3; print(json.dumps([sqlite3.sqlite_version]))",
    ]);
    assert_eq!((status, out.trim()), (0, "[\"3.46.1\"]"));
    let (status, out) = run(&[
        "-W",
        "exceptions=y",
        "--dir",
        "ruby::/",
        "ruby-3.3.8.wasm",
        "-e",
        "require 'json'; puts JSON.generate([RUBY_VERSION])",
    ]);
    assert_eq!((status, out.trim()), (0, "[\"3.3.8\"]"));
}
