//! Execute a [`BuildPlan`]: fetch → unpack → patch → shims → configure →
//! make → install outputs. Each step is skipped when its content stamp says
//! nothing changed; finished output trees are also kept in the user-level
//! cache under their stamp, so a fresh clone with identical inputs copies
//! instead of rebuilding.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::fetch::Fetcher;
use crate::layout::Layout;
use crate::plan::BuildPlan;
use crate::progress::Progress;
use crate::toolchain::{host_key, TARGET};

const TREE_STAMP: &str = ".kiln-tree-stamp";
const OUT_STAMP: &str = ".kiln-stamp";
const NATIVE_STAMP: &str = ".kiln-native-stamp";

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
    pub offline: bool,
}

fn read_stamp(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

impl Builder<'_> {
    /// Whether the outputs of `plan` are present and current.
    pub fn is_current(plan: &BuildPlan) -> bool {
        read_stamp(&plan.out_dir.join(OUT_STAMP)).as_deref() == Some(plan.out_stamp.as_str())
            && plan.outputs.values().all(|o| plan.out_dir.join(o).exists())
    }

    pub fn build(&self, plan: &BuildPlan) -> Result<BuildResult> {
        for dep in &plan.deps {
            self.build(dep)
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
        let use_cache = std::env::var_os("KILN_NO_BUILD_CACHE").is_none();
        if use_cache && cached.join(OUT_STAMP).is_file() {
            let stage = self.progress.stage(format!("{}: restore from build cache", plan.id));
            replace_dir_with_copy(&cached, &plan.out_dir)?;
            stage.done(&format!("copied from {}", cached.display()));
            return Ok(BuildResult::FromCache);
        }
        fs::create_dir_all(&plan.log_dir)?;
        self.prepare_tree(plan)?;

        let stage = self.progress.stage(format!("{}: make -j{}", plan.id, plan.jobs));
        plan.make
            .run(&plan.log_dir.join("make.log"))
            .with_context(|| format!("building {}", plan.id))?;
        stage.done("done");

        if let Some(install) = &plan.install {
            let stage = self.progress.stage(format!("{}: make install (staged)", plan.id));
            let _ = fs::remove_dir_all(&plan.dest_dir);
            install
                .run(&plan.log_dir.join("install.log"))
                .with_context(|| format!("installing {}", plan.id))?;
            stage.done(&format!("-> {}", plan.dest_dir.display()));
        }
        for t in &plan.recipe.tools {
            crate::tools::ensure(self.layout, t, self.offline)?;
        }
        for (i, step) in plan.post.iter().enumerate() {
            let stage = self.progress.stage(format!("{}: {}", plan.id, step.name));
            step.cmd
                .run(&plan.log_dir.join(format!("post-{i}.log")))
                .with_context(|| format!("{}: {}", plan.id, step.name))?;
            stage.done("done");
        }

        let stage = self.progress.stage(format!("{}: install outputs", plan.id));
        let tmp_out = plan.out_dir.with_extension("partial");
        let _ = fs::remove_dir_all(&tmp_out);
        for (src, to) in &plan.outputs {
            let src = src.clone();
            let dst = tmp_out.join(to);
            if !src.exists() {
                bail!(
                    "{}: the build did not produce {} (see {})",
                    plan.id,
                    src.display(),
                    plan.log_dir.join("make.log").display()
                );
            }
            fs::create_dir_all(dst.parent().expect("output has a parent"))?;
            copy_tree(&src, &dst)?;
        }
        for p in &plan.prune {
            let victim = tmp_out.join(p);
            if victim.is_dir() {
                fs::remove_dir_all(&victim)?;
            } else if victim.exists() {
                fs::remove_file(&victim)?;
            }
        }
        fs::write(tmp_out.join(OUT_STAMP), &plan.out_stamp)?;
        replace_dir_with_move(&tmp_out, &plan.out_dir)?;
        // Keep a copy keyed by content for fresh clones.
        if use_cache {
            let _ = fs::remove_dir_all(&cached);
            if let Err(e) = copy_tree(&plan.out_dir, &cached) {
                let _ = fs::remove_dir_all(&cached);
                self.progress
                    .println(format!("warning: could not store the build in {}: {e:#}", cached.display()));
            }
        }
        stage.done(&format!("-> {}", plan.out_dir.display()));
        Ok(BuildResult::Built)
    }

    /// Exclusive per-id lock under `target/kiln/locks/`, held while the
    /// returned file lives.
    fn lock(&self, plan: &BuildPlan) -> Result<fs::File> {
        let lock_dir = self.layout.work.join("locks");
        fs::create_dir_all(&lock_dir)?;
        let lock_path = lock_dir.join(format!("{}.lock", plan.id));
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            self.progress.println(format!(
                "{}: waiting for another build of it to finish ({})",
                plan.id,
                lock_path.display()
            ));
            lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;
        }
        Ok(lock)
    }

    /// The unpacked, patched source tree alone (no build), for commands
    /// that read upstream files next to a module restored from the build
    /// cache (test suites, benchmark scripts).
    pub fn ensure_source(&self, plan: &BuildPlan) -> Result<()> {
        if plan.src_dir.is_dir() {
            return Ok(());
        }
        let _lock = self.lock(plan)?;
        if plan.src_dir.is_dir() {
            return Ok(());
        }
        let stage = self.progress.stage(format!("{}: source tree (fetch, unpack, patch)", plan.id));
        let archive = Fetcher::new(self.layout, self.progress.clone(), self.offline)?.fetch(&plan.source)?;
        crate::source::unpack(&archive, &plan.src_dir, plan.recipe.source.strip_components)?;
        let patches: Vec<PathBuf> = plan.patches.iter().map(|p| p.path.clone()).collect();
        crate::source::apply_patches(&plan.src_dir, &patches, &plan.log_dir)?;
        stage.done("done");
        Ok(())
    }

    /// Unpacked + patched + shims + configured tree, reusing an existing one
    /// whose stamp matches.
    fn prepare_tree(&self, plan: &BuildPlan) -> Result<()> {
        if read_stamp(&plan.work_dir.join(TREE_STAMP)).as_deref() == Some(plan.tree_stamp.as_str()) {
            return Ok(());
        }
        let stage = self.progress.stage(format!("{}: fetch {}", plan.id, plan.source.file));
        let fetcher = Fetcher::new(self.layout, self.progress.clone(), self.offline)?;
        let archive = fetcher.fetch(&plan.source)?;
        stage.done(&format!("{}", archive.display()));

        let stage = self.progress.stage(format!("{}: unpack + patch", plan.id));
        // Start from a fresh tree; keep a native build whose stamp still
        // matches (it depends only on the pristine source).
        let native_ok = plan
            .native
            .as_ref()
            .is_some_and(|n| read_stamp(&n.dir.join(NATIVE_STAMP)).as_deref() == Some(n.stamp.as_str()));
        if plan.work_dir.exists() {
            for e in fs::read_dir(&plan.work_dir)? {
                let p = e?.path();
                if native_ok && plan.native.as_ref().is_some_and(|n| n.dir == p) {
                    continue;
                }
                if p.is_dir() {
                    fs::remove_dir_all(&p).with_context(|| format!("removing stale {}", p.display()))?;
                } else {
                    fs::remove_file(&p)?;
                }
            }
        }
        crate::source::unpack(&archive, &plan.src_dir, plan.recipe.source.strip_components)?;
        let patches: Vec<PathBuf> = plan.patches.iter().map(|p| p.path.clone()).collect();
        crate::source::apply_patches(&plan.src_dir, &patches, &plan.log_dir)?;
        stage.done(&format!("{} patches", patches.len()));

        if !plan.shims.is_empty() {
            let stage = self.progress.stage(format!("{}: compile shims", plan.id));
            compile_shims(plan)?;
            stage.done(&format!("{} files", plan.shims.len()));
        }

        if let Some(native) = plan.native.as_ref().filter(|_| !native_ok) {
            let stage = self.progress.stage(format!("{}: native build (configure + make)", plan.id));
            let _ = fs::remove_dir_all(&native.dir);
            fs::create_dir_all(&native.dir)?;
            native
                .configure
                .run(&plan.log_dir.join("native-configure.log"))
                .with_context(|| format!("configuring the native build of {}", plan.id))?;
            native
                .make
                .run(&plan.log_dir.join("native-make.log"))
                .with_context(|| format!("making the native build of {}", plan.id))?;
            fs::write(native.dir.join(NATIVE_STAMP), &native.stamp)?;
            stage.done("done");
        }

        fs::create_dir_all(&plan.build_dir)?;
        if let Some(configure) = &plan.configure {
            let stage = self.progress.stage(format!("{}: configure", plan.id));
            configure
                .run(&plan.log_dir.join("configure.log"))
                .with_context(|| format!("configuring {}", plan.id))?;
            stage.done("done");
        }
        fs::write(plan.work_dir.join(TREE_STAMP), &plan.tree_stamp)?;
        Ok(())
    }
}

