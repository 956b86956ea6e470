//! `shoal bench-live`: the server measured as a user sees it.
//!
//! Starts the real `shoal serve` (this executable) on 127.0.0.1, then
//! - **latency**: a producer writes records over TCP at a fixed rate, each
//!   stamped with its write time; websocket clients subscribed to a filter
//!   query and to a 1 s tumbling query note when results arrive. Filter
//!   latency is arrival − write time of the record. Window latency is arrival
//!   − window end: with a zero watermark, the window closes when the first
//!   record with event time ≥ its end arrives, and that record was written
//!   at its end (within the producer's 1 ms pacing), so the window wait is
//!   excluded.
//! - **throughput**: a producer sends generated tweets over TCP as fast as
//!   the server takes them, with N generated queries registered; records/s is
//!   records over the time until the server has counted them all.

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Options of `shoal bench-live`.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchLiveArgs {
    /// Records per second written during the latency test.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Seconds the latency test runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Queries registered for the throughput test.
    #[arg(long, default_value_t = 100)]
    pub queries: usize,
    /// Tweets sent in the throughput test.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Throughput runs (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Where generated data goes.
    #[arg(long, default_value = "target/bench-data")]
    pub dir: PathBuf,
    /// Run the throughput server with the embedded store (a fresh one per
    /// run, under DIR) instead of `--no-store`.
    #[arg(long)]
    pub store: bool,
    /// Skip the latency test.
    #[arg(long)]
    pub no_latency: bool,
    /// More statements (over the generated `tweets` stream) registered for
    /// the throughput test, e.g. queries with many results for the store.
    #[arg(long)]
    pub extra_sql: Option<PathBuf>,
}

/// A `shoal serve` child process, killed when dropped.
struct ServerProcess {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl ServerProcess {
    /// Starts the server, with a store in `data` or without one.
    fn start(data: Option<&std::path::Path>) -> Result<ServerProcess> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--bind", "127.0.0.1:0"]);
        match data {
            Some(d) => cmd.arg("--data").arg(d),
            None => cmd.arg("--no-store"),
        };
        let mut child = cmd
            .env("SHOAL_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting shoal serve")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            bail!("unexpected first line from the server: {line:?}");
        };
        Ok(ServerProcess {
            base: base.to_string(),
            child,
            http: reqwest::Client::new(),
        })
    }

    async fn sql(&self, sql: &str) -> Result<()> {
        let r = self
            .http
            .post(format!("{}/v1/statements", self.base))
            .body(sql.to_string())
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("statement failed: {}", r.text().await?);
        }
        Ok(())
    }

    async fn stream(&self, name: &str) -> Result<Value> {
        Ok(self
            .http
            .get(format!("{}/v1/streams/{name}", self.base))
            .send()
            .await?
            .json()
            .await?)
    }

    /// The address a `tcp:` stream listens on.
    async fn tcp_addr(&self, stream: &str) -> Result<String> {
        let v = self.stream(stream).await?;
        v["source_detail"]
            .as_str()
            .map(|s| s.trim_start_matches("tcp:").to_string())
            .context("the stream has no bound TCP address")
    }

    fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The `q`-quantile of sorted samples.
fn quantile(sorted: &[i64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i] as f64
}

/// Collects (arrival µs, message) from a websocket until `until`.
async fn collect(url: String, until: Instant) -> Result<Vec<(i64, Value)>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let mut out = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) | Ok(None) => return Ok(out),
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let at = now_us();
                out.push((at, serde_json::from_str(&t)?));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e.into()),
        }
    }
}

