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

/// A difference from native that kiln keeps, with its reason (docs/posix.md
/// lists the same): `case` is the probe's case name (before ` => `);
/// `wasm` is its outcome on wasm, or `*` for any outcome but native's
/// (one that depends on what else the machine's directories hold).
pub struct KnownDifference {
    pub case: &'static str,
    pub wasm: &'static str,
    pub reason: &'static str,
}

/// kiln's POSIX file-semantics probe (`tests/posix/posix.<ext>`): run it
/// in an empty directory on wasm (`run`) and on the native build of the
/// same tarball (`run --native`), and compare case by case. Every case
/// must agree with native except `known`, whose wasm outcome must be
/// exactly as listed (so a fixed difference fails until it is removed).
pub fn posix_probe(interp: &str, ext: &str, known: &[&KnownDifference]) {
    let scripts = tempfile::tempdir().expect("tempdir");
    let script = scripts.path().join(format!("posix.{ext}"));
    std::fs::copy(repo().join(format!("tests/posix/posix.{ext}")), &script).expect("copying the probe");
    let script = script.to_str().expect("utf-8 temp path");
    let side = |native: bool| -> Vec<(String, String)> {
        let work = tempfile::tempdir().expect("tempdir");
        let dir = scripts.path().to_str().expect("utf-8 temp path");
        let args: Vec<&str> = if native {
            vec!["run", interp, "--native", "--", script]
        } else {
            vec!["run", interp, "--dir", dir, "--", script]
        };
        let out = xtask(&args, work.path());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?} failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .map(|l| {
                let (case, outcome) = l.split_once(" => ").unwrap_or((l, ""));
                (case.to_string(), outcome.to_string())
            })
            .collect()
    };
    let (wasm, native) = (side(false), side(true));
    let cases: Vec<&String> = native.iter().map(|(c, _)| c).collect();
    assert_eq!(
        cases,
        wasm.iter().map(|(c, _)| c).collect::<Vec<_>>(),
        "both sides run the same cases"
    );
    assert!(cases.len() >= 35, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for ((case, w), (_, n)) in wasm.iter().zip(&native) {
        match known.iter().find(|k| k.case == case) {
            Some(k) if (w == k.wasm || k.wasm == "*") && w != n => {}
            Some(k) => wrong.push(format!(
                "{case}: wasm {w}, native {n}; listed as a known difference (wasm {}: {})",
                k.wasm, k.reason
            )),
            None if w != n => wrong.push(format!("{case}: wasm {w}, native {n}")),
            None => {}
        }
    }
    for k in known {
        assert!(cases.iter().any(|c| **c == k.case), "known difference {:?} names no case", k.case);
    }
    assert!(wrong.is_empty(), "{interp} differs from native:\n{}", wrong.join("\n"));
}

/// The reasons for the differences kiln keeps (docs/posix.md).
pub const ABOVE_THE_ROOT: &str = "the parent of a mapped directory is outside the guest's view unless it is mapped itself";
pub const ABSOLUTE_SYMLINK: &str =
    "WASI resolves symlinks inside their mapped directory: the host refuses an absolute target (EPERM), even one naming a path inside";
pub const READ_A_DIRECTORY: &str = "WASI's fd_read on a directory fails with EBADF where Linux says EISDIR";

/// The differences every interpreter keeps (its own case names agree).
pub const SHARED_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        case: "dot-dot above the root: parent lists it",
        wasm: "*",
        reason: ABOVE_THE_ROOT,
    },
    KnownDifference {
        case: "symlink: absolute target inside, read through",
        wasm: "EPERM",
        reason: ABSOLUTE_SYMLINK,
    },
];

/// Reading a directory through a descriptor (CPython's and Ruby's probes;
/// PHP's has no such case).
pub const READ_A_DIRECTORY_DIFFERENCE: KnownDifference = KnownDifference {
    case: "open a directory for reading, then read",
    wasm: "EBADF",
    reason: READ_A_DIRECTORY,
};
