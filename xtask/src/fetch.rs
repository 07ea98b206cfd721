use std::process::ExitCode;

use clap::Args;

use crate::{Ctx, Global};

#[derive(Args)]
pub struct FetchArgs {
    /// Recipe name, optionally `name@version`.
    pub interp: String,
}

pub fn run(g: &Global, a: FetchArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let recipe = kiln::recipe::find(&ctx.layout.recipes(), &a.interp)?;
    let fetcher = kiln::fetch::Fetcher::new(&ctx.layout, ctx.progress.clone(), g.offline)?;
    let path = fetcher.fetch(&recipe.source.artifact)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
