//! The executor: runs a [`BuildPlan`]'s steps in order, matching on each
//! step's kind. Dependencies first; then the tree steps (fetch → unpack →
//! patch → shims → native → configure), skipped when the tree stamp says
//! nothing changed; then the output steps (make → install → tools → post →
//! collect). Finished output trees are kept in the user-level cache under
//! their stamp, so a fresh clone with identical inputs copies instead of
//! rebuilding.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::fsutil::{copy_tree, replace_dir_with_copy, replace_dir_with_move, FileLock};
use crate::layout::Layout;
use crate::plan::{BuildPlan, NativePlan, Phase, Step, ToolchainView, NATIVE_STAMP};
use crate::progress::Progress;
use crate::toolchain::{host_key, TARGET};

const TREE_STAMP: &str = ".kiln-tree-stamp";
const OUT_STAMP: &str = ".kiln-stamp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildResult {
    /// Outputs were already up to date: no work done.
    UpToDate,
    /// Copied from the user-level build cache.
    FromCache,
    Built,
}

pub struct Builder<'a> {
    pub layout: &'a Layout,
    pub progress: &'a Progress,
    pub config: &'a Config,
}

fn read_stamp(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

impl Builder<'_> {
    /// Whether the outputs of `plan` are present and current.
    pub fn is_current(plan: &BuildPlan) -> bool {
        read_stamp(&plan.dirs.out.join(OUT_STAMP)).as_deref() == Some(plan.out_stamp.as_str())
            && plan.steps.iter().all(|s| match s {
                Step::Collect {
                    outputs, into, generated, ..
                } => outputs.values().all(|o| into.join(o).exists()) && generated.iter().all(|(g, _)| into.join(g).exists()),
                _ => true,
            })
    }

    fn fetcher(&self) -> Result<Fetcher> {
        Fetcher::new(self.layout, self.progress.clone(), self.config)
    }

    /// Build `plan` and its dependencies: first the host programs the
    /// parts that will run need (installed, or an error before anything
    /// is built: `host.rs`), then each plan's steps.
    pub fn build(&self, plan: &BuildPlan) -> Result<BuildResult> {
        self.ensure_host_programs(plan)?;
        self.build_one(plan)
    }

    /// The host programs of the plans that will run (`host.rs`).
    pub fn ensure_host_programs(&self, plan: &BuildPlan) -> Result<()> {
        let needs = plan.host_needs(&|p| self.will_not_run(p));
        self.ensure_host(&plan.id, &needs)
    }

    /// Current, or restored from the build cache: no step of it runs.
    fn will_not_run(&self, plan: &BuildPlan) -> bool {
        Self::is_current(plan) || (!self.config.no_build_cache && self.layout.build_cache().join(&plan.out_stamp).join(OUT_STAMP).is_file())
    }

    fn ensure_host(&self, what: &str, needs: &[crate::host::Need]) -> Result<()> {
        if needs.is_empty() {
            return Ok(());
        }
        let tr = crate::recipe::ToolchainRecipe::load(&self.layout.recipes().join("toolchain.toml"))?;
        let install = match self.config.no_install {
            true => Err("KILN_NO_INSTALL is set".to_string()),
            false => crate::host::how_to_install(),
        };
        crate::host::ensure(what, needs, &tr.host, install, self.layout, self.progress)
    }

    fn build_one(&self, plan: &BuildPlan) -> Result<BuildResult> {
        for dep in plan.deps() {
            self.build_one(dep)
                .with_context(|| format!("building {}, a dependency of {}", dep.id, plan.id))?;
        }
        if Self::is_current(plan) {
            return Ok(BuildResult::UpToDate);
        }
        // One build of a given id at a time (two `cargo xtask` processes, or
        // parallel tests); the second waits, then finds it current.
        let _lock = self.lock(plan)?;
        if Self::is_current(plan) {
            return Ok(BuildResult::UpToDate);
        }
        let cached = self.layout.build_cache().join(&plan.out_stamp);
        if !self.config.no_build_cache && cached.join(OUT_STAMP).is_file() {
            let stage = self.progress.stage(format!("{}: restore from build cache", plan.id));
            replace_dir_with_copy(&cached, &plan.dirs.out)?;
            stage.done(&format!("copied from {}", cached.display()));
            return Ok(BuildResult::FromCache);
        }
        fs::create_dir_all(&plan.dirs.log)?;
        let tree_current = read_stamp(&plan.dirs.work.join(TREE_STAMP)).as_deref() == Some(plan.tree_stamp.as_str());
        let last_tree = plan.steps.iter().rposition(|s| s.phase() == Phase::Tree);
        let mut exec = Exec {
            b: self,
            plan,
            archive: None,
            posts: 0,
            generates: 0,
        };
        for (i, step) in plan.steps.iter().enumerate() {
            match step.phase() {
                Phase::Deps => continue,
                Phase::Tree if tree_current => continue,
                _ => {}
            }
            exec.step(step)?;
            if Some(i) == last_tree {
                fs::write(plan.dirs.work.join(TREE_STAMP), &plan.tree_stamp)?;
            }
        }
        // Keep a copy keyed by content for fresh clones.
        if !self.config.no_build_cache {
            let _ = fs::remove_dir_all(&cached);
            if let Err(e) = copy_tree(&plan.dirs.out, &cached) {
                let _ = fs::remove_dir_all(&cached);
                self.progress
                    .println(format!("warning: could not store the build in {}: {e:#}", cached.display()));
            }
        }
        Ok(BuildResult::Built)
    }

    /// Exclusive per-id lock under `target/kiln/locks/`, held while the
    /// returned value lives.
    pub fn lock(&self, plan: &BuildPlan) -> Result<FileLock> {
        let path = self.layout.locks().join(format!("{}.lock", plan.id));
        FileLock::acquire(&path, || {
            self.progress.println(format!(
                "{}: waiting for another build of it to finish ({})",
                plan.id,
                path.display()
            ))
        })
    }

    /// The unpacked, patched source tree alone (no build), for commands
    /// that read upstream files next to a module restored from the build
    /// cache (test suites, benchmark scripts, a native tree build).
    pub fn ensure_source(&self, plan: &BuildPlan) -> Result<()> {
        let _lock = self.lock(plan)?;
        self.ensure_source_locked(plan)
    }

    fn ensure_source_locked(&self, plan: &BuildPlan) -> Result<()> {
        if plan.dirs.src.is_dir() {
            return Ok(());
        }
        let stage = self.progress.stage(format!("{}: source tree (fetch, unpack, patch)", plan.id));
        let mut exec = Exec {
            b: self,
            plan,
            archive: None,
            posts: 0,
            generates: 0,
        };
        for step in &plan.steps {
            match step {
                Step::Fetch { .. } | Step::Patch { .. } => exec.step(step)?,
                Step::Unpack { into, strip } => exec.unpack(into, *strip)?,
                _ => {}
            }
        }
        stage.done("done");
        Ok(())
    }

    /// The native interpreter `bench` and `test --native` compare against,
    /// built (or rebuilt) when missing or stale, whatever state the
    /// checkout is in: a wasm build restored from the cache has no native
    /// tree, and a tree build needs the source, which is then unpacked.
    pub fn native_side(&self, plan: &BuildPlan) -> Result<PathBuf> {
        let Some((n, binary)) = &plan.native_side else {
            bail!(
                "recipe {} names no native build to compare against ([bench] native_binary)",
                plan.recipe.name
            )
        };
        if n.is_current() && binary.is_file() {
            return Ok(binary.clone());
        }
        let needs = plan.native_side_host_needs(&|p| self.will_not_run(p));
        self.ensure_host(&format!("{}'s native side", plan.id), &needs)?;
        for dep in &n.deps {
            self.build(dep)
                .with_context(|| format!("building {}, a library of {}'s native side", dep.id, plan.id))?;
        }
        let _lock = self.lock(plan)?;
        if n.private_src.is_none() {
            self.ensure_source_locked(plan)?;
        }
        if !binary.is_file() {
            // A stamp without its binary (a half-cleaned tree): rebuild.
            let _ = fs::remove_file(n.dir.join(".kiln-native-stamp"));
        }
        build_native(n, &self.fetcher()?, self.progress, &plan.id)?;
        if !binary.is_file() {
            bail!(
                "the native build of {} finished but {} is missing (see {})",
                plan.id,
                binary.display(),
                n.log_dir.display()
            );
        }
        Ok(binary.clone())
    }
}

