//! The embedded runner: Wasmtime + WASI preview 1 with Wasm exceptions on.
//!
//! * Compiled modules are cached on disk under `<cache>/modules/`, keyed by
//!   the module's sha256 and the engine's compatibility hash, so a second
//!   run deserialises instead of compiling (a stat-keyed index avoids
//!   re-hashing an unchanged module file).
//! * `proc_exit` is kiln's own: wasmtime-wasi's refuses statuses ≥ 126,
//!   but PHP exits 255 after a fatal error, so the guest's exact status is
//!   carried out as [`GuestExit`].
//! * Each run gets a fresh `Store` on a thread with a large native stack;
//!   optional epoch deadline (timeout) and memory cap.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};

use crate::config::{Config as KilnConfig, Profiler};
use crate::fsutil::write_atomic;
pub use wasmtime::Module;
use wasmtime::{Config, Engine, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The guest called `proc_exit(code)`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("guest exited with status {0}")]
pub struct GuestExit(pub i32);

/// Epoch tick length used for timeouts.
const TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Largest wasm stack a guest may use, bytes.
    pub max_wasm_stack: usize,
    /// Enable epoch interruption (needed for timeouts and guest deadlines).
    pub interruptible: bool,
    /// Name guest functions for `perf`.
    pub profiler: Option<Profiler>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_wasm_stack: 16 << 20,
            interruptible: true,
            profiler: None,
        }
    }
}

/// What an engine is for. [`EngineOptions::for_use`] is the one place that
/// turns a use into engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `cargo xtask run`, with or without `--timeout`.
    Run { timeout: bool },
    /// Conformance suites: every test has a time limit.
    Test,
    /// `cargo xtask bench`: exactly what `run` gets without `--timeout`.
    Bench,
    /// Serving requests: every request has a time limit.
    Serve,
    /// The toolchain probe.
    Probe,
}

/// The export through which a guest publishes its own deadline cell
/// (PHP's max_execution_time, patch 0004); see `GuestDeadline`.
pub const DEADLINE_EXPORT: &str = "kiln_deadline_cell";

impl EngineOptions {
    /// The engine `run` gives a module known only by its bytes (a
    /// container image's entrypoint, without its recipe): epoch checks iff
    /// the module exports [`DEADLINE_EXPORT`], which is what a recipe's
    /// `[run] guest_deadline` stands for. Same settings, same cache keys.
    pub fn for_module(bytes: &[u8]) -> Result<EngineOptions> {
        use wasmparser::{Parser, Payload};
        let mut interruptible = false;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.context("not a valid wasm module")? {
                Payload::ExportSection(r) => {
                    for e in r {
                        interruptible |= e.context("not a valid wasm module")?.name == DEADLINE_EXPORT;
                    }
                }
                // Exports precede code: the rest need not be read.
                Payload::CodeSectionStart { .. } => break,
                _ => {}
            }
        }
        Ok(EngineOptions {
            interruptible,
            ..Default::default()
        })
    }

    /// Epoch checks cost (docs/measurements.md), so they are on only where a
    /// deadline needs them: a run with
    /// `--timeout`, a recipe whose guest polls its own deadline
    /// (`[run] guest_deadline`, PHP's max_execution_time), and every test
    /// and request. The pooling allocator made no measurable difference to
    /// a conformance run and is not used (docs/measurements.md).
    pub fn for_use(u: Use, run: &crate::recipe::Run, config: &KilnConfig) -> EngineOptions {
        let interruptible = match u {
            Use::Run { timeout } => timeout || run.guest_deadline,
            Use::Bench => run.guest_deadline,
            Use::Test | Use::Serve | Use::Probe => true,
        };
        EngineOptions {
            interruptible,
            profiler: config.profiler,
            ..Default::default()
        }
    }
}

/// Shared engine + on-disk module cache.
pub struct Runtime {
    engine: Engine,
    cache_dir: PathBuf,
    linker: Linker<Host>,
    ticker_stop: Arc<AtomicBool>,
    interruptible: bool,
    /// Print cache hits/misses and timings to stderr.
    pub verbose: bool,
    /// Runs of a snapshot [`Program`]: resumed, and started from scratch
    /// because the check said no.
    snapshot_runs: Arc<[std::sync::atomic::AtomicUsize; 2]>,
}

pub struct Host {
    wasi: WasiP1Ctx,
    limits: Limiter,
}

/// Where the guest's stdio goes.
#[derive(Debug, Clone, Default)]
pub enum Stdio {
    #[default]
    Inherit,
    /// Captured in memory (stdout/stderr) or fed from bytes (stdin).
    Bytes(Vec<u8>),
    Null,
    /// stderr only: interleave into the captured stdout (like `2>&1`).
    Merged,
}

#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// argv, argv[0] included.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// (host dir, guest path) preopens.
    pub dirs: Vec<(PathBuf, String)>,
    pub stdin: Stdio,
    /// `Stdio::Bytes(_)` = capture.
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub timeout: Option<Duration>,
    /// Cap on linear memory, bytes.
    pub memory_limit: Option<usize>,
    /// Give the guest the parent directories of its mapped paths (a
    /// read-only skeleton at `/`); see `Runtime::skeleton_root`.
    pub root_skeleton: bool,
}

