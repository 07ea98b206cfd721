//! The types every part of conformance shares: what a runner gets
//! ([`SuiteEnv`], [`Exec`]), the [`Runner`] trait, one test's result
//! ([`TestResult`], [`Outcome`], [`Case`]), the [`Baseline`], and the
//! helpers the runners use (discovery, captured runs, trap details). A
//! leaf of `conformance/`: the runners, the suite, the reports and the
//! table import it; it imports none of them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use crate::recipe::RunnerKind;
use crate::runtime::{RunSpec, Runtime, Stdio};

/// What every suite runner gets: the runtime and the cached module, the
/// source tree (suite files), the output tree (what the recipe's `[run]`
/// maps into the guest) and the per-test limits.
pub struct SuiteEnv<'a> {
    pub exec: Exec<'a>,
    /// The recipe's CGI program (`[serve] module`, natively its
    /// `native_binary`) on the same side, for tests that need a CGI SAPI
    /// (a `.phpt` with --GET--/--POST--/--COOKIE--); `None` when the
    /// recipe has none.
    pub cgi: Option<Exec<'a>>,
    /// The interpreter's source tree.
    pub root: PathBuf,
    /// The build's output tree (`bin/`, `lib/`).
    pub out: PathBuf,
    pub run: crate::recipe::Run,
    /// Scratch space; runners make per-test directories inside.
    pub tmp: PathBuf,
    pub timeout: std::time::Duration,
    pub memory_limit: usize,
    /// What the runner gives every test after argv0 (`fixed_args`).
    pub fixed_args: Vec<String>,
}

/// What runs a test: the wasm module in the embedded runtime, or (for
/// `--native`) the native interpreter of the same tarball as a process.
pub enum Exec<'a> {
    Wasm {
        runtime: &'a Runtime,
        /// The module, or its start-up snapshot (`[run.snapshot]`).
        program: &'a crate::runtime::Program,
    },
    Native {
        binary: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
}

impl SuiteEnv<'_> {
    /// The recipe's `[run]` as a spec: argv0 and args, env, mapped dirs.
    /// Natively only the `[bench]` native environment applies: the guest
    /// layout (stdlib mapped at /usr/local/lib, …) is the wasm side's.
    pub fn base_spec(&self) -> RunSpec {
        match &self.exec {
            Exec::Wasm { .. } => RunSpec::for_recipe(&self.run, &self.out),
            Exec::Native { env, .. } => RunSpec {
                argv: vec![self.run.argv0.clone()],
                env: env.clone(),
                ..Default::default()
            },
        }
    }

    pub fn is_native(&self) -> bool {
        matches!(self.exec, Exec::Native { .. })
    }

    /// Run one spec on this side.
    pub fn run(&self, spec: &RunSpec) -> Result<crate::runtime::Outcome> {
        exec(&self.exec, spec)
    }

    /// Run one spec on this side's CGI program.
    pub fn run_cgi(&self, spec: &RunSpec) -> Result<crate::runtime::Outcome> {
        let cgi = self
            .cgi
            .as_ref()
            .context("this suite has no CGI program (the recipe has no [serve])")?;
        exec(cgi, spec)
    }
}

fn exec(e: &Exec<'_>, spec: &RunSpec) -> Result<crate::runtime::Outcome> {
    match e {
        Exec::Wasm { runtime, program } => runtime.run_program(program, spec),
        // A native CGI program takes no `[bench] native_args` (they are the
        // CLI's); the runner passes what it needs.
        Exec::Native { binary, args, .. } => crate::runtime::run_native(binary, args, spec),
    }
}

