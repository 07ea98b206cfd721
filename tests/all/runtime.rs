//! The embedded runner on tiny hand-written modules (WAT, no toolchain).

use std::path::Path;
use std::time::Duration;

use kiln::runtime::{EngineOptions, RunSpec, Runtime, Stdio};

fn write(dir: &Path, name: &str, wat: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, wat).unwrap();
    p
}

const EXIT_255: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "fatal\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 255))))"#;

const LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))"#;

const GROW: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable))"#;

/// A fresh runtime (its module cache in a temporary directory) with `wat`
/// loaded; the directory lives as long as the returned guard.
fn loaded(wat: &str) -> (tempfile::TempDir, Runtime, kiln::runtime::Module) {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(&dir.path().join("cache"), &EngineOptions::default()).unwrap();
    let m = rt.load(&write(dir.path(), "m.wat", wat)).unwrap();
    (dir, rt, m)
}

fn spec() -> RunSpec {
    RunSpec {
        argv: vec!["t".into()],
        stdin: Stdio::Null,
        stdout: Stdio::Bytes(vec![]),
        stderr: Stdio::Bytes(vec![]),
        ..Default::default()
    }
}

#[test]
fn exit_status_255_is_propagated_and_output_captured() {
    let (_dir, rt, m) = loaded(EXIT_255);
    let out = rt.run(&m, &spec()).unwrap();
    assert_eq!(out.status, 255);
    assert_eq!(out.stdout, b"fatal\n");
    assert!(out.trap.is_none());
}

#[test]
fn compiled_module_is_cached_on_disk_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wat = write(dir.path(), "e.wat", EXIT_255);
    let rt = Runtime::new(&cache, &EngineOptions::default()).unwrap();
    rt.load(&wat).unwrap();
    let cwasm: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(cwasm.len(), 1);
    let before = std::fs::metadata(cwasm[0].path()).unwrap().modified().unwrap();
    let rt2 = Runtime::new(&cache, &EngineOptions::default()).unwrap();
    let m = rt2.load(&wat).unwrap();
    assert_eq!(
        std::fs::metadata(cwasm[0].path()).unwrap().modified().unwrap(),
        before,
        "cache entry rewritten"
    );
    assert_eq!(rt2.run(&m, &spec()).unwrap().status, 255);
}

#[test]
fn a_guest_that_loops_is_stopped_by_the_timeout() {
    let (_dir, rt, m) = loaded(LOOP);
    let mut s = spec();
    s.timeout = Some(Duration::from_millis(300));
    let out = rt.run(&m, &s).unwrap();
    assert!(out.timed_out, "{out:?}");
    assert_ne!(out.status, 0);
    assert!(out.elapsed < Duration::from_secs(10));
}

#[test]
fn a_guest_that_eats_memory_hits_the_cap() {
    let (_dir, rt, m) = loaded(GROW);
    let mut s = spec();
    s.memory_limit = Some(64 << 20);
    let out = rt.run(&m, &s).unwrap();
    assert!(out.hit_memory_limit, "{out:?}");
    assert!(out.trap.is_some());
}

/// Sets its own deadline (1 ms after the Unix epoch: long past) in the cell
/// it exports, with flag addresses 64 and 65, then spins until the runtime
/// has set both flags and cleared the deadline; exits 7 if so.
const DEADLINE_CELL: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "kiln_deadline_cell") (result i32) (i32.const 32))
  (func (export "_start")
    (i32.store (i32.const 40) (i32.const 64))
    (i32.store (i32.const 44) (i32.const 65))
    (i64.store (i32.const 32) (i64.const 1))
    (loop $l (br_if $l (i32.eqz (i32.load8_u (i32.const 65)))))
    (if (i32.and (i32.load8_u (i32.const 64)) (i64.eqz (i64.load (i32.const 32))))
      (then (call $exit (i32.const 7))))
    (call $exit (i32.const 1))))"#;

