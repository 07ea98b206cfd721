//! Slow tier: build PHP 8.4 with kiln and check it behaves like native PHP.
//! Run with `cargo test -- --include-ignored` (the README's test command).

mod support;

use std::path::Path;
use std::sync::OnceLock;

use support::{repo, xtask};

/// Build once per test binary; every test waits for it.
fn built() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| support::build("php", "out/php-8.4.16/bin/php.wasm"))
}

fn php_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    built();
    support::run_in("php", cwd, args)
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
