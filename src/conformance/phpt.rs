//! A `.phpt` runner faithful to php-src's `run-tests.php`: the same
//! sections, INI overrides, EXPECTF→regex translation, output
//! normalisation and SKIPIF prefixes — but each test runs in a fresh
//! instance of the cached, precompiled module, in-process.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::model::{Outcome, TestResult};
use crate::runtime::{RunSpec, Stdio};

/// run-tests.php's `$ini_overwrites` (PHP 8.4), applied to every test.
pub const INI_OVERWRITES: &[&str] = &[
    "output_handler=",
    "open_basedir=",
    "disable_functions=",
    "output_buffering=Off",
    "error_reporting=30719", // E_ALL in PHP 8.4
    "display_errors=1",
    "display_startup_errors=1",
    "log_errors=0",
    "html_errors=0",
    "track_errors=0",
    "report_memleaks=1",
    "report_zend_debug=0",
    "docref_root=",
    "docref_ext=.html",
    "error_prepend_string=",
    "error_append_string=",
    "auto_prepend_file=",
    "auto_append_file=",
    "ignore_repeated_errors=0",
    "precision=14",
    "serialize_precision=-1",
    "memory_limit=128M",
    "opcache.fast_shutdown=0",
    "opcache.file_update_protection=0",
    "opcache.revalidate_freq=0",
    "opcache.jit_hot_loop=1",
    "opcache.jit_hot_func=1",
    "opcache.jit_hot_return=1",
    "opcache.jit_hot_side_exit=1",
    "opcache.jit_max_root_traces=100000",
    "opcache.jit_max_side_traces=100000",
    "opcache.jit_max_exit_counters=100000",
    "opcache.protect_memory=1",
    "zend.assertions=1",
    "zend.exception_ignore_args=0",
    "zend.exception_string_param_max_len=15",
    "short_open_tag=0",
];

/// run-tests.php's `isCGI()`: a test that runs on the CGI SAPI (php-cgi
/// with `-C`), with a request made from these sections.
fn is_cgi(t: &Phpt) -> Option<&'static str> {
    if t.sections.contains_key("CGI") {
        return Some("CGI");
    }
    [
        "GET",
        "POST",
        "GZIP_POST",
        "DEFLATE_POST",
        "POST_RAW",
        "PUT",
        "COOKIE",
        "EXPECTHEADERS",
    ]
    .into_iter()
    .find(|s| t.get(s).is_some_and(|v| !v.is_empty()))
}

