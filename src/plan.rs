//! Plan, then execute: a recipe, a flavour and a toolchain resolve into a
//! [`BuildPlan`] — concrete paths, commands, environment and content stamps
//! — before anything runs. `--dry-run` prints it; most tests inspect it
//! without a toolchain.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::fetch::{sha256_bytes, sha256_file};
use crate::layout::Layout;
use crate::recipe::{Artifact, Recipe};
use crate::toolchain::{Toolchain, TARGET};

/// What the build needs to know about the toolchain. A real [`Toolchain`]
/// or a placeholder for planning without one.
#[derive(Debug, Clone)]
pub struct ToolchainView {
    pub cc: String,
    pub ar: String,
    pub ranlib: String,
    pub nm: String,
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    pub fingerprint: String,
}

impl ToolchainView {
    pub fn of(tc: &Toolchain) -> ToolchainView {
        ToolchainView {
            cc: tc.cc(),
            ar: tc.ar.display().to_string(),
            ranlib: tc.ranlib.display().to_string(),
            nm: tc.nm.display().to_string(),
            cflags: tc.cflags.clone(),
            ldflags: tc.ldflags.clone(),
            fingerprint: tc.fingerprint(),
        }
    }

    /// Stand-in used when planning without resolving a toolchain.
    pub fn placeholder() -> ToolchainView {
        ToolchainView {
            cc: format!("$CLANG --target={TARGET} --sysroot=$SYSROOT"),
            ar: "$AR".into(),
            ranlib: "$RANLIB".into(),
            nm: "$NM".into(),
            cflags: vec![],
            ldflags: vec![],
            fingerprint: "unresolved".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub path: PathBuf,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub recipe: Recipe,
    pub flavor: String,
    /// `php-8.4.16` or `php-8.4.16-slim`.
    pub id: String,
    pub source: Artifact,
    pub patches: Vec<Patch>,
    /// Shim C files (absolute) and their include dirs / forced headers.
    pub shims: Vec<PathBuf>,
    pub shim_includes: Vec<PathBuf>,
    pub force_include: Vec<PathBuf>,
    /// `target/kiln/build/<id>/`: the unpacked, patched, configured tree.
    pub work_dir: PathBuf,
    pub src_dir: PathBuf,
    pub shim_dir: PathBuf,
    /// `target/kiln/out/<id>/`.
    pub out_dir: PathBuf,
    pub log_dir: PathBuf,
    pub configure: Cmd,
    pub make: Cmd,
    /// Build-tree path → output path.
    pub outputs: BTreeMap<String, String>,
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
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { flavor: None, jobs: default_jobs() }
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

fn stamp(parts: &[&str]) -> String {
    sha256_bytes(parts.join("\u{1}").as_bytes())
}

pub fn plan(layout: &Layout, recipe: &Recipe, tc: ToolchainView, opts: &PlanOptions) -> Result<BuildPlan> {
    let (flavor, fl) = recipe.flavor(opts.flavor.as_deref())?;
    let flavor = flavor.to_string();
    let id = if flavor == recipe.default_flavor {
        format!("{}-{}", recipe.name, recipe.version)
    } else {
        format!("{}-{}-{flavor}", recipe.name, recipe.version)
    };
    let series = layout.patches().join(&recipe.name).join(&recipe.series);
    let mut patches = Vec::new();
    for p in crate::source::patch_series(&series)? {
        let sha256 = sha256_file(&p)?;
        patches.push(Patch { path: p, sha256 });
    }
    let shims_root = layout.shims();
    let resolve = |rel: &String| -> Result<PathBuf> {
        let p = shims_root.join(rel);
        if !p.exists() {
            bail!("recipe {}: shim {} does not exist", recipe.name, p.display());
        }
        Ok(p)
    };
    let shims = recipe.build.shims.iter().map(resolve).collect::<Result<Vec<_>>>()?;
    let shim_includes = recipe.build.shim_include.iter().map(resolve).collect::<Result<Vec<_>>>()?;
    let force_include = recipe.build.force_include.iter().map(resolve).collect::<Result<Vec<_>>>()?;

    let work_dir = layout.build_root().join(&id);
    let src_dir = work_dir.join("src");
    let shim_dir = work_dir.join("shims");
    let out_dir = layout.out_root().join(&id);
    let log_dir = layout.logs().join(&id);

    let mut cflags: Vec<String> = tc.cflags.clone();
    cflags.extend(recipe.build.cflags.iter().cloned());
    for inc in &shim_includes {
        cflags.push(format!("-I{}", inc.display()));
    }
    for h in &force_include {
        cflags.push("-include".into());
        cflags.push(h.display().to_string());
    }
    let mut ldflags = tc.ldflags.clone();
    ldflags.extend(recipe.build.ldflags.iter().cloned());
    let mut libs = recipe.build.libs.clone();
    if !shims.is_empty() {
        ldflags.push(format!("-L{}", shim_dir.display()));
        libs.insert(0, "-lkiln_shims".into());
    }

    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("CC".into(), tc.cc.clone());
    env.insert("AR".into(), tc.ar.clone());
    env.insert("RANLIB".into(), tc.ranlib.clone());
    env.insert("NM".into(), tc.nm.clone());
    env.insert("CFLAGS".into(), cflags.join(" "));
    env.insert("LDFLAGS".into(), ldflags.join(" "));
    env.insert("LIBS".into(), libs.join(" "));
    env.insert("SOURCE_DATE_EPOCH".into(), "1700000000".into());
    for (k, v) in &recipe.build.env {
        env.insert(k.clone(), v.clone());
    }
    let prefix = "/usr/local";
    let configure = Cmd::new("./configure", &src_dir)
        .arg(format!("--host={TARGET}"))
        .arg(format!("--build={}", build_triple()))
        .arg(format!("--prefix={prefix}"))
        .args(&recipe.build.configure)
        .args(&fl.configure)
        .envs(&env)
        .env_remove("CPPFLAGS")
        .env_remove("CXXFLAGS")
        .env_remove("MAKEFLAGS");
    let make = Cmd::new("make", &src_dir)
        .arg(format!("-j{}", opts.jobs))
        .args(&recipe.build.make_targets)
        .envs(&env)
        .env_remove("MAKEFLAGS");

    let mut shim_text = String::new();
    for f in shims.iter().chain(&force_include) {
        shim_text.push_str(&sha256_file(f)?);
    }
    for inc in &shim_includes {
        for e in walkdir::WalkDir::new(inc).sort_by_file_name() {
            let e = e?;
            if e.file_type().is_file() {
                shim_text.push_str(&sha256_file(e.path())?);
            }
        }
    }
    let patch_text: Vec<&str> = patches.iter().map(|p| p.sha256.as_str()).collect();
    let tree_stamp = stamp(&[
        &recipe.source.artifact.sha256,
        &patch_text.join(","),
        &configure.display_without_paths(&[&src_dir, &layout.repo]),
        &tc.fingerprint,
        &shim_text,
    ]);
    let outputs = recipe.build.outputs.clone();
    let out_stamp = stamp(&[&tree_stamp, &recipe.build.make_targets.join(" "), &format!("{outputs:?}")]);
    Ok(BuildPlan {
        recipe: recipe.clone(),
        flavor,
        id,
        source: recipe.source.artifact.clone(),
        patches,
        shims,
        shim_includes,
        force_include,
        work_dir,
        src_dir,
        shim_dir,
        out_dir,
        log_dir,
        configure,
        make,
        outputs,
        tree_stamp,
        out_stamp,
        jobs: opts.jobs,
        toolchain: tc,
    })
}

impl BuildPlan {
    /// Path of the main module in the output tree.
    pub fn module(&self) -> PathBuf {
        self.out_dir.join(&self.recipe.run.module)
    }

    /// Human-readable steps (`--dry-run`).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "plan for {} (flavour {})", self.id, self.flavor);
        let _ = writeln!(s, "  1. fetch   {} sha256 {}", self.source.file, self.source.sha256);
        for alt in &self.source.alternates {
            let _ = writeln!(s, "             or {} sha256 {} ({})", alt.file, alt.sha256, alt.note);
        }
        let _ = writeln!(s, "  2. unpack  into {}", self.src_dir.display());
        if self.patches.is_empty() {
            let _ = writeln!(s, "  3. patch   (no patches)");
        }
        for p in &self.patches {
            let _ = writeln!(s, "  3. patch   {}", p.path.display());
        }
        for f in &self.shims {
            let _ = writeln!(s, "  4. shim    cc {} -> {}/libkiln_shims.a", f.display(), self.shim_dir.display());
        }
        let _ = writeln!(s, "  5. configure\n       {}", self.configure.display());
        let _ = writeln!(s, "  6. make\n       {}", self.make.display());
        for (from, to) in &self.outputs {
            let _ = writeln!(s, "  7. install {} -> {}", from, self.out_dir.join(to).display());
        }
        let _ = writeln!(s, "  logs: {}", self.log_dir.display());
        let _ = writeln!(s, "  stamp: {}", self.out_stamp);
        s
    }
}

impl Cmd {
    /// Rendering with machine-specific paths replaced, for stamps.
    pub fn display_without_paths(&self, paths: &[&Path]) -> String {
        let mut s = self.display();
        for p in paths {
            s = s.replace(&p.display().to_string(), "@");
        }
        s
    }
}
