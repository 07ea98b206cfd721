//! Build-machine tools a recipe needs (e.g. binaryen for Ruby's Asyncify),
//! fetched as npm package tarballs through the machine's `npm` (which knows
//! its registry), verified against the recipe's sha256 and unpacked into
//! the user-level cache.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cmd::Cmd;
use crate::layout::Layout;
use crate::recipe::Tool;

/// Where the unpacked package lives (`package/` inside the tarball).
pub fn root(layout: &Layout, t: &Tool) -> PathBuf {
    layout.toolchain_cache().join(format!("{}-{}", t.name, t.sha256)).join("package")
}

/// Make `t` available; returns its root.
pub fn ensure(layout: &Layout, t: &Tool, offline: bool) -> Result<PathBuf> {
    let dir = root(layout, t);
    if dir.is_dir() {
        return Ok(dir);
    }
    if offline {
        bail!("tool {} ({}) is not in the cache and --offline forbids fetching it", t.name, t.npm);
    }
    let tmp = tempfile::tempdir()?;
    Cmd::new("npm", tmp.path())
        .args(["pack", "--silent", &t.npm])
        .run(&layout.logs().join(format!("npm-pack-{}.log", t.name)))
        .with_context(|| format!("fetching tool {} with `npm pack {}`", t.name, t.npm))?;
    let tgz = fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .with_context(|| format!("`npm pack {}` wrote no .tgz", t.npm))?;
    let actual = crate::fsutil::sha256_file(&tgz)?;
    if actual != t.sha256 {
        bail!(
            "tool {} ({}): checksum mismatch: expected sha256 {}, got {actual} (nothing cached)",
            t.name,
            t.npm,
            t.sha256
        );
    }
    let parent = dir.parent().context("tool dir has a parent")?;
    crate::source::unpack(&tgz, parent, 0).or_else(|e| if parent.join("package").is_dir() { Ok(()) } else { Err(e) })?;
    if !Path::new(&dir).is_dir() {
        bail!("tool {}: {} has no package/ directory", t.name, tgz.display());
    }
    Ok(dir)
}
