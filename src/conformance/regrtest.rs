//! CPython's regrtest, one test module per fresh instance of the cached
//! module: `python -m test -u all,-cpu --tempdir /tmp --junit-xml … MODULE`
//! (the resource set of regrtest's `--fast-ci`, without its randomising
//! and rerun options, which only make sense for a whole run). The module's
//! verdict comes from regrtest's exit status; the per-testcase figures from
//! the JUnit file regrtest writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};

use super::model::{Outcome, Runner, SuiteEnv, TestResult};
use crate::runtime::{RunSpec, Stdio};

/// regrtest's exit statuses (Lib/test/libregrtest/utils.py).
const EXITCODE_BAD_TEST: i32 = 2;
const EXITCODE_ENV_CHANGED: i32 = 3;
const EXITCODE_NO_TESTS_RAN: i32 = 4;

/// Resources the tests may use (regrtest `-u`): `--fast-ci`'s set.
pub const RESOURCES: &str = "all,-cpu";

pub struct Regrtest<'a> {
    pub env: SuiteEnv<'a>,
    /// `Lib/test` in the source tree: where modules are discovered.
    pub test_dir: PathBuf,
}

impl<'a> Regrtest<'a> {
    pub fn new(env: SuiteEnv<'a>) -> Result<Regrtest<'a>> {
        let test_dir = env.root.join("Lib").join("test");
        if !test_dir.is_dir() {
            bail!("{} is not a CPython source tree (no Lib/test)", env.root.display());
        }
        Ok(Regrtest { env, test_dir })
    }
}

/// A test module's name from its path: `…/Lib/test/test_os.py` → `test_os`,
/// `…/Lib/test/test_json/` → `test_json`.
pub fn module_name(path: &Path) -> Option<String> {
    let stem = if path.is_dir() {
        path.file_name()?.to_str()?.to_string()
    } else {
        path.file_stem()?.to_str()?.to_string()
    };
    stem.starts_with("test_").then_some(stem)
}

/// Test modules under `dir`: `test_*.py` files and `test_*` packages.
fn modules_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("test_") {
            continue;
        }
        if (p.is_file() && name.ends_with(".py")) || (p.is_dir() && p.join("__init__.py").is_file()) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// The test cases of regrtest's JUnit file: each `<testcase>` is named by
/// the test's id (`test.test_sqlite3.test_transactions.TransactionTests.test_locking`),
/// kept here without the `test.` package and the module's own prefix.
pub fn junit_cases(xml: &str, module: &str) -> Result<Vec<super::model::Case>> {
    let doc = roxmltree::Document::parse(xml)?;
    let prefix = format!("test.{module}.");
    Ok(doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|tc| {
            let id = tc.attribute("name").unwrap_or_default();
            let name = id.strip_prefix(&prefix).or_else(|| id.strip_prefix("test.")).unwrap_or(id);
            let child = |tag: &str| tc.children().find(|n| n.has_tag_name(tag));
            let (outcome, detail) = match (child("failure").or_else(|| child("error")), child("skipped")) {
                (Some(f), _) => (Outcome::Fail, f.attribute("message").unwrap_or_default()),
                (None, Some(sk)) => (Outcome::Skip, sk.text().unwrap_or_default()),
                (None, None) => (Outcome::Pass, ""),
            };
            super::model::Case {
                name: name.to_string(),
                outcome,
                detail: detail.trim().chars().take(500).collect(),
                baseline: None,
                native: None,
            }
        })
        .collect())
}

