//! The `shoal` command line: thin wrappers over library functions.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use shoal::exec::JsonLinesSink;
use shoal::gen::{
    generate_ascp_queries, generate_queries, write_ascp, write_tweets, AscpConfig, QueryConfig,
    TweetConfig,
};
use shoal::run::{peak_rss_bytes, run, RunOptions, SqlFile};
use std::io::Write;
use std::path::{Path, PathBuf};

/// mimalloc: the engine allocates many small group keys and set entries, and
/// glibc's allocator showed up at ~14% of profiles with 1,000 queries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Shoal: many standing SQL queries over live data, run as one shared plan.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run statement files over their `dir:` sources to the end and write results as JSON lines.
    Run {
        /// Statement files (CREATE STREAM, CREATE QUERY, …), executed in order.
        /// Without any, runs the built-in demo: generated tweets and the example queries.
        files: Vec<PathBuf>,
        /// Write results here instead of standard output (`-` is standard
        /// output too).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run each query as its own pass over the data (the baseline without sharing).
        #[arg(long)]
        unshared: bool,
        /// Print the shared plan to standard error before running.
        #[arg(long)]
        explain: bool,
        /// Print records, seconds, records/s and peak memory to standard error.
        #[arg(long)]
        stats: bool,
        /// Write the rejected records (with reasons) here as JSON lines.
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Bytes of input read and processed as one batch (default 4 MiB).
        #[arg(long)]
        batch_bytes: Option<usize>,
    },
    /// Run the server: HTTP API, live sources, websocket result feeds.
    Serve {
        /// Statement files executed at start, in order.
        files: Vec<PathBuf>,
        /// Address to listen on. Loopback by default.
        #[arg(long, default_value = "127.0.0.1:7878")]
        bind: std::net::SocketAddr,
        /// Feed a `tweets` stream with generated tweets in real time and register example queries.
        #[arg(long)]
        demo: bool,
        /// Tweets per second of the demo generator.
        #[arg(long, default_value_t = 200.0)]
        demo_rate: f64,
        /// Require `Authorization: Bearer TOKEN` on every call (websockets may
        /// pass `?token=TOKEN`). Also read from SHOAL_TOKEN, which keeps it
        /// out of the process list.
        #[arg(long)]
        token: Option<String>,
        /// Allow listening on a non-loopback address without a token.
        #[arg(long)]
        insecure: bool,
        /// An origin (`scheme://host[:port]`, or `*`) whose pages may call the
        /// API besides the server's own. Repeatable.
        #[arg(long = "allow-origin", value_name = "URL")]
        allow_origin: Vec<String>,
        /// Most queries registered at once.
        #[arg(long, default_value_t = shoal::exec::limits::DEFAULT_MAX_QUERIES)]
        max_queries: usize,
        /// Most groups one aggregation state holds; beyond it the queries
        /// reading it drop updates that need new groups and report an error.
        #[arg(long, default_value_t = shoal::exec::limits::DEFAULT_MAX_GROUPS_PER_STATE)]
        max_groups: usize,
        /// Largest compiled automaton, in bytes, for the MATCHES patterns of one field.
        #[arg(long, default_value_t = shoal::exec::limits::DEFAULT_MAX_REGEX_BYTES)]
        max_regex_bytes: usize,
        /// Largest request body, in bytes.
        #[arg(long, default_value_t = shoal::server::api::MAX_BODY)]
        max_body: usize,
        /// Most websockets open at once.
        #[arg(long, default_value_t = shoal::server::live::DEFAULT_MAX_SUBSCRIBERS)]
        max_subscribers: usize,
        /// Directory of the embedded store (catalog, result history, checkpoints); created if missing.
        #[arg(long, default_value = shoal::server::DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Run without a store: nothing survives a restart.
        #[arg(long, visible_alias = "memory")]
        no_store: bool,
        /// Time between checkpoints (e.g. 1s, 250ms).
        #[arg(long, default_value = "1s", value_parser = parse_interval)]
        checkpoint_interval: std::time::Duration,
    },
    /// An interactive client of a running server: statements, meta-commands, live tables.
    Repl {
        /// The server's address.
        #[arg(long, default_value = "http://127.0.0.1:7878")]
        server: String,
        /// Run this text (statements and meta-commands) instead of reading
        /// input, then exit; repeatable. Exits 1 at the first error.
        #[arg(short = 'c', long = "command")]
        commands: Vec<String>,
    },
    /// Generate data or queries.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
    /// Measure records/s and peak memory for 1, 10, 100 and 1000 queries, shared and unshared.
    Bench(shoal::bench::BenchArgs),
    /// Measure the server: ingest-to-websocket latency and sustained records/s over TCP.
    BenchLive(shoal::bench_live::BenchLiveArgs),
}

