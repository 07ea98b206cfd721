//! The light variant's half of the runtime split (ARCHITECTURE.md,
//! "Two variants of one CLI").
//!
//! `cargo xtask` builds xtask without its `runtime` feature: the library
//! then plans, builds, post-processes and releases without wasmtime and
//! Cranelift, about two thirds of a fresh machine's Rust compile, so a first
//! `build` starts compiling C that much sooner. The commands that run a
//! module (`run`, `test`, `bench`, `serve`, `toolchain`, `ci`) hand their
//! arguments, unparsed, to the full variant: `cargo run --package xtask`,
//! which compiles the runtime on first use (cargo shows its progress) and
//! is a no-op afterwards. Both variants share every compiled dependency.
//!
//! While `build` compiles C, the full variant compiles beside it at the
//! lowest CPU priority ([`Prebuild`]), so the first `run` after a first
//! `build` has less left to compile; it is stopped when `build` ends
//! (cargo keeps what it finished).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Set in the full variant's environment by the light one, so a full
/// variant built without its runtime (which cannot happen through cargo's
/// defaults) fails instead of relaunching itself for ever.
const RELAUNCHED: &str = "KILN_XTASK_RELAUNCHED";

/// `KILN_PREBUILD=0` turns the compile beside `build` off (for A/B timing).
const PREBUILD: &str = "KILN_PREBUILD";

/// The workspace's manifest: both variants are built from it, whatever
/// the current directory.
fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .join("Cargo.toml")
}

/// The cargo that built this binary (cargo sets `CARGO` for `cargo run`).
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Replace this process with the full variant, given this process's own
/// arguments. Returns only if that could not start.
pub fn with_runtime() -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(RELAUNCHED).is_some() {
        bail!(
            "this xtask was built without its `runtime` feature, which this command needs \
             (run it as `cargo run --package xtask --features runtime -- ...`)"
        );
    }
    let mut c = Command::new(cargo());
    crate::cargo_env::scrub(&mut c);
    c.args(["run", "--package", "xtask", "--manifest-path"])
        .arg(manifest())
        .arg("--")
        .args(std::env::args_os().skip(1))
        .env(RELAUNCHED, "1");
    let err = c.exec();
    Err(err).context("starting `cargo run --package xtask` (the variant with the runtime)")
}

/// The full variant compiling beside a build; see the module docs.
pub struct Prebuild {
    child: Child,
    log: PathBuf,
    start: Instant,
}

impl Prebuild {
    /// Start `nice -n 19 cargo build --package xtask` in its own process
    /// group, its output in `log`. `None` (and a line saying why) when it
    /// is turned off or cannot start; the build goes on either way.
    pub fn start(log: &Path) -> Option<Prebuild> {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(PREBUILD).is_some_and(|v| v == "0") {
            return None;
        }
        let out = std::fs::create_dir_all(log.parent()?).and_then(|_| std::fs::File::create(log));
        let out = match out {
            Ok(f) => f,
            Err(e) => {
                eprintln!("note: not compiling the runtime beside the build ({}: {e})", log.display());
                return None;
            }
        };
        let err = out.try_clone().ok()?;
        let mut c = if kiln::host::which("nice").is_some() {
            let mut c = Command::new("nice");
            c.args(["-n", "19"]).arg(cargo());
            c
        } else {
            Command::new(cargo())
        };
        crate::cargo_env::scrub(&mut c);
        c.args(["build", "--package", "xtask", "--manifest-path"])
            .arg(manifest())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        match c.spawn() {
            Ok(child) => {
                eprintln!(
                    "note: compiling kiln's runtime (wasmtime) for `run` and `test` beside the build, \
                     at the lowest priority (log: {}; KILN_PREBUILD=0 turns this off)",
                    log.display()
                );
                Some(Prebuild {
                    child,
                    log: log.to_path_buf(),
                    start: Instant::now(),
                })
            }
            Err(e) => {
                eprintln!("note: not compiling the runtime beside the build (cargo: {e})");
                None
            }
        }
    }

    /// End it: if it has finished, say so; else stop its process group
    /// (cargo keeps every crate it finished; the next `run` compiles the
    /// rest).
    pub fn finish(mut self) {
        let secs = self.start.elapsed().as_secs();
        match self.child.try_wait() {
            Ok(Some(s)) if s.success() => eprintln!("note: kiln's runtime compiled beside the build ({secs} s)"),
            Ok(Some(s)) => eprintln!(
                "note: compiling the runtime beside the build failed ({s}); `run` will say why (log: {})",
                self.log.display()
            ),
            _ => {
                let group = format!("-{}", self.child.id());
                let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
                let _ = self.child.wait();
                eprintln!(
                    "note: stopped compiling the runtime after {secs} s; the first `run` or `test` \
                     compiles the rest (log: {})",
                    self.log.display()
                );
            }
        }
    }
}