/// The verdict for one module from regrtest's exit status and output.
pub fn judge(status: i32, output: &str) -> (Outcome, String) {
    let reason = output
        .lines()
        .find_map(|l| l.split_once(" skipped -- ").map(|(_, r)| r.trim().to_string()))
        .or_else(|| {
            output
                .lines()
                .find(|l| l.contains("Resource denied") || l.contains("resource denied"))
                .map(|l| l.trim().to_string())
        });
    match status {
        // A package whose submodules all skip still "succeeds".
        0 if output.lines().any(|l| l.trim() == "Total tests: run=0") => {
            (Outcome::Skip, reason.unwrap_or_else(|| "every test file skipped".into()))
        }
        0 => (Outcome::Pass, String::new()),
        EXITCODE_NO_TESTS_RAN => (Outcome::Skip, reason.unwrap_or_else(|| "no tests ran".into())),
        EXITCODE_ENV_CHANGED => (Outcome::Pass, "environment changed".into()),
        EXITCODE_BAD_TEST => {
            let first = output
                .lines()
                .find(|l| l.starts_with("FAIL: ") || l.starts_with("ERROR: ") || l.contains("failed (") || l.contains(" crashed"))
                .unwrap_or("tests failed")
                .trim()
                .to_string();
            (Outcome::Fail, first)
        }
        s => (Outcome::Fail, format!("exit status {s}")),
    }
}

