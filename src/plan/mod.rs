//! Plan, then execute: a recipe, a flavour and a toolchain resolve into a
//! [`BuildPlan`] — a list of typed [`Step`]s carrying their resolved
//! inputs (commands, flags, environment, paths) plus content stamps —
//! before anything runs. `--dry-run` prints the same list the executor
//! (`build.rs`) runs; most tests inspect it without a toolchain.
//!
//! Planning happens in small stages: [`Vars`] (placeholders), [`Flags`]
//! (compile/link flags and the configure environment), the cross steps,
//! the native builds (`native.rs`), then the stamps. The types live in
//! `types.rs` (re-exported here), below both planners.

pub mod native;
mod types;

pub use types::*;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cmd::Cmd;
use crate::fsutil::{sha256_file, stamp};
use crate::layout::Layout;
use crate::recipe::{BuildSystem, Flavor, Kind, Recipe};
use crate::toolchain::TARGET;

pub fn plan(layout: &Layout, recipe: &Recipe, tc: ToolchainView, opts: &PlanOptions) -> Result<BuildPlan> {
    plan_inner(layout, recipe, tc, opts, &mut Vec::new())
}

/// Library recipes this one links against, planned recursively.
fn plan_deps(
    layout: &Layout,
    recipe: &Recipe,
    flavor: &Flavor,
    tc: &ToolchainView,
    opts: &PlanOptions,
    stack: &mut Vec<String>,
) -> Result<Vec<BuildPlan>> {
    if stack.contains(&recipe.name) {
        bail!("dependency cycle: {} -> {}", stack.join(" -> "), recipe.name);
    }
    stack.push(recipe.name.clone());
    let mut deps = Vec::new();
    if let Some(d) = flavor.deps.iter().find(|d| recipe.deps.contains(d)) {
        bail!(
            "recipe {}: dependency {d} is listed both in deps and in a flavour's deps",
            recipe.name
        );
    }
    for d in recipe.deps.iter().chain(&flavor.deps) {
        let dr = crate::recipe::find(&layout.recipes(), d)?;
        if dr.kind != Kind::Library {
            bail!("recipe {}: dependency {d} is not a library recipe", recipe.name);
        }
        let o = PlanOptions {
            flavor: None,
            jobs: opts.jobs,
            native: opts.native,
        };
        deps.push(plan_inner(layout, &dr, tc.clone(), &o, stack)?);
    }
    stack.pop();
    Ok(deps)
}

fn dirs(layout: &Layout, recipe: &Recipe, id: &str) -> Dirs {
    let work = layout.build_root().join(id);
    let src = work.join("src");
    // CMake always builds out of tree.
    let separate = recipe.build.out_of_tree || recipe.build.system == BuildSystem::Cmake;
    Dirs {
        build: if separate { work.join("cross") } else { src.clone() },
        native: work.join("native"),
        dest: work.join("dest"),
        shims: work.join("shims"),
        out: layout.out_root().join(id),
        log: layout.logs().join(id),
        src,
        work,
    }
}

fn vars(layout: &Layout, recipe: &Recipe, d: &Dirs, tc: &ToolchainView, deps: &[BuildPlan], jobs: usize) -> Vars {
    let mut v = Vars::default();
    v.set("src", d.src.display().to_string());
    v.set("build", d.build.display().to_string());
    v.set("native", d.native.display().to_string());
    v.set("dest", d.dest.display().to_string());
    v.set("prefix", "/usr/local");
    v.set("jobs", jobs.to_string());
    v.set("cc", tc.cc.clone());
    v.set("cxx", tc.cxx.clone());
    v.set("cxx_runtime", tc.cxx_runtime.clone());
    v.set("ar", tc.ar.clone());
    v.set("ranlib", tc.ranlib.clone());
    for dep in deps {
        v.set(&format!("dep:{}", dep.recipe.name), dep.dirs.out.display().to_string());
    }
    for t in &recipe.tools {
        v.set(&format!("tool:{}", t.name), crate::tools::root(layout, t).display().to_string());
    }
    v
}

/// Machine paths and the tokens that stand for them in what a release
/// states (build-info); the outputs themselves see `/kiln/...` through
/// `-ffile-prefix-map`.
fn path_map(layout: &Layout, d: &Dirs) -> Vec<(PathBuf, String)> {
    let mut m = vec![
        (d.work.clone(), "{work}".to_string()),
        (layout.repo.clone(), "{repo}".into()),
        (layout.cache.clone(), "{cache}".into()),
        (layout.work.clone(), "{target}".into()),
    ];
    m.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
    m
}

#[allow(clippy::too_many_arguments)]
fn flags(
    id: &str,
    recipe: &Recipe,
    fl: &Flavor,
    vars: &mut Vars,
    tc: &ToolchainView,
    d: &Dirs,
    deps: &[BuildPlan],
    shims: &Shims,
    layout: &Layout,
) -> Result<Flags> {
    let name = recipe.name.as_str();
    let b = &recipe.build;
    let mut cflags: Vec<String> = if b.toolchain_cflags { tc.cflags.clone() } else { Vec::new() };
    cflags.extend(vars.subst_all(name, &b.cflags)?);
    // Reproducible across checkouts and machines: no build paths in the
    // output (__FILE__, debug info).
    cflags.push(format!("-ffile-prefix-map={}=/kiln/{}", d.work.display(), id));
    cflags.push(format!("-ffile-prefix-map={}=/kiln/repo", layout.repo.display()));
    cflags.push(format!("-ffile-prefix-map={}=/kiln/cache", layout.cache.display()));
    for inc in &shims.includes {
        cflags.push(format!("-I{}", inc.display()));
    }
    for dep in deps {
        cflags.push(format!("-I{}", dep.dirs.out.join("include").display()));
    }
    for h in &shims.force_include {
        cflags.push("-include".into());
        cflags.push(h.display().to_string());
    }
    let mut ldflags = tc.ldflags.clone();
    ldflags.extend(vars.subst_all(name, &b.ldflags)?);
    ldflags.extend(vars.subst_all(name, &fl.ldflags)?);
    for dep in deps {
        ldflags.push(format!("-L{}", dep.dirs.out.join("lib").display()));
    }
    let mut libs = vars.subst_all(name, &b.libs)?;
    libs.extend(vars.subst_all(name, &fl.libs)?);
    if !shims.files.is_empty() {
        ldflags.extend(shims.wraps.iter().map(|sym| format!("-Wl,--wrap={sym}")));
        ldflags.push(format!("-L{}", d.shims.display()));
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
    env.insert("SOURCE_DATE_EPOCH".into(), crate::config::DEFAULT_EPOCH.to_string());
    // Dependencies that provide pkg-config modules: only theirs are found
    // (never the build machine's).
    let pc_dirs = pkgconfig_dirs(deps);
    if !pc_dirs.is_empty() {
        env.insert("PKG_CONFIG_LIBDIR".into(), pc_dirs.join(":"));
        env.insert("PKG_CONFIG_PATH".into(), String::new());
    }
    for (k, v) in b.env.iter().chain(&fl.env) {
        env.insert(k.clone(), vars.subst(name, v)?);
    }
    let mut configure = vars.subst_all(name, &b.configure)?;
    configure.extend(vars.subst_all(name, &fl.configure)?);
    Ok(Flags {
        cflags,
        ldflags,
        libs,
        configure,
        env,
    })
}

/// Shim sources, include dirs and force-included headers, resolved.
struct Shims {
    files: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    force_include: Vec<PathBuf>,
    /// Symbols the shim sources define `__wrap_<sym>` for, declared in
    /// the source itself (`kiln-wrap: sym …`); each becomes the linker's
    /// `--wrap=<sym>`, so a definition and its flag cannot part.
    wraps: Vec<String>,
}

/// The symbols a shim source wraps: the words after `kiln-wrap:` on any
/// of its lines. A declared symbol without its `__wrap_` definition is an
/// error here rather than an undefined symbol at the interpreter's link.
fn shim_wraps(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading shim {}", path.display()))?;
    let mut wraps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((_, rest)) = line.split_once("kiln-wrap:") else { continue };
        for sym in rest.trim().trim_end_matches("*/").split_whitespace() {
            if !sym.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("{}:{}: kiln-wrap: {sym:?} is not a C symbol", path.display(), i + 1);
            }
            if !text.contains(&format!("__wrap_{sym}(")) {
                bail!(
                    "{}:{}: kiln-wrap: {sym} is declared but __wrap_{sym} is not defined",
                    path.display(),
                    i + 1
                );
            }
            wraps.push(sym.to_string());
        }
    }
    Ok(wraps)
}

