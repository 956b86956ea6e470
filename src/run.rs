//! `shoal run`: execute statement files, read every `dir:` source to its end
//! through the shared plan (or, with `unshared`, one independent pass per
//! query), flush every window, and report.
//!
//! Relative `dir:` paths are resolved against the current directory.

use crate::exec::{Engine, Limits, ResultSink, StatementError, StreamStats};
use crate::parser::{self, Statement};
use crate::planner::StreamDef;
use crate::watch::dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What can go wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A statement is wrong; the message is rendered with line, column and caret.
    #[error("{file}: {rendered}")]
    Statement {
        /// The statement file.
        file: String,
        /// The rendered error.
        rendered: String,
        /// The error itself.
        error: StatementError,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run each query as its own independent pass (the unshared baseline).
    pub unshared: bool,
    /// Bytes per batch read from a file.
    pub chunk_bytes: Option<usize>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Input records: lines of all sources, counted once however many passes read them.
    pub records: u64,
    /// Wall-clock seconds spent reading and processing (not parsing statements).
    pub seconds: f64,
    /// Results written.
    pub results: u64,
    /// Counters per stream (of the shared pass; summed over passes when unshared).
    pub streams: BTreeMap<String, StreamStats>,
    /// The shared plan text.
    pub explain: String,
    /// The most recent rejected records of each stream (of the shared pass).
    pub rejects: Vec<crate::exec::Reject>,
    /// Time spent in each phase, summed over streams (and passes).
    pub phases: crate::exec::engine::PhaseTimes,
}

impl RunReport {
    /// Input records per second.
    pub fn records_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.records as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A statement file's text.
pub struct SqlFile {
    /// Its path, for messages.
    pub path: String,
    /// Its text.
    pub text: String,
}

impl SqlFile {
    /// Reads a statement file.
    pub fn read(path: &Path) -> Result<SqlFile, RunError> {
        let text = std::fs::read_to_string(path).map_err(|source| RunError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(SqlFile {
            path: path.display().to_string(),
            text,
        })
    }
}

fn exec_file(engine: &mut Engine, f: &SqlFile) -> Result<(), RunError> {
    engine
        .execute(&f.text)
        .map(|_| ())
        .map_err(|error| RunError::Statement {
            file: f.path.clone(),
            rendered: error.render(&f.text),
            error,
        })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads every `dir:` source of the engine's streams to its end, then flushes.
pub fn drive(
    engine: &mut Engine,
    chunk_bytes: usize,
    sink: &mut dyn ResultSink,
) -> Result<(), RunError> {
    let sources: Vec<(StreamDef, PathBuf)> = engine
        .streams()
        .filter_map(|s| {
            s.def()
                .source_dir()
                .map(|d| (s.def().clone(), PathBuf::from(d)))
        })
        .collect();
    for (def, dir_path) in sources {
        let stream = def.name.as_str();
        let files = dir::list_files(&dir_path).map_err(|source| RunError::Io {
            path: dir_path.display().to_string(),
            source,
        })?;
        let wanted = files.into_iter().filter(|f| {
            f.file_name()
                .is_some_and(|n| def.wants_file(&n.to_string_lossy()))
        });
        for file in wanted {
            let mut origin = crate::exec::Origin::new(file.display().to_string());
            let io_error = |source| RunError::Io {
                path: file.display().to_string(),
                source,
            };
            let mut reader = dir::ChunkReader::open(&file, chunk_bytes).map_err(io_error)?;
            engine
                .push_chunks(
                    stream,
                    &mut origin,
                    |buf| reader.next_into(buf),
                    &now_ms,
                    sink,
                )
                .map_err(io_error)?;
        }
    }
    engine.flush(sink);
    Ok(())
}

/// Runs statement files over their sources, writing results to `sink`.
pub fn run(
    files: &[SqlFile],
    opts: &RunOptions,
    sink: &mut dyn ResultSink,
) -> Result<RunReport, RunError> {
    let chunk = opts.chunk_bytes.unwrap_or(dir::CHUNK_BYTES);
    let mut shared = Engine::with_limits(Limits::batch());
    for f in files {
        exec_file(&mut shared, f)?;
    }
    let explain = shared.explain(None);
    let mut counting = crate::exec::CountingSink {
        inner: sink,
        count: 0,
    };
    let start = Instant::now();
    let mut report = RunReport {
        explain,
        ..RunReport::default()
    };
    if !opts.unshared {
        drive(&mut shared, chunk, &mut counting)?;
        for s in shared.streams() {
            report.records += s.stats().records_in;
            report.phases.add(s.phase_times());
            report
                .streams
                .insert(s.def().name.clone(), s.stats().clone());
            report.rejects.extend(s.rejects().cloned());
        }
    } else {
        // One engine per query: the streams, and that query alone.
        let mut stream_stmts = Vec::new();
        let mut query_stmts = Vec::new();
        for f in files {
            let stmts = parser::parse_statements(&f.text).expect("parsed above");
            for s in stmts {
                let text = &f.text[s.span.start..s.span.end];
                match &s.statement {
                    Statement::CreateStream(_) => {
                        stream_stmts.push((s.statement.clone(), text.to_string()))
                    }
                    Statement::CreateQuery(_) => {
                        query_stmts.push((s.statement.clone(), text.to_string()))
                    }
                    _ => {}
                }
            }
        }
        let mut seen_records: BTreeMap<String, u64> = BTreeMap::new();
        for (q, qtext) in &query_stmts {
            let mut e = Engine::with_limits(Limits::batch());
            for (st, text) in &stream_stmts {
                e.execute_statement(st, text)
                    .expect("stream executed above");
            }
            e.execute_statement(q, qtext).expect("query executed above");
            drive(&mut e, chunk, &mut counting)?;
            for s in e.streams() {
                let name = s.def().name.clone();
                let recs = s.stats().records_in;
                seen_records.insert(name.clone(), recs);
                let agg = report.streams.entry(name).or_default();
                agg.records_in += s.stats().records_in;
                agg.accepted += s.stats().accepted;
                agg.rejected += s.stats().rejected;
                agg.late += s.stats().late;
                agg.results_out += s.stats().results_out;
                agg.state_updates += s.stats().state_updates;
                report.phases.add(s.phase_times());
            }
        }
        report.records = seen_records.values().sum();
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.results = counting.count;
    Ok(report)
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The built-in demo: `examples/tweets.sql` over `records` freshly generated
/// tweets in a temporary directory.
pub fn demo_sql_file(records: u64) -> Result<SqlFile, RunError> {
    let dir = std::env::temp_dir().join(format!("shoal-demo-{records}"));
    let marker = dir.join(".complete");
    let io = |source| RunError::Io {
        path: dir.display().to_string(),
        source,
    };
    if !marker.exists() {
        std::fs::create_dir_all(&dir).map_err(io)?;
        let cfg = crate::gen::TweetConfig {
            records,
            files: 2,
            ..crate::gen::TweetConfig::default()
        };
        crate::gen::write_tweets(&cfg, &dir).map_err(io)?;
        std::fs::write(&marker, b"").map_err(io)?;
    }
    let text = include_str!("../examples/tweets.sql").replace(
        "dir:examples/data/tweets",
        &format!("dir:{}", dir.display()),
    );
    Ok(SqlFile {
        path: "examples/tweets.sql (demo)".into(),
        text,
    })
}
