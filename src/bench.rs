//! `shoal bench`: records/s and peak memory for N standing queries, shared
//! and unshared, measured in one run.
//!
//! Each measurement is a fresh `shoal run --stats` child process (so peak
//! memory is that configuration's own), over generated tweets and generated
//! overlapping queries. Shared runs use the full data set; the unshared
//! baseline, which reads the data once per query, uses a smaller data set,
//! and the shared run is repeated on that same small set so the ratio
//! compares like with like. Before each run the data files are read once,
//! so that it starts with them in the page cache. Every figure is the
//! median of `--repeat` runs.

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
    /// Runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Where generated data and queries go.
    #[arg(long, default_value = "target/bench-data")]
    pub dir: PathBuf,
    /// Random seed for data and queries.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// One measured configuration.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Input records per second (median).
    pub records_per_sec: f64,
    /// Peak resident memory in MiB (median).
    pub peak_mb: f64,
    /// Results written.
    pub results: u64,
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

/// Runs `shoal run --stats` on a statement file and parses its stats line,
/// with the page cache warmed with `data` (a directory of input files)
/// before each run.
pub fn measure(sql: &Path, data: &Path, unshared: bool, repeat: usize) -> Result<Measurement> {
    let exe = std::env::current_exe()?;
    let mut rates = Vec::new();
    let mut mems = Vec::new();
    let mut results = 0;
    for _ in 0..repeat.max(1) {
        warm_page_cache(data)?;
        let mut cmd = Command::new(&exe);
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
        rates.push(get("records/s"));
        mems.push(get("peak_rss_mb"));
        results = get("results") as u64;
    }
    Ok(Measurement {
        records_per_sec: median(rates),
        peak_mb: median(mems),
        results,
    })
}

/// Runs the benchmark and prints a table.
pub fn run_bench(args: &BenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let big = ensure_data(&args.dir, args.records, args.seed)?;
    let small = ensure_data(&args.dir, args.unshared_records, args.seed)?;
    println!(
        "shoal bench: {} tweets shared, {} tweets for the unshared baseline, median of {} run(s)",
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
    let mut base_rate = None;
    for &n in &args.counts {
        let q = query_file(&args.dir, &big, n, args.seed)?;
        let shared = measure(&q, &big, false, args.repeat)?;
        base_rate.get_or_insert(shared.records_per_sec);
        let (small_rate, unshared_rate, unshared_mb) = if n <= args.unshared_max {
            let qs = query_file(&args.dir, &small, n, args.seed)?;
            let s = measure(&qs, &small, false, args.repeat)?;
            let u = measure(&qs, &small, true, args.repeat)?;
            (
                Some(s.records_per_sec),
                Some(u.records_per_sec),
                Some(u.peak_mb),
            )
        } else {
            (None, None, None)
        };
        let fmt = |v: Option<f64>| v.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into());
        let ratio = match (small_rate, unshared_rate) {
            (Some(s), Some(u)) if u > 0.0 => format!("{:.1}x", s / u),
            _ => "-".into(),
        };
        let mb = unshared_mb
            .map(|m| format!("{m:.1}"))
            .unwrap_or_else(|| "-".into());
        let share = base_rate
            .filter(|b| *b > 0.0)
            .map(|b| format!("{:.1}%", 100.0 * shared.records_per_sec / b))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>6}  {:>14.0}  {:>9.1}  {:>9}  {:>16}  {:>16}  {:>9}  {:>8}",
            n,
            shared.records_per_sec,
            shared.peak_mb,
            share,
            fmt(small_rate),
            fmt(unshared_rate),
            mb,
            ratio
        );
    }
    if let Some(b) = base_rate {
        println!(
            "(shared rate of the first N: {b:.0} records/s; ratio = shared/unshared on the small set)"
        );
    }
    Ok(())
}