/// A suite runner: finds tests and runs one.
pub trait Runner: Sync {
    /// Tests under `paths` (relative to the source tree or anywhere on
    /// disk), as (name in reports, path).
    fn discover(&self, paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<(String, PathBuf)>>;
    /// Tests that must not run beside others.
    fn serial(&self, _path: &Path) -> bool {
        false
    }
    fn run(&self, path: &Path) -> TestResult;
}

/// How a trapped run reads in a report: `memory cap reached: …` when the
/// cap refused a grow during the run (the guest ran out of memory),
/// `trap: …` otherwise. The conformance table counts both as traps and
/// the first as out of memory.
pub(crate) fn trap_detail(trap: &str, hit_memory_limit: bool) -> String {
    if hit_memory_limit {
        format!("memory cap reached: {trap}")
    } else {
        format!("trap: {trap}")
    }
}

/// A per-test time limit that suits the runner's granularity.
pub fn default_timeout(kind: RunnerKind) -> std::time::Duration {
    std::time::Duration::from_secs(match kind {
        // One regrtest module holds hundreds of test cases.
        RunnerKind::Regrtest => 600,
        RunnerKind::Phpt | RunnerKind::RubyBootstraptest => 60,
    })
}

/// Run a spec with captured, merged output under the suite's limits.
pub(crate) fn captured(env: &SuiteEnv<'_>, mut spec: RunSpec) -> Result<crate::runtime::Outcome> {
    spec.stdout = Stdio::Bytes(vec![]);
    spec.stderr = Stdio::Merged;
    spec.timeout = Some(env.timeout);
    spec.memory_limit = Some(env.memory_limit);
    env.run(&spec)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
    /// Failed, and the test itself says it is expected to (XFAIL).
    Xfail,
    /// Passed with a warning (e.g. XFAIL section but passes).
    Warn,
    Timeout,
    /// The test file itself could not be used (parse error, …).
    Broken,
}

impl Outcome {
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Timeout | Outcome::Broken)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestResult {
    /// Path relative to the suite root (or as given).
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub title: String,
    pub outcome: Outcome,
    pub detail: String,
    /// The output of a failing test.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    pub seconds: f64,
    /// Set when the baseline expects this failure: its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// With `--native`: the same test's outcome on the native interpreter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<Outcome>,
    /// The test cases inside a test file that holds many (a test-all
    /// file), as its harness reported them. Reports count these instead
    /// of the file, and the baseline can name them (`file#Case`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<Case>,
    /// The file failed only because of its failing cases (its harness
    /// finished and counted exactly those), not by a trap, timeout or
    /// crash: then it is expected when every failing case is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failure_is_cases: bool,
}

/// One test case of a file, as its harness reported it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// As the harness names it (`TestArray#test_push`).
    pub name: String,
    pub outcome: Outcome,
    /// The harness's message for a failure or skip.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Outcome>,
}

impl TestResult {
    /// The name a baseline uses for one of this file's cases.
    pub fn case_name(&self, case: &Case) -> String {
        format!("{}#{}", self.name, case.name)
    }

    /// The failing cases the baseline does not expect.
    pub fn unexpected_cases(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| c.outcome.is_failure() && c.baseline.is_none())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Fill the native column from the same file's native result: case by
    /// case where both have cases. A case that ran only natively (the wasm
    /// run stopped before it) is added as a failure that did not run.
    pub fn merge_native(&mut self, native: Option<&TestResult>) {
        self.native = Some(native.map(|n| n.outcome).unwrap_or(Outcome::Broken));
        let Some(n) = native else { return };
        if self.cases.is_empty() && n.cases.is_empty() {
            return;
        }
        let by_name: std::collections::HashMap<&str, Outcome> = n.cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
        for c in &mut self.cases {
            c.native = Some(
                by_name
                    .get(c.name.as_str())
                    .copied()
                    .unwrap_or(if n.cases.is_empty() { n.outcome } else { Outcome::Broken }),
            );
        }
        // Cases only the native side ran: skipped with the file when the
        // file skipped on wasm; not defined on wasm when its harness
        // finished without them (cases generated from what the platform
        // has); else lost when the wasm run stopped early.
        let (outcome, detail) = match self.outcome {
            Outcome::Skip => (Outcome::Skip, self.detail.clone()),
            Outcome::Pass | Outcome::Warn | Outcome::Xfail => return,
            _ if self.failure_is_cases => (
                Outcome::Skip,
                "not defined on wasm: the file's harness finished without this case".to_string(),
            ),
            _ => (Outcome::Broken, "did not run on wasm (the file stopped before it)".to_string()),
        };
        let mine: std::collections::HashSet<String> = self.cases.iter().map(|c| c.name.clone()).collect();
        for c in n.cases.iter().filter(|c| !mine.contains(&c.name)) {
            self.cases.push(Case {
                name: c.name.clone(),
                outcome,
                detail: detail.clone(),
                baseline: None,
                native: Some(c.outcome),
            });
        }
    }
}

impl TestResult {
    pub fn new(path: &Path) -> TestResult {
        TestResult {
            name: path.display().to_string(),
            path: path.to_path_buf(),
            title: String::new(),
            outcome: Outcome::Broken,
            detail: String::new(),
            output: String::new(),
            seconds: 0.0,
            baseline: None,
            native: None,
            cases: Vec::new(),
            failure_is_cases: false,
        }
    }
}

