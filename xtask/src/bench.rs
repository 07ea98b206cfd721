use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kiln::bench::{self, BenchOptions};

use crate::Global;

#[derive(Args)]
pub struct BenchArgs {
    /// Interpreters to benchmark (default: php python).
    pub interps: Vec<String>,
    /// Runs per workload and side (interleaved wasm/native).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the numbers as JSON: {"rows": [...], "geomean": [...]}.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only the workloads whose name contains this text (repeatable),
    /// e.g. `--workload Zend/bench.php --workload start-up`. `serve` (by
    /// that exact name only) measures `cargo xtask serve`: req/s and
    /// p50/p99 with php-cgi.wasm against native php-cgi behind the same
    /// server and native `php -S`, and the fixed cost of one request;
    /// `--runs N` sends 400*N requests per column.
    #[arg(long, value_name = "TEXT")]
    pub workload: Vec<String>,
    /// Start every wasm run from scratch instead of resuming the recipe's
    /// start-up snapshot (`[run.snapshot]`). With the snapshot, start-up
    /// workloads also get an `[in-process, from scratch]` row, the A/B.
    #[arg(long)]
    pub no_snapshot: bool,
}

pub fn run(g: &Global, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let interps = if a.interps.is_empty() {
        vec!["php".to_string(), "python".to_string()]
    } else {
        a.interps
    };
    let results = bench::run(
        &p,
        &BenchOptions {
            interps,
            runs: a.runs,
            workloads: a.workload,
            exe: Some(std::env::current_exe()?),
            snapshot: !a.no_snapshot,
        },
    )?;
    if !results.rows.is_empty() {
        print!("{}", bench::table(&results.rows));
    }
    for r in &results.serve {
        print!("{}", kiln::bench::serve::table(r));
    }
    if let Some(j) = &a.json {
        let doc = serde_json::json!({ "rows": results.rows, "geomean": bench::summaries(&results.rows), "serve": results.serve });
        std::fs::write(j, serde_json::to_vec_pretty(&doc)?).with_context(|| format!("writing {}", j.display()))?;
        println!("json: {}", j.display());
    }
    Ok(ExitCode::SUCCESS)
}
