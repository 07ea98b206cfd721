//! Host programs: what a plan starts on the build machine besides the wasm
//! toolchain (`make`, `cmake`, `patch`, `pkg-config`, `npm`, `node`, a
//! recipe's `tclsh` or `perl`), found from its typed steps and the
//! recipes' `host_programs`, and the Debian package of each
//! (`recipes/toolchain.toml`'s `[[host]]`). The executor checks them before
//! the first step and installs the missing ones (apt-get, as root or
//! through `sudo -n`), or stops before building anything, naming each
//! program, its package and `cargo xtask setup`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::layout::Layout;
use crate::plan::{BuildPlan, Step};
use crate::progress::Progress;
use crate::recipe::HostTool;

/// A program and what in the plan starts it: plan id → the steps
/// (`oniguruma-6.9.10` → `configure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub program: String,
    pub by: BTreeMap<String, Vec<String>>,
}

impl Need {
    /// `oniguruma-6.9.10 (configure), libzip-1.7.3 (configure, make)`.
    pub fn why(&self) -> String {
        self.by
            .iter()
            .map(|(id, what)| format!("{id} ({})", what.join(", ")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

type Acc = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Programs the plan starts, its dependencies' included; `skip` leaves out
/// a (dependency) plan that will not run, e.g. one already built.
pub fn needs(plan: &BuildPlan, skip: &dyn Fn(&BuildPlan) -> bool) -> Vec<Need> {
    let mut acc = Acc::new();
    collect(plan, skip, &mut acc);
    acc.into_iter().map(|(program, by)| Need { program, by }).collect()
}

/// Programs the native side (`test --native`, `bench`) starts: its
/// libraries' builds, its configure and make, its compiler.
pub fn native_side_needs(plan: &BuildPlan, skip: &dyn Fn(&BuildPlan) -> bool) -> Vec<Need> {
    let mut acc = Acc::new();
    if let Some((n, _)) = &plan.native_side {
        for d in &n.deps {
            collect(d, skip, &mut acc);
        }
        for c in [&n.configure, &n.make] {
            cmd_needs(c, &plan.id, "native side", &mut acc);
        }
        if !plan.patches.is_empty() {
            add(&mut acc, "patch", &plan.id, "patch");
        }
    }
    acc.into_iter().map(|(program, by)| Need { program, by }).collect()
}

fn collect(plan: &BuildPlan, skip: &dyn Fn(&BuildPlan) -> bool, acc: &mut Acc) {
    if skip(plan) {
        return;
    }
    let id = &plan.id;
    for p in &plan.recipe.build.host_programs {
        add(acc, p, id, "its build");
    }
    if plan.flags.env.contains_key("PKG_CONFIG_LIBDIR") {
        add(acc, "pkg-config", id, "configure, for its libraries' modules");
    }
    for step in &plan.steps {
        match step {
            Step::Dep(d) => collect(d, skip, acc),
            Step::Native(n) => {
                for d in &n.deps {
                    collect(d, skip, acc);
                }
                for c in [&n.configure, &n.make] {
                    cmd_needs(c, id, "native build", acc);
                }
            }
            Step::Patch { series, .. } if !series.is_empty() => add(acc, "patch", id, "patch"),
            Step::Tool(t) => add(acc, "npm", id, &format!("tool {}", t.name)),
            Step::Configure(c) | Step::Make(c) => cmd_needs(c, id, step.kind(), acc),
            Step::Install { cmd, .. } | Step::Generate { cmd, .. } | Step::Post { cmd, .. } => cmd_needs(cmd, id, step.kind(), acc),
            _ => {}
        }
    }
}

/// A command's program when it is looked up on `PATH` (a path into a
/// source tree is the tree's own script), and the compiler its `CC` names.
fn cmd_needs(c: &Cmd, id: &str, what: &str, acc: &mut Acc) {
    let cc = c
        .env_var("CC")
        .map(|cc| cc.to_string_lossy().split_whitespace().next().unwrap_or("").to_string());
    for p in [Some(c.program().to_string_lossy().into_owned()), cc].into_iter().flatten() {
        if !p.is_empty() && !p.contains('/') {
            add(acc, &p, id, what);
        }
    }
}

fn add(acc: &mut Acc, program: &str, id: &str, what: &str) {
    let whats = acc.entry(program.to_string()).or_default().entry(id.to_string()).or_default();
    if !whats.iter().any(|w| w == what) {
        whats.push(what.to_string());
    }
}

/// Whether a `[[host]]` entry's program (or file, or check) is present.
pub fn present(h: &HostTool) -> bool {
    if let Some(check) = &h.check {
        let Some((prog, args)) = check.split_first() else { return false };
        return Cmd::new(prog, "/").args(args).read().is_ok();
    }
    match h.command.strip_prefix('/') {
        Some(_) => Path::new(&h.command).exists(),
        None => crate::toolchain::which(&h.command).is_some(),
    }
}

/// A program is present when its `[[host]]` entry says so, or (without
/// an entry) when it is on `PATH`.
fn is_present(program: &str, table: &[HostTool]) -> bool {
    match table.iter().find(|h| h.command == program) {
        Some(h) => present(h),
        None => crate::toolchain::which(program).is_some(),
    }
}

/// The missing ones, each with its `[[host]]` entry (`None`: no entry
/// names a package for it).
pub fn missing<'a>(needs: &'a [Need], table: &'a [HostTool]) -> Vec<(&'a Need, Option<&'a HostTool>)> {
    needs
        .iter()
        .filter(|n| !is_present(&n.program, table))
        .map(|n| (n, table.iter().find(|h| h.command == n.program)))
        .collect()
}

/// `--dry-run`'s section: every program with its package and state.
pub fn render(needs: &[Need], table: &[HostTool]) -> String {
    let mut s = String::from("  host programs (checked before the first step; missing ones are installed):\n");
    for n in needs {
        let entry = table.iter().find(|h| h.command == n.program);
        let package = entry.map_or("no [[host]] entry".to_string(), |h| format!("Debian package {}", h.package));
        let state = if is_present(&n.program, table) { "present" } else { "MISSING" };
        s.push_str(&format!("    {:<11} {state:<8} {package}; {}\n", n.program, n.why()));
    }
    s
}

/// Make every needed program present: install the missing ones' packages
/// (saying what and why) when `install` says how (see
/// [`crate::toolchain::how_to_install`]; `Err` says why not), or fail
/// before anything is built,
/// naming each program, its package and `cargo xtask setup`.
pub fn ensure(
    what: &str,
    needs: &[Need],
    table: &[HostTool],
    install: std::result::Result<Vec<String>, String>,
    layout: &Layout,
    progress: &Progress,
) -> Result<()> {
    let missing = missing(needs, table);
    if missing.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&str> = missing
        .iter()
        .filter(|(_, h)| h.is_none())
        .map(|(n, _)| n.program.as_str())
        .collect();
    if !unknown.is_empty() {
        bail!(
            "{what} needs {}, which {} not on PATH, and recipes/toolchain.toml has no [[host]] entry naming a Debian package for {}",
            unknown.join(", "),
            if unknown.len() == 1 { "is" } else { "are" },
            if unknown.len() == 1 { "it" } else { "them" }
        );
    }
    let mut pkgs: Vec<String> = missing.iter().filter_map(|(_, h)| h.map(|h| h.package.clone())).collect();
    pkgs.sort();
    pkgs.dedup();
    let lines: Vec<String> = missing
        .iter()
        .map(|(n, h)| {
            let h = h.expect("unknown ones bailed above");
            format!("  {} (Debian package {}): for {}", n.program, h.package, n.why())
        })
        .collect();
    let prefix = match install {
        Ok(p) => p,
        Err(why) => bail!(
            "{what} needs host programs that are missing, and kiln cannot install them here \
             ({why}); nothing was built:\n{}\n\
             install them with `apt-get install {}` as root, or run `cargo xtask setup` as root \
             (every host program kiln's builds and tests use)",
            lines.join("\n"),
            pkgs.join(" ")
        ),
    };
    progress.println(format!("kiln: {what} needs host programs that are missing:\n{}", lines.join("\n")));
    crate::toolchain::apt_install_with(&prefix, layout, &pkgs, progress)?;
    let still: Vec<String> = missing
        .iter()
        .filter(|(n, _)| !is_present(&n.program, table))
        .map(|(n, _)| n.program.clone())
        .collect();
    if !still.is_empty() {
        bail!("installed {} but {} still missing", pkgs.join(" "), still.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(command: &str, package: &str) -> HostTool {
        HostTool {
            command: command.into(),
            package: package.into(),
            why: String::new(),
            check: None,
        }
    }

    fn need(program: &str, what: &str) -> Need {
        Need {
            program: program.into(),
            by: [("x-1.0".to_string(), vec![what.to_string()])].into(),
        }
    }

    #[test]
    fn a_program_on_path_is_present_and_one_that_is_not_is_missing() {
        let table = [tool("sh", "dash"), tool("kiln-no-such-program", "kiln-nothing")];
        let needs = [need("sh", "configure"), need("kiln-no-such-program", "make")];
        let m = missing(&needs, &table);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0.program, "kiln-no-such-program");
        assert_eq!(m[0].1.map(|h| h.package.as_str()), Some("kiln-nothing"));
        let r = render(&needs, &table);
        assert!(r.contains("sh          present"), "{r}");
        assert!(
            r.contains("kiln-no-such-program MISSING  Debian package kiln-nothing; x-1.0 (make)"),
            "{r}"
        );
    }

    #[test]
    fn a_check_decides_presence_when_given() {
        let mut h = tool("sh", "dash");
        h.check = Some(vec!["sh".into(), "-c".into(), "exit 3".into()]);
        assert!(!present(&h), "a failing check means missing, whatever PATH holds");
        h.check = Some(vec!["sh".into(), "-c".into(), "exit 0".into()]);
        assert!(present(&h));
    }

    #[test]
    fn a_missing_program_without_a_package_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::with_dirs(dir.path(), &dir.path().join("t"), &dir.path().join("c"));
        let needs = [need("kiln-no-such-program", "make")];
        let e = ensure("x-1.0", &needs, &[], Ok(Vec::new()), &layout, &Progress::hidden()).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("kiln-no-such-program") && e.contains("[[host]]"), "{e}");
    }

    #[test]
    fn without_a_way_to_install_the_error_names_program_package_and_setup_and_installs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::with_dirs(dir.path(), &dir.path().join("t"), &dir.path().join("c"));
        let table = [tool("sh", "dash"), tool("kiln-no-such-program", "kiln-nothing")];
        let needs = [need("sh", "configure"), need("kiln-no-such-program", "configure")];
        let e = ensure(
            "x-1.0",
            &needs,
            &table,
            Err("not root, and no sudo".into()),
            &layout,
            &Progress::hidden(),
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("kiln-no-such-program (Debian package kiln-nothing): for x-1.0 (configure)"),
            "{e}"
        );
        assert!(e.contains("apt-get install kiln-nothing") && e.contains("cargo xtask setup"), "{e}");
        assert!(e.contains("(not root, and no sudo)"), "says why it cannot install: {e}");
        assert!(!e.contains("sh (Debian package dash)"), "a present program is not named: {e}");
        assert!(!layout.logs().join("apt-get-install.log").exists(), "nothing was run");
    }
}
