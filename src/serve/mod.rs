//! `cargo xtask serve`: an HTTP/1.1 server (hyper) in front of a recipe's
//! CGI program (`[serve]`, PHP's `php-cgi.wasm`).
//!
//! * Static files are sent by the server; scripts run through CGI/1.1
//!   ([`cgi`]), each request in a fresh instance of the precompiled module
//!   (so no request sees another's memory), on a pool of `workers`.
//! * Paths are routed by [`route`]; nothing outside the document root is
//!   reachable, and the guest sees only the document root, the recipe's
//!   run directories, the directories the user maps and the server's own
//!   state directory (`sessions/`, `tmp/`, `conf.d/`).
//! * Limits: a body over `max_body` is refused with 413 before anything
//!   runs; a request gets the guest's own deadline (PHP's
//!   max_execution_time, from `{timeout}` in the recipe's ini), then the
//!   runtime's epoch deadline a grace period later (504); a guest that
//!   traps or runs out of its memory cap gets 500; the server lives on.
//! * Requests of the same session (the recipe's session cookie, or any
//!   cookie whose value names an existing session file) run one at a
//!   time: the guest's file locks are no-ops on WASI, so the server
//!   serialises them, as PHP's session locking does natively.
//! * With `[serve.snapshot]`, requests resume from a snapshot of the CGI
//!   program taken after its start-up (`runtime::preinitialize`).
//! * On shutdown the listener closes, in-flight requests finish, then
//!   [`Server::run`] returns.

pub mod cgi;
pub mod load;
pub mod route;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::runtime::{Module, Outcome, RunSpec, Runtime, Stdio};

/// What runs a script.
pub enum Backend {
    /// The wasm CGI module (`path`, loaded as `module`), one fresh instance
    /// per request.
    Wasm { runtime: Runtime, module: Module, path: PathBuf },
    /// A native CGI program (the same tarball built natively), one process
    /// per request: the comparison of `bench --workload serve`.
    Native { binary: PathBuf },
}

