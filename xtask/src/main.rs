//! `cargo xtask`: kiln's command line. This file parses flags and
//! dispatches; each command lives in its own module and the `kiln` library
//! does the work.
//!
//! Two variants of this binary: the full one (the default features) and
//! the light one that `cargo xtask` builds (`--no-default-features`: no
//! wasmtime). The light one runs the commands that need no runtime itself
//! and hands the others, unparsed, to the full one (`relaunch.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "runtime")]
mod bench;
mod build;
mod cargo_env;
#[cfg(feature = "runtime")]
mod ci;
mod clean;
mod fetch;
mod inspect;
mod list;
#[cfg(not(feature = "runtime"))]
mod relaunch;
mod release;
#[cfg(feature = "runtime")]
mod run;
#[cfg(feature = "runtime")]
mod serve;
mod setup;
mod shim;
#[cfg(feature = "runtime")]
mod test;
#[cfg(feature = "runtime")]
mod toolchain;
mod wasmtime_cli;

/// The arguments of a command that needs the runtime: its own in the full
/// variant; in the light one, everything after the command's name, taken
/// as it is (`--help` included) and handed to the full variant.
#[cfg(feature = "runtime")]
mod full {
    pub use crate::bench::BenchArgs as Bench;
    pub use crate::ci::CiArgs as Ci;
    pub use crate::run::RunArgs as Run;
    pub use crate::serve::ServeArgs as Serve;
    pub use crate::test::TestArgs as Test;
    pub use crate::toolchain::ToolchainArgs as Toolchain;
}
#[cfg(not(feature = "runtime"))]
mod full {
    /// Whatever follows the command's name.
    #[derive(clap::Args)]
    #[command(disable_help_flag = true)]
    pub struct Passthrough {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        _rest: Vec<std::ffi::OsString>,
    }
    pub use Passthrough as Bench;
    pub use Passthrough as Ci;
    pub use Passthrough as Run;
    pub use Passthrough as Serve;
    pub use Passthrough as Test;
    pub use Passthrough as Toolchain;
}

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "kiln: build PHP, Python and Ruby for wasm32-wasip1, run them under an embedded Wasmtime",
    long_about = "kiln turns the real interpreters into wasm32-wasip1 programs from pinned, \
checksummed sources, runs them under an embedded Wasmtime and tests them with their own suites.\n\n\
Outputs go to target/kiln/ (out/<interp>-<version>[-<flavor>]/, logs/). Downloads, toolchains \
and compiled modules are cached by content in $KILN_CACHE_DIR (default ~/.cache/kiln).",
    after_help = "Environment: KILN_CACHE_DIR (cache dir), KILN_MIRRORS (extra source mirrors, \
tried before upstream: <mirror>/<file>), KILN_DEBIAN_MIRRORS (override the Debian archive roots \
read from /etc/apt), WASI_SDK_PATH (use this wasi-sdk), KILN_NO_INSTALL=1 (never install Debian \
packages: a build that needs one stops, naming it)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Never touch the network: everything must already be cached.
    #[arg(long, global = true)]
    pub offline: bool,
    /// Say more (cache hits, commands).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Use the wasi-sdk at PATH (else $WASI_SDK_PATH, else the pinned
    /// release, else Debian's LLVM).
    #[arg(long, global = true, value_name = "PATH")]
    pub wasi_sdk: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List recipes: interpreters and libraries, versions, flavours.
    List(list::ListArgs),
    /// Resolve the wasm toolchain, print it, and prove it with a C probe
    /// (setjmp/longjmp, file I/O, argv, env, clock) run under the embedded runtime.
    Toolchain(full::Toolchain),
    /// Download and verify an interpreter's pinned sources into the cache.
    Fetch(fetch::FetchArgs),
    /// Build an interpreter: fetch, unpack, patch, configure, make. Prints the module path.
    Build(build::BuildArgs),
    /// Run a built interpreter under the embedded Wasmtime (builds it first if needed).
    Run(full::Run),
    /// Serve a document root over HTTP/1.1 with the recipe's CGI program
    /// (php-cgi.wasm), one fresh instance per request.
    Serve(full::Serve),
    /// Run the interpreter's own upstream test suite under the embedded
    /// runtime and compare with the baseline in tests/baseline/.
    Test(full::Test),
    /// Release artifacts: post-processed .wasm (+ debug), -wasi.tar.gz,
    /// manifest, OCI image (layout + archive, platform wasi/wasm), SHA256SUMS.
    Release(release::ReleaseArgs),
    /// Show a module's kiln build-info, imports/exports and section sizes.
    Inspect(inspect::InspectArgs),
    /// Benchmarks: each workload on the wasm build and on a native build of
    /// the same tarball, interleaved; medians and wasm/native ratios.
    Bench(full::Bench),
    /// Remove target/kiln/ (build trees, outputs, logs). The download cache stays.
    Clean(clean::CleanArgs),
    /// Install the system packages kiln's builds and tests need (Debian,
    /// as root; prints the list first). `build` installs LLVM itself.
    Setup(setup::SetupArgs),
    /// containerd's runtime io.containerd.kiln.v1: `shim install` builds
    /// containerd-shim-kiln-v1 and puts it where containerd finds it.
    Shim(shim::ShimArgs),
    /// The stock wasmtime CLI pinned in recipes/toolchain.toml: installs it
    /// into the cache with cargo (once) and prints its path.
    WasmtimeCli(wasmtime_cli::WasmtimeCliArgs),
    /// Everything CI checks, with a timing table: setup, toolchain, fmt,
    /// clippy, then every test tier. The README's test command.
    Ci(full::Ci),
}