impl RunSpec {
    /// Map the writable host directory `host` as the guest's `/` (and so
    /// its working directory: WASI programs start in `/`), creating inside
    /// it the parent directories of every other mapped guest path, so the
    /// guest can walk from `/` to them (realpath, makedirs).
    pub fn writable_root(&mut self, host: &Path) -> Result<()> {
        for (_, g) in &self.dirs {
            if let Some(parent) = g.strip_prefix('/').and_then(|g| Path::new(g).parent()) {
                let d = host.join(parent);
                fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            }
        }
        self.dirs.retain(|(_, g)| g != "/");
        self.dirs.push((host.to_path_buf(), "/".into()));
        Ok(())
    }

    /// The one guest-path rule: the host's current directory is mapped both
    /// as `.` and at its own absolute path, so relative paths and paths
    /// made absolute from the working directory reach the same files, and
    /// named in `PWD` (kiln's WASI shims change into it at start). A
    /// recipe whose interpreter makes relative script paths absolute
    /// against WASI's initial `/` names `[run] chdir_args` (Ruby: `-C
    /// {cwd}`), inserted after argv0, so it changes there first.
    pub fn with_cwd(mut self, cwd: &Path, run: &crate::recipe::Run) -> RunSpec {
        let guest = cwd.display().to_string();
        // Named as a shell names it; kiln's WASI shims change into it
        // (wasi-libc itself starts in `/`).
        self.env.retain(|(k, _)| k != "PWD");
        self.env.push(("PWD".into(), guest.clone()));
        self.dirs.push((cwd.to_path_buf(), ".".into()));
        if guest != "/" {
            self.dirs.push((cwd.to_path_buf(), guest.clone()));
        }
        let extra: Vec<String> = run.chdir_args.iter().map(|a| a.replace("{cwd}", &guest)).collect();
        let at = self.argv.len().min(1);
        self.argv.splice(at..at, extra);
        self
    }

    /// A private, empty `/tmp` for the guest, as a container has one,
    /// unless a mapped directory is already `/tmp`, and `TMPDIR=/tmp`
    /// unless set (wasi-libc has no `P_tmpdir`, so PHP's
    /// `sys_get_temp_dir()` is otherwise empty). The returned directory
    /// must outlive the run; it is deleted when dropped.
    pub fn with_private_tmp(mut self) -> std::io::Result<(RunSpec, Option<tempfile::TempDir>)> {
        let mut dir = None;
        if !self.dirs.iter().any(|(_, g)| g.trim_end_matches('/') == "/tmp") {
            let d = tempfile::Builder::new().prefix("kiln-guest-tmp-").tempdir()?;
            self.dirs.push((d.path().to_path_buf(), "/tmp".into()));
            dir = Some(d);
        }
        if !self.env.iter().any(|(k, _)| k == "TMPDIR") {
            self.env.push(("TMPDIR".into(), "/tmp".into()));
        }
        Ok((self, dir))
    }

    /// A recipe's `[run]`: argv0 and its fixed args, its environment, and
    /// its output-tree directories mapped at their guest paths (`out` is
    /// the build's output tree). Stdio defaults to null/capture.
    pub fn for_recipe(run: &crate::recipe::Run, out: &Path) -> RunSpec {
        let mut argv = vec![run.argv0.clone()];
        argv.extend(run.args.iter().cloned());
        RunSpec {
            argv,
            env: run.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            dirs: run.dirs.iter().map(|(host, guest)| (out.join(host), guest.clone())).collect(),
            root_skeleton: run.root_skeleton,
            ..Default::default()
        }
    }
}

/// What a run starts: a module, or a pre-initialised snapshot of it (see
/// [`Runtime::preinitialize`]) whose instance first answers `check`; when
/// it says the run's arguments and environment select another start-up
/// than the snapshot captured, the run starts `module` from scratch.
#[derive(Clone)]
pub enum Program {
    Module(Module),
    Snapshot {
        snapshot: Module,
        check: String,
        /// The module itself, loaded when a run first needs it.
        wasm: PathBuf,
        module: Arc<std::sync::OnceLock<Module>>,
    },
}

