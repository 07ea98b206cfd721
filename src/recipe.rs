//! Recipes: TOML data under `recipes/`, read with serde. Unknown keys are
//! rejected and every error names `file:line:column`.
//!
//! An interpreter recipe (`recipes/php.toml`) says where the sources come
//! from (pinned by sha256), which patches and shims apply, how to configure
//! and build, which flavours exist and how to run the result. Library
//! recipes (`kind = "library"`) have the same shape and install into a
//! prefix that dependants link against.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// One pinned downloadable file. Its identity is the sha256; `urls` and
/// `debian` only say where copies may be found.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// File name used in the cache and for `KILN_MIRRORS` lookups.
    pub file: String,
    pub sha256: String,
    /// Upstream URLs, tried in order.
    #[serde(default)]
    pub urls: Vec<String>,
    /// The same file (or an accepted repack) in Debian's pool.
    #[serde(default)]
    pub debian: Option<DebianFile>,
    /// Other files accepted in place of this one (e.g. a distribution's
    /// repack with its own checksum). Each says what differs.
    #[serde(default)]
    pub alternates: Vec<Alternate>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Alternate {
    pub file: String,
    pub sha256: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub debian: Option<DebianFile>,
    /// Why this file is accepted and how it differs from the primary.
    pub note: String,
}

/// `<mirror>/pool/<component>/<prefix>/<package>/<file>`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DebianFile {
    /// Source package name (e.g. `php8.4`).
    pub package: String,
    pub file: String,
    #[serde(default = "default_component")]
    pub component: String,
}

fn default_component() -> String {
    "main".into()
}

impl DebianFile {
    /// Path below the mirror root.
    pub fn pool_path(&self) -> String {
        let p = &self.package;
        let prefix = if p.starts_with("lib") && p.len() > 3 { &p[..4] } else { &p[..1] };
        format!("pool/{}/{prefix}/{p}/{}", self.component, self.file)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Interpreter,
    Library,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub kind: Kind,
    pub description: String,
    /// Patch series directory: `patches/<name>/<series>/`.
    pub series: String,
    pub source: Source,
    /// Library recipes built (for wasm) before this one; their `include/`
    /// and `lib/` are added to the compiler and linker search paths.
    #[serde(default)]
    pub deps: Vec<String>,
    /// An optional build for the build machine from the same source tree
    /// (CPython's "build python", Ruby's baseruby), run before the cross build.
    #[serde(default)]
    pub native: Option<Native>,
    pub build: Build,
    /// Commands run after install, before outputs are collected
    /// (e.g. byte-compiling a stdlib with the native interpreter).
    #[serde(default)]
    pub post: Vec<Post>,
    /// Build-machine tools fetched for the build, by pinned sha256
    /// (`{tool:NAME}` is their unpacked root).
    #[serde(default)]
    pub tools: Vec<Tool>,
    /// pkg-config modules a library provides: kiln writes a relocatable
    /// `.pc` file for each into its output tree (`lib/pkgconfig/`), and
    /// dependants' configure scripts find them through `PKG_CONFIG_LIBDIR`.
    #[serde(default)]
    pub pkgconfig: Vec<PkgConfig>,
    /// Paths in a library's output tree that its programs need at run time
    /// (e.g. OpenSSL's `lib/ssl/openssl.cnf`): every dependant collects them
    /// into its own output tree at the same path.
    #[serde(default)]
    pub runtime_files: Vec<String>,
    /// For a library's native build: the environment a program linking it
    /// needs to find those files in the library's output tree (`{out}`),
    /// where no guest mapping puts them at `/usr/local/lib` (OpenSSL's
    /// `OPENSSL_CONF`, ICU's `ICU_DATA`). The native side runs with it.
    #[serde(default)]
    pub native_run_env: BTreeMap<String, String>,
    #[serde(default)]
    pub flavor: BTreeMap<String, Flavor>,
    /// Flavour used when none is given.
    #[serde(default = "default_flavor")]
    pub default_flavor: String,
    #[serde(default)]
    pub run: Run,
    #[serde(default)]
    pub bench: Option<Bench>,
    #[serde(default)]
    pub conformance: Option<Conformance>,
    /// `cargo xtask serve`: a CGI program that serves web requests.
    #[serde(default)]
    pub serve: Option<Serve>,
}

/// `cargo xtask serve`: how the recipe's CGI program serves a document
/// root (RFC 3875 CGI, one fresh instance per request).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// The CGI module in the output tree (`bin/php-cgi.wasm`).
    pub module: String,
    /// argv[0] the guest sees.
    pub argv0: String,
    /// Files with this extension run as scripts (`php`).
    pub script_ext: String,
    /// Tried in order for a directory (`index.php`, `index.html`).
    #[serde(default)]
    pub index: Vec<String>,
    /// A path that names no file runs this script with the path as
    /// PATH_INFO; none: 404.
    #[serde(default)]
    pub front_controller: Option<String>,
    /// The session cookie: requests that carry the same one run one at a
    /// time (the guest's file locks are no-ops on WASI).
    #[serde(default)]
    pub session_cookie: Option<String>,
    /// Where a session's file lives, `{state}` and `{id}` substituted
    /// (`{state}/sessions/sess_{id}`): a cookie of any name whose value
    /// names an existing session file is a session cookie too (an
    /// application may rename its session, as Adminer does).
    #[serde(default)]
    pub session_file: Option<String>,
    /// The variable that names a directory of extra ini files
    /// (`PHP_INI_SCAN_DIR`): the server writes its settings there. Its
    /// query-string handling can make a CGI program skip its command line,
    /// so settings never travel as arguments.
    pub ini_scan_env: String,
    /// Settings written to that directory (a user's `--ini` overrides).
    /// `{state}` is the server's state directory (`sessions/`, `tmp/`),
    /// `{timeout}` the request timeout in whole seconds, `{max_body_mib}`
    /// the body limit in MiB.
    #[serde(default)]
    pub ini: BTreeMap<String, String>,
    /// The native CGI program of the same tarball (`{native}` as in
    /// `[bench] native_binary`), for `bench --workload serve`.
    #[serde(default)]
    pub native_binary: Option<String>,
    /// A pre-initialised snapshot of the CGI module, taken when the server
    /// starts (absent: every request starts the program from scratch).
    #[serde(default)]
    pub snapshot: Option<ServeSnapshot>,
}

