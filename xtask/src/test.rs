use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use kiln::conformance::report::Report;
use kiln::conformance::{Baseline, Exec, Outcome, SuiteEnv};
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
    /// Also run the same tests on a native interpreter built from the same
    /// tarball, and report native passes beside wasm passes.
    #[arg(long)]
    pub native: bool,
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
            // Measured: the pooling allocator made no difference to
            // `test php Zend/tests` (4,922 tests, 2 jobs: 48.8 s without,
            // 48.9 s with; a second pair 52.4 s each). Instantiation is not
            // what a phpt run waits on, so it stays off. Re-measured
            // 2026-11-27 (same tests, 2 jobs): off 39.1/37.8/38.1 s; pooling
            // 37.7 s; pooling + linear_memory_keep_resident 32 MiB
            // 39.8/38.2 s (sys time 21 -> 7.5 s, but user time 53 -> 68 s
            // memsetting the kept pages); keep_resident 8 MiB 41.7/38.6 s.
            pooling: false,
            ..Default::default()
        },
    )?;
    let module = rt.load(&plan.module())?;
    let tmp = tempfile::tempdir()?;
    let timeout = a
        .timeout
        .map(Duration::from_secs_f64)
        .unwrap_or_else(|| kiln::conformance::default_timeout(&suite.runner));
    fn env<'a>(exec: Exec<'a>, plan: &kiln::plan::BuildPlan, tmp: &std::path::Path, timeout: Duration, memory_mib: usize) -> SuiteEnv<'a> {
        SuiteEnv {
            exec,
            root: plan.src_dir.clone(),
            out: plan.out_dir.clone(),
            run: plan.recipe.run.clone(),
            tmp: tmp.to_path_buf(),
            timeout,
            memory_limit: memory_mib << 20,
        }
    }
    // --native: the same tests on the native interpreter of the same
    // tarball (the one `bench` compares against).
    let native = if a.native {
        let Some(b) = plan.recipe.bench.clone() else {
            bail!("recipe {} names no native build ([bench] native_binary)", plan.recipe.name)
        };
        let binary = kiln::bench::native_binary(&ctx.layout, &ctx.progress, g.offline, &plan, &b)?;
        Some(Exec::Native {
            binary,
            args: b.native_args.clone(),
            env: b.native_env.clone().into_iter().collect(),
        })
    } else {
        None
    };
    let runner = kiln::conformance::runner(
        &suite.runner,
        env(
            Exec::Wasm {
                runtime: &rt,
                module: &module,
            },
            &plan,
            tmp.path(),
            timeout,
            a.memory_mib,
        ),
    )?;
    let tests = runner.discover(&paths, a.filter.as_deref())?;
    if tests.is_empty() {
        bail!("no tests under {:?} (runner {})", paths, suite.runner);
    }
    eprintln!("running {} tests with {jobs} jobs", tests.len());
    let start = Instant::now();
    let mut results = kiln::conformance::run_parallel(&tests, &|p| runner.serial(p), jobs, &ctx.progress, |p| runner.run(p));
    let wall = start.elapsed().as_secs_f64();
    let mut native_wall = None;
    if let Some(exec) = native {
        let native_start = Instant::now();
        eprintln!("running the same {} tests natively", tests.len());
        let native_runner = kiln::conformance::runner(&suite.runner, env(exec, &plan, tmp.path(), timeout, a.memory_mib))?;
        let native_tests = native_runner.discover(&paths, a.filter.as_deref())?;
        let native_results = kiln::conformance::run_parallel(&native_tests, &|p| native_runner.serial(p), jobs, &ctx.progress, |p| {
            native_runner.run(p)
        });
        let by_name: std::collections::HashMap<&str, Outcome> = native_results.iter().map(|r| (r.name.as_str(), r.outcome)).collect();
        for r in &mut results {
            r.native = Some(by_name.get(r.name.as_str()).copied().unwrap_or(Outcome::Broken));
        }
        native_wall = Some(native_start.elapsed().as_secs_f64());
    }
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
    if let Some(w) = native_wall {
        println!("native side: {w:.1}s (the time above is the wasm side's)");
    }
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