impl Program {
    /// The module a plain run starts.
    pub fn module(&self, rt: &Runtime) -> Result<Module> {
        match self {
            Program::Module(m) => Ok(m.clone()),
            Program::Snapshot { wasm, module, .. } => {
                if let Some(m) = module.get() {
                    return Ok(m.clone());
                }
                let m = rt.load(wasm)?;
                Ok(module.get_or_init(|| m).clone())
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Exit status: the guest's `proc_exit`, 0 if `_start` returned.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The run resumed from a snapshot (false: the module ran from
    /// scratch).
    pub resumed: bool,
    /// Set when the guest trapped (status is then 134).
    pub trap: Option<String>,
    pub timed_out: bool,
    /// The memory cap refused a grow during the run.
    pub hit_memory_limit: bool,
    pub elapsed: Duration,
    /// Of `elapsed`: setting up the store and instantiating the module
    /// (wasm only; zero natively).
    pub instantiate: Duration,
}

impl Runtime {
    pub fn new(cache_dir: &Path, opts: &EngineOptions) -> Result<Runtime> {
        let mut config = Config::new();
        config.wasm_exceptions(true);
        // Wasmtime insists the async stack (unused here) be the larger one.
        config.async_stack_size(opts.max_wasm_stack + (1 << 20));
        config.max_wasm_stack(opts.max_wasm_stack);
        config.epoch_interruption(opts.interruptible);
        config.memory_init_cow(true);
        // `KILN_WASM_PROFILER=perfmap` (or `jitdump`): let `perf` name the
        // guest's compiled functions.
        match opts.profiler {
            Some(Profiler::PerfMap) => {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            Some(Profiler::JitDump) => {
                config.profiler(wasmtime::ProfilingStrategy::JitDump);
            }
            None => {}
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let mut linker: Linker<Host> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi).map_err(anyhow::Error::from)?;
        linker.allow_shadowing(true);
        linker
            .func_wrap(
                "wasi_snapshot_preview1",
                "proc_exit",
                |_: wasmtime::Caller<'_, Host>, code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(GuestExit(code))) },
            )
            .map_err(anyhow::Error::from)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        if opts.interruptible {
            let e = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new().name("kiln-epoch".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    e.increment_epoch();
                }
            })?;
        }
        Ok(Runtime {
            engine,
            cache_dir: cache_dir.to_path_buf(),
            linker,
            ticker_stop,
            interruptible: opts.interruptible,
            verbose: false,
            snapshot_runs: Arc::default(),
        })
    }

    fn compat_hash(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    }

    /// sha256 of a module file, memoised by (path, size, mtime).
    fn module_sha(&self, wasm: &Path) -> Result<String> {
        let meta = fs::metadata(wasm).with_context(|| format!("reading {}", wasm.display()))?;
        let canon = fs::canonicalize(wasm)?;
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let stat_key = crate::fsutil::sha256_bytes(format!("{}|{}|{mtime}", canon.display(), meta.len()).as_bytes());
        let memo = self.cache_dir.join("index").join(&stat_key[..32]);
        if let Ok(s) = fs::read_to_string(&memo) {
            if s.len() == 64 {
                return Ok(s);
            }
        }
        let sha = crate::fsutil::sha256_file(wasm)?;
        let _ = fs::create_dir_all(memo.parent().expect("has parent"));
        let _ = write_atomic(&memo, sha.as_bytes());
        Ok(sha)
    }

    /// Load a module, from the compiled cache when possible.
    pub fn load(&self, wasm: &Path) -> Result<Module> {
        let sha = self.module_sha(wasm)?;
        self.load_keyed(&sha, &wasm.display().to_string(), || Module::from_file(&self.engine, wasm))
    }

    /// Load a module given as bytes (a container's entrypoint), keyed by
    /// their sha256 in the same cache as [`Runtime::load`]: a module that
    /// `run` compiled is a hit here, and the other way round.
    pub fn load_bytes(&self, bytes: &[u8], what: &str) -> Result<Module> {
        let sha = crate::fsutil::sha256_bytes(bytes);
        self.load_keyed(&sha, what, || Module::new(&self.engine, bytes))
    }

    fn load_keyed(&self, sha: &str, what: &str, compile: impl FnOnce() -> wasmtime::Result<Module>) -> Result<Module> {
        let t = Instant::now();
        let cached = self.cache_dir.join(format!("{sha}-{:016x}.cwasm", self.compat_hash()));
        if cached.is_file() {
            // SAFETY: the file was written by `Module::serialize` of this
            // very engine configuration (the name carries the engine's
            // compatibility hash) into kiln's private cache via an atomic
            // rename; wasmtime also checks the header before use.
            #[allow(unsafe_code)]
            let m = unsafe { Module::deserialize_file(&self.engine, &cached) };
            match m {
                Ok(m) => {
                    if self.verbose {
                        eprintln!(
                            "kiln: module cache hit {} ({:.1} ms)",
                            cached.display(),
                            t.elapsed().as_secs_f64() * 1e3
                        );
                    }
                    return Ok(m);
                }
                Err(e) => eprintln!("kiln: ignoring unusable cached module {}: {e}", cached.display()),
            }
        }
        if self.verbose {
            eprintln!("kiln: compiling {what} (not in the module cache)");
        }
        let m = compile()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {what}"))?;
        let bytes = m.serialize().map_err(anyhow::Error::from)?;
        fs::create_dir_all(&self.cache_dir)?;
        write_atomic(&cached, &bytes)?;
        if self.verbose {
            eprintln!(
                "kiln: compiled in {:.2} s, cached at {}",
                t.elapsed().as_secs_f64(),
                cached.display()
            );
        }
        Ok(m)
    }

    /// Run `module`'s `_start` once in a fresh store, on a thread with a
    /// large native stack.
    pub fn run(&self, module: &Module, spec: &RunSpec) -> Result<Outcome> {
        self.run_program(&Program::Module(module.clone()), spec)
    }

    /// Of the snapshot [`Program`] runs so far: how many resumed, and how
    /// many started from scratch because their command line or environment
    /// did not fit the snapshot.
    pub fn snapshot_runs(&self) -> (usize, usize) {
        let [resumed, from_scratch] = &*self.snapshot_runs;
        (resumed.load(Ordering::Relaxed), from_scratch.load(Ordering::Relaxed))
    }

    /// Run a [`Program`]: a snapshot's instance that fits the spec resumes,
    /// otherwise the module runs from scratch in a fresh store.
    pub fn run_program(&self, program: &Program, spec: &RunSpec) -> Result<Outcome> {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("kiln-guest".into())
                .stack_size(256 << 20)
                .spawn_scoped(s, || match program {
                    Program::Module(m) => Ok(self.run_here(m, spec, None)?.expect("no check, an outcome")),
                    Program::Snapshot { snapshot, check, .. } => match self.run_here(snapshot, spec, Some(check))? {
                        Some(o) => {
                            self.snapshot_runs[0].fetch_add(1, Ordering::Relaxed);
                            Ok(o)
                        }
                        None => {
                            self.snapshot_runs[1].fetch_add(1, Ordering::Relaxed);
                            Ok(self.run_here(&program.module(self)?, spec, None)?.expect("no check, an outcome"))
                        }
                    },
                })
                .expect("spawning the guest thread")
                .join()
                .unwrap_or_else(|_| Err(anyhow!("the guest thread panicked")))
        })
    }

