// Present so that Cargo resolves this crate's [build-dependencies] (see
// Cargo.toml): it does nothing.
fn main() {}
