//! One side's timings of a workload (wasm or native): every run and their
//! median, min and max. A leaf shared by the benchmarks (`mod.rs`,
//! `serve.rs`).

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub runs: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Side {
    pub fn of(mut runs: Vec<f64>) -> Side {
        runs.sort_by(|a, b| a.total_cmp(b));
        let median = if runs.is_empty() { 0.0 } else { runs[runs.len() / 2] };
        Side {
            min: *runs.first().unwrap_or(&0.0),
            max: *runs.last().unwrap_or(&0.0),
            median,
            runs,
        }
    }
}
