//! `containerd-shim-kiln-v1`: containerd's runtime `io.containerd.kiln.v1`.
//!
//! runwasi's `containerd-shim-wasm` does the containerd side: the task
//! API, the bundle's rootfs and mounts, the container (namespaces,
//! cgroups, pivot_root). In the container's init process it hands this
//! shim's [`KilnSandbox`] the OCI process; `kiln::container` runs the
//! entrypoint module on kiln's own runtime (the engine settings of
//! `cargo xtask run`, exceptions on) and its status becomes the
//! container's exit status.
//!
//! Compiled modules: kiln's on-disk cache (`$KILN_CACHE_DIR`, else
//! `~/.cache/kiln`, else `/var/cache/kiln`), shared with `cargo xtask
//! run`. The container's root hides it, so the shim opens the cache's
//! `modules/` directory at start-up and the container's process reaches
//! it through that descriptor (`/proc/self/fd/N`), which youki keeps open
//! (close-on-exec only) and the guest never sees.

use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Cli, Shim, Version};

/// The module cache, as the container's process can reach it.
static MODULE_CACHE: OnceLock<Option<PathBuf>> = OnceLock::new();

struct KilnShim;

impl Shim for KilnShim {
    fn name() -> &'static str {
        "kiln"
    }

    fn version() -> Version {
        Version {
            version: env!("CARGO_PKG_VERSION"),
            revision: option_env!("KILN_REVISION").unwrap_or("<none>"),
        }
    }

    type Sandbox = KilnSandbox;
}

#[derive(Default)]
struct KilnSandbox;

impl Sandbox for KilnSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let process = kiln::container::Process::current(ctx.args().to_vec(), ctx.envs().to_vec())?;
        let (bytes, what) = match module(ctx, &process) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("containerd-shim-kiln: {e:#}");
                return Err(e);
            }
        };
        let cache = match MODULE_CACHE.get().cloned().flatten() {
            Some(dir) => dir,
            // No cache reachable: compile into a scratch dir of the
            // container's own (slower, but correct).
            None => std::env::temp_dir().join("kiln-modules"),
        };
        let status = kiln::container::run(&bytes, &what, &process, &cache);
        if let Err(e) = &status {
            eprintln!("containerd-shim-kiln: {e:#}");
        }
        status
    }

    /// Runs in the container before it starts: the entrypoint must be a
    /// wasm module found as a command line names it (runwasi's default
    /// check opens a bare name like `php` relative to `/`).
    async fn can_handle(&self, ctx: &impl RuntimeContext) -> Result<()> {
        if let Source::Oci(_) = ctx.entrypoint().source {
            return Ok(());
        }
        let process = kiln::container::Process::current(ctx.args().to_vec(), ctx.envs().to_vec())?;
        let path = process.entrypoint()?;
        if !kiln::container::is_wasm_module(&path)? {
            bail!("{} is not a wasm module", path.display());
        }
        Ok(())
    }
}

/// The entrypoint's bytes: the image's wasm layer if it has one, else the
/// module file argv[0] names.
fn module(ctx: &impl RuntimeContext, process: &kiln::container::Process) -> Result<(Vec<u8>, String)> {
    let entry = ctx.entrypoint();
    if entry.func != "_start" {
        bail!("kiln runs a module's _start only, not #{}", entry.func);
    }
    match &entry.source {
        Source::Oci(_) => Ok((entry.source.as_bytes()?.into_owned(), "the image's wasm layer".into())),
        Source::File(_) => {
            let path = process.entrypoint()?;
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok((bytes, path.display().to_string()))
        }
    }
}

/// Open `<cache>/modules` and keep the descriptor for the container's
/// process (see the module doc). Failing that, containers still run.
fn open_module_cache() -> Option<PathBuf> {
    let cache = kiln::config::Config::from_env()
        .ok()
        .and_then(|c| c.cache_dir)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".cache/kiln"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/cache/kiln"));
    let dir = cache.join("modules");
    std::fs::create_dir_all(&dir).ok()?;
    // std opens with O_CLOEXEC: a Linux container's exec drops it.
    let fd = std::fs::File::open(&dir).ok()?.into_raw_fd();
    Some(PathBuf::from(format!("/proc/self/fd/{fd}")))
}

fn main() {
    MODULE_CACHE.get_or_init(open_module_cache);
    KilnShim::run(None);
}
