//! Side-by-side benchmarks: each workload on the wasm build (in-process,
//! precompiled module, fresh instance per run) and on a native build of the
//! same tarball (a child process), interleaved run by run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as PStdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::runtime::{Module, RunSpec, Runtime, Stdio};

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub runs: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Side {
    pub fn of(mut runs: Vec<f64>) -> Side {
        runs.sort_by(|a, b| a.total_cmp(b));
        let median = if runs.is_empty() { 0.0 } else { runs[runs.len() / 2] };
        Side {
            min: *runs.first().unwrap_or(&0.0),
            max: *runs.last().unwrap_or(&0.0),
            median,
            runs,
        }
    }
}

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
    pub module: &'a Module,
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
    let out = w.runtime.run(w.module, &spec)?;
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

/// `{src}`, `{repo}` and `{native}` in a `[bench]` value.
pub fn subst(s: &str, src: &Path, repo: &Path, native: &Path) -> String {
    s.replace("{src}", &src.display().to_string())
        .replace("{repo}", &repo.display().to_string())
        .replace("{native}", &native.display().to_string())
}

/// The native interpreter of the same tarball that `bench` (and `test
/// --native`) compare against: the recipe's `[native]` build's binary, or,
/// with `native_configure`, a native build made for this purpose in its own
/// copy of the source (stamped; rebuilt only when its inputs change).
pub fn native_binary(
    layout: &crate::layout::Layout,
    progress: &crate::progress::Progress,
    offline: bool,
    plan: &crate::plan::BuildPlan,
    b: &crate::recipe::Bench,
) -> Result<PathBuf> {
    let native_dir = plan.work_dir.join("native");
    let binary = match &b.native_configure {
        Some(configure) => native_build(layout, progress, offline, plan, b, configure)?,
        None => PathBuf::from(subst(&b.native_binary, &plan.src_dir, &layout.repo, &native_dir)),
    };
    if !binary.is_file() {
        bail!("native {} binary {} is missing", plan.recipe.name, binary.display());
    }
    Ok(binary)
}

fn native_build(
    layout: &crate::layout::Layout,
    progress: &crate::progress::Progress,
    offline: bool,
    plan: &crate::plan::BuildPlan,
    b: &crate::recipe::Bench,
    configure: &[String],
) -> Result<PathBuf> {
    use crate::cmd::Cmd;
    let dir = plan.work_dir.join("bench-native");
    let src = dir.join("src");
    let cc = if Path::new("/usr/bin/clang-22").is_file() {
        "clang-22"
    } else {
        "cc"
    };
    let stamp =
        crate::fetch::sha256_bytes(format!("{}|{}|{cc}|{:?}", plan.source.sha256, configure.join(" "), b.native_make_targets).as_bytes());
    let stamp_file = dir.join(".kiln-bench-stamp");
    let binary = src.join(&b.native_binary);
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) && binary.is_file() {
        return Ok(binary);
    }
    let stage = progress.stage(format!("{}: native build of the same tarball ({cc} -O2)", plan.id));
    let _ = std::fs::remove_dir_all(&dir);
    let fetcher = crate::fetch::Fetcher::new(layout, progress.clone(), offline)?;
    let archive = fetcher.fetch(&plan.source)?;
    crate::source::unpack(&archive, &src, plan.recipe.source.strip_components)?;
    let patches: Vec<PathBuf> = plan.patches.iter().map(|p| p.path.clone()).collect();
    crate::source::apply_patches(&src, &patches, &plan.log_dir)?;
    let clean_env = |c: Cmd| {
        ["CFLAGS", "LDFLAGS", "LIBS", "CPPFLAGS", "MAKEFLAGS", "CONFIG_SITE"]
            .iter()
            .fold(c, |c, k| c.env_remove(k))
            .env("CC", cc)
            .env("CFLAGS", "-O2")
    };
    clean_env(Cmd::new("./configure", &src).args(configure)).run(&plan.log_dir.join("bench-native-configure.log"))?;
    clean_env(
        Cmd::new("make", &src)
            .arg(format!("-j{}", crate::plan::default_jobs()))
            .args(&b.native_make_targets),
    )
    .run(&plan.log_dir.join("bench-native-make.log"))?;
    std::fs::write(&stamp_file, &stamp)?;
    stage.done("done");
    Ok(binary)
}