    /// With `root_skeleton`, a guest sees the parents of its mapped
    /// directories, as in a container: with `/usr/local/lib` mapped and
    /// nothing at `/`, `/usr` would not exist, and a realpath() walking up
    /// from the root fails (CRuby's does, at start-up). So unless the spec
    /// maps `/` itself, a read-only skeleton holding just those parent
    /// directories is mapped there; the longer, real preopens still win for
    /// their paths. It is opt-in (recipe `[run] root_skeleton`) because a
    /// program that makes relative paths absolute against its cwd (`/` on
    /// WASI), as PHP does without a `PWD` to change into, would then write
    /// into the read-only skeleton instead of the `.` preopen. The skeleton
    /// is cached by its shape.
    fn skeleton_root(&self, spec: &RunSpec) -> Result<Option<PathBuf>> {
        if !spec.root_skeleton || spec.dirs.iter().any(|(_, g)| g == "/") {
            return Ok(None);
        }
        let mut parents: Vec<String> = spec
            .dirs
            .iter()
            .filter_map(|(_, g)| g.strip_prefix('/'))
            .filter_map(|g| Path::new(g).parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .collect();
        parents.sort();
        parents.dedup();
        if parents.is_empty() {
            return Ok(None);
        }
        let key = hex::encode(&Sha256::digest(parents.join("\n").as_bytes())[..8]);
        let root = self.cache_dir.join("roots").join(key);
        if !root.is_dir() {
            let tmp = self.cache_dir.join("roots").join(format!(".tmp-{}", std::process::id()));
            for p in &parents {
                std::fs::create_dir_all(tmp.join(p)).with_context(|| format!("creating {}", tmp.join(p).display()))?;
            }
            // Another process may have made it meanwhile: either is fine.
            if std::fs::rename(&tmp, &root).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        Ok(Some(root))
    }

    /// A fresh store for one guest: WASI context from `spec` (arguments,
    /// environment, directories, stdio; captured output goes to the two
    /// pipes returned) and its memory cap.
    fn new_store(&self, spec: &RunSpec) -> Result<(Store<Host>, MemoryOutputPipe, MemoryOutputPipe)> {
        let mut b = WasiCtxBuilder::new();
        // Each guest runs synchronously on its own thread: let blocking WASI
        // calls (file opens, reads) block it instead of hopping to a tokio
        // worker and back for every call.
        b.allow_blocking_current_thread(true);
        b.args(&spec.argv);
        for (k, v) in &spec.env {
            b.env(k, v);
        }
        for (host, guest) in &spec.dirs {
            b.preopened_dir(host, guest, FsPerms::ReadWrite)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("preopening {} as {guest}", host.display()))?;
        }
        if let Some(root) = self.skeleton_root(spec)? {
            b.preopened_dir(&root, "/", FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("preopening {} as /", root.display()))?;
        }
        match &spec.stdin {
            Stdio::Inherit => {
                b.inherit_stdin();
            }
            Stdio::Bytes(d) => {
                b.stdin(MemoryInputPipe::new(d.clone()));
            }
            Stdio::Null | Stdio::Merged => {}
        }
        let out_pipe = MemoryOutputPipe::new(usize::MAX / 2);
        let err_pipe = MemoryOutputPipe::new(usize::MAX / 2);
        match spec.stdout {
            Stdio::Inherit => {
                b.inherit_stdout();
            }
            Stdio::Bytes(_) => {
                b.stdout(out_pipe.clone());
            }
            Stdio::Null | Stdio::Merged => {}
        }
        match spec.stderr {
            Stdio::Inherit => {
                b.inherit_stderr();
            }
            Stdio::Bytes(_) => {
                b.stderr(err_pipe.clone());
            }
            Stdio::Merged => {
                b.stderr(out_pipe.clone());
            }
            Stdio::Null => {}
        }
        let host = Host {
            wasi: b.build_p1(),
            limits: Limiter {
                max: spec.memory_limit,
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limits);
        Ok((store, out_pipe, err_pipe))
    }

    /// One run in a fresh store. With `check` (a snapshot's), the export is
    /// called first, and a zero answer ends the run before it starts:
    /// `Ok(None)`.
    fn run_here(&self, module: &Module, spec: &RunSpec, check: Option<&str>) -> Result<Option<Outcome>> {
        let start = Instant::now();
        let (mut store, out_pipe, err_pipe) = self.new_store(spec)?;
        let deadline_ticks = spec.timeout.map(|t| (t.as_millis() / TICK.as_millis()).max(1) as u64);
        if self.interruptible {
            // Until the callback below takes over (instantiation and the
            // deadline-cell lookup run guest code too).
            store.set_epoch_deadline(deadline_ticks.unwrap_or(u64::MAX / 2));
            store.epoch_deadline_trap();
        }
        let mut outcome = Outcome::default();
        let result = self.linker.instantiate(&mut store, module).and_then(|inst| {
            outcome.instantiate = start.elapsed();
            if self.interruptible {
                let cell = GuestDeadline::find(&inst, &mut store)?;
                // Called on every epoch tick: the run's own timeout, then
                // the guest's cooperative deadline, if it exports one.
                let mut ticks = 0u64;
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(move |mut ctx| {
                    ticks += 1;
                    if deadline_ticks.is_some_and(|limit| ticks >= limit) {
                        return Ok(wasmtime::UpdateDeadline::Interrupt);
                    }
                    if let Some(cell) = &cell {
                        cell.poll(&mut ctx);
                    }
                    Ok(wasmtime::UpdateDeadline::Continue(1))
                });
            }
            if let Some(check) = check {
                if inst.get_typed_func::<(), i32>(&mut store, check)?.call(&mut store, ())? == 0 {
                    return Ok(false);
                }
            }
            inst.get_typed_func::<(), ()>(&mut store, "_start")?.call(&mut store, ())?;
            Ok(true)
        });
        outcome.resumed = check.is_some();
        let result = match result {
            Ok(false) => return Ok(None),
            Ok(true) => Ok(()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => outcome.status = 0,
            Err(e) => {
                if let Some(GuestExit(code)) = e.downcast_ref::<GuestExit>() {
                    outcome.status = *code;
                } else if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    outcome.status = exit.0;
                } else {
                    let interrupted = matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt));
                    outcome.timed_out = interrupted && deadline_ticks.is_some();
                    outcome.status = 134;
                    outcome.trap = Some(if outcome.timed_out {
                        format!("timed out after {:.1}s", spec.timeout.unwrap_or_default().as_secs_f64())
                    } else {
                        format!("{e:#}")
                    });
                }
            }
        }
        outcome.hit_memory_limit = store.data().limits.hit;
        drop(store);
        outcome.stdout = out_pipe.contents().to_vec();
        outcome.stderr = err_pipe.contents().to_vec();
        outcome.elapsed = start.elapsed();
        Ok(Some(outcome))
    }
}

