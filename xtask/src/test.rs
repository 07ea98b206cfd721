use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kiln::conformance::suite::{run_suite, SuiteOptions, SuiteRun};
use kiln::conformance::table::{self, Provenance};

use crate::Global;

#[derive(Args)]
pub struct TestArgs {
    /// Interpreter (php, python, ruby), or one of its versions
    /// (`php@8.2`, see `cargo xtask list`); not with --all or --matrix.
    #[arg(required_unless_present_any = ["all", "matrix"])]
    pub interp: Option<String>,
    /// Every interpreter with a suite, one after another (a failing suite
    /// does not stop the others), then write `CONFORMANCE.md`: per suite
    /// and per top-level directory, tests, wasm and native passes, and the
    /// failures by cause. It goes to the repo's root (the copy the README
    /// links) and, with --report, beside the reports. Use with --full
    /// --native for the published table.
    #[arg(long, conflicts_with_all = ["interp", "paths", "filter", "flavor"])]
    pub all: bool,
    /// The version matrix: every version other than the defaults (`cargo
    /// xtask list`), one after another, each against its own baseline
    /// (`tests/baseline/<interp>-<series>.toml`), the default subset unless
    /// --full. Then `CONFORMANCE.md`'s "Other versions" part is rewritten
    /// from these runs, the defaults' part left as it was. With --report
    /// DIR, each run's reports go to DIR/<interp>-<series>/; when DIR also
    /// holds the default versions' reports (from `test --all --report
    /// DIR`), the whole page is rewritten from all of them, as `test --all
    /// --from-reports DIR` would.
    #[arg(long, conflicts_with_all = ["interp", "paths", "filter", "flavor", "all", "from_reports"])]
    pub matrix: bool,
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
    /// `test --all --report DIR`), and those of other versions from
    /// DIR/<interp>-<series>/ where present (`test --matrix --report DIR`),
    /// judge them against today's baselines, and write `CONFORMANCE.md`
    /// from them. For a baseline edit after a long run. A default version
    /// with no report in DIR keeps its part of the page as it was (its
    /// summary row and section), so one suite can be measured again alone.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["full", "native", "jobs", "timeout", "no_snapshot"])]
    pub from_reports: Option<PathBuf>,
}

