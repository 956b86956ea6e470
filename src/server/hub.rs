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
use crate::watch::Chunk;
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
/// that the hub does not depend on how sources are made.
pub type SourceStarter = Box<
    dyn Fn(&crate::planner::StreamDef, mpsc::Sender<Chunk>) -> Result<SourceGuard, String> + Send,
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
    emitters: HashMap<Arc<str>, Emitter>,
    start_source: Option<SourceStarter>,
    chunk_tx: mpsc::Sender<Chunk>,
}

/// A cheap, clonable handle for talking to the hub.
#[derive(Clone)]
pub struct HubHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Where sources send their chunks.
    pub chunks: mpsc::Sender<Chunk>,
    /// Result feeds by query.
    pub feeds: Arc<Feeds>,
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

/// Starts the hub on its own thread.
pub fn spawn(start_source: Option<SourceStarter>) -> (HubHandle, std::thread::JoinHandle<()>) {
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
        emitters: HashMap::new(),
        start_source,
        chunk_tx: chunk_tx.clone(),
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

/// Sends results to their feeds and counts them.
struct FeedSink<'h> {
    feeds: &'h Feeds,
    counters: &'h mut HashMap<Arc<str>, QueryCounters>,
}

impl ResultSink for FeedSink<'_> {
    fn emit(&mut self, result: QueryResult) {
        self.counters
            .entry(result.query.clone())
            .or_default()
            .results_out += 1;
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
                        Some(c) => self.command(c),
                        None => break,
                    },
                    _ = tick.tick() => self.on_tick(),
                    chunk = chunks.recv() => match chunk {
                        Some(c) => self.push_coalesced(c, &mut chunks),
                        None => break,
                    },
                }
            }
        });
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Statements { sql, reply } => {
                let _ = reply.send(self.execute(&sql));
            }
            Command::Ingest {
                stream,
                data,
                reply,
            } => {
                let _ = reply.send(self.ingest(&stream, &data));
            }
            Command::Inspect(f) => f(self),
        }
    }

    /// Executes statements one by one, starting and stopping sources and
    /// feeds as streams and queries come and go.
    pub fn execute(&mut self, sql: &str) -> (Vec<Outcome>, Option<StatementError>) {
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
        let mut done = Vec::new();
        for s in &stmts {
            let text = &sql[s.span.start..s.span.end];
            match self.engine.execute_statement(&s.statement, text) {
                Ok(outcome) => {
                    if let Err(e) = self.after(&outcome, s.span) {
                        return (done, Some(e));
                    }
                    done.push(outcome);
                }
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
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
                    match start(&def, self.chunk_tx.clone()) {
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
        let origin = self
            .origins
            .entry(key.clone())
            .or_insert_with(|| Origin::new(chunk.source.to_string()));
        let started = Instant::now();
        let mut sink = FeedSink {
            feeds: &self.feeds,
            counters: &mut self.counters,
        };
        let _ = self
            .engine
            .push_lines(stream, origin, &chunk.data, chunk.arrival_ms, &mut sink);
        self.batch_seconds.observe(started.elapsed().as_secs_f64());
        self.batches += 1;
        if chunk.end {
            self.origins.remove(&key);
        }
    }

    /// Timed work: rates, and `EMIT EVERY` / running-total pushes.
    fn on_tick(&mut self) {
        let now = Instant::now();
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