impl Backend {
    pub(crate) fn run(&self, spec: &RunSpec) -> Result<Outcome> {
        match self {
            Backend::Wasm { runtime, module, .. } => runtime.run(module, spec),
            Backend::Native { binary } => crate::runtime::run_native(binary, &[], spec),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Backend::Wasm { .. } => "wasm",
            Backend::Native { .. } => "native",
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub docroot: PathBuf,
    pub listen: SocketAddr,
    /// Requests that run at once; the rest wait.
    pub workers: usize,
    /// The guest's own deadline; the hard one comes `grace` later.
    pub timeout: Duration,
    pub grace: Duration,
    /// Cap on a guest's linear memory, bytes.
    pub memory_limit: Option<usize>,
    /// Largest request body, bytes.
    pub max_body: u64,
    /// Extra (host, guest) directories.
    pub dirs: Vec<(PathBuf, String)>,
    /// Guest environment beyond the CGI variables.
    pub env: Vec<(String, String)>,
    /// ini settings over the recipe's `[serve] ini`.
    pub ini: Vec<(String, String)>,
    /// `SERVER_SOFTWARE`.
    pub server_software: String,
    /// Resume each request from a snapshot taken after the CGI program's
    /// start-up (recipe `[serve.snapshot]`, wasm only).
    pub snapshot: bool,
}

/// Where the server's state directory appears to a wasm guest: a fixed
/// path, so that the settings that name it (and so a snapshot) are the same
/// from one server to the next. A native program sees the host path.
pub const STATE_GUEST: &str = "/var/lib/kiln-serve";

/// What the server reports as it goes; the caller prints it.
#[derive(Debug, Clone)]
pub enum Event {
    /// One line per request.
    Access(Access),
    /// What a script wrote to stderr (PHP's log), or why it failed.
    Guest { target: String, text: String },
}

#[derive(Debug, Clone)]
pub struct Access {
    pub remote: SocketAddr,
    pub method: String,
    pub target: String,
    pub status: u16,
    pub bytes: usize,
    pub elapsed: Duration,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {}B {:.1}ms",
            self.remote.ip(),
            self.method,
            self.target,
            self.status,
            self.bytes,
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

pub type Log = Arc<dyn Fn(Event) + Send + Sync>;

struct State {
    router: route::Router,
    backend: Backend,
    /// Everything a request's spec shares: argv, environment, directories,
    /// limits.
    base: RunSpec,
    docroot_guest: String,
    workers: Arc<tokio::sync::Semaphore>,
    max_body: u64,
    hard_timeout: Duration,
    session_cookie: Option<String>,
    /// `[serve] session_file` with `{state}` substituted.
    session_file: Option<String>,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    server_software: String,
    log: Log,
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<State>,
    rt: tokio::runtime::Runtime,
    /// `sessions/`, `tmp/`, `conf.d/`; removed when the server is dropped.
    state_dir: tempfile::TempDir,
    /// What became of the snapshot, for the caller to report.
    snapshot_note: Option<String>,
}

/// One `key = "value"` ini line; keys and values that would break the
/// file are refused.
fn ini_line(k: &str, v: &str) -> Result<String> {
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-[]".contains(&b)) {
        bail!("ini key {k:?}: expected letters, digits and . _ - [ ]");
    }
    if v.contains(['\n', '\r', '"']) {
        bail!("ini value for {k}: must not contain a newline or a double quote");
    }
    Ok(format!("{k} = \"{v}\"\n"))
}

impl Server {
    /// Bind `opts.listen` and prepare the state directory; `base` is the
    /// recipe's run spec (argv0, environment, run directories).
    pub fn bind(serve: &crate::recipe::Serve, base: RunSpec, backend: Backend, opts: &Options, log: Log) -> Result<Server> {
        let docroot = std::fs::canonicalize(&opts.docroot).with_context(|| format!("document root {}", opts.docroot.display()))?;
        if !docroot.is_dir() {
            bail!("document root {} is not a directory", docroot.display());
        }
        let index: Vec<&str> = serve.index.iter().map(String::as_str).collect();
        let router = route::Router::new(&docroot, &serve.script_ext, &index, serve.front_controller.as_deref())?;
        let state_dir = tempfile::Builder::new()
            .prefix("kiln-serve-")
            .tempdir()
            .context("creating the server's state directory")?;
        let sd = std::fs::canonicalize(state_dir.path())?;
        for sub in ["sessions", "tmp", "conf.d"] {
            std::fs::create_dir_all(sd.join(sub))?;
        }
        let state_guest = match &backend {
            Backend::Wasm { .. } => STATE_GUEST.to_string(),
            Backend::Native { .. } => sd.display().to_string(),
        };
        let vars = |v: &str| {
            v.replace("{state}", &state_guest)
                .replace("{timeout}", &opts.timeout.as_secs().max(1).to_string())
                .replace("{max_body_mib}", &opts.max_body.div_ceil(1 << 20).max(1).to_string())
        };
        let mut ini = String::from("; written by kiln serve: [serve] ini of the recipe, then --ini\n");
        for (k, v) in &serve.ini {
            ini.push_str(&ini_line(k, &vars(v))?);
        }
        for (k, v) in &opts.ini {
            ini.push_str(&ini_line(k, v).with_context(|| format!("--ini {k}={v}"))?);
        }
        std::fs::write(sd.join("conf.d/kiln-serve.ini"), &ini)?;

        let mut spec = base;
        spec.argv = vec![serve.argv0.clone()];
        spec.env.retain(|(k, _)| !opts.env.iter().any(|(u, _)| u == k));
        spec.env.extend(opts.env.iter().cloned());
        spec.env.push((serve.ini_scan_env.clone(), format!("{state_guest}/conf.d")));
        spec.env.push(("TMPDIR".into(), format!("{state_guest}/tmp")));
        spec.dirs.push((sd.clone(), state_guest.clone()));
        spec.stdin = Stdio::Bytes(Vec::new());
        spec.stdout = Stdio::Bytes(Vec::new());
        spec.stderr = Stdio::Bytes(Vec::new());
        let hard_timeout = opts.timeout + opts.grace;
        spec.timeout = Some(hard_timeout);
        spec.memory_limit = opts.memory_limit;

        // The snapshot sees what start-up needs (the recipe's directories,
        // the settings); each request then gets the document root and the
        // user's directories too.
        let mut backend = backend;
        let mut snapshot_note = None;
        if let (true, Some(snap), Backend::Wasm { runtime, module, path }) = (opts.snapshot, &serve.snapshot, &mut backend) {
            let mut init = spec.clone();
            init.env.extend(snap.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            let t = std::time::Instant::now();
            let p = crate::runtime::Preinit {
                init: snap.init.clone(),
                resume: snap.resume.clone(),
                key_extra: ini.clone().into_bytes(),
                entropy_callers: snap.entropy_callers.clone(),
            };
            match runtime.preinitialize(path, &init, &p)? {
                Ok(m) => {
                    *module = m;
                    snapshot_note = Some(format!(
                        "requests resume from a snapshot taken after start-up ({:.1} s to get it)",
                        t.elapsed().as_secs_f64()
                    ));
                }
                Err(why) => snapshot_note = Some(format!("no snapshot, every request starts from scratch: {why}")),
            }
        }
        let docroot_guest = docroot.display().to_string();
        spec.dirs.push((docroot.clone(), docroot_guest.clone()));
        for (host, guest) in &opts.dirs {
            if !host.is_dir() {
                bail!("--dir {}: not a directory", host.display());
            }
            spec.dirs.push((host.clone(), guest.clone()));
        }

        let listener = std::net::TcpListener::bind(opts.listen).with_context(|| format!("listening on {}", opts.listen))?;
        listener.set_nonblocking(true)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("kiln-serve")
            .max_blocking_threads(opts.workers.max(1) + 4)
            .build()?;
        Ok(Server {
            listener,
            state: Arc::new(State {
                router,
                backend,
                base: spec,
                docroot_guest,
                workers: Arc::new(tokio::sync::Semaphore::new(opts.workers.max(1))),
                max_body: opts.max_body,
                hard_timeout,
                session_cookie: serve.session_cookie.clone(),
                session_file: serve.session_file.as_ref().map(|t| t.replace("{state}", &sd.display().to_string())),
                sessions: Mutex::new(HashMap::new()),
                server_software: opts.server_software.clone(),
                log,
            }),
            rt,
            state_dir,
            snapshot_note,
        })
    }

    /// How requests start: from a snapshot, or why not (None: the backend
    /// or the recipe has no snapshot, or it was not asked for).
    pub fn snapshot_note(&self) -> Option<&str> {
        self.snapshot_note.as_deref()
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The server's state directory (sessions, upload temp files, ini).
    pub fn state_dir(&self) -> &Path {
        self.state_dir.path()
    }

    /// Serve until `shutdown` completes, then stop accepting, let
    /// in-flight requests finish and return.
    pub fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let Server {
            listener,
            state,
            rt,
            state_dir,
            ..
        } = self;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            let mut shutdown = std::pin::pin!(shutdown);
            loop {
                tokio::select! {
                    conn = listener.accept() => {
                        let (stream, remote) = match conn {
                            Ok(c) => c,
                            Err(e) => {
                                (state.log)(Event::Guest { target: "-".into(), text: format!("accept failed: {e}") });
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        };
                        let _ = stream.set_nodelay(true);
                        let local = stream.local_addr().unwrap_or(remote);
                        let st = state.clone();
                        let svc = hyper::service::service_fn(move |req| {
                            let st = st.clone();
                            async move { Ok::<_, Infallible>(handle(st, req, remote, local).await) }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    _ = &mut shutdown => break,
                }
            }
            drop(listener);
            graceful.shutdown().await;
            anyhow::Ok(())
        })?;
        drop(state_dir);
        Ok(())
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM; for [`Server::run`].
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn plain(status: StatusCode, text: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(st: Arc<State>, req: Request<Incoming>, remote: SocketAddr, local: SocketAddr) -> Resp {
    let start = Instant::now();
    let method = req.method().to_string();
    let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
    let resp = respond(&st, req, remote, local, &target).await;
    let bytes = hyper::body::Body::size_hint(resp.body()).exact().unwrap_or(0) as usize;
    (st.log)(Event::Access(Access {
        remote,
        method,
        target,
        status: resp.status().as_u16(),
        bytes,
        elapsed: start.elapsed(),
    }));
    resp
}

async fn respond(st: &Arc<State>, req: Request<Incoming>, remote: SocketAddr, local: SocketAddr, target: &str) -> Resp {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = req.into_parts();
    if declared.is_some_and(|n| n > st.max_body) {
        // Answered before anything runs; the body is drained (bounded in
        // time) so that a client still sending it reads the answer instead
        // of a reset connection.
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            let mut body = body;
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "413 request body too large");
    }
    let raw_path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let route = st.router.route(&raw_path);
    let (script_name, file, path_info) = match route {
        route::Route::Static(f) => return static_file(&f, &parts.method).await,
        route::Route::AddSlash => {
            let loc = if query.is_empty() {
                format!("{raw_path}/")
            } else {
                format!("{raw_path}/?{query}")
            };
            let mut r = plain(StatusCode::MOVED_PERMANENTLY, "301 moved");
            if let Ok(v) = http::HeaderValue::from_str(&loc) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            return r;
        }
        route::Route::BadRequest(why) => return plain(StatusCode::BAD_REQUEST, &format!("400 bad request: {why}")),
        route::Route::Forbidden(why) => return plain(StatusCode::FORBIDDEN, &format!("403 forbidden: {why}")),
        route::Route::NotFound => return plain(StatusCode::NOT_FOUND, "404 not found"),
        route::Route::Script {
            script_name,
            file,
            path_info,
        } => (script_name, file, path_info),
    };
    let body = match http_body_util::Limited::new(body, st.max_body as usize).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return plain(StatusCode::PAYLOAD_TOO_LARGE, "413 request body too large"),
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("400 reading the body: {e}")),
    };
    let script_filename = file.display().to_string();
    let vars = cgi::meta_variables(&cgi::Request {
        method: parts.method.as_str(),
        raw_path: &raw_path,
        query: &query,
        headers: &parts.headers,
        remote,
        local,
        script_name: &script_name,
        script_filename: &script_filename,
        path_info: path_info.as_deref(),
        document_root: &st.docroot_guest,
        content_length: body.len(),
        server_software: &st.server_software,
    });
    let _session = match st.session_key(&parts.headers) {
        Some(id) => Some(st.session_lock(id).lock_owned().await),
        None => None,
    };
    let Ok(permit) = st.workers.clone().acquire_owned().await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "503 shutting down");
    };
    let mut spec = st.base.clone();
    spec.env.extend(vars);
    spec.stdin = Stdio::Bytes(body.to_vec());
    let job_state = st.clone();
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        job_state.backend.run(&spec)
    });
    // The guest's epoch deadline stops it; this is the backstop for a guest
    // blocked in a host call (sleep), which epochs cannot interrupt. Its
    // worker stays taken until it returns.
    let outcome = match tokio::time::timeout(st.hard_timeout + Duration::from_secs(1), job).await {
        Err(_) => return plain(StatusCode::GATEWAY_TIMEOUT, "504 the script ran out of time"),
        Ok(Err(e)) => return st.fail(target, StatusCode::INTERNAL_SERVER_ERROR, &format!("worker failed: {e}")),
        Ok(Ok(Err(e))) => return st.fail(target, StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Ok(Ok(Ok(o))) => o,
    };
    if !outcome.stderr.is_empty() {
        (st.log)(Event::Guest {
            target: target.to_string(),
            text: String::from_utf8_lossy(&outcome.stderr).trim_end().to_string(),
        });
    }
    if outcome.timed_out {
        return plain(StatusCode::GATEWAY_TIMEOUT, "504 the script ran out of time");
    }
    if let Some(trap) = &outcome.trap {
        let why = if outcome.hit_memory_limit {
            format!("{trap} (the memory cap refused to grow)")
        } else {
            trap.clone()
        };
        return st.fail(target, StatusCode::INTERNAL_SERVER_ERROR, &why);
    }
    cgi_response(st, target, &outcome)
}

fn cgi_response(st: &State, target: &str, outcome: &Outcome) -> Resp {
    let parsed = match cgi::parse_response(&outcome.stdout) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("{e} (exit status {})", outcome.status);
            let status = if outcome.stdout.is_empty() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_GATEWAY
            };
            return st.fail(target, status, &why);
        }
    };
    let body = Bytes::copy_from_slice(&outcome.stdout[parsed.body_offset..]);
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(parsed.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &parsed.headers {
        let lower = k.to_ascii_lowercase();
        // Hop-by-hop and framing headers are the server's to set.
        if matches!(
            lower.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "upgrade" | "proxy-connection"
        ) {
            continue;
        }
        match (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
            (Ok(n), Ok(v)) => {
                r.headers_mut().append(n, v);
            }
            _ => (st.log)(Event::Guest {
                target: target.to_string(),
                text: format!("dropped an invalid response header {k:?}"),
            }),
        }
    }
    r
}