/// How to pre-initialise a module (wasmtime's Wizer): run `init` once,
/// snapshot memory and globals into a new module whose `_start` is
/// `resume`.
#[derive(Debug, Clone)]
pub struct Preinit {
    pub init: String,
    pub resume: String,
    /// What the initialisation reads from the host directories (the ini
    /// files it loads): with the module, the export names and the spec's
    /// arguments, environment and guest paths, the snapshot's cache key.
    pub key_extra: Vec<u8>,
    /// Guest functions allowed to ask for entropy during the
    /// initialisation, because the module replaces what they drew when it
    /// resumes. Any other caller refuses the snapshot.
    pub entropy_callers: Vec<String>,
}

/// Why a snapshot was not made (the caller runs the module as it is).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An instance and its store, as Wizer reads them.
struct Snapshotting<'a> {
    store: &'a mut Store<Host>,
    instance: wasmtime::Instance,
}

impl wasmtime_wizer::InstanceState for Snapshotting<'_> {
    async fn global_get(&mut self, name: &str, _: wasmtime_wizer::ValType) -> wasmtime_wizer::SnapshotVal {
        use wasmtime_wizer::SnapshotVal as S;
        let g = self.instance.get_global(&mut *self.store, name).expect("an exported global");
        match g.get(&mut *self.store) {
            wasmtime::Val::I32(x) => S::I32(x),
            wasmtime::Val::I64(x) => S::I64(x),
            wasmtime::Val::F32(x) => S::F32(x),
            wasmtime::Val::F64(x) => S::F64(x),
            wasmtime::Val::V128(x) => S::V128(x.as_u128()),
            other => panic!("global {name}: a {other:?} cannot be snapshotted"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let m = self.instance.get_memory(&mut *self.store, name).expect("an exported memory");
        contents(m.data(&*self.store))
    }
}

impl Runtime {
    /// `wasm` pre-initialised for `spec` (see [`Preinit`]), from the cache
    /// when the same module, spec and extra key were snapshotted before.
    /// The initialisation runs with `spec`'s arguments, environment and
    /// directories. The snapshot is refused (`Ok(Err(_))`), not made, when
    /// the initialisation fails or asks for entropy (`random_get`) from
    /// anywhere but `entropy_callers`: a random state captured in a
    /// snapshot would be shared by every instance of it.
    pub fn preinitialize(&self, wasm: &Path, spec: &RunSpec, p: &Preinit) -> Result<std::result::Result<Module, Refused>> {
        let sha = self.module_sha(wasm)?;
        let mut key = Sha256::new();
        key.update(b"kiln-preinit-1\0");
        for part in [sha.as_str(), p.init.as_str(), p.resume.as_str()] {
            key.update(part.as_bytes());
            key.update(b"\0");
        }
        for a in &spec.argv {
            key.update(format!("arg={a}\0").as_bytes());
        }
        for (k, v) in &spec.env {
            key.update(format!("env={k}={v}\0").as_bytes());
        }
        // Guest paths only: what the initialisation reads from the host
        // directories is the caller's to name in `key_extra`.
        for (_, g) in &spec.dirs {
            key.update(format!("dir={g}\0").as_bytes());
        }
        key.update(&p.key_extra);
        let dir = self.cache_dir.join("snapshots");
        let out = dir.join(format!("{}.wasm", hex::encode(&key.finalize()[..16])));
        if out.is_file() {
            return Ok(Ok(self.load(&out)?));
        }
        fs::create_dir_all(&dir)?;
        let mut wizer = wasmtime_wizer::Wizer::new();
        wizer.init_func(p.init.clone());
        wizer.func_rename("_start", &p.resume);
        let bytes = fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
        let (cx, instrumented) = wizer
            .instrument(&bytes)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("instrumenting {} for a snapshot", wasm.display()))?;
        // Compiled through the module cache: later snapshots of the same
        // module (other settings) reuse it.
        let inst_path = dir.join(format!("instrumented-{sha}-{}.wasm", p.init));
        if !inst_path.is_file() {
            write_atomic(&inst_path, &instrumented)?;
        }
        let module = self.load(&inst_path)?;
        // random_get during the initialisation: served from the host's
        // entropy either way; a caller outside `entropy_callers` is
        // recorded, and refuses the snapshot once the init has run (all
        // such callers are named).
        let refused_by: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let mut linker = self.linker.clone();
        let seen = refused_by.clone();
        let allowed = p.entropy_callers.clone();
        linker
            .func_wrap(
                "wasi_snapshot_preview1",
                "random_get",
                move |mut caller: wasmtime::Caller<'_, Host>, buf: i32, len: i32| -> wasmtime::Result<i32> {
                    let bt = wasmtime::WasmBacktrace::capture(&caller);
                    let names: Vec<&str> = bt.frames().iter().filter_map(|f| f.func_name()).collect();
                    if !names.iter().any(|n| allowed.iter().any(|a| a == n)) {
                        let chain = names.iter().skip(1).take(6).copied().collect::<Vec<_>>().join(" < ");
                        let mut seen = seen.lock().expect("entropy record");
                        if !seen.contains(&chain) {
                            seen.push(chain);
                        }
                    }
                    let mut bytes = vec![0u8; len.max(0) as usize];
                    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom")?, &mut bytes)?;
                    let Some(wasmtime::Extern::Memory(m)) = caller.get_export("memory") else {
                        return Err(wasmtime::Error::msg("random_get: the guest exports no memory"));
                    };
                    m.write(&mut caller, buf as u32 as usize, &bytes)?;
                    Ok(0)
                },
            )
            .map_err(anyhow::Error::from)?;
        let spec = RunSpec {
            stdin: Stdio::Null,
            stdout: Stdio::Bytes(Vec::new()),
            stderr: Stdio::Merged,
            ..spec.clone()
        };
        let (mut store, out_pipe, _) = self.new_store(&spec)?;
        if self.interruptible {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let ran = linker.instantiate(&mut store, &module).and_then(|inst| {
            inst.get_typed_func::<(), ()>(&mut store, &p.init)?.call(&mut store, ())?;
            Ok(inst)
        });
        let output = String::from_utf8_lossy(&out_pipe.contents()).trim().to_string();
        let by = std::mem::take(&mut *refused_by.lock().expect("entropy record"));
        if !by.is_empty() {
            return Ok(Err(Refused(format!(
                "{} drew entropy during {} ({}): a snapshot would share its random state",
                wasm.display(),
                p.init,
                by.join("; ")
            ))));
        }
        let instance = match ran {
            Ok(i) => i,
            Err(e) => return Ok(Err(Refused(format!("{} failed: {e:#} {output}", p.init)))),
        };
        let snapshot = tokio::runtime::Builder::new_current_thread()
            .build()?
            .block_on(wizer.snapshot(
                &cx,
                &mut Snapshotting {
                    store: &mut store,
                    instance,
                },
            ))
            .map_err(|e| anyhow!("{e:#}"))
            .context("snapshotting")?;
        drop(store);
        write_atomic(&out, &snapshot)?;
        Ok(Ok(self.load(&out)?))
    }
}

