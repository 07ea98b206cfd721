//! The wasm32-wasip1 C toolchain. Providers, in order:
//! 1. an explicit wasi-sdk (`--wasi-sdk PATH` or `WASI_SDK_PATH`);
//! 2. the pinned wasi-sdk release for this host, cached or downloaded;
//! 3. Debian's LLVM (`clang-N`, `lld-N`, `libclang-rt-N-dev-wasm32`,
//!    installed with apt when root and missing) plus a pinned wasi-libc
//!    sysroot unpacked into kiln's cache (no system change).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::host::{apt_install, can_install, which};
use crate::layout::Layout;
use crate::progress::Progress;
use crate::recipe::ToolchainRecipe;

pub const TARGET: &str = "wasm32-wasip1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// A wasi-sdk named by the user.
    Explicit(PathBuf),
    /// The pinned wasi-sdk release, unpacked in the cache.
    WasiSdk { version: String, root: PathBuf },
    /// Debian's LLVM packages plus a pinned wasi-libc sysroot.
    Debian { llvm: u32 },
}

impl Provider {
    /// Short name without paths (for build-info).
    pub fn kind(&self) -> String {
        match self {
            Provider::Explicit(_) => "wasi-sdk (explicit)".into(),
            Provider::WasiSdk { version, .. } => format!("wasi-sdk {version}"),
            Provider::Debian { llvm } => format!("Debian LLVM {llvm} + wasi-libc"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Explicit(p) => write!(f, "wasi-sdk at {} (explicit)", p.display()),
            Provider::WasiSdk { version, root } => {
                write!(f, "wasi-sdk {version} (cached at {})", root.display())
            }
            Provider::Debian { llvm } => write!(f, "Debian LLVM {llvm} + pinned wasi-libc"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Toolchain {
    pub provider: Provider,
    pub clang: PathBuf,
    pub ar: PathBuf,
    pub ranlib: PathBuf,
    pub nm: PathBuf,
    pub sysroot: PathBuf,
    /// Flags every compile gets (exception-handling sjlj, …).
    pub cflags: Vec<String>,
    /// Flags every link gets.
    pub ldflags: Vec<String>,
    /// libc++'s headers when the sysroot does not hold them (Debian's
    /// LLVM installs them beside the compiler).
    pub cxx_include: Option<PathBuf>,
    /// The directory holding `libc++.a` and `libc++abi.a`.
    pub cxx_libdir: PathBuf,
}

/// No wasm toolchain could be found or installed (callers that can go on
/// without one, like `build --dry-run`, match on this).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

struct Req<'a> {
    config: &'a Config,
    install: bool,
}

/// `x86_64-linux`, `arm64-linux`, `x86_64-macos`, … as wasi-sdk names them.
pub fn host_key() -> String {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        a => a,
    };
    format!("{arch}-{}", std::env::consts::OS)
}

impl Toolchain {
    /// `CC` for autoconf: the compiler with target and sysroot baked in,
    /// so tools that call `$CC` bare still cross-compile.
    pub fn cc(&self) -> String {
        format!("{} --target={TARGET} --sysroot={}", self.clang.display(), self.sysroot.display())
    }

    /// `CXX` for autoconf: the C++ driver with target, sysroot and (when
    /// outside the sysroot) libc++'s headers baked in.
    pub fn cxx(&self) -> String {
        let mut s = format!(
            "{} --target={TARGET} --sysroot={}",
            self.clangxx().display(),
            self.sysroot.display()
        );
        if let Some(inc) = &self.cxx_include {
            s.push_str(&format!(" -nostdinc++ -isystem {}", inc.display()));
        }
        s
    }

    /// A directory in kiln's cache with the C++ runtime under the names
    /// build systems ask for: `libc++.a`, `libc++abi.a`, and `libstdc++.a`
    /// (libc++ again: PHP's configure links `-lstdc++` for any C++ code).
    /// Links only; made on first use.
    pub fn cxx_runtime(&self, layout: &Layout) -> Result<PathBuf> {
        let key = crate::fsutil::stamp(&[&self.cxx_libdir.display().to_string()]);
        let dir = layout.toolchain_cache().join(format!("cxx-runtime-{}", &key[..16]));
        if dir.is_dir() {
            return Ok(dir);
        }
        let libcxx = self.cxx_libdir.join("libc++.a");
        let libcxxabi = self.cxx_libdir.join("libc++abi.a");
        for f in [&libcxx, &libcxxabi] {
            if !f.is_file() {
                bail!("no C++ runtime: {} is missing (the toolchain's libc++)", f.display());
            }
        }
        let part = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&part);
        std::fs::create_dir_all(&part)?;
        for (name, to) in [("libc++.a", &libcxx), ("libc++abi.a", &libcxxabi), ("libstdc++.a", &libcxx)] {
            std::os::unix::fs::symlink(to, part.join(name))?;
        }
        std::fs::rename(&part, &dir)?;
        Ok(dir)
    }

    /// The C++ driver beside `clang` (`clang-22` → `clang++-22`).
    pub fn clangxx(&self) -> PathBuf {
        PathBuf::from(cxx_beside(&self.clang.display().to_string()))
    }

    pub fn clang_version(&self) -> Result<String> {
        let out = Cmd::new(&self.clang, ".").arg("--version").read()?;
        Ok(out.lines().next().unwrap_or("").to_string())
    }

    /// Stable text identifying this toolchain for build stamps.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.provider,
            self.clang.display(),
            self.clang_version().unwrap_or_default(),
            self.sysroot.display(),
            self.cflags.join(" ")
        )
    }

