//! kiln's integration tests: one binary (as wasmtime's `tests/all`), one
//! module per area. Everything here is offline and needs no toolchain;
//! unit tests live beside the code they test.

mod fetch;
mod kubernetes;
mod layering;
mod recipe;
// Needs the runtime feature (on whenever xtask is in the build, as for a
// plain `cargo test`; `cargo test -p kiln` alone leaves it out).
#[cfg(feature = "runtime")]
mod runtime;
mod source;
mod support;