impl Runtime {
    /// What `run`, `bench` and `test` start for a recipe's module (`wasm`,
    /// built into `out`) under the spec `live`: with `[run.snapshot]`, a
    /// snapshot taken after the start-up of `argv0`, the recipe's arguments
    /// and `init_args`, with the recipe's environment and directories (a
    /// caller that shares a longer fixed command line, like a test runner,
    /// passes it as `init_args`, so that its runs fit). The snapshot is
    /// cached by its inputs, the `reads` files among them. A spec that maps
    /// one of the recipe's guest paths to another host directory starts
    /// from scratch, as does every run when the snapshot is refused; the
    /// note says why.
    pub fn program(
        &self,
        wasm: &Path,
        run: &crate::recipe::Run,
        out: &Path,
        live: &RunSpec,
        init_args: &[String],
    ) -> Result<(Program, Option<String>)> {
        let Some(snap) = &run.snapshot else {
            return Ok((Program::Module(self.load(wasm)?), None));
        };
        let mut init = RunSpec::for_recipe(run, out);
        init.argv.extend(init_args.iter().cloned());
        init.env.extend(snap.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some((h, g)) = init.dirs.iter().find(|(h, g)| !live.dirs.iter().any(|(lh, lg)| lg == g && lh == h)) {
            let note = format!("no snapshot: the run does not map {} as {g}, as start-up saw it", h.display());
            return Ok((Program::Module(self.load(wasm)?), Some(note)));
        }
        let mut key_extra = Vec::new();
        for r in &snap.reads {
            key_extra.extend(format!("read {r}\0").as_bytes());
            hash_tree(&out.join(r), &mut key_extra)?;
        }
        let p = Preinit {
            init: snap.init.clone(),
            resume: snap.resume.clone(),
            key_extra,
            entropy_callers: snap.entropy_callers.clone(),
        };
        let check = snap.check.clone().expect("validated: [run.snapshot] has check");
        match self.preinitialize(wasm, &init, &p)? {
            Ok(snapshot) => Ok((
                Program::Snapshot {
                    snapshot,
                    check,
                    wasm: wasm.to_path_buf(),
                    module: Arc::default(),
                },
                None,
            )),
            Err(Refused(why)) => Ok((Program::Module(self.load(wasm)?), Some(format!("no snapshot: {why}")))),
        }
    }
}

/// Append what identifies `path`'s contents to `key`: a file's sha256, a
/// directory's entries in order, or that nothing is there.
fn hash_tree(path: &Path, key: &mut Vec<u8>) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            key.extend(b"absent\0");
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if meta.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .with_context(|| format!("listing {}", path.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        for n in names {
            key.extend(format!("entry {}\0", n.to_string_lossy()).as_bytes());
            hash_tree(&path.join(n), key)?;
        }
    } else {
        key.extend(crate::fsutil::sha256_file(path)?.as_bytes());
        key.push(0);
    }
    Ok(())
}

/// A guest's cooperative timer (WASI has no timer signals). A module may
/// export `kiln_deadline_cell() -> i32`, the address of
/// `{ i64 deadline_ms; u32 flag_addr[2] }`: while `deadline_ms` (wall clock,
/// milliseconds since the epoch) is non-zero and has passed, the runtime
/// stores the byte 1 at each non-zero flag address and clears
/// `deadline_ms`. PHP's `max_execution_time` uses it (patch 0004): the
/// flags are `EG(timed_out)` and `EG(vm_interrupt)`.
struct GuestDeadline {
    memory: wasmtime::Memory,
    cell: usize,
}

impl GuestDeadline {
    fn find(inst: &wasmtime::Instance, store: &mut Store<Host>) -> wasmtime::Result<Option<GuestDeadline>> {
        let (Some(f), Some(memory)) = (
            inst.get_typed_func::<(), i32>(&mut *store, DEADLINE_EXPORT).ok(),
            inst.get_memory(&mut *store, "memory"),
        ) else {
            return Ok(None);
        };
        let cell = f.call(&mut *store, ())? as u32 as usize;
        Ok(Some(GuestDeadline { memory, cell }))
    }