/// `[serve.snapshot]`: the module's exports for wasmtime's Wizer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSnapshot {
    /// Runs the start-up to capture, then returns.
    pub init: String,
    /// Becomes the snapshot's `_start`: the rest of a run.
    pub resume: String,
    /// Environment for the initialisation only, on top of the server's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Guest functions that may draw entropy during the initialisation
    /// because `resume` replaces what they drew; any other caller refuses
    /// the snapshot.
    #[serde(default)]
    pub entropy_callers: Vec<String>,
}

/// `cargo xtask test`: which upstream suite runner and which paths.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Conformance {
    /// Which suite runner drives the tests.
    pub runner: RunnerKind,
    /// The representative subset the README's test command runs.
    pub default: Vec<String>,
    /// Everything (`--full`).
    pub full: Vec<String>,
    /// Tests a flavour adds to the default subset (`full = ["ext/intl/tests"]`).
    #[serde(default)]
    pub flavors: BTreeMap<String, Vec<String>>,
}

/// The suite runners kiln has (`[conformance] runner`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerKind {
    /// PHP's `.phpt` files (kiln's runner, following `run-tests.php`).
    Phpt,
    /// CPython's regrtest, one module per instance.
    Regrtest,
    /// CRuby's bootstraptest assertions and basictest.
    RubyBootstraptest,
}

impl RunnerKind {
    /// The name recipes use.
    pub fn name(self) -> &'static str {
        match self {
            RunnerKind::Phpt => "phpt",
            RunnerKind::Regrtest => "regrtest",
            RunnerKind::RubyBootstraptest => "ruby-bootstraptest",
        }
    }
}