    /// Resolve the toolchain. `install`: let the Debian provider install
    /// its missing packages (when root); off for dry runs and tests.
    pub fn resolve(layout: &Layout, config: &Config, install: bool, progress: &Progress) -> Result<Toolchain> {
        let req = Req { config, install };
        let req = &req;
        let recipe_path = layout.recipes().join("toolchain.toml");
        let recipe = ToolchainRecipe::load(&recipe_path)?;
        if let Some(root) = config.wasi_sdk.clone() {
            return from_wasi_sdk(&root, Provider::Explicit(root.clone()), &recipe);
        }
        let mut notes = Vec::new();
        match cached_or_downloaded_sdk(layout, req, progress, &recipe) {
            Ok(Some(tc)) => return Ok(tc),
            Ok(None) => notes.push(format!("no wasi-sdk {} is pinned for host {}", recipe.wasi_sdk.version, host_key())),
            Err(e) => notes.push(format!(
                "wasi-sdk {} not reachable ({})",
                recipe.wasi_sdk.version,
                e.root_cause().to_string().lines().last().unwrap_or("").trim()
            )),
        }
        for n in &notes {
            progress.println(format!("toolchain: {n}; falling back to Debian's LLVM"));
        }
        debian(layout, req, progress, &recipe)
    }
}

fn from_wasi_sdk(root: &Path, provider: Provider, recipe: &ToolchainRecipe) -> Result<Toolchain> {
    let bin = root.join("bin");
    let tc = Toolchain {
        provider,
        clang: bin.join("clang"),
        ar: bin.join("llvm-ar"),
        ranlib: bin.join("llvm-ranlib"),
        nm: bin.join("llvm-nm"),
        sysroot: root.join("share").join("wasi-sysroot"),
        cflags: recipe.cflags.clone(),
        ldflags: recipe.ldflags.clone(),
        cxx_include: None,
        cxx_libdir: root.join("share").join("wasi-sysroot").join("lib").join(TARGET),
    };
    for p in [&tc.clang, &tc.ar, &tc.ranlib, &tc.nm] {
        if !p.is_file() {
            bail!("wasi-sdk at {}: {} is missing", root.display(), p.display());
        }
    }
    if !tc.sysroot.join("lib").join(TARGET).is_dir() {
        bail!("wasi-sdk at {}: no {TARGET} sysroot under {}", root.display(), tc.sysroot.display());
    }
    Ok(tc)
}