pub fn run(g: &Global, a: TestArgs) -> anyhow::Result<ExitCode> {
    // (clap's `requires = "all"` is met by the flag's default, so checked here.)
    if a.from_reports.is_some() && !a.all {
        anyhow::bail!("--from-reports reads every suite's report: use it with --all (cargo xtask test --all --from-reports DIR)");
    }
    let p = crate::project(g)?;
    if a.matrix {
        return run_matrix(&p, a);
    }
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

fn suite_options(a: &TestArgs) -> SuiteOptions {
    SuiteOptions {
        paths: a.paths.clone(),
        full: a.full,
        jobs: a.jobs.unwrap_or_else(kiln::plan::default_jobs),
        filter: a.filter.clone(),
        timeout: a.timeout.map(std::time::Duration::from_secs_f64),
        memory_mib: a.memory_mib,
        native: a.native,
        snapshot: !a.no_snapshot,
    }
}

fn suite(p: &kiln::project::Project, interp: &str, a: &TestArgs) -> anyhow::Result<SuiteRun> {
    let plan = p.plan(interp, a.flavor.as_deref(), None, false)?;
    run_suite(p, &plan, &suite_options(a))
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

/// The recipes with a `[conformance]` suite: the default versions, or
/// (`others`) every other version of each family.
fn suite_recipes(p: &kiln::project::Project, others: bool) -> anyhow::Result<Vec<kiln::recipe::Recipe>> {
    let mut out = Vec::new();
    for r in kiln::recipe::load_all(&p.layout.recipes())? {
        if r.conformance.is_none() {
            continue;
        }
        if others {
            let family = kiln::recipe::Recipe::load_family(&p.layout.recipes().join(format!("{}.toml", r.name)))?;
            out.extend(family.into_iter().filter(|v| v.variant.is_some() && v.conformance.is_some()));
        } else {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.spec());
    Ok(out)
}

/// A suite's JSON report in DIR: `DIR/<slug>/<name>-<runner>.json`.
fn report_json(dir: &std::path::Path, r: &kiln::recipe::Recipe) -> PathBuf {
    let runner = r.conformance.as_ref().map(|c| c.runner.to_string()).unwrap_or_default();
    dir.join(r.slug()).join(format!("{}-{runner}.json", r.name))
}

/// Run each recipe's suite in turn (a failing one does not stop the
/// others); the runs and whether all met their baselines.
fn run_each(
    p: &kiln::project::Project,
    recipes: &[kiln::recipe::Recipe],
    a: &TestArgs,
    kiln_commit: &str,
) -> anyhow::Result<(Vec<SuiteRun>, bool)> {
    let mut runs = Vec::new();
    let mut ok = true;
    for r in recipes {
        let opts = suite_options(a);
        println!("==> {}", opts.command(&r.spec()));
        match suite(p, &r.spec(), a) {
            Ok(mut run) => {
                run.measured.commit = kiln_commit.to_string();
                let dir = a.report.as_ref().map(|d| d.join(r.slug()));
                ok &= print_run(&run, dir.as_deref())?;
                runs.push(run);
            }
            Err(e) => {
                eprintln!("test {}: {e:#}", r.spec());
                ok = false;
            }
        }
    }
    Ok((runs, ok))
}

/// Read the reports in `dir` back and judge them against today's
/// baselines: every version's that is there. The defaults' runs, the
/// others', the suites (`<recipe>-<runner>`) of the defaults that have no
/// report there, and whether all met their baselines.
fn runs_from_reports(p: &kiln::project::Project, dir: &std::path::Path) -> anyhow::Result<FromReports> {
    let (mut defaults, mut others, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    let mut ok = true;
    for (r, default) in suite_recipes(p, false)?
        .into_iter()
        .map(|r| (r, true))
        .chain(suite_recipes(p, true)?.into_iter().map(|r| (r, false)))
    {
        let json = report_json(dir, &r);
        if !json.exists() {
            println!("==> {}: no report at {}", r.spec(), json.display());
            if default {
                let runner = r.conformance.as_ref().map(|c| c.runner.to_string()).unwrap_or_default();
                missing.push(format!("{}-{runner}", r.name));
            }
            continue;
        }
        let baseline = p.layout.baseline(&r.slug());
        println!("==> {} (judged against {})", json.display(), baseline.display());
        match SuiteRun::from_report(&json, baseline) {
            Ok(run) => {
                ok &= print_run(&run, None)?;
                if default {
                    defaults.push(run)
                } else {
                    others.push(run)
                }
            }
            Err(e) => {
                eprintln!("test {}: {e:#}", r.spec());
                ok = false;
            }
        }
    }
    Ok(FromReports {
        defaults,
        others,
        missing,
        ok,
    })
}

struct FromReports {
    defaults: Vec<SuiteRun>,
    others: Vec<SuiteRun>,
    missing: Vec<String>,
    ok: bool,
}

/// `test --all`: every default version with a `[conformance]` suite, then
/// the table.
fn run_all(p: &kiln::project::Project, a: TestArgs) -> anyhow::Result<ExitCode> {
    let kiln_commit = commit(&p.layout.repo);
    let (runs, others, missing, ok) = match &a.from_reports {
        Some(from) => {
            let r = runs_from_reports(p, from)?;
            (r.defaults, r.others, r.missing, r.ok)
        }
        None => {
            let (runs, ok) = run_each(p, &suite_recipes(p, false)?, &a, &kiln_commit)?;
            (runs, Vec::new(), Vec::new(), ok)
        }
    };
    let mut command = suite_options(&a).command("--all");
    if a.from_reports.is_some() {
        command.push_str(" --from-reports DIR");
    } else if a.report.is_some() {
        command.push_str(" --report DIR");
    }
    let mut targets = vec![p.layout.repo.join("CONFORMANCE.md")];
    if let Some(d) = a.report.as_ref().or(a.from_reports.as_ref()) {
        targets.push(d.join("CONFORMANCE.md"));
    }
    let page = Provenance {
        command,
        date: kiln::release::today(),
        commit: kiln_commit,
    };
    let repo_page = p.layout.repo.join("CONFORMANCE.md");
    if missing.is_empty() {
        write_page(&repo_page, &runs, Some(&others), &page, &targets)?;
    } else {
        // Some defaults have no report: their parts of the page stay.
        let old = std::fs::read_to_string(&repo_page).with_context(|| format!("reading {}", repo_page.display()))?;
        let dir = a.from_reports.as_deref().unwrap_or(std::path::Path::new(".")).display();
        let absent: Vec<&str> = missing.iter().map(String::as_str).filter(|s| !table::has_suite(&old, s)).collect();
        if !absent.is_empty() {
            anyhow::bail!(
                "{dir} has no report for {}, and {} has no part for it to keep: `cargo xtask test --all --full --native --report DIR` writes them all",
                absent.join(", "),
                repo_page.display()
            );
        }
        let refs: Vec<&SuiteRun> = runs.iter().collect();
        let Some(mut text) = table::splice_suites(&old, &refs, &page) else {
            anyhow::bail!(
                "{} lacks a part for one of the suites in {dir}: `cargo xtask test --all --full --native --report DIR` writes them all",
                repo_page.display()
            );
        };
        println!(
            "kept CONFORMANCE.md's parts for {} (no report in the directory)",
            missing.join(", ")
        );
        if !others.is_empty() {
            let refs: Vec<&SuiteRun> = others.iter().collect();
            text = table::splice_versions_block(&text, &table::versions_block(&refs, &page));
        }
        for t in &targets {
            write_file(t, &text)?;
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `test --matrix`: every version other than the defaults; with --report
/// DIR holding the defaults' reports too, the table from all of DIR.
fn run_matrix(p: &kiln::project::Project, a: TestArgs) -> anyhow::Result<ExitCode> {
    let kiln_commit = commit(&p.layout.repo);
    let recipes = suite_recipes(p, true)?;
    if recipes.is_empty() {
        println!("no recipe has a version other than its default");
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    let (runs, ok) = run_each(p, &recipes, &a, &kiln_commit)?;
    println!("matrix: {} versions in {:.0} s", recipes.len(), started.elapsed().as_secs_f64());
    let repo_page = p.layout.repo.join("CONFORMANCE.md");
    let mut targets = vec![repo_page.clone()];
    let mut command = suite_options(&a).command("--matrix");
    if let Some(dir) = &a.report {
        targets.push(dir.join("CONFORMANCE.md"));
        command.push_str(" --report DIR");
        let missing: Vec<String> = suite_recipes(p, false)?
            .iter()
            .filter(|r| !report_json(dir, r).exists())
            .map(|r| r.spec())
            .collect();
        if missing.is_empty() {
            // The whole page, from the defaults' reports and these runs.
            let defaults = runs_from_reports(p, dir)?.defaults;
            let page = Provenance {
                command: "cargo xtask test --all --from-reports DIR".into(),
                date: kiln::release::today(),
                commit: kiln_commit,
            };
            write_page(&repo_page, &defaults, Some(&runs), &page, &targets)?;
            return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        println!(
            "{} has no report for {}: only CONFORMANCE.md's other versions are rewritten (`cargo xtask test --all --report {}` writes the defaults')",
            dir.display(),
            missing.join(", "),
            dir.display()
        );
    }
    // Only the other versions' block; the defaults' part stays as it was.
    let refs: Vec<&SuiteRun> = runs.iter().collect();
    let block = table::versions_block(
        &refs,
        &Provenance {
            command,
            date: kiln::release::today(),
            commit: kiln_commit,
        },
    );
    let old = std::fs::read_to_string(&repo_page).with_context(|| format!("reading {}", repo_page.display()))?;
    let page = table::splice_versions_block(&old, &block);
    for t in &targets {
        write_file(t, &page)?;
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Write the page over `runs` (the defaults) and `others` to `targets`.
/// With no other versions' runs, the block that `existing` holds (from an
/// earlier `test --matrix`) is kept, so a defaults-only table does not
/// drop it.
fn write_page(
    existing: &std::path::Path,
    runs: &[SuiteRun],
    others: Option<&[SuiteRun]>,
    page: &Provenance,
    targets: &[PathBuf],
) -> anyhow::Result<()> {
    let refs: Vec<&SuiteRun> = runs.iter().collect();
    let others: Vec<&SuiteRun> = others.unwrap_or_default().iter().collect();
    let mut text = table::conformance_md(&refs, &others, page);
    if others.is_empty() {
        let old = std::fs::read_to_string(existing).unwrap_or_default();
        if let Some(block) = table::find_versions_block(&old) {
            text = table::splice_versions_block(&text, block);
        }
    }
    for t in targets {
        write_file(t, &text)?;
    }
    Ok(())
}

fn write_file(t: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if let Some(d) = t.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    std::fs::write(t, text).with_context(|| format!("writing {}", t.display()))?;
    println!("wrote {}", t.display());
    Ok(())
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