/// Latency of filter and window results at `rate` records/s.
async fn latency(args: &BenchLiveArgs) -> Result<()> {
    let server = ServerProcess::start(None)?;
    server
        .sql(
            "CREATE STREAM lat (ts BIGINT, seq BIGINT, probe BIGINT, sent_us BIGINT, host TEXT)
               WITH (source = 'tcp:127.0.0.1:0', format = 'json', event_time = 'ts', watermark = '0s');
             CREATE QUERY lat_filter AS SELECT seq, sent_us FROM lat WHERE probe = 1;
             CREATE QUERY lat_window AS SELECT host, count(*) AS n FROM lat GROUP BY host WINDOW TUMBLING 1s;",
        )
        .await?;
    let addr = server.tcp_addr("lat").await?;
    let run_for = Duration::from_secs(args.seconds);
    let until = Instant::now() + run_for + Duration::from_secs(3);
    let filter = tokio::spawn(collect(server.ws_url("/v1/queries/lat_filter/live"), until));
    let window = tokio::spawn(collect(server.ws_url("/v1/queries/lat_window/live"), until));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sock = tokio::net::TcpStream::connect(&addr).await?;
    sock.set_nodelay(true)?;
    let start = Instant::now();
    let per_ms = (args.rate / 1000).max(1);
    let mut seq = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut buf = String::new();
    while start.elapsed() < run_for {
        tick.tick().await;
        buf.clear();
        let due = (start.elapsed().as_secs_f64() * args.rate as f64) as u64;
        let n = due.saturating_sub(seq).min(per_ms * 20);
        for _ in 0..n {
            let us = now_us();
            let probe = u64::from(seq.is_multiple_of(100));
            buf.push_str(&format!(
                "{{\"ts\":{},\"seq\":{seq},\"probe\":{probe},\"sent_us\":{us},\"host\":\"h{}\"}}\n",
                us / 1000,
                seq % 8
            ));
            seq += 1;
        }
        sock.write_all(buf.as_bytes()).await?;
    }
    let sent_secs = start.elapsed().as_secs_f64();
    let filter = filter.await??;
    let window = window.await??;
    let warm = Duration::from_secs(1).as_micros() as i64;
    let t0 = filter.first().map(|(t, _)| *t).unwrap_or(0);
    let mut fl: Vec<i64> = filter
        .iter()
        .filter(|(at, _)| at - t0 > warm)
        .filter_map(|(at, v)| v["row"]["sent_us"].as_i64().map(|s| at - s))
        .collect();
    fl.sort_unstable();
    let mut wl: Vec<i64> = window
        .iter()
        .filter(|(_, v)| v.get("partial").is_none())
        .filter_map(|(at, v)| v["window_end"].as_i64().map(|end| at - end * 1000))
        .collect();
    wl.sort_unstable();
    println!(
        "latency at {:.0} records/s for {:.1} s over TCP (sent {seq}):",
        seq as f64 / sent_secs,
        sent_secs
    );
    println!(
        "  filter query:        {} results, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        fl.len(),
        quantile(&fl, 0.5) / 1000.0,
        quantile(&fl, 0.99) / 1000.0,
        fl.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    println!(
        "  1s tumbling query:   {} results, p50 {:.2} ms, p99 {:.2} ms (window wait excluded)",
        wl.len(),
        quantile(&wl, 0.5) / 1000.0,
        quantile(&wl, 0.99) / 1000.0
    );
    Ok(())
}

/// Sustained records/s from one TCP producer with `args.queries` queries.
async fn throughput(args: &BenchLiveArgs) -> Result<f64> {
    let data = crate::bench::ensure_data(&args.dir, args.records, 42)?;
    let mut sql = crate::gen::generate_queries(&crate::gen::QueryConfig {
        count: args.queries,
        seed: 42,
        source_dir: "unused".to_string(),
        ..crate::gen::QueryConfig::default()
    });
    sql = sql.replace("'dir:unused'", "'tcp:127.0.0.1:0'");
    if let Some(extra) = &args.extra_sql {
        sql.push_str(&std::fs::read_to_string(extra).context("reading --extra-sql")?);
    }
    let store = args.store.then(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        args.dir.join(format!("store-{nanos}"))
    });
    let server = ServerProcess::start(store.as_deref())?;
    server.sql(&sql).await?;
    let stream = crate::gen::QueryConfig::default().stream;
    let addr = server.tcp_addr(&stream).await?;
    let files = crate::watch::dir::list_files(&data)?;
    let start = Instant::now();
    let mut sock = tokio::net::TcpStream::connect(&addr).await?;
    for f in files {
        let bytes = tokio::fs::read(&f).await?;
        sock.write_all(&bytes).await?;
    }
    sock.shutdown().await?;
    loop {
        let v = server.stream(&stream).await?;
        if v["stats"]["records_in"].as_u64().unwrap_or(0) >= args.records {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = args.records as f64 / start.elapsed().as_secs_f64();
    drop(server);
    if let Some(d) = store {
        let _ = std::fs::remove_dir_all(d);
    }
    Ok(rate)
}

/// Runs the benchmark and prints what it measured.
pub fn run_bench_live(args: &BenchLiveArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        if !args.no_latency {
            latency(args).await?;
        }
        let mut rates = Vec::new();
        for _ in 0..args.repeat.max(1) {
            rates.push(throughput(args).await?);
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        println!(
            "throughput: {} tweets over one TCP connection, {} queries, {}: median {:.0} records/s (runs: {})",
            args.records,
            args.queries,
            if args.store { "with the store" } else { "without the store" },
            rates[rates.len() / 2],
            rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    })
}
