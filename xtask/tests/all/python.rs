//! Slow tier: build CPython 3.13 with kiln and check it as a user would.

use std::path::Path;
use std::sync::OnceLock;

use crate::support::{repo, xtask};

/// Build once per test binary; every test waits for it.
fn built() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| crate::support::build("python", "out/python-3.13.5/bin/python.wasm"))
}

fn py_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    built();
    crate::support::run_in("python", cwd, args)
}

fn py(args: &[&str]) -> (i32, String, String) {
    py_in(repo(), args)
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn second_build_does_no_work() {
    built();
    let out = xtask(&["build", "python"], repo());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("up to date"));
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn version_and_platform() {
    let (code, out, err) = py(&["-c", "import sys; print(sys.version_info[:2], sys.platform)"]);
    assert_eq!((code, out.as_str()), (0, "(3, 13) wasi\n"), "{err}");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn stdlib_and_c_modules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("check.py"),
        r#"
import json, re, decimal, zlib, sqlite3, hashlib, asyncio, collections, bz2, lzma
import xml.etree.ElementTree as ET
print(json.dumps({"a": [1, 2]}, sort_keys=True))
print(re.sub(r"(\d+)", r"<\1>", "a1b22"))
print(decimal.Decimal("1.1") + decimal.Decimal("2.2"))
data = b"kiln" * 100
print(len(zlib.compress(data)) < len(data), zlib.decompress(zlib.compress(data)) == data)
print(bz2.decompress(bz2.compress(data)) == data, lzma.decompress(lzma.compress(data)) == data)
db = sqlite3.connect(":memory:")
db.execute("create table t(x int)")
db.executemany("insert into t values (?)", [(i,) for i in range(1, 11)])
print(db.execute("select sum(x) from t").fetchone()[0])
print(hashlib.sha256(b"abc").hexdigest())
async def main():
    await asyncio.sleep(0)
    return 42
print(asyncio.run(main()))
print(ET.fromstring("<r><i>1</i><i>2</i></r>").findall("i")[1].text)
print(collections.Counter("abracadabra").most_common(1))
with open("out.txt", "w") as f:
    f.write("written")
print(open("out.txt").read())
"#,
    )
    .unwrap();
    let (code, out, err) = py_in(dir.path(), &["check.py"]);
    assert_eq!(code, 0, "{err}");
    let expected = "{\"a\": [1, 2]}\na<1>b<22>\n3.3\nTrue True\nTrue True\n55\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n42\n2\n[('a', 5)]\nwritten\n";
    assert_eq!(out, expected);
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn hashlib_runs_on_openssl_and_agrees_with_the_host() {
    let code = r#"
import hashlib, hmac
print(hashlib.sha256().__class__.__name__, "scrypt" in dir(hashlib))
print(hashlib.scrypt(b"pw", salt=b"salt", n=16, r=8, p=1, dklen=16).hex())
print(hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000, 16).hex())
print(hashlib.sha3_256(b"x").hexdigest())
print(hashlib.new("sha512_256", b"x").hexdigest())
print(hmac.new(b"k", b"m", "sha256").hexdigest())
"#;
    let (status, out, err) = py(&["-c", code]);
    assert_eq!(status, 0, "{err}");
    // The host's CPython (on the host's OpenSSL) is the reference.
    assert_eq!(out, crate::support::host_python(code));
    assert!(out.starts_with("HASH True\n"), "{out}");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn exit_codes_tracebacks_and_recursion() {
    assert_eq!(py(&["-c", "import sys; sys.exit(4)"]).0, 4);
    let (code, _, err) = py(&["-c", "def f():\n    raise ValueError('boom')\nf()"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Traceback (most recent call last)") && err.contains("ValueError: boom"),
        "{err}"
    );
    let (code, out, err) = py(&[
        "-c",
        "import sys\ndef r(n): return r(n+1)\ntry:\n    r(0)\nexcept RecursionError:\n    print('recursion caught')",
    ]);
    assert_eq!((code, out.as_str()), (0, "recursion caught\n"), "{err}");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn module_flag_and_env_merge() {
    let (code, out, err) = py(&["-m", "json.tool", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("usage"), "{out}");
    let out = xtask(
        &[
            "run",
            "python",
            "--env",
            "KILN_X=1",
            "--",
            "-c",
            "import os; print(os.environ['KILN_X'], os.environ['PYTHONHOME'])",
        ],
        repo(),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 /usr/local\n");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn bench_kernels_compute_their_checksums_on_wasm() {
    // Richards checks its own hold/packet counts (9297/23246 per run) and
    // DeltaBlue its chain and projection results; both raise otherwise.
    let dir = repo().join("tests/bench/python");
    let (code, out, err) = py_in(&dir, &["kernels.py", "richards", "deltablue", "json"]);
    assert_eq!((code, out.as_str()), (0, "162715 103560 60000\n"), "{err}");
    let (code, _, err) = py_in(&dir, &["kernels.py", "nonesuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown kernel"), "{err}");
}

#[test]
#[ignore = "slow tier: builds CPython"]
fn script_by_relative_path() {
    built();
    let (code, out, err) =
        crate::support::run_relative_script("python", "s.py", "import sys\nprint(len(open('s.py').read()) > 0, sys.argv[0])\n");
    assert_eq!((code, out.as_str()), (0, "True s.py\n"), "{err}");
}

/// A second clone sharing the user-level cache: the wasm build is restored
/// from the cache, and the native side (not cached) is rebuilt for bench.
#[test]
#[ignore = "slow tier: builds CPython, and its native build in a second target dir"]
fn bench_in_a_second_clone_rebuilds_the_native_side() {
    built();
    let target = tempfile::tempdir().unwrap();
    let out = crate::support::xtask_env(
        &["bench", "python", "--runs", "1", "--workload", "start-up"],
        repo(),
        &[("KILN_TARGET_DIR", target.path())],
    );
    let t = crate::support::text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("restore from build cache") && t.contains("native build"), "{t}");
    assert!(t.contains("start-up: -c pass [in-process]"), "{t}");
}

/// The suite runner on this interpreter (`cargo xtask test`).
mod conformance {
    use crate::support::{ci_xtask as xtask, text};

    #[test]
    #[ignore = "slow tier: builds CPython and runs the recipe's regrtest subset"]
    fn python_default_subset_passes_against_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("r");
        let out = xtask(&["test", "python", "--report", r.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("python-regrtest.json")).unwrap()).unwrap();
        let tests = json["tests"].as_array().unwrap();
        assert!(tests.len() >= 40, "{} modules", tests.len());
        // Per-module case counts come from regrtest's JUnit file.
        let json_mod = tests.iter().find(|t| t["name"] == "Lib/test/test_json").unwrap();
        assert_eq!(json_mod["outcome"], "pass");
        assert!(json_mod["detail"].as_str().unwrap().contains("testcases"), "{json_mod}");
    }

    #[test]
    #[ignore = "slow tier: builds CPython"]
    fn a_failing_regrtest_module_fails_the_run() {
        // A module anywhere on disk runs with regrtest's --testdir.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("test_kiln_wrong.py");
        std::fs::write(
            &f,
            "import unittest\nclass T(unittest.TestCase):\n    def test_wrong(self):\n        self.assertEqual(1 + 1, 3)\n    def test_ok(self):\n        pass\n",
        )
        .unwrap();
        // A module that loops and one that exhausts the wasm stack (a trap)
        // are each one module's result; the run goes on and reports all.
        std::fs::write(
            d.path().join("test_kiln_loop.py"),
            "import unittest\nclass T(unittest.TestCase):\n    def test_loop(self):\n        while True:\n            pass\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("test_kiln_trap.py"),
            "import sys, unittest\nclass T(unittest.TestCase):\n    def test_deep(self):\n        sys.setrecursionlimit(10**9)\n        def f(n):\n            return f(n + 1) + 1\n        f(0)\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("test_kiln_fine.py"),
            "import unittest\nclass T(unittest.TestCase):\n    def test_ok(self):\n        pass\n",
        )
        .unwrap();
        let out = xtask(&["test", "python", d.path().to_str().unwrap(), "--timeout", "20"]);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("test_kiln_wrong") && t.contains("2 testcases: 1 failed"), "{t}");
        assert!(t.contains("test_kiln_loop") && t.contains("Timeout"), "{t}");
        assert!(t.contains("test_kiln_trap") && t.contains("trap"), "{t}");
        assert!(t.contains("3 unexpected failures") && !t.contains("FAIL test_kiln_fine"), "{t}");
    }
}

/// kiln's POSIX file-semantics probe against the native CPython of the
/// same tarball (the build python of the cross build).
#[test]
#[ignore = "slow tier: builds CPython"]
fn posix_file_semantics_match_native() {
    built();
    let mut known: Vec<&crate::support::KnownDifference> = crate::support::SHARED_DIFFERENCES.iter().collect();
    known.push(&crate::support::READ_A_DIRECTORY_DIFFERENCE);
    crate::support::posix_probe("python", "py", &known);
}
