//! Shared helpers for the slow tier: run the real `cargo xtask` binary.

use std::path::Path;
use std::process::{Command, Output};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent")
}

pub fn xtask(args: &[&str], cwd: &Path) -> Output {
    xtask_env(args, cwd, &[])
}

/// The same with extra environment variables.
pub fn xtask_env(args: &[&str], cwd: &Path, envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args).current_dir(cwd);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("running xtask")
}

/// A fresh directory holding `files` (name, text).
pub fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = d.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("creating a test directory");
        }
        std::fs::write(path, text).expect("writing a test file");
    }
    d
}

/// A directory holding `name` with `text`, and the interpreter run there
/// on it by its relative path: the guest-path rule for every interpreter.
pub fn run_relative_script(interp: &str, name: &str, text: &str) -> (i32, String, String) {
    let d = dir_with(&[(name, text)]);
    run_in(interp, d.path(), &[name])
}

/// A host program's stdout, run in `cwd`; fails the test if it is missing
/// or exits non-zero.
pub fn host_tool(cmd: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed for this test (`cargo xtask setup` installs it): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the host's CPython prints for `code`: the reference the guests'
/// hashes and digests are checked against.
pub fn host_python(code: &str) -> String {
    host_tool("python3", &["-c", code], repo())
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
    run_with(interp, cwd, &[], args)
}

/// `cargo xtask run <interp> <run_flags> -- args` in `cwd` (e.g. `--flavor
/// full`): (status, stdout, stderr).
pub fn run_with(interp: &str, cwd: &Path, run_flags: &[&str], args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", interp];
    all.extend_from_slice(run_flags);
    all.push("--");
    all.extend_from_slice(args);
    let out = xtask(&all, cwd);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `cargo xtask <args>` in the checkout, output captured.
pub fn ci_xtask(args: &[&str]) -> Output {
    xtask(args, repo())
}

/// stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
