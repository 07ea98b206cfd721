use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct CleanArgs {
    /// Also empty the user-level cache (downloads, toolchains, compiled
    /// modules, cached builds).
    #[arg(long)]
    pub cache: bool,
}

pub fn run(g: &Global, a: CleanArgs) -> anyhow::Result<ExitCode> {
    let ctx = crate::project(g)?;
    let mut dirs = vec![ctx.layout.work.clone()];
    if a.cache {
        dirs.push(ctx.layout.cache.clone());
    }
    for d in dirs {
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| anyhow::anyhow!("removing {}: {e}", d.display()))?;
            println!("removed {}", d.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
