use std::process::ExitCode;

use clap::Args;

use crate::Global;

#[derive(Args)]
pub struct WasmtimeCliArgs {
    /// A `[[cargo_tool]]` of recipes/toolchain.toml.
    #[arg(default_value = "wasmtime-cli")]
    pub tool: String,
}

/// Install the pinned stock wasmtime CLI into the cache (once; `cargo
/// install --locked`, a few minutes) and print its path.
pub fn run(g: &Global, a: WasmtimeCliArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let tr = p.toolchain_recipe()?;
    let t = kiln::install::find_cargo_tool(&tr.cargo_tool, &a.tool)?;
    let root = kiln::install::cargo_tool_root(&p.layout, t);
    if !root.join("bin").join(&t.bin).is_file() {
        eprintln!(
            "installing {} {} with cargo into {} (minutes; log: {})",
            t.name,
            t.version,
            root.display(),
            p.layout.logs().join(format!("cargo-install-{}.log", t.name)).display()
        );
    }
    let bin = kiln::install::ensure_cargo_tool(&p.layout, t, p.config.offline)?;
    println!("{}", bin.display());
    Ok(ExitCode::SUCCESS)
}
