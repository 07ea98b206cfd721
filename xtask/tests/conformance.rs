//! Slow tier: PHP's own .phpt suite under the embedded runtime.

use std::path::Path;
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo)
        .output()
        .expect("running xtask")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
#[ignore = "slow tier: builds PHP and runs Zend/tests + tests/lang"]
fn default_subset_passes_against_the_baseline_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    let out = xtask(&["test", "php", "Zend/tests", "tests/lang", "--report", r.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("php-phpt.json")).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert!(tests.len() > 5000, "{} tests", tests.len());
    assert!(json["totals"]["pass"].as_u64().unwrap() > 4000, "{}", json["totals"]);
    let xml = std::fs::read_to_string(r.join("php-phpt.xml")).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), tests.len());
    assert!(std::fs::read_to_string(r.join("index.html")).unwrap().contains("TOTAL"));
}

fn phpt_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (n, c) in files {
        std::fs::write(d.path().join(n), c).unwrap();
    }
    d
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn a_wrong_expectation_fails_the_run() {
    let d = phpt_dir(&[
        ("ok.phpt", "--TEST--\nok\n--FILE--\n<?php echo 1+1;\n--EXPECT--\n2\n"),
        (
            "ok_f.phpt",
            "--TEST--\nexpectf\n--FILE--\n<?php echo 'v', PHP_VERSION;\n--EXPECTF--\nv%d.%d.%d\n",
        ),
        ("bad.phpt", "--TEST--\nwrong\n--FILE--\n<?php echo 1+1;\n--EXPECT--\n3\n"),
    ]);
    let out = xtask(&["test", "php", d.path().to_str().unwrap()]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("bad.phpt") && !t.contains("FAIL ok"), "{t}");
    assert!(t.contains("1 unexpected failures"), "{t}");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn loops_and_memory_hogs_are_stopped_and_reported() {
    let d = phpt_dir(&[
        ("loop.phpt", "--TEST--\nloops\n--FILE--\n<?php while (true) {}\n--EXPECT--\nnever\n"),
        ("hog.phpt", "--TEST--\nhog\n--INI--\nmemory_limit=-1\n--FILE--\n<?php $a = []; while (true) { $a[] = str_repeat('x', 1 << 20); }\n--EXPECT--\nnever\n"),
        ("fine.phpt", "--TEST--\nfine\n--FILE--\n<?php echo 'fine';\n--EXPECT--\nfine\n"),
    ]);
    let start = std::time::Instant::now();
    let out = xtask(&["test", "php", d.path().to_str().unwrap(), "--timeout", "5", "--memory-mib", "256"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("loop.phpt") && t.contains("Timeout"), "{t}");
    assert!(t.contains("hog.phpt") && t.contains("memory cap of 256 MiB reached"), "{t}");
    assert!(!t.contains("FAIL") || !t.contains("fine.phpt"), "{t}");
    assert!(start.elapsed().as_secs() < 120);
}

#[test]
#[ignore = "slow tier: builds CPython and runs the recipe's regrtest subset"]
fn python_default_subset_passes_against_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    let out = xtask(&["test", "python", "--report", r.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("python-regrtest.json")).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert!(tests.len() >= 40, "{} modules", tests.len());
    // Per-module case counts come from regrtest's JUnit file.
    let json_mod = tests.iter().find(|t| t["name"] == "Lib/test/test_json").unwrap();
    assert_eq!(json_mod["outcome"], "pass");
    assert!(json_mod["detail"].as_str().unwrap().contains("testcases"), "{json_mod}");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn a_failing_regrtest_module_fails_the_run() {
    // A module anywhere on disk runs with regrtest's --testdir.
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("test_kiln_wrong.py");
    std::fs::write(
        &f,
        "import unittest\nclass T(unittest.TestCase):\n    def test_wrong(self):\n        self.assertEqual(1 + 1, 3)\n    def test_ok(self):\n        pass\n",
    )
    .unwrap();
    let out = xtask(&["test", "python", f.to_str().unwrap()]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("test_kiln_wrong") && t.contains("2 testcases: 1 failed"), "{t}");
}

#[test]
#[ignore = "slow tier: builds Ruby and runs bootstraptest + basictest"]
fn ruby_default_subset_passes_against_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    let out = xtask(&["test", "ruby", "--report", r.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("ruby-ruby-bootstraptest.json")).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert!(tests.len() > 1000, "{} assertions", tests.len());
    let basic = tests.iter().find(|t| t["name"] == "basictest/test.rb").unwrap();
    assert_eq!(basic["outcome"], "pass", "{basic}");
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn a_wrong_ruby_assertion_fails_the_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("test_kiln.rb"),
        "assert_equal '2', %q{1 + 1}\nassert_equal '3', %q{1 + 1}\nassert_match(/\\Ah.llo\\z/, %q{'hello'})\nassert_normal_exit %q{exit 3}\n",
    )
    .unwrap();
    let out = xtask(&["test", "ruby", d.path().to_str().unwrap()]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("test_kiln.rb:2") && !t.contains("test_kiln.rb:1 ") && t.contains("1 unexpected failures"),
        "{t}"
    );
}