impl Runner for Regrtest<'_> {
    fn discover(&self, paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
        let glob = super::model::filter_glob(filter)?;
        let mut out = Vec::new();
        for p in paths {
            let abs = super::model::locate(p, &[&self.env.root, &self.test_dir])?.or_else(|| {
                // A bare module name: test_os → Lib/test/test_os.py
                let py = self.test_dir.join(format!("{}.py", p.display()));
                py.exists().then_some(py)
            });
            let Some(abs) = abs else {
                bail!(
                    "{}: no such test module or directory (looked in {}, {} and the current directory)",
                    p.display(),
                    self.env.root.display(),
                    self.test_dir.display()
                );
            };
            let modules = match module_name(&abs) {
                Some(_) => vec![abs.clone()],
                None if abs.is_dir() => modules_in(&abs)?,
                None => bail!("{}: not a regrtest module (test_*.py or a test_* package)", abs.display()),
            };
            for m in modules {
                let name = module_name(&m).expect("filtered above");
                // Modules outside Lib/test run with regrtest's --testdir.
                let shown = match m.parent() {
                    Some(d) if d == self.test_dir => format!("Lib/test/{name}"),
                    _ => m.display().to_string(),
                };
                if glob.as_ref().is_none_or(|g| g.is_match(&name)) {
                    out.push((shown, m));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn run(&self, path: &Path) -> TestResult {
        let start = Instant::now();
        let mut r = TestResult::new(path);
        let Some(module) = module_name(path) else {
            r.detail = "not a test module".into();
            return r;
        };
        r.title = module.clone();
        let tmp = match tempfile::Builder::new().prefix(&format!("{module}-")).tempdir_in(&self.env.tmp) {
            Ok(t) => t,
            Err(e) => {
                r.detail = format!("creating a temp dir in {}: {e}", self.env.tmp.display());
                return r;
            }
        };
        let mut spec: RunSpec = self.env.base_spec();
        spec.argv.extend(
            [
                "-m",
                "test",
                "-u",
                RESOURCES,
                "--tempdir",
                "/tmp",
                "--junit-xml",
                "/tmp/junit.xml",
                "--timeout",
                "0",
                &module,
            ]
            .map(String::from),
        );
        if let Some(dir) = path.parent().filter(|d| *d != self.test_dir) {
            let i = spec.argv.len() - 1;
            spec.argv.insert(i, "--testdir".into());
            spec.argv.insert(i + 1, dir.display().to_string());
            spec.dirs.push((dir.to_path_buf(), dir.display().to_string()));
        }
        spec.env.push(("TMPDIR".into(), "/tmp".into()));
        // The per-module directory is the guest's `/` (so `os.makedirs`
        // can walk up from /tmp), with /tmp inside it; the recipe's
        // longer preopens (/usr/local/lib) still win for their paths.
        if let Err(e) = fs::create_dir(tmp.path().join("tmp"))
            .map_err(anyhow::Error::from)
            .and_then(|_| spec.writable_root(tmp.path()))
        {
            r.detail = format!("preparing {}: {e:#}", tmp.path().display());
            return r;
        }
        spec.stdout = Stdio::Bytes(vec![]);
        spec.stderr = Stdio::Merged;
        spec.stdin = Stdio::Null;
        spec.timeout = Some(self.env.timeout);
        spec.memory_limit = Some(self.env.memory_limit);
        match self.env.run(&spec) {
            Err(e) => {
                r.outcome = Outcome::Broken;
                r.detail = format!("{e:#}");
            }
            Ok(o) => {
                let output = String::from_utf8_lossy(&o.stdout).into_owned();
                if o.timed_out {
                    r.outcome = Outcome::Timeout;
                    r.detail = format!("stopped after {:?}", self.env.timeout);
                } else if let Some(t) = &o.trap {
                    r.outcome = Outcome::Fail;
                    r.detail = super::model::trap_detail(t, o.hit_memory_limit);
                } else if o.hit_memory_limit && o.status != 0 {
                    r.outcome = Outcome::Fail;
                    r.detail = format!("memory cap of {} MiB reached", self.env.memory_limit >> 20);
                } else {
                    let (outcome, detail) = judge(o.status, &output);
                    r.outcome = outcome;
                    r.detail = detail;
                }
                if let Ok(xml) = fs::read_to_string(tmp.path().join("tmp").join("junit.xml")) {
                    r.cases = junit_cases(&xml, &module).unwrap_or_default();
                    let failing = r.cases.iter().filter(|c| c.outcome.is_failure()).count();
                    r.failure_is_cases =
                        r.outcome == Outcome::Fail && o.status == EXITCODE_BAD_TEST && !o.timed_out && o.trap.is_none() && failing > 0;
                    if !r.cases.is_empty() {
                        let skipped = r.cases.iter().filter(|c| c.outcome == Outcome::Skip).count();
                        let counts = format!("{} testcases: {failing} failed, {skipped} skipped", r.cases.len());
                        r.detail = if r.detail.is_empty() {
                            counts
                        } else {
                            format!("{}; {counts}", r.detail)
                        };
                    }
                }
                if r.outcome.is_failure() {
                    r.output = tail(&output, 8000);
                }
            }
        }
        r.seconds = start.elapsed().as_secs_f64();
        r
    }
}

fn tail(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    format!("…{}", &s[i..])
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn regrtest_junit_cases_are_named_by_test_id() {
        let xml = r#"<testsuites><testsuite tests="3">
          <testcase name="test.test_sqlite3.test_transactions.TransactionTests.test_locking" status="run" result="completed"><failure type="AssertionError" message="AssertionError: locked">tb</failure></testcase>
          <testcase name="test.test_sqlite3.test_dump.DumpTests.test_a" status="run" result="completed"/>
          <testcase name="test.test_sqlite3.test_dump.DumpTests.test_b" status="run" result="completed"><skipped>needs threads</skipped></testcase>
        </testsuite></testsuites>"#;
        let c = junit_cases(xml, "test_sqlite3").unwrap();
        assert!(junit_cases("<testsuites>", "m").is_err());
        let got: Vec<(&str, Outcome, &str)> = c.iter().map(|c| (c.name.as_str(), c.outcome, c.detail.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "test_transactions.TransactionTests.test_locking",
                    Outcome::Fail,
                    "AssertionError: locked"
                ),
                ("test_dump.DumpTests.test_a", Outcome::Pass, ""),
                ("test_dump.DumpTests.test_b", Outcome::Skip, "needs threads"),
            ]
        );
    }

    #[test]
    fn regrtest_module_names() {
        assert_eq!(module_name(Path::new("/x/Lib/test/test_os.py")).as_deref(), Some("test_os"));
        assert_eq!(module_name(Path::new("/x/Lib/test/support.py")), None);
    }
}