/// .phpt files and PHP's output are bytes, and run-tests.php compares them
/// as bytes (its patterns have no `/u`). They are held here as Latin-1
/// decoded text, one char per byte: nothing is lost (a test in EUC-JP or
/// Shift_JIS stays byte-exact), and EXPECTF patterns match byte by byte.
fn bytes_to_text(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// The bytes that text from [`bytes_to_text`] stands for.
fn text_to_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

/// What the bytes say as UTF-8, for arguments, environment and reports.
fn text_to_utf8(s: &str) -> String {
    String::from_utf8_lossy(&text_to_bytes(s)).into_owned()
}

/// A parsed .phpt file: section name → text (see [`bytes_to_text`]).
#[derive(Debug, Clone, Default)]
pub struct Phpt {
    pub path: PathBuf,
    pub sections: BTreeMap<String, String>,
}

impl Phpt {
    pub fn parse(path: &Path) -> Result<Phpt> {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let text = bytes_to_text(&bytes);
        let mut sections = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut body = String::new();
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end_matches(['\n', '\r']);
            // run-tests.php's `/^--([_A-Z]+)--/`: what follows the closing
            // dashes on the line is ignored (`--TEST--n`, `--TEST---`).
            let name = trimmed.strip_prefix("--").map(|r| {
                let end = r.find(|c: char| !(c.is_ascii_uppercase() || c == '_')).unwrap_or(r.len());
                (&r[..end], &r[end..])
            });
            if let Some((name, _)) = name.filter(|(_, rest)| rest.starts_with("--")) {
                if !name.is_empty() {
                    if let Some(c) = current.take() {
                        sections.insert(c, std::mem::take(&mut body));
                    }
                    current = Some(name.to_string());
                    continue;
                }
            }
            if current.is_some() {
                body.push_str(line);
            }
        }
        match current {
            Some(c) => {
                sections.insert(c, body);
            }
            None => bail!("{}: not a .phpt file (no --TEST-- section)", path.display()),
        }
        if !sections.contains_key("TEST") {
            bail!("{}: missing --TEST-- section", path.display());
        }
        // FILEEOF: the file without its trailing newline.
        if let Some(f) = sections.remove("FILEEOF") {
            let f = f.strip_suffix("\r\n").or_else(|| f.strip_suffix('\n')).unwrap_or(&f).to_string();
            sections.insert("FILE".into(), f);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for name in ["FILE", "EXPECT", "EXPECTF", "EXPECTREGEX"] {
            let ext = format!("{name}_EXTERNAL");
            if let Some(rel) = sections.remove(&ext) {
                let p = dir.join(rel.trim());
                let content = fs::read(&p).with_context(|| format!("{}: {ext} {}", path.display(), p.display()))?;
                sections.insert(name.into(), bytes_to_text(&content));
            }
        }
        let expects = ["EXPECT", "EXPECTF", "EXPECTREGEX"]
            .iter()
            .filter(|s| sections.contains_key(**s))
            .count();
        if sections.contains_key("REDIRECTTEST") {
            // No code of its own: it names other tests to run.
            return Ok(Phpt {
                path: path.to_path_buf(),
                sections,
            });
        }
        if sections.contains_key("PHPDBG") {
            // phpdbg's own commands instead of a file (skipped when run).
            return Ok(Phpt {
                path: path.to_path_buf(),
                sections,
            });
        }
        if !sections.contains_key("FILE") {
            bail!("{}: missing --FILE-- section", path.display());
        }
        if expects != 1 {
            bail!("{}: needs exactly one of --EXPECT--, --EXPECTF--, --EXPECTREGEX--", path.display());
        }
        Ok(Phpt {
            path: path.to_path_buf(),
            sections,
        })
    }

    pub fn get(&self, s: &str) -> Option<&str> {
        self.sections.get(s).map(|s| s.as_str())
    }

    pub fn title(&self) -> String {
        text_to_utf8(self.get("TEST").unwrap_or("").trim())
    }
}

/// PHP's `preg_quote($s, '/')`.
pub fn preg_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        match c {
            '.' | '\\' | '+' | '*' | '?' | '[' | '^' | ']' | '$' | '(' | ')' | '{' | '}' | '=' | '!' | '<' | '>' | '|' | ':' | '-'
            | '#' | '/' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\000"),
            c => out.push(c),
        }
    }
    out
}

