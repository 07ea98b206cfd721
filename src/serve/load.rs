//! A small closed-loop HTTP load generator for `bench --workload serve`:
//! `concurrency` clients, each sending its share of `requests` one after
//! another over a keep-alive connection, cycling through `paths`.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub requests: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub per_second: f64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The `q`-quantile (0..=1) of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Send `requests` GETs to `base` + each of `paths` in turn; any error or
/// non-200 answer fails the run (a benchmark of errors measures nothing).
pub fn run(base: &str, paths: &[String], requests: usize, concurrency: usize) -> Result<LoadResult> {
    if paths.is_empty() || concurrency == 0 {
        bail!("nothing to load: no paths or no clients");
    }
    let t = Instant::now();
    let per = requests.div_ceil(concurrency);
    let results: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|c| {
                s.spawn(move || -> Result<Vec<f64>> {
                    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build()?;
                    let mut lat = Vec::with_capacity(per);
                    for i in 0..per {
                        let url = format!("{base}{}", paths[(c + i) % paths.len()]);
                        let t = Instant::now();
                        let r = client.get(&url).send()?;
                        let status = r.status();
                        let _ = r.bytes()?;
                        if !status.is_success() {
                            bail!("GET {url}: {status}");
                        }
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a load client panicked")).collect()
    });
    let seconds = t.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort_by(f64::total_cmp);
    Ok(LoadResult {
        requests: lat.len(),
        concurrency,
        seconds,
        per_second: lat.len() as f64 / seconds,
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
