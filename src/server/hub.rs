//! The hub: one thread that owns the [`Engine`] and everything it does.
//!
//! Every change and every batch goes through the hub's thread, so the engine
//! needs no locks and each batch sees one consistent plan. Two channels feed
//! it: a bounded one of [`Chunk`]s from the sources (when it is full the
//! sources stop reading: backpressure), and an unbounded one of
//! [`Command`]s from the HTTP API, which is served first so that statements
//! never wait behind a queue of data. A ticker drives `EMIT EVERY` output
//! and the rates shown by the API.
//!
//! Results go to [`Feeds`]: one broadcast channel per query, serialized once
//! and only when someone listens. A slow subscriber lags on its own channel
//! and never holds the hub up.

use super::feeds::Feeds;
use super::metrics::Histogram;
use crate::exec::{Engine, Origin, Outcome, QueryResult, ResultBody, ResultSink, StatementError};
use crate::store::writer::OnCommit;
use crate::store::{
    CatalogChange, CheckpointRecord, Recovered, SourcePosition, StoreMsg, StoreReader, StoreStats,
    StoredResult,
};
use crate::watch::{Chunk, FilePosition};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Chunks that may wait for the hub before the sources are held back.
pub const CHUNK_QUEUE: usize = 64;

/// How often running totals are pushed when the query sets no `EMIT EVERY`.
pub const DEFAULT_RUNNING_EMIT_MS: i64 = 1000;

/// Origin id of records POSTed over HTTP (one origin per stream).
pub const HTTP_ORIGIN: u64 = u64::MAX;

/// Origin id of the demo generator.
pub const DEMO_ORIGIN: u64 = u64::MAX - 1;

/// Largest batch the hub builds by merging queued chunks.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// How often the hub wakes up for timed work.
const TICK: Duration = Duration::from_millis(50);

/// Starts sources for a stream created at run time. Set by the server so
/// that the hub does not depend on how sources are made. The positions are
/// where an earlier run left the stream's files (empty for a new stream).
pub type SourceStarter = Box<
    dyn Fn(
            &crate::planner::StreamDef,
            mpsc::Sender<Chunk>,
            &[FilePosition],
        ) -> Result<SourceGuard, String>
        + Send,
>;

/// Keeps a stream's source running; dropping it stops the source.
pub struct SourceGuard {
    /// What the source is, for listing (a bound TCP address, say).
    pub description: String,
    /// Dropped to stop the source.
    pub _keep: Box<dyn Send>,
}

