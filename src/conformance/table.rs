//! `CONFORMANCE.md`: one table over every suite run by `cargo xtask test
//! --all`: per suite and per top-level directory, the tests, wasm passes,
//! native passes, and the expected failures grouped by their cause.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Outcome, TestResult};
use super::report::Counts;
use super::suite::SuiteRun;

/// What the page says about how it was made.
pub struct Provenance {
    /// The command line that wrote it.
    pub command: String,
    /// UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// kiln's commit (and `-dirty` when the tree had changes).
    pub commit: String,
}

/// A suite's group key for the table: the test's directory, cut to two
/// components (`ext/standard`, `Zend/tests`, `test/ruby`, `Lib/test`).
pub fn top_dir(name: &str) -> String {
    let dir = super::report::dir_of(name.split('#').next().unwrap_or(name));
    let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).take(2).collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Robustness: how tests ended that did not end by themselves.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Endings {
    pub traps: usize,
    pub timeouts: usize,
    pub out_of_memory: usize,
    pub broken: usize,
}

impl Endings {
    pub fn of(results: &[TestResult]) -> Endings {
        let mut e = Endings::default();
        for r in results {
            match r.outcome {
                Outcome::Timeout => e.timeouts += 1,
                Outcome::Broken => e.broken += 1,
                // A trap while the memory cap refused a grow is the guest
                // running out of memory; any other trap is a crash (an
                // out-of-bounds "memory fault" included).
                _ if r.detail.starts_with("trap:") => e.traps += 1,
                _ if r.detail.starts_with("memory cap reached:") => {
                    e.traps += 1;
                    e.out_of_memory += 1;
                }
                _ => {}
            }
        }
        e
    }
}

/// Failures counted by their cause: the baseline's reason, or
/// "unexpected". A file with cases counts its failing cases.
pub fn causes(results: &[TestResult]) -> BTreeMap<String, usize> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |outcome: Outcome, baseline: &Option<String>| {
        if outcome.is_failure() {
            *by.entry(baseline.clone().unwrap_or_else(|| "unexpected (not in the baseline)".into()))
                .or_default() += 1;
        }
    };
    for r in results {
        for c in &r.cases {
            add(c.outcome, &c.baseline);
        }
        if r.cases.is_empty() || (r.outcome.is_failure() && !r.failure_is_cases) {
            add(r.outcome, &r.baseline);
        }
    }
    by
}

/// Tests (or cases) that pass natively but not on wasm, by cause.
pub fn native_only(results: &[TestResult]) -> BTreeMap<String, usize> {
    let passed = |o: Option<Outcome>| matches!(o, Some(Outcome::Pass | Outcome::Warn));
    let wasm_ok = |o: Outcome| matches!(o, Outcome::Pass | Outcome::Warn);
    let why = |o: Outcome, b: &Option<String>, detail: &str| match (o, b) {
        (_, Some(b)) => b.clone(),
        (Outcome::Skip, None) => {
            let d: String = detail.trim().chars().take(100).collect();
            if d.is_empty() {
                "skipped on wasm (the test's own skip condition)".to_string()
            } else {
                format!("skipped on wasm: {d}")
            }
        }
        _ => "unexpected (not in the baseline)".to_string(),
    };
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        if r.cases.is_empty() {
            if passed(r.native) && !wasm_ok(r.outcome) {
                *by.entry(why(r.outcome, &r.baseline, &r.detail)).or_default() += 1;
            }
        } else {
            for c in r.cases.iter().filter(|c| passed(c.native) && !wasm_ok(c.outcome)) {
                // A skipped case has its own reason; a failing one without
                // its own baseline entry is covered by the file's.
                let baseline = match c.outcome {
                    Outcome::Skip => c.baseline.clone(),
                    _ => c.baseline.clone().or_else(|| r.baseline.clone()),
                };
                *by.entry(why(c.outcome, &baseline, &c.detail)).or_default() += 1;
            }
        }
    }
    by
}

/// The largest causes, then one line for the rest.
fn list(s: &mut String, v: &[(&String, &usize)]) {
    const SHOWN: usize = 25;
    for (why, n) in v.iter().take(SHOWN) {
        let _ = writeln!(s, "- {n}: {}", why.replace('\n', " ").replace('|', "\\|"));
    }
    if v.len() > SHOWN {
        let rest: usize = v[SHOWN..].iter().map(|(_, n)| **n).sum();
        let _ = writeln!(s, "- {rest}: {} other causes (see the JSON report)", v.len() - SHOWN);
    }
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * a as f64 / b as f64)
    }
}

