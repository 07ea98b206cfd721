//! Where things live: the repository, `target/kiln/`, and the user-level
//! cache that survives fresh clones.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Config;

/// All paths kiln reads or writes. Built once and passed down.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The kiln checkout (holds `recipes/`, `patches/`, `shims/`).
    pub repo: PathBuf,
    /// `target/kiln/`: build trees, outputs, logs. Deleted by `clean`.
    pub work: PathBuf,
    /// User-level cache keyed by content (sources, toolchains, compiled
    /// modules). Shared by every clone; never deleted by `clean`.
    pub cache: PathBuf,
}

impl Layout {
    /// `repo` is the checkout root. The cache is the configured one
    /// (`KILN_CACHE_DIR`), else the platform cache dir (`~/.cache/kiln` on
    /// Linux); the work dir likewise (`KILN_TARGET_DIR`, else `target/kiln`).
    pub fn new(repo: impl Into<PathBuf>, config: &Config) -> Result<Layout> {
        let repo = repo.into();
        let cache = match &config.cache_dir {
            Some(dir) => dir.clone(),
            None => dirs::cache_dir()
                .context("no user cache directory (set KILN_CACHE_DIR)")?
                .join("kiln"),
        };
        let work = config.target_dir.clone().unwrap_or_else(|| repo.join("target").join("kiln"));
        Ok(Layout { repo, work, cache })
    }

    /// A layout with explicit directories (tests).
    pub fn with_dirs(repo: &Path, work: &Path, cache: &Path) -> Layout {
        Layout {
            repo: repo.into(),
            work: work.into(),
            cache: cache.into(),
        }
    }

    pub fn recipes(&self) -> PathBuf {
        self.repo.join("recipes")
    }
    pub fn patches(&self) -> PathBuf {
        self.repo.join("patches")
    }
    pub fn shims(&self) -> PathBuf {
        self.repo.join("shims")
    }
    /// Verified downloads: `<cache>/sources/<sha256>/<file>`.
    pub fn source_cache(&self) -> PathBuf {
        self.cache.join("sources")
    }
    /// Unpacked toolchains, keyed by the archive's sha256.
    pub fn toolchain_cache(&self) -> PathBuf {
        self.cache.join("toolchains")
    }
    /// Precompiled wasm modules keyed by module hash and engine.
    pub fn module_cache(&self) -> PathBuf {
        self.cache.join("modules")
    }
    /// Finished builds copied by content stamp (so a fresh clone reuses
    /// an identical build): `<cache>/builds/<stamp>/`.
    pub fn build_cache(&self) -> PathBuf {
        self.cache.join("builds")
    }
    pub fn logs(&self) -> PathBuf {
        self.work.join("logs")
    }
    pub fn build_root(&self) -> PathBuf {
        self.work.join("build")
    }
    pub fn out_root(&self) -> PathBuf {
        self.work.join("out")
    }
    /// Per-id build locks.
    pub fn locks(&self) -> PathBuf {
        self.work.join("locks")
    }
    /// Expected failures of a recipe's suite: `tests/baseline/<slug>.toml`
    /// (`php.toml` for the default version, `php-8.2.toml` for another).
    pub fn baseline(&self, recipe: &str) -> PathBuf {
        self.repo.join("tests").join("baseline").join(format!("{recipe}.toml"))
    }
}

/// The kiln checkout root, found from xtask's manifest dir at compile time or
/// by walking up from the current directory to a dir holding `recipes/`.
pub fn find_repo_root(hint: Option<&Path>) -> Result<PathBuf> {
    if let Some(h) = hint {
        if h.join("recipes").is_dir() {
            return Ok(h.to_path_buf());
        }
    }
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        if dir.join("recipes").is_dir() && dir.join("Cargo.toml").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    anyhow::bail!(
        "cannot find the kiln checkout (a directory with recipes/ and Cargo.toml) above {}",
        cwd.display()
    )
}

/// `target/kiln/out/<name>-<version>[-<flavor>]/` for a recipe.
pub fn output_dir(layout: &Layout, recipe: &crate::recipe::Recipe, flavor: Option<&str>) -> Result<PathBuf> {
    let (flavor, _) = recipe.flavor(flavor)?;
    Ok(layout.out_root().join(recipe.id(flavor)))
}
