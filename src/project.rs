//! A kiln checkout as the commands see it: where things live, the
//! configuration read at the edge, and the one progress owner. Every
//! command goes through these few calls (plan, build, the source tree,
//! the native side, an engine for a use) instead of assembling them.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::build::{BuildResult, Builder};
use crate::config::Config;
use crate::layout::Layout;
use crate::plan::{BuildPlan, PlanOptions, ToolchainView};
use crate::progress::Progress;
use crate::recipe::{Recipe, ToolchainRecipe};
#[cfg(feature = "runtime")]
use crate::runtime::{EngineOptions, Runtime, Use};
use crate::toolchain::NativeToolchain;
use crate::toolchain::{Toolchain, Unavailable};

pub struct Project {
    pub layout: Layout,
    pub config: Config,
    pub progress: Progress,
}

impl Project {
    /// The checkout at `hint` (or found above the current directory).
    pub fn open(hint: Option<&Path>, config: Config, progress: Progress) -> Result<Project> {
        let repo = crate::layout::find_repo_root(hint)?;
        Ok(Project {
            layout: Layout::new(repo, &config)?,
            config,
            progress,
        })
    }

    pub fn builder(&self) -> Builder<'_> {
        Builder {
            layout: &self.layout,
            progress: &self.progress,
            config: &self.config,
        }
    }

    pub fn recipe(&self, spec: &str) -> Result<Recipe> {
        crate::recipe::find(&self.layout.recipes(), spec)
    }

    pub fn toolchain_recipe(&self) -> Result<ToolchainRecipe> {
        ToolchainRecipe::load(&self.layout.recipes().join("toolchain.toml"))
    }

    /// The wasm toolchain, installing Debian's packages when allowed.
    pub fn toolchain(&self, install: bool) -> Result<Toolchain> {
        Toolchain::resolve(&self.layout, &self.config, install, &self.progress)
    }

    /// Resolve recipe + toolchain + options into a plan. With `dry_run`
    /// nothing is installed, and a missing toolchain is shown as
    /// placeholders instead of failing.
    pub fn plan(&self, spec: &str, flavor: Option<&str>, jobs: Option<usize>, dry_run: bool) -> Result<BuildPlan> {
        let recipe = self.recipe(spec)?;
        let tr = self.toolchain_recipe()?;
        let native = NativeToolchain::resolve(&tr);
        let tc = match self.toolchain(!dry_run && !self.config.no_install) {
            Ok(tc) => ToolchainView::of(&tc, native, tc.cxx_runtime(&self.layout)?),
            Err(e) if dry_run && e.downcast_ref::<Unavailable>().is_some() => {
                self.progress.println(format!("note: {e:#}; showing placeholders"));
                ToolchainView {
                    native,
                    ..ToolchainView::placeholder(&tr)
                }
            }
            Err(e) => return Err(e),
        };
        let opts = PlanOptions {
            flavor: flavor.map(String::from),
            jobs: jobs.unwrap_or_else(crate::plan::default_jobs),
            native: false,
        };
        crate::plan::plan(&self.layout, &recipe, tc, &opts)
    }

    /// `build --dry-run`'s text: the plan's typed steps, then every host
    /// program it starts (its dependencies' included) with its Debian
    /// package and whether it is present.
    pub fn render_plan(&self, plan: &BuildPlan) -> Result<String> {
        let tr = self.toolchain_recipe()?;
        let needs = plan.host_needs(&|_| false);
        Ok(format!("{}{}", plan.render(), crate::host::render(&needs, &tr.host)))
    }

    /// The host programs of the parts of `plan` that will run: installed
    /// when missing, or an error naming them (`build` checks this too).
    pub fn ensure_host_programs(&self, plan: &BuildPlan) -> Result<()> {
        self.builder().ensure_host_programs(plan)
    }

    pub fn build(&self, plan: &BuildPlan) -> Result<BuildResult> {
        self.builder().build(plan)
    }

    /// Built, with its source tree present (suites and benchmarks read
    /// upstream files next to the module).
    pub fn build_with_source(&self, plan: &BuildPlan) -> Result<()> {
        self.build(plan)?;
        self.builder().ensure_source(plan)
    }

    /// The native interpreter of the same tarball (see `native.rs`).
    pub fn native_side(&self, plan: &BuildPlan) -> Result<PathBuf> {
        self.builder().native_side(plan)
    }

    /// The native side as a command, for `run --native`: its binary with
    /// `[bench] native_args`, then `args`, with the native environment
    /// (`[bench] native_env` and what its libraries need) and `env` on
    /// top. Builds the native side first.
    pub fn native_command(&self, plan: &BuildPlan, args: &[String], env: &[(String, String)]) -> Result<std::process::Command> {
        let binary = self.native_side(plan)?;
        let mut cmd = std::process::Command::new(&binary);
        cmd.args(plan.recipe.bench.iter().flat_map(|b| b.native_args.iter()));
        cmd.args(args);
        cmd.envs(plan.native_env());
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Ok(cmd)
    }

    /// Another program of the native side's build tree: `template` names
    /// it with `{native}` (`{native}/sapi/cgi/php-cgi`). Builds the native
    /// side first, like [`Project::native_side`].
    pub fn native_program(&self, plan: &BuildPlan, template: &str) -> Result<PathBuf> {
        self.native_side(plan)?;
        let (n, _) = plan.native_side.as_ref().expect("native_side succeeded");
        let path = PathBuf::from(template.replace("{native}", &n.dir.display().to_string()));
        if !path.is_file() {
            anyhow::bail!(
                "{} is not in {}'s native build (is its make target in [bench] native_make_targets?)",
                path.display(),
                plan.id
            );
        }
        Ok(path)
    }

    #[cfg(feature = "runtime")]
    /// An engine with the settings for `u` (see [`EngineOptions::for_use`]).
    pub fn runtime(&self, u: Use, run: &crate::recipe::Run) -> Result<Runtime> {
        Runtime::new(&self.layout.module_cache(), &EngineOptions::for_use(u, run, &self.config))
    }
}
