//! Recipes parse strictly and plans derive from them without a toolchain.

use std::fs;
use std::path::PathBuf;

use kiln::recipe::{Recipe, ToolchainRecipe};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_recipe_in_the_repo_parses() {
    let all = kiln::recipe::load_all(&repo().join("recipes")).unwrap();
    assert!(all.iter().any(|r| r.name == "php" && r.version == "8.4.16"));
    ToolchainRecipe::load(&repo().join("recipes/toolchain.toml")).unwrap();
}

#[test]
fn unknown_key_is_an_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("recipes/php.toml")).unwrap();
    let bad = text.replacen("[build]\n", "[build]\nconfigur = []\n", 1);
    let line = bad.lines().position(|l| l.starts_with("configur =")).unwrap() + 1;
    let p = dir.path().join("php.toml");
    fs::write(&p, bad).unwrap();
    let err = format!("{:#}", Recipe::load(&p).unwrap_err());
    assert!(err.starts_with(&format!("{}:{line}:", p.display())), "{err}");
    assert!(err.contains("configur"), "{err}");
}

#[test]
fn bad_checksum_text_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("recipes/php.toml")).unwrap();
    let p = dir.path().join("php.toml");
    fs::write(
        &p,
        text.replace("f66f8f48db34e9e29f7bfd6901178e9cf4a1b163e6e497716dfcb8f88bcfae30", "f66f"),
    )
    .unwrap();
    assert!(format!("{:#}", Recipe::load(&p).unwrap_err()).contains("64 lowercase hex"));
}

fn with_line(find: &str, replace: &str) -> (tempfile::TempDir, PathBuf, usize) {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("recipes/php.toml")).unwrap();
    assert!(text.contains(find), "{find}");
    let bad = text.replacen(find, replace, 1);
    let line = bad.lines().position(|l| l.contains(replace.trim())).unwrap() + 1;
    let p = dir.path().join("php.toml");
    fs::write(&p, bad).unwrap();
    (dir, p, line)
}

#[test]
fn unknown_build_system_and_runner_are_rejected_at_parse_time() {
    for (find, replace, word) in [
        ("system = \"autoconf\"", "system = \"cmake-ish\"", "cmake-ish"),
        ("runner = \"phpt\"", "runner = \"pytest\"", "pytest"),
    ] {
        let (_d, p, line) = with_line(find, replace);
        let err = format!("{:#}", Recipe::load(&p).unwrap_err());
        assert!(err.starts_with(&format!("{}:{line}:", p.display())), "{err}");
        assert!(err.contains(word), "{err}");
    }
}

#[test]
fn a_run_snapshot_without_its_check_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("recipes/php.toml")).unwrap();
    let find = "check = \"kiln_cli_fits\"\n";
    assert!(text.contains(find));
    let p = dir.path().join("php.toml");
    fs::write(&p, text.replacen(find, "", 1)).unwrap();
    let err = format!("{:#}", Recipe::load(&p).unwrap_err());
    assert!(err.contains("[run.snapshot] needs `check`"), "{err}");
    assert!(err.contains(&p.display().to_string()), "{err}");
}