/// One run of a plan's steps.
struct Exec<'a, 'b> {
    b: &'a Builder<'b>,
    plan: &'a BuildPlan,
    /// Set by the fetch step, read by unpack.
    archive: Option<PathBuf>,
    posts: usize,
    generates: usize,
}

impl Exec<'_, '_> {
    fn log(&self, name: &str) -> PathBuf {
        self.plan.dirs.log.join(name)
    }

    /// Dispatch only: one function per step kind.
    fn step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::Dep(_) => Ok(()),
            Step::Fetch { artifact } => self.fetch(artifact),
            Step::Unpack { into, strip } => self.unpack_step(into, *strip),
            Step::Patch { tree, series } => self.patch(tree, series),
            Step::Shims { files, cflags, out_dir } => self.shims(files, cflags, out_dir),
            Step::WriteFile { path, text } => crate::fsutil::write_atomic(path, text.as_bytes()),
            Step::Native(n) => build_native(n, &self.b.fetcher()?, self.b.progress, &self.plan.id).map(drop),
            Step::Configure(c) => self.run_in_build(c, "configure", "configure.log", "configuring"),
            Step::Make(c) => {
                let what = format!("make -j{}", self.plan.jobs);
                self.run_in_build(c, &what, "make.log", "building")
            }
            Step::Install { cmd, dest } => self.install(cmd, dest),
            Step::Tool(t) => crate::tools::ensure(self.b.layout, t, self.b.config.offline).map(drop),
            Step::Generate { name, cmd } => {
                let n = self.generates;
                self.generates += 1;
                self.hook(name, cmd, &format!("generate-{n}.log"))
            }
            Step::Post { name, cmd } => {
                let n = self.posts;
                self.posts += 1;
                self.hook(name, cmd, &format!("post-{n}.log"))
            }
            Step::Collect {
                outputs,
                prune,
                into,
                generated,
            } => self.collect(outputs, prune, into, generated),
        }
    }

    fn fetch(&mut self, artifact: &crate::recipe::Artifact) -> Result<()> {
        let stage = self.b.progress.stage(format!("{}: fetch {}", self.plan.id, artifact.file));
        let p = self.b.fetcher()?.fetch(artifact)?;
        stage.done(&p.display().to_string());
        self.archive = Some(p);
        Ok(())
    }

    fn unpack_step(&mut self, into: &Path, strip: usize) -> Result<()> {
        let stage = self.b.progress.stage(format!("{}: unpack", self.plan.id));
        self.clean_work_dir()?;
        self.unpack(into, strip)?;
        stage.done(&into.display().to_string());
        Ok(())
    }

    fn patch(&self, tree: &Path, series: &[crate::plan::Patch]) -> Result<()> {
        let stage = self.b.progress.stage(format!("{}: patch", self.plan.id));
        let paths: Vec<PathBuf> = series.iter().map(|p| p.path.clone()).collect();
        crate::source::apply_patches(tree, &paths, &self.plan.dirs.log)?;
        stage.done(&format!("{} patches", paths.len()));
        Ok(())
    }

    fn shims(&self, files: &[PathBuf], cflags: &[String], out_dir: &Path) -> Result<()> {
        let stage = self.b.progress.stage(format!("{}: compile shims", self.plan.id));
        compile_shims(&self.plan.toolchain, files, cflags, out_dir)?;
        stage.done(&format!("{} files", files.len()));
        Ok(())
    }

    /// Configure or make: in the build dir, logged to `log`.
    fn run_in_build(&self, c: &crate::cmd::Cmd, what: &str, log: &str, doing: &str) -> Result<()> {
        let id = &self.plan.id;
        fs::create_dir_all(&self.plan.dirs.build)?;
        let stage = self.b.progress.stage(format!("{id}: {what}"));
        c.run(&self.log(log)).with_context(|| format!("{doing} {id}"))?;
        stage.done("done");
        Ok(())
    }

    fn install(&self, cmd: &crate::cmd::Cmd, dest: &Path) -> Result<()> {
        let id = &self.plan.id;
        let stage = self.b.progress.stage(format!("{id}: make install (staged)"));
        let _ = fs::remove_dir_all(dest);
        cmd.run(&self.log("install.log")).with_context(|| format!("installing {id}"))?;
        stage.done(&format!("-> {}", dest.display()));
        Ok(())
    }

    /// A generate or post command; logs are numbered per kind
    /// (generate-0.log, post-0.log, …).
    fn hook(&self, name: &str, cmd: &crate::cmd::Cmd, log: &str) -> Result<()> {
        let id = &self.plan.id;
        let stage = self.b.progress.stage(format!("{id}: {name}"));
        cmd.run(&self.log(log)).with_context(|| format!("{id}: {name}"))?;
        stage.done("done");
        Ok(())
    }

    /// Outputs into `<into>.partial`, minus `prune`, plus the generated
    /// files and the stamp, then swapped into place.
    fn collect(
        &self,
        outputs: &std::collections::BTreeMap<PathBuf, String>,
        prune: &[String],
        into: &Path,
        generated: &[(String, String)],
    ) -> Result<()> {
        let id = &self.plan.id;
        let stage = self.b.progress.stage(format!("{id}: collect outputs"));
        let tmp_out = into.with_extension("partial");
        let _ = fs::remove_dir_all(&tmp_out);
        for (src, to) in outputs {
            if !src.exists() {
                bail!(
                    "{id}: the build did not produce {} (see {})",
                    src.display(),
                    self.log("make.log").display()
                );
            }
            let dst = tmp_out.join(to);
            fs::create_dir_all(dst.parent().expect("output has a parent"))?;
            copy_tree(src, &dst)?;
        }
        for p in prune {
            crate::fsutil::remove_any(&tmp_out.join(p))?;
        }
        for (rel, text) in generated {
            crate::fsutil::write_atomic(&tmp_out.join(rel), text.as_bytes())?;
        }
        fs::write(tmp_out.join(OUT_STAMP), &self.plan.out_stamp)?;
        replace_dir_with_move(&tmp_out, into)?;
        stage.done(&format!("-> {}", into.display()));
        Ok(())
    }

    /// Start from a fresh tree, keeping native builds (each checks its own
    /// stamp before it is reused).
    fn clean_work_dir(&self) -> Result<()> {
        let plan = self.plan;
        let keep: Vec<PathBuf> = plan
            .tree_native()
            .map(|n| n.dir.clone())
            .into_iter()
            .chain(
                plan.native_side
                    .iter()
                    .filter_map(|(n, _)| n.private_src.as_ref().and_then(|p| p.dir.parent().map(Path::to_path_buf))),
            )
            .collect();
        if plan.dirs.work.exists() {
            for e in fs::read_dir(&plan.dirs.work)? {
                let p = e?.path();
                if !keep.contains(&p) {
                    crate::fsutil::remove_any(&p).with_context(|| format!("removing stale {}", p.display()))?;
                }
            }
        }
        Ok(())
    }

    fn unpack(&mut self, into: &Path, strip: usize) -> Result<()> {
        let archive = match &self.archive {
            Some(a) => a.clone(),
            None => self.b.fetcher()?.fetch(&self.plan.source)?,
        };
        crate::source::unpack(&archive, into, strip)
    }
}