/// run-tests.php's `expectf_to_regex()`.
pub fn expectf_to_regex(wanted: &str) -> String {
    let wanted = wanted.replace("\r\n", "\n");
    let mut temp = String::new();
    let len = wanted.len();
    let mut start_offset = 0;
    while start_offset < len {
        let (start, end) = match wanted[start_offset..].find("%r").map(|i| i + start_offset) {
            Some(s) => match wanted[s + 2..].find("%r").map(|i| i + s + 2) {
                Some(e) => (s, e),
                None => (len, len),
            },
            None => (len, len),
        };
        temp.push_str(&preg_quote(&wanted[start_offset..start]));
        if end > start {
            temp.push('(');
            temp.push_str(&wanted[start + 2..end]);
            temp.push(')');
        }
        start_offset = end + 2;
    }
    // strtr() with two-character keys: one left-to-right pass.
    let mut out = String::with_capacity(temp.len() * 2);
    let mut chars = temp.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            let rep = match chars.peek() {
                Some('e') => Some("\\/"),
                Some('s') => Some("[^\\r\\n]+"),
                Some('S') => Some("[^\\r\\n]*"),
                Some('a') => Some(".+"),
                Some('A') => Some(".*"),
                Some('w') => Some("\\s*"),
                Some('i') => Some("[+-]?\\d+"),
                Some('d') => Some("\\d+"),
                Some('x') => Some("[0-9a-fA-F]+"),
                Some('f') => Some("[+-]?(?:\\d+|(?=\\.\\d))(?:\\.\\d+)?(?:[Ee][+-]?\\d+)?"),
                Some('c') => Some("."),
                Some('0') => Some("\\x00"),
                _ => None,
            };
            if let Some(r) = rep {
                chars.next();
                out.push_str(r);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// PHP's `trim()` default character set.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

/// Does `output` satisfy the test's expectation, as run-tests judges it?
pub fn matches(t: &Phpt, output: &str) -> Result<bool> {
    let output = php_trim(output).replace("\r\n", "\n");
    if let Some(w) = t.get("EXPECT") {
        return Ok(php_trim(w).replace("\r\n", "\n") == output);
    }
    let re = if let Some(w) = t.get("EXPECTF") {
        expectf_to_regex(php_trim(w))
    } else {
        php_trim(t.get("EXPECTREGEX").unwrap_or("")).replace("\r\n", "\n")
    };
    let pattern = format!("^{re}$");
    let regex = pcre2::bytes::RegexBuilder::new()
        .dotall(true)
        .jit_if_available(true)
        .build(&pattern)
        .with_context(|| format!("{}: the expectation is not a valid regex", t.path.display()))?;
    Ok(regex.is_match(output.as_bytes()).unwrap_or(false))
}

/// What a phpt run needs from its environment.
pub struct PhptEnv<'a> {
    /// The source tree (`suite.root`) is the cwd and `{PWD}` base, mapped
    /// into the guest at its own absolute path; `suite.tmp` is the guest's
    /// `/tmp` (and `{TMP}`).
    pub suite: super::model::SuiteEnv<'a>,
    /// Extensions the binary has (lowercase), for --EXTENSIONS--.
    pub extensions: Vec<String>,
}

impl<'a> PhptEnv<'a> {
    /// Probe the binary's extensions (`php -n -m`) for --EXTENSIONS--.
    pub fn new(env: super::model::SuiteEnv<'a>) -> Result<PhptEnv<'a>> {
        let m = super::model::captured(
            &env,
            RunSpec {
                argv: vec!["php".into(), "-n".into(), "-m".into()],
                ..Default::default()
            },
        )?;
        if m.status != 0 {
            bail!("php -n -m exited {}: {}", m.status, String::from_utf8_lossy(&m.stdout));
        }
        let extensions = String::from_utf8_lossy(&m.stdout)
            .lines()
            .filter(|l| !l.starts_with('[') && !l.is_empty())
            .map(|l| l.trim().to_lowercase())
            .collect();
        Ok(PhptEnv { extensions, suite: env })
    }
}

impl super::model::Runner for PhptEnv<'_> {
    fn discover(&self, paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
        super::model::discover(&self.suite.root, paths, "phpt", filter)
    }

    /// run-tests.php runs tests with --CONFLICTS-- (or in a directory
    /// with a CONFLICTS file) alone.
    fn serial(&self, p: &Path) -> bool {
        p.parent().is_some_and(|d| d.join("CONFLICTS").is_file())
            || fs::read_to_string(p).map(|t| t.contains("\n--CONFLICTS--")).unwrap_or(false)
    }

    fn run(&self, path: &Path) -> TestResult {
        run(self, path)
    }
}

impl PhptEnv<'_> {
    /// `test_dir` is mapped at its own path too: tests may live anywhere on
    /// disk (the longest matching preopen wins in the guest).
    fn spec(&self, test_dir: &Path, argv: Vec<String>, env: Vec<(String, String)>, stdin: Option<Vec<u8>>, merged: bool) -> RunSpec {
        // The recipe's mapped output dirs first (lib/ with OpenSSL's config
        // file), as `run` has them.
        let mut dirs = self.suite.base_spec().dirs;
        dirs.push((self.suite.root.clone(), self.suite.root.display().to_string()));
        dirs.push((self.suite.tmp.clone(), "/tmp".to_string()));
        if !test_dir.starts_with(&self.suite.root) {
            dirs.push((test_dir.to_path_buf(), test_dir.display().to_string()));
        }
        dirs.push((self.suite.root.clone(), ".".to_string()));
        RunSpec {
            argv,
            env,
            dirs,
            stdin: stdin.map(Stdio::Bytes).unwrap_or(Stdio::Null),
            stdout: Stdio::Bytes(vec![]),
            stderr: if merged { Stdio::Merged } else { Stdio::Bytes(vec![]) },
            timeout: Some(self.suite.timeout),
            memory_limit: Some(self.suite.memory_limit),
            root_skeleton: false,
        }
    }

    fn ini_args(&self, extra: &[String]) -> Vec<String> {
        let mut v = vec!["php".to_string()];
        v.extend(self.suite.fixed_args.iter().cloned());
        for i in extra {
            v.push("-d".into());
            v.push(i.clone());
        }
        v
    }
}

