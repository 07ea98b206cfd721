//! The environment a cargo started by xtask gets. `cargo run` hands the
//! program it runs its package's variables (`CARGO_PKG_NAME=xtask`,
//! `CARGO_MANIFEST_DIR`, …); a cargo started from there passes them on to
//! build scripts, and a build script that watches one of them (ring's
//! does, through `rerun-if-env-changed`) sees a change against a cargo
//! started from the shell, so it and every crate above it (rustls,
//! reqwest, …) compiled again at each switch. Measured on a fresh
//! machine: 25 s of recompiles at the first `run` after `build`.

/// The variables cargo sets for the program of `cargo run` (besides
/// `CARGO`, the path to cargo itself, which build scripts do not watch).
pub fn is_cargo_run_var(k: &str) -> bool {
    k.starts_with("CARGO_PKG_")
        || matches!(
            k,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "OUT_DIR"
        )
}

/// Those of this process's variables, to remove from a child cargo's.
pub fn cargo_run_vars() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| is_cargo_run_var(k))
        .collect()
}

/// `c` without them.
pub fn scrub(c: &mut std::process::Command) -> &mut std::process::Command {
    for k in cargo_run_vars() {
        c.env_remove(k);
    }
    c
}
