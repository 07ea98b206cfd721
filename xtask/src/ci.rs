use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use xshell::{cmd, Shell};

use crate::Global;

/// The slow tiers: modules of xtask's integration-test binary, each run
/// as its own `cargo test` so the table shows what each costs.
const SLOW_TIERS: &[&str] = &["php", "python", "ruby", "release"];

#[derive(Args)]
pub struct CiArgs {
    /// Skip `cargo fmt --check` and clippy.
    #[arg(long)]
    pub no_lints: bool,
    /// Run only the fast tier (no interpreter builds).
    #[arg(long)]
    pub fast: bool,
    /// Only these slow tiers (default: all of php, python, ruby, release).
    #[arg(long = "tier", value_name = "NAME")]
    pub tiers: Vec<String>,
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
        ok = step("cargo fmt --check", &mut || Ok(cmd!(sh, "cargo fmt --all -- --check").run()?))
            && step("cargo clippy -D warnings", &mut || {
                Ok(cmd!(sh, "cargo clippy --workspace --all-targets --quiet -- -D warnings").run()?)
            });
    }
    if ok {
        ok = step("tier fast (unit + integration)", &mut || {
            Ok(cmd!(sh, "cargo test --workspace --quiet").run()?)
        });
    }
    if !a.fast {
        let tiers: Vec<&str> = if a.tiers.is_empty() {
            SLOW_TIERS.to_vec()
        } else {
            a.tiers.iter().map(String::as_str).collect()
        };
        for tier in tiers {
            if !ok {
                break;
            }
            let filter = format!("{tier}::");
            ok = step(&format!("tier {tier} (slow)"), &mut || {
                Ok(cmd!(sh, "cargo test --quiet -p xtask --test all -- --ignored {filter}").run()?)
            });
        }
    }
    println!("\nci timing:");
    println!("  {:<36} {:>9}  result", "step", "seconds");
    for r in &rows {
        println!("  {:<36} {:>9.1}  {}", r.step, r.secs, if r.ok { "ok" } else { "FAILED" });
    }
    println!("  {:<36} {:>9.1}", "total (this command)", total.elapsed().as_secs_f64());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
