//! Side-by-side benchmarks: each workload on the wasm build (in-process,
//! precompiled module, fresh instance per run) and on a native build of the
//! same tarball (a child process), interleaved run by run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as PStdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

pub mod serve;
pub mod side;

pub use side::Side;

use crate::plan::Vars;
use crate::project::Project;
use crate::recipe::Workload;
use crate::runtime::{Program, RunSpec, Runtime, Stdio, Use};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub interpreter: String,
    pub workload: String,
    pub wasm: Side,
    pub native: Side,
    /// wasm median / native median.
    pub ratio: f64,
}

pub struct WasmSide<'a> {
    pub runtime: &'a Runtime,
    /// The module, or its start-up snapshot (`[run.snapshot]`).
    pub program: &'a Program,
    /// The recipe's `[run]` (`RunSpec::for_recipe`) plus any extra dirs;
    /// each run appends the workload's arguments.
    pub base: RunSpec,
}

pub struct NativeSide {
    pub binary: PathBuf,
    pub pre_args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// One timed wasm run; errors if the guest fails.
pub fn time_wasm(w: &WasmSide<'_>, args: &[String]) -> Result<f64> {
    let mut spec = RunSpec {
        stdin: Stdio::Null,
        stdout: Stdio::Bytes(vec![]),
        stderr: Stdio::Bytes(vec![]),
        ..w.base.clone()
    };
    spec.argv.extend(args.iter().cloned());
    let t = Instant::now();
    let out = w.runtime.run_program(w.program, &spec)?;
    let secs = t.elapsed().as_secs_f64();
    if out.status != 0 {
        bail!(
            "wasm run {:?} exited {}: {}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(secs)
}

/// One timed native process run.
pub fn time_native(n: &NativeSide, args: &[String]) -> Result<f64> {
    let t = Instant::now();
    let st = Command::new(&n.binary)
        .args(&n.pre_args)
        .args(args)
        .envs(n.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&n.cwd)
        .stdin(PStdio::null())
        .stdout(PStdio::null())
        .stderr(PStdio::null())
        .status()
        .with_context(|| format!("running {}", n.binary.display()))?;
    let secs = t.elapsed().as_secs_f64();
    if !st.success() {
        bail!("native run {} {:?} failed: {st}", n.binary.display(), args);
    }
    Ok(secs)
}

/// Time a whole process (e.g. `cargo xtask run …` start-up).
pub fn time_process(program: &Path, args: &[String], cwd: &Path) -> Result<f64> {
    let t = Instant::now();
    let st = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(PStdio::null())
        .stdout(PStdio::null())
        .stderr(PStdio::null())
        .status()
        .with_context(|| format!("running {}", program.display()))?;
    if !st.success() {
        bail!("{} {:?} failed: {st}", program.display(), args);
    }
    Ok(t.elapsed().as_secs_f64())
}

/// `runs` interleaved wasm/native timings → one row.
pub fn measure(
    interpreter: &str,
    workload: &str,
    runs: usize,
    mut wasm: impl FnMut() -> Result<f64>,
    mut native: impl FnMut() -> Result<f64>,
) -> Result<Row> {
    let (mut ws, mut ns) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ws.push(wasm()?);
        ns.push(native()?);
    }
    let (wasm, native) = (Side::of(ws), Side::of(ns));
    Ok(Row {
        interpreter: interpreter.into(),
        workload: workload.into(),
        ratio: wasm.median / native.median.max(1e-9),
        wasm,
        native,
    })
}

/// Per interpreter, the geometric mean of the wasm/native ratios of its
/// compute workloads (every row that is not a start-up measurement).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub interpreter: String,
    pub workloads: usize,
    pub geomean_ratio: f64,
}

/// Whether a row measures start-up rather than compute.
pub fn is_startup(workload: &str) -> bool {
    workload.starts_with("start-up")
}

pub fn summaries(rows: &[Row]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for r in rows.iter().filter(|r| !is_startup(&r.workload)) {
        match out.iter_mut().find(|s| s.interpreter == r.interpreter) {
            // Accumulate ln(ratio) in `geomean_ratio`; exponentiated below.
            Some(s) => {
                s.workloads += 1;
                s.geomean_ratio += r.ratio.ln();
            }
            None => out.push(Summary {
                interpreter: r.interpreter.clone(),
                workloads: 1,
                geomean_ratio: r.ratio.ln(),
            }),
        }
    }
    for s in &mut out {
        s.geomean_ratio = (s.geomean_ratio / s.workloads as f64).exp();
    }
    out
}

pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<8} {:<42} {:>22} {:>22} {:>7}\n",
        "interp", "workload", "wasm median (min-max)", "native median (min-max)", "ratio"
    );
    for r in rows {
        let side = |x: &Side| format!("{:.3}s ({:.3}-{:.3})", x.median, x.min, x.max);
        s.push_str(&format!(
            "{:<8} {:<42} {:>22} {:>22} {:>6.2}x\n",
            r.interpreter,
            r.workload,
            side(&r.wasm),
            side(&r.native),
            r.ratio
        ));
    }
    for m in summaries(rows) {
        s.push_str(&format!(
            "{:<8} {:<42} {:>22} {:>22} {:>6.2}x\n",
            m.interpreter,
            format!("geometric mean of {} compute workloads", m.workloads),
            "",
            "",
            m.geomean_ratio
        ));
    }
    s
}

