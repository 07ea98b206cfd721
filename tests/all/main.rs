//! kiln's integration tests: one binary (as wasmtime's `tests/all`), one
//! module per area. Everything here is offline and needs no toolchain;
//! unit tests live beside the code they test.

mod fetch;
mod kubernetes;
mod recipe;
mod runtime;
mod source;
mod support;
