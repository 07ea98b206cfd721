//! Ruby's own suites: `bootstraptest/`, `basictest/`, and files of
//! `test/` (test-all's tests, e.g. `test/psych`).
//!
//! bootstraptest/runner.rb writes each assertion's snippet to a file and
//! runs it in a fresh `ruby -W0 --disable-gems` process. kiln does the
//! same with a fresh instance per assertion: a small Ruby script
//! (`bootstraptest_collect.rb`, run inside the wasm ruby) lists a file's
//! assertions, then each snippet runs alone and is judged as runner.rb
//! judges it. `basictest/test.rb` runs as one script. A `test/` file runs
//! as one instance under Ruby's own test harness (`tool/lib/test/unit`,
//! what test-all loads), judged by its exit status and summary line.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::model::{Case, Outcome, Runner, SuiteEnv, TestResult};
use crate::runtime::Stdio;

const COLLECT_RB: &str = include_str!("bootstraptest_collect.rb");

/// One assertion as the collector reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Assertion {
    pub kind: String,
    pub line: u32,
    pub n: u32,
    pub src: String,
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub opt: Option<String>,
    /// The assertion's `frozen_string_literal:` keyword, when it gives one
    /// (`false` too: 3.4's runner.rb then writes the magic comment
    /// `#frozen_string_literal:false`, which beats
    /// `--enable-frozen-string-literal` in the options).
    #[serde(default)]
    pub frozen: Option<bool>,
    #[serde(default)]
    pub regexp: Option<Regexp>,
    #[serde(default)]
    pub timeout: Option<f64>,
    #[serde(default)]
    pub ignore_signals: Vec<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Regexp {
    pub pattern: String,
    pub icase: bool,
    pub multiline: bool,
    pub extended: bool,
}

impl Regexp {
    /// Ruby's `^`/`$` always match at line boundaries; Ruby's /m is
    /// PCRE's dotall.
    pub fn is_match(&self, s: &str) -> Result<bool> {
        let re = pcre2::bytes::RegexBuilder::new()
            .multi_line(true)
            .caseless(self.icase)
            .dotall(self.multiline)
            .extended(self.extended)
            .build(&self.pattern)
            .with_context(|| format!("regexp /{}/ is not usable here", self.pattern))?;
        Ok(re.is_match(s.as_bytes())?)
    }
}

/// The snippet file runner.rb's `make_srcfile` writes.
pub fn snippet_file(a: &Assertion) -> String {
    format!(
        "{}\nclass BT_Skip < Exception; end; def skip(msg) = raise(BT_Skip, msg.to_s)\nprint(begin; {}; rescue BT_Skip; $!.message; end)\n",
        a.frozen.map(|f| format!("#frozen_string_literal:{f}")).unwrap_or_default(),
        a.src
    )
}

/// A test file outside the source tree: map its directory at its own path.
fn map_outside(spec: &mut crate::runtime::RunSpec, root: &Path, file: &Path) {
    if let Some(dir) = file.parent().filter(|_| !file.starts_with(root)) {
        spec.dirs.push((dir.to_path_buf(), dir.display().to_string()));
    }
}

pub struct RubyTest<'a> {
    env: SuiteEnv<'a>,
    /// Assertions found by `discover`, by their (virtual) path.
    assertions: Mutex<HashMap<PathBuf, Assertion>>,
    /// bootstraptest files whose listing failed, with the error.
    unlisted: Mutex<HashMap<PathBuf, String>>,
}

