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
    use std::fmt::Write as _;
    let i = kiln::postprocess::inspect(&a.file)?;
    let mut out = String::new();
    writeln!(out, "{}: {} bytes", a.file.display(), i.size)?;
    match &i.build_info {
        Some(b) => writeln!(out, "build-info:\n{}", serde_json::to_string_pretty(b)?),
        None => writeln!(out, "build-info: none (not post-processed by kiln)"),
    }?;
    let mut by_module: std::collections::BTreeMap<&str, usize> = Default::default();
    for imp in &i.imports {
        *by_module.entry(imp.split("::").next().unwrap_or("")).or_default() += 1;
    }
    writeln!(
        out,
        "imports: {} ({})",
        i.imports.len(),
        by_module.iter().map(|(m, n)| format!("{m}: {n}")).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(out, "exports: {}", i.exports.join(", "))?;
    writeln!(
        out,
        "proposals needed (beyond the MVP): {}",
        if i.proposals.is_empty() {
            "none".to_string()
        } else {
            i.proposals.join(", ")
        }
    )?;
    writeln!(out, "sections:")?;
    for (name, size) in &i.sections {
        writeln!(out, "  {name:<32} {size:>10}")?;
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
