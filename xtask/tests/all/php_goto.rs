//! Opt-in tier `php_goto`: PHP's `goto` flavour, whose Zend VM is
//! regenerated as the GOTO kind by a native PHP of the same tarball (the
//! recipe's `[native]` build and `[[generate]]` step) with patch 0012 on
//! its skeleton. Outside the default run: its build costs about 9 minutes
//! (`recipes/php.toml`).

use std::sync::OnceLock;

use crate::support::{repo, run_with, text, xtask};

fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = xtask(&["build", "php", "--flavor", "goto"], repo());
        assert!(out.status.success(), "build failed:\n{}", text(&out));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(path.ends_with("out/php-8.4.16-goto/bin/php.wasm"), "{path}");
    });
}

fn php(args: &[&str]) -> (i32, String, String) {
    built();
    run_with("php", repo(), &["--flavor", "goto"], args)
}

#[test]
#[ignore = "opt-in tier: builds PHP's goto flavour"]
fn the_generated_vm_is_the_goto_kind_and_runs_php() {
    built();
    let header = repo().join("target/kiln/build/php-8.4.16-goto/src/Zend/zend_vm_opcodes.h");
    let h = std::fs::read_to_string(&header).unwrap_or_else(|e| panic!("{}: {e}", header.display()));
    assert!(h.contains("#define ZEND_VM_KIND\t\tZEND_VM_KIND_GOTO"), "{}", header.display());
    let (code, out, err) = php(&["-r", "echo 6*7, ' ', PHP_VERSION;"]);
    assert_eq!((code, out.as_str()), (0, "42 8.4.16"), "{err}");
    // A fatal error still exits 255 after the shutdown functions ran.
    let (code, out, _) = php(&[
        "-r",
        "register_shutdown_function(function () { echo \"shutdown ran\\n\"; }); nosuch();",
    ]);
    assert_eq!(code, 255, "{out}");
    assert!(
        out.contains("Call to undefined function nosuch()") && out.contains("shutdown ran"),
        "{out}"
    );
}

#[test]
#[ignore = "opt-in tier: builds PHP's goto flavour"]
fn max_execution_time_interrupts_the_goto_loop() {
    // The interrupt helper is a label inside execute_ex in this VM kind
    // (and, before the loop, patch 0012's function).
    let (code, out, err) = php(&[
        "-r",
        "set_time_limit(1); register_shutdown_function(function () { echo \"shutdown ran\\n\"; }); \
         while (true) { array_map(fn ($x) => $x + 1, [1, 2, 3]); }",
    ]);
    assert_eq!(code, 255, "{out}{err}");
    assert!(out.contains("Maximum execution time of 1 second exceeded"), "{out}{err}");
    assert!(out.contains("shutdown ran"), "{out}{err}");
}

#[test]
#[ignore = "opt-in tier: builds PHP's goto flavour"]
fn engine_and_language_tests_pass_against_the_baseline() {
    built();
    let out = xtask(&["test", "php", "--flavor", "goto", "Zend/tests", "tests/lang"], repo());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("ok: no unexpected failures"), "{t}");
}
