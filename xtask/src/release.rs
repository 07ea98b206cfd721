use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Global;

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
    let p = crate::project(g)?;
    std::fs::create_dir_all(&a.out)?;
    for interp in &a.interps {
        let plan = p.plan(interp, a.flavor.as_deref(), None, false)?;
        p.build(&plan)?;
        let stage = p.progress.stage(format!("{}: release", plan.id));
        let r = kiln::release::release(&plan, &a.out, p.config.source_date_epoch)?;
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