/// A request to the hub's thread.
pub enum Command {
    /// Execute statements.
    Statements {
        /// The text.
        sql: String,
        /// Outcomes of the statements executed before any error, and the error.
        reply: oneshot::Sender<(Vec<Outcome>, Option<StatementError>)>,
    },
    /// Push records sent over HTTP.
    Ingest {
        /// The stream.
        stream: String,
        /// Lines.
        data: Vec<u8>,
        /// What became of them.
        reply: oneshot::Sender<Result<IngestReport, String>>,
    },
    /// Run a function on the hub's thread (reads for the API).
    Inspect(Box<dyn FnOnce(&mut Hub) + Send>),
    /// Push records sent over HTTP and answer once a checkpoint holding
    /// them is committed.
    IngestDurable {
        /// The stream.
        stream: String,
        /// Lines.
        data: Vec<u8>,
        /// What became of them, once durable.
        reply: oneshot::Sender<Result<IngestReport, DurableError>>,
    },
    /// Statements from start-up files: a `CREATE` of something the store
    /// already holds with the same definition is skipped.
    Startup {
        /// The text.
        sql: String,
        /// As for [`Command::Statements`].
        reply: oneshot::Sender<(Vec<Outcome>, Option<StatementError>)>,
    },
    /// Re-create the catalog and restore the last checkpoint (at start,
    /// before anything else).
    Recover {
        /// What the store holds.
        recovered: Box<Recovered>,
        /// Done, or why not.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Take a last checkpoint and stop; answers once it is committed.
    Shutdown {
        /// Done, or why the checkpoint failed.
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Why a durable ingest did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurableError {
    /// No such stream.
    #[error("no stream named `{0}`")]
    NoStream(String),
    /// The server runs without a store.
    #[error("durable=true needs the store, and this server runs with --no-store")]
    NoStore,
    /// The checkpoint could not be written.
    #[error("the checkpoint failed: {0}")]
    Commit(String),
}

/// The hub's side of the store: the writer's queue and what the next
/// checkpoint needs.
pub struct StoreLink {
    /// The writer's queue.
    pub tx: std::sync::mpsc::SyncSender<StoreMsg>,
    /// Time between checkpoints.
    pub interval: Duration,
    /// The writer's counters.
    pub stats: Arc<StoreStats>,
    /// When the next checkpoint is due.
    due: Instant,
    /// Catalog changes since the last checkpoint.
    catalog: Vec<CatalogChange>,
    /// Callbacks for the next checkpoint's commit (durable ingests).
    waiters: Vec<OnCommit>,
    /// The end of the last chunk of each file origin (keyed like origins).
    files: HashMap<(Arc<str>, u64), FilePosition>,
    /// The writer is gone; said once.
    failed: bool,
}

impl StoreLink {
    /// A link to a writer's queue, checkpointing every `interval`.
    pub fn new(
        tx: std::sync::mpsc::SyncSender<StoreMsg>,
        interval: Duration,
        stats: Arc<StoreStats>,
    ) -> StoreLink {
        StoreLink {
            tx,
            interval,
            stats,
            due: Instant::now() + interval,
            catalog: Vec::new(),
            waiters: Vec::new(),
            files: HashMap::new(),
            failed: false,
        }
    }

    fn send(&mut self, msg: StoreMsg) {
        if self.tx.send(msg).is_err() && !self.failed {
            self.failed = true;
            tracing::error!("the store writer has stopped; nothing more is stored");
        }
    }
}

/// What became of records pushed over HTTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// Records taken into the stream.
    pub accepted: u64,
    /// Records rejected (see the stream's rejects for why).
    pub rejected: u64,
    /// Records older than the watermark, dropped.
    pub late: u64,
}

/// Per-query counters the hub keeps (the engine keeps per-stream ones).
#[derive(Clone, Debug, Default)]
pub struct QueryCounters {
    /// Results produced (finals, filter rows, pushed partials).
    pub results_out: u64,
}

/// Timed output of one aggregate query.
struct Emitter {
    every: Duration,
    due: Instant,
    /// Window partials are marked `"partial": true`.
    windowed: bool,
    /// Last values pushed per (window, group), to push only what changed.
    last: HashMap<String, String>,
}

/// Rate bookkeeping of one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamRate {
    /// Records per second over the last measured interval.
    pub per_sec: f64,
    last_count: u64,
    last_at: Option<Instant>,
}

/// The engine and its live surroundings. Owned by the hub's thread.
pub struct Hub {
    /// The engine.
    pub engine: Engine,
    /// Result feeds by query.
    pub feeds: Arc<Feeds>,
    /// Per-query counters.
    pub counters: HashMap<Arc<str>, QueryCounters>,
    /// Per-stream ingest rates.
    pub rates: HashMap<String, StreamRate>,
    /// Sources by stream.
    pub sources: HashMap<String, SourceGuard>,
    /// Time spent per batch, in seconds.
    pub batch_seconds: Histogram,
    /// Batches processed.
    pub batches: u64,
    /// When the hub started.
    pub started: Instant,
    /// Per-origin reading state, by stream and origin id.
    origins: HashMap<(Arc<str>, u64), Origin>,
    /// Source positions restored from the store that no chunk has claimed
    /// yet (files fully read before the restart send none): carried into
    /// every checkpoint until claimed.
    resumed: Vec<SourcePosition>,
    emitters: HashMap<Arc<str>, Emitter>,
    start_source: Option<SourceStarter>,
    chunk_tx: mpsc::Sender<Chunk>,
    /// The store, when the server keeps one.
    store: Option<StoreLink>,
    /// File positions to resume from, by stream, while recovering.
    resume: HashMap<String, Vec<FilePosition>>,
    /// Statements executed now are re-created from the store: not recorded.
    replaying: bool,
    /// Set by [`Command::Shutdown`]: the loop ends.
    stopping: bool,
    /// When timed work last ran.
    last_tick: Instant,
}

/// A cheap, clonable handle for talking to the hub.
#[derive(Clone)]
pub struct HubHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Where sources send their chunks.
    pub chunks: mpsc::Sender<Chunk>,
    /// Result feeds by query.
    pub feeds: Arc<Feeds>,
    /// Reads the result history, when the server keeps a store.
    pub store: Option<Arc<StoreReader>>,
}

