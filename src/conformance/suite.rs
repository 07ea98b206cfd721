//! "Run a suite against its baseline, optionally with the native side, and
//! report": one library call for `cargo xtask test`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::report::Report;
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

/// A finished suite run, held against its baseline.
#[derive(Debug)]
pub struct SuiteRun {
    /// `<recipe>-<runner>`.
    pub suite: String,
    pub id: String,
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
        Report::new(&self.suite, &self.id, self.jobs, self.wall, &self.results, self.now_pass.clone())
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
            env: native_env(plan),
        })
    } else {
        None
    };
    let rt = project.runtime(Use::Test, &plan.recipe.run)?;
    let (program, note) = if opts.snapshot {
        // Every test's spec maps the recipe's directories as they are.
        let live = RunSpec::for_recipe(&plan.recipe.run, &plan.dirs.out);
        rt.program(
            &plan.module(),
            &plan.recipe.run,
            &plan.dirs.out,
            &live,
            &super::fixed_args(suite.runner),
        )?
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
            env: native_env(plan),
        });
        let native_runner = super::runner(suite.runner, env(exec, cgi))?;
        let native_results = super::run_parallel(&tests, &|p| native_runner.serial(p), opts.jobs, &project.progress, |p| {
            native_runner.run(p)
        });
        let by_name: std::collections::HashMap<&str, &TestResult> = native_results.iter().map(|r| (r.name.as_str(), r)).collect();
        for r in &mut results {
            r.merge_native(by_name.get(r.name.as_str()).copied());
        }
        native_wall = Some(start.elapsed().as_secs_f64());
    }
    let baseline_path = project.layout.baseline(&plan.recipe.name);
    let now_pass = Baseline::load(&baseline_path)?.apply(&mut results)?;
    Ok(SuiteRun {
        suite: format!("{}-{}", plan.recipe.name, suite.runner),
        id: plan.id.clone(),
        jobs: opts.jobs,
        results,
        now_pass,
        baseline_path,
        wall,
        native_wall,
        snapshot_runs,
    })
}

/// The native side's environment: `[bench] native_env`, then what its
/// libraries need to find their run-time files.
pub fn native_env(plan: &BuildPlan) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = plan.recipe.bench.iter().flat_map(|b| b.native_env.clone()).collect();
    if let Some((n, _)) = &plan.native_side {
        env.extend(n.run_env.iter().cloned());
    }
    env
}