/// Expected failures and skips on WASI, each with a reason.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub expected: Vec<Expected>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Globs over test names relative to the suite root.
    pub tests: Vec<String>,
    /// One line: why this cannot pass on WASI.
    pub reason: String,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline> {
        if !path.is_file() {
            return Ok(Baseline::default());
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let b: Baseline = crate::recipe::parse_toml(path, &text)?;
        for e in &b.expected {
            if e.reason.trim().is_empty() || e.reason.contains('\n') {
                anyhow::bail!("{}: every expected failure needs a one-line reason ({:?})", path.display(), e.tests);
            }
        }
        Ok(b)
    }

    fn matchers(&self) -> Result<Vec<(globset::GlobSet, &str, &[String])>> {
        self.expected
            .iter()
            .map(|e| {
                let mut b = globset::GlobSetBuilder::new();
                for t in &e.tests {
                    b.add(globset::GlobBuilder::new(t).literal_separator(true).build()?);
                }
                Ok((b.build()?, e.reason.as_str(), e.tests.as_slice()))
            })
            .collect()
    }

    /// Mark expected failures; return names the baseline lists that passed.
    /// A file with cases is matched case by case (`file#Case` names, or
    /// the file's own name for all of its cases); it is expected when its
    /// failure is exactly its failing cases and each of them is expected.
    /// Results judged before (read back from a report) are judged afresh.
    pub fn apply(&self, results: &mut [TestResult]) -> Result<Vec<String>> {
        let m = self.matchers()?;
        let find = |name: &str| m.iter().find(|(g, _, _)| g.is_match(name)).map(|(_, reason, _)| reason.to_string());
        let exact = |name: &str| m.iter().any(|(_, _, tests)| tests.iter().any(|t| t == name));
        let mut now_pass = Vec::new();
        for r in results.iter_mut() {
            r.baseline = None;
            let file_reason = find(&r.name);
            for i in 0..r.cases.len() {
                let full = r.case_name(&r.cases[i]);
                let c = &mut r.cases[i];
                c.baseline = None;
                let reason = find(&full).or_else(|| file_reason.clone());
                if c.outcome.is_failure() {
                    c.baseline = reason;
                } else if c.outcome == Outcome::Pass && exact(&full) {
                    now_pass.push(full);
                }
            }
            if r.outcome.is_failure() {
                if file_reason.is_some() {
                    r.baseline = file_reason;
                } else if r.failure_is_cases && r.unexpected_cases().is_empty() && !r.cases.is_empty() {
                    let mut reasons: Vec<&str> = r.cases.iter().filter_map(|c| c.baseline.as_deref()).collect();
                    reasons.sort_unstable();
                    reasons.dedup();
                    r.baseline = Some(reasons.join("; "));
                }
            } else if r.outcome == Outcome::Pass && exact(&r.name) {
                // Only exact names (not broad globs) count as "now passes".
                now_pass.push(r.name.clone());
            }
        }
        Ok(now_pass)
    }
}

/// The `--filter` glob, compiled.
pub(crate) fn filter_glob(filter: Option<&str>) -> Result<Option<globset::GlobMatcher>> {
    Ok(filter.map(globset::Glob::new).transpose()?.map(|g| g.compile_matcher()))
}

/// A test path as given: under the first of `bases` where it exists (an
/// absolute path stays itself), else under the current directory.
pub(crate) fn locate(p: &Path, bases: &[&Path]) -> Result<Option<PathBuf>> {
    let cwd = std::env::current_dir()?;
    Ok(bases
        .iter()
        .copied()
        .chain(std::iter::once(cwd.as_path()))
        .map(|b| b.join(p))
        .find(|a| a.exists()))
}

