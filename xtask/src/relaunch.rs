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
//! Compiling the full variant beside `build`'s C build (at `nice 19`)
//! was tried and left out: on a fresh 2-core machine it slowed the C build
//! from 356 s to 487-517 s and the first `run` still waited (docs/
//! measurements.md, "The light CLI").

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

/// Set in the full variant's environment by the light one, so a full
/// variant built without its runtime (which cannot happen through cargo's
/// defaults) fails instead of relaunching itself for ever.
const RELAUNCHED: &str = "KILN_XTASK_RELAUNCHED";

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
