//! The slow tier: real PHP, CPython and CRuby builds checked end to end
//! through the CLI, one module per interpreter, plus release artifacts,
//! the runtimes outside kiln's runner (tools) and kiln's images under
//! containerd and the stock wasmtime CLI (containerd), and PHP's `goto`
//! flavour (php_goto).
//! Every test here is `#[ignore]`d so `cargo test` stays fast; `cargo
//! xtask ci` runs each module as its own tier (`-- --ignored php::`);
//! `tools`, `containerd` and `php_goto` only when asked for (`--tier`).

mod conformance;
mod containerd;
mod php;
mod php_goto;
mod python;
mod release;
mod ruby;
mod support;
mod tools;