fn base_env(tmp: &Path) -> Vec<(String, String)> {
    let _ = tmp;
    [
        "REDIRECT_STATUS",
        "QUERY_STRING",
        "PATH_TRANSLATED",
        "SCRIPT_FILENAME",
        "REQUEST_METHOD",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "TZ",
    ]
    .iter()
    .map(|k| (k.to_string(), String::new()))
    .chain([
        ("TEST_PHP_EXECUTABLE".to_string(), "php".to_string()),
        ("TMPDIR".to_string(), "/tmp".to_string()),
    ])
    .collect()
}

/// What every test's command line starts with after argv0: no php.ini,
/// run-tests.php's ini overrides, then the recipe's (`[conformance] ini`,
/// later settings win).
pub fn fixed_args(recipe_ini: &[String]) -> Vec<String> {
    let mut v = vec!["-n".to_string()];
    for i in INI_OVERWRITES.iter().map(|s| s.to_string()).chain(recipe_ini.iter().cloned()) {
        v.push("-d".into());
        v.push(i);
    }
    v
}

/// Run one .phpt file (with FLAKY retry) and judge it.
pub fn run(env: &PhptEnv<'_>, path: &Path) -> TestResult {
    let start = std::time::Instant::now();
    let mut r = run_once(env, path);
    if r.outcome == Outcome::Fail {
        if let Ok(t) = Phpt::parse(path) {
            if t.sections.contains_key("FLAKY") {
                r = run_once(env, path);
                r.detail.push_str(" (retried: FLAKY)");
            }
        }
    }
    r.seconds = start.elapsed().as_secs_f64();
    r
}

fn run_once(env: &PhptEnv<'_>, path: &Path) -> TestResult {
    let mut res = TestResult::new(path);
    let t = match Phpt::parse(path) {
        Ok(t) => t,
        Err(e) => {
            res.outcome = Outcome::Broken;
            res.detail = format!("{e:#}");
            return res;
        }
    };
    res.title = t.title();
    if let (Some(s), None) = (is_cgi(&t), &env.suite.cgi) {
        res.outcome = Outcome::Skip;
        res.detail = format!("needs the CGI SAPI (--{s}--), which this build does not have");
        return res;
    }
    if t.sections.contains_key("REDIRECTTEST") {
        res.outcome = Outcome::Skip;
        res.detail = "runs another directory's tests (--REDIRECTTEST--), which kiln's runner does not support".into();
        return res;
    }
    if t.sections.contains_key("PHPDBG") {
        res.outcome = Outcome::Skip;
        res.detail = "needs phpdbg, not built for WASI".into();
        return res;
    }
    if let Some(ext) = missing_extension_dir(env, path) {
        res.outcome = Outcome::Skip;
        res.detail = format!("extension {ext} is not in this build (its directory's tests need it)");
        return res;
    }
    if let Some(exts) = t.get("EXTENSIONS") {
        for e in exts.split(['\n', '\r']).map(str::trim).filter(|e| !e.is_empty()) {
            if !env.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                res.outcome = Outcome::Skip;
                res.detail = format!("required extension {e} is not built");
                return res;
            }
        }
    }
    match execute(env, &t) {
        Ok((outcome, detail, output)) => {
            res.outcome = outcome;
            res.detail = detail;
            res.output = text_to_utf8(&output);
        }
        Err(e) => {
            res.outcome = Outcome::Broken;
            res.detail = format!("{e:#}");
        }
    }
    res
}

/// A test under `ext/<name>/` of the source tree whose extension the
/// binary lacks (another flavour's, or one that cannot build for WASI):
/// its name. run-tests.php leaves this to each test's SKIPIF, which many
/// of these tests do not have.
fn missing_extension_dir(env: &PhptEnv<'_>, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(env.suite.root.join("ext")).ok()?;
    let name = rel.components().next()?.as_os_str().to_str()?.to_lowercase();
    let loaded = env
        .extensions
        .iter()
        .any(|x| *x == name || x.strip_prefix("zend ") == Some(name.as_str()));
    (!loaded).then_some(name)
}