/// The hub's thread has stopped.
#[derive(Debug, thiserror::Error)]
#[error("the engine has stopped")]
pub struct HubGone;

impl HubHandle {
    /// Executes statements; returns what was done and the error that stopped it.
    pub async fn execute(
        &self,
        sql: String,
    ) -> Result<(Vec<Outcome>, Option<StatementError>), HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Statements { sql, reply })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Pushes lines into `stream` and reports what became of them.
    pub async fn ingest(
        &self,
        stream: String,
        data: Vec<u8>,
    ) -> Result<Result<IngestReport, String>, HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Ingest {
                stream,
                data,
                reply,
            })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Pushes lines into `stream`; answers once a checkpoint holding them
    /// is committed to the store.
    pub async fn ingest_durable(
        &self,
        stream: String,
        data: Vec<u8>,
    ) -> Result<Result<IngestReport, DurableError>, HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::IngestDurable {
                stream,
                data,
                reply,
            })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Executes start-up statements, skipping `CREATE`s of streams and
    /// queries the store already re-created with the same definition.
    pub async fn execute_startup(
        &self,
        sql: String,
    ) -> Result<(Vec<Outcome>, Option<StatementError>), HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Startup { sql, reply })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Re-creates the stored catalog, restores the last checkpoint and
    /// starts the sources from their saved positions.
    pub async fn recover(&self, recovered: Recovered) -> Result<Result<(), String>, HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Recover {
                recovered: Box::new(recovered),
                reply,
            })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Takes a last checkpoint (when there is a store) and stops the hub.
    pub async fn shutdown(&self) -> Result<Result<(), String>, HubGone> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Shutdown { reply })
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    /// Runs `f` on the hub's thread and returns its result.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Hub) -> R + Send + 'static,
    ) -> Result<R, HubGone> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Inspect(Box::new(move |hub| {
                let _ = tx.send(f(hub));
            })))
            .map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }
}

/// Starts the hub on its own thread, without a store.
pub fn spawn(start_source: Option<SourceStarter>) -> (HubHandle, std::thread::JoinHandle<()>) {
    spawn_with_store(start_source, None, None)
}

/// Starts the hub on its own thread; with a store link, results and
/// checkpoints go to the store's writer, and `reader` serves the history.
pub fn spawn_with_store(
    start_source: Option<SourceStarter>,
    store: Option<StoreLink>,
    reader: Option<Arc<StoreReader>>,
) -> (HubHandle, std::thread::JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (chunk_tx, chunk_rx) = mpsc::channel(CHUNK_QUEUE);
    let feeds = Arc::new(Feeds::default());
    let hub = Hub {
        engine: Engine::new(),
        feeds: feeds.clone(),
        counters: HashMap::new(),
        rates: HashMap::new(),
        sources: HashMap::new(),
        batch_seconds: Histogram::default(),
        batches: 0,
        started: Instant::now(),
        origins: HashMap::new(),
        resumed: Vec::new(),
        emitters: HashMap::new(),
        start_source,
        chunk_tx: chunk_tx.clone(),
        store,
        resume: HashMap::new(),
        replaying: false,
        stopping: false,
        last_tick: Instant::now(),
    };
    let thread = std::thread::Builder::new()
        .name("shoal-hub".into())
        .spawn(move || hub.run(cmd_rx, chunk_rx))
        .expect("spawn the hub thread");
    (
        HubHandle {
            commands: cmd_tx,
            chunks: chunk_tx,
            feeds,
            store: reader,
        },
        thread,
    )
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sends results to their feeds and counts them; final window results get
/// their stable id and are collected for the store.
struct FeedSink<'h> {
    feeds: &'h Feeds,
    counters: &'h mut HashMap<Arc<str>, QueryCounters>,
    /// Final window results for the store, when there is one.
    stored: Option<&'h mut Vec<StoredResult>>,
}

/// A row as a JSON object, keys in output order.
fn row_json(row: &crate::exec::result::Row) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&**k).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
    }
    out.push('}');
    out
}

