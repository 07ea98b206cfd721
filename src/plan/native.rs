//! Planning native builds: the build machine's own build of a recipe's
//! tarball, with the native compiler named in `recipes/toolchain.toml`
//! (`toolchain::NativeToolchain`). Two uses, one planner each:
//!
//! * a recipe's `[native]` build from the same patched tree, which the
//!   cross build needs (Ruby's baseruby, CPython's build python, the PHP
//!   that runs PHP's code generators for `[[generate]]`): a
//!   [`crate::plan::Step::Native`] in the wasm plan;
//! * the native side that `bench` and `test --native` compare against:
//!   that same build, or (with `[bench] native_configure`) a separate
//!   in-tree build in a private copy of the source.
//!
//! Both are [`NativePlan`]s: planned with the same placeholder rules,
//! stamped with the source, the patches, the commands and the compiler,
//! and built by the executor (`build.rs`) under the plan's lock. [`crate::project::Project::native_side`]
//! is the one entry point that yields a native interpreter, whatever state
//! the checkout is in (a wasm build restored from the cache has no native
//! tree; it is rebuilt then).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::types::{pkgconfig_dirs, BuildPlan, Dirs, NativePlan, Patch, PrivateSource, Vars};
use crate::cmd::Cmd;
use crate::fsutil::stamp;
use crate::recipe::Recipe;
use crate::toolchain::{cxx_beside, NativeToolchain};

/// Variables a cross build's environment carries that must not reach a
/// native build.
const SCRUB: &[&str] = &[
    "CC",
    "CXX",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "LIBS",
    "CPPFLAGS",
    "AR",
    "RANLIB",
    "NM",
    "MAKEFLAGS",
    "CONFIG_SITE",
];

fn scrubbed(c: Cmd, tc: &NativeToolchain) -> Cmd {
    SCRUB.iter().fold(c, |c, k| c.env_remove(k)).env("CC", &tc.cc)
}

fn patch_text(patches: &[Patch]) -> String {
    patches.iter().map(|p| p.sha256.as_str()).collect::<Vec<_>>().join(",")
}

fn native_stamp(recipe: &Recipe, patches: &[Patch], c: &Cmd, m: &Cmd, tc: &NativeToolchain, work: &Path) -> String {
    stamp(&[
        "native",
        &recipe.source.artifact.sha256,
        &patch_text(patches),
        &c.display_without_paths(&[work]),
        &m.display_without_paths(&[work]),
        &tc.version,
    ])
}

/// The recipe's `[native]` build: out of tree in `{native}`, from the
/// shared patched source.
pub fn plan_tree(
    recipe: &Recipe,
    n: &crate::recipe::Native,
    d: &Dirs,
    vars: &Vars,
    tc: &NativeToolchain,
    patches: &[Patch],
    jobs: usize,
) -> Result<NativePlan> {
    let name = recipe.name.as_str();
    let mut c = scrubbed(Cmd::new("../src/configure", &d.native), tc).args(vars.subst_all(name, &n.configure)?);
    let mut m = scrubbed(Cmd::new("make", &d.native), tc)
        .arg(format!("-j{jobs}"))
        .args(&n.make_targets);
    for (k, v) in &n.env {
        let v = vars.subst(name, v)?;
        c = c.env(k, &v);
        m = m.env(k, &v);
    }
    Ok(NativePlan {
        stamp: native_stamp(recipe, patches, &c, &m, tc, &d.work),
        deps: Vec::new(),
        run_env: Vec::new(),
        dir: d.native.clone(),
        private_src: None,
        configure: c,
        make: m,
        log_dir: d.log.clone(),
        log_name: "native".into(),
    })
}

/// What the wasm plan hands the native side with `[bench] native_flavor`.
pub struct SideInputs<'a> {
    /// The wasm build's configure arguments (`[build]` + the flavour's).
    pub configure: &'a [String],
    /// The flavour's libraries, planned for the build machine.
    pub deps: Vec<BuildPlan>,
}

/// The native side for `bench` and `test --native`, and its binary.
pub fn plan_side(
    recipe: &Recipe,
    tree: Option<&NativePlan>,
    d: &Dirs,
    tc: &NativeToolchain,
    patches: &[Patch],
    jobs: usize,
    inputs: SideInputs<'_>,
) -> Result<Option<(NativePlan, PathBuf)>> {
    let Some(b) = &recipe.bench else { return Ok(None) };
    let name = recipe.name.as_str();
    let plan = match (&b.native_configure, tree) {
        (Some(configure), _) => {
            let root = d.work.join("bench-native");
            let src = root.join("src");
            let mut c = scrubbed(Cmd::new("./configure", &src), tc).args(configure);
            let mut m = scrubbed(Cmd::new("make", &src), tc)
                .arg(format!("-j{jobs}"))
                .args(&b.native_make_targets);
            let deps = if b.native_flavor { inputs.deps } else { Vec::new() };
            if b.native_flavor {
                c = c.args(inputs.configure);
                // The native libraries, found as the wasm build finds the
                // wasm ones: their pkg-config modules, their headers and
                // archives.
                let pc = pkgconfig_dirs(&deps);
                let inc: Vec<String> = deps.iter().map(|x| format!("-I{}", x.dirs.out.join("include").display())).collect();
                let lib: Vec<String> = deps.iter().map(|x| format!("-L{}", x.dirs.out.join("lib").display())).collect();
                for (k, v) in [
                    ("PKG_CONFIG_LIBDIR", pc.join(":")),
                    ("PKG_CONFIG_PATH", String::new()),
                    ("CPPFLAGS", inc.join(" ")),
                    ("LDFLAGS", lib.join(" ")),
                    ("CXX", cxx_beside(&tc.cc)),
                ] {
                    c = c.env(k, &v);
                    m = m.env(k, &v);
                }
            }
            let mut run_env = Vec::new();
            for x in &deps {
                for (k, v) in &x.recipe.native_run_env {
                    run_env.push((k.clone(), v.replace("{out}", &x.dirs.out.display().to_string())));
                }
            }
            let dep_stamps: Vec<&str> = deps.iter().map(|x| x.out_stamp.as_str()).collect();
            let own = native_stamp(recipe, patches, &c, &m, tc, &d.work);
            NativePlan {
                stamp: if deps.is_empty() {
                    own
                } else {
                    stamp(&[&own, &dep_stamps.join(",")])
                },
                deps,
                run_env,
                dir: src.clone(),
                private_src: Some(PrivateSource {
                    artifact: recipe.source.artifact.clone(),
                    strip: recipe.source.strip_components,
                    patches: patches.iter().map(|p| p.path.clone()).collect(),
                    dir: src,
                }),
                configure: c,
                make: m,
                log_dir: d.log.clone(),
                log_name: "bench-native".into(),
            }
        }
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("recipe {name}: [bench] native_binary needs a native build: a [native] section or [bench] native_configure"),
    };
    let mut v = Vars::default();
    v.set("native", plan.dir.display().to_string());
    v.set("src", d.src.display().to_string());
    let binary = PathBuf::from(v.subst(name, &b.native_binary)?);
    Ok(Some((plan, binary)))
}
