//! Fetch tests against a local HTTP server on 127.0.0.1.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{bytes, Route, Server};
use kiln::config::Config;
use kiln::fetch::Fetcher;
use kiln::fsutil::sha256_bytes;
use kiln::layout::Layout;
use kiln::progress::Progress;
use kiln::recipe::{Artifact, DebianFile};

fn artifact(file: &str, sha: &str, urls: Vec<String>) -> Artifact {
    Artifact {
        file: file.into(),
        sha256: sha.into(),
        urls,
        debian: None,
        alternates: vec![],
    }
}

fn fetcher(cache: &Path) -> Fetcher {
    let layout = Layout::with_dirs(cache, &cache.join("work"), cache);
    let mut f = Fetcher::new(&layout, Progress::hidden(), &Config::default()).unwrap();
    f.set_mirrors(vec![], vec![]);
    f.backoff = Duration::from_millis(10);
    f
}

fn files_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().ends_with(".lock"))
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

#[test]
fn downloads_verifies_and_caches() {
    let srv = Server::start();
    let data = bytes(300_000, 1);
    let sha = sha256_bytes(&data);
    srv.route("/a.tar.xz", Route::File(data.clone()));
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(cache.path());
    let p = f.fetch(&artifact("a.tar.xz", &sha, vec![srv.url("/a.tar.xz")])).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), data);
    assert_eq!(p, cache.path().join("sources").join(&sha).join("a.tar.xz"));
    // Second fetch is served from the cache: no new request, even offline.
    let n = srv.requests().len();
    let layout = Layout::with_dirs(cache.path(), &cache.path().join("work"), cache.path());
    let offline = Fetcher::new(&layout, Progress::hidden(), &offline_config()).unwrap();
    assert_eq!(offline.fetch(&artifact("a.tar.xz", &sha, vec![srv.url("/a.tar.xz")])).unwrap(), p);
    assert_eq!(srv.requests().len(), n);
}

#[test]
fn wrong_checksum_names_url_expected_actual_and_caches_nothing() {
    let srv = Server::start();
    let data = bytes(50_000, 2);
    let actual = sha256_bytes(&data);
    let expected = sha256_bytes(b"something else");
    srv.route("/b.tar.gz", Route::File(data));
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(cache.path());
    let url = srv.url("/b.tar.gz");
    let err = format!("{:#}", f.fetch(&artifact("b.tar.gz", &expected, vec![url.clone()])).unwrap_err());
    assert!(err.contains(&url), "{err}");
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains(&actual), "{err}");
    assert!(files_under(cache.path()).is_empty(), "cache holds {:?}", files_under(cache.path()));
}

#[test]
fn offline_without_cache_fails_clearly() {
    let cache = tempfile::tempdir().unwrap();
    let layout = Layout::with_dirs(cache.path(), cache.path(), cache.path());
    let f = Fetcher::new(&layout, Progress::hidden(), &offline_config()).unwrap();
    let sha = sha256_bytes(b"x");
    let err = format!(
        "{:#}",
        f.fetch(&artifact("x.tar", &sha, vec!["http://127.0.0.1:9/x.tar".into()]))
            .unwrap_err()
    );
    assert!(err.contains("--offline") && err.contains("x.tar"), "{err}");
}

#[test]
fn falls_back_from_404_mirror_to_upstream_then_to_debian_pool() {
    let srv = Server::start();
    let data = bytes(10_000, 3);
    let sha = sha256_bytes(&data);
    let cache = tempfile::tempdir().unwrap();
    let mut f = fetcher(cache.path());
    // Mirror and upstream 404; Debian's pool has it.
    f.set_mirrors(vec![srv.url("/mirror")], vec![srv.url("/debian")]);
    srv.route("/debian/pool/main/p/php8.4/php8.4_1.0.orig.tar.xz", Route::File(data.clone()));
    let mut a = artifact("php-1.0.tar.xz", &sha, vec![srv.url("/upstream/php-1.0.tar.xz")]);
    a.debian = Some(DebianFile {
        package: "php8.4".into(),
        file: "php8.4_1.0.orig.tar.xz".into(),
        component: "main".into(),
    });
    let p = f.fetch(&a).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), data);
    let paths: Vec<(String, u16)> = srv.requests().into_iter().map(|r| (r.path, r.status)).collect();
    assert_eq!(
        paths,
        vec![
            ("/mirror/php-1.0.tar.xz".to_string(), 404),
            ("/upstream/php-1.0.tar.xz".to_string(), 404),
            ("/debian/pool/main/p/php8.4/php8.4_1.0.orig.tar.xz".to_string(), 200),
        ]
    );
}

