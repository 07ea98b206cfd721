use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use kiln::bench::{self, NativeSide, WasmSide};
use kiln::cmd::Cmd;
use kiln::runtime::{EngineOptions, Runtime};

use crate::{Ctx, Global};

#[derive(Args)]
pub struct BenchArgs {
    /// Interpreters to benchmark (default: php python).
    pub interps: Vec<String>,
    /// Runs per workload and side (interleaved wasm/native).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the numbers as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn subst(s: &str, src: &Path, repo: &Path, native: &Path) -> String {
    s.replace("{src}", &src.display().to_string())
        .replace("{repo}", &repo.display().to_string())
        .replace("{native}", &native.display().to_string())
}

/// Build the interpreter natively from the same (patched) tarball, in its
/// own tree under the build dir; reused while its stamp matches.
fn native_build(ctx: &Ctx, plan: &kiln::plan::BuildPlan, b: &kiln::recipe::Bench, configure: &[String]) -> anyhow::Result<PathBuf> {
    let dir = plan.work_dir.join("bench-native");
    let src = dir.join("src");
    let cc = if Path::new("/usr/bin/clang-22").is_file() {
        "clang-22"
    } else {
        "cc"
    };
    let stamp =
        kiln::fetch::sha256_bytes(format!("{}|{}|{cc}|{:?}", plan.source.sha256, configure.join(" "), b.native_make_targets).as_bytes());
    let stamp_file = dir.join(".kiln-bench-stamp");
    let binary = src.join(&b.native_binary);
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) && binary.is_file() {
        return Ok(binary);
    }
    let stage = ctx.progress.stage(format!("{}: native build for benchmarks ({cc} -O2)", plan.id));
    let _ = std::fs::remove_dir_all(&dir);
    let fetcher = kiln::fetch::Fetcher::new(&ctx.layout, ctx.progress.clone(), ctx.global.offline)?;
    let archive = fetcher.fetch(&plan.source)?;
    kiln::source::unpack(&archive, &src, plan.recipe.source.strip_components)?;
    let patches: Vec<PathBuf> = plan.patches.iter().map(|p| p.path.clone()).collect();
    kiln::source::apply_patches(&src, &patches, &plan.log_dir)?;
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
            .arg(format!("-j{}", kiln::plan::default_jobs()))
            .args(&b.native_make_targets),
    )
    .run(&plan.log_dir.join("bench-native-make.log"))?;
    std::fs::write(&stamp_file, &stamp)?;
    stage.done("done");
    Ok(binary)
}

pub fn run(g: &Global, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let interps = if a.interps.is_empty() {
        vec!["php".to_string(), "python".to_string()]
    } else {
        a.interps.clone()
    };
    let runtime = Runtime::new(
        &ctx.layout.module_cache(),
        &EngineOptions {
            interruptible: false,
            ..Default::default()
        },
    )?;
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for interp in &interps {
        let plan = crate::build::build_plan(&ctx, interp, None, None, false)?;
        let Some(b) = plan.recipe.bench.clone() else {
            bail!("recipe {} has no [bench] section", plan.recipe.name)
        };
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
        let binary = match &b.native_configure {
            Some(cfg) => native_build(&ctx, &plan, &b, cfg)?,
            None => PathBuf::from(subst(&b.native_binary, &plan.src_dir, &ctx.layout.repo, &native_dir)),
        };
        if !binary.is_file() {
            bail!("native {} binary {} is missing", plan.recipe.name, binary.display());
        }
        let module = runtime.load(&plan.module())?;
        let mut dirs: Vec<(PathBuf, String)> = plan
            .recipe
            .run
            .dirs
            .iter()
            .map(|(h, gp)| (plan.out_dir.join(h), gp.clone()))
            .collect();
        for p in [&plan.src_dir, &ctx.layout.repo] {
            dirs.push((p.clone(), p.display().to_string()));
        }
        let wasm = WasmSide {
            runtime: &runtime,
            module: &module,
            argv0: plan.recipe.run.argv0.clone(),
            env: plan.recipe.run.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            dirs,
        };
        let native = NativeSide {
            binary: binary.clone(),
            pre_args: b.native_args.clone(),
            env: b.native_env.clone().into_iter().collect(),
            cwd: ctx.layout.repo.clone(),
        };
        let total = b.workload.len() * a.runs * 2;
        let bar = ctx.progress.counter(format!("bench {}", plan.recipe.name), total as u64);
        for w in &b.workload {
            let args: Vec<String> = w
                .args
                .iter()
                .map(|s| subst(s, &plan.src_dir, &ctx.layout.repo, &native_dir))
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
            if w.name.starts_with("start-up") {
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
        std::fs::write(j, serde_json::to_vec_pretty(&rows)?).with_context(|| format!("writing {}", j.display()))?;
        println!("json: {}", j.display());
    }
    Ok(ExitCode::SUCCESS)
}
