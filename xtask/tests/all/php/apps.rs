//! Real PHP tools, as a user runs them: Composer and PHPUnit from Debian's
//! archive (pinned in `tests/apps/php-tools.toml`), unpacked on the host and
//! mapped into the guest at `/usr`, working on a small project in the
//! current directory; on the full flavour (the project's code uses intl)
//! and on the default one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::intl::full_in;
use crate::support::{dir_with, host_tool, repo, xtask};

#[derive(serde::Deserialize)]
struct Debs {
    deb: Vec<kiln::recipe::Artifact>,
}

/// The packages listed in `tests/apps/<list>`, fetched through kiln's
/// fetcher (cache, mirrors, Debian's pool; each verified against its
/// sha256) and unpacked into one root under the build directory.
pub(super) fn debs_root(list: &str) -> PathBuf {
    let path = repo().join("tests/apps").join(list);
    let debs: Debs = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let config = kiln::config::Config::from_env().unwrap();
    let layout = kiln::layout::Layout::new(repo(), &config).unwrap();
    let fetcher = kiln::fetch::Fetcher::new(&layout, kiln::progress::Progress::hidden(), &config).unwrap();
    let root = layout.build_root().join(list.trim_end_matches(".toml"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    for deb in &debs.deb {
        let file = fetcher.fetch(deb).unwrap_or_else(|e| panic!("fetching {}: {e:#}", deb.file));
        host_tool("dpkg-deb", &["-x", file.to_str().unwrap(), root.to_str().unwrap()], &root);
    }
    root
}

/// Composer, PHPUnit and their libraries.
fn tools_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| debs_root("php-tools.toml"))
}

const SLUG: &str = r#"<?php
namespace Demo;

final class Slug
{
    public static function of(string $s): string
    {
        $s = \Normalizer::normalize($s, \Normalizer::FORM_KD);
        $s = preg_replace('/\p{Mn}+/u', '', $s);
        return trim(preg_replace('/[^a-z0-9]+/', '-', mb_strtolower($s)), '-');
    }

    public static function toXml(array $items): string
    {
        $w = new \XMLWriter();
        $w->openMemory();
        $w->startElement('slugs');
        foreach ($items as $i) {
            $w->writeElement('slug', self::of($i));
        }
        $w->endElement();
        return $w->outputMemory();
    }
}
"#;

const SLUG_TEST: &str = r#"<?php
namespace Demo\Tests;

use Demo\Slug;
use PHPUnit\Framework\Attributes\DataProvider;
use PHPUnit\Framework\TestCase;

final class SlugTest extends TestCase
{
    public static function cases(): array
    {
        return [['Crème Brûlée', 'creme-brulee'], ['  Hello, World! ', 'hello-world'], ['Ñandú 2024', 'nandu-2024']];
    }

    #[DataProvider('cases')]
    public function testOf(string $in, string $out): void
    {
        $this->assertSame($out, Slug::of($in));
    }

    public function testXml(): void
    {
        $doc = new \DOMDocument();
        $doc->loadXML(Slug::toXml(['A b', 'C d']));
        $this->assertSame('c-d', $doc->getElementsByTagName('slug')->item(1)->textContent);
    }

    public function testFailsOnPurpose(): void
    {
        $this->assertSame('x', Slug::of('Y'));
    }
}
"#;

const MATH_TEST: &str = r#"<?php
namespace Demo\Tests;

use PHPUnit\Framework\TestCase;

final class MathTest extends TestCase
{
    public function testJsonAndMbstring(): void
    {
        $this->assertSame('{"a":[1,2]}', json_encode(['a' => [1, 2]]));
        $this->assertSame(5, mb_strlen('héllo'));
    }
}
"#;

const COMPOSER_JSON: &str = r#"{
    "name": "kiln/demo",
    "description": "A demo project",
    "type": "project",
    "license": "MIT",
    "require": { "php": ">=8.2" },
    "autoload": { "psr-4": { "Demo\\": "src/" } },
    "autoload-dev": { "psr-4": { "Demo\\Tests\\": "tests/" } }
}
"#;

const PHPUNIT_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<phpunit bootstrap="vendor/autoload.php" colors="false" cacheDirectory=".phpunit.cache">
  <testsuites><testsuite name="demo"><directory>tests</directory></testsuite></testsuites>
</phpunit>
"#;