fn main() -> ExitCode {
    // Every wasmtime error captures a std backtrace when RUST_BACKTRACE is
    // set, and each guest's proc_exit travels as one: off unless asked for
    // (docs/measurements.md). Panics keep their backtraces.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List(a) => list::run(&cli.global, a),
        Command::Fetch(a) => fetch::run(&cli.global, a),
        Command::Build(a) => build::run(&cli.global, a),
        Command::Clean(a) => clean::run(&cli.global, a),
        Command::Release(a) => release::run(&cli.global, a),
        Command::Inspect(a) => inspect::run(&cli.global, a),
        Command::Setup(a) => setup::run(&cli.global, a),
        Command::Shim(a) => shim::run(&cli.global, a),
        Command::WasmtimeCli(a) => wasmtime_cli::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Toolchain(a) => toolchain::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Run(a) => run::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Serve(a) => serve::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Test(a) => test::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Bench(a) => bench::run(&cli.global, a),
        #[cfg(feature = "runtime")]
        Command::Ci(a) => ci::run(&cli.global, a),
        #[cfg(not(feature = "runtime"))]
        Command::Toolchain(_) | Command::Run(_) | Command::Serve(_) | Command::Test(_) | Command::Bench(_) | Command::Ci(_) => {
            relaunch::with_runtime()
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The checkout, its configuration (environment + global flags, read here
/// and nowhere else) and the progress owner.
pub fn project(g: &Global) -> anyhow::Result<kiln::project::Project> {
    let mut config = kiln::config::Config::from_env()?;
    config.offline = g.offline;
    if let Some(p) = &g.wasi_sdk {
        config.wasi_sdk = Some(p.clone());
    }
    let hint = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from);
    kiln::project::Project::open(hint.as_deref(), config, kiln::progress::Progress::new(false))
}

#[cfg(feature = "runtime")]
/// `K=V` from a repeatable flag (`--env`, `--ini`).
pub fn parse_kv(flag: &str, s: &str) -> anyhow::Result<(String, String)> {
    use anyhow::Context;
    let (k, v) = s.split_once('=').with_context(|| format!("{flag} {s:?}: expected K=V"))?;
    Ok((k.to_string(), v.to_string()))
}

#[cfg(feature = "runtime")]
/// `--dir HOST[::GUEST]` (guest path = host path when not given); the
/// host directory must exist.
pub fn parse_dir(d: &str) -> anyhow::Result<(PathBuf, String)> {
    let (host, guest) = d.split_once("::").unwrap_or((d, d));
    let hp = PathBuf::from(host);
    if !hp.is_dir() {
        anyhow::bail!("--dir {d}: {host} is not a directory");
    }
    Ok((hp, guest.to_string()))
}
