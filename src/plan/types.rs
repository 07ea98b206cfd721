//! The plan's types: what a recipe resolves into before anything runs
//! ([`BuildPlan`], its typed [`Step`]s, [`NativePlan`]s), the inputs they
//! carry ([`Dirs`], [`Flags`], [`Vars`], [`ToolchainView`]) and what can
//! be read off a plan (its module, its dependencies, its host programs,
//! `render()` for `--dry-run`). The planners (`mod.rs`, `native.rs`) build
//! these; the executor (`build.rs`) runs them. A leaf of `plan/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::host::{self, Need};
use crate::recipe::{Artifact, Recipe, Tool};
use crate::toolchain::{cxx_beside, NativeToolchain, Toolchain, TARGET};

/// The file in a native build directory that holds its stamp.
pub const NATIVE_STAMP: &str = ".kiln-native-stamp";

/// What the build needs to know about the wasm toolchain. A real
/// [`Toolchain`] or a placeholder for planning without one.
#[derive(Debug, Clone)]
pub struct ToolchainView {
    /// `CC` for autoconf: the compiler with target and sysroot baked in.
    pub cc: String,
    /// `CXX`, the same way (recipes opt in with `CXX = "{cxx}"`).
    pub cxx: String,
    /// `-L` this for the C++ runtime (`-lc++ -lc++abi`, or `-lstdc++`).
    pub cxx_runtime: String,
    /// The compilers alone and the sysroot (CMake's toolchain file).
    pub clang: String,
    pub clangxx: String,
    pub sysroot: String,
    pub ar: String,
    pub ranlib: String,
    pub nm: String,
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    pub fingerprint: String,
    /// Provider and compiler version, without machine paths.
    pub version_line: String,
    /// The build machine's compiler, for native steps.
    pub native: NativeToolchain,
}

impl ToolchainView {
    pub fn of(tc: &Toolchain, native: NativeToolchain, cxx_runtime: PathBuf) -> ToolchainView {
        ToolchainView {
            cc: tc.cc(),
            cxx: tc.cxx(),
            cxx_runtime: cxx_runtime.display().to_string(),
            clang: tc.clang.display().to_string(),
            clangxx: tc.clangxx().display().to_string(),
            sysroot: tc.sysroot.display().to_string(),
            ar: tc.ar.display().to_string(),
            ranlib: tc.ranlib.display().to_string(),
            nm: tc.nm.display().to_string(),
            cflags: tc.cflags.clone(),
            ldflags: tc.ldflags.clone(),
            fingerprint: tc.fingerprint(),
            version_line: format!("{} / {}", tc.provider.kind(), tc.clang_version().unwrap_or_default()),
            native,
        }
    }

    /// The build machine's compiler in the wasm toolchain's place: what the
    /// native builds of library recipes (the native side's libraries) are
    /// planned with. No wasm flags, no sysroot.
    pub fn native_view(&self) -> ToolchainView {
        let n = &self.native;
        let cxx = cxx_beside(&n.cc);
        ToolchainView {
            cc: n.cc.clone(),
            cxx: cxx.clone(),
            // The native compiler finds its own C++ runtime; a system
            // directory keeps a recipe's `-L{cxx_runtime}` well-formed.
            cxx_runtime: "/usr/lib".into(),
            clang: n.cc.clone(),
            clangxx: cxx,
            sysroot: String::new(),
            ar: self.ar.clone(),
            ranlib: self.ranlib.clone(),
            nm: self.nm.clone(),
            cflags: Vec::new(),
            ldflags: Vec::new(),
            fingerprint: format!("native|{}|{}", n.cc, n.version),
            version_line: format!("native / {}", n.version),
            native: n.clone(),
        }
    }

