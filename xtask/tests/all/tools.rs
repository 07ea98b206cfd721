//! Slow tier: the runtimes outside kiln's runner are installed as a user
//! would install them: the containerd shim built from this workspace, and
//! the stock wasmtime CLI pinned in recipes/toolchain.toml. Run on
//! request (`cargo xtask ci --tier tools --tier containerd`), outside the
//! default run for CI's time budget.

use std::process::Command;

use crate::support::{ci_xtask, text};

/// The shim is outside the workspace's default members (CI's default run
/// does not compile its dependencies), so its lints are checked here.
#[test]
#[ignore = "slow tier: builds the containerd shim"]
fn shim_passes_clippy() {
    let out = Command::new(env!("CARGO"))
        .args([
            "clippy",
            "-p",
            "containerd-shim-kiln",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(crate::support::repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
#[ignore = "slow tier: builds the containerd shim"]
fn shim_installs_where_containerd_finds_it() {
    let prefix = tempfile::tempdir().unwrap();
    let out = ci_xtask(&["shim", "install", "--prefix", prefix.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("containerd runtime: io.containerd.kiln.v1"), "{stdout}");
    let bin = prefix.path().join("bin/containerd-shim-kiln-v1");
    assert!(stdout.contains(&format!("installed {}", bin.display())), "{stdout}");
    // containerd's shim protocol: `-v` prints the shim's name and version.
    let v = Command::new(&bin).arg("-v").output().unwrap();
    assert!(text(&v).contains(env!("CARGO_PKG_VERSION")), "{}", text(&v));
    // A bad prefix is an error that names it, not a panic.
    let out = ci_xtask(&["shim", "install", "--prefix", "/proc/no-such-dir"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("/proc/no-such-dir/bin"), "{}", text(&out));
}

#[test]
#[ignore = "slow tier: installs the pinned wasmtime CLI with cargo (minutes, once per cache)"]
fn wasmtime_cli_installs_at_its_pinned_version() {
    let out = ci_xtask(&["wasmtime-cli"]);
    assert!(out.status.success(), "{}", text(&out));
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(bin.contains("/tools/wasmtime-cli-48.0.8-"), "{bin}");
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("wasmtime 48.0.8"), "{}", text(&v));
    // A second call finds it installed and prints the same path.
    let again = ci_xtask(&["wasmtime-cli"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), bin);
    assert!(!text(&again).contains("installing"), "{}", text(&again));
}
