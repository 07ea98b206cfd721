use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kiln::runtime::{RunSpec, Stdio, Use};

use crate::Global;

#[derive(Args)]
pub struct RunArgs {
    /// Recipe name (php, python, ruby), optionally `name@version`.
    pub interp: String,
    #[arg(long)]
    pub flavor: Option<String>,
    /// Map a host directory into the guest: HOST or HOST::GUEST (default
    /// guest path = HOST). The current directory is always mapped, as `.`
    /// and at its own path, so `run ruby -- script.rb` works like
    /// `run php -- script.php`. The guest also gets a private, empty
    /// `/tmp` (deleted afterwards) unless a `--dir` maps one.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set a guest environment variable (overrides the recipe's).
    #[arg(long = "env", value_name = "K=V")]
    pub envs: Vec<String>,
    /// Run this module instead of the built one (e.g. a release artifact).
    #[arg(long, value_name = "FILE.wasm")]
    pub module: Option<PathBuf>,
    /// Stop the guest after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Start the interpreter from scratch instead of resuming a snapshot
    /// taken after its start-up (`[run.snapshot]` in the recipe; made on
    /// first use and cached). A command line or environment that selects
    /// another start-up (PHP's -c/-n/-d) starts from scratch anyway.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Run the native build of the same tarball instead (the one `bench`
    /// and `test --native` compare with; built on first use), as a host
    /// process in the current directory with the same arguments, its
    /// `[bench] native_args` first and `--env` on top: to see what the
    /// interpreter does natively.
    #[arg(long, conflicts_with_all = ["module", "dirs", "no_snapshot", "timeout"])]
    pub native: bool,
    /// Arguments passed to the interpreter.
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn run(g: &Global, a: RunArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let recipe = p.recipe(&a.interp)?;
    if a.native {
        let plan = p.plan(&a.interp, a.flavor.as_deref(), None, false)?;
        let env = a
            .envs
            .iter()
            .map(|kv| crate::parse_kv("--env", kv))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut cmd = p.native_command(&plan, &a.args, &env)?;
        let status = cmd.status().with_context(|| format!("running {:?}", cmd.get_program()))?;
        use std::os::unix::process::ExitStatusExt;
        return Ok(ExitCode::from(match (status.code(), status.signal()) {
            (Some(c), _) => (c & 0xff) as u8,
            (None, Some(sig)) => (128 + sig) as u8,
            _ => 1,
        }));
    }
    let out = kiln::layout::output_dir(&p.layout, &recipe, a.flavor.as_deref())?;
    let module = a.module.clone().unwrap_or_else(|| out.join(&recipe.run.module));
    if !module.is_file() && a.module.is_none() {
        eprintln!("{} is not built yet; building it first", module.display());
        let plan = p.plan(&a.interp, a.flavor.as_deref(), None, false)?;
        p.build(&plan)?;
    }
    let mut spec = RunSpec {
        stdin: Stdio::Inherit,
        stdout: Stdio::Inherit,
        stderr: Stdio::Inherit,
        timeout: a.timeout.map(std::time::Duration::from_secs_f64),
        ..RunSpec::for_recipe(&recipe.run, &out)
    }
    .with_cwd(&std::env::current_dir()?, &recipe.run);
    spec.argv.extend(a.args.iter().cloned());
    // The recipe's environment and PWD (from `with_cwd`), then the user's.
    let mut env: std::collections::BTreeMap<String, String> = spec.env.iter().cloned().collect();
    for kv in &a.envs {
        let (k, v) = crate::parse_kv("--env", kv)?;
        env.insert(k, v);
    }
    spec.env = env.into_iter().collect();
    for d in &a.dirs {
        spec.dirs.push(crate::parse_dir(d)?);
    }
    // Kept alive until the guest is done; removed afterwards.
    let (spec, _guest_tmp) = spec.with_private_tmp().context("creating the guest's private /tmp")?;
    let mut rt = p.runtime(
        Use::Run {
            timeout: a.timeout.is_some(),
        },
        &recipe.run,
    )?;
    rt.verbose = g.verbose;
    let (program, note) = if a.no_snapshot {
        (kiln::runtime::Program::Module(rt.load(&module)?), None)
    } else {
        rt.program(&module, &recipe.run, &out, &spec, &[])?
    };
    if let (true, Some(n)) = (g.verbose, note) {
        eprintln!("kiln: {n}");
    }
    let outcome = rt.run_program(&program, &spec)?;
    if let Some(trap) = &outcome.trap {
        eprintln!("kiln: {} stopped: {trap}", recipe.name);
    }
    if g.verbose {
        eprintln!(
            "kiln: exit status {} after {:.1} ms, {:.1} ms of it instantiating ({})",
            outcome.status,
            outcome.elapsed.as_secs_f64() * 1e3,
            outcome.instantiate.as_secs_f64() * 1e3,
            if outcome.resumed {
                "resumed from the snapshot"
            } else {
                "from scratch"
            }
        );
    }
    Ok(ExitCode::from((outcome.status & 0xff) as u8))
}