impl<'a> RubyTest<'a> {
    pub fn new(env: SuiteEnv<'a>) -> Result<RubyTest<'a>> {
        if !env.root.join("bootstraptest").is_dir() {
            bail!("{} is not a Ruby source tree (no bootstraptest/)", env.root.display());
        }
        Ok(RubyTest {
            env,
            assertions: Mutex::new(HashMap::new()),
            unlisted: Mutex::new(HashMap::new()),
        })
    }

    /// The per-test directory is the guest's `/` (WASI's working
    /// directory; basictest writes files there) with `tmp/` inside.
    fn spec(&self, work: &Path, args: &[String]) -> Result<crate::runtime::RunSpec> {
        let mut spec = self.env.base_spec();
        spec.argv.push("--disable-gems".into());
        spec.argv.extend(args.iter().cloned());
        spec.dirs.push((self.env.root.clone(), self.env.root.display().to_string()));
        fs::create_dir_all(work.join("tmp"))?;
        if self.env.is_native() {
            spec.dirs.push((work.join("tmp"), "/tmp".into()));
            spec.dirs.push((work.to_path_buf(), ".".into()));
        } else {
            spec.writable_root(work)?;
        }
        spec.env.push(("TMPDIR".into(), "/tmp".into()));
        spec.stdin = Stdio::Null;
        spec.stdout = Stdio::Bytes(vec![]);
        spec.stderr = Stdio::Bytes(vec![]);
        spec.timeout = Some(self.env.timeout);
        spec.memory_limit = Some(self.env.memory_limit);
        Ok(spec)
    }

    /// Run the collector on one bootstraptest file.
    pub fn collect(&self, file: &Path) -> Result<Vec<Assertion>> {
        let work = tempfile::tempdir_in(&self.env.tmp)?;
        let mut spec = self.spec(work.path(), &["/tmp/kiln_collect.rb".into(), file.display().to_string()])?;
        fs::write(work.path().join("tmp").join("kiln_collect.rb"), COLLECT_RB)?;
        map_outside(&mut spec, &self.env.root, file);
        let o = self.env.run(&spec)?;
        if o.status != 0 || o.trap.is_some() {
            bail!(
                "listing the assertions of {} failed (status {}{}): {}",
                file.display(),
                o.status,
                o.trap.map(|t| format!(", {t}")).unwrap_or_default(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).with_context(|| format!("collector output for {}: {l}", file.display())))
            .collect()
    }

    fn run_basictest(&self, path: &Path, r: &mut TestResult) -> Result<()> {
        let work = tempfile::tempdir_in(&self.env.tmp)?;
        let mut spec = self.spec(work.path(), &[path.display().to_string()])?;
        map_outside(&mut spec, &self.env.root, path);
        spec.stderr = Stdio::Merged;
        // Natively, basictest's "system" checks run `./miniruby` (as `make
        // test` runs it in the build directory): the native interpreter.
        if let super::model::Exec::Native { binary, .. } = &self.env.exec {
            std::os::unix::fs::symlink(binary, work.path().join("miniruby"))
                .with_context(|| format!("linking {} as ./miniruby", binary.display()))?;
        }
        let o = self.env.run(&spec)?;
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let not_ok: Vec<&str> = out.lines().filter(|l| l.starts_with("not ok")).collect();
        (r.outcome, r.detail) = if o.timed_out {
            (Outcome::Timeout, format!("stopped after {:?}", self.env.timeout))
        } else if let Some(t) = &o.trap {
            (Outcome::Fail, super::model::trap_detail(t, o.hit_memory_limit))
        } else if o.status == 0 && not_ok.is_empty() && out.contains("end of test") {
            (Outcome::Pass, out.lines().last().unwrap_or_default().to_string())
        } else {
            (Outcome::Fail, format!("status {}; {}", o.status, not_ok.join("; ")))
        };
        if r.outcome.is_failure() {
            r.output = out;
        }
        Ok(())
    }

    /// One test-all file under Ruby's own harness, with test-all's load
    /// path (`tool/lib`, `test/lib`, and `test/` itself).
    fn run_testunit(&self, path: &Path, r: &mut TestResult) -> Result<()> {
        let work = tempfile::tempdir_in(&self.env.tmp)?;
        let root = self.env.root.display();
        // -rtest/unit: as tool/test/runner.rb loads the harness before the
        // files, some of which (test/logger, test/-ext-/gvl) never require it.
        let mut args = vec![
            format!("-I{root}/tool/lib"),
            format!("-I{root}/test/lib"),
            format!("-I{root}/test"),
            "-rtest/unit".to_string(),
        ];
        if !self.env.is_native() {
            // WASI has no socket extension. Suites that require it at load
            // time only for their server helpers (test/openssl/utils.rb)
            // load with an empty `socket` feature; their tests that open
            // sockets then fail (NameError), and the baseline says why.
            fs::create_dir_all(work.path().join("tmp/kiln-wasi-lib"))?;
            fs::write(work.path().join("tmp/kiln-wasi-lib/socket.rb"), "# kiln: WASI has no sockets\n")?;
            args.push("-I/tmp/kiln-wasi-lib".into());
        }
        // -v --show-skip: a line per case run, and every skip in the report
        // beside the failures and errors (the harness's own format).
        args.extend([path.display().to_string(), "-v".into(), "--show-skip".into()]);
        let mut spec = self.spec(work.path(), &args)?;
        map_outside(&mut spec, &self.env.root, path);
        spec.stderr = Stdio::Merged;
        let o = self.env.run(&spec)?;
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let summary = testunit_summary(&out);
        r.cases = testunit_cases(&out);
        let failing = r.cases.iter().filter(|c| c.outcome.is_failure()).count() as u32;
        r.failure_is_cases =
            !o.timed_out && o.trap.is_none() && summary.as_ref().is_some_and(|s| s.failures + s.errors == failing && failing > 0);
        (r.outcome, r.detail) = match (&summary, o.timed_out, &o.trap) {
            (_, true, _) => (Outcome::Timeout, format!("stopped after {:?}", self.env.timeout)),
            (_, _, Some(t)) => (Outcome::Fail, super::model::trap_detail(t, o.hit_memory_limit)),
            (Some(s), _, _) if o.status == 0 && s.failures == 0 && s.errors == 0 => (Outcome::Pass, s.line.clone()),
            (Some(s), _, _) => (Outcome::Fail, format!("status {}; {}", o.status, s.line)),
            (None, _, _) => (
                Outcome::Fail,
                format!(
                    "status {}; no summary line: {}",
                    o.status,
                    out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default()
                ),
            ),
        };
        if r.outcome.is_failure() {
            r.output = out;
        }
        Ok(())
    }

    fn run_assertion(&self, a: &Assertion, r: &mut TestResult) -> Result<()> {
        r.title = a.kind.clone();
        match a.kind.as_str() {
            "show_limit" => {
                r.outcome = Outcome::Skip;
                r.detail = "show_limit: informational, not an assertion".into();
                return Ok(());
            }
            "flunk" => {
                r.outcome = Outcome::Fail;
                r.detail = a.message.clone().unwrap_or_default();
                return Ok(());
            }
            _ => {}
        }
        let work = tempfile::tempdir_in(&self.env.tmp)?;

        let mut args = vec!["-W0".to_string()];
        if a.kind == "valid_syntax" {
            args.push("-c".into());
        }
        args.extend(a.opt.iter().flat_map(|o| o.split_whitespace().map(String::from)));
        args.push("/tmp/bootstraptest.rb".into());
        let mut spec = self.spec(work.path(), &args)?;
        fs::write(work.path().join("tmp").join("bootstraptest.rb"), snippet_file(a))?;
        if let (Some(t), "finish" | "normal_exit") = (a.timeout, a.kind.as_str()) {
            spec.timeout = Some(self.env.timeout.min(std::time::Duration::from_secs_f64(t.max(0.1))));
        }
        let o = self.env.run(&spec)?;
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let fail = |d: String| (Outcome::Fail, d);
        (r.outcome, r.detail) = if o.timed_out {
            (Outcome::Timeout, format!("not finished in {:?}", spec.timeout.unwrap_or_default()))
        } else if let Some(t) = o.trap.as_ref().filter(|_| a.ignore_signals.is_empty()) {
            // A trap is what a signal is to runner.rb: always a failure.
            fail(super::model::trap_detail(t, o.hit_memory_limit))
        } else {
            match a.kind.as_str() {
                "equal" => {
                    let want = a.expected.clone().unwrap_or_default();
                    if out == want {
                        (Outcome::Pass, String::new())
                    } else {
                        fail(format!("{out:?} (expected {want:?})"))
                    }
                }
                "match" | "not_match" => {
                    let re = a.regexp.as_ref().context("match assertion without a regexp")?;
                    let m = re.is_match(&out)?;
                    if m == (a.kind == "match") {
                        (Outcome::Pass, String::new())
                    } else {
                        fail(format!("/{}/ {} {out:?}", re.pattern, if m { "matched" } else { "did not match" }))
                    }
                }
                "valid_syntax" if out.contains("Syntax OK") => (Outcome::Pass, String::new()),
                "valid_syntax" => fail(format!("not Syntax OK: {out:?}")),
                "normal_exit" | "finish" => (Outcome::Pass, format!("exit status {}", o.status)),
                k => (Outcome::Broken, format!("unknown assertion kind {k:?}")),
            }
        };
        if r.outcome.is_failure() {
            r.output = format!("--- snippet\n{}\n--- stdout\n{out}\n--- stderr\n{err}", a.src.trim());
        }
        Ok(())
    }
}

/// The counts test/unit prints last: `9 tests, 18 assertions, 0 failures,
/// 0 errors, 0 skips`.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub line: String,
    pub tests: u32,
    pub failures: u32,
    pub errors: u32,
    pub skips: u32,
}

pub fn testunit_summary(out: &str) -> Option<Summary> {
    out.lines().rev().find_map(|l| {
        let mut n = std::collections::HashMap::new();
        for part in l.trim().split(", ") {
            let (count, what) = part.split_once(' ')?;
            n.insert(what.trim_end_matches('s'), count.parse::<u32>().ok()?);
        }
        Some(Summary {
            line: l.trim().to_string(),
            tests: *n.get("test")?,
            failures: *n.get("failure")?,
            errors: *n.get("error")?,
            skips: n.get("skip").copied().unwrap_or(0),
        })
    })
}

/// The cases of a verbose test/unit run (`-v --show-skip`), as Ruby's
/// harness prints them: one `[3/9] Psych::TestArray#test_cycle = 0.00 s`
/// line per case run (a name that is not an identifier is inspected:
/// `TestX#"test_a b"`), then a numbered report of each skip, failure and
/// error (`  2) Failure:`, the case's name with its location, the message)
/// before `Finished tests in`.
pub fn testunit_cases(out: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut lines = out.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("Finished tests in ") {
            break;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|r| r.split_once("] "))
            .filter(|(count, _)| {
                count
                    .split_once('/')
                    // The harness pads the counter to the total's width: `[ 1/38]`.
                    .is_some_and(|(a, b)| a.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok())
            })
            .and_then(|(_, r)| r.rsplit_once(" = "))
            .filter(|(_, secs)| secs.strip_suffix(" s").is_some_and(|n| n.parse::<f64>().is_ok()))
            .map(|(name, _)| name)
        {
            cases.push(Case {
                name: plain_case_name(name),
                outcome: Outcome::Pass,
                detail: String::new(),
                baseline: None,
                native: None,
            });
            continue;
        }
        let Some(kind) = line
            .trim_start()
            .split_once(") ")
            .filter(|(n, _)| n.parse::<u32>().is_ok())
            .and_then(|(_, k)| k.trim_end().strip_suffix(':'))
        else {
            continue;
        };
        let outcome = match kind {
            "Skipped" => Outcome::Skip,
            "Failure" | "Error" | "Timeout" => Outcome::Fail,
            _ => continue,
        };
        let Some(header) = lines.next() else { break };
        let header = header.trim_end().trim_end_matches(':');
        let name = match header.rsplit_once(" [") {
            Some((n, loc)) if loc.ends_with(']') => n,
            _ => header,
        }
        .to_string();
        let mut detail = format!("{kind}:");
        while let Some(next) = lines.peek() {
            let t = next.trim_start();
            let is_entry = t
                .split_once(") ")
                .is_some_and(|(n, k)| n.parse::<u32>().is_ok() && k.trim_end().ends_with(':'));
            if is_entry || next.starts_with("Finished tests in ") {
                break;
            }
            if !t.is_empty() && detail.len() < 2000 {
                detail.push(' ');
                detail.push_str(t);
            }
            lines.next();
        }
        match cases.iter_mut().find(|c| c.name == name) {
            Some(c) => {
                c.outcome = outcome;
                c.detail = detail;
            }
            None => cases.push(Case {
                name,
                outcome,
                detail,
                baseline: None,
                native: None,
            }),
        }
    }
    cases
}

