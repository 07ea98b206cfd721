//! `cargo xtask test` options that need no build (fast tier).

use crate::support::{repo, xtask};

#[test]
fn from_reports_needs_all() {
    let d = tempfile::tempdir().unwrap();
    let before = std::fs::read(repo().join("CONFORMANCE.md")).ok();
    let out = xtask(&["test", "php", "--from-reports", d.path().to_str().unwrap()], repo());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--from-reports") && err.contains("--all"), "{err}");
    // Nothing ran and nothing was written.
    assert_eq!(std::fs::read(repo().join("CONFORMANCE.md")).ok(), before);
}
