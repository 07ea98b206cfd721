use std::process::ExitCode;

use clap::Args;
use kiln::build::{BuildResult, Builder};
use kiln::plan::{PlanOptions, ToolchainView};

use crate::{Ctx, Global};

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
    /// Print the resolved plan (steps, commands, stamps) and do nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(g: &Global, a: BuildArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let plan = build_plan(&ctx, &a.interp, a.flavor.as_deref(), a.jobs, a.dry_run)?;
    if a.dry_run {
        print!("{}", plan.render());
        return Ok(ExitCode::SUCCESS);
    }
    let start = std::time::Instant::now();
    let builder = Builder {
        layout: &ctx.layout,
        progress: &ctx.progress,
        offline: g.offline,
    };
    let result = builder.build(&plan)?;
    let how = match result {
        BuildResult::UpToDate => "up to date",
        BuildResult::FromCache => "restored from the build cache",
        BuildResult::Built => "built",
    };
    eprintln!("{} {how} in {:.1}s", plan.id, start.elapsed().as_secs_f64());
    println!("{}", plan.module().display());
    Ok(ExitCode::SUCCESS)
}

/// Resolve recipe + toolchain + options into a plan. With `dry_run` an
/// unavailable toolchain is shown as placeholders instead of failing.
pub fn build_plan(
    ctx: &Ctx,
    spec: &str,
    flavor: Option<&str>,
    jobs: Option<usize>,
    dry_run: bool,
) -> anyhow::Result<kiln::plan::BuildPlan> {
    let recipe = kiln::recipe::find(&ctx.layout.recipes(), spec)?;
    let mut req = ctx.toolchain_request();
    req.install = !dry_run;
    let tc = match kiln::toolchain::Toolchain::resolve(&ctx.layout, &req, &ctx.progress) {
        Ok(tc) => ToolchainView::of(&tc),
        Err(e) if dry_run => {
            eprintln!("note: no toolchain resolved ({e:#}); showing placeholders");
            ToolchainView::placeholder()
        }
        Err(e) => return Err(e),
    };
    let opts = PlanOptions {
        flavor: flavor.map(String::from),
        jobs: jobs.unwrap_or_else(kiln::plan::default_jobs),
    };
    kiln::plan::plan(&ctx.layout, &recipe, tc, &opts)
}
