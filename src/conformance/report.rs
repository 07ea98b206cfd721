//! Reports: terminal summary per directory, JSON, JUnit XML, static HTML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::model::{Outcome, TestResult};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    /// Expected failures (XFAIL sections and the baseline).
    pub xfail: usize,
    /// With `--native`: how many of these passed natively.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_pass: Option<usize>,
}

impl Counts {
    /// Count a test: its cases when its harness reported them (plus the
    /// file itself when it failed for another reason: a trap, a timeout),
    /// else the test.
    pub fn add(&mut self, r: &TestResult) {
        if r.cases.is_empty() {
            self.one(r.outcome, r.baseline.is_some(), r.native);
            return;
        }
        for c in &r.cases {
            self.one(c.outcome, c.baseline.is_some(), c.native);
        }
        if r.outcome.is_failure() && !r.failure_is_cases {
            self.one(r.outcome, r.baseline.is_some(), None);
        }
    }

    fn one(&mut self, outcome: Outcome, expected: bool, native: Option<Outcome>) {
        self.total += 1;
        match outcome {
            Outcome::Pass | Outcome::Warn => self.pass += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Xfail => self.xfail += 1,
            _ if expected => self.xfail += 1,
            _ => self.fail += 1,
        }
        if let Some(n) = native {
            *self.native_pass.get_or_insert(0) += usize::from(matches!(n, Outcome::Pass | Outcome::Warn));
        }
    }
}

/// How a run was made, for its report and the conformance table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Measured {
    /// What ran: "full suite", "default subset" or "chosen tests".
    pub ran: String,
    /// The `cargo xtask test` command line that runs the same tests.
    pub command: String,
    /// UTC date the run started, `YYYY-MM-DD`.
    pub date: String,
    /// kiln's commit (`-dirty` with changes); the caller fills it in.
    pub commit: String,
}

/// A suite run's JSON report: written by [`Report::write`] and read back
/// by [`Report::read`] (`test --all --from-reports`), one type for both.
/// The totals, the directory table and `now_passing` are derived from the
/// tests when written; a reader judges the tests afresh.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report<'a> {
    pub suite: String,
    pub interpreter: String,
    pub jobs: usize,
    pub wall_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_wall_seconds: Option<f64>,
    #[serde(default)]
    pub measured: Measured,
    #[serde(default)]
    pub totals: Counts,
    #[serde(default)]
    pub by_directory: BTreeMap<String, Counts>,
    #[serde(default)]
    pub now_passing: Vec<String>,
    pub tests: std::borrow::Cow<'a, [TestResult]>,
}

impl Report<'static> {
    /// A JSON report as [`Report::write`] wrote it.
    pub fn read(json: &Path) -> Result<Report<'static>> {
        let text = std::fs::read(json).with_context(|| format!("reading the report {}", json.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("{} is not a kiln JSON report", json.display()))
    }
}

pub fn dir_of(name: &str) -> String {
    Path::new(name).parent().map(|p| p.display().to_string()).unwrap_or_default()
}

impl<'a> Report<'a> {
    pub fn new(suite: &str, interpreter: &str, jobs: usize, wall: f64, tests: &'a [TestResult], now_passing: Vec<String>) -> Report<'a> {
        let mut totals = Counts::default();
        let mut by_directory: BTreeMap<String, Counts> = BTreeMap::new();
        for t in tests {
            totals.add(t);
            by_directory.entry(dir_of(&t.name)).or_default().add(t);
        }
        Report {
            suite: suite.into(),
            interpreter: interpreter.into(),
            jobs,
            wall_seconds: wall,
            native_wall_seconds: None,
            measured: Default::default(),
            totals,
            by_directory,
            now_passing,
            tests: std::borrow::Cow::Borrowed(tests),
        }
    }

    pub fn table(&self) -> String {
        let native = self.totals.native_pass.is_some();
        let mut s = String::new();
        let row = |s: &mut String, d: &str, c: &Counts| {
            let _ = write!(
                s,
                "{:<48} {:>6} {:>6} {:>6} {:>6} {:>6}",
                d, c.total, c.pass, c.fail, c.skip, c.xfail
            );
            if native {
                let _ = write!(s, " {:>7}", c.native_pass.unwrap_or(0));
            }
            s.push('\n');
        };
        let _ = write!(
            s,
            "{:<48} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "directory", "total", "pass", "fail", "skip", "xfail"
        );
        if native {
            let _ = write!(s, " {:>7}", "native");
        }
        s.push('\n');
        for (d, c) in &self.by_directory {
            row(&mut s, d, c);
        }
        row(&mut s, "TOTAL", &self.totals);
        if native {
            let _ = writeln!(s, "(pass = wasm passes; native = passes on the native build of the same tarball)");
        }
        let _ = writeln!(s, "{} with {} jobs in {:.1}s", self.interpreter, self.jobs, self.wall_seconds);
        s
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let base = dir.join(&self.suite);
        std::fs::write(base.with_extension("json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(base.with_extension("xml"), self.junit()?)?;
        std::fs::write(dir.join("index.html"), self.html())?;
        Ok(())
    }

    fn junit(&self) -> Result<String> {
        use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
        let mut report = JReport::new(format!("kiln {}", self.suite));
        let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
        for t in self.tests.iter() {
            let status = match t.outcome {
                Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
                Outcome::Skip | Outcome::Xfail => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(t.detail.clone());
                    s
                }
                _ if t.baseline.is_some() => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!("expected on WASI: {}", t.baseline.as_deref().unwrap_or("")));
                    s
                }
                _ => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(t.detail.clone());
                    s.set_description(t.output.clone());
                    s
                }
            };
            let mut tc = TestCase::new(t.name.clone(), status);
            tc.set_time(std::time::Duration::from_secs_f64(t.seconds));
            suites
                .entry(dir_of(&t.name))
                .or_insert_with_key(|k| TestSuite::new(k.clone()))
                .add_test_case(tc);
        }
        for (_, s) in suites {
            report.add_test_suite(s);
        }
        Ok(report.to_string()?)
    }

    fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut h = String::new();
        let _ = write!(
            h,
            "<!doctype html><meta charset=utf-8><title>kiln {0}</title><style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}.fail{{color:#b00}}</style><h1>{0}: {1}</h1><p>{2} jobs, {3:.1}s</p><table><tr><th>directory<th>total<th>pass<th>fail<th>skip<th>xfail{4}",
            esc(&self.suite),
            esc(&self.interpreter),
            self.jobs,
            self.wall_seconds,
            if self.totals.native_pass.is_some() { "<th>native pass" } else { "" }
        );
        for (d, c) in self
            .by_directory
            .iter()
            .chain(std::iter::once((&"TOTAL".to_string(), &self.totals)))
        {
            let _ = write!(
                h,
                "<tr><td>{}<td>{}<td>{}<td class=fail>{}<td>{}<td>{}",
                esc(d),
                c.total,
                c.pass,
                c.fail,
                c.skip,
                c.xfail
            );
            if let Some(n) = c.native_pass {
                let _ = write!(h, "<td>{n}");
            }
        }
        h.push_str("</table><h2>Failures and expected failures</h2><ul>");
        for t in self.tests.iter().filter(|t| t.outcome.is_failure() || t.outcome == Outcome::Xfail) {
            let why = t
                .baseline
                .as_deref()
                .map(|b| format!("expected: {b}"))
                .unwrap_or_else(|| t.detail.clone());
            let _ = write!(h, "<li><code>{}</code> {:?}: {}", esc(&t.name), t.outcome, esc(&why));
        }
        h.push_str("</ul>");
        h
    }
}
