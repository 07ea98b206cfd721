//! Shared helpers for the slow tier: run the real `cargo xtask` binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent")
}

pub fn xtask(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("running xtask")
}

/// `cargo xtask build <interp>`; asserts success and returns the printed
/// module path, which must end with `expected_suffix`.
pub fn build(interp: &str, expected_suffix: &str) -> String {
    let out = xtask(&["build", interp], repo());
    assert!(out.status.success(), "build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(path.ends_with(expected_suffix), "{path}");
    assert!(Path::new(&path).is_file());
    path
}

/// `cargo xtask run <interp> -- args` in `cwd`: (status, stdout, stderr).
pub fn run_in(interp: &str, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", interp, "--"];
    all.extend_from_slice(args);
    let out = xtask(&all, cwd);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
