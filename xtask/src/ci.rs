use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use xshell::{cmd, Shell};

use crate::Global;

/// The slow tiers: modules of xtask's integration-test binary, each run
/// as its own `cargo test` so the table shows what each costs.
const SLOW_TIERS: &[&str] = &["php", "python", "ruby", "release"];

/// Slow tiers outside the default run, for `--tier`: the runtimes outside
/// kiln's runner (`tools`: the containerd shim's build and the wasmtime
/// CLI's install), kiln's images on them (`containerd`, after `release`)
/// PHP's `goto` flavour (`php_goto`) and PHP's `full` flavour with ICU
/// and intl, Composer and PHPUnit on it (`php_full`). A fresh machine's
/// first default run already takes most of CI's hour; the first two add
/// about 12 minutes to it, the third about 10, the fourth about 25 of
/// build time (docs/testing.md).
const OPT_IN_TIERS: &[&str] = &["tools", "containerd", "php_goto", "php_full"];

/// How the default run lays the tiers out: two lanes side by side (a
/// build's configure steps, links and test runs leave a core idle that the
/// other lane's compiles fill). `release` packs all three interpreters; it
/// follows php, whose lane ends first, and builds what it needs through
/// the same build locks, so it waits for (or reuses) the other lane's
/// builds instead of adding its time after both lanes.
const LANES: &[&[&str]] = &[&["php", "release"], &["python", "ruby"]];
#[derive(Args)]
pub struct CiArgs {
    /// Skip `cargo fmt --check` and clippy.
    #[arg(long)]
    pub no_lints: bool,
    /// Run only the fast tier (no interpreter builds).
    #[arg(long)]
    pub fast: bool,
    /// Only these slow tiers, one after another (default: php, python,
    /// ruby, release; also `tools`, `containerd` and `php_goto`, which the
    /// default run leaves out for CI's time budget).
    #[arg(long = "tier", value_name = "NAME")]
    pub tiers: Vec<String>,
    /// Run the default tiers one after another instead of in two lanes
    /// (php | python, ruby), e.g. to time each tier alone.
    #[arg(long)]
    pub serial: bool,
}

/// A cargo command without the variables `cargo run` gave this process
/// (`cargo_env.rs`).
fn plain(c: xshell::Cmd<'_>) -> xshell::Cmd<'_> {
    crate::cargo_env::cargo_run_vars().into_iter().fold(c, |c, k| c.env_remove(k))
}

struct Row {
    step: String,
    secs: f64,
    ok: bool,
}

/// What CI runs: host programs, the wasm toolchain (proved by its probe),
/// lints, the fast tier, then each slow tier. Prints a timing table at the
/// end, also when a step fails.
pub fn run(g: &Global, a: CiArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let sh = Shell::new()?;
    sh.change_dir(&p.layout.repo);
    let mut rows: Vec<Row> = Vec::new();
    let total = Instant::now();
    let mut step = |name: &str, f: &mut dyn FnMut() -> anyhow::Result<()>| -> bool {
        println!("==> ci: {name}");
        let t = Instant::now();
        let r = f();
        if let Err(e) = &r {
            eprintln!("ci: {name} failed: {e:#}");
        }
        rows.push(Row {
            step: name.to_string(),
            secs: t.elapsed().as_secs_f64(),
            ok: r.is_ok(),
        });
        r.is_ok()
    };
    let mut ok = step("setup (host programs)", &mut || crate::setup::ensure_host_tools(&p, false))
        && step("toolchain + probe", &mut || {
            let tc = p.toolchain(true)?;
            let rt = p.runtime(kiln::runtime::Use::Probe, &Default::default())?;
            tc.probe(&rt, &p.layout.logs().join("toolchain-probe.log"))?;
            println!("toolchain: {}", tc.provider);
            Ok(())
        });
    if ok && !a.no_lints {
        ok = step(
            "cargo fmt --check",
            &mut || Ok(plain(cmd!(sh, "cargo fmt --all -- --check")).run()?),
        ) && step("cargo clippy -D warnings", &mut || {
            Ok(plain(cmd!(sh, "cargo clippy --all-targets --quiet -- -D warnings")).run()?)
        }) && step("cargo clippy -D warnings (light xtask)", &mut || {
            // `cargo xtask`'s variant without the runtime (relaunch.rs).
            Ok(plain(cmd!(
                sh,
                "cargo clippy -p kiln -p xtask --no-default-features --all-targets --quiet -- -D warnings"
            ))
            .run()?)
        });
    }
    if ok {
        ok = step("tier fast (unit + integration)", &mut || {
            Ok(plain(cmd!(sh, "cargo test --quiet")).run()?)
        });
    }
    if !a.fast && ok {
        if let Some(t) = a
            .tiers
            .iter()
            .find(|t| !SLOW_TIERS.contains(&t.as_str()) && !OPT_IN_TIERS.contains(&t.as_str()))
        {
            anyhow::bail!(
                "no slow tier {t} (there are: {})",
                SLOW_TIERS.iter().chain(OPT_IN_TIERS).copied().collect::<Vec<_>>().join(", ")
            );
        }
        let lanes: Vec<Vec<String>> = if !a.tiers.is_empty() {
            vec![a.tiers.clone()]
        } else if a.serial {
            vec![SLOW_TIERS.iter().map(|t| t.to_string()).collect()]
        } else {
            LANES.iter().map(|l| l.iter().map(|t| t.to_string()).collect()).collect()
        };
        let logs = p.layout.logs();
        std::fs::create_dir_all(&logs)?;
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = lanes.iter().map(|lane| s.spawn(|| run_lane(lane, &p.layout.repo, &logs))).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a ci lane panicked"))
                .collect::<Vec<_>>()
        });
        for r in results {
            ok &= r.ok;
            rows.push(r);
        }
    }
    println!("\nci timing:");
    println!("  {:<36} {:>9}  result", "step", "seconds");
    for r in &rows {
        println!("  {:<36} {:>9.1}  {}", r.step, r.secs, if r.ok { "ok" } else { "FAILED" });
    }
    println!("  {:<36} {:>9.1}", "total (this command, wall)", total.elapsed().as_secs_f64());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Tests of the `php` module that need PHP's `full` flavour (ICU and intl,
