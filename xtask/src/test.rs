use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kiln::conformance::suite::{run_suite, SuiteOptions};

use crate::Global;

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
    /// Start every test from scratch instead of resuming the recipe's
    /// start-up snapshot (`[run.snapshot]`; tests whose own options select
    /// another start-up start from scratch anyway).
    #[arg(long)]
    pub no_snapshot: bool,
}

pub fn run(g: &Global, a: TestArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let plan = p.plan(&a.interp, a.flavor.as_deref(), None, false)?;
    let run = run_suite(
        &p,
        &plan,
        &SuiteOptions {
            paths: a.paths,
            full: a.full,
            jobs: a.jobs.unwrap_or_else(kiln::plan::default_jobs),
            filter: a.filter,
            timeout: a.timeout.map(std::time::Duration::from_secs_f64),
            memory_mib: a.memory_mib,
            native: a.native,
            snapshot: !a.no_snapshot,
        },
    )?;
    let report = run.report();
    print!("{}", report.table());
    if let Some((resumed, scratch)) = run.snapshot_runs {
        println!(
            "start-up snapshot: {resumed} runs resumed from it, {scratch} started from scratch (their options select another start-up)"
        );
    }
    if let Some(w) = run.native_wall {
        println!("native side: {w:.1}s (the time above is the wasm side's)");
    }
    if let Some(dir) = &a.report {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        println!("reports: {}", dir.display());
    }
    let unexpected = run.unexpected();
    for r in &unexpected {
        println!("FAIL {} [{}] {:?}: {}", r.name, r.title, r.outcome, r.detail);
    }
    for n in &run.now_pass {
        println!("NOW PASSES (remove from {}): {n}", run.baseline_path.display());
    }
    if !unexpected.is_empty() {
        println!(
            "{} unexpected failures (baseline: {})",
            unexpected.len(),
            run.baseline_path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("ok: no unexpected failures ({} timeouts, all expected)", run.timeouts());
    Ok(ExitCode::SUCCESS)
}
