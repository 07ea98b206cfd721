use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use kiln::conformance::report::Report;
use kiln::conformance::{Baseline, Outcome, SuiteEnv};
use kiln::runtime::{EngineOptions, Runtime};

use crate::{Ctx, Global};

#[derive(Args)]
pub struct TestArgs {
    /// Interpreter (php, python, ruby).
    pub interp: String,
    /// Test files or directories, inside the interpreter's source tree
    /// (relative paths resolve there first) or anywhere on disk. Default:
    /// the recipe's representative subset; with --full, everything.
    pub paths: Vec<PathBuf>,
    /// Worker threads (default: number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Only tests whose path or file name matches this glob.
    #[arg(long)]
    pub filter: Option<String>,
    /// Per-test time limit, seconds (default: 60; 600 for a regrtest
    /// module, which holds hundreds of cases).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Per-test linear-memory cap, MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory_mib: usize,
    /// Write <suite>.json, <suite>.xml (JUnit) and index.html here.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Run the whole upstream suite instead of the default subset.
    #[arg(long)]
    pub full: bool,
    #[arg(long)]
    pub flavor: Option<String>,
}

pub fn run(g: &Global, a: TestArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let plan = crate::build::build_plan(&ctx, &a.interp, a.flavor.as_deref(), None, false)?;
    let builder = kiln::build::Builder {
        layout: &ctx.layout,
        progress: &ctx.progress,
        offline: g.offline,
    };
    let Some(suite) = plan.recipe.conformance.clone() else {
        bail!(
            "recipe {} has no [conformance] section: no suite is wired up for it yet",
            plan.recipe.name
        )
    };
    if !kiln::conformance::RUNNERS.contains(&suite.runner.as_str()) {
        bail!(
            "recipe {}: conformance runner {:?} is not implemented (known: {})",
            plan.recipe.name,
            suite.runner,
            kiln::conformance::RUNNERS.join(", ")
        );
    }
    builder.build(&plan)?;
    builder.ensure_source(&plan)?;
    let paths: Vec<PathBuf> = if !a.paths.is_empty() {
        a.paths.clone()
    } else if a.full {
        suite.full.iter().map(PathBuf::from).collect()
    } else {
        suite.default.iter().map(PathBuf::from).collect()
    };
    let jobs = a.jobs.unwrap_or_else(kiln::plan::default_jobs);
    let rt = Runtime::new(
        &ctx.layout.module_cache(),
        &EngineOptions {
            pooling: false,
            ..Default::default()
        },
    )?;
    let module = rt.load(&plan.module())?;
    let tmp = tempfile::tempdir()?;
    let env = SuiteEnv {
        runtime: &rt,
        module: &module,
        root: plan.src_dir.clone(),
        out: plan.out_dir.clone(),
        run: plan.recipe.run.clone(),
        tmp: tmp.path().to_path_buf(),
        timeout: a
            .timeout
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| kiln::conformance::default_timeout(&suite.runner)),
        memory_limit: a.memory_mib << 20,
    };
    let runner = kiln::conformance::runner(&suite.runner, env)?;
    let tests = runner.discover(&paths, a.filter.as_deref())?;
    if tests.is_empty() {
        bail!("no tests under {:?} (runner {})", paths, suite.runner);
    }
    eprintln!("running {} tests with {jobs} jobs", tests.len());
    let start = Instant::now();
    let mut results = kiln::conformance::run_parallel(&tests, &|p| runner.serial(p), jobs, &ctx.progress, |p| runner.run(p));
    let wall = start.elapsed().as_secs_f64();
    let baseline_path = ctx
        .layout
        .repo
        .join("tests")
        .join("baseline")
        .join(format!("{}.toml", plan.recipe.name));
    let baseline = Baseline::load(&baseline_path)?;
    let now_pass = baseline.apply(&mut results)?;
    let report = Report::new(
        &format!("{}-{}", plan.recipe.name, suite.runner),
        &plan.id,
        jobs,
        wall,
        &results,
        now_pass.clone(),
    );
    print!("{}", report.table());
    if let Some(dir) = &a.report {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        println!("reports: {}", dir.display());
    }
    let unexpected: Vec<_> = results.iter().filter(|r| r.outcome.is_failure() && r.baseline.is_none()).collect();
    for r in &unexpected {
        println!("FAIL {} [{}] {:?}: {}", r.name, r.title, r.outcome, r.detail);
    }
    for n in &now_pass {
        println!("NOW PASSES (remove from {}): {n}", baseline_path.display());
    }
    if !unexpected.is_empty() {
        println!("{} unexpected failures (baseline: {})", unexpected.len(), baseline_path.display());
        return Ok(ExitCode::FAILURE);
    }
    let timeouts = results.iter().filter(|r| r.outcome == Outcome::Timeout).count();
    println!("ok: no unexpected failures ({timeouts} timeouts, all expected)");
    Ok(ExitCode::SUCCESS)
}
