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

#[test]
fn list_shows_every_version_and_marks_the_default() {
    let out = xtask(&["list"], repo());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "8.4.16     (default)    `php`",
        "8.2.32                  `php@8.2`",
        "3.3.8      (default)    `ruby`",
        "3.4.5                   `ruby@3.4`",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}

#[test]
fn an_unknown_version_is_refused_naming_the_known_ones() {
    let out = xtask(&["build", "php@7.4", "--dry-run"], repo());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("php@7.4") && err.contains("8.4.16 (default)") && err.contains("8.2.32"),
        "{err}"
    );
}

#[test]
fn matrix_takes_no_interpreter() {
    let out = xtask(&["test", "--matrix", "php"], repo());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--matrix"));
}