/// The page: the default versions' runs, then the block of the other
/// versions' runs (`versions_block`), each run saying what it ran and how.
pub fn conformance_md(runs: &[&SuiteRun], others: &[&SuiteRun], p: &Provenance) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Conformance\n");
    s.push_str(&generated_line(p));
    let _ = writeln!(s, "## Summary\n");
    summary(&mut s, runs);
    for run in runs {
        section(&mut s, run, "##");
    }
    s.push('\n');
    s.push_str(&versions_block(others, p));
    s
}

/// The page's "Generated by" paragraph.
fn generated_line(p: &Provenance) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Generated by `{}` on {}, kiln commit `{}` (its baselines judge the results; each suite's own run is named below). Each interpreter runs its own upstream test suite in fresh instances of the wasm module under kiln's embedded Wasmtime; with `--native`, the same tests run on the native build of the same tarball. *Tests* are test files, or a file's individual cases where its harness reports them (Ruby's test-all files; a file that stopped early counts once more as a failure). *Expected* failures are listed in `tests/baseline/<interp>.toml` (`<interp>-<series>.toml` for a version other than the default, e.g. `php-8.2.toml`), each with its reason. The default versions come first; [other versions](#other-versions) follow.\n",
        p.command, p.date, p.commit
    );
    s
}

/// Whether `page` has both parts of `suite` (`<recipe>-<runner>`): its
/// summary row and its section.
pub fn has_suite(page: &str, suite: &str) -> bool {
    page.contains(&format!("\n| {suite} | ")) && page.contains(&format!("\n## {suite} ("))
}

/// `page` (written by `conformance_md`) with the parts of the default
/// versions' `runs` replaced: each one's summary row and section, and
/// the "Generated by" paragraph. The other suites' parts stay as they
/// were (each names its own run). `None` when the page lacks a part for
/// one of the runs (then the whole page has to be written).
pub fn splice_suites(page: &str, runs: &[&SuiteRun], p: &Provenance) -> Option<String> {
    let mut page = page.to_string();
    // The "Generated by" paragraph: its line, up to the blank line after it.
    let g = page.find("\nGenerated by ")? + 1;
    let g_end = page[g..].find("\n\n").map(|e| g + e + 2)?;
    page.replace_range(g..g_end, &generated_line(p));
    for run in runs {
        // The summary row: `| <suite> | …`, before the first section.
        let first_section = page
            .find("\n## Summary\n")
            .and_then(|at| page[at + 1..].find("\n## ").map(|e| at + 1 + e))?;
        let row_start = page[..first_section].find(&format!("\n| {} | ", run.suite))? + 1;
        let row_end = page[row_start..].find('\n').map(|e| row_start + e + 1)?;
        let mut row = String::new();
        summary_row(&mut row, run);
        page.replace_range(row_start..row_end, &row);
        // The section: from its heading's blank line to the next heading
        // (or the other versions' block).
        let versions = page.find(VERSIONS_BEGIN).unwrap_or(page.len());
        let start = page[..versions].find(&format!("\n## {} (", run.suite))?;
        let end = page[start + 1..versions]
            .find("\n## ")
            .map(|e| start + 1 + e)
            .unwrap_or_else(|| page[..versions].trim_end_matches('\n').len() + 1);
        let mut sec = String::new();
        section(&mut sec, run, "##");
        page.replace_range(start..end, &sec);
    }
    Some(page)
}

/// Where the other versions' block starts and ends in the page, so that
/// `cargo xtask test --matrix` can replace it alone.
pub const VERSIONS_BEGIN: &str = "<!-- kiln: other versions (cargo xtask test --matrix) -->";
pub const VERSIONS_END: &str = "<!-- kiln: end of other versions -->";

/// The other versions' part of the page, between its markers: a summary
/// of each version's run and its section.
pub fn versions_block(others: &[&SuiteRun], p: &Provenance) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{VERSIONS_BEGIN}\n");
    let _ = writeln!(s, "## Other versions\n");
    if others.is_empty() {
        let _ = writeln!(
            s,
            "No run of a version other than the defaults was given (`cargo xtask test --matrix --native --report DIR`).\n"
        );
    } else {
        let _ = writeln!(
            s,
            "Written by `{}` on {}, kiln commit `{}`. Every version other than the default, against its own baseline; `cargo xtask list` names them.\n",
            p.command, p.date, p.commit
        );
        summary(&mut s, others);
        for run in others {
            section(&mut s, run, "###");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "{VERSIONS_END}");
    s
}

