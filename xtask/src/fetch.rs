use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct FetchArgs {
    /// Recipe name, optionally `name@version`.
    pub interp: String,
}

pub fn run(g: &Global, a: FetchArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let recipe = p.recipe(&a.interp)?;
    let fetcher = kiln::fetch::Fetcher::new(&p.layout, p.progress.clone(), &p.config)?;
    println!("{}", fetcher.fetch(&recipe.source.artifact)?.display());
    Ok(ExitCode::SUCCESS)
}
