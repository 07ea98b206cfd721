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
    /// e.g. `--workload Zend/bench.php --workload start-up`.
    #[arg(long, value_name = "TEXT")]
    pub workload: Vec<String>,
}

pub fn run(g: &Global, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let p = crate::project(g)?;
    let interps = if a.interps.is_empty() {
        vec!["php".to_string(), "python".to_string()]
    } else {
        a.interps
    };
    let rows = bench::run(
        &p,
        &BenchOptions {
            interps,
            runs: a.runs,
            workloads: a.workload,
            exe: Some(std::env::current_exe()?),
        },
    )?;
    print!("{}", bench::table(&rows));
    if let Some(j) = &a.json {
        let doc = serde_json::json!({ "rows": rows, "geomean": bench::summaries(&rows) });
        std::fs::write(j, serde_json::to_vec_pretty(&doc)?).with_context(|| format!("writing {}", j.display()))?;
        println!("json: {}", j.display());
    }
    Ok(ExitCode::SUCCESS)
}