impl State {
    fn fail(&self, target: &str, status: StatusCode, why: &str) -> Resp {
        (self.log)(Event::Guest {
            target: target.to_string(),
            text: why.to_string(),
        });
        plain(
            status,
            &format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("error")),
        )
    }

    fn session_key<'a>(&self, headers: &'a http::HeaderMap) -> Option<&'a str> {
        session_key(headers, self.session_cookie.as_deref(), self.session_file.as_deref())
    }

    /// The lock of one session; unused entries are dropped as the table
    /// grows.
    fn session_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.sessions.lock().expect("session table");
        if m.len() > 1024 {
            m.retain(|_, l| Arc::strong_count(l) > 1);
        }
        m.entry(id.to_string()).or_default().clone()
    }
}

/// The request's cookies, (name, value).
fn cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
}

/// A session id can name a file: PHP's are [A-Za-z0-9,-].
fn plausible_session_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b',' || b == b'-')
}

/// The session a request belongs to: the value of the session cookie, or
/// of any cookie whose value names an existing session file.
fn session_key<'a>(headers: &'a http::HeaderMap, name: Option<&str>, file: Option<&str>) -> Option<&'a str> {
    let mut found = None;
    for (k, v) in cookies(headers) {
        if !plausible_session_id(v) {
            continue;
        }
        if Some(k) == name {
            return Some(v);
        }
        if found.is_none() && file.is_some_and(|t| Path::new(&t.replace("{id}", v)).is_file()) {
            found = Some(v);
        }
    }
    found
}

