//! "Run a suite against its baseline, optionally with the native side, and
//! report": one library call for `cargo xtask test`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::report::{Measured, Report};
use super::{Baseline, Exec, Outcome, SuiteEnv, TestResult};
use crate::plan::BuildPlan;
use crate::project::Project;
use crate::runtime::{Program, RunSpec, Use};

#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// Test files or directories; empty = the recipe's subset (or, with
    /// `full`, everything).
    pub paths: Vec<PathBuf>,
    pub full: bool,
    pub jobs: usize,
    pub filter: Option<String>,
    /// Per-test limit; `None` = the runner's default.
    pub timeout: Option<Duration>,
    pub memory_mib: usize,
    /// Also run the same tests on the native build of the same tarball.
    pub native: bool,
    /// Resume tests from the recipe's start-up snapshot, if it has one.
    pub snapshot: bool,
}

impl SuiteOptions {
    /// The `cargo xtask test` command line for these options (the flavour
    /// and limits aside).
    pub fn command(&self, recipe: &str) -> String {
        let mut c = format!("cargo xtask test {recipe}");
        for (on, flag) in [(self.full, " --full"), (self.native, " --native")] {
            if on {
                c.push_str(flag);
            }
        }
        if let Some(f) = &self.filter {
            c.push_str(&format!(" --filter {f}"));
        }
        for p in &self.paths {
            c.push_str(&format!(" {}", p.display()));
        }
        c
    }
}

/// A finished suite run, held against its baseline.
#[derive(Debug)]
pub struct SuiteRun {
    /// `<recipe>-<runner>`.
    pub suite: String,
    pub id: String,
    pub measured: Measured,
    pub jobs: usize,
    pub results: Vec<TestResult>,
    /// Baseline entries that passed (to be removed from the baseline).
    pub now_pass: Vec<String>,
    pub baseline_path: PathBuf,
    /// Wall time of the wasm side, seconds.
    pub wall: f64,
    /// Wall time of the native side, with `native`.
    pub native_wall: Option<f64>,
    /// With a start-up snapshot: guest runs that resumed from it, and runs
    /// that started from scratch because their options did not fit it.
    pub snapshot_runs: Option<(usize, usize)>,
}

impl SuiteRun {
    pub fn report(&self) -> Report<'_> {
        let mut r = Report::new(&self.suite, &self.id, self.jobs, self.wall, &self.results, self.now_pass.clone());
        r.native_wall_seconds = self.native_wall;
        r.measured = self.measured.clone();
        r
    }

    /// A run read back from its JSON report (`--report DIR`), judged
    /// afresh against the baseline at `baseline_path`: what a baseline
    /// edit changes, without running the suite again.
    pub fn from_report(json: &std::path::Path, baseline_path: PathBuf) -> Result<SuiteRun> {
        let saved = Report::read(json)?;
        let mut results = saved.tests.into_owned();
        let now_pass = Baseline::load(&baseline_path)?.apply(&mut results)?;
        Ok(SuiteRun {
            suite: saved.suite,
            id: saved.interpreter,
            measured: saved.measured,
            jobs: saved.jobs,
            results,
            now_pass,
            baseline_path,
            wall: saved.wall_seconds,
            native_wall: saved.native_wall_seconds,
            snapshot_runs: None,
        })
    }

    /// Failures the baseline does not expect.
    pub fn unexpected(&self) -> Vec<&TestResult> {
        self.results
            .iter()
            .filter(|r| r.outcome.is_failure() && r.baseline.is_none())
            .collect()
    }

    pub fn timeouts(&self) -> usize {
        self.results.iter().filter(|r| r.outcome == Outcome::Timeout).count()
    }
}

