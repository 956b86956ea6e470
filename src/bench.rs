//! `shoal bench`: records/s and peak memory for N standing queries, shared
//! and unshared, measured in one run.
//!
//! Each measurement is a fresh `shoal run --stats` child process (so peak
//! memory is that configuration's own), over generated tweets and generated
//! overlapping queries. Shared runs use the full data set; the unshared
//! baseline, which reads the data once per query, uses a smaller data set,
//! and the shared run is repeated on that same small set so the ratio
//! compares like with like. Before each run the data files are read once,
//! so that it starts with them in the page cache. The runs go in
//! `--repeat` rounds, each of which runs every configuration once: rates
//! and memory are medians over the rounds, and the percentages and ratios
//! are medians over the rounds of the ratio of two runs of the same round,
//! made close in time, so that a slow spell of a noisy machine weighs on
//! both sides of a ratio rather than on one.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `shoal bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Tweets in the main data set.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Tweets in the data set of the unshared baseline.
    #[arg(long, default_value_t = 100_000)]
    pub unshared_records: u64,
    /// Query counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    pub counts: Vec<usize>,
    /// Largest query count run unshared.
    #[arg(long, default_value_t = 100)]
    pub unshared_max: usize,
    /// Rounds, each running every configuration once (medians are
    /// reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Where generated data and queries go.
    #[arg(long, default_value = "target/bench-data")]
    pub dir: PathBuf,
    /// Random seed for data and queries.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// One run of one configuration.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Input records per second.
    pub records_per_sec: f64,
    /// Peak resident memory in MiB.
    pub peak_mb: f64,
}

pub(crate) fn ensure_data(dir: &Path, records: u64, seed: u64) -> Result<PathBuf> {
    let data = dir.join(format!("tweets-{records}-{seed}"));
    let marker = data.join(".complete");
    if !marker.exists() {
        std::fs::create_dir_all(&data)?;
        let cfg = crate::gen::TweetConfig {
            records,
            files: 4,
            seed,
            ..crate::gen::TweetConfig::default()
        };
        crate::gen::write_tweets(&cfg, &data).context("generating tweets")?;
        std::fs::write(&marker, b"")?;
    }
    Ok(data)
}

fn query_file(dir: &Path, data: &Path, count: usize, seed: u64) -> Result<PathBuf> {
    let path = dir.join(format!(
        "queries-{count}-{}.sql",
        data.file_name().unwrap_or_default().to_string_lossy()
    ));
    let sql = crate::gen::generate_queries(&crate::gen::QueryConfig {
        count,
        seed,
        stream: "tweets".into(),
        source_dir: data.display().to_string(),
    });
    std::fs::write(&path, sql)?;
    Ok(path)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Reads every file of `dir` (not recursing), so that the run after it
/// finds them in the page cache: the targets are for a warm cache, and
/// some machines (this project's VMs among them) reclaim idle cached pages
/// within seconds, which left part of the data to be read from disk during
/// a measured run.
pub fn warm_page_cache(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let mut file = std::fs::File::open(&path)?;
            std::io::copy(&mut file, &mut std::io::sink())?;
        }
    }
    Ok(())
}