impl std::fmt::Display for RunnerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `cargo xtask bench`: workloads run on the wasm build and on a native
/// build of the same tarball.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bench {
    /// Configure arguments for a native build made just for comparison,
    /// in its own copy of the source, built in-tree. Absent: the recipe's
    /// `[native]` build is the native side.
    #[serde(default)]
    pub native_configure: Option<Vec<String>>,
    /// With `native_configure`: also pass the wasm build's own configure
    /// arguments (`[build]` + the flavour's) and link the flavour's
    /// libraries, built natively from the same recipes, so both sides have
    /// the same extensions on the same library versions.
    #[serde(default)]
    pub native_flavor: bool,
    #[serde(default)]
    pub native_make_targets: Vec<String>,
    /// The native interpreter, with placeholders: `{native}` is the native
    /// build directory (`{native}/python`, `{native}/sapi/cli/php`).
    pub native_binary: String,
    /// Arguments the native binary needs first (e.g. `-n`).
    #[serde(default)]
    pub native_args: Vec<String>,
    /// Environment for the native side.
    #[serde(default)]
    pub native_env: BTreeMap<String, String>,
    pub workload: Vec<Workload>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    /// Interpreter arguments; `{src}` is the source tree (mapped into the
    /// guest at the same path), `{repo}` the kiln checkout.
    pub args: Vec<String>,
}

fn default_flavor() -> String {
    "default".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Leading path components to drop when unpacking (usually 1).
    #[serde(default = "one")]
    pub strip_components: usize,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// Placeholders allowed in configure arguments, env values, post commands
/// and output paths: `{src}` (source tree), `{build}` (cross build dir),
/// `{native}` (native build dir), `{dest}` (install staging dir, the
/// DESTDIR), `{prefix}` (install prefix, `/usr/local`), `{jobs}`,
/// `{cc}`/`{cxx}` (the wasm compilers as `CC`/`CXX`), `{cflags}`/`{ldflags}`
/// (kiln's resolved flags), `{cxx_runtime}` (a directory with libc++,
/// libc++abi and libstdc++ = libc++), `{dep:NAME}` (a dependency's output
/// tree) and `{tool:NAME}` (a pinned tool).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Native {
    #[serde(default)]
    pub configure: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub make_targets: Vec<String>,
}

/// One pkg-config module (`<name>.pc`). Paths in `cflags`/`libs` use
/// `${includedir}` and `${libdir}` (the library's output tree).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PkgConfig {
    pub name: String,
    #[serde(default = "default_pc_cflags")]
    pub cflags: String,
    pub libs: String,
    /// Other modules this one needs (`Requires:`).
    #[serde(default)]
    pub requires: Vec<String>,
}

fn default_pc_cflags() -> String {
    "-I${includedir}".into()
}