fn shims(layout: &Layout, recipe: &Recipe) -> Result<Shims> {
    let root = layout.shims();
    let resolve = |v: &[String]| -> Result<Vec<PathBuf>> {
        v.iter()
            .map(|rel| {
                let p = root.join(rel);
                if !p.exists() {
                    bail!("recipe {}: shim {} does not exist", recipe.name, p.display());
                }
                Ok(p)
            })
            .collect()
    };
    let files = resolve(&recipe.build.shims)?;
    let mut wraps = Vec::new();
    for f in &files {
        wraps.extend(shim_wraps(f)?);
    }
    Ok(Shims {
        files,
        includes: resolve(&recipe.build.shim_include)?,
        force_include: resolve(&recipe.build.force_include)?,
        wraps,
    })
}

/// Content of the shim sources and headers, for the tree stamp.
fn shim_text(s: &Shims) -> Result<String> {
    let mut text = String::new();
    for f in s.files.iter().chain(&s.force_include) {
        text.push_str(&sha256_file(f)?);
    }
    for inc in &s.includes {
        for e in walkdir::WalkDir::new(inc).sort_by_file_name() {
            let e = e?;
            if e.file_type().is_file() {
                text.push_str(&sha256_file(e.path())?);
            }
        }
    }
    Ok(text)
}

/// What every concern of a plan reads: the recipe with its flavour, the
/// resolved directories, placeholders, flags, patches and shims, and the
/// dependencies (planned first).
struct Inputs<'a> {
    layout: &'a Layout,
    recipe: &'a Recipe,
    fl: &'a Flavor,
    flavor: String,
    id: String,
    /// A library planned for the build machine (`PlanOptions::native`).
    native: bool,
    opts: &'a PlanOptions,
    deps: Vec<BuildPlan>,
    patches: Vec<Patch>,
    sh: Shims,
    d: Dirs,
    vars: Vars,
    flags: Flags,
}

/// A named command of a recipe (`[[generate]]`, `[[post]]`).
type Hook = (String, Cmd);
/// The native side's plan and its binary.
type NativeSide = (NativePlan, PathBuf);

/// The commands and files of a build, before stamps and step order.
struct Commands {
    configure: Option<Cmd>,
    cmake_toolchain: Option<String>,
    make: Cmd,
    install: Option<Cmd>,
    tree_native: Option<NativePlan>,
    native_side: Option<NativeSide>,
    generate: Vec<Hook>,
    post: Vec<Hook>,
    outputs: BTreeMap<PathBuf, String>,
    /// `dep:file,` per runtime file the dependencies hand the program.
    runtime_text: String,
    /// pkg-config files the collect step writes: (path, text).
    generated: Vec<(String, String)>,
}

/// Stage by stage: inputs, commands per concern, stamps, step order.
fn plan_inner(layout: &Layout, recipe: &Recipe, tc: ToolchainView, opts: &PlanOptions, stack: &mut Vec<String>) -> Result<BuildPlan> {
    let mut inp = inputs(layout, recipe, &tc, opts, stack)?;
    let mut c = commands(&inp, &tc, stack)?;
    let (tree_stamp, out_stamp) = stamps(&inp, &tc, &c)?;
    let native_side = c.native_side.take();
    let steps = step_order(&mut inp, c);
    Ok(BuildPlan {
        recipe: recipe.clone(),
        flavor: inp.flavor,
        source: recipe.source.artifact.clone(),
        patches: inp.patches,
        path_map: path_map(layout, &inp.d),
        id: inp.id,
        dirs: inp.d,
        flags: inp.flags,
        steps,
        native_side,
        tree_stamp,
        out_stamp,
        jobs: opts.jobs,
        toolchain: tc,
    })
}