/// The block between the markers in `page`, when it has one.
pub fn find_versions_block(page: &str) -> Option<&str> {
    let b = page.find(VERSIONS_BEGIN)?;
    let e = page[b..].find(VERSIONS_END)? + b + VERSIONS_END.len();
    let e = if page[e..].starts_with('\n') { e + 1 } else { e };
    Some(&page[b..e])
}

/// `page` with its other versions' block replaced by `block` (appended
/// when the page has none).
pub fn splice_versions_block(page: &str, block: &str) -> String {
    match find_versions_block(page) {
        Some(old) => {
            let at = page.find(old).unwrap_or(page.len());
            format!("{}{block}{}", &page[..at], &page[at + old.len()..])
        }
        None => {
            let sep = if page.ends_with("\n\n") || page.is_empty() {
                ""
            } else if page.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{page}{sep}{block}")
        }
    }
}

fn summary(s: &mut String, runs: &[&SuiteRun]) {
    let _ = writeln!(
        s,
        "| suite | interpreter | ran | tests | wasm pass | native pass | wasm/native | skip | expected | unexpected | wall (wasm / native) |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for run in runs {
        summary_row(s, run);
    }
}

fn summary_row(s: &mut String, run: &SuiteRun) {
    let r = run.report();
    let t = &r.totals;
    let (native, ratio) = native_cells(t);
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {native} | {ratio} | {} | {} | {} | {:.0} s / {} |",
        run.suite,
        run.id,
        run.measured.ran,
        t.total,
        t.pass,
        t.skip,
        t.xfail,
        t.fail,
        run.wall,
        run.native_wall.map(|w| format!("{w:.0} s")).unwrap_or_else(|| "–".into()),
    );
}

/// The native-pass and wasm/native cells of a row ("–" without a native side).
fn native_cells(c: &Counts) -> (String, String) {
    match c.native_pass {
        Some(n) => (n.to_string(), pct(c.pass, n)),
        None => ("–".into(), "–".into()),
    }
}

/// A cause list under its heading, largest first (nothing when empty).
fn causes_list(s: &mut String, heading: &str, by: &BTreeMap<String, usize>) {
    if by.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{heading}\n");
    let mut v: Vec<(&String, &usize)> = by.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    list(s, &v);
}