/// A tool published as an npm package (fetched with `npm pack`, which
/// knows the machine's registry), verified by the tarball's sha256.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    /// `package@version`.
    pub npm: String,
    pub sha256: String,
    /// Why this tool and version.
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Post {
    /// What this step is for (shown as the stage name).
    pub name: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// How a recipe's sources are configured and built.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum BuildSystem {
    /// `configure` (with `--host`/`--build`/`--prefix`) + `make`.
    #[default]
    Autoconf,
    /// A plain Makefile: `make` only; `configure` must be empty.
    Make,
    /// CMake (Unix Makefiles generator) with a toolchain file kiln writes
    /// from the plan, out of tree; `configure` holds `-D` options.
    Cmake,
    /// A project's own configure script that is not autoconf (OpenSSL's
    /// `Configure`): `[build] script` run with `configure` as its only
    /// arguments (no `--host`/`--build`/`--prefix`), then `make`.
    Script,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Build system driver.
    pub system: BuildSystem,
    /// Build in a separate directory (`{build}`), running the source tree's
    /// configure by relative path, instead of in the source tree.
    #[serde(default)]
    pub out_of_tree: bool,
    /// `--host` for configure (default `wasm32-wasip1`), for projects whose
    /// configure knows the target by another name.
    #[serde(default)]
    pub host: Option<String>,
    /// The configure program, relative to the source tree: required for
    /// `system = "script"` (e.g. `Configure`); for `autoconf`, where it is
    /// `configure` unless the project keeps it in a subdirectory (ICU's
    /// `source/configure`).
    #[serde(default)]
    pub script: Option<String>,
    /// Add the toolchain's compile flags (Wasm-EH setjmp/longjmp). Off for
    /// projects with their own setjmp (Ruby's Asyncify-based one).
    #[serde(default = "yes")]
    pub toolchain_cflags: bool,
    /// Configure arguments and libraries a library's native build (the
    /// native side of `bench`/`test --native`) leaves out: the wasm target's
    /// name (OpenSSL's `linux-generic32`; its Configure then detects the
    /// host). wasi-libc's `-lwasi-emulated-*` are always left out.
    #[serde(default)]
    pub native_omit: Vec<String>,
    /// Extra make arguments (after targets), e.g. `CC={cc}` for plain makefiles.
    #[serde(default)]
    pub make_args: Vec<String>,
    /// Make targets run with `DESTDIR={dest}` after the build (e.g. install).
    #[serde(default)]
    pub install_targets: Vec<String>,
    /// Arguments to `./configure` (after `--host`/`--build`/`--prefix`).
    #[serde(default)]
    pub configure: Vec<String>,
    /// Extra environment for configure and make.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cflags: Vec<String>,
    #[serde(default)]
    pub ldflags: Vec<String>,
    /// Libraries appended to `LIBS` (e.g. `-lsetjmp`).
    #[serde(default)]
    pub libs: Vec<String>,
    /// Shim C sources, relative to `shims/`, compiled into one static
    /// library with the `cc` crate and linked into the program.
    #[serde(default)]
    pub shims: Vec<String>,
    /// Header force-included into every C file (relative to `shims/`).
    #[serde(default)]
    pub force_include: Vec<String>,
    /// Extra include dirs relative to `shims/`.
    #[serde(default)]
    pub shim_include: Vec<String>,
    /// Make targets (empty = default target).
    #[serde(default)]
    pub make_targets: Vec<String>,
    /// Files produced by the build, copied into the output tree:
    /// `"<path in build dir, or with placeholders>" = "<path in output>"`.
    pub outputs: BTreeMap<String, String>,
    /// Output-tree paths removed after collection (what cannot work on WASI).
    #[serde(default)]
    pub prune: Vec<String>,
    /// Output-tree paths kept in the build but left out of release
    /// artifacts (e.g. a stdlib's test package, kept for conformance).
    #[serde(default)]
    pub release_prune: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    pub description: String,
    #[serde(default)]
    pub configure: Vec<String>,
    /// Library recipes this flavour links on top of the recipe's `deps`.
    #[serde(default)]
    pub deps: Vec<String>,
    /// Another flavour of the recipe whose lists and environment come
    /// first (`full` = `default` + intl). Resolved when the recipe loads.
    #[serde(default)]
    pub extends: Option<String>,
    /// Environment on top of `[build] env` (e.g. `CXX` for C++ code).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Link flags and libraries on top of `[build]`'s.
    #[serde(default)]
    pub ldflags: Vec<String>,
    #[serde(default)]
    pub libs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// Module in the output tree, e.g. `bin/php.wasm`.
    #[serde(default)]
    pub module: String,
    /// argv[0] the guest sees.
    #[serde(default)]
    pub argv0: String,
    /// Arguments inserted before the user's.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment the runner sets (a user's `--env` overrides).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Output-tree directories mapped into the guest: `"lib" = "/usr/local/lib"`.
    #[serde(default)]
    pub dirs: BTreeMap<String, String>,
    /// Map a read-only skeleton of the mapped paths' parent directories at
    /// the guest's `/` (for programs that walk from `/`, like CRuby's
    /// realpath).
    #[serde(default)]
    pub root_skeleton: bool,
    /// The module exports `kiln_deadline_cell` (a cooperative timer, see
    /// `runtime.rs`): `run` and `bench` then keep epoch interruption on so
    /// the runtime can poll it. Off otherwise, because epoch checks cost
    /// (docs/measurements.md).
    #[serde(default)]
    pub guest_deadline: bool,
    /// Arguments that make the interpreter change into the guest's working
    /// directory (`{cwd}`) before it resolves paths, for interpreters that
    /// make a relative script path absolute against WASI's initial `/`
    /// (Ruby: `-C {cwd}`). Empty: relative paths resolve through the `.`
    /// preopen as they are.
    #[serde(default)]
    pub chdir_args: Vec<String>,
}

/// Toolchain recipe (`recipes/toolchain.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolchainRecipe {
    pub wasi_sdk: WasiSdk,
    /// The build machine's own compiler, for native builds (baseruby,
    /// CPython's build python, the native side of `bench`/`test --native`).
    pub native: NativeToolchain,
    pub debian: DebianLlvm,
    /// Flags every wasm compile gets, whichever provider.
    pub cflags: Vec<String>,
    /// Flags every wasm link gets.
    pub ldflags: Vec<String>,
    /// Build-machine programs kiln's builds and tests run.
    #[serde(default)]
    pub host: Vec<HostTool>,
    /// Programs installed from the crate registry into the cache with
    /// `cargo install` (the stock wasmtime CLI).
    #[serde(default)]
    pub cargo_tool: Vec<CargoTool>,
}

