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
    for base in all {
        let family = kiln::recipe::Recipe::load_family(&ctx.layout.recipes().join(format!("{}.toml", base.name)))?;
        let kind = format!("{:?}", base.kind).to_lowercase();
        if family.len() == 1 {
            text.push_str(&format!(
                "{:<14} {:<10} {:<12} {}\n",
                base.name, base.version, kind, base.description
            ));
        } else {
            text.push_str(&format!("{:<14} {:<10} {:<12} {}\n", base.name, "", kind, base.description));
            for r in &family {
                let default = if r.variant.is_none() { "(default)" } else { "" };
                let mut line = format!("{:<14} {:<10} {default:<12} `{}`", "", r.version, r.spec());
                let flavors: Vec<&String> = r.flavor.keys().collect();
                if r.variant.is_some() && flavors != base.flavor.keys().collect::<Vec<_>>() {
                    line.push_str(&format!(
                        " flavours: {}",
                        flavors.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
        let mut modules = Vec::new();
        if !base.run.module.is_empty() {
            modules.push(format!("{} (run, test, bench)", base.run.module));
        }
        if let Some(s) = &base.serve {
            modules.push(format!("{} (serve)", s.module));
        }
        if !modules.is_empty() {
            text.push_str(&format!("{:<14} modules: {}\n", "", modules.join(", ")));
        }
        for (name, f) in &base.flavor {
            let mark = if *name == base.default_flavor { " (default)" } else { "" };
            text.push_str(&format!("{:<14} flavour {name}{mark}: {}\n", "", f.description));
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