#[derive(Subcommand)]
enum GenCommand {
    /// Realistic, deterministic tweets as JSON lines.
    Tweets {
        /// Number of tweets.
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Number of files to split them into (in time order).
        #[arg(long, default_value_t = 1)]
        files: usize,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Tweets per second of event time.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
    },
    /// Realistic, overlapping standing queries over the tweets stream (SQL on standard output).
    Queries {
        /// Number of queries.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The directory the generated CREATE STREAM reads.
        #[arg(long, default_value = "data/tweets")]
        source_dir: String,
    },
    /// Realistic, deterministic Aspera ascp transfer logs (syslog lines; read with format 'ascp').
    Ascp {
        /// Number of lines.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Number of files to split them into (in time order).
        #[arg(long, default_value_t = 1)]
        files: usize,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Hosts running ascp.
        #[arg(long, default_value_t = 8)]
        hosts: usize,
        /// Transfer sessions running at any time.
        #[arg(long, default_value_t = 24)]
        sessions: usize,
    },
    /// Standing queries over generated ascp logs, with their CREATE STREAM (SQL on standard output).
    AscpQueries {
        /// Number of queries (the first is the per-session report).
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The directory the generated CREATE STREAM reads.
        #[arg(long, default_value = "data/ascp")]
        source_dir: String,
    },
}

/// A positive duration such as `1s` or `250ms`.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    match shoal::planner::catalog::parse_duration_ms(s) {
        Some(ms) if ms > 0 => Ok(std::time::Duration::from_millis(ms as u64)),
        _ => Err(format!("`{s}` is not a positive duration like 1s or 250ms")),
    }
}

