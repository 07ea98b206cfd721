//! File-system helpers every stage shares: content hashes, atomic writes,
//! tree copies and directory swaps, and the one advisory lock kiln uses
//! (builds, downloads).

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// sha256 of bytes, hex.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Write via a temporary file + rename, so readers never see a torn file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Copy a file or a directory tree (symlinks copied as links).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).with_context(|| format!("reading {}", from.display()))?;
    if meta.is_file() {
        if let Some(p) = to.parent() {
            fs::create_dir_all(p)?;
        }
        fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        return Ok(());
    }
    for e in walkdir::WalkDir::new(from) {
        let e = e?;
        let rel = e.path().strip_prefix(from).expect("walk stays under root");
        let dst = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&dst)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(e.path())?;
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst)?;
        } else {
            fs::copy(e.path(), &dst).with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Replace `to` with the directory `from` (a rename; `from` is gone after).
pub fn replace_dir_with_move(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("removing {}", to.display()))?;
    }
    if let Some(p) = to.parent() {
        fs::create_dir_all(p)?;
    }
    fs::rename(from, to).with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// Replace `to` with a copy of `from`, through `<to>.partial`.
pub fn replace_dir_with_copy(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("partial");
    let _ = fs::remove_dir_all(&tmp);
    copy_tree(from, &tmp)?;
    replace_dir_with_move(&tmp, to)
}

/// Remove a file or a directory tree if it exists.
pub fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display())),
        Ok(_) => fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        Err(_) => Ok(()),
    }
}

/// An exclusive advisory lock on a file, held while the value lives.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Lock `path` (created if missing). If another process or thread
    /// holds it, `on_wait` is called once and the call blocks.
    pub fn acquire(path: &Path, on_wait: impl FnOnce()) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        if file.try_lock().is_err() {
            on_wait();
            file.lock().with_context(|| format!("locking {}", path.display()))?;
        }
        Ok(FileLock { _file: file })
    }
}

/// A content stamp: the sha256 of `parts` joined by a separator no part
/// contains. Plans, native builds and toolchain caches are keyed by one.
pub fn stamp(parts: &[&str]) -> String {
    sha256_bytes(parts.join("\u{1}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_agree_for_bytes_and_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"kiln").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), sha256_bytes(b"kiln"));
        assert_eq!(
            sha256_bytes(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn copy_tree_keeps_symlinks_and_replace_swaps_whole_dirs() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        fs::create_dir_all(a.join("sub")).unwrap();
        fs::write(a.join("sub/x"), "x").unwrap();
        std::os::unix::fs::symlink("sub/x", a.join("link")).unwrap();
        let b = d.path().join("b");
        fs::create_dir_all(&b).unwrap();
        fs::write(b.join("stale"), "old").unwrap();
        replace_dir_with_copy(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(b.join("sub/x")).unwrap(), "x");
        assert!(b.join("link").is_symlink());
        assert!(!b.join("stale").exists(), "the old tree is replaced, not merged");
        assert!(!d.path().join("b.partial").exists());
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.lock");
        let first = FileLock::acquire(&p, || panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let _second = FileLock::acquire(&p2, || tx.send("waited").unwrap()).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "waited");
        drop(first);
        t.join().unwrap();
    }
}
