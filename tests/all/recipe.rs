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

#[test]
fn a_family_resolves_each_version_over_the_default() {
    let dir = repo().join("recipes");
    let php = kiln::recipe::find(&dir, "php").unwrap();
    assert_eq!(
        (php.version.as_str(), php.variant.as_deref(), php.slug()),
        ("8.4.16", None, "php".to_string())
    );
    for spec in ["php@8.4", "php@8.4.16"] {
        assert!(kiln::recipe::find(&dir, spec).unwrap().variant.is_none(), "{spec}");
    }
    for spec in ["php@8.2", "php@8.2.32"] {
        let r = kiln::recipe::find(&dir, spec).unwrap();
        assert_eq!(
            (r.version.as_str(), r.series.as_str(), r.slug()),
            ("8.2.32", "8.2", "php-8.2".to_string())
        );
        // The source is the version's own, whole (no inherited alternates).
        assert_eq!(r.source.artifact.file, "php-8.2.32.tar.xz");
        // Everything else comes from the default.
        assert_eq!(r.build.configure, php.build.configure);
        assert_eq!(r.flavor.keys().collect::<Vec<_>>(), php.flavor.keys().collect::<Vec<_>>());
        assert!(r.run.snapshot.is_some() && r.conformance.is_some());
    }
    let ruby = kiln::recipe::find(&dir, "ruby@3.4").unwrap();
    assert!(ruby.source.artifact.alternates.is_empty());
    let ext = ruby.build.configure.iter().find(|a| a.starts_with("--with-ext=")).unwrap();
    assert!(!ext.contains("bigdecimal") && ext.contains("psych"), "{ext}");
    assert_eq!(ruby.build.configure.iter().filter(|a| a.starts_with("--with-ext=")).count(), 1);
    let err = format!("{:#}", kiln::recipe::find(&dir, "php@7.4").unwrap_err());
    assert!(
        err.contains("php@7.4") && err.contains("8.4.16 (default)") && err.contains("8.2.32"),
        "{err}"
    );
}

#[test]
fn a_broken_version_table_is_an_error_naming_it() {
    let cases = [
        // An unknown key inside the version's table.
        (
            "[versions.\"8.2\"]\nversion = \"8.2.32\"\n",
            "[versions.\"8.2\"]\nversion = \"8.2.32\"\nsereis = \"x\"\n",
            "sereis",
        ),
        // Removing an element the default does not have.
        (
            "[versions.\"8.2\"]\nversion = \"8.2.32\"\n",
            "[versions.\"8.2\"]\nversion = \"8.2.32\"\nbuild = { \"configure-\" = [\"--enable-nothing\"] }\n",
            "--enable-nothing",
        ),
    ];
    for (find, replace, word) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = fs::read_to_string(repo().join("recipes/php.toml")).unwrap();
        assert!(text.contains(find), "{find}");
        let p = dir.path().join("php.toml");
        fs::write(&p, text.replacen(find, replace, 1)).unwrap();
        let err = format!("{:#}", Recipe::load(&p).unwrap_err());
        assert!(
            err.contains("[versions.\"8.2\"]") && err.contains(word) && err.contains("php.toml:"),
            "{err}"
        );
    }
}

#[test]
fn every_host_program_a_recipe_names_has_a_debian_package() {
    let tr = ToolchainRecipe::load(&repo().join("recipes/toolchain.toml")).unwrap();
    let mut named = 0;
    for r in kiln::recipe::load_all(&repo().join("recipes")).unwrap() {
        for p in &r.build.host_programs {
            named += 1;
            assert!(
                tr.host.iter().any(|h| &h.command == p),
                "recipe {} names host program {p}, which has no [[host]] entry in recipes/toolchain.toml",
                r.name
            );
        }
    }
    assert!(named >= 3, "sqlite3's tclsh and cc, openssl's perl: {named}");
}
