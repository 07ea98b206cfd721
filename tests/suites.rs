//! Fast-tier checks of the regrtest and bootstraptest runners' judging
//! logic (no toolchain, no interpreter needed).

use kiln::conformance::regrtest::{judge, module_name, parse_junit, Counts};
use kiln::conformance::rubytest::{snippet_file, Assertion, Regexp};
use kiln::conformance::Outcome;
use std::path::Path;

#[test]
fn regrtest_exit_statuses_map_to_outcomes() {
    assert_eq!(judge(0, "== Tests result: SUCCESS ==").0, Outcome::Pass);
    let (o, why) = judge(
        0,
        "test_asyncio.test_x skipped -- No module named '_ssl'\nTotal tests: run=0\nResult: SUCCESS",
    );
    assert_eq!((o, why.as_str()), (Outcome::Skip, "No module named '_ssl'"));
    let (o, why) = judge(
        4,
        "0:00:00 [1/1] test_x\ntest_x skipped -- No module named '_ctypes'\n== Tests result: NO TESTS RAN ==",
    );
    assert_eq!(o, Outcome::Skip);
    assert_eq!(why, "No module named '_ctypes'");
    let (o, why) = judge(2, "FAIL: test_a (test.test_x.T.test_a)\n== Tests result: FAILURE ==");
    assert_eq!(o, Outcome::Fail);
    assert!(why.starts_with("FAIL: test_a"), "{why}");
    // Anything else (a crash, an unexpected status) is a failure too.
    assert_eq!(judge(1, "Traceback").0, Outcome::Fail);
    assert_eq!(judge(134, "").0, Outcome::Fail);
}

#[test]
fn regrtest_junit_counts() {
    let xml = r#"<testsuites><testsuite tests="4">
      <testcase name="a" status="run" result="completed"/>
      <testcase name="b"><failure type="AssertionError">x</failure></testcase>
      <testcase name="c"><error type="OSError">y</error></testcase>
      <testcase name="d"><skipped>no fork</skipped></testcase>
    </testsuite></testsuites>"#;
    assert_eq!(
        parse_junit(xml).unwrap(),
        Counts {
            tests: 4,
            failures: 1,
            errors: 1,
            skipped: 1
        }
    );
    assert!(parse_junit("<testsuites>").is_err());
}

#[test]
fn regrtest_module_names() {
    assert_eq!(module_name(Path::new("/x/Lib/test/test_os.py")).as_deref(), Some("test_os"));
    assert_eq!(module_name(Path::new("/x/Lib/test/support.py")), None);
}

fn assertion(kind: &str, src: &str) -> Assertion {
    serde_json::from_value(serde_json::json!({"kind": kind, "line": 3, "n": 1, "src": src})).unwrap()
}

#[test]
fn bootstraptest_snippet_is_runner_rb_shaped() {
    let mut a = assertion("equal", "1 + 1");
    let f = snippet_file(&a);
    assert!(f.contains("print(begin; 1 + 1; rescue BT_Skip; $!.message; end)"), "{f}");
    assert!(f.starts_with('\n'));
    a.frozen = true;
    assert!(snippet_file(&a).starts_with("#frozen_string_literal:true\n"));
}

#[test]
fn bootstraptest_regexps_follow_ruby_semantics() {
    let re = |p: &str, icase, multiline| Regexp {
        pattern: p.into(),
        icase,
        multiline,
        extended: false,
    };
    // ^ and $ match at every line in Ruby.
    assert!(re("^ok$", false, false).is_match("first\nok\nlast").unwrap());
    assert!(re("OK", true, false).is_match("ok").unwrap());
    assert!(!re("a.b", false, false).is_match("a\nb").unwrap());
    assert!(re("a.b", false, true).is_match("a\nb").unwrap());
    assert!(re("(", false, false).is_match("").is_err());
}
