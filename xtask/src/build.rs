use std::process::ExitCode;

use clap::Args;
use kiln::build::BuildResult;

use crate::Global;

#[derive(Args)]
pub struct BuildArgs {
    /// Recipe name, optionally `name@version` (e.g. php, php@8.4).
    pub interp: String,
    /// Flavour (see `cargo xtask list`); default is the recipe's default.
    #[arg(long)]
    pub flavor: Option<String>,
    /// Parallel make jobs (default: number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Print the resolved plan (the typed steps, commands, flags and
    /// stamps that would run) and do nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(g: &Global, a: BuildArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let plan = p.plan(&a.interp, a.flavor.as_deref(), a.jobs, a.dry_run)?;
    if a.dry_run {
        print!("{}", p.render_plan(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    let start = std::time::Instant::now();
    let how = match p.build(&plan)? {
        BuildResult::UpToDate => "up to date",
        BuildResult::FromCache => "restored from the build cache",
        BuildResult::Built => "built",
    };
    eprintln!("{} {how} in {:.1}s", plan.id, start.elapsed().as_secs_f64());
    println!("{}", plan.module().display());
    Ok(ExitCode::SUCCESS)
}
