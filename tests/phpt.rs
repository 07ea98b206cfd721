//! The .phpt parser and judge, against run-tests.php's rules.

use kiln::conformance::phpt::{expectf_to_regex, matches, preg_quote, Phpt};

fn parse(text: &str) -> Phpt {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.phpt");
    std::fs::write(&p, text).unwrap();
    Phpt::parse(&p).unwrap()
}

#[test]
fn sections_and_fileeof() {
    let t = parse("--TEST--\nname\n--INI--\nprecision=3\n--FILEEOF--\n<?php echo 1;\n--EXPECT--\n1\n");
    assert_eq!(t.title(), "name");
    assert_eq!(t.get("FILE"), Some("<?php echo 1;"));
    assert_eq!(t.get("INI"), Some("precision=3\n"));
}

#[test]
fn external_sections_are_read_relative_to_the_test() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("code.inc"), "<?php echo 'ext';").unwrap();
    std::fs::write(
        d.path().join("t.phpt"),
        "--TEST--\nx\n--FILE_EXTERNAL--\ncode.inc\n--EXPECT--\next\n",
    )
    .unwrap();
    let t = Phpt::parse(&d.path().join("t.phpt")).unwrap();
    assert_eq!(t.get("FILE"), Some("<?php echo 'ext';"));
}

#[test]
fn missing_sections_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.phpt");
    std::fs::write(&p, "--TEST--\nx\n--FILE--\n<?php\n").unwrap();
    assert!(format!("{:#}", Phpt::parse(&p).unwrap_err()).contains("EXPECT"));
}

#[test]
fn expectf_translation_matches_run_tests() {
    assert_eq!(preg_quote("a.b(c)/d"), "a\\.b\\(c\\)\\/d");
    assert_eq!(expectf_to_regex("x %d y %s"), "x \\d+ y [^\\r\\n]+");
    assert_eq!(expectf_to_regex("%r(a|b)+%r."), "((a|b)+)\\.");
    assert_eq!(expectf_to_regex("100%"), "100%");
}

#[test]
fn judging_expect_expectf_expectregex() {
    let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECT--\n  hello\r\nworld  \n");
    assert!(matches(&t, "hello\nworld").unwrap());
    assert!(!matches(&t, "hello\nworld!").unwrap());
    let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECTF--\nWarning: %s in %s on line %d\nfloat(%f)\n");
    assert!(matches(&t, "Warning: oops in /x/t.php on line 3\nfloat(1.5E-7)\n").unwrap());
    assert!(!matches(&t, "Warning: oops in /x/t.php on line three\nfloat(1)").unwrap());
    let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECTREGEX--\na+b\n");
    assert!(matches(&t, "aaab").unwrap());
}