/// The flavour, the dependencies, the id, the patch series, the shims,
/// the directories, the placeholders and the flags.
fn inputs<'a>(
    layout: &'a Layout,
    recipe: &'a Recipe,
    tc: &ToolchainView,
    opts: &'a PlanOptions,
    stack: &mut Vec<String>,
) -> Result<Inputs<'a>> {
    let native = opts.native;
    if native && recipe.kind != Kind::Library {
        bail!("recipe {}: only library recipes have a native build of this kind", recipe.name);
    }
    let (flavor, fl) = recipe.flavor(opts.flavor.as_deref())?;
    let deps = plan_deps(layout, recipe, fl, tc, opts, stack)?;
    let flavor = flavor.to_string();
    let id = if native {
        format!("{}-native", recipe.id(&flavor))
    } else {
        recipe.id(&flavor)
    };
    let series = layout.patches().join(&recipe.name).join(&recipe.series);
    let patches = crate::source::patch_series(&series)?
        .into_iter()
        .map(|p| {
            Ok(Patch {
                sha256: sha256_file(&p)?,
                path: p,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // WASI shims are for the wasm target only.
    let sh = if native {
        Shims {
            files: Vec::new(),
            includes: Vec::new(),
            force_include: Vec::new(),
            wraps: Vec::new(),
        }
    } else {
        shims(layout, recipe)?
    };
    let d = dirs(layout, recipe, &id);
    let mut vars = vars(layout, recipe, &d, tc, &deps, opts.jobs);
    let mut flags = flags(&id, recipe, fl, &mut vars, tc, &d, &deps, &sh, layout)?;
    if native {
        let omit = &recipe.build.native_omit;
        flags.configure = native_args(flags.configure.iter().map(String::as_str), omit);
        flags.libs = native_args(flags.libs.iter().map(String::as_str), omit);
        flags.env.insert("LIBS".into(), flags.libs.join(" "));
    }
    Ok(Inputs {
        layout,
        recipe,
        fl,
        flavor,
        id,
        native,
        opts,
        deps,
        patches,
        sh,
        d,
        vars,
        flags,
    })
}

/// Every command and file of the build, concern by concern.
fn commands(inp: &Inputs<'_>, tc: &ToolchainView, stack: &mut Vec<String>) -> Result<Commands> {
    let (make, install) = make_commands(inp)?;
    let (tree_native, native_side) = native_builds(inp, tc, stack)?;
    let (generate, post) = hooks(inp, tree_native.as_ref())?;
    let (outputs, runtime_text) = outputs(inp)?;
    Ok(Commands {
        configure: configure(inp),
        cmake_toolchain: (inp.recipe.build.system == BuildSystem::Cmake).then(|| {
            if inp.native {
                cmake_native_toolchain_file(tc, &inp.deps)
            } else {
                cmake_toolchain_file(tc, &inp.deps)
            }
        }),
        make,
        install,
        tree_native,
        native_side,
        generate,
        post,
        outputs,
        runtime_text,
        generated: inp
            .recipe
            .pkgconfig
            .iter()
            .map(|pc| (format!("lib/pkgconfig/{}.pc", pc.name), pc_file(inp.recipe, pc, inp.native)))
            .collect(),
    })
}

/// A program in the source tree, run from the build dir.
fn in_src(d: &Dirs, prog: &str) -> String {
    if d.build == d.src {
        format!("./{prog}")
    } else {
        format!("../src/{prog}")
    }
}

/// The configure step of the recipe's build system (none for `make`).
/// Every configure program gets the recipe's arguments last and the
/// resolved environment, without the caller's CPPFLAGS/CXXFLAGS/MAKEFLAGS.
fn configure(inp: &Inputs<'_>) -> Option<Cmd> {
    let c = match inp.recipe.build.system {
        BuildSystem::Autoconf => autoconf_configure(inp),
        BuildSystem::Cmake => cmake_configure(&inp.d),
        BuildSystem::Script => Cmd::new(in_src(&inp.d, inp.recipe.build.script.as_deref().unwrap_or_default()), &inp.d.build),
        BuildSystem::Make => return None,
    };
    Some(
        c.args(&inp.flags.configure)
            .envs(&inp.flags.env)
            .env_remove("CPPFLAGS")
            .env_remove("CXXFLAGS")
            .env_remove("MAKEFLAGS"),
    )
}

/// `configure --host --build --prefix` (a native build is not a cross
/// build: configure's defaults).
fn autoconf_configure(inp: &Inputs<'_>) -> Cmd {
    let b = &inp.recipe.build;
    let mut c = Cmd::new(in_src(&inp.d, b.script.as_deref().unwrap_or("configure")), &inp.d.build);
    if !inp.native {
        c = c
            .arg(format!("--host={}", b.host.as_deref().unwrap_or(TARGET)))
            .arg(format!("--build={}", build_triple()));
    }
    c.arg("--prefix=/usr/local")
}

/// CMake out of tree with kiln's toolchain file, static, Release.
fn cmake_configure(d: &Dirs) -> Cmd {
    Cmd::new("cmake", &d.build)
        .arg("-S")
        .arg(&d.src)
        .arg("-B")
        .arg(&d.build)
        .args(["-G", "Unix Makefiles"])
        .arg(format!("-DCMAKE_TOOLCHAIN_FILE={}", d.build.join(CMAKE_TOOLCHAIN).display()))
        .args([
            "-DCMAKE_INSTALL_PREFIX=/usr/local",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBUILD_SHARED_LIBS=OFF",
        ])
}

/// `make -jN targets`, and the staged install when the recipe names
/// install targets.
fn make_commands(inp: &Inputs<'_>) -> Result<(Cmd, Option<Cmd>)> {
    let (b, d, env) = (&inp.recipe.build, &inp.d, &inp.flags.env);
    let make_args = inp.vars.subst_all(&inp.recipe.name, &b.make_args)?;
    let make = Cmd::new("make", &d.build)
        .arg(format!("-j{}", inp.opts.jobs))
        .args(&b.make_targets)
        .args(&make_args)
        .envs(env)
        .env_remove("MAKEFLAGS");
    let install = (!b.install_targets.is_empty()).then(|| {
        Cmd::new("make", &d.build)
            .args(&b.install_targets)
            .args(&make_args)
            .arg(format!("DESTDIR={}", d.dest.display()))
            .envs(env)
            .env_remove("MAKEFLAGS")
    });
    Ok((make, install))
}

/// The recipe's `[native]` tree build (when a generate step or the
/// recipe needs it) and the native side of `bench`/`test --native`, with
/// the flavour's libraries built for the build machine from the same
/// recipes.
fn native_builds(inp: &Inputs<'_>, tc: &ToolchainView, stack: &mut Vec<String>) -> Result<(Option<NativePlan>, Option<NativeSide>)> {
    let (recipe, opts) = (inp.recipe, inp.opts);
    if inp.native {
        return Ok((None, None));
    }
    let has_generate = !recipe.generate.is_empty() || !inp.fl.generate.is_empty();
    let tree_native = recipe
        .native
        .as_ref()
        .filter(|n| !n.only_for_generate || has_generate)
        .map(|n| native::plan_tree(recipe, n, &inp.d, &inp.vars, &tc.native, &inp.patches, opts.jobs))
        .transpose()?;
    let native_deps = match &recipe.bench {
        Some(b) if b.native_flavor => {
            let o = PlanOptions {
                native: true,
                ..opts.clone()
            };
            plan_deps(inp.layout, recipe, inp.fl, &tc.native_view(), &o, stack)?
        }
        _ => Vec::new(),
    };
    let side = native::plan_side(
        recipe,
        tree_native.as_ref(),
        &inp.d,
        &tc.native,
        &inp.patches,
        opts.jobs,
        native::SideInputs {
            configure: &inp.flags.configure,
            deps: native_deps,
        },
    )?;
    Ok((tree_native, side))
}

/// The recipe's and flavour's `[[generate]]` commands (run in `src/` with
/// the native build's programs) and `[[post]]` stages (run in the build
/// dir).
fn hooks(inp: &Inputs<'_>, tree_native: Option<&NativePlan>) -> Result<(Vec<Hook>, Vec<Hook>)> {
    let (recipe, name, vars) = (inp.recipe, inp.recipe.name.as_str(), &inp.vars);
    let hook = |p: &crate::recipe::Post, what: &str, cwd: &Path| -> Result<Hook> {
        let argv = vars.subst_all(name, &p.command)?;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("recipe {name}: {what} step {:?} has an empty command", p.name))?;
        let mut c = Cmd::new(prog, cwd).args(args);
        for (k, v) in &p.env {
            c = c.env(k, vars.subst(name, v)?);
        }
        Ok((p.name.clone(), c))
    };
    let generate = if inp.native {
        Vec::new()
    } else {
        recipe
            .generate
            .iter()
            .chain(&inp.fl.generate)
            .map(|p| hook(p, "generate", &inp.d.src))
            .collect::<Result<Vec<_>>>()?
    };
    if !generate.is_empty() && tree_native.is_none() {
        bail!("recipe {name}: [[generate]] steps run with the [native] build's programs, and the recipe has no [native] section");
    }
    let post = recipe
        .post
        .iter()
        .map(|p| hook(p, "post", &inp.d.build))
        .collect::<Result<Vec<_>>>()?;
    Ok((generate, post))
}

/// What the collect step copies: the recipe's outputs, and what linked
/// libraries need at run time (it travels with the program).
fn outputs(inp: &Inputs<'_>) -> Result<(BTreeMap<PathBuf, String>, String)> {
    let mut outputs = BTreeMap::new();
    for (from, to) in &inp.recipe.build.outputs {
        outputs.insert(inp.d.build.join(inp.vars.subst(&inp.recipe.name, from)?), to.clone());
    }
    let mut runtime_text = String::new();
    for dep in &inp.deps {
        for f in &dep.recipe.runtime_files {
            outputs.insert(dep.dirs.out.join(f), f.clone());
            let _ = write!(runtime_text, "{}:{f},", dep.recipe.name);
        }
    }
    Ok((outputs, runtime_text))
}

/// The tree stamp (everything that shapes the configured tree) and the
/// output stamp (the tree stamp and everything after configure), with
/// machine paths stripped from commands first.
fn stamps(inp: &Inputs<'_>, tc: &ToolchainView, c: &Commands) -> Result<(String, String)> {
    let (recipe, d, layout) = (inp.recipe, &inp.d, inp.layout);
    let out_root = layout.out_root();
    let strip = [d.work.as_path(), layout.repo.as_path(), out_root.as_path()];
    let mut shim_part = shim_text(&inp.sh)?;
    if !inp.sh.files.is_empty() {
        // The shim library is compiled with the resolved flags.
        let _ = write!(shim_part, "|{}", strip_paths(&inp.flags.cflags.join(" "), &strip));
    }
    let native_stamp = c.tree_native.as_ref().map(|n| n.stamp.clone()).unwrap_or_default();
    let generate_joined = c
        .generate
        .iter()
        .map(|(_, x)| x.display_without_paths(&strip))
        .collect::<Vec<_>>()
        .join("\n");
    let configure_text = c.configure.as_ref().map(|x| x.display_without_paths(&strip)).unwrap_or_default();
    let patches_joined = inp.patches.iter().map(|p| p.sha256.as_str()).collect::<Vec<_>>().join(",");
    let deps_joined = inp.deps.iter().map(|x| x.out_stamp.as_str()).collect::<Vec<_>>().join(",");
    let mut tree_parts: Vec<&str> = vec![
        &recipe.source.artifact.sha256,
        &patches_joined,
        &configure_text,
        &tc.fingerprint,
        &shim_part,
        &deps_joined,
        &native_stamp,
    ];
    if !c.generate.is_empty() {
        tree_parts.push(&generate_joined);
    }
    let toolchain_text = c.cmake_toolchain.as_deref().map(|t| strip_paths(t, &strip));
    if let Some(t) = &toolchain_text {
        tree_parts.push(t);
    }
    let tree_stamp = stamp(&tree_parts);
    let make_text = c.make.display_without_paths(&strip);
    let install_text = c.install.as_ref().map(|x| x.display_without_paths(&strip)).unwrap_or_default();
    let posts_joined = c
        .post
        .iter()
        .map(|(_, x)| x.display_without_paths(&strip))
        .collect::<Vec<_>>()
        .join("\n");
    let outputs_text = format!("{:?}", recipe.build.outputs);
    let prune_joined = recipe.build.prune.join(",");
    let mut out_parts: Vec<&str> = vec![&tree_stamp, &make_text, &install_text, &posts_joined, &outputs_text, &prune_joined];
    // Written by the collect step; their text is part of what it makes.
    let pc_joined = c.generated.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>().join("\n");
    if !c.generated.is_empty() {
        out_parts.push(&pc_joined);
    }
    if !c.runtime_text.is_empty() {
        out_parts.push(&c.runtime_text);
    }
    let out_stamp = stamp(&out_parts);
    Ok((tree_stamp, out_stamp))
}

/// The step list, in execution order (the dependencies move into it).
fn step_order(inp: &mut Inputs<'_>, c: Commands) -> Vec<Step> {
    let (recipe, native, d) = (inp.recipe, inp.native, &inp.d);
    let (patches, sh, flags) = (&inp.patches, &inp.sh, &inp.flags);
    let mut steps: Vec<Step> = std::mem::take(&mut inp.deps).into_iter().map(|x| Step::Dep(Box::new(x))).collect();
    steps.push(Step::Fetch {
        artifact: recipe.source.artifact.clone(),
    });
    steps.push(Step::Unpack {
        into: d.src.clone(),
        strip: recipe.source.strip_components,
    });
    steps.push(Step::Patch {
        tree: d.src.clone(),
        series: patches.to_vec(),
    });
    if !sh.files.is_empty() {
        steps.push(Step::Shims {
            files: sh.files.clone(),
            cflags: flags.cflags.clone(),
            out_dir: d.shims.clone(),
        });
    }
    if let Some(text) = c.cmake_toolchain {
        if !native {
            steps.push(Step::WriteFile {
                path: d.build.join(CMAKE_MODULES).join("Platform/WASI.cmake"),
                text: CMAKE_WASI_PLATFORM.into(),
            });
        }
        steps.push(Step::WriteFile {
            path: d.build.join(CMAKE_TOOLCHAIN),
            text,
        });
    }
    if let Some(n) = c.tree_native {
        steps.push(Step::Native(Box::new(n)));
    }
    steps.extend(c.generate.into_iter().map(|(name, cmd)| Step::Generate { name, cmd }));
    if let Some(x) = c.configure {
        steps.push(Step::Configure(x));
    }
    steps.push(Step::Make(c.make));
    if let Some(cmd) = c.install {
        steps.push(Step::Install { cmd, dest: d.dest.clone() });
    }
    steps.extend(recipe.tools.iter().cloned().map(Step::Tool));
    steps.extend(c.post.into_iter().map(|(name, cmd)| Step::Post { name, cmd }));
    steps.push(Step::Collect {
        outputs: c.outputs,
        prune: recipe.build.prune.clone(),
        into: d.out.clone(),
        generated: c.generated,
    });
    steps
}

/// A relocatable pkg-config file: the prefix is found from the file's own
/// location, so a build restored from the cache into another checkout
/// still points at itself.
fn pc_file(recipe: &Recipe, pc: &crate::recipe::PkgConfig, native: bool) -> String {
    let libs = if native {
        native_args(pc.libs.split_whitespace(), &[]).join(" ")
    } else {
        pc.libs.clone()
    };
    let mut s = format!(
        "# Written by kiln for {}.\nprefix=${{pcfiledir}}/../..\nincludedir=${{prefix}}/include\nlibdir=${{prefix}}/lib\n\nName: {}\nDescription: {}\nVersion: {}\n",
        recipe.name, pc.name, recipe.description, recipe.version
    );
    if !pc.requires.is_empty() {
        let _ = writeln!(s, "Requires: {}", pc.requires.join(" "));
    }
    let _ = write!(s, "Cflags: {}\nLibs: {}\n", pc.cflags, libs);
    s
}

/// What a native build keeps of wasm-side arguments: not wasi-libc's
/// emulation libraries (`-lwasi-emulated-*`, which only exist for WASI),
/// and not the recipe's `native_omit` ones.
fn native_args<'a>(args: impl IntoIterator<Item = &'a str>, omit: &[String]) -> Vec<String> {
    args.into_iter()
        .filter(|a| !a.starts_with("-lwasi-emulated-") && !omit.iter().any(|o| o == a))
        .map(String::from)
        .collect()
}

/// Name of the toolchain file a CMake build gets, in its build dir.
const CMAKE_TOOLCHAIN: &str = "kiln-toolchain.cmake";
/// Module directory (in the build dir) holding `Platform/WASI.cmake`.
const CMAKE_MODULES: &str = "kiln-cmake";
/// CMake has no platform file for WASI: without one, `find_package` and
/// `find_library` have no system prefixes to search (a dependency's
/// `include/` and `lib/` are not found) and every configure warns. WASI is
/// a Unix-like system without shared libraries.
const CMAKE_WASI_PLATFORM: &str = "# Written by kiln: WASI as a Unix-like platform without shared libraries.\n\
set(WASI 1)\n\
set(UNIX 1)\n\
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)\n\
include(Platform/UnixPaths)\n";

/// CMake's cross-compiling toolchain file for wasm32-wasip1: the compiler,
/// target and sysroot; programs from the build machine, libraries and
/// headers only from the sysroot and the dependencies' prefixes. Flags
/// reach CMake through `CFLAGS`/`LDFLAGS` (read at first configure), the
/// same ones every other build system gets.
fn cmake_toolchain_file(tc: &ToolchainView, deps: &[BuildPlan]) -> String {
    let roots: Vec<String> = std::iter::once(tc.sysroot.clone())
        .chain(deps.iter().map(|d| d.dirs.out.display().to_string()))
        .collect();
    format!(
        "# Written by kiln from the build plan.\n\
         set(CMAKE_SYSTEM_NAME WASI)\n\
         set(CMAKE_SYSTEM_VERSION 1)\n\
         set(CMAKE_SYSTEM_PROCESSOR wasm32)\n\
         list(APPEND CMAKE_MODULE_PATH \"${{CMAKE_CURRENT_LIST_DIR}}/{modules}\")\n\
         set(CMAKE_C_COMPILER \"{clang}\")\n\
         set(CMAKE_C_COMPILER_TARGET {TARGET})\n\
         set(CMAKE_CXX_COMPILER \"{clangxx}\")\n\
         set(CMAKE_CXX_COMPILER_TARGET {TARGET})\n\
         set(CMAKE_SYSROOT \"{sysroot}\")\n\
         set(CMAKE_AR \"{ar}\" CACHE FILEPATH \"\")\n\
         set(CMAKE_RANLIB \"{ranlib}\" CACHE FILEPATH \"\")\n\
         set(CMAKE_EXECUTABLE_SUFFIX \".wasm\")\n\
         set(CMAKE_FIND_ROOT_PATH {roots})\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)\n",
        modules = CMAKE_MODULES,
        clang = tc.clang,
        clangxx = tc.clangxx,
        sysroot = tc.sysroot,
        ar = tc.ar,
        ranlib = tc.ranlib,
        roots = roots.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(" "),
    )
}

/// The same for a library's native build: the build machine's compilers,
/// finding only the (native) dependencies.
fn cmake_native_toolchain_file(tc: &ToolchainView, deps: &[BuildPlan]) -> String {
    let roots: Vec<String> = deps.iter().map(|d| format!("\"{}\"", d.dirs.out.display())).collect();
    format!(
        "# Written by kiln from the build plan (native build).\n\
         set(CMAKE_C_COMPILER \"{cc}\")\n\
         set(CMAKE_CXX_COMPILER \"{cxx}\")\n\
         set(CMAKE_PREFIX_PATH {roots})\n",
        cc = tc.clang,
        cxx = tc.clangxx,
        roots = roots.join(" "),
    )
}

fn strip_paths(s: &str, paths: &[&Path]) -> String {
    paths.iter().fold(s.to_string(), |s, p| s.replace(&p.display().to_string(), "@"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn copy_repo(to: &Path) {
        for d in ["recipes", "patches", "shims"] {
            crate::fsutil::copy_tree(&repo().join(d), &to.join(d)).unwrap();
        }
    }

    fn plan_of(root: &Path, name: &str, flavor: Option<&str>) -> Result<BuildPlan> {
        let layout = Layout::with_dirs(root, &root.join("target/kiln"), &root.join("cache"));
        let r = crate::recipe::find(&layout.recipes(), name)?;
        let tr = crate::recipe::ToolchainRecipe::load(&layout.recipes().join("toolchain.toml"))?;
        plan(
            &layout,
            &r,
            ToolchainView::placeholder(&tr),
            &PlanOptions {
                flavor: flavor.map(String::from),
                jobs: 2,
                native: false,
            },
        )
    }

    /// The plan's collect step: outputs and generated files.
    fn collect_of(p: &BuildPlan) -> (&BTreeMap<PathBuf, String>, &[(String, String)]) {
        p.steps
            .iter()
            .find_map(|s| match s {
                Step::Collect { outputs, generated, .. } => Some((outputs, generated.as_slice())),
                _ => None,
            })
            .expect("a collect step")
    }

    fn configure_of(p: &BuildPlan) -> String {
        p.steps
            .iter()
            .find_map(|s| match s {
                Step::Configure(c) => Some(c.display()),
                _ => None,
            })
            .expect("a configure step")
    }

    #[test]
    fn php_plan_has_the_cross_configure_and_stable_layout() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "php", None).unwrap();
        assert_eq!(p.id, "php-8.4.16");
        assert_eq!(p.module(), root.path().join("target/kiln/out/php-8.4.16/bin/php.wasm"));
        let cfg = configure_of(&p);
        assert!(
            cfg.contains("--host=wasm32-wasip1") && cfg.contains("--disable-opcache") && cfg.contains("--enable-mbstring"),
            "{cfg}"
        );
        assert!(cfg.contains("-lsetjmp") && cfg.contains("-lkiln_shims"), "{cfg}");
        let slim = plan_of(root.path(), "php", Some("slim")).unwrap();
        assert_eq!(slim.id, "php-8.4.16-slim");
        assert!(configure_of(&slim).contains("--disable-all"));
        assert_ne!(slim.out_stamp, p.out_stamp);
        assert!(p.render().contains("php-8.4.16.tar.xz"));
    }

    #[test]
    fn steps_come_in_execution_order_and_render_numbered() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "python", None).unwrap();
        let kinds: Vec<&str> = p.steps.iter().map(Step::kind).collect();
        let deps = p.deps().count();
        assert_eq!(deps, 5, "zlib, bzip2, xz, sqlite3, openssl");
        assert_eq!(
            &kinds[deps..],
            [
                "fetch",
                "unpack",
                "patch",
                "shims",
                "native",
                "configure",
                "make",
                "install",
                "post",
                "collect"
            ]
        );
        let text = p.render();
        for (i, k) in kinds.iter().enumerate() {
            assert!(
                text.contains(&format!("{:>2}. {k}", i + 1)),
                "step {} ({k}) missing:\n{text}",
                i + 1
            );
        }
        // Phases never go backwards.
        let phases: Vec<Phase> = p.steps.iter().map(Step::phase).collect();
        assert!(phases.windows(2).all(|w| w[0] as u8 <= w[1] as u8), "{phases:?}");
    }

    #[test]
    fn php_goto_flavour_generates_its_vm_with_its_native_build_before_configure() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        // The default flavour neither builds the generator PHP nor generates.
        let def = plan_of(root.path(), "php", None).unwrap();
        assert!(def.tree_native().is_none());
        assert!(!def.steps.iter().any(|s| s.kind() == "generate"));
        let p = plan_of(root.path(), "php", Some("goto")).unwrap();
        let kinds: Vec<&str> = p.steps.iter().map(Step::kind).skip(p.deps().count()).collect();
        assert_eq!(
            &kinds[..7],
            ["fetch", "unpack", "patch", "shims", "native", "generate", "configure"],
            "{kinds:?}"
        );
        // The flavour extends the default one: same extensions.
        assert!(configure_of(&p).contains("--enable-mbstring"));
        let (cmd, cwd) = p
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Generate { cmd, .. } => Some((cmd.display(), cmd.cwd().to_path_buf())),
                _ => None,
            })
            .unwrap();
        assert_eq!(cwd, p.dirs.src);
        assert!(
            cmd.contains(&format!("{}/sapi/cli/php", p.dirs.native.display())) && cmd.contains("zend_vm_gen.php --with-vm-kind=GOTO"),
            "{cmd}"
        );
        // The generator's command shapes the configured tree.
        let path = root.path().join("recipes/php.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("--with-vm-kind=GOTO", "--with-vm-kind=SWITCH")).unwrap();
        let q = plan_of(root.path(), "php", Some("goto")).unwrap();
        assert_ne!(q.tree_stamp, p.tree_stamp);
        assert_eq!(plan_of(root.path(), "php", None).unwrap().tree_stamp, def.tree_stamp);
        // Without a [native] build there is nothing to generate with.
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("[native]").unwrap();
        let end = start + text[start..].find("[build]").unwrap();
        std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
        let e = plan_of(root.path(), "php", Some("goto")).unwrap_err();
        assert!(
            format!("{e:#}").contains("[[generate]] steps run with the [native] build's programs"),
            "{e:#}"
        );
    }

    #[test]
    fn ruby_plan_has_baseruby_and_asyncify_and_no_sjlj_flags() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "ruby", None).unwrap();
        let text = p.render();
        assert!(
            text.contains("native") && text.contains("--prefix=") && text.contains("asyncify"),
            "{text}"
        );
        assert!(p.tree_native().is_some());
        assert!(!p.flags.cflags.iter().any(|f| f.contains("sjlj")), "{:?}", p.flags.cflags);
        let php = plan_of(root.path(), "php", None).unwrap();
        assert!(php.flags.cflags.iter().any(|f| f.contains("sjlj")), "PHP uses Wasm-EH setjmp");
        // The shim compile reads the same resolved flags.
        let shim_flags = php
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Shims { cflags, .. } => Some(cflags.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(shim_flags, php.flags.cflags);
    }

    #[test]
    fn native_side_comes_from_the_tree_build_or_its_own_copy() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let py = plan_of(root.path(), "python", None).unwrap();
        let (n, bin) = py.native_side.clone().unwrap();
        assert_eq!(bin, py.dirs.native.join("python"));
        assert_eq!(n.stamp, py.tree_native().unwrap().stamp, "the same build as the tree's");
        let php = plan_of(root.path(), "php", None).unwrap();
        let (n, bin) = php.native_side.clone().unwrap();
        assert!(n.private_src.is_some(), "PHP's native side is its own in-tree build");
        assert!(bin.ends_with("sapi/cli/php"), "{}", bin.display());
    }

    #[test]
    fn stamps_change_with_a_patch_or_a_flag_and_only_then() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let a = plan_of(root.path(), "php", None).unwrap();
        assert_eq!(
            a.out_stamp,
            plan_of(root.path(), "php", None).unwrap().out_stamp,
            "planning twice must agree"
        );
        let rp = root.path().join("recipes/php.toml");
        let text = std::fs::read_to_string(&rp).unwrap();
        std::fs::write(
            &rp,
            text.replace("\"--enable-exif\",", "\"--enable-exif\", \"--disable-short-tags\","),
        )
        .unwrap();
        let b = plan_of(root.path(), "php", None).unwrap();
        assert_ne!(a.tree_stamp, b.tree_stamp);
        std::fs::write(&rp, &text).unwrap();
        let series = root.path().join("patches/php/8.4");
        std::fs::write(series.join("9999-extra.patch"), "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+x\n").unwrap();
        let c = plan_of(root.path(), "php", None).unwrap();
        assert_ne!(a.tree_stamp, c.tree_stamp);
        assert_eq!(c.patches.last().unwrap().path.file_name().unwrap(), "9999-extra.patch");
        let (na, _) = a.native_side.unwrap();
        let (nc, _) = c.native_side.unwrap();
        assert_ne!(na.stamp, nc.stamp, "a native build is stamped with the patches too");
    }

    #[test]
    fn cmake_recipes_get_a_toolchain_file_and_an_out_of_tree_build() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "libyaml", None).unwrap();
        let kinds: Vec<&str> = p.steps.iter().map(Step::kind).collect();
        assert_eq!(
            kinds,
            [
                "fetch",
                "unpack",
                "patch",
                "write",
                "write",
                "configure",
                "make",
                "install",
                "collect"
            ]
        );
        assert_ne!(p.dirs.build, p.dirs.src);
        let toolchain = p.dirs.build.join("kiln-toolchain.cmake");
        let (path, text) = p
            .steps
            .iter()
            .find_map(|s| match s {
                Step::WriteFile { path, text } if path.ends_with("kiln-toolchain.cmake") => Some((path.clone(), text.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(path, toolchain);
        assert!(
            text.contains("CMAKE_C_COMPILER_TARGET wasm32-wasip1") && text.contains("CMAKE_SYSROOT"),
            "{text}"
        );
        let cfg = configure_of(&p);
        assert!(cfg.contains(&format!("-DCMAKE_TOOLCHAIN_FILE={}", toolchain.display())), "{cfg}");
        assert!(
            cfg.contains("-DBUILD_SHARED_LIBS=OFF") && cfg.contains("-DBUILD_TESTING=OFF"),
            "{cfg}"
        );
    }

    #[test]
    fn script_builds_run_their_own_configure_without_autoconf_flags() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "openssl", None).unwrap();
        let cfg = configure_of(&p);
        assert!(cfg.contains("../src/Configure linux-generic32 no-asm"), "{cfg}");
        assert!(!cfg.contains("--host=") && !cfg.contains("--build="), "{cfg}");
    }

    #[test]
    fn libraries_publish_relocatable_pkgconfig_modules_to_dependants() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let lib = plan_of(root.path(), "libxml2", None).unwrap();
        let (_, generated) = collect_of(&lib);
        let (path, text) = &generated[0];
        assert_eq!(path, "lib/pkgconfig/libxml-2.0.pc");
        assert!(
            text.contains("prefix=${pcfiledir}/../..") && text.contains("Version: 2.9.14"),
            "{text}"
        );
        assert!(!text.contains(&root.path().display().to_string()), "no machine path: {text}");
        // A dependant sees only its dependencies' modules.
        std::fs::write(
            root.path().join("recipes/demo.toml"),
            "name = \"demo\"\nversion = \"1\"\nkind = \"library\"\ndescription = \"d\"\nseries = \"1\"\ndeps = [\"libxml2\", \"zlib\"]\n[source]\nfile = \"d.tar.gz\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n[build]\nsystem = \"autoconf\"\noutputs = {}\n",
        )
        .unwrap();
        let demo = plan_of(root.path(), "demo", None).unwrap();
        let zlib = plan_of(root.path(), "zlib", None).unwrap();
        assert_eq!(
            demo.flags.env["PKG_CONFIG_LIBDIR"],
            format!(
                "{}:{}",
                lib.dirs.out.join("lib/pkgconfig").display(),
                zlib.dirs.out.join("lib/pkgconfig").display()
            )
        );
        std::fs::write(
            root.path().join("recipes/demo.toml"),
            "name = \"demo\"\nversion = \"1\"\nkind = \"library\"\ndescription = \"d\"\nseries = \"1\"\ndeps = [\"bzip2\"]\n[source]\nfile = \"d.tar.gz\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n[build]\nsystem = \"autoconf\"\noutputs = {}\n",
        )
        .unwrap();
        let demo = plan_of(root.path(), "demo", None).unwrap();
        assert!(
            !demo.flags.env.contains_key("PKG_CONFIG_LIBDIR"),
            "no module among the deps: the build machine's pkg-config search is left alone"
        );
    }

    #[test]
    fn flavours_add_their_own_deps_and_collect_what_libraries_need_at_run_time() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let slim = plan_of(root.path(), "php", Some("slim")).unwrap();
        assert_eq!(slim.deps().count(), 0, "slim links no library");
        let default = plan_of(root.path(), "php", None).unwrap();
        let names: Vec<&str> = default.deps().map(|d| d.recipe.name.as_str()).collect();
        assert!(names.contains(&"openssl") && names.contains(&"libxml2"), "{names:?}");
        let ssl = default.deps().find(|d| d.recipe.name == "openssl").unwrap();
        let (outputs, _) = collect_of(&default);
        assert_eq!(outputs.get(&ssl.dirs.out.join("lib/ssl")).map(String::as_str), Some("lib/ssl"));
        assert_ne!(slim.out_stamp, default.out_stamp);
    }

    #[test]
    fn a_flavour_extends_another_and_only_cxx_code_sees_cxx() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let default = plan_of(root.path(), "php", None).unwrap();
        let full = plan_of(root.path(), "php", Some("full")).unwrap();
        let names = |p: &BuildPlan| p.deps().map(|d| d.recipe.name.clone()).collect::<Vec<_>>();
        let mut want = names(&default);
        want.push("icu".into());
        assert_eq!(names(&full), want, "full = default's libraries, then ICU");
        let (d, f) = (configure_of(&default), configure_of(&full));
        assert!(f.contains("--with-openssl") && f.contains("--enable-intl"), "{f}");
        assert!(
            f.find("--with-sodium") < f.find("--enable-intl"),
            "the base flavour's arguments come first: {f}"
        );
        assert!(
            f.contains("CXX='$CLANGXX --target=wasm32-wasip1") && f.contains("-L$CXX_RUNTIME"),
            "{f}"
        );
        assert!(!d.contains("CXX=") && !d.contains("--enable-intl"), "{d}");
        // ICU: its configure lives in source/, and it ships its data archive
        // to dependants.
        let icu = full.deps().find(|d| d.recipe.name == "icu").unwrap();
        assert!(
            configure_of(icu).contains("../src/source/configure --host=wasm32-wasi"),
            "{}",
            configure_of(icu)
        );
        let (outputs, _) = collect_of(&full);
        assert_eq!(outputs.get(&icu.dirs.out.join("lib/icu")).map(String::as_str), Some("lib/icu"));
        let (outputs, _) = collect_of(&default);
        assert!(!outputs.keys().any(|k| k.starts_with(&icu.dirs.out)));
    }

    #[test]
    fn flavour_extends_chains_are_checked_when_the_recipe_loads() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let path = root.path().join("recipes/php.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("extends = \"default\"", "extends = \"nope\"")).unwrap();
        let e = format!("{:#}", plan_of(root.path(), "php", None).unwrap_err());
        assert!(e.contains("php.toml") && e.contains("\"full\" extends \"nope\""), "{e}");
        std::fs::write(
            &path,
            text.replace("[flavor.slim]", "[flavor.slim]\nextends = \"full\"")
                .replace("extends = \"default\"", "extends = \"slim\""),
        )
        .unwrap();
        let e = format!("{:#}", plan_of(root.path(), "php", None).unwrap_err());
        assert!(e.contains("extends itself"), "{e}");
    }

    #[test]
    fn the_native_side_links_the_flavours_libraries_built_natively() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let php = plan_of(root.path(), "php", None).unwrap();
        let (side, _) = php.native_side.as_ref().unwrap();
        let names: Vec<&str> = side.deps.iter().map(|d| d.id.as_str()).collect();
        assert!(
            names.contains(&"openssl-3.5.7-native") && names.contains(&"zlib-1.3.1-native"),
            "{names:?}"
        );
        let wasm_ids: Vec<&str> = php.deps().map(|d| d.id.as_str()).collect();
        assert_eq!(names.len(), wasm_ids.len(), "one native library per wasm one");
        // No wasm target, flags, shims or emulation libraries natively.
        let ssl = side.deps.iter().find(|d| d.recipe.name == "openssl").unwrap();
        let c = configure_of(ssl);
        assert!(!c.contains("linux-generic32") && c.contains("no-sock"), "{c}");
        assert!(!c.contains("wasm") && !c.contains("$SYSROOT"), "{c}");
        let sqlite = side.deps.iter().find(|d| d.recipe.name == "sqlite3").unwrap();
        let c = configure_of(sqlite);
        assert!(!c.contains("--host") && !c.contains("-lwasi-emulated"), "{c}");
        let (_, generated) = collect_of(sqlite);
        assert!(generated.iter().all(|(_, t)| !t.contains("-lwasi")), "{generated:?}");
        let wasm_sqlite = php.deps().find(|d| d.recipe.name == "sqlite3").unwrap();
        assert!(collect_of(wasm_sqlite).1.iter().any(|(_, t)| t.contains("-lwasi-emulated-getpid")));
        let onig = side.deps.iter().find(|d| d.recipe.name == "oniguruma").unwrap();
        let tc_file = onig
            .steps
            .iter()
            .find_map(|s| match s {
                Step::WriteFile { text, .. } => Some(text.clone()),
                _ => None,
            })
            .unwrap();
        assert!(!tc_file.contains("WASI") && tc_file.contains("CMAKE_PREFIX_PATH"), "{tc_file}");
        // The native PHP: the wasm build's arguments, the native libraries.
        let c = side.configure.display();
        assert!(
            c.contains("--with-openssl") && c.contains("--enable-mbstring") && c.contains("CFLAGS=-O2"),
            "{c}"
        );
        assert!(c.contains(&format!("{}", ssl.dirs.out.join("lib/pkgconfig").display())), "{c}");
        assert_ne!(ssl.out_stamp, php.deps().find(|d| d.recipe.name == "openssl").unwrap().out_stamp);
        // It finds OpenSSL's config file in the native library's tree.
        let conf = ssl.dirs.out.join("lib/ssl/openssl.cnf").display().to_string();
        assert!(side.run_env.contains(&("OPENSSL_CONF".into(), conf)), "{:?}", side.run_env);
        // slim links nothing on either side.
        let slim = plan_of(root.path(), "php", Some("slim")).unwrap();
        assert!(slim.native_side.as_ref().unwrap().0.deps.is_empty());
        assert!(slim.native_side.as_ref().unwrap().0.configure.display().contains("--disable-all"));
    }

    #[test]
    fn unknown_flavor_lists_known_ones() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let msg = format!("{:#}", plan_of(root.path(), "php", Some("huge")).unwrap_err());
        assert!(msg.contains("huge") && msg.contains("slim"), "{msg}");
    }

    #[test]
    fn unknown_placeholder_is_an_error_naming_the_recipe() {
        let mut v = Vars::default();
        v.set("src", "/s");
        assert_eq!(v.subst("r", "{src}/x {} {a b}").unwrap(), "/s/x {} {a b}");
        let e = v.subst("r", "{srcdir}/x").unwrap_err().to_string();
        assert!(e.contains("recipe r") && e.contains("{srcdir}") && e.contains("{src}"), "{e}");
    }

    #[test]
    fn shim_wraps_become_linker_flags_for_every_interpreter() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        for interp in ["php", "python", "ruby"] {
            let p = plan_of(root.path(), interp, None).unwrap();
            for sym in ["__wasilibc_find_relpath", "__wasilibc_find_relpath_alloc", "chdir", "rmdir"] {
                let flag = format!("-Wl,--wrap={sym}");
                assert_eq!(
                    p.flags.ldflags.iter().filter(|f| **f == flag).count(),
                    1,
                    "{interp}: {:?}",
                    p.flags.ldflags
                );
            }
        }
    }

    #[test]
    fn a_declared_wrap_without_its_definition_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.c");
        std::fs::write(&f, "/* kiln-wrap: open */\nint __wrap_close(int fd) { return fd; }\n").unwrap();
        let e = format!("{:#}", shim_wraps(&f).unwrap_err());
        assert!(e.contains("s.c:1") && e.contains("__wrap_open"), "{e}");
        std::fs::write(&f, "/* kiln-wrap: close */\nint __wrap_close(int fd) { return fd; }\n").unwrap();
        assert_eq!(shim_wraps(&f).unwrap(), ["close"]);
    }

    #[test]
    fn portable_maps_machine_paths_away() {
        let root = tempfile::tempdir().unwrap();
        copy_repo(root.path());
        let p = plan_of(root.path(), "php", None).unwrap();
        let flags = p.portable(&p.flags.cflags.join(" "));
        assert!(!flags.contains(&root.path().display().to_string()), "{flags}");
        assert!(flags.contains("-include {repo}/shims/wasi/kiln_wasi_compat.h"), "{flags}");
        assert!(flags.contains("-ffile-prefix-map={work}=/kiln/php-8.4.16"), "{flags}");
    }
}
