//! Conformance: run an interpreter's own test suite under the embedded
//! runtime, hold the results against a baseline in the repo
//! (`tests/baseline/<interp>.toml`), and write reports (terminal table,
//! JSON, JUnit XML, HTML).

pub mod phpt;
pub mod regrtest;
pub mod report;
pub mod rubytest;
pub mod suite;

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
    /// The interpreter's source tree.
    pub root: PathBuf,
    /// The build's output tree (`bin/`, `lib/`).
    pub out: PathBuf,
    pub run: crate::recipe::Run,
    /// Scratch space; runners make per-test directories inside.
    pub tmp: PathBuf,
    pub timeout: std::time::Duration,
    pub memory_limit: usize,
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
        match &self.exec {
            Exec::Wasm { runtime, program } => runtime.run_program(program, spec),
            Exec::Native { binary, args, .. } => crate::runtime::run_native(binary, args, spec),
        }
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

/// The runner a recipe names.
pub fn runner<'a>(kind: RunnerKind, env: SuiteEnv<'a>) -> Result<Box<dyn Runner + 'a>> {
    Ok(match kind {
        RunnerKind::Phpt => Box::new(phpt::PhptEnv::new(env)?),
        RunnerKind::Regrtest => Box::new(regrtest::Regrtest::new(env)?),
        RunnerKind::RubyBootstraptest => Box::new(rubytest::RubyTest::new(env)?),
    })
}

/// The arguments after argv0 that a runner gives every test, as far as
/// they select the interpreter's start-up: a start-up snapshot taken with
/// them fits the tests that add nothing to them.
pub fn fixed_args(kind: RunnerKind) -> Vec<String> {
    match kind {
        RunnerKind::Phpt => phpt::fixed_args(),
        RunnerKind::Regrtest | RunnerKind::RubyBootstraptest => Vec::new(),
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
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    pub seconds: f64,
    /// Set when the baseline expects this failure: its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// With `--native`: the same test's outcome on the native interpreter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<Outcome>,
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
    pub fn apply(&self, results: &mut [TestResult]) -> Result<Vec<String>> {
        let m = self.matchers()?;
        let mut now_pass = Vec::new();
        for r in results.iter_mut() {
            if let Some((_, reason, _)) = m.iter().find(|(g, _, _)| g.is_match(&r.name)) {
                if r.outcome.is_failure() {
                    r.baseline = Some(reason.to_string());
                } else if r.outcome == Outcome::Pass {
                    // Only exact names (not broad globs) count as "now passes".
                    if m.iter().any(|(_, _, tests)| tests.iter().any(|t| t == &r.name)) {
                        now_pass.push(r.name.clone());
                    }
                }
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
