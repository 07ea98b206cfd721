//! kiln's configuration from the environment, read once at the edge (the
//! CLI) and passed down. Nothing else in the library reads kiln's
//! environment variables.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// Fixed timestamp for archive entries unless `SOURCE_DATE_EPOCH` is set.
pub const DEFAULT_EPOCH: u64 = 1_700_000_000;

/// How `perf` may name the guest's compiled functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profiler {
    PerfMap,
    JitDump,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `KILN_CACHE_DIR`: the user-level cache (default `~/.cache/kiln`).
    pub cache_dir: Option<PathBuf>,
    /// `KILN_TARGET_DIR`: build trees and outputs (default `target/kiln`).
    pub target_dir: Option<PathBuf>,
    /// `KILN_MIRRORS`: extra source mirrors, tried before upstream.
    pub mirrors: Vec<String>,
    /// `KILN_DEBIAN_MIRRORS`: Debian archive roots; `None` = read the
    /// machine's apt sources.
    pub debian_mirrors: Option<Vec<String>>,
    /// `KILN_NO_BUILD_CACHE`: neither restore from nor store into the
    /// user-level build cache.
    pub no_build_cache: bool,
    /// `KILN_NO_INSTALL`: never install system packages (host programs,
    /// Debian's LLVM); a build that needs one stops, naming it.
    pub no_install: bool,
    /// `KILN_WASM_PROFILER=perfmap|jitdump`.
    pub profiler: Option<Profiler>,
    /// `--wasi-sdk PATH`, else `WASI_SDK_PATH`.
    pub wasi_sdk: Option<PathBuf>,
    /// `--offline`: never touch the network.
    pub offline: bool,
    /// `SOURCE_DATE_EPOCH` for release archives.
    pub source_date_epoch: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_dir: None,
            target_dir: None,
            mirrors: Vec::new(),
            debian_mirrors: None,
            no_build_cache: false,
            no_install: false,
            profiler: None,
            wasi_sdk: None,
            offline: false,
            source_date_epoch: DEFAULT_EPOCH,
        }
    }
}

impl Config {
    /// Read every variable kiln honours from the process environment.
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The same from any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let non_empty = |k: &str| get(k).filter(|v| !v.is_empty());
        let list = |v: String| -> Vec<String> { v.split([' ', ',', '\n']).filter(|s| !s.is_empty()).map(String::from).collect() };
        let profiler = match non_empty("KILN_WASM_PROFILER").as_deref() {
            None => None,
            Some("perfmap") => Some(Profiler::PerfMap),
            Some("jitdump") => Some(Profiler::JitDump),
            Some(other) => bail!("KILN_WASM_PROFILER={other}: expected `perfmap` or `jitdump`"),
        };
        let source_date_epoch = match non_empty("SOURCE_DATE_EPOCH") {
            None => DEFAULT_EPOCH,
            Some(s) => match s.parse() {
                Ok(n) => n,
                Err(_) => bail!("SOURCE_DATE_EPOCH={s}: expected seconds since 1970"),
            },
        };
        Ok(Config {
            cache_dir: non_empty("KILN_CACHE_DIR").map(PathBuf::from),
            target_dir: non_empty("KILN_TARGET_DIR").map(PathBuf::from),
            mirrors: non_empty("KILN_MIRRORS").map(list).unwrap_or_default(),
            debian_mirrors: get("KILN_DEBIAN_MIRRORS").map(list),
            no_build_cache: non_empty("KILN_NO_BUILD_CACHE").is_some(),
            no_install: non_empty("KILN_NO_INSTALL").is_some(),
            profiler,
            wasi_sdk: non_empty("WASI_SDK_PATH").map(PathBuf::from),
            offline: false,
            source_date_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_lists_flags_and_defaults() {
        let c = cfg(&[("KILN_MIRRORS", "http://a, http://b"), ("KILN_NO_BUILD_CACHE", "1")]).unwrap();
        assert_eq!(c.mirrors, ["http://a", "http://b"]);
        assert!(c.no_build_cache);
        assert_eq!(c.debian_mirrors, None, "unset: read from the machine's apt sources");
        assert_eq!(c.source_date_epoch, DEFAULT_EPOCH);
        let c = cfg(&[("KILN_DEBIAN_MIRRORS", "")]).unwrap();
        assert_eq!(c.debian_mirrors, Some(vec![]), "set but empty: no Debian pool at all");
    }

    #[test]
    fn bad_values_are_errors_that_name_the_variable() {
        let e = cfg(&[("KILN_WASM_PROFILER", "vtune")]).unwrap_err().to_string();
        assert!(e.contains("KILN_WASM_PROFILER"), "{e}");
        let e = cfg(&[("SOURCE_DATE_EPOCH", "yesterday")]).unwrap_err().to_string();
        assert!(e.contains("SOURCE_DATE_EPOCH"), "{e}");
    }
}
