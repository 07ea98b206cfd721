use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kiln::conformance::suite::{run_suite, SuiteOptions, SuiteRun};

use crate::Global;

#[derive(Args)]
pub struct TestArgs {
    /// Interpreter (php, python, ruby); not with --all.
    #[arg(required_unless_present = "all")]
    pub interp: Option<String>,
    /// Every interpreter with a suite, one after another (a failing suite
    /// does not stop the others), then write `CONFORMANCE.md`: per suite
    /// and per top-level directory, tests, wasm and native passes, and the
    /// failures by cause. It goes to the repo's root (the copy the README
    /// links) and, with --report, beside the reports. Use with --full
    /// --native for the published table.
    #[arg(long, conflicts_with_all = ["interp", "paths", "filter", "flavor"])]
    pub all: bool,
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
    /// With --all: run nothing; read each suite's JSON report from
    /// DIR/<interp>/ (written by `test <interp> --report DIR/<interp>` or
    /// `test --all --report DIR`), judge it against today's baselines, and
    /// write `CONFORMANCE.md` from it. For a baseline edit after a long run.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["full", "native", "jobs", "timeout", "no_snapshot"])]
    pub from_reports: Option<PathBuf>,
}

pub fn run(g: &Global, a: TestArgs) -> anyhow::Result<ExitCode> {
    // (clap's `requires = "all"` is met by the flag's default, so checked here.)
    if a.from_reports.is_some() && !a.all {
        anyhow::bail!("--from-reports reads every suite's report: use it with --all (cargo xtask test --all --from-reports DIR)");
    }
    let p = crate::project(g)?;
    let Some(interp) = a.interp.clone().filter(|_| !a.all) else {
        return run_all(&p, a);
    };
    // The commit the run starts from (the tree may move while it runs).
    let kiln_commit = commit(&p.layout.repo);
    let mut run = suite(&p, &interp, &a)?;
    run.measured.commit = kiln_commit;
    Ok(if print_run(&run, a.report.as_deref())? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn suite(p: &kiln::project::Project, interp: &str, a: &TestArgs) -> anyhow::Result<SuiteRun> {
    let plan = p.plan(interp, a.flavor.as_deref(), None, false)?;
    run_suite(
        p,
        &plan,
        &SuiteOptions {
            paths: a.paths.clone(),
            full: a.full,
            jobs: a.jobs.unwrap_or_else(kiln::plan::default_jobs),
            filter: a.filter.clone(),
            timeout: a.timeout.map(std::time::Duration::from_secs_f64),
            memory_mib: a.memory_mib,
            native: a.native,
            snapshot: !a.no_snapshot,
        },
    )
}

/// Print a run's table, reports and verdict; true when nothing failed
/// unexpectedly.
fn print_run(run: &SuiteRun, report_dir: Option<&std::path::Path>) -> anyhow::Result<bool> {
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
    if let Some(dir) = report_dir {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        println!("reports: {}", dir.display());
    }
    let unexpected = run.unexpected();
    for r in &unexpected {
        let cases = r.unexpected_cases();
        let cases = if cases.is_empty() {
            String::new()
        } else {
            format!("; unexpected: {}", cases.join(", "))
        };
        println!("FAIL {} [{}] {:?}: {}{cases}", r.name, r.title, r.outcome, r.detail);
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
        return Ok(false);
    }
    println!("ok: no unexpected failures ({} timeouts, all expected)", run.timeouts());
    Ok(true)
}

/// `test --all`: every recipe with a `[conformance]` suite, then the table.
fn run_all(p: &kiln::project::Project, a: TestArgs) -> anyhow::Result<ExitCode> {
    let mut recipes = kiln::recipe::load_all(&p.layout.recipes())?;
    recipes.retain(|r| r.conformance.is_some());
    recipes.sort_by(|x, y| x.name.cmp(&y.name));
    let mut runs = Vec::new();
    let mut ok = true;
    let kiln_commit = commit(&p.layout.repo);
    for r in &recipes {
        let run = if let Some(from) = &a.from_reports {
            let runner = r.conformance.as_ref().map(|c| c.runner.to_string()).unwrap_or_default();
            let json = from.join(&r.name).join(format!("{}-{runner}.json", r.name));
            println!("==> {} (judged against {})", json.display(), p.layout.baseline(&r.name).display());
            SuiteRun::from_report(&json, p.layout.baseline(&r.name))
        } else {
            println!("==> test {}{}", r.name, if a.full { " --full" } else { "" });
            suite(p, &r.name, &a).map(|mut run| {
                run.measured.commit = kiln_commit.clone();
                run
            })
        };
        match run {
            Ok(run) => {
                let dir = a.report.as_ref().filter(|_| a.from_reports.is_none()).map(|d| d.join(&r.name));
                ok &= print_run(&run, dir.as_deref())?;
                runs.push(run);
            }
            Err(e) => {
                eprintln!("test {}: {e:#}", r.name);
                ok = false;
            }
        }
    }
    let refs: Vec<&SuiteRun> = runs.iter().collect();
    let mut command = String::from("cargo xtask test --all");
    for (on, flag) in [(a.full, " --full"), (a.native, " --native")] {
        if on {
            command.push_str(flag);
        }
    }
    if a.from_reports.is_some() {
        command.push_str(" --from-reports DIR");
    } else if a.report.is_some() {
        command.push_str(" --report DIR");
    }
    let page = kiln::conformance::table::conformance_md(
        &refs,
        &kiln::conformance::table::Provenance {
            command,
            date: kiln::release::today(),
            commit: kiln_commit,
        },
    );
    let mut targets = vec![p.layout.repo.join("CONFORMANCE.md")];
    if let Some(d) = a.report.as_ref().or(a.from_reports.as_ref()) {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        targets.push(d.join("CONFORMANCE.md"));
    }
    for t in targets {
        std::fs::write(&t, &page).with_context(|| format!("writing {}", t.display()))?;
        println!("wrote {}", t.display());
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// kiln's commit, `-dirty` when the work tree has changes; "unknown"
/// outside a git checkout.
fn commit(repo: &std::path::Path) -> String {
    let sh = match xshell::Shell::new() {
        Ok(sh) => sh,
        Err(_) => return "unknown".into(),
    };
    sh.change_dir(repo);
    let head = xshell::cmd!(sh, "git rev-parse --short=12 HEAD").quiet().ignore_stderr().read();
    let dirty = xshell::cmd!(sh, "git status --porcelain --untracked-files=no")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|s| !s.trim().is_empty());
    match (head, dirty) {
        (Ok(h), Ok(true)) => format!("{h}-dirty"),
        (Ok(h), _) => h,
        _ => "unknown".into(),
    }
}