#[test]
fn a_guest_deadline_cell_gets_its_flags_set_once_the_deadline_passes() {
    let (_dir, rt, m) = loaded(DEADLINE_CELL);
    let mut s = spec();
    s.timeout = Some(Duration::from_secs(20));
    let out = rt.run(&m, &s).unwrap();
    assert!(!out.timed_out, "the runtime never set the guest's flags: {out:?}");
    assert_eq!(out.status, 7, "{out:?}");
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// `init` leaves 7 in memory; an instance fits when it has exactly one
/// argument; `resume` exits with what `init` left, `_start` with that plus
/// 100 (so 100 from scratch).
const SNAPSHOTTABLE: &str = r#"(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "init") (i32.store (i32.const 0) (i32.const 7)))
  (func (export "fits") (result i32)
    (drop (call $sizes (i32.const 8) (i32.const 12)))
    (i32.eq (i32.load (i32.const 8)) (i32.const 1)))
  (func (export "resume") (call $exit (i32.load (i32.const 0))))
  (func (export "_start") (call $exit (i32.add (i32.load (i32.const 0)) (i32.const 100)))))"#;

#[test]
fn a_snapshot_resumes_only_the_runs_that_fit_it_and_is_keyed_by_what_start_up_reads() {
    use kiln::recipe::{Run, Snapshot};
    use kiln::runtime::Program;
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(&dir.path().join("cache"), &EngineOptions::default()).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("lib")).unwrap();
    std::fs::write(out.join("lib/app.ini"), "a=1\n").unwrap();
    let wasm = out.join("m.wasm");
    std::fs::write(&wasm, wat::parse_str(SNAPSHOTTABLE).unwrap()).unwrap();
    let run = Run {
        argv0: "t".into(),
        dirs: [("lib".to_string(), "/lib".to_string())].into(),
        snapshot: Some(Snapshot {
            init: "init".into(),
            resume: "resume".into(),
            check: Some("fits".into()),
            env: Default::default(),
            entropy_callers: vec![],
            reads: vec!["lib/app.ini".into()],
        }),
        ..Default::default()
    };
    let live = || RunSpec {
        stdout: Stdio::Bytes(vec![]),
        stderr: Stdio::Bytes(vec![]),
        ..RunSpec::for_recipe(&run, &out)
    };
    let (program, note) = rt.program(&wasm, &run, &out, &live(), &[]).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert!(matches!(program, Program::Snapshot { .. }));
    let o = rt.run_program(&program, &live()).unwrap();
    assert_eq!((o.status, o.resumed), (7, true), "{o:?}");
    // Another command line: the check says no, the module runs from scratch.
    let mut two = live();
    two.argv.push("x".into());
    let o = rt.run_program(&program, &two).unwrap();
    assert_eq!((o.status, o.resumed), (100, false), "{o:?}");
    // Without the snapshot.
    assert_eq!(
        rt.run_program(&Program::Module(program.module(&rt).unwrap()), &live())
            .unwrap()
            .status,
        100
    );

    let snapshots = || {
        std::fs::read_dir(dir.path().join("cache/snapshots"))
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with("instrumented"))
            .count()
    };
    assert_eq!(snapshots(), 1);
    // The same inputs reuse it; a changed file that start-up reads does not.
    rt.program(&wasm, &run, &out, &live(), &[]).unwrap();
    assert_eq!(snapshots(), 1);
    std::fs::write(out.join("lib/app.ini"), "a=2\n").unwrap();
    let (p2, _) = rt.program(&wasm, &run, &out, &live(), &[]).unwrap();
    assert!(matches!(p2, Program::Snapshot { .. }));
    assert_eq!(snapshots(), 2);

    // A run that maps the recipe's guest path elsewhere starts from scratch.
    let mut moved = live();
    moved.dirs = vec![(dir.path().to_path_buf(), "/lib".into())];
    let (p3, note) = rt.program(&wasm, &run, &out, &moved, &[]).unwrap();
    assert!(matches!(p3, Program::Module(_)));
    assert!(note.unwrap().contains("does not map"));
}