    /// Stand-in used when planning without resolving a toolchain. The
    /// flags are the toolchain recipe's, which every provider uses.
    pub fn placeholder(recipe: &crate::recipe::ToolchainRecipe) -> ToolchainView {
        ToolchainView {
            cc: format!("$CLANG --target={TARGET} --sysroot=$SYSROOT"),
            cxx: format!("$CLANGXX --target={TARGET} --sysroot=$SYSROOT"),
            cxx_runtime: "$CXX_RUNTIME".into(),
            clang: "$CLANG".into(),
            clangxx: "$CLANGXX".into(),
            sysroot: "$SYSROOT".into(),
            ar: "$AR".into(),
            ranlib: "$RANLIB".into(),
            nm: "$NM".into(),
            cflags: recipe.cflags.clone(),
            ldflags: recipe.ldflags.clone(),
            fingerprint: "unresolved".into(),
            version_line: "unresolved".into(),
            native: NativeToolchain::placeholder(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub path: PathBuf,
    pub sha256: String,
}

/// The directories of one build, all under `target/kiln/`.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `build/<id>/`: holds `src/`, `native/`, `cross/`, `dest/`, `shims/`.
    pub work: PathBuf,
    pub src: PathBuf,
    /// Where the cross build's configure and make run.
    pub build: PathBuf,
    /// The recipe's `[native]` build (`{native}`).
    pub native: PathBuf,
    /// Install staging (`DESTDIR`, `{dest}`).
    pub dest: PathBuf,
    pub shims: PathBuf,
    /// `out/<id>/`.
    pub out: PathBuf,
    /// `logs/<id>/`.
    pub log: PathBuf,
}

/// Compile and link flags and the build environment, resolved once here
/// and read by every consumer (configure, make, the shim compile, the
/// release's build-info).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    pub libs: Vec<String>,
    /// Configure arguments from the recipe and the flavour (after the
    /// `--host`/`--build`/`--prefix` kiln adds).
    pub configure: Vec<String>,
    /// The environment configure and make run with.
    pub env: BTreeMap<String, String>,
}

/// One typed step of a build, with its resolved inputs.
#[derive(Debug, Clone)]
pub enum Step {
    /// A library recipe this build links against, built first.
    Dep(Box<BuildPlan>),
    /// The pinned source archive (or an accepted alternate).
    Fetch {
        artifact: Artifact,
    },
    /// Unpack into a fresh source tree.
    Unpack {
        into: PathBuf,
        strip: usize,
    },
    /// The patch series, checked whole before anything changes.
    Patch {
        tree: PathBuf,
        series: Vec<Patch>,
    },
    /// kiln's shim library, compiled with the `cc` crate.
    Shims {
        files: Vec<PathBuf>,
        /// The plan's resolved CFLAGS (shim include dirs and the forced
        /// header among them).
        cflags: Vec<String>,
        out_dir: PathBuf,
    },
    /// A file the build reads, generated from the plan (CMake's toolchain file).
    WriteFile {
        path: PathBuf,
        text: String,
    },
    /// A build for the build machine from the same tree (baseruby, build python).
    Native(Box<NativePlan>),
    /// A recipe generate step: sources made in the tree before configure.
    Generate {
        name: String,
        cmd: Cmd,
    },
    Configure(Cmd),
    Make(Cmd),
    /// Staged install (`DESTDIR`).
    Install {
        cmd: Cmd,
        dest: PathBuf,
    },
    /// A build-machine tool fetched by pinned checksum (binaryen).
    Tool(Tool),
    /// A recipe post stage (Asyncify, pruning bytecode, …).
    Post {
        name: String,
        cmd: Cmd,
    },
    /// Copy outputs into `out/<id>/`, drop what cannot work on WASI, and
    /// write generated files (pkg-config modules) there.
    Collect {
        outputs: BTreeMap<PathBuf, String>,
        prune: Vec<String>,
        into: PathBuf,
        /// (path in the output tree, contents).
        generated: Vec<(String, String)>,
    },
}

/// Which stamp covers a step: steps up to configure shape the configured
/// tree; the rest shape the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Deps,
    Tree,
    Outputs,
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Dep(_) => "dep",
            Step::Fetch { .. } => "fetch",
            Step::Unpack { .. } => "unpack",
            Step::Patch { .. } => "patch",
            Step::Shims { .. } => "shims",
            Step::WriteFile { .. } => "write",
            Step::Native(_) => "native",
            Step::Generate { .. } => "generate",
            Step::Configure(_) => "configure",
            Step::Make(_) => "make",
            Step::Install { .. } => "install",
            Step::Tool(_) => "tool",
            Step::Post { .. } => "post",
            Step::Collect { .. } => "collect",
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            Step::Dep(_) => Phase::Deps,
            Step::Fetch { .. }
            | Step::Unpack { .. }
            | Step::Patch { .. }
            | Step::Shims { .. }
            | Step::WriteFile { .. }
            | Step::Native(_)
            | Step::Generate { .. }
            | Step::Configure(_) => Phase::Tree,
            Step::Make(_) | Step::Install { .. } | Step::Tool(_) | Step::Post { .. } | Step::Collect { .. } => Phase::Outputs,
        }
    }

    /// One or more lines for `--dry-run`.
    fn render(&self) -> String {
        match self {
            Step::Dep(d) => format!("{} (-> {}, stamp {})", d.id, d.dirs.out.display(), &d.out_stamp[..16]),
            Step::Fetch { artifact } => {
                let mut s = format!("{} sha256 {}", artifact.file, artifact.sha256);
                for alt in &artifact.alternates {
                    let _ = write!(s, "\n                or {} sha256 {} ({})", alt.file, alt.sha256, alt.note);
                }
                s
            }
            Step::Unpack { into, strip } => format!("into {} (strip {strip})", into.display()),
            Step::Patch { series, .. } if series.is_empty() => "(no patches)".into(),
            Step::Patch { series, .. } => series
                .iter()
                .map(|p| p.path.display().to_string())
                .collect::<Vec<_>>()
                .join("\n                "),
            Step::Shims { files, out_dir, .. } => format!(
                "cc {} -> {}/libkiln_shims.a",
                files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(" "),
                out_dir.display()
            ),
            Step::WriteFile { path, text } => format!(
                "{} ({} lines)\n                {}",
                path.display(),
                text.lines().count(),
                text.lines().collect::<Vec<_>>().join("\n                ")
            ),
            Step::Native(n) => n.render(),
            Step::Configure(c) | Step::Make(c) => c.display(),
            Step::Install { cmd, .. } => cmd.display(),
            Step::Tool(t) => format!("{} (npm {}, sha256 {})", t.name, t.npm, t.sha256),
            Step::Generate { name, cmd } | Step::Post { name, cmd } => {
                format!("{name}\n                {}", cmd.display())
            }
            Step::Collect {
                outputs,
                prune,
                into,
                generated,
            } => {
                let mut s = outputs
                    .iter()
                    .map(|(from, to)| format!("{} -> {}", from.display(), into.join(to).display()))
                    .collect::<Vec<_>>()
                    .join("\n                ");
                if !prune.is_empty() {
                    let _ = write!(s, "\n                prune {}", prune.join(", "));
                }
                for (path, _) in generated {
                    let _ = write!(s, "\n                write {}", into.join(path).display());
                }
                s
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub recipe: Recipe,
    pub flavor: String,
    /// `php-8.4.16` or `php-8.4.16-slim`.
    pub id: String,
    pub source: Artifact,
    pub patches: Vec<Patch>,
    pub dirs: Dirs,
    pub flags: Flags,
    /// What runs, in order.
    pub steps: Vec<Step>,
    /// The native interpreter of the same tarball that `bench` and
    /// `test --native` compare against (the recipe's `[native]` build, or
    /// a separate one from `[bench] native_configure`), and its binary.
    pub native_side: Option<(NativePlan, PathBuf)>,
    /// Machine paths → the tokens a release states instead (`{work}`,
    /// `{repo}`, `{cache}`, `{target}`), longest path first.
    pub path_map: Vec<(PathBuf, String)>,
    /// Stamp of everything that shapes the configured tree.
    pub tree_stamp: String,
    /// Stamp of everything that shapes the outputs.
    pub out_stamp: String,
    pub jobs: usize,
    pub toolchain: ToolchainView,
}

/// Options that come from the command line.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub flavor: Option<String>,
    pub jobs: usize,
    /// Plan a library for the build machine instead of wasm32-wasip1 (the
    /// native side's libraries; `tc` is then [`ToolchainView::native_view`]).
    pub native: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            flavor: None,
            jobs: default_jobs(),
            native: false,
        }
    }
}

pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// `x86_64-pc-linux-gnu` style triple for autoconf's `--build`.
pub fn build_triple() -> String {
    match std::env::consts::OS {
        "linux" => format!("{}-pc-linux-gnu", std::env::consts::ARCH),
        "macos" => format!("{}-apple-darwin", std::env::consts::ARCH),
        os => format!("{}-unknown-{os}", std::env::consts::ARCH),
    }
}

/// Placeholder substitution (see `recipe::Native` for the list). An
/// unknown `{name}` is an error naming the recipe and the known ones.
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.0.insert(k.to_string(), v.into());
    }
    pub fn subst(&self, recipe: &str, text: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(j) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let key = &after[..j];
            match self.0.get(key) {
                Some(v) => out.push_str(v),
                None if key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_' || c == '-' || c == '.')
                    && !key.is_empty() =>
                {
                    bail!(
                        "recipe {recipe}: unknown placeholder {{{key}}} in {text:?} (known: {})",
                        self.0.keys().map(|k| format!("{{{k}}}")).collect::<Vec<_>>().join(", ")
                    )
                }
                None => out.push_str(&rest[i..i + j + 2]),
            }
            rest = &after[j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
    pub fn subst_all(&self, recipe: &str, v: &[String]) -> Result<Vec<String>> {
        v.iter().map(|s| self.subst(recipe, s)).collect()
    }
}

/// The `lib/pkgconfig` directories of the dependencies that publish
/// modules: all `PKG_CONFIG_LIBDIR` names (wasm builds and the native side).
pub fn pkgconfig_dirs(deps: &[BuildPlan]) -> Vec<String> {
    deps.iter()
        .filter(|d| !d.recipe.pkgconfig.is_empty())
        .map(|d| d.dirs.out.join("lib/pkgconfig").display().to_string())
        .collect()
}

/// A private copy of the source a native build unpacks for itself.
#[derive(Debug, Clone)]
pub struct PrivateSource {
    pub artifact: Artifact,
    pub strip: usize,
    pub patches: Vec<PathBuf>,
    /// Where it is unpacked (and built, in-tree).
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct NativePlan {
    /// The build directory (`{native}`).
    pub dir: PathBuf,
    /// Library recipes built natively first (`[bench] native_flavor`).
    pub deps: Vec<BuildPlan>,
    /// What the native interpreter runs with besides `[bench] native_env`:
    /// its libraries' `native_run_env`, resolved.
    pub run_env: Vec<(String, String)>,
    /// Set for a build in its own copy of the source.
    pub private_src: Option<PrivateSource>,
    pub configure: Cmd,
    pub make: Cmd,
    pub log_dir: PathBuf,
    /// Log file prefix (`native`, `bench-native`).
    pub log_name: String,
    /// Source, patches, commands and compiler.
    pub stamp: String,
}

impl NativePlan {
    pub fn render(&self) -> String {
        let mut s = String::new();
        for d in &self.deps {
            s.push_str(&format!("native library {} (stamp {})\n                ", d.id, &d.out_stamp[..16]));
        }
        if let Some(p) = &self.private_src {
            s.push_str(&format!("own copy of {} in {}\n                ", p.artifact.file, p.dir.display()));
        }
        s.push_str(&format!(
            "{}\n                {}\n                (native stamp {})",
            self.configure.display(),
            self.make.display(),
            &self.stamp[..16]
        ));
        s
    }

    /// Built, with this stamp.
    pub fn is_current(&self) -> bool {
        fs::read_to_string(self.dir.join(NATIVE_STAMP)).ok().as_deref().map(str::trim) == Some(self.stamp.as_str())
    }
}

impl BuildPlan {
    /// Path of the main module in the output tree.
    /// (For libraries, which have no module: the output tree.)
    pub fn module(&self) -> PathBuf {
        if self.recipe.run.module.is_empty() {
            return self.dirs.out.clone();
        }
        self.dirs.out.join(&self.recipe.run.module)
    }

    /// The library plans this one links against.
    pub fn deps(&self) -> impl Iterator<Item = &BuildPlan> {
        self.steps.iter().filter_map(|s| match s {
            Step::Dep(d) => Some(d.as_ref()),
            _ => None,
        })
    }

    /// The native side's environment: `[bench] native_env`, then what its
    /// libraries need at run time (the native plan's `run_env`). Every
    /// command that runs the native side (`run --native`, `test --native`,
    /// `bench`) uses this one.
    pub fn native_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.recipe.bench.iter().flat_map(|b| b.native_env.clone()).collect();
        if let Some((n, _)) = &self.native_side {
            env.extend(n.run_env.iter().cloned());
        }
        env
    }

    /// The build machine's programs this plan starts, its dependencies'
    /// included (`host.rs`); `skip` leaves out a (dependency) plan that
    /// will not run, e.g. one already built.
    pub fn host_needs(&self, skip: &dyn Fn(&BuildPlan) -> bool) -> Vec<Need> {
        let mut acc = host::Acc::new();
        self.gather_host(skip, &mut acc);
        host::needs_of(acc)
    }

    /// The programs the native side (`test --native`, `bench`) starts:
    /// its libraries' builds, its configure and make, its compiler.
    pub fn native_side_host_needs(&self, skip: &dyn Fn(&BuildPlan) -> bool) -> Vec<Need> {
        let mut acc = host::Acc::new();
        if let Some((n, _)) = &self.native_side {
            for d in &n.deps {
                d.gather_host(skip, &mut acc);
            }
            for c in [&n.configure, &n.make] {
                cmd_host(c, &self.id, "native side", &mut acc);
            }
            if !self.patches.is_empty() {
                host::add(&mut acc, "patch", &self.id, "patch");
            }
        }
        host::needs_of(acc)
    }

    fn gather_host(&self, skip: &dyn Fn(&BuildPlan) -> bool, acc: &mut host::Acc) {
        if skip(self) {
            return;
        }
        let id = &self.id;
        for p in &self.recipe.build.host_programs {
            host::add(acc, p, id, "its build");
        }
        if self.flags.env.contains_key("PKG_CONFIG_LIBDIR") {
            host::add(acc, "pkg-config", id, "configure, for its libraries' modules");
        }
        for step in &self.steps {
            match step {
                Step::Dep(d) => d.gather_host(skip, acc),
                Step::Native(n) => {
                    for d in &n.deps {
                        d.gather_host(skip, acc);
                    }
                    for c in [&n.configure, &n.make] {
                        cmd_host(c, id, "native build", acc);
                    }
                }
                Step::Patch { series, .. } if !series.is_empty() => host::add(acc, "patch", id, "patch"),
                Step::Tool(t) => host::add(acc, "npm", id, &format!("tool {}", t.name)),
                Step::Configure(c) | Step::Make(c) => cmd_host(c, id, step.kind(), acc),
                Step::Install { cmd, .. } | Step::Generate { cmd, .. } | Step::Post { cmd, .. } => cmd_host(cmd, id, step.kind(), acc),
                _ => {}
            }
        }
    }

    /// The recipe's `[native]` build, if its plan has one.
    pub fn tree_native(&self) -> Option<&NativePlan> {
        self.steps.iter().find_map(|s| match s {
            Step::Native(n) => Some(n.as_ref()),
            _ => None,
        })
    }

    /// `text` with machine paths replaced by `{work}`, `{repo}`, `{cache}`
    /// and `{target}` (what a release may state without leaking a checkout).
    pub fn portable(&self, text: &str) -> String {
        self.path_map
            .iter()
            .fold(text.to_string(), |t, (p, name)| t.replace(&p.display().to_string(), name))
    }

    /// The numbered step list (`--dry-run`): exactly what the executor runs.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "plan for {} (flavour {}, target {TARGET})", self.id, self.flavor);
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "  {:>2}. {:<10} {}", i + 1, step.kind(), step.render());
        }
        let _ = writeln!(s, "  flags:");
        let _ = writeln!(s, "    CFLAGS  {}", self.flags.cflags.join(" "));
        let _ = writeln!(s, "    LDFLAGS {}", self.flags.ldflags.join(" "));
        let _ = writeln!(s, "    LIBS    {}", self.flags.libs.join(" "));
        if let Some((n, bin)) = &self.native_side {
            let _ = writeln!(s, "  native side (bench, test --native): {} in {}", bin.display(), n.dir.display());
        }
        let _ = writeln!(s, "  logs:  {}", self.dirs.log.display());
        let _ = writeln!(s, "  stamp: {}", self.out_stamp);
        s
    }
}

/// A command's program when it is looked up on `PATH` (a path into a
/// source tree is the tree's own script), and the compiler its `CC` names.
fn cmd_host(c: &Cmd, id: &str, what: &str, acc: &mut host::Acc) {
    let cc = c
        .env_var("CC")
        .map(|cc| cc.to_string_lossy().split_whitespace().next().unwrap_or("").to_string());
    for p in [Some(c.program().to_string_lossy().into_owned()), cc].into_iter().flatten() {
        if !p.is_empty() && !p.contains('/') {
            host::add(acc, &p, id, what);
        }
    }
}
