use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use kiln::cmd::Cmd;
use kiln::runtime::{EngineOptions, RunSpec, Runtime, Stdio};
use kiln::toolchain::{Toolchain, PROBE_C, TARGET};

use crate::{Ctx, Global};

#[derive(Args)]
pub struct ToolchainArgs {
    /// Only print the resolved toolchain; skip the probe.
    #[arg(long)]
    pub no_probe: bool,
}

pub fn run(g: &Global, a: ToolchainArgs) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(g)?;
    let tc = Toolchain::resolve(&ctx.layout, &ctx.toolchain_request(), &ctx.progress)?;
    println!("provider: {}", tc.provider);
    println!("clang:    {} ({})", tc.clang.display(), tc.clang_version()?);
    println!("sysroot:  {}", tc.sysroot.display());
    println!("target:   {TARGET}");
    println!("cflags:   {}", tc.cflags.join(" "));
    println!("ldflags:  {}", tc.ldflags.join(" "));
    if a.no_probe {
        return Ok(ExitCode::SUCCESS);
    }
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("probe.c");
    std::fs::write(&src, PROBE_C)?;
    let wasm = dir.path().join("probe.wasm");
    let mut cc = Cmd::new(&tc.clang, dir.path())
        .arg(format!("--target={TARGET}"))
        .arg(format!("--sysroot={}", tc.sysroot.display()))
        .arg("-O2")
        .args(&tc.cflags)
        .args(&tc.ldflags)
        .arg(&src)
        .arg("-lsetjmp")
        .arg("-o")
        .arg(&wasm);
    cc = cc.env_remove("CFLAGS");
    cc.run(&ctx.layout.logs().join("toolchain-probe.log"))?;
    let mut rt = Runtime::new(&ctx.layout.module_cache(), &EngineOptions::default())?;
    rt.verbose = g.verbose;
    let module = rt.load(&wasm)?;
    let work = tempfile::tempdir()?;
    let spec = RunSpec {
        argv: vec!["probe".into(), "arg-one".into()],
        env: vec![("KILN_PROBE".into(), "env-ok".into())],
        dirs: vec![(work.path().to_path_buf(), ".".into())],
        stdin: Stdio::Null,
        stdout: Stdio::Bytes(vec![]),
        stderr: Stdio::Bytes(vec![]),
        timeout: Some(std::time::Duration::from_secs(30)),
        memory_limit: None,
        root_skeleton: false,
    };
    let out = rt.run(&module, &spec)?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("probe output:\n{text}");
    let expected = [
        "setjmp: 42 depth 3 hits 2",
        "file: kiln-probe",
        "argv: 2 arg-one",
        "env: env-ok",
        "clock: ok",
    ];
    let mut bad = Vec::new();
    for e in expected {
        if !text.lines().any(|l| l == e) {
            bad.push(e);
        }
    }
    if out.status != 7 {
        bad.push("exit status 7");
    }
    if let Some(t) = &out.trap {
        bail!("probe trapped: {t}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    if !bad.is_empty() {
        bail!(
            "toolchain probe failed: expected {:?}; exit status {}; stderr: {}",
            bad,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("probe: ok (setjmp/longjmp, file I/O, argv, env, clock, exit status 7)");
    Ok(ExitCode::SUCCESS)
}
