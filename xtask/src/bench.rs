use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use kiln::bench::{self, NativeSide, WasmSide};
use kiln::runtime::{EngineOptions, RunSpec, Runtime};

use crate::{Ctx, Global};

#[derive(Args)]
pub struct BenchArgs {
    /// Interpreters to benchmark (default: php python).
    pub interps: Vec<String>,
    /// Runs per workload and side (interleaved wasm/native).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the numbers as JSON: {"rows": [...], "geomean": [...]}.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only the workloads whose name contains this text (repeatable),
    /// e.g. `--workload Zend/bench.php --workload start-up`.
    #[arg(long, value_name = "TEXT")]
    pub workload: Vec<String>,
}

pub fn run(g: &Global, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let interps = if a.interps.is_empty() {
        vec!["php".to_string(), "python".to_string()]
    } else {
        a.interps.clone()
    };
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    // Plan everything first (no builds): a filter that matches nothing
    // fails at once, and an interpreter it leaves no workload for is
    // skipped rather than built.
    let mut chosen = Vec::new();
    let mut known = Vec::new();
    for interp in &interps {
        let plan = crate::build::build_plan(&ctx, interp, None, None, false)?;
        let Some(b) = plan.recipe.bench.clone() else {
            bail!("recipe {} has no [bench] section", plan.recipe.name)
        };
        let workloads: Vec<_> = b
            .workload
            .iter()
            .filter(|w| a.workload.is_empty() || a.workload.iter().any(|t| w.name.contains(t.as_str())))
            .cloned()
            .collect();
        known.extend(b.workload.iter().map(|w| format!("{interp}: {}", w.name)));
        if !workloads.is_empty() {
            chosen.push((interp, plan, b, workloads));
        }
    }
    if chosen.is_empty() {
        bail!("no workload matches {:?}; the workloads are:\n  {}", a.workload, known.join("\n  "));
    }
    for (interp, plan, b, workloads) in chosen {
        kiln::build::Builder {
            layout: &ctx.layout,
            progress: &ctx.progress,
            offline: g.offline,
        }
        .build(&plan)?;
        kiln::build::Builder {
            layout: &ctx.layout,
            progress: &ctx.progress,
            offline: g.offline,
        }
        .ensure_source(&plan)?;
        let native_dir = plan.work_dir.join("native");
        let binary = bench::native_binary(&ctx.layout, &ctx.progress, g.offline, &plan, &b)?;
        // The engine `run` uses for this recipe: epoch interruption only for
        // a guest deadline (PHP), since epoch checks cost (see recipe.rs).
        let runtime = Runtime::new(
            &ctx.layout.module_cache(),
            &EngineOptions {
                interruptible: plan.recipe.run.guest_deadline,
                ..Default::default()
            },
        )?;
        let module = runtime.load(&plan.module())?;
        let mut base = RunSpec::for_recipe(&plan.recipe.run, &plan.out_dir);
        for p in [&plan.src_dir, &ctx.layout.repo] {
            base.dirs.push((p.clone(), p.display().to_string()));
        }
        let wasm = WasmSide {
            runtime: &runtime,
            module: &module,
            base,
        };
        let native = NativeSide {
            binary: binary.clone(),
            pre_args: b.native_args.clone(),
            env: b.native_env.clone().into_iter().collect(),
            cwd: ctx.layout.repo.clone(),
        };
        let total = workloads.len() * a.runs * 2;
        let bar = ctx.progress.counter(format!("bench {}", plan.recipe.name), total as u64);
        for w in &workloads {
            let args: Vec<String> = w
                .args
                .iter()
                .map(|s| bench::subst(s, &plan.src_dir, &ctx.layout.repo, &native_dir))
                .collect();
            // The native side gets its own pre-args (e.g. -n) instead of the
            // wasm side's first ones when they are the same flag.
            let native_args: Vec<String> = args.iter().filter(|x| !b.native_args.contains(x)).cloned().collect();
            let ctx_of = || format!("{interp}: {}", w.name);
            let row = bench::measure(
                &plan.recipe.name,
                &format!("{} [in-process]", w.name),
                a.runs,
                || {
                    let t = bench::time_wasm(&wasm, &args).with_context(ctx_of);
                    bar.inc(1);
                    t
                },
                || {
                    let t = bench::time_native(&native, &native_args).with_context(ctx_of);
                    bar.inc(1);
                    t
                },
            )?;
            rows.push(row);
            if bench::is_startup(&w.name) {
                // Whole processes: `cargo xtask run` (module cache warm) vs native.
                let mut run_args = vec!["run".to_string(), interp.clone(), "--".to_string()];
                run_args.extend(args.clone());
                rows.push(bench::measure(
                    &plan.recipe.name,
                    &format!("{} [whole process]", w.name),
                    a.runs,
                    || bench::time_process(&exe, &run_args, &ctx.layout.repo),
                    || bench::time_native(&native, &native_args),
                )?);
            }
        }
        bar.finish_and_clear();
    }
    print!("{}", bench::table(&rows));
    if let Some(j) = &a.json {
        let doc = serde_json::json!({ "rows": rows, "geomean": bench::summaries(&rows) });
        std::fs::write(j, serde_json::to_vec_pretty(&doc)?).with_context(|| format!("writing {}", j.display()))?;
        println!("json: {}", j.display());
    }
    Ok(ExitCode::SUCCESS)
}
