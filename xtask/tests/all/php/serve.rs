//! `cargo xtask serve php`: php-cgi.wasm behind kiln's HTTP server, driven
//! by a real HTTP client on 127.0.0.1 against the demo app in
//! tests/apps/serve (copied, because uploads write into it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::repo;

/// A running `cargo xtask serve`, stopped (SIGKILL) when dropped.
pub(super) struct Served {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Served {
    pub(super) fn start(docroot: &Path, flags: &[&str]) -> Served {
        super::built();
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(["serve", "php"])
            .arg(docroot)
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = c.spawn().expect("starting xtask serve");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = lines.next().expect("serve printed nothing").expect("reading serve's stdout");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Served {
            child: Some(child),
            addr,
            log,
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(super) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Wait (up to 10 s) for a log line containing `text`.
    pub(super) fn wait_for_log(&self, text: &str) {
        let t = Instant::now();
        while !self.log().iter().any(|l| l.contains(text)) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no log line with {text:?}: {:#?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (Ctrl-C), then the exit status.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
        assert!(ok.success());
        let t = Instant::now();
        loop {
            if let Some(s) = child.try_wait().expect("waiting for serve") {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "serve did not stop after SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A copy of tests/apps/serve in a fresh directory.
pub(super) fn app_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join("tests/apps/serve"), d.path());
    d
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

pub(super) fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A request sent byte for byte (no URL normalisation): status line.
fn raw_status(addr: SocketAddr, target: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or("").to_string()
}

fn cookie_of(r: &reqwest::blocking::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("PHPSESSID="))
        .map(|v| v.split(';').next().unwrap().to_string())
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn serves_a_php_app_the_way_a_user_checks_it() {
    let app = app_copy();
    let mut s = Served::start(
        app.path(),
        &["--timeout", "2", "--max-body-mib", "10", "--workers", "4", "--memory-mib", "400"],
    );
    let c = client();

    // A page renders, through the directory index.
    let r = c.get(s.url("/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = r.text().unwrap();
    assert!(body.contains("Hello from PHP 8.4.16 (cgi-fcgi)"), "{body}");

    // A form POST echoes its fields.
    let r = c
        .post(s.url("/form.php"))
        .form(&[("name", "Ada"), ("color", "blue & green")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "name=Ada\ncolor=blue & green\n");

    // A redirect.
    let r = c.get(s.url("/redirect.php")).send().unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/form.php?from=redirect");

    // A session counter with its cookie.
    let r = c.get(s.url("/session.php")).send().unwrap();
    let cookie = cookie_of(&r).expect("a session cookie");
    assert_eq!(r.text().unwrap(), "1\n");
    for want in ["2\n", "3\n"] {
        let r = c.get(s.url("/session.php")).header("cookie", &cookie).send().unwrap();
        assert_eq!(r.text().unwrap(), want);
    }

    // A multipart upload reaches $_FILES and move_uploaded_file.
    let data = "x".repeat(100_000);
    let form =
        reqwest::blocking::multipart::Form::new().part("file", reqwest::blocking::multipart::Part::text(data.clone()).file_name("a.txt"));
    let r = c.post(s.url("/upload.php")).multipart(form).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "stored a.txt 100000 bytes\n");
    assert_eq!(std::fs::read_to_string(app.path().join("uploads/a.txt")).unwrap(), data);

    // The front controller gets PATH_INFO.
    let r = c.get(s.url("/api/items/7")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let j: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(j["id"], 7);
    assert_eq!(j["path_info"], "/api/items/7");
    assert_eq!(j["script_name"], "/index.php");

    // CGI variables as PHP sees them.
    let r = c.get(s.url("/info.php?a=1&b=two")).header("x-demo", "yes").send().unwrap();
    let j: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    let sv = &j["server"];
    assert_eq!(j["get"]["b"], "two");
    assert_eq!(sv["REQUEST_URI"], "/info.php?a=1&b=two");
    assert_eq!(sv["HTTP_X_DEMO"], "yes");
    assert_eq!(sv["SERVER_PORT"], s.addr.port().to_string());
    assert_eq!(sv["REMOTE_ADDR"], "127.0.0.1");
    let root = std::fs::canonicalize(app.path()).unwrap();
    assert_eq!(sv["DOCUMENT_ROOT"], root.display().to_string());
    assert_eq!(sv["SCRIPT_FILENAME"], root.join("info.php").display().to_string());

    // A static file, with its content type.
    let r = c.get(s.url("/css/site.css")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css");
    assert!(r.text().unwrap().contains("font-family"));

    // Nothing outside the docroot.
    for target in [
        "/../../etc/passwd",
        "/%2e%2e/",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/css/..%2f..%2fetc/passwd",
    ] {
        let status = raw_status(s.addr, target);
        assert!(status.contains(" 403 ") || status.contains(" 400 "), "{target}: {status}");
    }
    std::os::unix::fs::symlink("/etc/passwd", app.path().join("passwd.txt")).unwrap();
    assert_eq!(c.get(s.url("/passwd.txt")).send().unwrap().status(), 403);

    // A runaway script is stopped within the timeout while others are
    // served.
    let t = Instant::now();
    let looping = {
        let (c, url) = (c.clone(), s.url("/loop.php"));
        std::thread::spawn(move || c.get(url).send().unwrap().status().as_u16())
    };
    std::thread::sleep(Duration::from_millis(300));
    let r = c.get(s.url("/api/items/1")).send().unwrap();
    assert_eq!(r.status(), 200, "served while the loop runs");
    let status = looping.join().unwrap();
    assert!(status == 500 || status == 504, "loop: {status}");
    assert!(t.elapsed() < Duration::from_secs(10), "the loop ran {:?}", t.elapsed());

    // A script blocked in a host call (sleep) gets 504 from the backstop.
    let t = Instant::now();
    let r = c.get(s.url("/sleep.php?s=20")).send().unwrap();
    assert_eq!(r.status(), 504);
    assert!(t.elapsed() < Duration::from_secs(15), "504 after {:?}", t.elapsed());

    // An allocation loop gets 500, stopped by PHP's memory_limit (128M) or,
    // without one, by the 400 MiB cap on the guest's memory; the server is
    // still up.
    for path in ["/alloc.php", "/alloc.php?unlimited=1"] {
        let r = c.get(s.url(path)).send().unwrap();
        assert_eq!(r.status(), 500, "{path}");
        assert_eq!(c.get(s.url("/")).send().unwrap().status(), 200);
    }

    // A body over --max-body-mib is refused before anything runs.
    let big = vec![b'a'; 50 << 20];
    let r = c.post(s.url("/form.php")).body(big).send().unwrap();
    assert_eq!(r.status(), 413);

    // One access-log line per request (read from the server's stdout by
    // another thread: give it a moment).
    for line in ["GET /api/items/7 200", "POST /form.php 413"] {
        s.wait_for_log(line);
    }

    // Ctrl-C drains a request in flight, then exits 0.
    let inflight = {
        let (c, url) = (c.clone(), s.url("/sleep.php?s=1"));
        std::thread::spawn(move || c.get(url).send().map(|r| r.status().as_u16()).unwrap_or(0))
    };
    std::thread::sleep(Duration::from_millis(300));
    let status = s.interrupt();
    assert!(status.success(), "serve exited with {status}");
    assert_eq!(inflight.join().unwrap(), 200, "the request in flight was answered");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn two_thousand_requests_at_concurrency_sixteen() {
    let app = app_copy();
    let s = Served::start(app.path(), &["--workers", "4"]);
    let clients = 16;
    let per_client = 125;
    let t = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (c, base) = (client(), s.url(""));
            std::thread::spawn(move || {
                let mut cookie: Option<String> = None;
                let mut sessions = 0;
                let mut errors = Vec::new();
                for n in 0..per_client {
                    let path = match n % 3 {
                        0 => "/".to_string(),
                        1 => format!("/api/items/{i}"),
                        _ => "/session.php".to_string(),
                    };
                    let mut req = c.get(format!("{base}{path}"));
                    if let Some(ck) = &cookie {
                        req = req.header("cookie", ck);
                    }
                    let r = match req.send() {
                        Ok(r) => r,
                        Err(e) => {
                            errors.push(format!("{path}: {e}"));
                            continue;
                        }
                    };
                    if r.status() != 200 {
                        errors.push(format!("{path}: {}", r.status()));
                        continue;
                    }
                    if path == "/session.php" {
                        if cookie.is_none() {
                            cookie = cookie_of(&r);
                        }
                        sessions += 1;
                        let got = r.text().unwrap();
                        if got.trim() != sessions.to_string() {
                            errors.push(format!("client {i}: session counter {got:?}, expected {sessions}"));
                        }
                    } else {
                        let body = r.text().unwrap();
                        if !body.contains("PHP 8.4.16") && !body.contains(&format!("\"id\":{i}")) {
                            errors.push(format!("{path}: unexpected body {body:.80}"));
                        }
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let elapsed = t.elapsed();
    let total = clients * per_client;
    eprintln!(
        "{total} requests at concurrency {clients} in {:.1} s: {:.0} req/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    assert!(errors.is_empty(), "{} errors: {:#?}", errors.len(), &errors[..errors.len().min(20)]);
    assert!(elapsed < Duration::from_secs(600), "took {elapsed:?}");
    let t = Instant::now();
    loop {
        let lines = s.log().iter().filter(|l| l.contains(" 200 ")).count();
        if lines >= total {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{lines} access-log lines for {total} requests"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Requests resumed from the snapshot of php-cgi's start-up share nothing
/// that must differ (randomness, session ids, time), and still read what
/// each request brings (its environment, its working directory, the
/// document root, which the snapshot never saw); without the snapshot the
/// answers have the same shape.
#[test]
#[ignore = "slow tier: builds PHP"]
fn snapshot_requests_share_no_state() {
    let app = app_copy();
    let root = std::fs::canonicalize(app.path()).unwrap();
    let mut seen: Vec<serde_json::Value> = Vec::new();
    for flags in [&["--env", "KILN_DEMO=yes"][..], &["--env", "KILN_DEMO=yes", "--no-snapshot"][..]] {
        let s = Served::start(app.path(), flags);
        let c = client();
        let snapshot = !flags.contains(&"--no-snapshot");
        // The note comes right after the address line.
        if snapshot {
            s.wait_for_log("snapshot");
            let note = s.log().into_iter().find(|l| l.contains("snapshot")).unwrap();
            assert!(note.contains("resume from a snapshot"), "{note}");
        }
        let mut answers = Vec::new();
        for _ in 0..3 {
            let r = c.get(s.url("/random.php")).send().unwrap();
            assert_eq!(r.status(), 200);
            let j: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
            assert_eq!(j["dl"], false, "started in CGI mode: no dl()");
            assert_eq!(j["env"], "yes");
            assert_eq!(j["cwd"], root.display().to_string());
            answers.push(j);
        }
        for key in [
            "random_bytes",
            "random_int",
            "mt_rand",
            "uniqid",
            "lcg",
            "session",
            "openssl",
            "sodium",
        ] {
            let values: std::collections::BTreeSet<String> = answers.iter().map(|j| j[key].to_string()).collect();
            assert_eq!(values.len(), 3, "{key} repeats across requests (snapshot: {snapshot}): {values:?}");
        }
        let times: Vec<f64> = answers.iter().map(|j| j["time"].as_f64().unwrap()).collect();
        assert!(times[0] < times[1] && times[1] < times[2], "time stands still: {times:?}");
        let r = c.get(s.url("/sub/cwd.php")).send().unwrap();
        assert_eq!(r.text().unwrap().trim(), root.join("sub").display().to_string());
        let r = c.get(s.url("/info.php?q=1")).send().unwrap();
        let j: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert_eq!(j["get"]["q"], "1");
        seen.push(answers.pop().unwrap());
    }
    // Two servers, two snapshots (or none): still different randomness.
    assert_ne!(seen[0]["random_bytes"], seen[1]["random_bytes"]);
}