    fn poll(&self, ctx: &mut wasmtime::StoreContextMut<'_, Host>) {
        let data = self.memory.data_mut(&mut *ctx);
        let Some(cell) = data.get(self.cell..self.cell + 16) else {
            return;
        };
        let deadline = i64::from_le_bytes(cell[..8].try_into().expect("8 bytes"));
        if deadline == 0 {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if now < deadline {
            return;
        }
        let flags = [
            u32::from_le_bytes(cell[8..12].try_into().expect("4 bytes")) as usize,
            u32::from_le_bytes(cell[12..16].try_into().expect("4 bytes")) as usize,
        ];
        data[self.cell..self.cell + 8].fill(0);
        for f in flags.into_iter().filter(|&f| f != 0) {
            if let Some(b) = data.get_mut(f) {
                *b = 1;
            }
        }
    }
}

/// Memory cap that remembers whether it refused a grow.
struct Limiter {
    max: Option<usize>,
    hit: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if self.max.is_some_and(|m| desired > m) {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Run a spec as a native process instead of a guest: `binary` replaces
/// argv[0] (followed by `pre_args`), and guest paths in the arguments and
/// environment are translated through the spec's mapped directories
/// (longest guest prefix wins; `.` becomes the working directory). The
/// same `Outcome` comes back; a signal counts as a trap (status 128+N).
/// The memory cap does not apply natively.
pub fn run_native(binary: &Path, pre_args: &[String], spec: &RunSpec) -> Result<Outcome> {
    use std::io::{Read, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio as PStdio};
    let start = Instant::now();
    let translate = |arg: &str| -> String {
        let best = spec
            .dirs
            .iter()
            .filter(|(_, g)| g.starts_with('/'))
            .filter(|(_, g)| {
                let g = g.trim_end_matches('/');
                arg == g || arg.starts_with(&format!("{g}/")) || g.is_empty()
            })
            .max_by_key(|(_, g)| g.len());
        match best {
            Some((host, g)) => {
                let rest = arg[g.trim_end_matches('/').len()..].trim_start_matches('/');
                if rest.is_empty() {
                    host.display().to_string()
                } else {
                    host.join(rest).display().to_string()
                }
            }
            None => arg.to_string(),
        }
    };
    let mut cmd = Command::new(binary);
    cmd.args(pre_args);
    cmd.args(
        spec.argv
            .iter()
            .skip(1)
            .map(|a| if a.starts_with('/') { translate(a) } else { a.clone() }),
    );
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in &spec.env {
        cmd.env(k, if v.starts_with('/') { translate(v) } else { v.clone() });
    }
    if let Some((host, _)) = spec.dirs.iter().rev().find(|(_, g)| g == ".") {
        cmd.current_dir(host);
    }
    cmd.stdin(match spec.stdin {
        Stdio::Inherit => PStdio::inherit(),
        Stdio::Bytes(_) => PStdio::piped(),
        _ => PStdio::null(),
    });
    let (mut out_r, out_w) = std::io::pipe()?;
    let (mut err_r, err_w) = std::io::pipe()?;
    let capture_out = matches!(spec.stdout, Stdio::Bytes(_));
    match spec.stdout {
        Stdio::Inherit => cmd.stdout(PStdio::inherit()),
        Stdio::Bytes(_) => cmd.stdout(out_w.try_clone()?),
        _ => cmd.stdout(PStdio::null()),
    };
    match spec.stderr {
        Stdio::Inherit => cmd.stderr(PStdio::inherit()),
        Stdio::Merged => cmd.stderr(out_w.try_clone()?),
        Stdio::Bytes(_) => cmd.stderr(err_w.try_clone()?),
        Stdio::Null => cmd.stderr(PStdio::null()),
    };
    let mut child = cmd.spawn().with_context(|| format!("starting {}", binary.display()))?;
    drop(cmd);
    drop(out_w);
    drop(err_w);
    if let (Stdio::Bytes(data), Some(mut stdin)) = (&spec.stdin, child.stdin.take()) {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data));
    }
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_r.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_r.read_to_end(&mut v);
        v
    });
    let mut timed_out = false;
    // Polled from 20 us up to 5 ms: a short-lived child (a CGI request)
    // is seen to end within a few percent of its run time.
    let mut pause = Duration::from_micros(20);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if spec.timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            timed_out = true;
            break child.wait()?;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let (code, trap) = match (status.code(), status.signal()) {
        (Some(c), _) => (c, None),
        (None, Some(sig)) => (128 + sig, (!timed_out).then(|| format!("killed by signal {sig}"))),
        _ => (-1, None),
    };
    Ok(Outcome {
        status: code,
        stdout: if capture_out { stdout } else { Vec::new() },
        stderr,
        trap,
        timed_out,
        hit_memory_limit: false,
        elapsed: start.elapsed(),
        instantiate: Duration::ZERO,
        resumed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::Run;

    #[test]
    fn cwd_is_mapped_twice_and_chdir_args_follow_argv0() {
        let run = Run {
            argv0: "ruby".into(),
            args: vec!["--disable-gems".into()],
            chdir_args: vec!["-C".into(), "{cwd}".into()],
            ..Default::default()
        };
        let spec = RunSpec::for_recipe(&run, Path::new("/out")).with_cwd(Path::new("/home/u/app"), &run);
        assert_eq!(spec.argv, ["ruby", "-C", "/home/u/app", "--disable-gems"]);
        assert!(spec.dirs.contains(&(PathBuf::from("/home/u/app"), ".".into())));
        assert!(spec.dirs.contains(&(PathBuf::from("/home/u/app"), "/home/u/app".into())));
        assert_eq!(spec.env, [("PWD".to_string(), "/home/u/app".to_string())]);
        let plain = Run {
            argv0: "php".into(),
            ..Default::default()
        };
        let spec = RunSpec::for_recipe(&plain, Path::new("/out")).with_cwd(Path::new("/"), &plain);
        assert_eq!(spec.argv, ["php"]);
        assert_eq!(spec.dirs, [(PathBuf::from("/"), ".".to_string())]);
    }

    #[test]
    fn a_private_tmp_unless_one_is_mapped() {
        let (spec, dir) = RunSpec::default().with_private_tmp().unwrap();
        let dir = dir.expect("a private /tmp");
        assert_eq!(spec.dirs, [(dir.path().to_path_buf(), "/tmp".to_string())]);
        assert_eq!(spec.env, [("TMPDIR".to_string(), "/tmp".to_string())]);
        let mapped = RunSpec {
            dirs: vec![(PathBuf::from("/srv/t"), "/tmp/".into())],
            env: vec![("TMPDIR".into(), "/tmp/x".into())],
            ..Default::default()
        };
        let (spec, dir) = mapped.with_private_tmp().unwrap();
        assert!(dir.is_none());
        assert_eq!((spec.dirs.len(), spec.env.len()), (1, 1), "the user's /tmp and TMPDIR stand");
    }

    #[test]
    fn engine_settings_per_use() {
        let cfg = KilnConfig::default();
        let plain = Run::default();
        let deadline = Run {
            guest_deadline: true,
            ..Default::default()
        };
        let on = |u, r: &Run| EngineOptions::for_use(u, r, &cfg).interruptible;
        assert!(!on(Use::Run { timeout: false }, &plain), "epoch checks cost: off for a plain run");
        assert!(on(Use::Run { timeout: true }, &plain));
        assert!(on(Use::Run { timeout: false }, &deadline), "a guest deadline needs the tick");
        assert!(!on(Use::Bench, &plain) && on(Use::Bench, &deadline), "bench measures what run gets");
        assert!(on(Use::Test, &plain) && on(Use::Serve, &plain));
    }
}
