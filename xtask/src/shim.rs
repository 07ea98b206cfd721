use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::Global;

#[derive(Args)]
pub struct ShimArgs {
    #[command(subcommand)]
    pub action: ShimAction,
}

#[derive(Subcommand)]
pub enum ShimAction {
    /// Build containerd-shim-kiln-v1 and copy it to PREFIX/bin, where
    /// containerd (which looks runtimes up on its PATH) finds it as the
    /// runtime io.containerd.kiln.v1.
    Install {
        /// Install under this prefix (the binary goes to PREFIX/bin).
        #[arg(long, default_value = "/usr/local")]
        prefix: PathBuf,
        /// Build with the release profile (default: the dev profile, whose
        /// dependencies are optimised and shared with `cargo xtask`).
        #[arg(long)]
        release: bool,
    },
}

pub fn run(g: &Global, a: ShimArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    match a.action {
        ShimAction::Install { prefix, release } => {
            eprintln!(
                "shim: building {} (log: {})",
                kiln::install::SHIM_PACKAGE,
                p.layout.logs().join("shim-build.log").display()
            );
            let path = kiln::install::install_shim(&p.layout, &prefix, release)?;
            println!("installed {}", path.display());
            println!("containerd runtime: {}", kiln::install::SHIM_RUNTIME);
            if !std::env::var_os("PATH")
                .map(|v| std::env::split_paths(&v).any(|d| d == prefix.join("bin")))
                .unwrap_or(false)
            {
                println!(
                    "note: {} is not on this PATH; containerd must have it on its own PATH",
                    prefix.join("bin").display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
