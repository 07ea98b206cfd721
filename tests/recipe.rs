//! Recipes parse strictly and plans derive from them without a toolchain.

use std::fs;
use std::path::{Path, PathBuf};

use kiln::layout::Layout;
use kiln::plan::{plan, PlanOptions, ToolchainView};
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

fn copy_repo(to: &Path) {
    for d in ["recipes", "patches", "shims"] {
        kiln::build::copy_tree(&repo().join(d), &to.join(d)).unwrap();
    }
}

fn php_plan(root: &Path, flavor: Option<&str>) -> kiln::plan::BuildPlan {
    let layout = Layout::with_dirs(root, &root.join("target/kiln"), &root.join("cache"));
    let r = kiln::recipe::find(&layout.recipes(), "php").unwrap();
    plan(
        &layout,
        &r,
        ToolchainView::placeholder(),
        &PlanOptions {
            flavor: flavor.map(String::from),
            jobs: 2,
        },
    )
    .unwrap()
}

#[test]
fn php_plan_has_the_cross_configure_and_stable_layout() {
    let root = tempfile::tempdir().unwrap();
    copy_repo(root.path());
    let p = php_plan(root.path(), None);
    assert_eq!(p.id, "php-8.4.16");
    assert_eq!(p.module(), root.path().join("target/kiln/out/php-8.4.16/bin/php.wasm"));
    let cfg = p.configure.as_ref().unwrap().display();
    assert!(
        cfg.contains("--host=wasm32-wasip1") && cfg.contains("--disable-opcache") && cfg.contains("--enable-mbstring"),
        "{cfg}"
    );
    assert!(cfg.contains("-lsetjmp") && cfg.contains("-lkiln_shims"), "{cfg}");
    let slim = php_plan(root.path(), Some("slim"));
    assert_eq!(slim.id, "php-8.4.16-slim");
    assert!(slim.configure.as_ref().unwrap().display().contains("--disable-all"));
    assert_ne!(slim.out_stamp, p.out_stamp);
    assert!(p.render().contains("php8.4_8.4.16.orig.tar.xz") || p.render().contains("php-8.4.16.tar.xz"));
}

#[test]
fn stamps_change_with_a_patch_or_a_flag_and_only_then() {
    let root = tempfile::tempdir().unwrap();
    copy_repo(root.path());
    let a = php_plan(root.path(), None);
    assert_eq!(a.out_stamp, php_plan(root.path(), None).out_stamp, "planning twice must agree");
    // A flag.
    let rp = root.path().join("recipes/php.toml");
    let text = fs::read_to_string(&rp).unwrap();
    fs::write(
        &rp,
        text.replace("\"--enable-exif\",", "\"--enable-exif\", \"--disable-short-tags\","),
    )
    .unwrap();
    let b = php_plan(root.path(), None);
    assert_ne!(a.tree_stamp, b.tree_stamp);
    fs::write(&rp, &text).unwrap();
    // A patch.
    let series = root.path().join("patches/php/8.4");
    fs::create_dir_all(&series).unwrap();
    fs::write(series.join("9999-extra.patch"), "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+x\n").unwrap();
    let c = php_plan(root.path(), None);
    assert_ne!(a.tree_stamp, c.tree_stamp);
    assert_eq!(c.patches.last().unwrap().path.file_name().unwrap(), "9999-extra.patch");
}

#[test]
fn unknown_flavor_lists_known_ones() {
    let root = tempfile::tempdir().unwrap();
    copy_repo(root.path());
    let layout = Layout::with_dirs(root.path(), &root.path().join("t"), &root.path().join("c"));
    let r = kiln::recipe::find(&layout.recipes(), "php").unwrap();
    let err = plan(
        &layout,
        &r,
        ToolchainView::placeholder(),
        &PlanOptions {
            flavor: Some("huge".into()),
            jobs: 1,
        },
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("huge") && msg.contains("slim"), "{msg}");
}