/// Runs `shoal run --stats` once on a statement file and parses its stats
/// line, with the page cache warmed with `data` (a directory of input
/// files) first.
pub fn run_once(sql: &Path, data: &Path, unshared: bool) -> Result<Sample> {
    warm_page_cache(data)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("run")
        .arg(sql)
        .arg("--stats")
        .arg("--out")
        .arg("/dev/null");
    if unshared {
        cmd.arg("--unshared");
    }
    let out = cmd.output().context("starting shoal run")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("shoal run failed on {}: {stderr}", sql.display());
    }
    let line = stderr
        .lines()
        .find(|l| l.starts_with("records "))
        .context("no stats line")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let get = |k: &str| -> f64 {
        fields
            .iter()
            .position(|f| *f == k)
            .and_then(|i| fields.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Ok(Sample {
        records_per_sec: get("records/s"),
        peak_mb: get("peak_rss_mb"),
    })
}

/// The runs of one query count, one per round.
#[derive(Default)]
struct CountRuns {
    /// Shared, on the main data set.
    shared: Vec<Sample>,
    /// Shared, on the small data set.
    small: Vec<Sample>,
    /// Unshared, on the small data set.
    unshared: Vec<Sample>,
}

/// The median of `f` over `samples`, `None` when there are none.
fn median_of(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> Option<f64> {
    (!samples.is_empty()).then(|| median(samples.iter().map(f).collect()))
}

/// The median over rounds of `num[r] / den[r]`: a ratio of two runs made
/// in the same round, close in time, so that a slow spell of the machine
/// weighs on both sides of it.
fn paired_ratio(num: &[Sample], den: &[Sample]) -> Option<f64> {
    let ratios: Vec<f64> = num
        .iter()
        .zip(den)
        .filter(|(_, d)| d.records_per_sec > 0.0)
        .map(|(n, d)| n.records_per_sec / d.records_per_sec)
        .collect();
    (!ratios.is_empty()).then(|| median(ratios))
}

/// Runs the benchmark and prints a table.
pub fn run_bench(args: &BenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let big = ensure_data(&args.dir, args.records, args.seed)?;
    let small = ensure_data(&args.dir, args.unshared_records, args.seed)?;
    println!(
        "shoal bench: {} tweets shared, {} tweets for the unshared baseline, median of {} round(s)",
        args.records, args.unshared_records, args.repeat
    );
    // The shared rate as a share of the first count's (N=1 by default):
    // the target for N=1000 is stated that way.
    let of_first = format!("% of N={}", args.counts.first().copied().unwrap_or(1));
    println!(
        "{:>6}  {:>14}  {:>9}  {:>9}  {:>16}  {:>16}  {:>9}  {:>8}",
        "N",
        "shared rec/s",
        "peak MiB",
        of_first,
        "small shared/s",
        "unshared rec/s",
        "peak MiB",
        "ratio"
    );
    // Rounds: each runs every configuration once, so that the runs a
    // ratio compares are made close in time.
    let mut runs: Vec<CountRuns> = args.counts.iter().map(|_| CountRuns::default()).collect();
    for _ in 0..args.repeat.max(1) {
        for (&n, r) in args.counts.iter().zip(&mut runs) {
            let q = query_file(&args.dir, &big, n, args.seed)?;
            r.shared.push(run_once(&q, &big, false)?);
            if n <= args.unshared_max {
                let qs = query_file(&args.dir, &small, n, args.seed)?;
                r.small.push(run_once(&qs, &small, false)?);
                r.unshared.push(run_once(&qs, &small, true)?);
            }
        }
    }
    let fmt = |v: Option<f64>| v.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into());
    let first = runs.first().map(|r| r.shared.clone()).unwrap_or_default();
    for (&n, r) in args.counts.iter().zip(&runs) {
        let rate = |s: &Sample| s.records_per_sec;
        let mem = |s: &Sample| s.peak_mb;
        let share = paired_ratio(&r.shared, &first)
            .map(|x| format!("{:.1}%", 100.0 * x))
            .unwrap_or_else(|| "-".into());
        let ratio = paired_ratio(&r.small, &r.unshared)
            .map(|x| format!("{x:.1}x"))
            .unwrap_or_else(|| "-".into());
        let mb = median_of(&r.unshared, mem)
            .map(|m| format!("{m:.1}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>6}  {:>14}  {:>9.1}  {:>9}  {:>16}  {:>16}  {:>9}  {:>8}",
            n,
            fmt(median_of(&r.shared, rate)),
            median_of(&r.shared, mem).unwrap_or(0.0),
            share,
            fmt(median_of(&r.small, rate)),
            fmt(median_of(&r.unshared, rate)),
            mb,
            ratio
        );
    }
    if let Some(b) = median_of(&first, |s| s.records_per_sec) {
        println!(
            "(shared rate of the first N: {b:.0} records/s; the percentages and ratios are medians over rounds of one round's runs compared: shared/first N, shared/unshared on the small set)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rates: &[f64]) -> Vec<Sample> {
        rates
            .iter()
            .map(|&r| Sample {
                records_per_sec: r,
                peak_mb: 1.0,
            })
            .collect()
    }

    #[test]
    fn ratios_pair_the_runs_of_a_round() {
        // Rounds' ratios 1.0, 0.5 and 3.0: their median is 1.0, where the
        // ratio of the medians (20 / 10) would be 2.0.
        let num = samples(&[10.0, 20.0, 30.0]);
        let den = samples(&[10.0, 40.0, 10.0]);
        assert_eq!(paired_ratio(&num, &den), Some(1.0));
        assert_eq!(median_of(&num, |s| s.records_per_sec), Some(20.0));
        assert_eq!(paired_ratio(&num, &samples(&[])), None);
        // A round whose denominator failed to report a rate is left out.
        assert_eq!(paired_ratio(&num, &samples(&[0.0, 10.0, 10.0])), Some(3.0));
    }
}