/// Collect test files under `paths` (files or directories) with extension
/// `ext`, relative to `root` where possible, filtered by `filter` globs.
pub fn discover(root: &Path, paths: &[PathBuf], ext: &str, filter: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
    let glob = filter_glob(filter)?;
    let mut out = Vec::new();
    for p in paths {
        let Some(abs) = locate(p, &[root])? else {
            anyhow::bail!(
                "{} does not exist (looked in {} and the current directory)",
                p.display(),
                root.display()
            );
        };
        for e in walkdir::WalkDir::new(&abs).sort_by_file_name() {
            let e = e?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == ext) {
                let name = e.path().strip_prefix(root).unwrap_or(e.path()).display().to_string();
                if glob
                    .as_ref()
                    .is_none_or(|g| g.is_match(&name) || g.is_match(e.path().file_name().unwrap_or_default()))
                {
                    out.push((name, e.path().to_path_buf()));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Run `tests` on `jobs` worker threads; `serial` ones afterwards, alone.
pub fn run_parallel<F>(
    tests: &[(String, PathBuf)],
    serial: &dyn Fn(&Path) -> bool,
    jobs: usize,
    progress: &Progress,
    f: F,
) -> Vec<TestResult>
where
    F: Fn(&Path) -> TestResult + Sync,
{
    let bar = progress.counter("tests", tests.len() as u64);
    let (par, ser): (Vec<_>, Vec<_>) = tests.iter().partition(|(_, p)| !serial(p));
    let results = Mutex::new(Vec::with_capacity(tests.len()));
    let next = AtomicUsize::new(0);
    let run_one = |(name, path): &(String, PathBuf)| {
        let mut r = f(path);
        r.name = name.clone();
        bar.inc(1);
        results.lock().expect("no poisoned lock").push(r);
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = par.get(i) else { break };
                run_one(t);
            });
        }
    });
    for t in ser {
        run_one(t);
    }
    bar.finish_and_clear();
    let mut v = results.into_inner().expect("no poisoned lock");
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, outcome: Outcome, cases: &[(&str, Outcome)]) -> TestResult {
        let mut r = TestResult::new(Path::new(name));
        r.outcome = outcome;
        r.cases = cases
            .iter()
            .map(|(n, o)| Case {
                name: n.to_string(),
                outcome: *o,
                detail: String::new(),
                baseline: None,
                native: None,
            })
            .collect();
        r.failure_is_cases = outcome == Outcome::Fail;
        r
    }

    fn baseline(entries: &[(&[&str], &str)]) -> Baseline {
        Baseline {
            expected: entries
                .iter()
                .map(|(t, r)| Expected {
                    tests: t.iter().map(|s| s.to_string()).collect(),
                    reason: r.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_file_is_expected_when_each_failing_case_is() {
        let b = baseline(&[(&["test/a.rb#TestA#test_fork*"], "no processes")]);
        let mut rs = vec![
            file(
                "test/a.rb",
                Outcome::Fail,
                &[("TestA#test_ok", Outcome::Pass), ("TestA#test_fork_1", Outcome::Fail)],
            ),
            file("test/b.rb", Outcome::Fail, &[("TestB#test_x", Outcome::Fail)]),
        ];
        b.apply(&mut rs).unwrap();
        assert_eq!(rs[0].baseline.as_deref(), Some("no processes"));
        assert_eq!(rs[0].cases[1].baseline.as_deref(), Some("no processes"));
        assert_eq!(rs[1].baseline, None);
        assert_eq!(rs[1].unexpected_cases(), ["TestB#test_x"]);
        // Judging again (a report read back) gives the same verdicts.
        b.apply(&mut rs).unwrap();
        assert_eq!(rs[0].baseline.as_deref(), Some("no processes"));
        assert_eq!(rs[1].baseline, None);
        // A file that trapped is not explained by its cases.
        let mut trapped = vec![file("test/a.rb", Outcome::Fail, &[("TestA#test_fork_1", Outcome::Fail)])];
        trapped[0].failure_is_cases = false;
        b.apply(&mut trapped).unwrap();
        assert_eq!(trapped[0].baseline, None);
    }

    #[test]
    fn exactly_listed_cases_that_pass_are_reported() {
        let b = baseline(&[(&["test/a.rb#TestA#test_once_broken", "test/a.rb#TestA#test_glob*"], "r")]);
        let mut rs = vec![file(
            "test/a.rb",
            Outcome::Pass,
            &[("TestA#test_once_broken", Outcome::Pass), ("TestA#test_glob_1", Outcome::Pass)],
        )];
        assert_eq!(b.apply(&mut rs).unwrap(), ["test/a.rb#TestA#test_once_broken"]);
    }

    #[test]
    fn native_cases_fill_the_column_and_the_gaps() {
        let native = file("test/a.rb", Outcome::Pass, &[("T#a", Outcome::Pass), ("T#b", Outcome::Pass)]);
        // The wasm harness finished without T#b: not defined there.
        let mut finished = file("test/a.rb", Outcome::Fail, &[("T#a", Outcome::Pass)]);
        finished.merge_native(Some(&native));
        assert_eq!(finished.cases[1].outcome, Outcome::Skip);
        // The wasm file stopped (a trap) before T#b.
        let mut wasm = file("test/a.rb", Outcome::Fail, &[("T#a", Outcome::Pass)]);
        wasm.failure_is_cases = false;
        wasm.merge_native(Some(&native));
        assert_eq!(wasm.native, Some(Outcome::Pass));
        assert_eq!(wasm.cases[0].native, Some(Outcome::Pass));
        assert_eq!((wasm.cases[1].name.as_str(), wasm.cases[1].outcome), ("T#b", Outcome::Broken));
        let mut c = super::super::report::Counts::default();
        c.add(&wasm);
        // T#a, T#b, and the stopped file itself.
        assert_eq!((c.total, c.pass, c.fail, c.native_pass), (3, 1, 2, Some(2)));
    }
}