/// The shim library, built with the `cc` crate for wasm32-wasip1 from the
/// plan's resolved flags.
fn compile_shims(tc: &ToolchainView, files: &[PathBuf], cflags: &[String], out_dir: &Path) -> Result<()> {
    fs::create_dir_all(out_dir)?;
    let mut words = tc.cc.split_whitespace();
    let clang = words.next().context("empty CC")?;
    let mut b = cc::Build::new();
    b.compiler(clang)
        .archiver(&tc.ar)
        .target(TARGET)
        .host(&host_key())
        .opt_level(2)
        .debug(false)
        .out_dir(out_dir)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cargo_debug(false)
        .cargo_output(false)
        .warnings(false);
    for w in words.chain(cflags.iter().map(String::as_str)) {
        b.flag(w);
    }
    b.files(files);
    b.try_compile("kiln_shims")
        .map_err(|e| anyhow::anyhow!("compiling shims {files:?}: {e}"))?;
    Ok(())
}

/// Build `n` unless its stamp says it is current. The caller holds the
/// owning plan's lock; for a tree build the shared source must exist.
fn build_native(n: &NativePlan, fetcher: &Fetcher, progress: &Progress, label: &str) -> Result<bool> {
    if n.is_current() {
        return Ok(false);
    }
    let stage = progress.stage(format!("{label}: native build ({})", n.log_name));
    let root = match &n.private_src {
        Some(p) => p.dir.parent().unwrap_or(&p.dir).to_path_buf(),
        None => n.dir.clone(),
    };
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("removing stale {}", root.display()))?;
    }
    match &n.private_src {
        Some(p) => {
            let archive = fetcher.fetch(&p.artifact)?;
            crate::source::unpack(&archive, &p.dir, p.strip)?;
            crate::source::apply_patches(&p.dir, &p.patches, &n.log_dir)?;
        }
        None => fs::create_dir_all(&n.dir).with_context(|| format!("creating {}", n.dir.display()))?,
    }
    n.configure
        .run(&n.log_dir.join(format!("{}-configure.log", n.log_name)))
        .with_context(|| format!("configuring the native build of {label}"))?;
    n.make
        .run(&n.log_dir.join(format!("{}-make.log", n.log_name)))
        .with_context(|| format!("making the native build of {label}"))?;
    fs::write(n.dir.join(NATIVE_STAMP), &n.stamp)?;
    stage.done("done");
    Ok(true)
}
