//! The one subprocess runner. Every external command kiln starts goes
//! through [`Cmd::run`]: it sets cwd and environment explicitly, sends
//! stdout+stderr to a log file, never inherits stdin, and on failure returns
//! an error that carries the command, the exit status, the tail of the log
//! and the log's path.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// How many log lines a failure shows.
pub const TAIL_LINES: usize = 40;

#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: PathBuf,
    env: BTreeMap<OsString, OsString>,
    env_remove: Vec<OsString>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>, cwd: impl AsRef<Path>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: cwd.as_ref().to_owned(),
            env: BTreeMap::new(),
            env_remove: Vec::new(),
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I, S>(mut self, it: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(it.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env.insert(k.as_ref().to_owned(), v.as_ref().to_owned());
        self
    }
    pub fn envs<I, K, V>(mut self, it: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in it {
            self = self.env(k, v);
        }
        self
    }
    /// Remove a variable inherited from kiln's own environment (e.g. the
    /// host `CFLAGS` of a developer's shell must not leak into a cross build).
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Cmd {
        self.env_remove.push(k.as_ref().to_owned());
        self
    }

    /// The program as given (a name looked up on `PATH`, or a path).
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// A variable this command sets (not one it inherits).
    pub fn env_var(&self, k: &str) -> Option<&OsStr> {
        self.env.get(OsStr::new(k)).map(OsString::as_os_str)
    }

    /// Where it runs.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// A shell-like rendering for logs and error messages.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.env {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), shell_quote(&v.to_string_lossy())));
        }
        s.push_str(&shell_quote(&self.program.to_string_lossy()));
        for a in &self.args {
            s.push(' ');
            s.push_str(&shell_quote(&a.to_string_lossy()));
        }
        s
    }

    /// Rendering with machine-specific paths replaced, for stamps.
    pub fn display_without_paths(&self, paths: &[&Path]) -> String {
        let mut s = self.display();
        for p in paths {
            s = s.replace(&p.display().to_string(), "@");
        }
        s
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).current_dir(&self.cwd).stdin(Stdio::null());
        for k in &self.env_remove {
            c.env_remove(k);
        }
        c.envs(&self.env);
        c
    }

    /// Run, logging everything to `log` (truncated first). On failure the
    /// error shows the command, status, last [`TAIL_LINES`] lines and path.
    pub fn run(&self, log: &Path) -> Result<()> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = File::create(log).with_context(|| format!("creating log {}", log.display()))?;
        writeln!(file, "$ cd {} && {}", shell_quote(&self.cwd.to_string_lossy()), self.display())?;
        file.flush()?;
        let start = Instant::now();
        let out = file.try_clone()?;
        let err = file.try_clone()?;
        let status = self
            .command()
            .stdout(out)
            .stderr(err)
            .status()
            .with_context(|| format!("cannot start `{}` (in {})", self.program.to_string_lossy(), self.cwd.display()))?;
        writeln!(file, "# exit: {status}, {:.1}s", start.elapsed().as_secs_f64())?;
        if !status.success() {
            let tail = tail_of(log, TAIL_LINES).unwrap_or_default();
            bail!(
                "command failed ({status}): {}\n  in: {}\n--- last {TAIL_LINES} lines of {} ---\n{tail}--- full log: {} ---",
                self.display(),
                self.cwd.display(),
                log.display(),
                log.display()
            );
        }
        Ok(())
    }

    /// Run and capture stdout (for short probes like `clang --version`).
    /// stderr is included in the error on failure.
    pub fn read(&self) -> Result<String> {
        let out = self
            .command()
            .output()
            .with_context(|| format!("cannot start `{}`", self.program.to_string_lossy()))?;
        if !out.status.success() {
            bail!(
                "command failed ({}): {}\n{}",
                out.status,
                self.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The last `n` lines of a file (reads at most the final 64 KiB).
pub fn tail_of(path: &Path, n: usize) -> Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let mut s = lines[lines.len().saturating_sub(n)..].join("\n");
    s.push('\n');
    Ok(s)
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The last `n` lines of a string.
pub fn tail_of_str(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut t = lines[lines.len().saturating_sub(n)..].join("\n");
    t.push('\n');
    t
}
