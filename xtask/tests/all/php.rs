//! Slow tier: build PHP 8.4 with kiln and check it behaves like native PHP.
//! Run with `cargo test -- --include-ignored` (the README's test command).

use std::path::Path;
use std::sync::OnceLock;

use crate::support::{repo, xtask};

/// Build once per test binary; every test waits for it.
fn built() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| crate::support::build("php", "out/php-8.4.16/bin/php.wasm"))
}

fn php_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    built();
    crate::support::run_in("php", cwd, args)
}

fn php(args: &[&str]) -> (i32, String, String) {
    php_in(repo(), args)
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn second_build_does_no_work() {
    built();
    let t = std::time::Instant::now();
    let out = xtask(&["build", "php"], repo());
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("up to date"), "{err}");
    assert!(t.elapsed().as_secs() < 30, "no-op build took {:?}", t.elapsed());
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn arithmetic_and_version() {
    assert_eq!(php(&["-r", "echo 6*7;"]), (0, "42".into(), String::new()));
    assert_eq!(php(&["-r", "echo PHP_VERSION;"]).1, "8.4.16");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn fatal_error_exits_255_with_php_message() {
    let (code, out, _) = php(&["-r", "function f(){ undefined_fn(); } f();"]);
    assert_eq!(code, 255);
    assert!(
        out.contains("Fatal error: Uncaught Error: Call to undefined function undefined_fn()"),
        "{out}"
    );
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn exit_runs_shutdown_functions() {
    let (code, out, _) = php(&["-r", "register_shutdown_function(function(){ echo \"bye\"; }); exit(3);"]);
    assert_eq!((code, out.as_str()), (3, "bye"));
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn memory_limit_error_still_runs_shutdown() {
    let (code, out, _) = php(&[
        "-d",
        "memory_limit=16M",
        "-r",
        "register_shutdown_function(function(){ echo \"\\nshutdown ran\"; }); $a = []; while (true) { $a[] = str_repeat('x', 1024); }",
    ]);
    assert_eq!(code, 255, "{out}");
    assert!(out.contains("Allowed memory size of 16777216 bytes exhausted"), "{out}");
    assert!(out.contains("shutdown ran"), "{out}");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn uncaught_exception_and_try_catch() {
    let (code, out, _) = php(&["-r", "try { throw new RuntimeException('x'); } catch (RuntimeException $e) { echo 'caught ', $e->getMessage(), PHP_EOL; } throw new LogicException('boom');"]);
    assert_eq!(code, 255);
    assert!(out.starts_with("caught x\n"), "{out}");
    assert!(
        out.contains("PHP Fatal error:  Uncaught LogicException: boom") || out.contains("Fatal error: Uncaught LogicException: boom"),
        "{out}"
    );
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn bundled_extensions_work() {
    let script = r#"
echo mb_strtoupper('héllo'), ' ', mb_strlen('日本語'), "\n";
echo preg_replace('/(\d+)/', '[$1]', 'a1b22'), "\n";
echo ctype_digit('123') ? 'digit' : 'no', "\n";
echo json_encode(['a' => 1, 'b' => [true, null]]), ' ', json_decode('{"x":2}')->x, "\n";
echo hash('sha256', 'abc'), "\n";
echo bcadd('1.5', '2.25', 2), ' ', cal_days_in_month(CAL_GREGORIAN, 2, 2024), "\n";
echo date('Y-m-d', 86400 * 365), ' ', count(token_get_all('<?php echo 1;')), "\n";
echo filter_var('a@b.example', FILTER_VALIDATE_EMAIL), "\n";
"#;
    let (code, out, err) = php(&["-r", script]);
    assert_eq!(code, 0, "{out}{err}");
    let expected = "HÉLLO 3\na[1]b[22]\ndigit\n{\"a\":1,\"b\":[true,null]} 2\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n3.75 29\n1971-01-01 5\na@b.example\n";
    assert_eq!(out, expected);
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn script_in_cwd_reads_and_writes_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.php"),
        "<?php file_put_contents('out.txt', 'written'); echo file_get_contents('out.txt'), ' ', file_exists('missing') ? 'y' : 'n';",
    )
    .unwrap();
    let (code, out, err) = php_in(dir.path(), &["s.php"]);
    assert_eq!((code, out.as_str()), (0, "written n"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "written");
    // Locks succeed without effect on WASI (patch 0008): LOCK_EX writes land.
    std::fs::write(
        dir.path().join("l.php"),
        "<?php var_dump(file_put_contents('locked.txt', 'data', LOCK_EX)); $h = fopen('locked.txt', 'r+'); var_dump(flock($h, LOCK_EX), flock($h, LOCK_UN), flock($h, LOCK_SH | LOCK_NB));",
    )
    .unwrap();
    let (code, out, err) = php_in(dir.path(), &["l.php"]);
    assert_eq!((code, out.as_str()), (0, "int(4)\nbool(true)\nbool(true)\nbool(true)\n"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("locked.txt")).unwrap(), "data");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn unavailable_features_fail_like_php() {
    // What WASI lacks returns false (with a warning, silenced here), as PHP
    // does when a feature is unavailable; functions PHP's configure leaves
    // out on such platforms do not exist at all.
    let script = r#"
var_dump(@popen('ls', 'r'));
var_dump(@exec('ls'));
var_dump(@shell_exec('ls'));
var_dump(@fsockopen('127.0.0.1', 80));
var_dump(@stream_socket_client('tcp://127.0.0.1:80'));
var_dump(@posix_getpwnam('root'));
var_dump(@posix_kill(1, 9));
$f = fopen('php://memory', 'r+'); var_dump(@flock($f, LOCK_EX));
var_dump(function_exists('proc_open') || function_exists('pcntl_fork'));
echo gethostbyname('example.com'), "\n";
"#;
    let (code, out, _) = php(&["-r", script]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "bool(false)\n".repeat(9) + "example.com\n");
}

#[test]
#[ignore = "slow tier: builds PHP and a native PHP"]
fn second_run_loads_the_compiled_module_from_the_cache() {
    built();
    // The first run may compile (and store); the second must not.
    let _ = xtask(&["run", "--verbose", "php", "--", "-r", ""], repo());
    let out = xtask(&["run", "--verbose", "php", "--", "-r", "echo 7;"], repo());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7", "{err}");
    assert!(err.contains("module cache hit"), "{err}");
    assert!(!err.contains("compiling"), "{err}");
}

#[test]
#[ignore = "slow tier: builds PHP and a native PHP"]
fn bench_prints_wasm_and_native_side_by_side_and_writes_the_same_json() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("b.json");
    let out = xtask(
        &[
            "bench",
            "php",
            "--runs",
            "1",
            "--workload",
            "Zend/bench.php",
            "--json",
            json.to_str().unwrap(),
        ],
        repo(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("wasm median") && text.contains("native median") && text.contains("ratio"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{doc}");
    let row = &rows[0];
    assert_eq!(row["workload"], "Zend/bench.php [in-process]");
    let (w, n) = (row["wasm"]["median"].as_f64().unwrap(), row["native"]["median"].as_f64().unwrap());
    assert!(w > 0.0 && n > 0.0, "{row}");
    assert!((row["ratio"].as_f64().unwrap() - w / n).abs() < 1e-9, "{row}");
    // The printed table carries the JSON's figures.
    let line = text.lines().find(|l| l.contains("Zend/bench.php")).unwrap();
    assert!(
        line.contains(&format!("{w:.3}s")) && line.contains(&format!("{n:.3}s")),
        "{line}\n{row}"
    );
    assert_eq!(doc["geomean"][0]["workloads"], 1);
    // A filter that matches nothing is an error naming the workloads.
    let out = xtask(&["bench", "php", "--runs", "1", "--workload", "no-such"], repo());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Zend/bench.php"));
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn max_execution_time_fires_with_php_error_and_shutdown_functions() {
    // WASI has no timer signals; patch 0004 + the runtime's deadline cell
    // make set_time_limit() stop a runaway loop with PHP's own fatal error.
    let t = std::time::Instant::now();
    let (code, out, err) = php(&[
        "-r",
        "set_time_limit(1); register_shutdown_function(function () { echo \"shutdown ran\\n\"; }); while (true) {}",
    ]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 255, "{out}{err}");
    assert!(out.contains("Maximum execution time of 1 second exceeded"), "{out}{err}");
    assert!(out.contains("shutdown ran"), "{out}{err}");
    assert!(secs < 20.0, "took {secs:.1}s");
    // Without a limit nothing fires: a finite loop completes.
    let (code, out, _) = php(&["-r", "set_time_limit(0); for ($i = 0; $i < 3000000; $i++) {} echo 'done';"]);
    assert_eq!((code, out.as_str()), (0, "done"));
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn temporary_files_under_run_live_in_a_private_tmp() {
    let (code, out, err) = php(&[
        "-r",
        "$t = tempnam(sys_get_temp_dir(), 'k'); file_put_contents($t, 'x'); echo dirname($t), ' ', file_get_contents($t); \
         $f = tmpfile(); fwrite($f, 'y'); rewind($f); echo ' ', fread($f, 1);",
    ]);
    assert_eq!((code, out.as_str()), (0, "/tmp x y"), "{err}");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn script_by_relative_path() {
    built();
    let (code, out, err) = crate::support::run_relative_script(
        "php",
        "s.php",
        "<?php echo strlen(file_get_contents('s.php')) > 0 ? 'yes' : 'no', ' ', basename(__FILE__);",
    );
    assert_eq!((code, out.as_str()), (0, "yes s.php"), "{err}");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn runs_resume_from_the_start_up_snapshot_with_their_own_arguments_environment_and_directories() {
    built();
    let script = "<?php echo json_encode([$argv, getenv('X'), file_get_contents('f.txt'), file_get_contents('/data/d.txt'), ini_get('memory_limit'), getcwd()], JSON_UNESCAPED_SLASHES);";
    let (one, two) = (
        crate::support::dir_with(&[("s.php", script), ("f.txt", "cwd one")]),
        crate::support::dir_with(&[("s.php", script), ("f.txt", "cwd two")]),
    );
    let (d1, d2) = (
        crate::support::dir_with(&[("d.txt", "data one")]),
        crate::support::dir_with(&[("d.txt", "data two")]),
    );
    let run = |cwd: &Path, flags: &[&str], args: &[&str]| {
        let mut all = vec!["-v", "run", "php"];
        all.extend_from_slice(flags);
        all.push("--");
        all.extend_from_slice(args);
        let out = xtask(&all, cwd);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string(), err)
    };
    let data1 = format!("{}::/data", d1.path().display());
    let data2 = format!("{}::/data", d2.path().display());
    let (cwd1, cwd2) = (
        one.path().canonicalize().unwrap().display().to_string(),
        two.path().canonicalize().unwrap().display().to_string(),
    );
    let (code, out, err) = run(one.path(), &["--env", "X=1", "--dir", &data1], &["s.php", "a", "b"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!(r#"[["s.php","a","b"],"1","cwd one","data one","128M","{cwd1}"]"#),
        "{err}"
    );
    assert!(err.contains("(resumed from the snapshot)"), "{err}");
    // Everything changed between runs: each run reads its own.
    let (code, out, err) = run(two.path(), &["--env", "X=2", "--dir", &data2], &["s.php", "c"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!(r#"[["s.php","c"],"2","cwd two","data two","128M","{cwd2}"]"#), "{err}");
    assert!(err.contains("(resumed from the snapshot)"), "{err}");
    // An option that selects another start-up: from scratch, and it applies.
    let (code, out, err) = run(two.path(), &["--dir", &data2], &["-d", "memory_limit=77M", "s.php"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!(r#"[["s.php"],false,"cwd two","data two","77M","{cwd2}"]"#), "{err}");
    assert!(err.contains("(from scratch)"), "{err}");
    // Usage output is the real run's, not the check's.
    let (code, out, err) = run(two.path(), &[], &["-h"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Usage: php"), "{out}");
    assert!(err.contains("(from scratch)"), "{err}");
    // And on request, no snapshot at all.
    let (code, _, err) = run(two.path(), &["--no-snapshot", "--dir", &data2], &["s.php"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("(from scratch)"), "{err}");
}

/// kiln's POSIX file-semantics probe against the native PHP of the same
/// tarball. PHP resolves `..` in paths itself, so it agrees with native on
/// `..` back into a mapped directory without kiln's shim.
#[test]
#[ignore = "slow tier: builds PHP and a native PHP"]
fn posix_file_semantics_match_native() {
    built();
    let known: Vec<&crate::support::KnownDifference> = crate::support::SHARED_DIFFERENCES.iter().collect();
    crate::support::posix_probe("php", "php", &known);
}

mod apps;
mod extensions;
mod intl;
mod serve;
mod webapp;

/// The suite runner on this interpreter (`cargo xtask test`).
mod conformance {
    use crate::support::{ci_xtask as xtask, text};

    fn phpt_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, c) in files {
            std::fs::write(d.path().join(n), c).unwrap();
        }
        d
    }

    #[test]
    #[ignore = "slow tier: builds PHP and runs its default subset (engine, language, extensions)"]
    fn default_subset_passes_against_the_baseline_and_writes_reports() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("r");
        let out = xtask(&["test", "php", "--report", r.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("php-phpt.json")).unwrap()).unwrap();
        let tests = json["tests"].as_array().unwrap();
        assert!(tests.len() > 7500, "{} tests", tests.len());
        assert!(json["totals"]["pass"].as_u64().unwrap() > 6000, "{}", json["totals"]);
        // Each library-backed extension's own tests ran, and most passed.
        for ext in [
            "dom",
            "simplexml",
            "sqlite3",
            "pdo_sqlite",
            "zlib",
            "iconv",
            "zip",
            "gd",
            "openssl",
            "sodium",
            "mbstring",
        ] {
            let prefix = format!("ext/{ext}/tests/");
            let mine: Vec<_> = tests
                .iter()
                .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
                .collect();
            let pass = mine.iter().filter(|t| t["outcome"] == "pass").count();
            assert!(pass * 2 > mine.len(), "{ext}: {pass} of {} passed", mine.len());
        }
        let xml = std::fs::read_to_string(r.join("php-phpt.xml")).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), tests.len());
        assert!(std::fs::read_to_string(r.join("index.html")).unwrap().contains("TOTAL"));
    }

    #[test]
    #[ignore = "slow tier: builds PHP and its native side (the same libraries, built natively)"]
    fn native_column_for_library_backed_extensions() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("r");
        let out = xtask(&[
            "test",
            "php",
            "--native",
            "ext/sqlite3/tests",
            "ext/openssl/tests",
            "ext/gd/tests",
            "--report",
            r.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("native side:"), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("php-phpt.json")).unwrap()).unwrap();
        let tests = json["tests"].as_array().unwrap();
        for ext in ["sqlite3", "openssl", "gd"] {
            let mine: Vec<_> = tests
                .iter()
                .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with(&format!("ext/{ext}/tests/"))))
                .collect();
            let pass = mine.iter().filter(|t| t["outcome"] == "pass").count();
            // The native PHP links the same library (built natively), so
            // its tests run there too, and mostly pass.
            let native = mine.iter().filter(|t| t["native"] == "pass").count();
            assert!(
                pass > 0 && native * 10 >= pass * 9,
                "{ext}: {native} native passes against {pass} wasm passes"
            );
        }
    }

    #[test]
    #[ignore = "slow tier: builds PHP"]
    fn a_wrong_expectation_fails_the_run() {
        let d = phpt_dir(&[
            ("ok.phpt", "--TEST--\nok\n--FILE--\n<?php echo 1+1;\n--EXPECT--\n2\n"),
            (
                "ok_f.phpt",
                "--TEST--\nexpectf\n--FILE--\n<?php echo 'v', PHP_VERSION;\n--EXPECTF--\nv%d.%d.%d\n",
            ),
            ("bad.phpt", "--TEST--\nwrong\n--FILE--\n<?php echo 1+1;\n--EXPECT--\n3\n"),
        ]);
        let out = xtask(&["test", "php", d.path().to_str().unwrap()]);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("bad.phpt") && !t.contains("FAIL ok"), "{t}");
        assert!(t.contains("1 unexpected failures"), "{t}");
    }

    /// Tests with a request (--GET--, --POST--, --COOKIE--,
    /// --EXPECTHEADERS--) run on php-cgi, as run-tests.php runs them.
    #[test]
    #[ignore = "slow tier: builds PHP"]
    fn cgi_tests_run_on_php_cgi() {
        let d = phpt_dir(&[
            (
                "get.phpt",
                "--TEST--\nget\n--GET--\na=1&b[]=x\n--COOKIE--\nc=2\n--FILE--\n<?php echo PHP_SAPI, ' ', json_encode([$_GET, $_COOKIE, $_SERVER['REQUEST_METHOD']]);\n--EXPECT--\ncgi-fcgi [{\"a\":\"1\",\"b\":[\"x\"]},{\"c\":\"2\"},\"GET\"]\n",
            ),
            (
                "post.phpt",
                "--TEST--\npost\n--POST--\nq=hello+world\n--FILE--\n<?php header('X-Kiln: yes'); echo $_POST['q'], ' ', $_SERVER['CONTENT_LENGTH'];\n--EXPECTHEADERS--\nX-Kiln: yes\n--EXPECT--\nhello world 13\n",
            ),
            (
                "headers.phpt",
                "--TEST--\nwrong header\n--GET--\nx=1\n--FILE--\n<?php echo 'x';\n--EXPECTHEADERS--\nX-Missing: 1\n--EXPECT--\nx\n",
            ),
        ]);
        let out = xtask(&["test", "php", d.path().to_str().unwrap()]);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(
            !t.lines()
                .any(|l| l.starts_with("FAIL") && (l.contains("get.phpt") || l.contains("post.phpt"))),
            "{t}"
        );
        assert!(
            t.contains("headers.phpt") && t.contains("headers differ: wanted X-Missing: 1"),
            "{t}"
        );
        assert!(t.contains("1 unexpected failures"), "{t}");
    }

    #[test]
    #[ignore = "slow tier: builds PHP"]
    fn loops_and_memory_hogs_are_stopped_and_reported() {
        let d = phpt_dir(&[
            ("loop.phpt", "--TEST--\nloops\n--FILE--\n<?php while (true) {}\n--EXPECT--\nnever\n"),
            ("hog.phpt", "--TEST--\nhog\n--INI--\nmemory_limit=-1\n--FILE--\n<?php $a = []; while (true) { $a[] = str_repeat('x', 1 << 20); }\n--EXPECT--\nnever\n"),
            ("fine.phpt", "--TEST--\nfine\n--FILE--\n<?php echo 'fine';\n--EXPECT--\nfine\n"),
        ]);
        let out = xtask(&["test", "php", d.path().to_str().unwrap(), "--timeout", "5", "--memory-mib", "256"]);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("loop.phpt") && t.contains("Timeout"), "{t}");
        assert!(t.contains("hog.phpt") && t.contains("memory cap of 256 MiB reached"), "{t}");
        assert!(!t.contains("FAIL") || !t.contains("fine.phpt"), "{t}");
        // The run itself (not the build, which may wait for other tests'
        // builds) ended soon after the 5 s limit: "… with 2 jobs in 6.1s".
        let secs: f64 = t
            .lines()
            .find_map(|l| l.split(" jobs in ").nth(1))
            .and_then(|r| r.trim_end_matches('s').parse().ok())
            .unwrap_or_else(|| panic!("no run time in:\n{t}"));
        assert!(secs < 60.0, "{secs} s:\n{t}");
    }
}
