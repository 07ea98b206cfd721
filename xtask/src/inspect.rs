use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct InspectArgs {
    /// A .wasm module (e.g. one written by `cargo xtask release`).
    pub file: PathBuf,
}

pub fn run(_g: &Global, a: InspectArgs) -> anyhow::Result<ExitCode> {
    let i = kiln::postprocess::inspect(&a.file)?;
    println!("{}: {} bytes", a.file.display(), i.size);
    match &i.build_info {
        Some(b) => println!("build-info:\n{}", serde_json::to_string_pretty(b)?),
        None => println!("build-info: none (not post-processed by kiln)"),
    }
    let mut by_module: std::collections::BTreeMap<&str, usize> = Default::default();
    for imp in &i.imports {
        *by_module.entry(imp.split("::").next().unwrap_or("")).or_default() += 1;
    }
    println!(
        "imports: {} ({})",
        i.imports.len(),
        by_module.iter().map(|(m, n)| format!("{m}: {n}")).collect::<Vec<_>>().join(", ")
    );
    println!("exports: {}", i.exports.join(", "));
    println!("sections:");
    for (name, size) in &i.sections {
        println!("  {name:<32} {size:>10}");
    }
    Ok(ExitCode::SUCCESS)
}