/// The CGI request run-tests.php makes from a test's sections: the
/// environment (`REDIRECT_STATUS`, `QUERY_STRING` from --GET--,
/// `PATH_TRANSLATED`/`SCRIPT_FILENAME`, `HTTP_COOKIE`, the method and the
/// body's type and length, each unless --ENV-- set it) and the body for
/// stdin. The flag says whether --ARGS-- apply (a GET request only).
fn cgi_request(t: &Phpt, file: &Path, vars: &mut Vec<(String, String)>) -> Result<(Option<Vec<u8>>, bool)> {
    fn set(vars: &mut Vec<(String, String)>, k: &str, v: String) {
        vars.retain(|(x, _)| x != k);
        vars.push((k.to_string(), v));
    }
    fn empty(vars: &[(String, String)], k: &str) -> bool {
        vars.iter()
            .rev()
            .find(|(x, _)| x == k)
            .is_none_or(|(_, v)| v.is_empty() || v == "0")
    }
    let file = file.display().to_string();
    let trimmed = |s: &str| text_to_bytes(php_trim(s));
    set(vars, "REDIRECT_STATUS", "1".into());
    if empty(vars, "QUERY_STRING") {
        set(vars, "QUERY_STRING", text_to_utf8(php_trim(t.get("GET").unwrap_or(""))));
    }
    for k in ["PATH_TRANSLATED", "SCRIPT_FILENAME"] {
        if empty(vars, k) {
            set(vars, k, file.clone());
        }
    }
    set(
        vars,
        "HTTP_COOKIE",
        t.get("COOKIE").map(|c| text_to_utf8(php_trim(c))).unwrap_or_default(),
    );
    let non_empty = |s: &str| t.get(s).filter(|v| !v.is_empty());
    // POST_RAW and PUT: a Content-Type line sets the type; the rest is the body.
    let raw = |vars: &mut Vec<(String, String)>, text: &str| -> Vec<u8> {
        let mut lines = Vec::new();
        for line in php_trim(text).split('\n') {
            let lower = line.to_ascii_lowercase();
            if empty(vars, "CONTENT_TYPE") && lower.starts_with("content-type:") {
                set(vars, "CONTENT_TYPE", text_to_utf8(line[13..].replace('\r', "").trim()));
                continue;
            }
            lines.push(line);
        }
        text_to_bytes(&lines.join("\n"))
    };
    let compress = |text: &str, gzip: bool| -> Result<Vec<u8>> {
        use std::io::Write;
        let data = trimmed(text);
        Ok(if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&data)?;
            e.finish()?
        } else {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&data)?;
            e.finish()?
        })
    };
    let body = if let Some(p) = non_empty("POST_RAW") {
        let b = raw(vars, p);
        if empty(vars, "REQUEST_METHOD") {
            set(vars, "REQUEST_METHOD", "POST".into());
        }
        b
    } else if let Some(p) = non_empty("PUT") {
        let b = raw(vars, p);
        set(vars, "REQUEST_METHOD", "PUT".into());
        b
    } else if let Some(p) = non_empty("POST") {
        let b = trimmed(p);
        set(vars, "REQUEST_METHOD", "POST".into());
        if empty(vars, "CONTENT_TYPE") {
            set(vars, "CONTENT_TYPE", "application/x-www-form-urlencoded".into());
        }
        if empty(vars, "CONTENT_LENGTH") {
            set(vars, "CONTENT_LENGTH", b.len().to_string());
        }
        return Ok((Some(b), false));
    } else if let Some((p, gzip)) = non_empty("GZIP_POST")
        .map(|p| (p, true))
        .or(non_empty("DEFLATE_POST").map(|p| (p, false)))
    {
        let b = compress(p, gzip)?;
        set(vars, "HTTP_CONTENT_ENCODING", if gzip { "gzip" } else { "deflate" }.into());
        set(vars, "REQUEST_METHOD", "POST".into());
        set(vars, "CONTENT_TYPE", "application/x-www-form-urlencoded".into());
        set(vars, "CONTENT_LENGTH", b.len().to_string());
        return Ok((Some(b), false));
    } else {
        set(vars, "REQUEST_METHOD", "GET".into());
        set(vars, "CONTENT_TYPE", String::new());
        set(vars, "CONTENT_LENGTH", String::new());
        return Ok((None, true));
    };
    if body.is_empty() {
        bail!("{}: the request body is empty", t.path.display());
    }
    set(vars, "CONTENT_LENGTH", body.len().to_string());
    Ok((Some(body), false))
}