/// One run's section: per directory, failures by cause, robustness.
fn section(s: &mut String, run: &SuiteRun, heading: &str) {
    let m = &run.measured;
    let _ = writeln!(s, "\n{heading} {} ({}, {})\n", run.suite, run.id, m.ran);
    if !m.command.is_empty() {
        let _ = writeln!(s, "Measured by `{}` on {}, kiln commit `{}`.\n", m.command, m.date, m.commit);
    }
    let mut dirs: BTreeMap<String, Counts> = BTreeMap::new();
    for t in &run.results {
        dirs.entry(top_dir(&t.name)).or_default().add(t);
    }
    let _ = writeln!(
        s,
        "| directory | tests | wasm pass | native pass | wasm/native | skip | expected | unexpected |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (d, c) in &dirs {
        let (native, ratio) = native_cells(c);
        let _ = writeln!(
            s,
            "| {d} | {} | {} | {native} | {ratio} | {} | {} | {} |",
            c.total, c.pass, c.skip, c.xfail, c.fail
        );
    }
    causes_list(s, "Failures by cause:", &causes(&run.results));
    causes_list(s, "Passing natively but not on wasm, by cause:", &native_only(&run.results));
    let e = Endings::of(&run.results);
    let _ = writeln!(
        s,
        "\nRobustness: {} traps ({} out of memory), {} timeouts, {} unusable test files; each was one test's result and the run went on.",
        e.traps, e.out_of_memory, e.timeouts, e.broken
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_dirs_are_two_components() {
        assert_eq!(top_dir("ext/standard/tests/file/a.phpt"), "ext/standard");
        assert_eq!(top_dir("Zend/tests/a.phpt"), "Zend/tests");
        assert_eq!(top_dir("test/ruby/test_io.rb#TestIO#test_a"), "test/ruby");
        assert_eq!(top_dir("basictest/test.rb"), "basictest");
        assert_eq!(top_dir("x.phpt"), ".");
    }

    #[test]
    fn causes_count_cases_and_whole_files() {
        let mut a = TestResult::new(std::path::Path::new("t/a.rb"));
        a.outcome = Outcome::Fail;
        a.failure_is_cases = true;
        a.cases = vec![super::super::Case {
            name: "A#x".into(),
            outcome: Outcome::Fail,
            detail: String::new(),
            baseline: Some("no fork".into()),
            native: Some(Outcome::Pass),
        }];
        let mut b = TestResult::new(std::path::Path::new("t/b.phpt"));
        b.outcome = Outcome::Timeout;
        b.native = Some(Outcome::Pass);
        let c = causes(&[a.clone(), b.clone()]);
        assert_eq!(c.get("no fork"), Some(&1));
        assert_eq!(c.get("unexpected (not in the baseline)"), Some(&1));
        let n = native_only(&[a, b.clone()]);
        assert_eq!(n.values().sum::<usize>(), 2);
        assert_eq!(Endings::of(&[b]).timeouts, 1);
    }

    #[test]
    fn a_memory_fault_is_a_crash_and_the_cap_is_out_of_memory() {
        let at = |detail: &str| {
            let mut r = TestResult::new(std::path::Path::new("t/a.rb"));
            r.outcome = Outcome::Fail;
            r.detail = detail.into();
            r
        };
        let e = Endings::of(&[
            at("trap: memory fault at wasm address 0xffffffff in linear memory of size 0x5950000"),
            at(&super::super::trap_detail("wasm trap: unreachable", true)),
            at("status 1; 3 tests, 1 failures"),
        ]);
        assert_eq!((e.traps, e.out_of_memory), (2, 1));
    }

    fn run(suite: &str, passing: bool, command: &str) -> SuiteRun {
        let mut t = TestResult::new(std::path::Path::new("t/a.phpt"));
        t.outcome = if passing { Outcome::Pass } else { Outcome::Skip };
        SuiteRun {
            suite: suite.into(),
            id: format!("{suite}-1.0"),
            measured: crate::conformance::report::Measured {
                ran: "full suite".into(),
                command: command.into(),
                date: "2026-12-05".into(),
                commit: "abc".into(),
            },
            jobs: 2,
            results: vec![t],
            now_pass: Vec::new(),
            baseline_path: "b.toml".into(),
            wall: 1.0,
            native_wall: None,
            snapshot_runs: None,
        }
    }

    #[test]
    fn one_suite_is_replaced_and_the_others_kept() {
        let p = |c: &str| Provenance {
            command: c.into(),
            date: "2026-12-05".into(),
            commit: "abc".into(),
        };
        let (a, b, v) = (
            run("a-phpt", false, "run a"),
            run("b-regrtest", false, "run b"),
            run("a-phpt", true, "run v"),
        );
        let page = conformance_md(&[&a, &b], &[&v], &p("all"));
        let b2 = run("b-regrtest", true, "run b again");
        let spliced = splice_suites(&page, &[&b2], &p("from reports")).expect("the page has b's parts");
        // The same page as one written from a and the new b.
        let whole = conformance_md(&[&a, &b2], &[&v], &p("from reports"));
        let block = find_versions_block(&page).unwrap();
        assert_eq!(spliced, splice_versions_block(&whole, block));
        assert!(spliced.contains("run b again") && !spliced.contains("`run b`"));
        // The first suite, too; a suite the page lacks is refused.
        let a2 = run("a-phpt", true, "run a again");
        let both = splice_suites(&spliced, &[&a2], &p("x")).unwrap();
        assert_eq!(both, splice_versions_block(&conformance_md(&[&a2, &b2], &[&v], &p("x")), block));
        assert!(splice_suites(&page, &[&run("c-x", true, "c")], &p("x")).is_none());
        assert!(has_suite(&page, "b-regrtest") && !has_suite(&page, "c-x") && !has_suite(&page, "b"));
    }

    #[test]
    fn the_other_versions_block_is_replaced_alone() {
        let p = Provenance {
            command: "cargo xtask test --matrix".into(),
            date: "2026-12-05".into(),
            commit: "abc".into(),
        };
        let page = conformance_md(&[], &[], &p);
        let old = find_versions_block(&page).expect("the page has its block");
        assert!(old.contains("No run of a version other than the defaults"));
        let block = format!("{VERSIONS_BEGIN}\n\nnew rows\n{VERSIONS_END}\n");
        let spliced = splice_versions_block(&page, &block);
        assert!(spliced.starts_with(&page[..page.find(VERSIONS_BEGIN).unwrap()]));
        assert_eq!(find_versions_block(&spliced), Some(block.as_str()));
        assert!(!spliced.contains("No run of a version"));
        // A page from before the block gets it at its end.
        let appended = splice_versions_block("# Conformance\n\nrows\n", &block);
        assert_eq!(appended, format!("# Conformance\n\nrows\n\n{block}"));
        assert_eq!(splice_versions_block(&appended, &block), appended);
    }
}
