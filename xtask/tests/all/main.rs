//! The slow tier: real PHP, CPython and CRuby builds checked end to end
//! through the CLI, one module per interpreter plus release artifacts.
//! Every test here is `#[ignore]`d so `cargo test` stays fast; `cargo
//! xtask ci` runs each module as its own tier (`-- --ignored php::`).

mod php;
mod python;
mod release;
mod ruby;
mod support;