fn subst(s: &str, dir: &Path) -> String {
    s.replace("{PWD}", &bytes_to_text(dir.display().to_string().as_bytes()))
        .replace("{TMP}", "/tmp")
}

/// An `--INI--` section as `-d` values: as run-tests.php reads it, blank
/// lines and `;` comments dropped, the name and the value trimmed
/// (`intl.error_level = E_WARNING` is `intl.error_level=E_WARNING`).
fn ini_settings(section: &str) -> Vec<String> {
    section
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| text_to_utf8(&format!("{}={}", k.trim(), v.trim())))
        .collect()
}

fn execute(env: &PhptEnv<'_>, t: &Phpt) -> Result<(Outcome, String, String)> {
    let dir = t.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let stem = t.path.file_stem().unwrap_or_default().to_string_lossy().to_string();
    let ini = t.get("INI").map(|i| ini_settings(&subst(i, &dir))).unwrap_or_default();
    // The side's own environment ([run] env, or natively `native_env` and
    // what the native libraries need), then run-tests.php's.
    let mut vars = env.suite.base_spec().env;
    vars.extend(base_env(&env.suite.tmp));
    // run-tests.php runs every test from the source root; the guest starts
    // there too (kiln's WASI shim changes into PWD), as the native side does.
    vars.push(("PWD".into(), env.suite.root.display().to_string()));
    if let Some(e) = t.get("ENV") {
        for line in subst(e, &dir).lines() {
            if let Some((k, v)) = line.trim().split_once('=') {
                if !k.is_empty() {
                    let k = text_to_utf8(k);
                    vars.retain(|(x, _)| *x != k);
                    vars.push((k, text_to_utf8(v)));
                }
            }
        }
    }

    // SKIPIF
    let mut xfail = t.get("XFAIL").map(|s| text_to_utf8(s.trim()));
    if let Some(code) = t.get("SKIPIF") {
        let skip_file = dir.join(format!("{stem}.skip.php"));
        fs::write(&skip_file, text_to_bytes(code))?;
        // As run-tests.php: the test's --INI-- first, then display_errors=1
        // and display_startup_errors=0 (a test whose INI makes start-up
        // warn still skips cleanly).
        let mut settings = ini.clone();
        settings.extend(["display_errors=1".to_string(), "display_startup_errors=0".to_string()]);
        let mut argv = env.ini_args(&settings);
        argv.push("-q".into());
        argv.push(skip_file.display().to_string());
        let out = env.suite.run(&env.spec(&dir, argv, vars.clone(), None, true))?;
        let _ = fs::remove_file(&skip_file);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("skip") {
            return Ok((Outcome::Skip, text, String::new()));
        }
        if lower.starts_with("xfail") {
            xfail = Some(text[5..].trim().to_string());
        }
    }

    let php_file = dir.join(format!("{stem}.php"));
    fs::write(&php_file, text_to_bytes(t.get("FILE").unwrap_or("")))?;
    let cgi = is_cgi(t).is_some();
    let mut argv = env.ini_args(&ini);
    let mut stdin = t.get("STDIN").map(text_to_bytes);
    let mut run_vars = vars.clone();
    let mut with_args = true;
    if cgi {
        argv[0] = "php-cgi".into();
        argv.insert(1, "-C".into());
        let (body, get) = cgi_request(t, &php_file, &mut run_vars)?;
        with_args = get;
        if body.is_some() {
            stdin = body;
        }
    }
    argv.push("-f".into());
    argv.push(php_file.display().to_string());
    if let (Some(a), true) = (t.get("ARGS"), with_args) {
        argv.push("--".into());
        argv.extend(text_to_utf8(a).split_whitespace().map(String::from));
    }
    let capture = t.get("CAPTURE_STDIO").map(|s| s.to_ascii_uppercase());
    let merged = capture.as_deref().is_none_or(|c| c.contains("STDERR") && c.contains("STDOUT"));
    let spec = env.spec(&dir, argv, run_vars, stdin, merged);
    let out = if cgi { env.suite.run_cgi(&spec)? } else { env.suite.run(&spec)? };
    let mut output = bytes_to_text(&out.stdout);
    let mut headers: Vec<(String, String)> = Vec::new();
    if cgi {
        // run-tests.php strips the CGI headers: `/^(.*?)\r?\n\r?\n(.*)/s`.
        let split = output
            .find("\n\r\n")
            .map(|i| (i, 3))
            .into_iter()
            .chain(output.find("\n\n").map(|i| (i, 2)))
            .min();
        if let Some((i, n)) = split {
            headers = output[..i]
                .split(['\n', '\r'])
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            output = output[i + n..].to_string();
        }
    }
    if let Some(c) = &capture {
        if !c.contains("STDOUT") {
            output.clear();
        }
        if c.contains("STDERR") && !merged {
            output.push_str(&bytes_to_text(&out.stderr));
        }
    }
    if let Some(code) = t.get("CLEAN") {
        let clean_file = dir.join(format!("{stem}.clean.php"));
        fs::write(&clean_file, text_to_bytes(code))?;
        let mut argv = env.ini_args(&[]);
        argv.push(clean_file.display().to_string());
        let _ = env.suite.run(&env.spec(&dir, argv, vars.clone(), None, true));
        let _ = fs::remove_file(&clean_file);
    }
    let _ = fs::remove_file(&php_file);
    if out.timed_out {
        return Ok((
            Outcome::Timeout,
            format!("stopped after {:.0}s", env.suite.timeout.as_secs_f64()),
            output,
        ));
    }
    if let Some(trap) = &out.trap {
        let first = trap.lines().next().unwrap_or("");
        return Ok((Outcome::Fail, super::model::trap_detail(first, out.hit_memory_limit), output));
    }
    if out.hit_memory_limit {
        return Ok((
            Outcome::Fail,
            format!("memory cap of {} MiB reached", env.suite.memory_limit >> 20),
            output,
        ));
    }
    if let Some(want) = t.get("EXPECTHEADERS") {
        let missing: Vec<String> = want
            .split(['\n', '\r'])
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, v)| !headers.iter().any(|(hk, hv)| hk == k && hv == v))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if !missing.is_empty() {
            return Ok((Outcome::Fail, format!("headers differ: wanted {}", missing.join("; ")), output));
        }
    }
    let ok = matches(t, &output)?;
    Ok(match (ok, xfail) {
        (true, None) => (Outcome::Pass, String::new(), String::new()),
        (true, Some(_)) => (Outcome::Warn, "XFAIL section but test passes".into(), String::new()),
        (false, Some(reason)) => (Outcome::Xfail, reason, output),
        (false, None) => (Outcome::Fail, "output differs from expectation".into(), output),
    })
}