#[test]
fn mirror_is_tried_before_upstream() {
    let srv = Server::start();
    let data = bytes(10_000, 4);
    let sha = sha256_bytes(&data);
    srv.route("/m/c.tar.xz", Route::File(data.clone()));
    srv.route("/up/c.tar.xz", Route::File(data));
    let cache = tempfile::tempdir().unwrap();
    let mut f = fetcher(cache.path());
    f.set_mirrors(vec![srv.url("/m/")], vec![]);
    f.fetch(&artifact("c.tar.xz", &sha, vec![srv.url("/up/c.tar.xz")])).unwrap();
    let paths: Vec<String> = srv.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/m/c.tar.xz"]);
}

#[test]
fn cut_connection_resumes_with_range() {
    let srv = Server::start();
    let data = bytes(1_000_000, 5);
    let sha = sha256_bytes(&data);
    srv.route(
        "/d.tar.xz",
        Route::CutOnce {
            data: data.clone(),
            cut_at: 400_000,
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(cache.path());
    let p = f.fetch(&artifact("d.tar.xz", &sha, vec![srv.url("/d.tar.xz")])).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), data);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].range, None);
    let resumed_from: usize = reqs[1]
        .range
        .as_deref()
        .unwrap()
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(resumed_from > 0 && resumed_from <= 400_000, "resumed from {resumed_from}");
    assert_eq!(reqs[1].status, 206);
    assert!(!files_under(cache.path()).iter().any(|f| f.ends_with(".partial")));
}

#[test]
fn accepts_an_alternate_origin_with_its_own_checksum() {
    let srv = Server::start();
    let repack = bytes(5_000, 6);
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(cache.path());
    srv.route("/deb/r.orig.tar.xz", Route::File(repack.clone()));
    let mut a = artifact("r.tar.xz", &sha256_bytes(b"upstream"), vec![srv.url("/r.tar.xz")]);
    a.alternates.push(kiln::recipe::Alternate {
        file: "r.orig.tar.xz".into(),
        sha256: sha256_bytes(&repack),
        urls: vec![srv.url("/deb/r.orig.tar.xz")],
        debian: None,
        note: "repack".into(),
    });
    let p = f.fetch(&a).unwrap();
    assert!(p.ends_with(format!("{}/r.orig.tar.xz", sha256_bytes(&repack))));
}

/// Two processes fetch the same file at once: one downloads, the other
/// waits on the lock and finds it cached. The body is served once.
#[test]
fn two_processes_fetch_the_same_file() {
    let srv = Server::start();
    let data = bytes(600_000, 7);
    let sha = sha256_bytes(&data);
    srv.route(
        "/e.tar.xz",
        Route::Slow {
            data: data.clone(),
            chunk: 60_000,
            delay: Duration::from_millis(40),
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let spawn = || {
        Command::new(&exe)
            .args(["--exact", "fetch::concurrent_fetch_helper", "--nocapture", "--test-threads=1"])
            .env("KILN_TEST_HELPER_URL", srv.url("/e.tar.xz"))
            .env("KILN_TEST_HELPER_SHA", &sha)
            .env("KILN_TEST_HELPER_CACHE", cache.path())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let full_gets = srv.requests().iter().filter(|r| r.path == "/e.tar.xz" && r.range.is_none()).count();
    assert_eq!(full_gets, 1, "{:?}", srv.requests());
    assert_eq!(
        std::fs::read(cache.path().join("sources").join(&sha).join("e.tar.xz")).unwrap(),
        data
    );
}

/// Child side of `two_processes_fetch_the_same_file` (no-op otherwise).
#[test]
fn concurrent_fetch_helper() {
    let Ok(url) = std::env::var("KILN_TEST_HELPER_URL") else {
        return;
    };
    let sha = std::env::var("KILN_TEST_HELPER_SHA").unwrap();
    let cache = std::path::PathBuf::from(std::env::var("KILN_TEST_HELPER_CACHE").unwrap());
    let f = fetcher(&cache);
    let p = f.fetch(&artifact("e.tar.xz", &sha, vec![url])).unwrap();
    assert_eq!(kiln::fsutil::sha256_file(&p).unwrap(), sha);
}

#[test]
fn parses_apt_sources_both_formats() {
    let deb822 = "Types: deb\n# http://old.example/debian\nURIs: http://archive.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://sec.example/debian-security\nEnabled: no\n";
    assert_eq!(kiln::fetch::parse_apt_sources(deb822, true), vec!["http://archive.example/debian"]);
    let one_line = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://a.example/debian/ bookworm main\ndeb-src http://b.example/debian bookworm main\ndeb cdrom:[x]/ bookworm main\n";
    assert_eq!(
        kiln::fetch::parse_apt_sources(one_line, false),
        vec!["http://a.example/debian", "http://b.example/debian"]
    );
}

fn offline_config() -> Config {
    Config {
        offline: true,
        ..Config::default()
    }
}
