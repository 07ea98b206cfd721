//! `cargo xtask bench php --workload serve`: kiln's server in front of the
//! wasm CGI module and in front of the native CGI program of the same
//! tarball (same server, same app, same load), and, where the recipe's
//! native CLI has one, its own built-in server (`php -S`) as a third
//! column. Also where one request's fixed cost goes: the CGI program run
//! directly (no HTTP) on a script that prints one line, wasm (instantiate,
//! then start-up + script) against a native process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::bench::side::Side;
use crate::plan::BuildPlan;
use crate::project::Project;
use crate::runtime::{RunSpec, Stdio, Use};
use crate::serve::load::{self, LoadResult};
use crate::serve::{Backend, Options, Server};

/// The demo app the load runs against (read only).
const APP: &str = "tests/apps/serve";
/// Paths the load cycles through: an HTML page (directory index) and a
/// JSON API answer (front controller + PATH_INFO).
const PATHS: &[&str] = &["/", "/api/items/7"];
/// The fixed-cost script.
const HELLO: &str = "/hello.php";

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// `kiln serve + php-cgi.wasm`, `kiln serve + native php-cgi`, `php -S`.
    pub name: String,
    pub load: LoadResult,
    /// Sequential requests to the one-line script: median latency, ms.
    pub hello_p50_ms: f64,
    /// How the server started its requests (snapshot or not, and why).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fixed {
    /// Medians over the direct runs, milliseconds.
    pub wasm_total_ms: f64,
    pub wasm_instantiate_ms: f64,
    pub native_total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub interpreter: String,
    pub columns: Vec<Column>,
    pub fixed: Fixed,
}

/// `requests` at `concurrency` against each column, after a warm-up.
pub fn run(project: &Project, plan: &BuildPlan, requests: usize, concurrency: usize) -> Result<Report> {
    let Some(serve) = plan.recipe.serve.clone() else {
        bail!("recipe {} has no [serve] section", plan.recipe.name)
    };
    let docroot = project.layout.repo.join(APP);
    project.build(plan)?;
    let template = serve
        .native_binary
        .as_deref()
        .with_context(|| format!("recipe {} has no [serve] native_binary", plan.recipe.name))?;
    let native_cgi = project.native_program(plan, template)?;
    let native_cli = project.native_side(plan)?;
    let paths: Vec<String> = PATHS.iter().map(|p| p.to_string()).collect();
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let opts = Options {
        docroot: docroot.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        workers,
        timeout: Duration::from_secs(60),
        grace: Duration::from_secs(2),
        memory_limit: Some(512 << 20),
        max_body: 8 << 20,
        dirs: Vec::new(),
        env: Vec::new(),
        ini: Vec::new(),
        server_software: "kiln-bench".into(),
        snapshot: false,
    };
    let base = RunSpec::for_recipe(&plan.recipe.run, &plan.dirs.out);
    let mut columns = Vec::new();

    let module_path = plan.dirs.out.join(&serve.module);
    let wasm_backend = || -> Result<Backend> {
        let runtime = project.runtime(Use::Serve, &plan.recipe.run)?;
        let module = runtime.load(&module_path)?;
        Ok(Backend::Wasm {
            runtime,
            module,
            path: module_path.clone(),
        })
    };
    let name = Path::new(&serve.module)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let fixed_wasm = direct(&wasm_backend()?, &serve, &base, &docroot)?;
    columns.push(column(
        format!("kiln serve + {name}"),
        &serve,
        base.clone(),
        wasm_backend()?,
        &opts,
        &paths,
        requests,
        concurrency,
    )?);
    if serve.snapshot.is_some() {
        let snap = Options {
            snapshot: true,
            ..opts.clone()
        };
        columns.push(column(
            format!("kiln serve + {name}, snapshot"),
            &serve,
            base.clone(),
            wasm_backend()?,
            &snap,
            &paths,
            requests,
            concurrency,
        )?);
    }
    let native = Backend::Native {
        binary: native_cgi.clone(),
    };
    let fixed_native = direct(&native, &serve, &base, &docroot)?;
    columns.push(column(
        format!(
            "kiln serve + native {}",
            native_cgi.file_name().unwrap_or_default().to_string_lossy()
        ),
        &serve,
        base.clone(),
        native,
        &opts,
        &paths,
        requests,
        concurrency,
    )?);
    if let Some(c) = builtin_server(&native_cli, &docroot, workers, &paths, requests, concurrency)? {
        columns.push(c);
    }
    Ok(Report {
        interpreter: plan.recipe.name.clone(),
        columns,
        fixed: Fixed {
            wasm_total_ms: fixed_wasm.0,
            wasm_instantiate_ms: fixed_wasm.1,
            native_total_ms: fixed_native.0,
        },
    })
}

