use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct SetupArgs {
    /// Only list what is missing; install nothing.
    #[arg(long)]
    pub check: bool,
}

/// Install the toolchain recipe's `[[host]]` programs that are missing.
pub fn run(g: &Global, a: SetupArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    ensure_host_tools(&p, a.check)?;
    Ok(ExitCode::SUCCESS)
}

pub fn ensure_host_tools(p: &kiln::project::Project, check: bool) -> anyhow::Result<()> {
    let tr = p.toolchain_recipe()?;
    let missing = kiln::host::missing_host_tools(&tr);
    if missing.is_empty() {
        println!(
            "setup: every host program is present ({})",
            tr.host.iter().map(|h| h.command.as_str()).collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    for h in &missing {
        println!("setup: missing {} (Debian package {}): {}", h.command, h.package, h.why);
    }
    if check {
        anyhow::bail!("{} host programs are missing", missing.len());
    }
    let mut pkgs: Vec<String> = missing.iter().map(|h| h.package.clone()).collect();
    pkgs.dedup();
    kiln::host::apt_install(&p.layout, &pkgs, &p.progress)
}
