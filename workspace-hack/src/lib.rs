//! No code: see Cargo.toml. Depending on this crate fixes the features of
//! crates the workspace shares, so each is compiled once.