fn cached_or_downloaded_sdk(layout: &Layout, req: &Req<'_>, progress: &Progress, recipe: &ToolchainRecipe) -> Result<Option<Toolchain>> {
    let Some(art) = recipe.wasi_sdk.hosts.get(&host_key()) else {
        return Ok(None);
    };
    let dir = layout.toolchain_cache().join(format!("wasi-sdk-{}", art.sha256));
    let provider = Provider::WasiSdk {
        version: recipe.wasi_sdk.version.clone(),
        root: dir.clone(),
    };
    if !dir.is_dir() {
        let fetcher = Fetcher::new(layout, progress.clone(), req.config)?;
        let archive = fetcher.fetch(art)?;
        let stage = progress.stage(format!("unpack wasi-sdk {}", recipe.wasi_sdk.version));
        crate::source::unpack(&archive, &dir, 1)?;
        stage.done("unpacked");
    }
    from_wasi_sdk(&dir, provider, recipe).map(Some)
}

fn debian(layout: &Layout, req: &Req<'_>, progress: &Progress, recipe: &ToolchainRecipe) -> Result<Toolchain> {
    let n = recipe.debian.llvm;
    let builtins = PathBuf::from(format!("/usr/lib/llvm-{n}/lib/clang/{n}/lib/wasi/libclang_rt.builtins-wasm32.a"));
    let cxx_include = PathBuf::from(format!("/usr/lib/llvm-{n}/include/{}/c++/v1", recipe.debian.libcxx));
    let cxx_libdir = PathBuf::from(format!("/usr/lib/llvm-{n}/lib/{}", recipe.debian.libcxx));
    let present = |b: &Path| {
        which(&format!("clang-{n}")).is_some()
            && which(&format!("wasm-ld-{n}")).is_some()
            && which(&format!("llvm-ar-{n}")).is_some()
            && b.is_file()
            && cxx_include.join("__config_site").is_file()
            && cxx_libdir.join("libc++.a").is_file()
    };
    if !present(&builtins) {
        let pkgs = &recipe.debian.packages;
        if !req.install || can_install().is_none() {
            return Err(Unavailable(format!(
                "no wasm toolchain: no wasi-sdk (set WASI_SDK_PATH or pass --wasi-sdk), and Debian's LLVM {n} is not installed.\n  install it with: apt-get install {}",
                pkgs.join(" ")
            ))
            .into());
        }
        apt_install(layout, pkgs, progress)?;
        if !present(&builtins) {
            bail!(
                "installed {} but clang-{n}/wasm-ld-{n}/{}/{} are still missing",
                pkgs.join(" "),
                builtins.display(),
                cxx_libdir.join("libc++.a").display()
            );
        }
    }
    let art = &recipe.debian.wasi_libc;
    let dir = layout.toolchain_cache().join(format!("wasi-libc-{}", art.sha256));
    if !dir.is_dir() {
        let fetcher = Fetcher::new(layout, progress.clone(), req.config)?;
        let stage = progress.stage("fetch wasi-libc sysroot");
        let deb = fetcher.fetch(art)?;
        crate::source::unpack(&deb, &dir, 0)?;
        stage.done("unpacked");
    }
    let sysroot = dir.join("usr");
    if !sysroot.join("lib").join(TARGET).join("libc.a").is_file() {
        bail!("wasi-libc sysroot {} has no lib/{TARGET}/libc.a", sysroot.display());
    }
    let tool = |t: &str| which(&format!("{t}-{n}")).unwrap_or_else(|| PathBuf::from(format!("/usr/bin/{t}-{n}")));
    Ok(Toolchain {
        provider: Provider::Debian { llvm: n },
        clang: tool("clang"),
        ar: tool("llvm-ar"),
        ranlib: tool("llvm-ranlib"),
        nm: tool("llvm-nm"),
        sysroot,
        cflags: recipe.cflags.clone(),
        ldflags: recipe.ldflags.clone(),
        cxx_include: Some(cxx_include),
        cxx_libdir,
    })
}