/// A crate's binary, pinned by exact version and built with its own
/// Cargo.lock (`cargo install --locked`) into `<cache>/tools/`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CargoTool {
    /// The crate (e.g. `wasmtime-cli`).
    pub name: String,
    pub version: String,
    /// The binary it installs (e.g. `wasmtime`).
    pub bin: String,
    /// Cargo features; only these (`--no-default-features`).
    #[serde(default)]
    pub features: Vec<String>,
    /// `[profile.release]` opt-level for the install (build time against
    /// the tool's speed).
    #[serde(default)]
    pub opt_level: Option<u8>,
    /// Why this tool, version and feature set.
    pub why: String,
}

/// A build-machine program and the Debian package that provides it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostTool {
    /// A program looked up on `PATH`, or an absolute path to a file the
    /// package installs (a header, for a library without programs).
    pub command: String,
    pub package: String,
    /// What needs it.
    pub why: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NativeToolchain {
    /// C compilers to try, first found on `PATH` wins.
    pub cc: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WasiSdk {
    pub version: String,
    /// LLVM major version inside that release.
    pub llvm: u32,
    /// Per host (`x86_64-linux`, `arm64-linux`, …). A host without an
    /// entry is not downloaded.
    pub hosts: BTreeMap<String, Artifact>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DebianLlvm {
    pub llvm: u32,
    /// Packages installed with apt when missing (and running as root).
    pub packages: Vec<String>,
    /// A wasi-libc sysroot newer than the host distribution's, as a .deb.
    pub wasi_libc: Artifact,
    /// The directory name Debian's `libc++-N-dev-wasm32` installs under
    /// (`/usr/lib/llvm-N/include/<it>/c++/v1`, `/usr/lib/llvm-N/lib/<it>`).
    #[serde(default = "default_libcxx_dir")]
    pub libcxx: String,
}

fn default_libcxx_dir() -> String {
    "wasm32-wasi".into()
}

/// Parse `text` (from `path`) as `T`, turning serde/toml errors into
/// `path:line:col: message`.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message())
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| before.len() - i).unwrap_or(before.len() + 1);
    (line, col)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading recipe {}", path.display()))
}

impl Recipe {
    pub fn load(path: &Path) -> Result<Recipe> {
        let mut r: Recipe = parse_toml(path, &read(path)?)?;
        r.validate(path)?;
        r.resolve_extends(path)?;
        Ok(r)
    }

