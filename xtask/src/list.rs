use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct ListArgs {}

pub fn run(g: &Global, _a: ListArgs) -> anyhow::Result<ExitCode> {
    let ctx = crate::project(g)?;
    let mut all = kiln::recipe::load_all(&ctx.layout.recipes())?;
    // Interpreters first, then libraries, each by name.
    all.sort_by_key(|r| (r.kind != kiln::recipe::Kind::Interpreter, r.name.clone()));
    let mut text = String::new();
    for r in all {
        let kind = format!("{:?}", r.kind).to_lowercase();
        text.push_str(&format!("{:<14} {:<10} {:<12} {}\n", r.name, r.version, kind, r.description));
        let mut modules = Vec::new();
        if !r.run.module.is_empty() {
            modules.push(format!("{} (run, test, bench)", r.run.module));
        }
        if let Some(s) = &r.serve {
            modules.push(format!("{} (serve)", s.module));
        }
        if !modules.is_empty() {
            text.push_str(&format!("{:<14} modules: {}\n", "", modules.join(", ")));
        }
        for (name, f) in &r.flavor {
            let mark = if *name == r.default_flavor { " (default)" } else { "" };
            text.push_str(&format!("{:<14} flavour {name}{mark}: {}\n", "", f.description));
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