/// The shim library, built with the `cc` crate for wasm32-wasip1.
fn compile_shims(plan: &BuildPlan) -> Result<()> {
    fs::create_dir_all(&plan.shim_dir)?;
    let tc = &plan.toolchain;
    let mut words = tc.cc.split_whitespace();
    let clang = words.next().context("empty CC")?;
    let mut b = cc::Build::new();
    b.compiler(clang)
        .archiver(&tc.ar)
        .target(TARGET)
        .host(&host_key())
        .opt_level(2)
        .debug(false)
        .out_dir(&plan.shim_dir)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cargo_debug(false)
        .cargo_output(false)
        .warnings(false);
    for w in words {
        b.flag(w);
    }
    for f in tc.cflags.iter().chain(&plan.recipe.build.cflags) {
        b.flag(f);
    }
    for inc in &plan.shim_includes {
        b.include(inc);
    }
    for h in &plan.force_include {
        b.flag("-include").flag(h.display().to_string());
    }
    b.files(&plan.shims);
    b.try_compile("kiln_shims")
        .map_err(|e| anyhow::anyhow!("compiling shims {:?}: {e}", plan.shims))?;
    Ok(())
}

fn replace_dir_with_move(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("removing {}", to.display()))?;
    }
    if let Some(p) = to.parent() {
        fs::create_dir_all(p)?;
    }
    fs::rename(from, to).with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

fn replace_dir_with_copy(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("partial");
    let _ = fs::remove_dir_all(&tmp);
    copy_tree(from, &tmp)?;
    replace_dir_with_move(&tmp, to)
}

/// Copy a file or a directory tree (symlinks copied as links).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).with_context(|| format!("reading {}", from.display()))?;
    if meta.is_file() {
        if let Some(p) = to.parent() {
            fs::create_dir_all(p)?;
        }
        fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        return Ok(());
    }
    for e in walkdir::WalkDir::new(from) {
        let e = e?;
        let rel = e.path().strip_prefix(from).expect("walk stays under root");
        let dst = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&dst)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(e.path())?;
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst)?;
        } else {
            fs::copy(e.path(), &dst).with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}