/// `TestX#"test_a b"` (the progress line's inspected name) as the report
/// names it: `TestX#test_a b`.
fn plain_case_name(name: &str) -> String {
    match name.split_once("#\"") {
        Some((class, rest)) => format!("{class}#{}", rest.strip_suffix('"').unwrap_or(rest).replace("\\\"", "\"")),
        None => name.to_string(),
    }
}

/// `test/…/test_*.rb` below `dir`, recursively (test-all's layout).
fn testunit_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            testunit_files(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("test_") && n.ends_with(".rb"))
        {
            out.push(p);
        }
    }
    Ok(())
}

impl Runner for RubyTest<'_> {
    fn discover(&self, paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
        let glob = super::model::filter_glob(filter)?;
        let mut files = Vec::new();
        for p in paths {
            let abs = super::model::locate(p, &[&self.env.root])?.with_context(|| {
                format!(
                    "{} does not exist (looked in {} and the current directory)",
                    p.display(),
                    self.env.root.display()
                )
            })?;
            if abs.is_dir() && abs.starts_with(self.env.root.join("test")) {
                testunit_files(&abs, &mut files)?;
            } else if abs.is_dir() {
                for e in fs::read_dir(&abs)? {
                    let f = e?.path();
                    let n = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    if (n.starts_with("test_") && n.ends_with(".rb")) || (n == "test.rb" && abs.ends_with("basictest")) {
                        files.push(f);
                    }
                }
            } else {
                files.push(abs);
            }
        }
        files.sort();
        files.dedup();
        let mut out = Vec::new();
        let mut map = self.assertions.lock().expect("no poisoned lock");
        for f in files {
            let name = f.strip_prefix(&self.env.root).unwrap_or(&f).display().to_string();
            if f.ends_with("basictest/test.rb") || f.starts_with(self.env.root.join("test")) {
                if glob.as_ref().is_none_or(|g| g.is_match(&name)) {
                    out.push((name, f));
                }
                continue;
            }
            if glob
                .as_ref()
                .is_some_and(|g| !g.is_match(&name) && !g.is_match(f.file_name().unwrap_or_default()))
            {
                continue;
            }
            // A file whose assertions cannot be listed is one broken test
            // (named after the file), not the end of the run.
            let listed = match self.collect(&f) {
                Ok(listed) => listed,
                Err(e) => {
                    self.unlisted.lock().expect("no poisoned lock").insert(f.clone(), format!("{e:#}"));
                    out.push((name, f));
                    continue;
                }
            };
            for a in listed {
                let mut test = format!("{name}:{}", a.line);
                if a.n > 1 {
                    test.push_str(&format!("#{}", a.n));
                }
                let vpath = PathBuf::from(format!("{}:{}:{}", f.display(), a.line, a.n));
                map.insert(vpath.clone(), a);
                out.push((test, vpath));
            }
        }
        Ok(out)
    }

    fn run(&self, path: &Path) -> TestResult {
        let start = Instant::now();
        let mut r = TestResult::new(path);
        let a = self.assertions.lock().expect("no poisoned lock").get(path).cloned();
        let unlisted = self.unlisted.lock().expect("no poisoned lock").get(path).cloned();
        let res = match (a, unlisted) {
            (Some(a), _) => self.run_assertion(&a, &mut r),
            (None, Some(listing_failed)) => Err(anyhow::anyhow!(listing_failed)),
            (None, None) if path.ends_with("basictest/test.rb") => {
                r.title = "basictest".into();
                self.run_basictest(path, &mut r)
            }
            (None, None) if path.starts_with(self.env.root.join("test")) => {
                r.title = "test-all file".into();
                self.run_testunit(path, &mut r)
            }
            (None, None) => Err(anyhow::anyhow!("no assertion recorded for {}", path.display())),
        };
        if let Err(e) = res {
            r.outcome = Outcome::Broken;
            r.detail = format!("{e:#}");
        }
        r.seconds = start.elapsed().as_secs_f64();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(kind: &str, src: &str) -> Assertion {
        serde_json::from_value(serde_json::json!({"kind": kind, "line": 3, "n": 1, "src": src})).unwrap()
    }

    #[test]
    fn bootstraptest_snippet_is_runner_rb_shaped() {
        let mut a = assertion("equal", "1 + 1");
        let f = snippet_file(&a);
        assert!(f.contains("print(begin; 1 + 1; rescue BT_Skip; $!.message; end)"), "{f}");
        assert!(f.starts_with('\n'));
        a.frozen = Some(true);
        assert!(snippet_file(&a).starts_with("#frozen_string_literal:true\n"));
        a.frozen = Some(false);
        assert!(snippet_file(&a).starts_with("#frozen_string_literal:false\n"));
    }

    #[test]
    fn testunit_summary_is_the_last_counts_line() {
        let out = "Run options: --seed=1\n# Running tests:\n..F\nFinished tests in 0.05s, 60 tests/s.\n3 tests, 7 assertions, 1 failures, 0 errors, 2 skips\n\nruby -v: ruby 3.3.8\n";
        let s = testunit_summary(out).unwrap();
        assert_eq!((s.tests, s.failures, s.errors, s.skips), (3, 1, 0, 2));
        assert_eq!(s.line, "3 tests, 7 assertions, 1 failures, 0 errors, 2 skips");
        assert!(testunit_summary("LoadError: cannot load such file -- socket\n").is_none());
    }

    #[test]
    fn testunit_cases_come_from_the_progress_lines_and_the_report() {
        let out = "Run options: \n  --seed=1\n  -v\n  --show-skip\n\n# Running tests:\n\n[1/5] TestK#test_wrong = 0.00 s\n[2/5] TestK#test_err = 0.00 s\n[3/5] TestK#test_skip = 0.00 s\n[4/5] TestK#\"test_odd name\" = 0.00 s\n[5/5] Psych::TestK#test_ok = 0.01 s\n\n  1) Skipped:\nTestK#test_skip [test_k.rb:5]:\nno fork here\n\n  2) Failure:\nTestK#test_wrong [test_k.rb:4]:\n<3> expected but was\n<2>.\n\n  3) Error:\nTestK#test_err:\nNotImplementedError: fork() function is unimplemented on this machine\n    test_k.rb:6:in `test_err'\n\nFinished tests in 0.005335s, 937.2741 tests/s, 562.3644 assertions/s.\n5 tests, 3 assertions, 1 failures, 1 errors, 1 skips\n";
        let cases = testunit_cases(out);
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("TestK#test_wrong", Outcome::Fail),
                ("TestK#test_err", Outcome::Fail),
                ("TestK#test_skip", Outcome::Skip),
                ("TestK#test_odd name", Outcome::Pass),
                ("Psych::TestK#test_ok", Outcome::Pass)
            ]
        );
        assert_eq!(cases[0].detail, "Failure: <3> expected but was <2>.");
        assert!(
            cases[1].detail.starts_with("Error: NotImplementedError: fork()"),
            "{:?}",
            cases[1].detail
        );
        assert_eq!(cases[2].detail, "Skipped: no fork here");
    }

    #[test]
    fn a_padded_progress_counter_is_a_case_too() {
        let out = "# Running tests:\n\n[ 1/10] TestK#test_a = 0.00 s\n[10/10] TestK#test_b = 0.00 s\n\nFinished tests in 0.1s, 1 tests/s, 1 assertions/s.\n10 tests, 10 assertions, 0 failures, 0 errors, 0 skips\n";
        let names: Vec<String> = testunit_cases(out).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["TestK#test_a", "TestK#test_b"]);
    }

    #[test]
    fn bootstraptest_regexps_follow_ruby_semantics() {
        let re = |p: &str, icase, multiline| Regexp {
            pattern: p.into(),
            icase,
            multiline,
            extended: false,
        };
        // ^ and $ match at every line in Ruby.
        assert!(re("^ok$", false, false).is_match("first\nok\nlast").unwrap());
        assert!(re("OK", true, false).is_match("ok").unwrap());
        assert!(!re("a.b", false, false).is_match("a\nb").unwrap());
        assert!(re("a.b", false, true).is_match("a\nb").unwrap());
        assert!(re("(", false, false).is_match("").is_err());
    }
}
