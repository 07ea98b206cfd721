//! A real PHP web application from Debian's archive, served by `cargo xtask
//! serve` from its installed files: Adminer 5.2 (tests/apps/php-web-apps.toml)
//! logs in to an SQLite database, runs SQL through its CSRF-protected
//! forms and browses a table, on php-cgi.wasm and on the native php-cgi of
//! the same tarball; the pages must say the same.

use std::path::Path;

use super::apps::debs_root;
use super::serve::Served;

/// What a page shows, without what changes per run (tokens, nonces,
/// timings, the session): the text of its title, headings, table cells
/// and messages, as `<tag>text`.
fn fingerprint(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tag in ["title", "h2", "td", "th", "div class='message'", "div class='error'"] {
        let open = format!("<{tag}");
        let mut rest = html;
        while let Some(i) = rest.find(&open) {
            rest = &rest[i + open.len()..];
            if !rest.starts_with(['>', ' ']) {
                continue;
            }
            let Some(gt) = rest.find('>') else { break };
            rest = &rest[gt + 1..];
            let text = rest[..rest.find('<').unwrap_or(rest.len())].trim();
            // "Query executed OK, 2 rows affected. (0.001 s)": no timings.
            let text = text.find(" (0.").map_or(text, |j| &text[..j]);
            out.push(format!("<{}>{text}", tag.split(' ').next().unwrap_or(tag)));
        }
    }
    out
}

fn token(html: &str) -> String {
    let key = "name='token' value='";
    let i = html.find(key).unwrap_or_else(|| panic!("no CSRF token in the page:\n{html:.2000}")) + key.len();
    html[i..].split('\'').next().unwrap().to_string()
}

/// Log in, create and fill a table with SQL, browse it; every page's
/// fingerprint in order.
fn session(s: &Served, db: &Path) -> Vec<(u16, Vec<String>)> {
    let c = super::serve::client();
    let mut cookies: Vec<String> = Vec::new();
    let mut pages = Vec::new();
    let send = |req: reqwest::blocking::RequestBuilder, cookies: &mut Vec<String>| {
        let r = req.header("cookie", cookies.join("; ")).send().unwrap();
        for v in r.headers().get_all("set-cookie") {
            let kv = v.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = kv.split('=').next().unwrap().to_string();
            cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            cookies.push(kv);
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        let ctype = r.headers().get("content-type").map(|l| l.to_str().unwrap().to_string());
        (status, location, ctype, r.text().unwrap())
    };
    let (st, _, ctype, login) = send(c.get(s.url("/")), &mut cookies);
    assert_eq!(st, 200);
    assert!(ctype.unwrap().starts_with("text/html"));
    assert!(login.contains("<title>Login - Adminer"), "{login:.2000}");
    pages.push((st, fingerprint(&login)));

    // Its stylesheet, served by the script with its content type.
    let (st, _, ctype, css) = send(c.get(s.url("/?file=default.css&version=5.2.1")), &mut cookies);
    assert_eq!(st, 200);
    assert!(ctype.as_deref().unwrap_or("").starts_with("text/css"), "{ctype:?}");
    assert!(css.len() > 1000);

    let dbs = db.display().to_string();
    let (st, location, _, _) = send(
        c.post(s.url("/")).form(&[
            ("auth[driver]", "sqlite"),
            ("auth[server]", ""),
            ("auth[username]", ""),
            ("auth[password]", "kiln"),
            ("auth[db]", dbs.as_str()),
        ]),
        &mut cookies,
    );
    assert_eq!(st, 302, "login");
    let location = location.expect("login redirects");
    assert!(location.contains("sqlite="), "{location}");
    assert!(cookies.iter().any(|c| c.starts_with("adminer_sid=")), "{cookies:?}");

    let q = format!("/?sqlite=&username=&db={}", dbs.replace('/', "%2F"));
    let (st, _, _, form) = send(c.get(s.url(&format!("{q}&sql="))), &mut cookies);
    assert_eq!(st, 200);
    assert!(form.contains("<title>SQL command - Adminer"), "{form:.2000}");
    pages.push((st, fingerprint(&form)));
    let sql = "CREATE TABLE fruit(name TEXT, n INT); INSERT INTO fruit VALUES ('apple', 3), ('pear', 5); \
               SELECT name, n * 2 AS twice FROM fruit ORDER BY name;";
    let (st, _, _, result) = send(
        c.post(s.url(&format!("{q}&sql=")))
            .form(&[("query", sql), ("token", &token(&form)), ("limit", "")]),
        &mut cookies,
    );
    assert_eq!(st, 200);
    let fp = fingerprint(&result);
    for cell in ["<td>apple", "<td>6", "<td>pear", "<td>10"] {
        assert!(fp.iter().any(|x| x == cell), "{cell} not in {fp:#?}");
    }
    pages.push((st, fp));

    let (st, _, _, table) = send(c.get(s.url(&format!("{q}&select=fruit"))), &mut cookies);
    assert_eq!(st, 200);
    let fp = fingerprint(&table);
    assert!(fp.iter().any(|x| x == "<td>pear"), "{fp:#?}");
    pages.push((st, fp));
    pages
}

#[test]
#[ignore = "slow tier: builds PHP (wasm and native) and fetches Adminer from Debian's archive"]
fn adminer_from_debian_serves_the_same_pages_as_native_php_cgi() {
    let root = debs_root("php-web-apps.toml");
    let adminer = root.join("usr/share/adminer");
    assert!(adminer.join("adminer.php").is_file());
    let mut results = Vec::new();
    for native in [false, true] {
        // The entry point the package's README.Debian describes (its
        // conf.php), with the password-less login plugin it ships, so the
        // test can log in to SQLite.
        let docroot = tempfile::tempdir().unwrap();
        let dbdir = tempfile::tempdir().unwrap();
        let db = std::fs::canonicalize(dbdir.path()).unwrap().join("demo.db");
        std::fs::write(&db, "").unwrap();
        std::fs::write(
            docroot.path().join("index.php"),
            format!(
                "<?php\nfunction adminer_object() {{\n    include_once '{a}/plugins/login-password-less.php';\n    \
                 return new Adminer\\Plugins([new AdminerLoginPasswordLess(password_hash('kiln', PASSWORD_DEFAULT))]);\n}}\n\
                 include '{a}/adminer.php';\n",
                a = adminer.display()
            ),
        )
        .unwrap();
        let a = format!("{}::{}", adminer.display(), adminer.display());
        let d = format!("{}::{}", db.parent().unwrap().display(), db.parent().unwrap().display());
        let mut flags = vec!["--dir", a.as_str(), "--dir", d.as_str()];
        if native {
            flags.push("--native");
        }
        let s = Served::start(docroot.path(), &flags);
        let t = std::time::Instant::now();
        results.push(session(&s, &db));
        eprintln!(
            "adminer session on {}: {:.0} ms",
            if native { "native" } else { "wasm" },
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    assert_eq!(results[0], results[1], "wasm and native pages differ");
}
