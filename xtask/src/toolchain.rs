use std::process::ExitCode;

use clap::Args;
use kiln::runtime::Use;
use kiln::toolchain::TARGET;

use crate::Global;

#[derive(Args)]
pub struct ToolchainArgs {
    /// Only print the resolved toolchain; skip the probe.
    #[arg(long)]
    pub no_probe: bool,
}

pub fn run(g: &Global, a: ToolchainArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let tc = p.toolchain(true)?;
    let native = kiln::toolchain::NativeToolchain::resolve(&p.toolchain_recipe()?);
    println!("provider: {}", tc.provider);
    println!("clang:    {} ({})", tc.clang.display(), tc.clang_version()?);
    println!("sysroot:  {}", tc.sysroot.display());
    println!("target:   {TARGET}");
    println!("cflags:   {}", tc.cflags.join(" "));
    println!("ldflags:  {}", tc.ldflags.join(" "));
    println!("native:   {} ({})", native.cc, native.version);
    if a.no_probe {
        return Ok(ExitCode::SUCCESS);
    }
    let mut rt = p.runtime(Use::Probe, &Default::default())?;
    rt.verbose = g.verbose;
    let out = tc.probe(&rt, &p.layout.logs().join("toolchain-probe.log"))?;
    print!("probe output:\n{out}");
    println!("probe: ok (setjmp/longjmp, file I/O, argv, env, clock, exit status 7)");
    Ok(ExitCode::SUCCESS)
}
