//! Safe unpacking and patch application.

use std::fs;
use std::path::Path;

fn tar_with(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Write the raw name so `..` and absolute paths survive.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn unpack_bytes(tar: &[u8]) -> (tempfile::TempDir, anyhow::Result<()>) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("t.tar");
    fs::write(&archive, tar).unwrap();
    let res = kiln::source::unpack(&archive, &dir.path().join("out"), 1);
    (dir, res)
}

fn no_output(dir: &Path) {
    assert!(!dir.join("out").exists(), "destination must not exist after a refused archive");
    assert!(!dir.join("evil").exists() && !dir.parent().unwrap().join("evil").exists());
}

#[test]
fn unpacks_and_strips_the_top_directory() {
    let t = tar_with(&[
        ("pkg-1.0/a.txt", tar::EntryType::Regular, b"A", None),
        ("pkg-1.0/sub/b.txt", tar::EntryType::Regular, b"B", None),
        ("pkg-1.0/link", tar::EntryType::Symlink, b"", Some("sub/b.txt")),
    ]);
    let (dir, res) = unpack_bytes(&t);
    res.unwrap();
    assert_eq!(fs::read(dir.path().join("out/a.txt")).unwrap(), b"A");
    assert_eq!(fs::read(dir.path().join("out/link")).unwrap(), b"B");
}

#[test]
fn refuses_parent_dir_escape() {
    let t = tar_with(&[
        ("pkg/ok", tar::EntryType::Regular, b"ok", None),
        ("pkg/../../evil", tar::EntryType::Regular, b"x", None),
    ]);
    let (dir, res) = unpack_bytes(&t);
    let err = format!("{:#}", res.unwrap_err());
    assert!(err.contains("refused") && err.contains("evil"), "{err}");
    no_output(dir.path());
}

#[test]
fn refuses_absolute_paths() {
    let t = tar_with(&[("/tmp/kiln-evil-abs", tar::EntryType::Regular, b"x", None)]);
    let (dir, res) = unpack_bytes(&t);
    assert!(format!("{:#}", res.unwrap_err()).contains("refused"));
    assert!(!Path::new("/tmp/kiln-evil-abs").exists());
    no_output(dir.path());
}

#[test]
fn refuses_symlinks_that_escape() {
    for target in ["../../../etc", "/etc"] {
        let t = tar_with(&[("pkg/esc", tar::EntryType::Symlink, b"", Some(target))]);
        let (dir, res) = unpack_bytes(&t);
        let err = format!("{:#}", res.unwrap_err());
        assert!(err.contains("refused") && err.contains("escapes"), "{target}: {err}");
        no_output(dir.path());
    }
}

#[test]
fn refuses_writing_through_an_inner_symlink() {
    // A symlink that stays inside, then a file written "through" it.
    let t = tar_with(&[
        ("pkg/d", tar::EntryType::Symlink, b"", Some(".")),
        ("pkg/d/f", tar::EntryType::Regular, b"x", None),
    ]);
    let (dir, res) = unpack_bytes(&t);
    assert!(format!("{:#}", res.unwrap_err()).contains("symlink"));
    no_output(dir.path());
}

#[test]
fn refuses_hard_links_that_escape() {
    let t = tar_with(&[("pkg/h", tar::EntryType::Link, b"", Some("../../etc/passwd"))]);
    let (dir, res) = unpack_bytes(&t);
    assert!(format!("{:#}", res.unwrap_err()).contains("refused"));
    no_output(dir.path());
}

fn tree_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let f = d.path().join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, c).unwrap();
    }
    d
}

const GOOD: &str = "--- a/hello.c\n+++ b/hello.c\n@@ -1,3 +1,3 @@\n int main(void) {\n-    return 1;\n+    return 0;\n }\n";
const BAD: &str = "--- a/other.c\n+++ b/other.c\n@@ -1,3 +1,3 @@\n void f(void) {\n-    old();\n+    new();\n }\n";

#[test]
fn applies_a_series_in_order() {
    let tree = tree_with(&[("hello.c", "int main(void) {\n    return 1;\n}\n")]);
    let pdir = tempfile::tempdir().unwrap();
    fs::write(pdir.path().join("0001-ret.patch"), GOOD).unwrap();
    let series = kiln::source::patch_series(pdir.path()).unwrap();
    kiln::source::apply_patches(tree.path(), &series, &pdir.path().join("logs")).unwrap();
    assert!(fs::read_to_string(tree.path().join("hello.c")).unwrap().contains("return 0;"));
}

#[test]
fn failing_patch_names_patch_file_and_hunk_and_changes_nothing() {
    let original_hello = "int main(void) {\n    return 1;\n}\n";
    let original_other = "void f(void) {\n    something_else();\n}\n";
    let tree = tree_with(&[("hello.c", original_hello), ("other.c", original_other)]);
    let pdir = tempfile::tempdir().unwrap();
    fs::write(pdir.path().join("0001-ret.patch"), GOOD).unwrap();
    fs::write(pdir.path().join("0002-other.patch"), BAD).unwrap();
    let series = kiln::source::patch_series(pdir.path()).unwrap();
    let err = format!(
        "{:#}",
        kiln::source::apply_patches(tree.path(), &series, &pdir.path().join("logs")).unwrap_err()
    );
    assert!(err.contains("0002-other.patch"), "{err}");
    assert!(err.contains("other.c"), "{err}");
    assert!(err.contains("Hunk #1 FAILED"), "{err}");
    // The first patch applied cleanly, but nothing changes unless all do.
    assert_eq!(fs::read_to_string(tree.path().join("hello.c")).unwrap(), original_hello);
    assert_eq!(fs::read_to_string(tree.path().join("other.c")).unwrap(), original_other);
}