    /// Expand each flavour's `extends` chain: the base's configure
    /// arguments, deps, ldflags and libs come first, its env is overridden.
    fn resolve_extends(&mut self, path: &Path) -> Result<()> {
        let names: Vec<String> = self.flavor.keys().cloned().collect();
        let mut resolved = BTreeMap::new();
        for name in &names {
            let mut chain = vec![name.clone()];
            let mut cur = self.flavor[name].extends.clone();
            while let Some(base) = cur {
                if chain.contains(&base) {
                    bail!(
                        "{}: flavour {name:?} extends itself ({} -> {base})",
                        path.display(),
                        chain.join(" -> ")
                    );
                }
                let Some(f) = self.flavor.get(&base) else {
                    bail!(
                        "{}: flavour {:?} extends {base:?}, which is not a flavour",
                        path.display(),
                        chain.last().expect("non-empty")
                    );
                };
                chain.push(base);
                cur = f.extends.clone();
            }
            let mut out = self.flavor[name].clone();
            for base in chain.iter().skip(1) {
                let b = &self.flavor[base];
                out.configure = b.configure.iter().chain(&out.configure).cloned().collect();
                out.deps = b.deps.iter().chain(&out.deps).cloned().collect();
                out.ldflags = b.ldflags.iter().chain(&out.ldflags).cloned().collect();
                out.libs = b.libs.iter().chain(&out.libs).cloned().collect();
                for (k, v) in &b.env {
                    out.env.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            out.extends = None;
            resolved.insert(name.clone(), out);
        }
        self.flavor = resolved;
        Ok(())
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != self.name {
            bail!("{}: name = {:?} but the file is {stem}.toml", path.display(), self.name);
        }
        for a in std::iter::once(&self.source.artifact) {
            check_sha(path, &a.sha256)?;
            for alt in &a.alternates {
                check_sha(path, &alt.sha256)?;
            }
        }
        if (self.kind == Kind::Interpreter || !self.flavor.is_empty()) && !self.flavor.contains_key(&self.default_flavor) {
            bail!(
                "{}: default_flavor {:?} has no [flavor.{}] table",
                path.display(),
                self.default_flavor,
                self.default_flavor
            );
        }
        if self.build.system == BuildSystem::Make && !self.build.configure.is_empty() {
            bail!("{}: build.system = \"make\" takes no configure arguments", path.display());
        }
        if let Some(c) = &self.conformance {
            if let Some(f) = c.flavors.keys().find(|f| !self.flavor.contains_key(*f)) {
                bail!(
                    "{}: [conformance] flavors names {f:?}, which is not a flavour of this recipe",
                    path.display()
                );
            }
        }
        let script_ok = match self.build.system {
            BuildSystem::Script => self.build.script.is_some(),
            BuildSystem::Autoconf => true,
            BuildSystem::Cmake | BuildSystem::Make => self.build.script.is_none(),
        };
        if !script_ok {
            bail!(
                "{}: build.script names the configure program of build.system = \"script\" (required) or \"autoconf\" (optional), and only there",
                path.display()
            );
        }
        Ok(())
    }

    /// Build id: `php-8.4.16`, or `php-8.4.16-slim` for another flavour.
    /// Names `target/kiln/{build,out,logs}/<id>/`.
    pub fn id(&self, flavor: &str) -> String {
        if flavor == self.default_flavor {
            format!("{}-{}", self.name, self.version)
        } else {
            format!("{}-{}-{flavor}", self.name, self.version)
        }
    }

    pub fn release_prune(&self) -> Vec<String> {
        self.build.release_prune.clone()
    }

    pub fn flavor(&self, name: Option<&str>) -> Result<(&str, &Flavor)> {
        static NONE: Flavor = Flavor {
            description: String::new(),
            configure: Vec::new(),
            deps: Vec::new(),
            extends: None,
            env: BTreeMap::new(),
            ldflags: Vec::new(),
            libs: Vec::new(),
        };
        if self.flavor.is_empty() && name.is_none() {
            return Ok((self.default_flavor.as_str(), &NONE));
        }
        let name = name.unwrap_or(&self.default_flavor);
        match self.flavor.get_key_value(name) {
            Some((k, f)) => Ok((k.as_str(), f)),
            None => bail!(
                "recipe {} has no flavour {name:?} (known: {})",
                self.name,
                self.flavor.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

fn check_sha(path: &Path, sha: &str) -> Result<()> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        bail!("{}: sha256 {sha:?} is not 64 lowercase hex digits", path.display());
    }
    Ok(())
}

impl ToolchainRecipe {
    pub fn load(path: &Path) -> Result<ToolchainRecipe> {
        let t: ToolchainRecipe = parse_toml(path, &read(path)?)?;
        for a in t.wasi_sdk.hosts.values().chain(std::iter::once(&t.debian.wasi_libc)) {
            check_sha(path, &a.sha256)?;
        }
        Ok(t)
    }
}

/// All recipes in `dir`, sorted by name (`toolchain.toml` excluded).
pub fn load_all(dir: &Path) -> Result<Vec<Recipe>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.ends_with("toolchain.toml"))
        .collect();
    entries.sort();
    for p in entries {
        out.push(Recipe::load(&p)?);
    }
    Ok(out)
}

/// Find recipe `name` (with optional `@version` check).
pub fn find(dir: &Path, spec: &str) -> Result<Recipe> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        let known: Vec<String> = load_all(dir).map(|v| v.into_iter().map(|r| r.name).collect()).unwrap_or_default();
        bail!("no recipe {} (known: {})", path.display(), known.join(", "));
    }
    let r = Recipe::load(&path)?;
    if let Some(v) = version {
        if v != r.version && !r.version.starts_with(&format!("{v}.")) {
            bail!("{} pins {} {}; {spec} is not available", path.display(), r.name, r.version);
        }
    }
    Ok(r)
}