impl ResultSink for FeedSink<'_> {
    fn emit(&mut self, result: QueryResult) {
        self.counters
            .entry(result.query.clone())
            .or_default()
            .results_out += 1;
        if let ResultBody::Aggregate {
            window: Some(window),
            group,
            values,
        } = &result.body
        {
            // A final window result (the server never flushes, and
            // partials do not come through here).
            let group_json = row_json(group);
            let id = crate::store::result_id(&result.query, *window, &group_json);
            self.feeds.publish(&result.query, || {
                let json = result.to_json();
                format!("{{\"id\":\"{id}\",{}", &json[1..])
            });
            if let Some(stored) = self.stored.as_deref_mut() {
                stored.push(StoredResult {
                    id,
                    query: result.query.clone(),
                    window: *window,
                    group_json,
                    values_json: row_json(values),
                    emitted_ms: now_ms(),
                });
            }
            return;
        }
        self.feeds.publish(&result.query, || result.to_json());
    }
}

impl Hub {
    fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut chunks: mpsc::Receiver<Chunk>,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("hub runtime");
        rt.block_on(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    biased;
                    cmd = commands.recv() => match cmd {
                        Some(c) => {
                            self.command(c);
                            if self.stopping {
                                break;
                            }
                        }
                        None => break,
                    },
                    _ = tick.tick() => self.on_tick(),
                    chunk = chunks.recv() => match chunk {
                        Some(c) => {
                            self.push_coalesced(c, &mut chunks);
                            // A flood of chunks keeps this loop from ever
                            // waiting, and then the timer never fires: timed
                            // work (checkpoints above all) is done here too.
                            if self.last_tick.elapsed() >= TICK {
                                self.on_tick();
                            }
                        }
                        None => break,
                    },
                }
            }
        });
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Statements { sql, reply } => {
                let out = self.execute_statements(&sql, false);
                self.reply_when_catalog_durable(out, reply);
            }
            Command::Ingest {
                stream,
                data,
                reply,
            } => {
                let _ = reply.send(self.ingest(&stream, &data));
            }
            Command::Inspect(f) => f(self),
            Command::IngestDurable {
                stream,
                data,
                reply,
            } => self.ingest_durable(&stream, &data, reply),
            Command::Startup { sql, reply } => {
                let out = self.execute_statements(&sql, true);
                self.reply_when_catalog_durable(out, reply);
            }
            Command::Recover { recovered, reply } => {
                let _ = reply.send(self.recover(*recovered));
            }
            Command::Shutdown { reply } => {
                self.stopping = true;
                if self.store.is_some() {
                    self.checkpoint(vec![Box::new(move |r| {
                        let _ = reply.send(r);
                    })]);
                } else {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn ingest_durable(
        &mut self,
        stream: &str,
        data: &[u8],
        reply: oneshot::Sender<Result<IngestReport, DurableError>>,
    ) {
        if self.store.is_none() {
            let _ = reply.send(Err(DurableError::NoStore));
            return;
        }
        let report = match self.ingest(stream, data) {
            Ok(r) => r,
            Err(_) => {
                let _ = reply.send(Err(DurableError::NoStream(stream.to_string())));
                return;
            }
        };
        let store = self.store.as_mut().expect("checked above");
        store.waiters.push(Box::new(move |r| {
            let _ = reply.send(r.map(|_| report).map_err(DurableError::Commit));
        }));
        // Checkpoint at the next tick: durable requests arriving together
        // share one checkpoint.
        store.due = Instant::now();
    }

    /// The store writer's counters, when there is a store.
    pub fn store_stats(&self) -> Option<&StoreStats> {
        self.store.as_ref().map(|s| &*s.stats)
    }

    /// Sends a checkpoint to the store: the catalog changes since the last
    /// one, the engine's state, and where every source is. Everything the
    /// hub did before is in it, and every result it produced before was
    /// queued before it. `on_commit` runs once it is committed.
    pub fn checkpoint(&mut self, mut on_commit: Vec<OnCommit>) {
        let Some(store) = self.store.as_mut() else {
            for cb in on_commit {
                cb(Err("no store".into()));
            }
            return;
        };
        let mut positions: Vec<SourcePosition> = self
            .origins
            .iter()
            .map(|(key, o)| SourcePosition {
                stream: key.0.to_string(),
                source: o.name.clone(),
                line_no: o.line_no,
                csv_header: o.csv_header_line.clone(),
                file: store.files.get(key).cloned(),
            })
            .collect();
        positions.extend(self.resumed.iter().cloned());
        on_commit.append(&mut store.waiters);
        let record = CheckpointRecord {
            catalog: std::mem::take(&mut store.catalog),
            engine: self.engine.checkpoint(),
            positions,
            taken_ms: now_ms(),
            on_commit,
        };
        tracing::debug!(records_in = ?self.engine.streams().map(|s| s.stats().records_in).sum::<u64>(), "checkpoint sent");
        store.send(StoreMsg::Checkpoint(Box::new(record)));
        store.due = Instant::now() + store.interval;
    }

    /// Re-creates the stored catalog (starting sources from their saved
    /// positions), restores the engine state of the last checkpoint and
    /// the sources' line counts and CSV headers.
    fn recover(&mut self, r: Recovered) -> Result<(), String> {
        for p in &r.positions {
            if let Some(f) = &p.file {
                self.resume
                    .entry(p.stream.clone())
                    .or_default()
                    .push(f.clone());
            }
        }
        self.replaying = true;
        let mut failure = None;
        for entry in &r.catalog {
            if let (_, Some(e)) = self.execute(&entry.statement) {
                failure = Some(format!(
                    "cannot re-create {} `{}` from the store: {}",
                    entry.kind,
                    entry.name,
                    e.render(&entry.statement)
                ));
                break;
            }
        }
        self.replaying = false;
        self.resume.clear();
        if let Some(f) = failure {
            return Err(f);
        }
        if let Some(cp) = &r.engine {
            self.engine
                .restore(cp)
                .map_err(|e| format!("cannot restore the last checkpoint: {e}"))?;
        }
        // Each saved place is claimed by the first chunk of its origin.
        self.resumed = r.positions;
        Ok(())
    }

    /// Answers a statement request: at once when the catalog did not
    /// change (or there is no store), else once the checkpoint holding the
    /// change is committed, so an acknowledged statement survives a crash.
    fn reply_when_catalog_durable(
        &mut self,
        out: (Vec<Outcome>, Option<StatementError>),
        reply: oneshot::Sender<(Vec<Outcome>, Option<StatementError>)>,
    ) {
        if self.store.as_ref().is_some_and(|s| !s.catalog.is_empty()) {
            self.checkpoint(vec![Box::new(move |r| {
                if let Err(e) = r {
                    tracing::error!(error = %e, "the catalog change could not be stored");
                }
                let _ = reply.send(out);
            })]);
        } else {
            let _ = reply.send(out);
        }
    }

    /// Executes start-up statements: a `CREATE` of a stream or query that
    /// already exists with an equal definition (re-created from the store)
    /// is skipped; with another definition it is an error.
    pub fn execute_startup(&mut self, sql: &str) -> (Vec<Outcome>, Option<StatementError>) {
        let out = self.execute_statements(sql, true);
        self.checkpoint_if_catalog_changed();
        out
    }

    /// Executes statements one by one (see [`Hub::execute`]); with
    /// `skip_existing`, as [`Hub::execute_startup`]. Catalog changes are
    /// left for the caller to checkpoint.
    fn execute_statements(
        &mut self,
        sql: &str,
        skip_existing: bool,
    ) -> (Vec<Outcome>, Option<StatementError>) {
        use crate::parser::Statement;
        let stmts = match crate::parser::parse_statements(sql) {
            Ok(s) => s,
            Err(e) => {
                return (
                    Vec::new(),
                    Some(StatementError {
                        kind: crate::exec::ErrorKind::Syntax,
                        diagnostic: e.0,
                    }),
                )
            }
        };
        let parse_one = |text: &str| {
            crate::parser::parse_statements(text)
                .ok()
                .and_then(|mut v| (v.len() == 1).then(|| v.remove(0).statement))
        };
        let mut done = Vec::new();
        for s in &stmts {
            let text = &sql[s.span.start..s.span.end];
            let existing = match &s.statement {
                Statement::CreateStream(cs) => self
                    .engine
                    .stream(&cs.name.name)
                    .map(|rt| ("stream", cs.name.clone(), rt.def().text.clone())),
                Statement::CreateQuery(cq) => self
                    .engine
                    .query(&cq.name.name)
                    .map(|q| ("query", cq.name.clone(), q.text.clone())),
                _ => None,
            };
            if let (true, Some((kind, name, old))) = (skip_existing, existing) {
                if parse_one(&old).as_ref() == Some(&s.statement) {
                    continue;
                }
                return (
                    done,
                    Some(StatementError {
                        kind: crate::exec::ErrorKind::Conflict,
                        diagnostic: crate::diagnostic::Diagnostic::new(
                            format!(
                                "{kind} `{}` already exists (restored from the store) with another definition: {old}",
                                name.name
                            ),
                            name.span,
                        ),
                    }),
                );
            }
            match self.execute_one(&s.statement, text, s.span) {
                Ok(o) => done.push(o),
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
    }

    /// Executes one statement and does what its outcome implies.
    fn execute_one(
        &mut self,
        stmt: &crate::parser::Statement,
        text: &str,
        span: crate::parser::ast::Span,
    ) -> Result<Outcome, StatementError> {
        let outcome = self.engine.execute_statement(stmt, text)?;
        self.after(&outcome, span)?;
        if !self.replaying {
            if let Some(store) = self.store.as_mut() {
                let change = match &outcome {
                    Outcome::StreamCreated { name } => Some(CatalogChange::Create {
                        kind: "stream",
                        name: name.clone(),
                        statement: text.to_string(),
                    }),
                    Outcome::QueryCreated { name, .. } => Some(CatalogChange::Create {
                        kind: "query",
                        name: name.clone(),
                        statement: text.to_string(),
                    }),
                    Outcome::StreamDropped { name } => Some(CatalogChange::Drop {
                        kind: "stream",
                        name: name.clone(),
                    }),
                    Outcome::QueryDropped { name } => Some(CatalogChange::Drop {
                        kind: "query",
                        name: name.clone(),
                    }),
                    Outcome::Explain { .. } => None,
                };
                store.catalog.extend(change);
            }
        }
        Ok(outcome)
    }

    /// A catalog change is checkpointed at once, so the stored catalog and
    /// engine state always agree.
    fn checkpoint_if_catalog_changed(&mut self) {
        if self.store.as_ref().is_some_and(|s| !s.catalog.is_empty()) {
            self.checkpoint(Vec::new());
        }
    }

    /// Executes statements one by one, starting and stopping sources and
    /// feeds as streams and queries come and go. Catalog changes are
    /// checkpointed at once (without waiting for the commit).
    pub fn execute(&mut self, sql: &str) -> (Vec<Outcome>, Option<StatementError>) {
        let out = self.execute_statements(sql, false);
        self.checkpoint_if_catalog_changed();
        out
    }

    /// Starts or stops what an executed statement implies.
    fn after(
        &mut self,
        outcome: &Outcome,
        span: crate::parser::ast::Span,
    ) -> Result<(), StatementError> {
        match outcome {
            Outcome::StreamCreated { name } => {
                let def = self
                    .engine
                    .stream(name)
                    .expect("just created")
                    .def()
                    .clone();
                let wants_source = def.source.as_deref().is_some_and(|s| s != "http");
                if let (true, Some(start)) = (wants_source, &self.start_source) {
                    let resume = self.resume.get(name).map(Vec::as_slice).unwrap_or(&[]);
                    match start(&def, self.chunk_tx.clone(), resume) {
                        Ok(guard) => {
                            self.sources.insert(name.clone(), guard);
                        }
                        Err(message) => {
                            let _ = self
                                .engine
                                .execute(&format!("DROP STREAM {}", quote_ident(name)));
                            return Err(StatementError {
                                kind: crate::exec::ErrorKind::Invalid,
                                diagnostic: crate::diagnostic::Diagnostic::new(
                                    format!("cannot start the source of `{name}`: {message}"),
                                    span,
                                ),
                            });
                        }
                    }
                }
                self.rates.insert(name.clone(), StreamRate::default());
            }
            Outcome::StreamDropped { name } => {
                self.sources.remove(name);
                self.rates.remove(name);
                self.origins.retain(|k, _| &*k.0 != name.as_str());
                self.resumed.retain(|p| p.stream != *name);
                if let Some(store) = self.store.as_mut() {
                    store.files.retain(|k, _| &*k.0 != name.as_str());
                }
            }
            Outcome::QueryCreated { name, .. } => {
                let name: Arc<str> = Arc::from(name.as_str());
                self.feeds.open(&name);
                self.counters.insert(name.clone(), QueryCounters::default());
                if let Some(agg) = self.engine.query(&name).and_then(|q| q.aggregate()) {
                    let every = match (agg.window, agg.emit_every_ms) {
                        (_, Some(ms)) => Some(ms),
                        (None, None) => Some(DEFAULT_RUNNING_EMIT_MS),
                        (Some(_), None) => None,
                    };
                    if let Some(ms) = every {
                        let every = Duration::from_millis(ms.max(1) as u64);
                        self.emitters.insert(
                            name,
                            Emitter {
                                every,
                                due: Instant::now() + every,
                                windowed: agg.window.is_some(),
                                last: HashMap::new(),
                            },
                        );
                    }
                }
            }
            Outcome::QueryDropped { name } => {
                self.feeds.close(name, "query dropped");
                self.counters.remove(name.as_str());
                self.emitters.remove(name.as_str());
            }
            Outcome::Explain { .. } => {}
        }
        Ok(())
    }

    fn ingest(&mut self, stream: &str, data: &[u8]) -> Result<IngestReport, String> {
        let before = self
            .engine
            .stream(stream)
            .ok_or_else(|| format!("no stream named `{stream}`"))?
            .stats()
            .clone();
        let chunk = Chunk {
            stream: Arc::from(stream),
            source: Arc::from("http"),
            origin_id: HTTP_ORIGIN,
            data: data.to_vec(),
            reset: false,
            end: false,
            position: None,
            arrival_ms: now_ms(),
        };
        self.push_chunk(chunk);
        let after = self.engine.stream(stream).expect("still there").stats();
        let rejected = after.rejected - before.rejected;
        let late = after.late - before.late;
        Ok(IngestReport {
            accepted: after.accepted - before.accepted,
            rejected,
            late,
        })
    }

    /// Pushes `first` and whatever else is already queued, merging
    /// consecutive chunks of one source into one batch (up to
    /// [`MAX_BATCH_BYTES`]): a trickle is processed line by line as it comes,
    /// a flood in large batches.
    fn push_coalesced(&mut self, first: Chunk, queue: &mut mpsc::Receiver<Chunk>) {
        let mut current = first;
        while current.data.len() < MAX_BATCH_BYTES {
            let Ok(next) = queue.try_recv() else {
                break;
            };
            if next.stream == current.stream
                && next.origin_id == current.origin_id
                && !next.reset
                && !current.end
            {
                current.data.extend_from_slice(&next.data);
                current.position = next.position.or(current.position);
                current.end = next.end;
            } else {
                self.push_chunk(std::mem::replace(&mut current, next));
            }
        }
        self.push_chunk(current);
    }

    fn push_chunk(&mut self, chunk: Chunk) {
        let stream = &*chunk.stream;
        if self.engine.stream(stream).is_none() {
            return; // dropped while the chunk was on its way
        }
        let key = (chunk.stream.clone(), chunk.origin_id);
        if chunk.reset {
            self.origins.remove(&key);
        }
        if !self.origins.contains_key(&key) {
            let origin = self
                .claim_resumed(&chunk)
                .unwrap_or_else(|| Origin::new(chunk.source.to_string()));
            self.origins.insert(key.clone(), origin);
        }
        let origin = self.origins.get_mut(&key).expect("inserted above");
        let started = Instant::now();
        let mut stored = Vec::new();
        let mut sink = FeedSink {
            feeds: &self.feeds,
            counters: &mut self.counters,
            stored: self.store.is_some().then_some(&mut stored),
        };
        let _ = self
            .engine
            .push_lines(stream, origin, &chunk.data, chunk.arrival_ms, &mut sink);
        if let Some(store) = self.store.as_mut() {
            if let Some(pos) = &chunk.position {
                store.files.insert(key.clone(), pos.clone());
            }
            if !stored.is_empty() {
                // Blocks when the writer is far behind: the store slows
                // ingestion rather than losing results or growing without
                // bound.
                store.send(StoreMsg::Results(stored));
            }
        }
        self.batch_seconds.observe(started.elapsed().as_secs_f64());
        self.batches += 1;
        if chunk.end {
            self.origins.remove(&key);
            if let Some(store) = self.store.as_mut() {
                store.files.remove(&key);
            }
        }
    }

    /// The saved state of an origin that resumes after a restart: matched
    /// by file identity for files, by name otherwise. An origin that starts
    /// over (`reset`) voids its saved place.
    fn claim_resumed(&mut self, chunk: &Chunk) -> Option<Origin> {
        let same = |p: &SourcePosition| {
            p.stream == *chunk.stream
                && match (&p.file, &chunk.position) {
                    (Some(f), Some(c)) => f.dev == c.dev && f.ino == c.ino,
                    (None, None) => p.source == *chunk.source,
                    _ => false,
                }
        };
        if chunk.reset {
            self.resumed.retain(|p| !same(p));
            return None;
        }
        let i = self.resumed.iter().position(same)?;
        let p = self.resumed.swap_remove(i);
        let mut origin = Origin::new(p.source);
        origin.line_no = p.line_no;
        origin.csv_header_line = p.csv_header;
        Some(origin)
    }

    /// Timed work: checkpoints, rates, and `EMIT EVERY` / running-total pushes.
    fn on_tick(&mut self) {
        let now = Instant::now();
        self.last_tick = now;
        if self.store.as_ref().is_some_and(|s| s.due <= now) {
            self.checkpoint(Vec::new());
        }
        for (name, rate) in self.rates.iter_mut() {
            let Some(rt) = self.engine.stream(name) else {
                continue;
            };
            let count = rt.stats().records_in;
            match rate.last_at {
                Some(at) if now.duration_since(at) >= Duration::from_secs(1) => {
                    let secs = now.duration_since(at).as_secs_f64();
                    rate.per_sec = (count - rate.last_count) as f64 / secs;
                    rate.last_count = count;
                    rate.last_at = Some(now);
                }
                Some(_) => {}
                None => {
                    rate.last_count = count;
                    rate.last_at = Some(now);
                }
            }
        }
        let due: Vec<Arc<str>> = self
            .emitters
            .iter()
            .filter(|(_, e)| e.due <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            self.emit_timed(&name, now);
        }
    }

    /// Pushes the changed current values of one query to its feed.
    fn emit_timed(&mut self, name: &Arc<str>, now: Instant) {
        let Some(em) = self.emitters.get_mut(name) else {
            return;
        };
        em.due = now + em.every;
        if !self.feeds.has_subscribers(name) {
            // Nobody listens: a new subscriber gets a full snapshot anyway.
            em.last.clear();
            return;
        }
        let mut current = Vec::new();
        if self.engine.snapshot(name, &mut current).is_err() {
            return;
        }
        let mut pushed = 0u64;
        let mut seen = std::collections::HashSet::new();
        for r in current {
            let (slot, values) = result_identity(&r);
            seen.insert(slot.clone());
            if em.last.get(&slot) == Some(&values) {
                continue;
            }
            em.last.insert(slot, values);
            let json = render(&r, em.windowed);
            self.feeds.publish(name, || json);
            pushed += 1;
        }
        // Windows that closed (or groups a HAVING now excludes) are forgotten.
        em.last.retain(|k, _| seen.contains(k));
        self.counters.entry(name.clone()).or_default().results_out += pushed;
    }

    /// The current values of a query as JSON messages, for a new subscriber.
    pub fn snapshot_messages(&self, name: &str) -> Vec<String> {
        let mut current = Vec::new();
        if self.engine.snapshot(name, &mut current).is_err() {
            return Vec::new();
        }
        let windowed = self
            .engine
            .query(name)
            .and_then(|q| q.aggregate())
            .is_some_and(|a| a.window.is_some());
        current.iter().map(|r| render(r, windowed)).collect()
    }
}

/// The result as JSON; window partials carry `"partial":true`.
fn render(r: &QueryResult, partial: bool) -> String {
    let json = r.to_json();
    if partial {
        format!("{{\"partial\":true,{}", &json[1..])
    } else {
        json
    }
}

/// (window and group, values) of an aggregate result, as JSON text.
fn result_identity(r: &QueryResult) -> (String, String) {
    match &r.body {
        ResultBody::Aggregate {
            window,
            group,
            values,
        } => {
            let g: Vec<(&str, &crate::value::OwnedValue)> =
                group.iter().map(|(k, v)| (&**k, v)).collect();
            let v: Vec<(&str, &crate::value::OwnedValue)> =
                values.iter().map(|(k, v)| (&**k, v)).collect();
            (
                serde_json::to_string(&(window, g)).unwrap_or_default(),
                serde_json::to_string(&v).unwrap_or_default(),
            )
        }
        _ => (r.to_json(), String::new()),
    }
}

/// `name` as a double-quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
