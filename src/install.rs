//! Runtimes outside kiln's own runner that run kiln's modules: the
//! containerd shim (a binary of this workspace, installed where containerd
//! looks for it) and the toolchain recipe's `[[cargo_tool]]`s (the stock
//! wasmtime CLI), installed into the cache with `cargo install`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cmd::Cmd;
use crate::layout::Layout;
use crate::recipe::CargoTool;

/// The containerd runtime name; containerd runs it as [`SHIM_BINARY`].
pub const SHIM_RUNTIME: &str = "io.containerd.kiln.v1";
/// `containerd-shim-<name>-<version>`, looked up on containerd's `PATH`.
pub const SHIM_BINARY: &str = "containerd-shim-kiln-v1";
/// The workspace package that builds it.
pub const SHIM_PACKAGE: &str = "containerd-shim-kiln";

/// Cargo's target directory for this checkout.
fn target_dir(layout: &Layout) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| layout.repo.join("target"))
}

/// Build the shim (the dev profile, whose dependencies are optimised and
/// shared with `cargo xtask`, or `--release`) and copy it to
/// `<prefix>/bin/`, replacing any older copy atomically. Returns its path.
pub fn install_shim(layout: &Layout, prefix: &Path, release: bool) -> Result<PathBuf> {
    let mut build = Cmd::new("cargo", &layout.repo).args(["build", "--quiet", "-p", SHIM_PACKAGE]);
    if release {
        build = build.arg("--release");
    }
    fs::create_dir_all(layout.logs())?;
    build
        .run(&layout.logs().join("shim-build.log"))
        .with_context(|| format!("building {SHIM_PACKAGE}"))?;
    let built = target_dir(layout).join(if release { "release" } else { "debug" }).join(SHIM_BINARY);
    if !built.is_file() {
        bail!("cargo built {SHIM_PACKAGE} but {} is missing", built.display());
    }
    let bin = prefix.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    let dest = bin.join(SHIM_BINARY);
    let tmp = bin.join(format!(".{SHIM_BINARY}.partial"));
    fs::copy(&built, &tmp).with_context(|| format!("copying {} to {}", built.display(), tmp.display()))?;
    fs::rename(&tmp, &dest).with_context(|| format!("installing {}", dest.display()))?;
    Ok(dest)
}

/// Where a cargo tool is installed: keyed by crate, version, features and
/// opt-level, so a changed pin installs beside the old one.
pub fn cargo_tool_root(layout: &Layout, t: &CargoTool) -> PathBuf {
    let key = crate::fsutil::sha256_bytes(format!("{}|{:?}", t.features.join(","), t.opt_level).as_bytes());
    layout.cache.join("tools").join(format!("{}-{}-{}", t.name, t.version, &key[..12]))
}

/// The tool's binary, installing it first if needed (`cargo install
/// --locked`, the exact version, only its features). The install goes to a
/// temporary root renamed into place, so a failed or interrupted one
/// leaves nothing behind.
pub fn ensure_cargo_tool(layout: &Layout, t: &CargoTool, offline: bool) -> Result<PathBuf> {
    let root = cargo_tool_root(layout, t);
    let bin = root.join("bin").join(&t.bin);
    if bin.is_file() {
        return Ok(bin);
    }
    if offline {
        bail!(
            "{} {} is not installed in {} and --offline forbids building it",
            t.name,
            t.version,
            root.display()
        );
    }
    let parent = root.parent().expect("tools dir");
    fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".{}-{}.partial", t.name, std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let mut c = Cmd::new("cargo", parent)
        .args(["install", "--locked", "--quiet", "--no-default-features"])
        .arg("--version")
        .arg(format!("={}", t.version))
        .arg("--root")
        .arg(&tmp)
        .arg("--target-dir")
        .arg(parent.join(format!(".build-{}", t.name)));
    if !t.features.is_empty() {
        c = c.arg("--features").arg(t.features.join(","));
    }
    if let Some(o) = t.opt_level {
        c = c.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", o.to_string());
    }
    c = c.arg(&t.name);
    fs::create_dir_all(layout.logs())?;
    let log = layout.logs().join(format!("cargo-install-{}.log", t.name));
    if let Err(e) = c.run(&log) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| format!("installing {} {} with cargo", t.name, t.version));
    }
    let _ = fs::remove_dir_all(&root);
    fs::rename(&tmp, &root).with_context(|| format!("moving the install to {}", root.display()))?;
    let _ = fs::remove_dir_all(parent.join(format!(".build-{}", t.name)));
    if !bin.is_file() {
        bail!("cargo installed {} {} but {} is missing", t.name, t.version, bin.display());
    }
    Ok(bin)
}

/// Look up a cargo tool of the toolchain recipe by crate or binary name.
pub fn find_cargo_tool<'a>(tools: &'a [CargoTool], name: &str) -> Result<&'a CargoTool> {
    tools.iter().find(|t| t.name == name || t.bin == name).with_context(|| {
        format!(
            "no [[cargo_tool]] named {name} in recipes/toolchain.toml (there are: {})",
            tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}