#[test]
#[ignore = "slow tier: builds PHP's full flavour and fetches Composer and PHPUnit from Debian's archive"]
fn composer_and_phpunit_from_debian_run_a_project() {
    let root = tools_root();
    let d = dir_with(&[
        ("composer.json", COMPOSER_JSON),
        ("phpunit.xml", PHPUNIT_XML),
        ("src/Slug.php", SLUG),
        ("tests/SlugTest.php", SLUG_TEST),
        ("tests/MathTest.php", MATH_TEST),
        (
            "run.php",
            "<?php require 'vendor/autoload.php'; echo Demo\\Slug::toXml(['Façade Ünïcode']), \"\\n\";",
        ),
    ]);
    let usr = format!("{}::/usr", root.join("usr").display());
    // The host's CA bundle: Composer refuses to start without one.
    let flags = [
        "--dir",
        usr.as_str(),
        "--dir",
        "/etc/ssl::/etc/ssl",
        "--env",
        "COMPOSER_ALLOW_SUPERUSER=1",
        "--env",
        "HOME=/tmp",
    ];

    let (code, out, err) = full_in(d.path(), &flags, &["/usr/bin/composer", "--version"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let both = format!("{out}{err}");
    assert!(
        both.contains("Composer version 2.8.8") && both.contains("PHP version 8.4.16"),
        "{both}"
    );

    let (code, out, err) = full_in(d.path(), &flags, &["/usr/bin/composer", "validate"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(format!("{out}{err}").contains("./composer.json is valid"), "{out}\n{err}");

    let (code, out, err) = full_in(d.path(), &flags, &["/usr/bin/composer", "dump-autoload", "--dev"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(d.path().join("vendor/composer/autoload_psr4.php").is_file());
    let psr4 = std::fs::read_to_string(d.path().join("vendor/composer/autoload_psr4.php")).unwrap();
    assert!(psr4.contains("'Demo\\\\Tests\\\\'") && psr4.contains("'Demo\\\\'"), "{psr4}");

    // The autoloader Composer wrote serves a plain script.
    let (code, out, err) = full_in(d.path(), &[], &["run.php"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "<slugs><slug>facade-unicode</slug></slugs>\n");

    // PHPUnit: five tests, one failing on purpose (exit status 1), the
    // diff it prints, and its result cache written under a LOCK_EX.
    let (code, out, err) = full_in(d.path(), &flags, &["/usr/bin/phpunit"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("PHPUnit 11.5.19"), "{out}");
    assert!(out.contains("Tests: 6, Assertions: 7, Failures: 1."), "{out}");
    assert!(
        out.contains("Demo\\Tests\\SlugTest::testFailsOnPurpose") && out.contains("+'y'"),
        "{out}"
    );
    assert!(!out.contains("Warning") && !err.contains("Warning"), "{out}\n{err}");
    assert!(d.path().join(".phpunit.cache/test-results").is_file());

    // The default flavour (no intl) runs both tools too: Composer writes the
    // autoloader again, and PHPUnit runs the tests that do not use intl.
    std::fs::remove_dir_all(d.path().join("vendor")).unwrap();
    let default = |args: &[&str]| {
        let mut argv = vec!["run", "php"];
        argv.extend_from_slice(&flags);
        argv.push("--");
        argv.extend_from_slice(args);
        let o = xtask(&argv, d.path());
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (o.status.code().unwrap_or(-1), text)
    };
    let (code, text) = default(&["/usr/bin/composer", "validate"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("./composer.json is valid"), "{text}");
    let (code, text) = default(&["/usr/bin/composer", "dump-autoload", "--dev"]);
    assert_eq!(code, 0, "{text}");
    assert!(d.path().join("vendor/autoload.php").is_file());
    let (code, text) = default(&["/usr/bin/phpunit", "--filter", "MathTest"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("OK (1 test, 2 assertions)"), "{text}");
    let wasm_psr4 = std::fs::read_to_string(d.path().join("vendor/composer/autoload_psr4.php")).unwrap();

    // The same commands on the native PHP built from the same tarball with
    // the same extensions and libraries (the native side of `test
    // --native`). Debian's packages require one another by absolute
    // /usr/share/php paths, so the native run sees them there through an
    // overlay in a private mount namespace (root; nothing changes outside
    // that process). Same output, once PHPUnit's time/memory line and the
    // host's paths are set aside.
    let out = xtask(&["test", "php", "--native", "ext/zlib/tests/001.phpt"], repo());
    assert!(out.status.success(), "{}", crate::support::text(&out));
    let native_php = repo().join("target/kiln/build/php-8.4.16/bench-native/src/sapi/cli/php");
    let home = tempfile::tempdir().unwrap();
    let native = |args: &str| {
        let script = format!(
            "mount -t overlay kiln-php-tools -o lowerdir={}:/usr/share /usr/share && exec {} -n {args}",
            root.join("usr/share").display(),
            native_php.display()
        );
        let o = std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .current_dir(d.path())
            .env("COMPOSER_ALLOW_SUPERUSER", "1")
            .env("HOME", home.path())
            .output()
            .expect("unshare (util-linux) runs the native side in its own mount namespace");
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (o.status.code().unwrap_or(-1), text)
    };
    let same = |s: &str| -> String {
        s.replace(&format!("{}/", d.path().display()), "/")
            .replace(&root.join("usr").display().to_string(), "/usr")
            .lines()
            .filter(|l| !l.starts_with("Time: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let composer = root.join("usr/bin/composer").display().to_string();
    let phpunit = root.join("usr/bin/phpunit").display().to_string();
    let (n_code, n_text) = native(&format!("{composer} validate"));
    let (w_code, w_text) = default(&["/usr/bin/composer", "validate"]);
    assert_eq!(
        (w_code, same(&w_text)),
        (n_code, same(&n_text)),
        "composer validate: wasm vs native"
    );
    std::fs::remove_dir_all(d.path().join("vendor")).unwrap();
    let (n_code, n_text) = native(&format!("{composer} dump-autoload --dev"));
    assert_eq!(n_code, 0, "{n_text}");
    let native_psr4 = std::fs::read_to_string(d.path().join("vendor/composer/autoload_psr4.php")).unwrap();
    assert_eq!(wasm_psr4, native_psr4, "the autoloaders Composer wrote, wasm vs native");
    let (n_code, n_text) = native(&format!("{phpunit} --filter MathTest"));
    let (w_code, w_text) = default(&["/usr/bin/phpunit", "--filter", "MathTest"]);
    assert_eq!((w_code, same(&w_text)), (n_code, same(&n_text)), "phpunit: wasm vs native");
}