/// The .phpt parser and judge, against run-tests.php's rules.
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sections_keep_their_bytes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sjis.phpt");
        let mut body = b"--TEST--\nsjis\n--FILE--\n<?php echo '".to_vec();
        body.extend_from_slice(&[0x83, 0x65, 0x83, 0x58, 0xe9]);
        body.extend_from_slice(b"';\n--EXPECT--\n\xe9\n");
        std::fs::write(&p, &body).unwrap();
        let t = Phpt::parse(&p).unwrap();
        assert_eq!(text_to_bytes(t.get("FILE").unwrap()), b"<?php echo '\x83\x65\x83\x58\xe9';\n");
        assert_eq!(text_to_bytes(t.get("EXPECT").unwrap()), b"\xe9\n");
        assert_eq!(text_to_utf8(&bytes_to_text("caf\u{e9}".as_bytes())), "caf\u{e9}");
    }

    fn parse(text: &str) -> Phpt {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.phpt");
        std::fs::write(&p, text).unwrap();
        Phpt::parse(&p).unwrap()
    }

    #[test]
    fn sections_and_fileeof() {
        let t = parse("--TEST--\nname\n--INI--\nprecision=3\n--FILEEOF--\n<?php echo 1;\n--EXPECT--\n1\n");
        assert_eq!(t.title(), "name");
        assert_eq!(t.get("FILE"), Some("<?php echo 1;"));
        assert_eq!(t.get("INI"), Some("precision=3\n"));
        assert_eq!(
            ini_settings("precision=3\n; a comment\n\nintl.error_level = E_WARNING\nx= a=b \n"),
            ["precision=3", "intl.error_level=E_WARNING", "x=a=b"]
        );
    }

    #[test]
    fn section_lines_are_matched_as_run_tests_matches_them() {
        // `/^--([_A-Z]+)--/`: the rest of the line does not matter.
        let t = parse("--TEST--n\nBug #24198\n--FILE--\n<?php echo 1;\n--EXPECT---\n1\n");
        assert_eq!(t.title(), "Bug #24198");
        assert_eq!(t.get("EXPECT"), Some("1\n"));
        // A line of dashes in a section body is not a section.
        let t = parse("--TEST--\nx\n--FILE--\n<?php echo '--x';\n-- not --\n--EXPECT--\n1\n");
        assert!(t.get("FILE").unwrap().contains("-- not --"));
        // phpdbg tests have commands instead of a file.
        let t = parse("--TEST--\nBasic run\n--PHPDBG--\nr\nq\n--EXPECT--\nprompt\n");
        assert!(t.sections.contains_key("PHPDBG"));
    }

    #[test]
    fn external_sections_are_read_relative_to_the_test() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("code.inc"), "<?php echo 'ext';").unwrap();
        std::fs::write(
            d.path().join("t.phpt"),
            "--TEST--\nx\n--FILE_EXTERNAL--\ncode.inc\n--EXPECT--\next\n",
        )
        .unwrap();
        let t = Phpt::parse(&d.path().join("t.phpt")).unwrap();
        assert_eq!(t.get("FILE"), Some("<?php echo 'ext';"));
    }

    #[test]
    fn missing_sections_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.phpt");
        std::fs::write(&p, "--TEST--\nx\n--FILE--\n<?php\n").unwrap();
        assert!(format!("{:#}", Phpt::parse(&p).unwrap_err()).contains("EXPECT"));
    }

    #[test]
    fn the_recipes_ini_comes_after_run_tests_own() {
        let v = fixed_args(&["error_reporting=32767".to_string()]);
        assert_eq!(v[0], "-n");
        let d: Vec<&str> = v.iter().skip(1).step_by(2).map(String::as_str).collect();
        assert!(d.iter().all(|a| *a == "-d"));
        let ini: Vec<&str> = v.iter().skip(2).step_by(2).map(String::as_str).collect();
        assert_eq!(ini.len(), INI_OVERWRITES.len() + 1);
        let first = ini.iter().position(|i| i.starts_with("error_reporting=")).unwrap();
        let last = ini.iter().rposition(|i| i.starts_with("error_reporting=")).unwrap();
        assert!(first < last);
        assert_eq!(ini[last], "error_reporting=32767");
        assert_eq!(fixed_args(&[]).len(), 1 + 2 * INI_OVERWRITES.len());
    }

    #[test]
    fn expectf_translation_matches_run_tests() {
        assert_eq!(preg_quote("a.b(c)/d"), "a\\.b\\(c\\)\\/d");
        assert_eq!(expectf_to_regex("x %d y %s"), "x \\d+ y [^\\r\\n]+");
        assert_eq!(expectf_to_regex("%r(a|b)+%r."), "((a|b)+)\\.");
        assert_eq!(expectf_to_regex("100%"), "100%");
    }

    #[test]
    fn judging_expect_expectf_expectregex() {
        let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECT--\n  hello\r\nworld  \n");
        assert!(matches(&t, "hello\nworld").unwrap());
        assert!(!matches(&t, "hello\nworld!").unwrap());
        let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECTF--\nWarning: %s in %s on line %d\nfloat(%f)\n");
        assert!(matches(&t, "Warning: oops in /x/t.php on line 3\nfloat(1.5E-7)\n").unwrap());
        assert!(!matches(&t, "Warning: oops in /x/t.php on line three\nfloat(1)").unwrap());
        let t = parse("--TEST--\nx\n--FILE--\n<?php\n--EXPECTREGEX--\na+b\n");
        assert!(matches(&t, "aaab").unwrap());
    }
}