/// Turns transparent huge pages off for this process. mimalloc hands freed
/// memory back to the system and takes it again batch after batch; with
/// huge pages each time back costs a fault that zeroes 2 MiB. Measured with
/// 1,000 queries: 4% less CPU and a fifth less peak memory; with one query,
/// the same speed and half the memory (BENCHMARKS.md, sixth session).
fn disable_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag
    // of the calling process; it reads and writes no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> Result<()> {
    disable_huge_pages();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            files,
            out,
            unshared,
            explain,
            stats,
            rejects,
            batch_bytes,
        } => {
            let demo = files.is_empty();
            let files = if demo {
                vec![shoal::run::demo_sql_file(200_000).context("preparing the demo")?]
            } else {
                files
                    .iter()
                    .map(|p| SqlFile::read(p))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let (explain, stats) = (explain || demo, stats || demo);
            let writer: Box<dyn Write + Send> =
                match out.as_deref().filter(|p| *p != Path::new("-")) {
                    Some(p) => Box::new(
                        std::fs::File::create(p)
                            .with_context(|| format!("creating {}", p.display()))?,
                    ),
                    None => Box::new(std::io::stdout()),
                };
            let mut sink = JsonLinesSink::new(writer);
            let opts = RunOptions {
                unshared,
                chunk_bytes: batch_bytes,
            };
            // The run itself is a task of the worker pool: the engine's
            // parallel work then goes to this thread's own queue, which it
            // works through while it waits, and the pool's other thread
            // takes what it can (decoding the next batch, most often).
            let report = match rayon::scope(|_| run(&files, &opts, &mut sink)) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(2);
                }
            };
            sink.finish().context("writing results")?;
            if explain {
                eprint!("{}", report.explain);
            }
            if let Some(path) = rejects {
                let mut w = std::io::BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?,
                );
                for r in &report.rejects {
                    serde_json::to_writer(&mut w, r)?;
                    w.write_all(b"\n")?;
                }
                w.flush()?;
            }
            if stats {
                let rejected: u64 = report.streams.values().map(|s| s.rejected).sum();
                let late: u64 = report.streams.values().map(|s| s.late).sum();
                let accepted: u64 = report.streams.values().map(|s| s.accepted).sum();
                let updates: u64 = report.streams.values().map(|s| s.state_updates).sum();
                eprintln!(
                    "records {} seconds {:.3} records/s {:.0} results {} rejected {} late {} states_per_record {:.1} peak_rss_mb {:.1}",
                    report.records,
                    report.seconds,
                    report.records_per_sec(),
                    report.results,
                    rejected,
                    late,
                    updates as f64 / accepted.max(1) as f64,
                    peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0)
                );
                let p = &report.phases;
                eprintln!(
                    "phase_seconds decode {:.3} apply {:.3} aggregate {:.3} close {:.3}",
                    p.decode.as_secs_f64(),
                    p.apply.as_secs_f64(),
                    p.aggregate.as_secs_f64(),
                    p.close.as_secs_f64()
                );
            }
        }
        Command::Serve {
            files,
            bind,
            demo,
            demo_rate,
            token,
            insecure,
            allow_origin,
            max_queries,
            max_groups,
            max_regex_bytes,
            max_body,
            max_subscribers,
            data,
            no_store,
            checkpoint_interval,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("SHOAL_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let token = token
                .or_else(|| std::env::var("SHOAL_TOKEN").ok())
                .map(|t| shoal::server::guard::Token::new(&t))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--token: {e}"))?;
            let access = shoal::server::guard::Access::new(token, &allow_origin)
                .map_err(|e| anyhow::anyhow!("--allow-origin: {e}"))?;
            let opts = shoal::server::ServeOptions {
                bind,
                files,
                demo,
                demo_rate,
                limits: shoal::exec::Limits {
                    max_queries,
                    max_groups_per_state: max_groups,
                    max_regex_bytes,
                },
                max_body,
                max_subscribers,
                access,
                insecure,
                data: (!no_store).then_some(data),
                checkpoint_interval,
            };
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            if let Err(e) = rt.block_on(shoal::server::serve(opts)) {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
        Command::Repl { server, commands } => {
            let code = shoal::repl::run(&shoal::repl::ReplOptions { server, commands })?;
            std::process::exit(code);
        }
        Command::Gen { what } => match what {
            GenCommand::Tweets {
                records,
                files,
                out,
                seed,
                rate,
            } => {
                let cfg = TweetConfig {
                    records,
                    files: files.max(1),
                    seed,
                    rate_per_s: rate,
                    ..TweetConfig::default()
                };
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let summary = write_tweets(&cfg, &out)
                    .with_context(|| format!("writing {}", out.display()))?;
                eprintln!(
                    "wrote {} tweets ({} bytes) in {} file(s) to {}",
                    summary.records,
                    summary.bytes,
                    summary.files.len(),
                    out.display()
                );
            }
            GenCommand::Queries {
                count,
                seed,
                source_dir,
            } => {
                let sql = generate_queries(&QueryConfig {
                    count,
                    seed,
                    source_dir,
                    ..QueryConfig::default()
                });
                print!("{sql}");
            }
            GenCommand::Ascp {
                records,
                files,
                out,
                seed,
                hosts,
                sessions,
            } => {
                let cfg = AscpConfig {
                    records,
                    files: files.max(1),
                    seed,
                    hosts: hosts.max(1),
                    sessions: sessions.max(1),
                    ..AscpConfig::default()
                };
                let summary =
                    write_ascp(&cfg, &out).with_context(|| format!("writing {}", out.display()))?;
                eprintln!(
                    "wrote {} ascp lines ({} bytes) in {} file(s) to {}",
                    summary.records,
                    summary.bytes,
                    summary.files.len(),
                    out.display()
                );
            }
            GenCommand::AscpQueries {
                count,
                seed,
                source_dir,
            } => {
                print!(
                    "{}",
                    generate_ascp_queries(count, seed, &source_dir, AscpConfig::default().start_ms)
                );
            }
        },
        Command::Bench(args) => shoal::bench::run_bench(&args)?,
        Command::BenchLive(args) => shoal::bench_live::run_bench_live(&args)?,
    }
    Ok(())
}