/// What to benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub interps: Vec<String>,
    /// Runs per workload and side.
    pub runs: usize,
    /// Only workloads whose name contains one of these.
    pub workloads: Vec<String>,
    /// `cargo xtask`'s own executable: start-up workloads also time whole
    /// `run` processes with it.
    pub exe: Option<PathBuf>,
    /// Resume the wasm side from the recipe's start-up snapshot, if it has
    /// one; start-up workloads then also get a row from scratch.
    pub snapshot: bool,
}

/// The web-serving workload's name: it runs only when asked for by name
/// (`--workload serve`), on recipes with a `[serve]` section.
pub const SERVE_WORKLOAD: &str = "serve";

/// What one `bench` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Results {
    pub rows: Vec<Row>,
    pub serve: Vec<crate::bench::serve::Report>,
}

/// Plan every interpreter first (no builds): a filter that matches nothing
/// fails at once, and an interpreter it leaves no workload for is skipped
/// rather than built. Then build, get the native side, and measure.
pub fn run(project: &Project, opts: &BenchOptions) -> Result<Results> {
    let mut chosen = Vec::new();
    let mut known = Vec::new();
    let mut serve_plans = Vec::new();
    for interp in &opts.interps {
        let plan = project.plan(interp, None, None, false)?;
        if plan.recipe.serve.is_some() {
            known.push(format!("{interp}: {SERVE_WORKLOAD} (only by name)"));
            if opts.workloads.iter().any(|w| w == SERVE_WORKLOAD) {
                serve_plans.push(plan.clone());
            }
        }
        let Some(b) = plan.recipe.bench.clone() else {
            bail!("recipe {} has no [bench] section", plan.recipe.name)
        };
        let workloads: Vec<Workload> = b
            .workload
            .iter()
            .filter(|w| opts.workloads.is_empty() || opts.workloads.iter().any(|t| w.name.contains(t.as_str())))
            .cloned()
            .collect();
        known.extend(b.workload.iter().map(|w| format!("{interp}: {}", w.name)));
        if !workloads.is_empty() {
            chosen.push((interp.clone(), plan, b, workloads));
        }
    }
    if chosen.is_empty() && serve_plans.is_empty() {
        bail!(
            "no workload matches {:?}; the workloads are:\n  {}",
            opts.workloads,
            known.join("\n  ")
        );
    }
    let repo = &project.layout.repo;
    let mut rows = Vec::new();
    for (interp, plan, b, workloads) in chosen {
        project.build_with_source(&plan)?;
        let binary = project.native_side(&plan)?;
        let native_dir = &plan.native_side.as_ref().expect("native_side succeeded").0.dir;
        // The engine `run` uses for this recipe.
        let runtime = project.runtime(Use::Bench, &plan.recipe.run)?;
        let mut base = RunSpec::for_recipe(&plan.recipe.run, &plan.dirs.out).with_cwd(repo, &plan.recipe.run);
        base.dirs.push((plan.dirs.src.clone(), plan.dirs.src.display().to_string()));
        let plain = Program::Module(runtime.load(&plan.module())?);
        let program = if opts.snapshot {
            // Taken with the native side's pre-args (PHP's -n), which the
            // workloads start with too, so that they fit it.
            let (p, note) = runtime.program(&plan.module(), &plan.recipe.run, &plan.dirs.out, &base, &b.native_args)?;
            if let Some(n) = note {
                project.progress.println(format!("bench {}: {n}", plan.recipe.name));
            }
            p
        } else {
            plain.clone()
        };
        let resumes = matches!(program, Program::Snapshot { .. });
        let wasm = WasmSide {
            runtime: &runtime,
            program: &program,
            base: base.clone(),
        };
        let scratch = WasmSide {
            runtime: &runtime,
            program: &plain,
            base,
        };
        let native = NativeSide {
            binary,
            pre_args: b.native_args.clone(),
            env: plan.native_env(),
            cwd: repo.clone(),
        };
        let mut vars = Vars::default();
        vars.set("src", plan.dirs.src.display().to_string());
        vars.set("repo", repo.display().to_string());
        vars.set("native", native_dir.display().to_string());
        let extra = if resumes {
            workloads.iter().filter(|w| is_startup(&w.name)).count()
        } else {
            0
        };
        let total = (workloads.len() + extra) * opts.runs * 2;
        let bar = project.progress.counter(format!("bench {}", plan.recipe.name), total as u64);
        for w in &workloads {
            let args = vars.subst_all(&plan.recipe.name, &w.args)?;
            // The native side gets its own pre-args (e.g. -n) instead of the
            // wasm side's first ones when they are the same flag.
            let native_args: Vec<String> = args.iter().filter(|x| !b.native_args.contains(x)).cloned().collect();
            let ctx_of = || format!("{interp}: {}", w.name);
            // With a snapshot, a start-up workload also runs from scratch:
            // the snapshot's A/B.
            let mut sides = vec![("in-process", &wasm)];
            if resumes && is_startup(&w.name) {
                sides.push(("in-process, from scratch", &scratch));
            }
            for (label, side) in sides {
                rows.push(measure(
                    &plan.recipe.name,
                    &format!("{} [{label}]", w.name),
                    opts.runs,
                    || {
                        let t = time_wasm(side, &args).with_context(ctx_of);
                        bar.inc(1);
                        t
                    },
                    || {
                        let t = time_native(&native, &native_args).with_context(ctx_of);
                        bar.inc(1);
                        t
                    },
                )?);
            }
            if let (true, Some(exe)) = (is_startup(&w.name), &opts.exe) {
                // Whole processes: `cargo xtask run` (module cache warm) vs native.
                let mut run_args = vec!["run".to_string(), interp.clone(), "--".to_string()];
                run_args.extend(args.clone());
                rows.push(measure(
                    &plan.recipe.name,
                    &format!("{} [whole process]", w.name),
                    opts.runs,
                    || time_process(exe, &run_args, repo),
                    || time_native(&native, &native_args),
                )?);
            }
        }
        bar.finish_and_clear();
    }
    let mut serve = Vec::new();
    for plan in &serve_plans {
        let stage = project.progress.stage(format!("bench {}: serve", plan.recipe.name));
        let requests = (opts.runs * 400).max(400);
        serve.push(crate::bench::serve::run(project, plan, requests, 16)?);
        stage.done("done");
    }
    Ok(Results { rows, serve })
}