async fn static_file(path: &Path, method: &http::Method) -> Resp {
    if method != http::Method::GET && method != http::Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
        r.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match tokio::fs::read(path).await {
        Ok(data) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            let mut r = Response::new(Full::new(Bytes::from(data)));
            if let Ok(v) = http::HeaderValue::from_str(mime.essence_str()) {
                r.headers_mut().insert(http::header::CONTENT_TYPE, v);
            }
            r
        }
        Err(_) => plain(StatusCode::NOT_FOUND, "404 not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(http::header::COOKIE, "a=1; PHPSESSID=abc".parse().unwrap());
        assert_eq!(session_key(&h, Some("PHPSESSID"), None), Some("abc"));
        assert_eq!(session_key(&h, Some("other"), None), None);
        assert_eq!(session_key(&h, None, None), None);
        h.insert(http::header::COOKIE, "PHPSESSID=".parse().unwrap());
        assert_eq!(session_key(&h, Some("PHPSESSID"), None), None);
        h.insert(http::header::COOKIE, "PHPSESSID=../../x".parse().unwrap());
        assert_eq!(session_key(&h, Some("PHPSESSID"), None), None, "not a session id");
    }

    #[test]
    fn a_renamed_session_is_found_by_its_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("sess_f00d"), "").unwrap();
        let t = format!("{}/sess_{{id}}", d.path().display());
        let mut h = http::HeaderMap::new();
        h.append(http::header::COOKIE, "lang=en; adminer_sid=f00d; other=beef".parse().unwrap());
        assert_eq!(session_key(&h, Some("PHPSESSID"), Some(&t)), Some("f00d"));
        h.insert(http::header::COOKIE, "adminer_sid=beef".parse().unwrap());
        assert_eq!(session_key(&h, Some("PHPSESSID"), Some(&t)), None);
    }

    #[test]
    fn ini_lines_cannot_break_the_file() {
        assert_eq!(ini_line("session.save_path", "/s").unwrap(), "session.save_path = \"/s\"\n");
        assert!(ini_line("a\nb", "1").is_err());
        assert!(ini_line("a", "1\nextension=x").is_err());
        assert!(ini_line("a", "x\"y").is_err());
        assert!(ini_line("", "1").is_err());
    }
}
