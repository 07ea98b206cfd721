//! Mapping a request path onto the document root, the way `php -S` with a
//! router, or nginx's `try_files $uri $uri/ /index.php$is_args$args`,
//! does: an existing file is served (a script runs), a directory gets its
//! index, a path through a script gives it `PATH_INFO`, and any other path
//! runs the front controller (`/index.php`) with the path as `PATH_INFO`.
//!
//! Nothing outside the document root is reachable: `..` segments (also
//! percent-encoded), NUL bytes and dot-files are refused before the file
//! system is asked, and a file whose real path (symlinks resolved) leaves
//! the root is refused after.

use std::path::{Path, PathBuf};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A file served as it is.
    Static(PathBuf),
    /// A script run through CGI.
    Script {
        /// Decoded URL path of the script (`/index.php`).
        script_name: String,
        /// Its file under the document root.
        file: PathBuf,
        /// Decoded rest of the path (`/api/items/7`).
        path_info: Option<String>,
    },
    /// A directory named without its trailing slash: redirect there.
    AddSlash,
    /// 400: the path cannot be a file name (bad percent-encoding, NUL).
    BadRequest(&'static str),
    /// 403: the path reaches outside the root or names a hidden file.
    Forbidden(&'static str),
    NotFound,
}

/// The routing rules of one document root.
#[derive(Debug, Clone)]
pub struct Router {
    /// The document root, canonical (symlinks resolved).
    root: PathBuf,
    /// File extension (without the dot) of scripts: `php`.
    script_ext: String,
    /// Tried in order in a directory: `index.php`, `index.html`.
    index: Vec<String>,
    /// The front controller, relative to the root (`index.php`), if any.
    front: Option<String>,
}

impl Router {
    pub fn new(root: &Path, script_ext: &str, index: &[&str], front: Option<&str>) -> std::io::Result<Router> {
        Ok(Router {
            root: std::fs::canonicalize(root)?,
            script_ext: script_ext.to_string(),
            index: index.iter().map(|s| s.to_string()).collect(),
            front: front.map(str::to_string),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn is_script(&self, p: &Path) -> bool {
        p.extension().is_some_and(|e| e == self.script_ext.as_str())
    }

    /// The route of `raw_path` (the request target's path, percent-encoded).
    pub fn route(&self, raw_path: &str) -> Route {
        let Ok(decoded) = percent_encoding::percent_decode_str(raw_path).decode_utf8() else {
            return Route::BadRequest("the path is not UTF-8 after percent-decoding");
        };
        if decoded.contains('\0') || decoded.contains('\\') {
            return Route::BadRequest("the path holds a NUL or a backslash");
        }
        if !decoded.starts_with('/') {
            return Route::BadRequest("the path does not start with /");
        }
        let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
        if segments.contains(&"..") {
            return Route::Forbidden("the path climbs out of the document root");
        }
        if segments.iter().any(|s| s.starts_with('.') && *s != ".well-known") {
            return Route::Forbidden("hidden files are not served");
        }
        let mut cur = self.root.clone();
        for (i, seg) in segments.iter().enumerate() {
            cur.push(seg);
            let Ok(meta) = std::fs::metadata(&cur) else {
                return self.front_controller(&decoded);
            };
            if meta.is_dir() {
                continue;
            }
            let rest = &segments[i + 1..];
            if !rest.is_empty() && !self.is_script(&cur) {
                return Route::NotFound;
            }
            let script_name = format!("/{}", segments[..=i].join("/"));
            let path_info = (!rest.is_empty()).then(|| format!("/{}", rest.join("/")));
            return self.file(cur, script_name, path_info);
        }
        // A directory (the root included).
        if !decoded.ends_with('/') {
            return Route::AddSlash;
        }
        for name in &self.index {
            let f = cur.join(name);
            if f.is_file() {
                let script_name = format!("{decoded}{name}");
                return self.file(f, script_name, None);
            }
        }
        self.front_controller(&decoded)
    }

    fn file(&self, f: PathBuf, script_name: String, path_info: Option<String>) -> Route {
        match std::fs::canonicalize(&f) {
            Ok(real) if real.starts_with(&self.root) => {}
            Ok(_) => return Route::Forbidden("a symlink leads outside the document root"),
            Err(_) => return Route::NotFound,
        }
        if self.is_script(&f) {
            Route::Script {
                script_name,
                file: f,
                path_info,
            }
        } else if path_info.is_some() {
            Route::NotFound
        } else {
            Route::Static(f)
        }
    }

    fn front_controller(&self, decoded: &str) -> Route {
        let Some(front) = &self.front else { return Route::NotFound };
        let f = self.root.join(front);
        if !f.is_file() {
            return Route::NotFound;
        }
        self.file(f, format!("/{front}"), Some(decoded.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> (tempfile::TempDir, Router) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("css")).unwrap();
        std::fs::create_dir_all(r.join("admin")).unwrap();
        std::fs::create_dir_all(r.join("empty")).unwrap();
        std::fs::write(r.join("index.php"), "<?php").unwrap();
        std::fs::write(r.join("form.php"), "<?php").unwrap();
        std::fs::write(r.join("css/site.css"), "body{}").unwrap();
        std::fs::write(r.join("admin/index.html"), "<p>").unwrap();
        std::fs::write(r.join(".env"), "SECRET=1").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), r.join("link.txt")).unwrap();
        std::mem::forget(outside);
        let router = Router::new(r, "php", &["index.php", "index.html"], Some("index.php")).unwrap();
        (d, router)
    }

    fn script(r: &Router, name: &str, pi: Option<&str>) -> Route {
        Route::Script {
            script_name: name.into(),
            file: r.root().join(name.trim_start_matches('/')),
            path_info: pi.map(str::to_string),
        }
    }

    #[test]
    fn files_scripts_and_indexes() {
        let (_d, r) = app();
        assert_eq!(r.route("/css/site.css"), Route::Static(r.root().join("css/site.css")));
        assert_eq!(r.route("/form.php"), script(&r, "/form.php", None));
        assert_eq!(r.route("/"), script(&r, "/index.php", None));
        assert_eq!(r.route("/admin/"), Route::Static(r.root().join("admin/index.html")));
        assert_eq!(r.route("/admin"), Route::AddSlash);
        assert_eq!(r.route("/%63ss/site.css"), Route::Static(r.root().join("css/site.css")));
        assert_eq!(r.route("//css/./site.css"), Route::Static(r.root().join("css/site.css")));
    }

    #[test]
    fn path_info_and_front_controller() {
        let (_d, r) = app();
        assert_eq!(r.route("/form.php/a/b"), script(&r, "/form.php", Some("/a/b")));
        assert_eq!(r.route("/api/items/7"), script(&r, "/index.php", Some("/api/items/7")));
        assert_eq!(r.route("/empty/"), script(&r, "/index.php", Some("/empty/")));
        assert_eq!(r.route("/css/site.css/x"), Route::NotFound);
    }

    #[test]
    fn nothing_outside_the_root() {
        let (_d, r) = app();
        assert!(matches!(r.route("/../../etc/passwd"), Route::Forbidden(_)));
        assert!(matches!(r.route("/%2e%2e/"), Route::Forbidden(_)));
        assert!(matches!(r.route("/css/%2E%2E/%2e%2e/etc/passwd"), Route::Forbidden(_)));
        assert!(matches!(r.route("/link.txt"), Route::Forbidden(_)));
        assert!(matches!(r.route("/.env"), Route::Forbidden(_)));
        assert!(matches!(r.route("/a%00.php"), Route::BadRequest(_)));
        assert!(matches!(r.route("/..%5c..%5cetc"), Route::BadRequest(_)));
        assert!(matches!(r.route("/%ff"), Route::BadRequest(_)));
    }

    #[test]
    fn without_a_front_controller_unknown_paths_are_404() {
        let (d, _) = app();
        let r = Router::new(d.path(), "php", &["index.php"], None).unwrap();
        assert_eq!(r.route("/api/items/7"), Route::NotFound);
    }
}
