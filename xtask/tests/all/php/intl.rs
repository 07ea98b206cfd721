//! The `full` flavour: the default flavour plus intl on ICU, whose data
//! archive the guest reads from the output tree's `lib/icu/` at run time.

use std::sync::OnceLock;

use crate::support::{repo, run_in, run_with, text, xtask};

pub(super) fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = xtask(&["build", "php", "--flavor", "full"], repo());
        assert!(out.status.success(), "build failed:\n{}", text(&out));
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(path.ends_with("out/php-8.4.16-full/bin/php.wasm"), "{path}");
        let data = std::path::Path::new(&path)
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("lib/icu/76.1/icudt76l.dat");
        assert!(data.is_file(), "{} missing", data.display());
    });
}

fn full(args: &[&str]) -> (i32, String, String) {
    full_in(repo(), &[], args)
}

/// `run php --flavor full <run_flags> -- <args>` in `cwd`.
pub(super) fn full_in(cwd: &std::path::Path, run_flags: &[&str], args: &[&str]) -> (i32, String, String) {
    built();
    let flags: Vec<&str> = ["--flavor", "full"].iter().chain(run_flags).copied().collect();
    run_with("php", cwd, &flags, args)
}

#[test]
#[ignore = "slow tier: builds ICU and PHP's full flavour"]
fn php_m_lists_intl_beside_the_default_extensions() {
    let (code, out, err) = full(&["-m"]);
    assert_eq!(code, 0, "{err}");
    let mods: Vec<&str> = out.lines().collect();
    for m in ["intl", "dom", "openssl", "sodium", "gd", "pdo_sqlite", "mbstring"] {
        assert!(mods.contains(&m), "{m} missing from php -m:\n{out}");
    }
    // The default flavour stays without it.
    let (_, out, _) = run_in("php", repo(), &["-r", "echo extension_loaded('intl') ? 'intl' : 'no intl';"]);
    assert_eq!(out, "no intl");
}

#[test]
#[ignore = "slow tier: builds ICU and PHP's full flavour"]
fn normalizer_number_formatter_and_collator_give_icus_answers() {
    let (code, out, err) = full(&[
        "-r",
        r#"
echo INTL_ICU_VERSION, ' ', INTL_ICU_DATA_VERSION, "\n";
echo bin2hex(Normalizer::normalize("e\u{0301}", Normalizer::FORM_C)), ' ',
     bin2hex(Normalizer::normalize("\u{00e9}", Normalizer::FORM_D)), "\n";
echo (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234567.891), ' | ',
     (new NumberFormatter('en_IN', NumberFormatter::DECIMAL))->format(1234567.891), ' | ',
     (new NumberFormatter('de_DE', NumberFormatter::CURRENCY))->formatCurrency(1234.5, 'EUR'), "\n";
$w = ['z', 'ä', 'a', 'o', 'ö'];
$de = $w; (new Collator('de_DE'))->sort($de);
$sv = $w; (new Collator('sv_SE'))->sort($sv);
echo implode(',', $de), ' | ', implode(',', $sv), "\n";
echo Locale::getDisplayName('de_CH', 'fr'), ' | ', idn_to_ascii('bücher.example'), ' | ',
     transliterator_transliterate('Any-Latin; Latin-ASCII', 'Привет, мир'), "\n";
$f = new IntlDateFormatter('fr_FR', IntlDateFormatter::LONG, IntlDateFormatter::NONE, 'UTC');
echo $f->format(0), ' | ', (new MessageFormatter('en', '{n, plural, one{# file} other{# files}}'))->format(['n' => 3]), "\n";
"#,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "76.1 76.1", "{out}");
    assert_eq!(lines[1], "c3a9 65cc81");
    // de_DE groups with '.', en_IN in lakhs; the currency sign follows a
    // no-break space.
    assert_eq!(lines[2], "1.234.567,891 | 12,34,567.891 | 1.234,50\u{a0}€");
    // German sorts ä with a, Swedish after z.
    assert_eq!(lines[3], "a,ä,o,ö,z | a,o,z,ä,ö");
    assert_eq!(lines[4], "allemand (Suisse) | xn--bcher-kva.example | Privet, mir");
    assert_eq!(lines[5], "1 janvier 1970 | 3 files");
}

#[test]
#[ignore = "slow tier: builds ICU and PHP's full flavour"]
fn the_release_tarball_carries_the_icu_data() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &["release", "php", "--flavor", "full", "--out", dir.path().to_str().unwrap()],
        repo(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let tar = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("a tarball");
    let list = crate::support::host_tool("tar", &["tzf", tar.to_str().unwrap()], dir.path());
    assert!(list.lines().any(|l| l.ends_with("lib/icu/76.1/icudt76l.dat")), "{list}");
}

#[test]
#[ignore = "slow tier: builds ICU and PHP's full flavour, runs ext/intl/tests"]
fn the_full_flavour_adds_intls_own_tests_to_the_subset() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    let out = xtask(
        &[
            "test",
            "php",
            "--flavor",
            "full",
            "--filter",
            "ext/intl/*",
            "--report",
            r.to_str().unwrap(),
        ],
        repo(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("php-phpt.json")).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert!(tests.len() > 400, "{} intl tests", tests.len());
    assert!(tests.iter().all(|t| t["name"].as_str().unwrap().starts_with("ext/intl/tests/")));
    let pass = tests.iter().filter(|t| t["outcome"] == "pass").count();
    assert!(pass * 4 > tests.len() * 3, "{pass} of {} passed", tests.len());
}