/// about 25 minutes of builds on a fresh machine): the opt-in tier
/// `php_full` runs them, the `php` tier skips them.
const PHP_FULL_TESTS: &[&str] = &["php::intl::", "php::apps::composer_and_phpunit_from_debian_run_a_project"];

/// The test-name filters a tier runs and skips: its module (`php::`), but
/// `php_full` is the `php` module's tests of the `full` flavour.
fn tier_filters(tier: &str) -> (Vec<String>, Vec<String>) {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match tier {
        "php" => (vec!["php::".into()], owned(PHP_FULL_TESTS)),
        "php_full" => (owned(PHP_FULL_TESTS), Vec::new()),
        t => (vec![format!("{t}::")], Vec::new()),
    }
}

/// Run `tiers` one after another, each as its own `cargo test`, its output
/// going to `logs/ci-<tier>.log` and, line by line with the tier's name in
/// front, to stdout; stops at the first failure.
fn run_lane(tiers: &[String], repo: &std::path::Path, logs: &std::path::Path) -> Vec<Row> {
    use std::io::{BufRead, Write};
    let mut rows = Vec::new();
    for tier in tiers {
        println!("==> ci: tier {tier} (slow), log: {}", logs.join(format!("ci-{tier}.log")).display());
        let t = Instant::now();
        let ok = (|| -> anyhow::Result<bool> {
            let mut log = std::fs::File::create(logs.join(format!("ci-{tier}.log")))?;
            let (filters, skips) = tier_filters(tier);
            let mut cargo = std::process::Command::new("cargo");
            let mut child = crate::cargo_env::scrub(&mut cargo)
                .args(["test", "--quiet", "-p", "xtask", "--test", "all", "--", "--ignored"])
                .args(filters)
                .args(skips.iter().flat_map(|s| ["--skip".to_string(), s.clone()]))
                .current_dir(repo)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()?;
            let err = child.stderr.take().expect("piped");
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            let tx2 = tx.clone();
            let out = child.stdout.take().expect("piped");
            std::thread::spawn(move || {
                std::io::BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .for_each(|l| drop(tx.send(l)))
            });
            std::thread::spawn(move || {
                std::io::BufReader::new(err)
                    .lines()
                    .map_while(Result::ok)
                    .for_each(|l| drop(tx2.send(l)))
            });
            for line in rx {
                writeln!(log, "{line}")?;
                println!("[{tier}] {line}");
            }
            Ok(child.wait()?.success())
        })()
        .unwrap_or_else(|e| {
            eprintln!("ci: tier {tier}: {e:#}");
            false
        });
        if !ok {
            eprintln!("ci: tier {tier} failed (log: {})", logs.join(format!("ci-{tier}.log")).display());
        }
        rows.push(Row {
            step: format!("tier {tier} (slow)"),
            secs: t.elapsed().as_secs_f64(),
            ok,
        });
        if !ok {
            break;
        }
    }
    rows
}