/// The C probe `cargo xtask toolchain` compiles and runs.
pub const PROBE_C: &str = include_str!("probe.c");

/// What the probe must print, line by line, and its exit status.
#[cfg(feature = "runtime")]
const PROBE_EXPECTS: &[&str] = &[
    "setjmp: 42 depth 3 hits 2",
    "file: kiln-probe",
    "argv: 2 arg-one",
    "env: env-ok",
    "clock: ok",
];
#[cfg(feature = "runtime")]
const PROBE_STATUS: i32 = 7;

#[cfg(feature = "runtime")]
impl Toolchain {
    /// Compile the C probe (`src/probe.c`) with this toolchain and run it
    /// under `rt`: setjmp/longjmp, file I/O in a preopened dir, argv, env,
    /// the clock and the exit status. Returns the probe's output when every
    /// check passed.
    pub fn probe(&self, rt: &crate::runtime::Runtime, log: &Path) -> Result<String> {
        use crate::runtime::{RunSpec, Stdio};
        let dir = tempfile::tempdir()?;
        let src = dir.path().join("probe.c");
        std::fs::write(&src, PROBE_C)?;
        let wasm = dir.path().join("probe.wasm");
        Cmd::new(&self.clang, dir.path())
            .arg(format!("--target={TARGET}"))
            .arg(format!("--sysroot={}", self.sysroot.display()))
            .arg("-O2")
            .args(&self.cflags)
            .args(&self.ldflags)
            .arg(&src)
            .arg("-lsetjmp")
            .arg("-o")
            .arg(&wasm)
            .env_remove("CFLAGS")
            .run(log)?;
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
            ..Default::default()
        };
        let out = rt.run(&module, &spec)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(t) = &out.trap {
            bail!("probe trapped: {t}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut bad: Vec<String> = PROBE_EXPECTS
            .iter()
            .filter(|e| !text.lines().any(|l| l == **e))
            .map(|e| e.to_string())
            .collect();
        if out.status != PROBE_STATUS {
            bad.push(format!("exit status {PROBE_STATUS}"));
        }
        if !bad.is_empty() {
            bail!(
                "toolchain probe failed: expected {bad:?}; exit status {}; output:\n{text}stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(text)
    }
}

/// The build machine's C compiler.
#[derive(Debug, Clone)]
pub struct NativeToolchain {
    pub cc: String,
    /// `cc --version`'s first line (part of every native stamp).
    pub version: String,
}

impl NativeToolchain {
    /// The first of the toolchain recipe's `[native] cc` found on `PATH`
    /// (else the last one named, which then fails when a build starts it).
    pub fn resolve(recipe: &ToolchainRecipe) -> NativeToolchain {
        let found = recipe.native.cc.iter().find(|c| which(c).is_some());
        let cc = found.or(recipe.native.cc.last()).cloned().unwrap_or_else(|| "cc".into());
        let version = Cmd::new(&cc, ".")
            .arg("--version")
            .read()
            .map(|o| o.lines().next().unwrap_or("").to_string())
            .unwrap_or_else(|_| "not found".into());
        NativeToolchain { cc, version }
    }

    pub fn placeholder() -> NativeToolchain {
        NativeToolchain {
            cc: "$NATIVE_CC".into(),
            version: "unresolved".into(),
        }
    }
}

/// The C++ driver named like a C one: `clang-22` → `clang++-22`, `cc` →
/// `c++`, `gcc` → `g++`.
pub fn cxx_beside(cc: &str) -> String {
    let (dir, name) = match cc.rfind('/') {
        Some(i) => (&cc[..=i], &cc[i + 1..]),
        None => ("", cc),
    };
    let xx = if let Some(rest) = name.strip_prefix("clang") {
        format!("clang++{rest}")
    } else if let Some(rest) = name.strip_prefix("gcc") {
        format!("g++{rest}")
    } else if name == "cc" {
        "c++".into()
    } else {
        name.to_string()
    };
    format!("{dir}{xx}")
}
