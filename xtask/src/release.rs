use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{Ctx, Global};

#[derive(Args)]
pub struct ReleaseArgs {
    /// Interpreters to release (each is built first if needed).
    #[arg(required = true)]
    pub interps: Vec<String>,
    #[arg(long)]
    pub flavor: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
}

pub fn run(g: &Global, a: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    std::fs::create_dir_all(&a.out)?;
    for interp in &a.interps {
        let plan = crate::build::build_plan(&ctx, interp, a.flavor.as_deref(), None, false)?;
        kiln::build::Builder {
            layout: &ctx.layout,
            progress: &ctx.progress,
            offline: g.offline,
        }
        .build(&plan)?;
        let stage = ctx.progress.stage(format!("{}: release", plan.id));
        let r = kiln::release::release(&plan, &a.out)?;
        stage.done("done");
        println!("{}: image {} ; sizes: {:?}", r.id, r.image_digest, r.sizes);
        for f in &r.files {
            println!("  {}", f.display());
        }
    }
    let sums = kiln::release::write_sums(&a.out)?;
    println!("{}", sums.display());
    Ok(ExitCode::SUCCESS)
}
