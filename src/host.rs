//! The build machine: programs on `PATH`, the Debian package of each
//! (`recipes/toolchain.toml`'s `[[host]]`), and installing packages with
//! apt-get (as root or through `sudo -n`). What a plan starts
//! (`make`, `cmake`, `patch`, `pkg-config`, `npm`, `node`, a recipe's
//! `tclsh` or `perl`) is gathered by the plan into [`Need`]s
//! (`BuildPlan::host_needs`); the executor checks them before the first
//! step and installs the missing ones, or stops before building anything,
//! naming each program, its package and `cargo xtask setup`. A leaf: it
//! imports nothing of the pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::layout::Layout;
use crate::progress::Progress;
use crate::recipe::{HostTool, ToolchainRecipe};

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

/// What [`Need`]s are gathered into: program → plan id → steps.
pub type Acc = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Record that `id`'s `what` starts `program`.
pub fn add(acc: &mut Acc, program: &str, id: &str, what: &str) {
    let whats = acc.entry(program.to_string()).or_default().entry(id.to_string()).or_default();
    if !whats.iter().any(|w| w == what) {
        whats.push(what.to_string());
    }
}

/// The gathered programs as [`Need`]s, by name.
pub fn needs_of(acc: Acc) -> Vec<Need> {
    acc.into_iter().map(|(program, by)| Need { program, by }).collect()
}

/// Whether a `[[host]]` entry's program (or file, or check) is present.
pub fn present(h: &HostTool) -> bool {
    if let Some(check) = &h.check {
        let Some((prog, args)) = check.split_first() else { return false };
        return Cmd::new(prog, "/").args(args).read().is_ok();
    }
    match h.command.strip_prefix('/') {
        Some(_) => Path::new(&h.command).exists(),
        None => which(&h.command).is_some(),
    }
}

/// A program is present when its `[[host]]` entry says so, or (without
/// an entry) when it is on `PATH`.
fn is_present(program: &str, table: &[HostTool]) -> bool {
    match table.iter().find(|h| h.command == program) {
        Some(h) => present(h),
        None => which(program).is_some(),
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
/// [`how_to_install`]; `Err` says why not), or fail
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
    apt_install_with(&prefix, layout, &pkgs, progress)?;
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

/// `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn is_root() -> bool {
    Cmd::new("id", ".").arg("-u").read().map(|s| s.trim() == "0").unwrap_or(false)
}

/// How kiln can run apt-get here: directly as root (`[]`), or through
/// `sudo -n` (a sudo that asks no password); else why not.
pub fn how_to_install() -> std::result::Result<Vec<String>, String> {
    if which("apt-get").is_none() {
        return Err("no apt-get on PATH".into());
    }
    if is_root() {
        return Ok(Vec::new());
    }
    match which("sudo") {
        Some(sudo) if Cmd::new(&sudo, "/").args(["-n", "true"]).read().is_ok() => Ok(vec!["sudo".to_string(), "-n".to_string()]),
        Some(_) => Err("not root, and sudo asks for a password".into()),
        None => Err("not root, and no sudo".into()),
    }
}

/// [`how_to_install`], without the reason.
pub fn can_install() -> Option<Vec<String>> {
    how_to_install().ok()
}

/// `apt-get install` the packages (as root or through `sudo -n`; says
/// what first), running `apt-get update` once if the first try fails.
pub fn apt_install(layout: &Layout, pkgs: &[String], progress: &Progress) -> Result<()> {
    if pkgs.is_empty() {
        return Ok(());
    }
    let Some(prefix) = can_install() else {
        bail!(
            "missing packages: {} (install them with apt-get as root, or run `cargo xtask setup` as root)",
            pkgs.join(" ")
        );
    };
    apt_install_with(&prefix, layout, pkgs, progress)
}

/// [`apt_install`] with the way to run apt-get already chosen (`[]`: as
/// root; `["sudo", "-n"]`).
pub fn apt_install_with(prefix: &[String], layout: &Layout, pkgs: &[String], progress: &Progress) -> Result<()> {
    let stage = progress.stage(format!("install Debian packages: {}", pkgs.join(" ")));
    progress.println(format!("kiln: installing with apt-get: {}", pkgs.join(" ")));
    std::fs::create_dir_all(layout.logs())?;
    let log = layout.logs().join("apt-get-install.log");
    let apt = |args: &[&str]| {
        let (prog, pre) = match prefix.split_first() {
            Some((p, rest)) => (p.as_str(), rest.to_vec()),
            None => ("apt-get", Vec::new()),
        };
        let mut c = Cmd::new(prog, "/").env("DEBIAN_FRONTEND", "noninteractive").args(pre);
        if !prefix.is_empty() {
            c = c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        }
        c.args(args)
    };
    let install = apt(&["install", "-y", "-q", "--no-install-recommends"]).args(pkgs);
    if install.run(&log).is_err() {
        apt(&["update", "-q"]).run(&layout.logs().join("apt-get-update.log"))?;
        install.run(&log)?;
    }
    stage.done("installed");
    Ok(())
}

/// The toolchain recipe's `[[host]]` programs that are not present.
pub fn missing_host_tools(recipe: &ToolchainRecipe) -> Vec<&HostTool> {
    recipe.host.iter().filter(|h| !present(h)).collect()
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
