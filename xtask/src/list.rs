use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct ListArgs {}

pub fn run(g: &Global, _a: ListArgs) -> anyhow::Result<ExitCode> {
    let ctx = crate::project(g)?;
    for r in kiln::recipe::load_all(&ctx.layout.recipes())? {
        let kind = format!("{:?}", r.kind).to_lowercase();
        println!("{:<10} {:<10} {:<12} {}", r.name, r.version, kind, r.description);
        for (name, f) in &r.flavor {
            let mark = if *name == r.default_flavor { " (default)" } else { "" };
            println!("{:<10} flavour {name}{mark}: {}", "", f.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}
