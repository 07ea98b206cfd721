//! kiln: turn real interpreters (PHP, Python, Ruby) into wasm32-wasip1
//! programs, run them under an embedded Wasmtime, test them with their own
//! upstream suites and ship them.
//!
//! The pipeline is generic; everything interpreter-specific lives in
//! `recipes/*.toml`. See `ARCHITECTURE.md` for the code map.

#[cfg(feature = "runtime")]
pub mod bench;
pub mod build;
pub mod cmd;
pub mod config;
#[cfg(feature = "runtime")]
pub mod conformance;
#[cfg(feature = "runtime")]
pub mod container;
pub mod fetch;
pub mod fsutil;
pub mod host;
pub mod install;
pub mod layout;
pub mod plan;
pub mod postprocess;
pub mod progress;
pub mod project;
pub mod recipe;
pub mod release;
#[cfg(feature = "runtime")]
pub mod runtime;
#[cfg(feature = "runtime")]
pub mod serve;
pub mod source;
pub mod toolchain;
pub mod tools;

pub use anyhow::{Context, Error, Result};