/// Build what the suite needs (module, source tree, native side), run the
/// tests on worker threads, and apply the baseline.
pub fn run_suite(project: &Project, plan: &BuildPlan, opts: &SuiteOptions) -> Result<SuiteRun> {
    let Some(suite) = plan.recipe.conformance.clone() else {
        bail!(
            "recipe {} has no [conformance] section: no suite is wired up for it yet",
            plan.recipe.name
        )
    };
    let started_on = crate::release::today();
    project.build_with_source(plan)?;
    let paths: Vec<PathBuf> = if !opts.paths.is_empty() {
        opts.paths.clone()
    } else if opts.full {
        suite.full.iter().map(PathBuf::from).collect()
    } else {
        let extra = suite.flavors.get(&plan.flavor).into_iter().flatten();
        suite.default.iter().chain(extra).map(PathBuf::from).collect()
    };
    let native = if opts.native {
        let binary = project.native_side(plan)?;
        let b = plan.recipe.bench.clone().expect("a native side implies [bench]");
        Some(Exec::Native {
            binary,
            args: b.native_args.clone(),
            env: plan.native_env(),
        })
    } else {
        None
    };
    let fixed = super::fixed_args(&suite);
    let rt = project.runtime(Use::Test, &plan.recipe.run)?;
    let (program, note) = if opts.snapshot {
        // Every test's spec maps the recipe's directories as they are.
        let live = RunSpec::for_recipe(&plan.recipe.run, &plan.dirs.out);
        rt.program(&plan.module(), &plan.recipe.run, &plan.dirs.out, &live, &fixed)?
    } else {
        (Program::Module(rt.load(&plan.module())?), None)
    };
    if let Some(n) = note {
        project.progress.println(format!("test {}: {n}", plan.recipe.name));
    }
    // The recipe's CGI program, for tests that need a CGI SAPI.
    let cgi_module = match &plan.recipe.serve {
        Some(serve) if plan.dirs.out.join(&serve.module).is_file() => Some(Program::Module(rt.load(&plan.dirs.out.join(&serve.module))?)),
        _ => None,
    };
    let native_cgi = match (plan.recipe.serve.as_ref().and_then(|s| s.native_binary.as_deref()), opts.native) {
        (Some(binary), true) => Some(project.native_program(plan, binary)?),
        _ => None,
    };
    let tmp = tempfile::tempdir()?;
    let timeout = opts.timeout.unwrap_or_else(|| super::default_timeout(suite.runner));
    let env = |exec, cgi| SuiteEnv {
        exec,
        cgi,
        root: plan.dirs.src.clone(),
        out: plan.dirs.out.clone(),
        run: plan.recipe.run.clone(),
        tmp: tmp.path().to_path_buf(),
        timeout,
        memory_limit: opts.memory_mib << 20,
        fixed_args: fixed.clone(),
    };
    let runner = super::runner(
        suite.runner,
        env(
            Exec::Wasm {
                runtime: &rt,
                program: &program,
            },
            cgi_module.as_ref().map(|p| Exec::Wasm { runtime: &rt, program: p }),
        ),
    )?;
    let tests = runner.discover(&paths, opts.filter.as_deref())?;
    if tests.is_empty() {
        bail!("no tests under {:?} (runner {})", paths, suite.runner);
    }
    project
        .progress
        .println(format!("running {} tests with {} jobs", tests.len(), opts.jobs));
    let start = Instant::now();
    let mut results = super::run_parallel(&tests, &|p| runner.serial(p), opts.jobs, &project.progress, |p| runner.run(p));
    let wall = start.elapsed().as_secs_f64();
    let snapshot_runs = matches!(program, Program::Snapshot { .. }).then(|| rt.snapshot_runs());
    let mut native_wall = None;
    if let Some(exec) = native {
        let start = Instant::now();
        project.progress.println(format!("running the same {} tests natively", tests.len()));
        let cgi = native_cgi.map(|binary| Exec::Native {
            binary,
            args: Vec::new(),
            env: plan.native_env(),
        });
        let native_runner = super::runner(suite.runner, env(exec, cgi))?;
        // The native side lists the same paths itself: a runner that finds
        // a file's tests by running it (bootstraptest's assertions) keeps
        // what it found for its own runs.
        native_runner.discover(&paths, opts.filter.as_deref())?;
        let native_results = super::run_parallel(&tests, &|p| native_runner.serial(p), opts.jobs, &project.progress, |p| {
            native_runner.run(p)
        });
        let by_name: std::collections::HashMap<&str, &TestResult> = native_results.iter().map(|r| (r.name.as_str(), r)).collect();
        for r in &mut results {
            r.merge_native(by_name.get(r.name.as_str()).copied());
        }
        native_wall = Some(start.elapsed().as_secs_f64());
    }
    let baseline_path = project.layout.baseline(&plan.recipe.slug());
    let now_pass = Baseline::load(&baseline_path)?.apply(&mut results)?;
    Ok(SuiteRun {
        suite: format!("{}-{}", plan.recipe.name, suite.runner),
        id: plan.id.clone(),
        measured: Measured {
            ran: if !opts.paths.is_empty() || opts.filter.is_some() {
                "chosen tests"
            } else if opts.full {
                "full suite"
            } else {
                "default subset"
            }
            .into(),
            command: opts.command(&plan.recipe.spec()),
            date: started_on,
            commit: String::new(),
        },
        jobs: opts.jobs,
        results,
        now_pass,
        baseline_path,
        wall,
        native_wall,
        snapshot_runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_read_back_is_judged_by_todays_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = TestResult::new(std::path::Path::new("t/a.phpt"));
        a.outcome = Outcome::Fail;
        a.native = Some(Outcome::Pass);
        let mut b = TestResult::new(std::path::Path::new("t/b.phpt"));
        b.outcome = Outcome::Pass;
        let run = SuiteRun {
            suite: "x-phpt".into(),
            id: "x-1.0".into(),
            measured: Measured {
                ran: "full suite".into(),
                command: "cargo xtask test x --full --native".into(),
                date: "2026-11-28".into(),
                commit: "abc".into(),
            },
            jobs: 2,
            results: vec![a, b],
            now_pass: Vec::new(),
            baseline_path: PathBuf::new(),
            wall: 3.0,
            native_wall: Some(4.0),
            snapshot_runs: None,
        };
        run.report().write(dir.path()).unwrap();
        let json = dir.path().join("x-phpt.json");
        let base = dir.path().join("x.toml");
        std::fs::write(
            &base,
            "[[expected]]\ntests = [\"t/a.phpt\", \"t/b.phpt\"]\nreason = \"no processes\"\n",
        )
        .unwrap();
        let back = SuiteRun::from_report(&json, base.clone()).unwrap();
        assert_eq!(back.measured, run.measured);
        assert_eq!(back.native_wall, Some(4.0));
        assert_eq!(back.results[0].baseline.as_deref(), Some("no processes"));
        assert!(back.unexpected().is_empty());
        assert_eq!(back.now_pass, ["t/b.phpt"]);
        // The baseline shrinks: the same report now has an unexpected failure.
        std::fs::write(&base, "").unwrap();
        let back = SuiteRun::from_report(&json, base).unwrap();
        assert_eq!(back.unexpected().len(), 1);
        assert!(SuiteRun::from_report(&dir.path().join("missing.json"), PathBuf::new())
            .unwrap_err()
            .to_string()
            .contains("missing.json"));
    }
}
