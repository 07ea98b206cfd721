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
    /// Provider and compiler version, without machine paths.
    pub version_line: String,
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
            version_line: format!("{} / {}", tc.provider.kind(), tc.clang_version().unwrap_or_default()),
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
            version_line: "unresolved".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub path: PathBuf,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct NativePlan {
    pub dir: PathBuf,
    pub configure: Cmd,
    pub make: Cmd,
    pub stamp: String,
}

#[derive(Debug, Clone)]
pub struct PostStep {
    pub name: String,
    pub cmd: Cmd,
}

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub recipe: Recipe,
    pub flavor: String,
    /// `php-8.4.16` or `php-8.4.16-slim`.
    pub id: String,
    pub source: Artifact,
    pub patches: Vec<Patch>,
    /// Library plans this one links against, built first.
    pub deps: Vec<BuildPlan>,
    /// Shim C files (absolute) and their include dirs / forced headers.
    pub shims: Vec<PathBuf>,
    pub shim_includes: Vec<PathBuf>,
    pub force_include: Vec<PathBuf>,
    /// `target/kiln/build/<id>/`: holds `src/`, `native/`, `cross/`, `dest/`.
    pub work_dir: PathBuf,
    pub src_dir: PathBuf,
    /// Where the cross build's configure and make run.
    pub build_dir: PathBuf,
    pub dest_dir: PathBuf,
    pub shim_dir: PathBuf,
    /// `target/kiln/out/<id>/`.
    pub out_dir: PathBuf,
    pub log_dir: PathBuf,
    pub native: Option<NativePlan>,
    pub configure: Option<Cmd>,
    pub make: Cmd,
    pub install: Option<Cmd>,
    pub post: Vec<PostStep>,
    /// Absolute build path → output path (relative to `out_dir`).
    pub outputs: BTreeMap<PathBuf, String>,
    pub prune: Vec<String>,
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
        PlanOptions {
            flavor: None,
            jobs: default_jobs(),
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

fn stamp(parts: &[&str]) -> String {
    sha256_bytes(parts.join("\u{1}").as_bytes())
}

/// Placeholder substitution (see `recipe::Native` for the list).
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

pub fn plan(layout: &Layout, recipe: &Recipe, tc: ToolchainView, opts: &PlanOptions) -> Result<BuildPlan> {
    plan_inner(layout, recipe, tc, opts, &mut Vec::new())
}

fn plan_inner(layout: &Layout, recipe: &Recipe, tc: ToolchainView, opts: &PlanOptions, stack: &mut Vec<String>) -> Result<BuildPlan> {
    if stack.contains(&recipe.name) {
        bail!("dependency cycle: {} -> {}", stack.join(" -> "), recipe.name);
    }
    stack.push(recipe.name.clone());
    let mut deps = Vec::new();
    for d in &recipe.deps {
        let dr = crate::recipe::find(&layout.recipes(), d)?;
        if dr.kind != crate::recipe::Kind::Library {
            bail!("recipe {}: dependency {d} is not a library recipe", recipe.name);
        }
        deps.push(plan_inner(
            layout,
            &dr,
            tc.clone(),
            &PlanOptions {
                flavor: None,
                jobs: opts.jobs,
            },
            stack,
        )?);
    }
    stack.pop();

    let (flavor, fl) = recipe.flavor(opts.flavor.as_deref())?;
    let flavor = flavor.to_string();
    let id = recipe.id(&flavor);
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
    let build_dir = if recipe.build.out_of_tree {
        work_dir.join("cross")
    } else {
        src_dir.clone()
    };
    let native_dir = work_dir.join("native");
    let dest_dir = work_dir.join("dest");
    let shim_dir = work_dir.join("shims");
    let out_dir = layout.out_root().join(&id);
    let log_dir = layout.logs().join(&id);
    let prefix = "/usr/local";

    let mut vars = Vars::default();
    vars.set("src", src_dir.display().to_string());
    vars.set("build", build_dir.display().to_string());
    vars.set("native", native_dir.display().to_string());
    vars.set("dest", dest_dir.display().to_string());
    vars.set("prefix", prefix);
    vars.set("jobs", opts.jobs.to_string());
    vars.set("cc", tc.cc.clone());
    vars.set("ar", tc.ar.clone());
    vars.set("ranlib", tc.ranlib.clone());
    for d in &deps {
        vars.set(&format!("dep:{}", d.recipe.name), d.out_dir.display().to_string());
    }
    for t in &recipe.tools {
        vars.set(&format!("tool:{}", t.name), crate::tools::root(layout, t).display().to_string());
    }
    let name = recipe.name.as_str();

    let mut cflags: Vec<String> = if recipe.build.toolchain_cflags {
        tc.cflags.clone()
    } else {
        Vec::new()
    };
    cflags.extend(vars.subst_all(name, &recipe.build.cflags)?);
    // Reproducible across checkouts and machines: no build paths in the
    // output (__FILE__, debug info).
    cflags.push(format!("-ffile-prefix-map={}=/kiln/{id}", work_dir.display()));
    cflags.push(format!("-ffile-prefix-map={}=/kiln/repo", layout.repo.display()));
    cflags.push(format!("-ffile-prefix-map={}=/kiln/cache", layout.cache.display()));
    for inc in &shim_includes {
        cflags.push(format!("-I{}", inc.display()));
    }
    for d in &deps {
        cflags.push(format!("-I{}", d.out_dir.join("include").display()));
    }
    for h in &force_include {
        cflags.push("-include".into());
        cflags.push(h.display().to_string());
    }
    let mut ldflags = tc.ldflags.clone();
    ldflags.extend(vars.subst_all(name, &recipe.build.ldflags)?);
    for d in &deps {
        ldflags.push(format!("-L{}", d.out_dir.join("lib").display()));
    }
    let mut libs = vars.subst_all(name, &recipe.build.libs)?;
    if !shims.is_empty() {
        ldflags.push(format!("-L{}", shim_dir.display()));
        libs.insert(0, "-lkiln_shims".into());
    }
    vars.set("cflags", cflags.join(" "));
    vars.set("ldflags", ldflags.join(" "));

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
        env.insert(k.clone(), vars.subst(name, v)?);
    }
    let configure_path = |dir: &Path| -> String {
        if dir == src_dir {
            "./configure".into()
        } else {
            "../src/configure".into()
        }
    };
    let configure = match recipe.build.system.as_str() {
        "autoconf" => Some(
            Cmd::new(configure_path(&build_dir), &build_dir)
                .arg(format!("--host={}", recipe.build.host.as_deref().unwrap_or(TARGET)))
                .arg(format!("--build={}", build_triple()))
                .arg(format!("--prefix={prefix}"))
                .args(vars.subst_all(name, &recipe.build.configure)?)
                .args(vars.subst_all(name, &fl.configure)?)
                .envs(&env)
                .env_remove("CPPFLAGS")
                .env_remove("CXXFLAGS")
                .env_remove("MAKEFLAGS"),
        ),
        _ => None,
    };
    let make = Cmd::new("make", &build_dir)
        .arg(format!("-j{}", opts.jobs))
        .args(&recipe.build.make_targets)
        .args(vars.subst_all(name, &recipe.build.make_args)?)
        .envs(&env)
        .env_remove("MAKEFLAGS");
    let install = (!recipe.build.install_targets.is_empty()).then(|| {
        Ok::<_, anyhow::Error>(
            Cmd::new("make", &build_dir)
                .args(&recipe.build.install_targets)
                .args(vars.subst_all(name, &recipe.build.make_args)?)
                .arg(format!("DESTDIR={}", dest_dir.display()))
                .envs(&env)
                .env_remove("MAKEFLAGS"),
        )
    });
    let install = install.transpose()?;

    let native = match &recipe.native {
        None => None,
        Some(n) => {
            let mut c = Cmd::new("../src/configure", &native_dir).args(vars.subst_all(name, &n.configure)?);
            let mut m = Cmd::new("make", &native_dir).arg(format!("-j{}", opts.jobs)).args(&n.make_targets);
            for k in [
                "CC",
                "CFLAGS",
                "LDFLAGS",
                "LIBS",
                "CPPFLAGS",
                "AR",
                "RANLIB",
                "NM",
                "MAKEFLAGS",
                "CONFIG_SITE",
            ] {
                c = c.env_remove(k);
                m = m.env_remove(k);
            }
            for (k, v) in &n.env {
                let v = vars.subst(name, v)?;
                c = c.env(k, &v);
                m = m.env(k, &v);
            }
            let stamp = stamp(&[
                &recipe.source.artifact.sha256,
                &c.display_without_paths(&[&work_dir]),
                &m.display_without_paths(&[&work_dir]),
            ]);
            Some(NativePlan {
                dir: native_dir.clone(),
                configure: c,
                make: m,
                stamp,
            })
        }
    };
    let mut post = Vec::new();
    for p in &recipe.post {
        let argv = vars.subst_all(name, &p.command)?;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("recipe {name}: post step {:?} has an empty command", p.name))?;
        let mut c = Cmd::new(prog, &build_dir).args(args);
        for (k, v) in &p.env {
            c = c.env(k, vars.subst(name, v)?);
        }
        post.push(PostStep {
            name: p.name.clone(),
            cmd: c,
        });
    }

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
    let dep_text: Vec<&str> = deps.iter().map(|d| d.out_stamp.as_str()).collect();
    let out_root = layout.out_root();
    let strip = [work_dir.as_path(), layout.repo.as_path(), out_root.as_path()];
    let tree_stamp = stamp(&[
        &recipe.source.artifact.sha256,
        &patch_text.join(","),
        &configure.as_ref().map(|c| c.display_without_paths(&strip)).unwrap_or_default(),
        &tc.fingerprint,
        &shim_text,
        &dep_text.join(","),
        &native.as_ref().map(|n| n.stamp.clone()).unwrap_or_default(),
    ]);
    let mut outputs = BTreeMap::new();
    for (from, to) in &recipe.build.outputs {
        let f = vars.subst(name, from)?;
        outputs.insert(build_dir.join(f), to.clone());
    }
    let post_text: Vec<String> = post.iter().map(|p| p.cmd.display_without_paths(&strip)).collect();
    let out_stamp = stamp(&[
        &tree_stamp,
        &make.display_without_paths(&strip),
        &install.as_ref().map(|c| c.display_without_paths(&strip)).unwrap_or_default(),
        &post_text.join("\n"),
        &format!("{:?}", recipe.build.outputs),
        &recipe.build.prune.join(","),
    ]);
    Ok(BuildPlan {
        recipe: recipe.clone(),
        flavor,
        id,
        source: recipe.source.artifact.clone(),
        patches,
        deps,
        shims,
        shim_includes,
        force_include,
        work_dir,
        src_dir,
        build_dir,
        dest_dir,
        shim_dir,
        out_dir,
        log_dir,
        native,
        configure,
        make,
        install,
        post,
        outputs,
        prune: recipe.build.prune.clone(),
        tree_stamp,
        out_stamp,
        jobs: opts.jobs,
        toolchain: tc,
    })
}