/// The CGI program run directly on the one-line script, 50 times after a
/// warm-up: median (total, instantiate) in ms.
fn direct(backend: &Backend, serve: &crate::recipe::Serve, base: &RunSpec, docroot: &Path) -> Result<(f64, f64)> {
    let root = std::fs::canonicalize(docroot)?;
    let mut spec = base.clone();
    spec.argv = vec![serve.argv0.clone()];
    spec.dirs.push((root.clone(), root.display().to_string()));
    spec.stdin = Stdio::Bytes(Vec::new());
    spec.stdout = Stdio::Bytes(Vec::new());
    spec.stderr = Stdio::Bytes(Vec::new());
    // The request a server would make of it (cgi.rs), without HTTP.
    let headers = http::HeaderMap::new();
    let script_filename = root.join(HELLO.trim_start_matches('/')).display().to_string();
    let document_root = root.display().to_string();
    let local: std::net::SocketAddr = "127.0.0.1:80".parse().expect("address");
    spec.env.extend(crate::serve::cgi::meta_variables(&crate::serve::cgi::Request {
        method: "GET",
        raw_path: HELLO,
        query: "",
        headers: &headers,
        remote: local,
        local,
        script_name: HELLO,
        script_filename: &script_filename,
        path_info: None,
        document_root: &document_root,
        content_length: 0,
        server_software: "kiln-bench",
    }));
    let (mut total, mut inst) = (Vec::new(), Vec::new());
    for i in 0..55 {
        let t = Instant::now();
        let o = backend.run(&spec)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if o.status != 0 || !o.stdout.ends_with(b"hi\n") {
            bail!(
                "the {} CGI program did not answer {HELLO}: status {}, {}",
                backend.describe(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
        }
        if i >= 5 {
            total.push(ms);
            inst.push(o.instantiate.as_secs_f64() * 1e3);
        }
    }
    Ok((Side::of(total).median, Side::of(inst).median))
}

#[allow(clippy::too_many_arguments)]
fn column(
    name: String,
    serve: &crate::recipe::Serve,
    base: RunSpec,
    backend: Backend,
    opts: &Options,
    paths: &[String],
    requests: usize,
    concurrency: usize,
) -> Result<Column> {
    let log: crate::serve::Log = std::sync::Arc::new(|_| {});
    let server = Server::bind(serve, base, backend, opts, log)?;
    let note = server.snapshot_note().map(str::to_string);
    let addr = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::spawn(move || {
        server.run(async {
            let _ = stopped.await;
        })
    });
    let measured = measure(addr, paths, requests, concurrency);
    let _ = stop.send(());
    handle.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))??;
    let (load, hello) = measured?;
    Ok(Column {
        name,
        load,
        hello_p50_ms: hello,
        note,
    })
}

/// Warm-up, the one-line script sequentially, then the load.
fn measure(addr: SocketAddr, paths: &[String], requests: usize, concurrency: usize) -> Result<(LoadResult, f64)> {
    let base = format!("http://{addr}");
    load::run(&base, paths, 20, 2).context("warm-up")?;
    let hello = load::run(&base, &[HELLO.to_string()], 100, 1).context("the one-line script")?;
    let l = load::run(&base, paths, requests, concurrency).context("the load")?;
    Ok((l, hello.p50_ms))
}

/// The native CLI's own server (`php -S`), if it has one: its workers
/// (PHP_CLI_SERVER_WORKERS) as many as kiln's.
fn builtin_server(
    cli: &PathBuf,
    docroot: &Path,
    workers: usize,
    paths: &[String],
    requests: usize,
    concurrency: usize,
) -> Result<Option<Column>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut child = match std::process::Command::new(cli)
        .args(["-n", "-S", &addr.to_string(), "-t"])
        .arg(docroot)
        .env("PHP_CLI_SERVER_WORKERS", workers.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return Ok(None),
    };
    let t = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if t.elapsed() > Duration::from_secs(10) || child.try_wait()?.is_some() {
            let _ = child.kill();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let measured = measure(addr, paths, requests, concurrency);
    let _ = child.kill();
    let _ = child.wait();
    let (load, hello) = measured?;
    Ok(Some(Column {
        name: format!("native {} -S", cli.file_name().unwrap_or_default().to_string_lossy()),
        load,
        hello_p50_ms: hello,
        note: None,
    }))
}

pub fn table(r: &Report) -> String {
    let mut s = format!(
        "{:<8} {:<34} {:>9} {:>9} {:>9} {:>12} {:>12}\n",
        "interp", "serve (GET / and /api/items/7)", "req/s", "p50 ms", "p99 ms", "hello p50", "req/s ratio"
    );
    let first = r.columns.first().map(|c| c.load.per_second).unwrap_or(0.0);
    for c in &r.columns {
        s.push_str(&format!(
            "{:<8} {:<34} {:>9.0} {:>9.1} {:>9.1} {:>10.1}ms {:>11.2}x\n",
            r.interpreter,
            c.name,
            c.load.per_second,
            c.load.p50_ms,
            c.load.p99_ms,
            c.hello_p50_ms,
            c.load.per_second / first.max(1e-9)
        ));
    }
    for c in &r.columns {
        if let Some(n) = &c.note {
            s.push_str(&format!("{:<8} {}: {n}\n", "", c.name));
        }
    }
    if let Some(c) = r.columns.first() {
        s.push_str(&format!(
            "{:<8} load: {} requests at concurrency {} per column\n",
            "", c.load.requests, c.load.concurrency
        ));
    }
    s.push_str(&format!(
        "{:<8} fixed cost per request ({HELLO}, CGI run directly): wasm {:.2} ms (instantiate {:.2} ms, start-up + script {:.2} ms), native process {:.2} ms: {:.2}x\n",
        "",
        r.fixed.wasm_total_ms,
        r.fixed.wasm_instantiate_ms,
        r.fixed.wasm_total_ms - r.fixed.wasm_instantiate_ms,
        r.fixed.native_total_ms,
        r.fixed.wasm_total_ms / r.fixed.native_total_ms.max(1e-9)
    ));
    s
}
