//! Pinned downloads into a content-keyed cache.
//!
//! `Fetcher::fetch` returns a path to a file whose sha256 is one the recipe
//! accepts. Order: cache → `KILN_MIRRORS` → upstream URLs → Debian's pool
//! (mirrors read from the machine's apt sources). Bytes stream into
//! `<cache>/sources/<sha256>/<file>.partial`, hashed as they arrive; the
//! file is renamed into place only when the hash matches, so the cache never
//! holds an unverified byte. An interrupted transfer resumes with `Range`.
//! A per-sha256 lock file serialises concurrent fetchers (threads or
//! processes); the loser of the race finds the file cached.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::layout::Layout;
use crate::progress::Progress;
use crate::recipe::{Artifact, DebianFile};

/// One acceptable file: name, checksum, and where copies live.
#[derive(Debug, Clone)]
struct Accepted<'a> {
    file: &'a str,
    sha256: &'a str,
    urls: &'a [String],
    debian: Option<&'a DebianFile>,
}

fn accepted(a: &Artifact) -> Vec<Accepted<'_>> {
    let mut v = vec![Accepted {
        file: &a.file,
        sha256: &a.sha256,
        urls: &a.urls,
        debian: a.debian.as_ref(),
    }];
    for alt in &a.alternates {
        v.push(Accepted {
            file: &alt.file,
            sha256: &alt.sha256,
            urls: &alt.urls,
            debian: alt.debian.as_ref(),
        });
    }
    v
}

pub struct Fetcher {
    cache: PathBuf,
    progress: Progress,
    offline: bool,
    client: Client,
    mirrors: Vec<String>,
    debian_mirrors: Vec<String>,
    /// Attempts per URL for transient failures (cut connections, 5xx).
    pub attempts: u32,
    /// Pause between attempts (doubles each time).
    pub backoff: Duration,
}

/// Outcome of one URL.
enum Attempt {
    /// Verified and renamed into the cache.
    Done(PathBuf),
    /// This URL cannot serve the file (404, wrong checksum, …): next URL.
    Skip(String),
}

impl Fetcher {
    pub fn new(layout: &Layout, progress: Progress, config: &Config) -> Result<Fetcher> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(15))
            // Whole-transfer cap; an interrupted transfer resumes.
            .timeout(Duration::from_secs(30 * 60))
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Fetcher {
            cache: layout.source_cache(),
            progress,
            offline: config.offline,
            client,
            mirrors: config.mirrors.clone(),
            debian_mirrors: match &config.debian_mirrors {
                Some(v) => v.clone(),
                None => apt_mirrors(Path::new("/etc/apt")),
            },
            attempts: 4,
            backoff: Duration::from_millis(500),
        })
    }

    /// Override the mirror lists (tests, or a caller that knows better).
    pub fn set_mirrors(&mut self, mirrors: Vec<String>, debian: Vec<String>) {
        self.mirrors = mirrors;
        self.debian_mirrors = debian;
    }

    /// The cached path for `sha256`/`file`, if present.
    pub fn cached(&self, sha256: &str, file: &str) -> Option<PathBuf> {
        let p = self.cache.join(sha256).join(file);
        p.is_file().then_some(p)
    }

    /// The candidate URLs in the order they are tried, with the accepted
    /// file each one should yield.
    fn candidates<'a>(&self, acc: &[Accepted<'a>]) -> Vec<(String, Accepted<'a>)> {
        let mut out = Vec::new();
        for a in acc {
            for m in &self.mirrors {
                out.push((format!("{}/{}", m.trim_end_matches('/'), a.file), a.clone()));
            }
        }
        for a in acc {
            for u in a.urls {
                out.push((u.clone(), a.clone()));
            }
        }
        for a in acc {
            if let Some(d) = a.debian {
                for m in &self.debian_mirrors {
                    out.push((format!("{}/{}", m.trim_end_matches('/'), d.pool_path()), a.clone()));
                }
            }
        }
        out
    }

    /// Make `artifact` available locally and return its path.
    pub fn fetch(&self, artifact: &Artifact) -> Result<PathBuf> {
        let acc = accepted(artifact);
        for a in &acc {
            if let Some(p) = self.cached(a.sha256, a.file) {
                return Ok(p);
            }
        }
        if self.offline {
            bail!(
                "{} (sha256 {}) is not in the cache {} and --offline forbids downloading",
                artifact.file,
                artifact.sha256,
                self.cache.display()
            );
        }
        // Lock on the primary checksum: every accepted file of one artifact
        // shares it, so concurrent fetchers never download twice.
        fs::create_dir_all(&self.cache).with_context(|| format!("creating {}", self.cache.display()))?;
        let lock_path = self.cache.join(format!("{}.lock", artifact.sha256));
        let _lock = crate::fsutil::FileLock::acquire(&lock_path, || {})?;
        for a in &acc {
            if let Some(p) = self.cached(a.sha256, a.file) {
                return Ok(p);
            }
        }
        let mut failures = Vec::new();
        for (url, a) in self.candidates(&acc) {
            match self.try_url(&url, &a) {
                Ok(Attempt::Done(p)) => return Ok(p),
                Ok(Attempt::Skip(why)) => failures.push(format!("  {url}: {why}")),
                Err(e) => failures.push(format!("  {url}: {e:#}")),
            }
        }
        if failures.is_empty() {
            bail!(
                "{}: no URL to fetch from (no upstream URL, mirror or Debian pool entry)",
                artifact.file
            );
        }
        bail!(
            "could not fetch {} (sha256 {}):\n{}",
            artifact.file,
            artifact.sha256,
            failures.join("\n")
        )
    }

    fn try_url(&self, url: &str, a: &Accepted<'_>) -> Result<Attempt> {
        let dir = self.cache.join(a.sha256);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let partial = dir.join(format!("{}.partial", a.file));
        let final_path = dir.join(a.file);
        let mut last_err = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(self.backoff * 2u32.pow(attempt - 1));
            }
            match self.download(url, &partial) {
                Ok(Transfer::Complete(hasher)) => {
                    let actual = hex::encode(hasher.finalize());
                    if actual != a.sha256 {
                        let _ = fs::remove_file(&partial);
                        let _ = fs::remove_dir(&dir);
                        return Ok(Attempt::Skip(format!(
                            "checksum mismatch for {url}: expected sha256 {}, got {actual} (discarded, nothing cached)",
                            a.sha256
                        )));
                    }
                    fs::rename(&partial, &final_path).with_context(|| format!("renaming {} into place", partial.display()))?;
                    return Ok(Attempt::Done(final_path));
                }
                Ok(Transfer::Missing(status)) => {
                    return Ok(Attempt::Skip(format!("HTTP {status}")));
                }
                // An unknown host or a refused connection will not heal
                // in a second: move on to the next URL.
                Err(e) if is_unreachable(&e) => return Ok(Attempt::Skip(format!("unreachable ({})", root_cause(&e)))),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    /// One GET, resuming from whatever `.partial` holds.
    fn download(&self, url: &str, partial: &Path) -> Result<Transfer> {
        let mut hasher = Sha256::new();
        let mut have = 0u64;
        if let Ok(mut f) = File::open(partial) {
            have = std::io::copy(&mut f, &mut hasher)?;
        }
        let mut req = self.client.get(url);
        if have > 0 {
            req = req.header(RANGE, format!("bytes={have}-"));
        }
        let mut resp = req.send().with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let append = match status {
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                let cr = resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                if !cr.starts_with(&format!("bytes {have}-")) {
                    bail!("server answered Range {have}- with Content-Range {cr:?}");
                }
                true
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                // The partial is longer than the file: start over.
                fs::remove_file(partial)?;
                bail!("range {have}- not satisfiable; restarting");
            }
            s if s.is_success() => false,
            s if s.is_client_error() => return Ok(Transfer::Missing(s)),
            s => bail!("HTTP {s}"),
        };
        if !append {
            hasher = Sha256::new();
            have = 0;
        }
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(partial)
            .with_context(|| format!("opening {}", partial.display()))?;
        let total = resp.content_length().map(|n| n + have);
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        let bar = self.progress.bytes(name, total);
        bar.set_position(have);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = resp.read(&mut buf).with_context(|| format!("reading {url} after {have} bytes"))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).with_context(|| format!("writing {}", partial.display()))?;
            hasher.update(&buf[..n]);
            have += n as u64;
            bar.set_position(have);
        }
        out.sync_all()?;
        bar.finish_and_clear();
        if let Some(t) = total {
            if have < t {
                bail!("connection closed after {have} of {t} bytes");
            }
        }
        Ok(Transfer::Complete(hasher))
    }
}

fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<reqwest::Error>().is_some_and(|r| r.is_connect()))
}

fn root_cause(e: &anyhow::Error) -> String {
    e.root_cause().to_string()
}

enum Transfer {
    Complete(Sha256),
    Missing(StatusCode),
}

/// Debian archive roots named in the machine's apt sources (one-line
/// `.list` and deb822 `.sources` files), in file order, deduplicated.
/// Only read, never written.
pub fn apt_mirrors(etc_apt: &Path) -> Vec<String> {
    let mut files = vec![etc_apt.join("sources.list")];
    if let Ok(rd) = fs::read_dir(etc_apt.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    let mut out: Vec<String> = Vec::new();
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        for uri in parse_apt_sources(&text, f.extension().is_some_and(|e| e == "sources")) {
            if !out.contains(&uri) {
                out.push(uri);
            }
        }
    }
    out
}

/// URIs of `deb`/`deb-src` entries in one sources file.
pub fn parse_apt_sources(text: &str, deb822: bool) -> Vec<String> {
    let mut out = Vec::new();
    if deb822 {
        for para in text.split("\n\n") {
            let mut enabled = true;
            let mut uris = Vec::new();
            for line in para.lines() {
                let line = line.trim();
                if line.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = line.split_once(':') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "uris" => uris.extend(v.split_whitespace().map(|s| s.trim_end_matches('/').to_string())),
                        "enabled" => enabled = v.trim() != "no",
                        _ => {}
                    }
                }
            }
            if enabled {
                out.extend(uris);
            }
        }
    } else {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            if !matches!(words.next(), Some("deb") | Some("deb-src")) {
                continue;
            }
            // Skip `[option=value …]`.
            let mut w = words.next();
            if w.is_some_and(|s| s.starts_with('[')) {
                while w.is_some_and(|s| !s.ends_with(']')) {
                    w = words.next();
                }
                w = words.next();
            }
            if let Some(uri) = w {
                out.push(uri.trim_end_matches('/').to_string());
            }
        }
    }
    out.retain(|u| u.starts_with("http://") || u.starts_with("https://"));
    out
}