impl BuildPlan {
    /// Path of the main module in the output tree.
    /// (For libraries, which have no module: the output tree.)
    pub fn module(&self) -> PathBuf {
        if self.recipe.run.module.is_empty() {
            return self.out_dir.clone();
        }
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
        for d in &self.deps {
            let _ = writeln!(s, "  0. dep     {} ({})", d.id, d.out_dir.display());
        }
        if let Some(n) = &self.native {
            let _ = writeln!(
                s,
                "  4. native  {}\n             {}\n             (native stamp {})",
                n.configure.display(),
                n.make.display(),
                n.stamp
            );
        }
        if let Some(c) = &self.configure {
            let _ = writeln!(s, "  5. configure\n       {}", c.display());
        }
        let _ = writeln!(s, "  6. make\n       {}", self.make.display());
        if let Some(i) = &self.install {
            let _ = writeln!(s, "  7. install\n       {}", i.display());
        }
        for p in &self.post {
            let _ = writeln!(s, "  8. {}\n       {}", p.name, p.cmd.display());
        }
        for (from, to) in &self.outputs {
            let _ = writeln!(s, "  9. output {} -> {}", from.display(), self.out_dir.join(to).display());
        }
        let _ = writeln!(s, "  logs: {}", self.log_dir.display());
        let _ = writeln!(s, "  stamp: {}", self.out_stamp);
        s
    }
}
