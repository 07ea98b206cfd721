use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use kiln::runtime::{RunSpec, Use};
use kiln::serve::{Backend, Event, Options, Server};

use crate::Global;

#[derive(Args)]
#[command(after_help = "Requests to .php files run php-cgi.wasm (CGI/1.1), each in a fresh instance \
of the precompiled module; other files are sent as they are. A path that names no file runs \
index.php with the path as PATH_INFO (a front controller); a directory gets its index.php or \
index.html. Paths that climb out of DOCROOT, hidden files and symlinks leading outside are \
refused. Sessions and uploads live in a private state directory for the server's lifetime. \
One access-log line per request goes to stdout, the scripts' error log to stderr. Ctrl-C \
finishes the requests in flight, then exits 0.")]
pub struct ServeArgs {
    /// Recipe name (php), optionally `name@version`.
    pub interp: String,
    /// Document root (default: the current directory).
    pub docroot: Option<PathBuf>,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    #[arg(long)]
    pub flavor: Option<String>,
    /// Requests that run at once (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Seconds a request may run: PHP's max_execution_time (a 500 from
    /// PHP), then the runtime stops the guest 2 s later (504).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Cap on a request's wasm memory; a request beyond it gets 500.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub memory_mib: usize,
    /// Largest request body; a larger one gets 413 before anything runs.
    /// Also PHP's post_max_size and upload_max_filesize.
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub max_body_mib: u64,
    /// Map a host directory into the guest: HOST or HOST::GUEST.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set a guest environment variable.
    #[arg(long = "env", value_name = "K=V")]
    pub envs: Vec<String>,
    /// A php.ini setting (over kiln's defaults: display_errors=0,
    /// log_errors=1, max_execution_time=<timeout>, ...).
    #[arg(long = "ini", value_name = "K=V")]
    pub inis: Vec<String>,
    /// Serve with this CGI module instead of the built one (e.g. a release
    /// artifact: dist/php-8.4.16-cgi.wasm).
    #[arg(long, value_name = "FILE.wasm", conflicts_with = "native")]
    pub module: Option<PathBuf>,
    /// Start every request from scratch instead of from a snapshot taken
    /// after php-cgi's start-up (`[serve.snapshot]` in the recipe).
    #[arg(long)]
    pub no_snapshot: bool,
    /// Serve with the native php-cgi built from the same tarball instead
    /// (for comparison; builds it when missing).
    #[arg(long)]
    pub native: bool,
}

pub fn run(g: &Global, a: ServeArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let recipe = p.recipe(&a.interp)?;
    let Some(serve) = recipe.serve.clone() else {
        bail!("recipe {} has no [serve] section: it has no CGI program to serve with", recipe.name);
    };
    if !a.timeout.is_finite() || a.timeout <= 0.0 {
        bail!("--timeout must be positive");
    }
    let docroot = match &a.docroot {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    if !docroot.is_dir() {
        bail!("document root {} is not a directory", docroot.display());
    }
    let plan = p.plan(&a.interp, a.flavor.as_deref(), None, false)?;
    let out = kiln::layout::output_dir(&p.layout, &recipe, a.flavor.as_deref())?;
    let module = a.module.clone().unwrap_or_else(|| out.join(&serve.module));
    if a.module.is_none() && !module.is_file() {
        eprintln!("{} is not built yet; building it first", module.display());
        p.build(&plan)?;
    }
    let backend = if a.native {
        let template = serve
            .native_binary
            .as_deref()
            .with_context(|| format!("recipe {} has no [serve] native_binary", recipe.name))?;
        Backend::Native {
            binary: p.native_program(&plan, template)?,
        }
    } else {
        let mut rt = p.runtime(Use::Serve, &recipe.run)?;
        rt.verbose = g.verbose;
        let m = rt.load(&module)?;
        Backend::Wasm {
            runtime: rt,
            module: m,
            path: module.clone(),
        }
    };
    let opts = Options {
        docroot: docroot.clone(),
        listen: a.listen,
        workers: a
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        timeout: Duration::from_secs_f64(a.timeout),
        grace: Duration::from_secs(2),
        memory_limit: Some(a.memory_mib << 20),
        max_body: a.max_body_mib << 20,
        dirs: a.dirs.iter().map(|d| crate::parse_dir(d)).collect::<anyhow::Result<_>>()?,
        env: a.envs.iter().map(|s| crate::parse_kv("--env", s)).collect::<anyhow::Result<_>>()?,
        ini: a.inis.iter().map(|s| crate::parse_kv("--ini", s)).collect::<anyhow::Result<_>>()?,
        server_software: format!("kiln/{} {}/{}", env!("CARGO_PKG_VERSION"), recipe.name, recipe.version),
        snapshot: !a.no_snapshot,
    };
    let log: kiln::serve::Log = std::sync::Arc::new(|e| match e {
        Event::Access(a) => println!("{a}"),
        Event::Guest { target, text } => {
            for line in text.lines() {
                eprintln!("[{target}] {line}");
            }
        }
    });
    let what = match (&a.module, a.native) {
        (Some(m), _) => format!("{} (embedded wasmtime)", m.display()),
        (None, true) => "native php-cgi".to_string(),
        (None, false) => format!("{} (embedded wasmtime)", serve.module),
    };
    let base = RunSpec::for_recipe(&recipe.run, &out);
    let server = Server::bind(&serve, base, backend, &opts, log)?;
    let addr = server.local_addr()?;
    println!(
        "kiln: serving {} at http://{addr}/ with {what}, {} workers, timeout {}s; Ctrl-C stops",
        std::fs::canonicalize(&docroot)?.display(),
        opts.workers,
        a.timeout
    );
    if let Some(n) = server.snapshot_note() {
        println!("kiln: {n}");
    }
    server.run(async {
        kiln::serve::shutdown_signal().await;
        eprintln!("kiln: stopping: finishing the requests in flight");
    })?;
    eprintln!("kiln: stopped");
    Ok(ExitCode::SUCCESS)
}
