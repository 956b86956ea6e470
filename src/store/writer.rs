//! The store's writer thread: takes [`StoreMsg`]s in the order the hub sent
//! them and commits them in batches, one transaction per batch.
//!
//! Whatever is queued when the writer wakes goes into one transaction (up
//! to [`MAX_BATCH_ROWS`] result rows), so a busy hub costs a few commits
//! per second, not one per result. Because messages are applied in order
//! and a checkpoint's transaction also holds everything queued before it,
//! a committed checkpoint always comes with every result and catalog change
//! that preceded it. Callbacks waiting for a checkpoint (durable ingest,
//! shutdown) run after its transaction commits.

use super::{SourcePosition, StoreError};
use crate::exec::EngineCheckpoint;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::Instant;

/// Messages that may wait for the writer before the hub is held back.
pub const QUEUE: usize = 1024;

/// Most result rows written in one transaction.
pub const MAX_BATCH_ROWS: usize = 50_000;

/// Called once the checkpoint it was attached to is committed (or failed).
pub type OnCommit = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A final window result on its way to the history table.
#[derive(Clone, Debug)]
pub struct StoredResult {
    /// Stable id ([`super::result_id`]).
    pub id: String,
    /// The query.
    pub query: Arc<str>,
    /// `[start, end)`, epoch ms.
    pub window: (i64, i64),
    /// The group key as a JSON object.
    pub group_json: String,
    /// The values as a JSON object.
    pub values_json: String,
    /// When it was emitted (epoch ms).
    pub emitted_ms: i64,
}

/// A change to the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogChange {
    /// A stream or query was created by `statement`.
    Create {
        /// `stream` or `query`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The statement text.
        statement: String,
    },
    /// A stream or query was dropped (a query's history goes with it).
    Drop {
        /// `stream` or `query`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

/// A checkpoint: catalog changes since the last one, the engine state, and
/// the source positions that go with it.
pub struct CheckpointRecord {
    /// Catalog changes made since the previous checkpoint, in order.
    pub catalog: Vec<CatalogChange>,
    /// The engine's dynamic state.
    pub engine: EngineCheckpoint,
    /// Where every source was.
    pub positions: Vec<SourcePosition>,
    /// When it was taken (epoch ms).
    pub taken_ms: i64,
    /// Run after it is committed.
    pub on_commit: Vec<OnCommit>,
}

/// What the hub sends the writer.
pub enum StoreMsg {
    /// Final window results.
    Results(Vec<StoredResult>),
    /// A checkpoint.
    Checkpoint(Box<CheckpointRecord>),
}

/// The writer's counters, shared with `/metrics`.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Result rows stored.
    pub results_written: AtomicU64,
    /// Results that were already stored with the same values (re-emitted
    /// after a restart).
    pub results_duplicate: AtomicU64,
    /// Results that were already stored with other values. Should stay 0.
    pub results_conflicting: AtomicU64,
    /// Checkpoints committed.
    pub checkpoints: AtomicU64,
    /// When the last checkpoint committed was taken (epoch ms; 0: none).
    pub last_checkpoint_ms: AtomicI64,
    /// Size of the last checkpoint's engine state, in bytes of JSON.
    pub last_checkpoint_bytes: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Transactions that failed.
    pub errors: AtomicU64,
    /// Total seconds spent writing, in microseconds.
    pub write_micros: AtomicU64,
}

/// Starts the writer thread on `conn`. Dropping every sender ends it once
/// the queue is written; join the handle to wait for that.
pub fn spawn_writer(
    conn: Connection,
    path: PathBuf,
    stats: Arc<StoreStats>,
) -> (SyncSender<StoreMsg>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("shoal-store".into())
        .spawn(move || run(conn, path, rx, stats))
        .expect("spawn the store writer");
    (tx, thread)
}

fn run(mut conn: Connection, path: PathBuf, rx: Receiver<StoreMsg>, stats: Arc<StoreStats>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut rows = rows_of(&batch[0]);
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(m) => {
                    rows += rows_of(&m);
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        let mut callbacks = Vec::new();
        let started = Instant::now();
        let outcome = write_batch(&mut conn, batch, &mut callbacks, &stats).map_err(|source| {
            StoreError::Sqlite {
                path: path.clone(),
                source,
            }
            .to_string()
        });
        stats
            .write_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match &outcome {
            Ok(()) => {
                tracing::debug!(
                    callbacks = callbacks.len(),
                    micros = started.elapsed().as_micros() as u64,
                    "store commit"
                );
                stats.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "store write failed");
            }
        }
        for cb in callbacks {
            cb(outcome.clone());
        }
    }
}

fn rows_of(m: &StoreMsg) -> usize {
    match m {
        StoreMsg::Results(r) => r.len(),
        StoreMsg::Checkpoint(_) => 1,
    }
}

/// Writes one batch in one transaction. Counters of what is written are
/// only advanced once the transaction commits.
fn write_batch(
    conn: &mut Connection,
    batch: Vec<StoreMsg>,
    callbacks: &mut Vec<OnCommit>,
    stats: &StoreStats,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let (mut written, mut duplicate, mut conflicting) = (0u64, 0u64, 0u64);
    let mut checkpoint: Option<(i64, u64)> = None;
    let mut checkpoints = 0u64;
    for msg in batch {
        match msg {
            StoreMsg::Results(results) => {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO results
                     (id, query, window_start, window_end, group_json, values_json, emitted_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                let mut existing = tx.prepare_cached(
                    "SELECT values_json FROM results
                     WHERE query = ?1 AND window_end = ?2 AND window_start = ?3 AND group_json = ?4",
                )?;
                for r in &results {
                    let n = insert.execute(params![
                        r.id,
                        &*r.query,
                        r.window.0,
                        r.window.1,
                        r.group_json,
                        r.values_json,
                        r.emitted_ms
                    ])?;
                    if n == 1 {
                        written += 1;
                        continue;
                    }
                    let old: Option<String> = existing
                        .query_row(
                            params![&*r.query, r.window.1, r.window.0, r.group_json],
                            |row| row.get(0),
                        )
                        .optional()?;
                    if old.as_deref() == Some(r.values_json.as_str()) {
                        duplicate += 1;
                    } else {
                        conflicting += 1;
                        tracing::warn!(query = %r.query, id = %r.id, stored = ?old, emitted = %r.values_json,
                            "a final result was emitted again with other values");
                    }
                }
            }
            StoreMsg::Checkpoint(cp) => {
                let cp = *cp;
                for change in &cp.catalog {
                    match change {
                        CatalogChange::Create {
                            kind,
                            name,
                            statement,
                        } => {
                            tx.execute(
                                "INSERT OR REPLACE INTO catalog (kind, name, statement, created_ms)
                                 VALUES (?1, ?2, ?3, ?4)",
                                params![kind, name, statement, cp.taken_ms],
                            )?;
                        }
                        CatalogChange::Drop { kind, name } => {
                            tx.execute(
                                "DELETE FROM catalog WHERE kind = ?1 AND name = ?2",
                                params![kind, name],
                            )?;
                            if *kind == "query" {
                                tx.execute("DELETE FROM results WHERE query = ?1", params![name])?;
                            }
                        }
                    }
                }
                let engine = serde_json::to_string(&cp.engine)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.execute(
                    "INSERT INTO checkpoint (id, seq, taken_ms, engine) VALUES (1, 1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET seq = seq + 1, taken_ms = excluded.taken_ms,
                     engine = excluded.engine",
                    params![cp.taken_ms, engine],
                )?;
                tx.execute("DELETE FROM source_positions", [])?;
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO source_positions
                     (stream, source, line_no, csv_header, path, dev, ino, offset)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for p in &cp.positions {
                    let f = p.file.as_ref();
                    put.execute(params![
                        p.stream,
                        p.source,
                        p.line_no as i64,
                        p.csv_header,
                        f.map(|f| f.path.display().to_string()),
                        f.map(|f| f.dev as i64),
                        f.map(|f| f.ino as i64),
                        f.map(|f| f.offset as i64),
                    ])?;
                }
                checkpoints += 1;
                checkpoint = Some((cp.taken_ms, engine.len() as u64));
                callbacks.extend(cp.on_commit);
            }
        }
    }
    tx.commit()?;
    stats.results_written.fetch_add(written, Ordering::Relaxed);
    stats
        .results_duplicate
        .fetch_add(duplicate, Ordering::Relaxed);
    stats
        .results_conflicting
        .fetch_add(conflicting, Ordering::Relaxed);
    stats.checkpoints.fetch_add(checkpoints, Ordering::Relaxed);
    if let Some((ms, bytes)) = checkpoint {
        stats.last_checkpoint_ms.store(ms, Ordering::Relaxed);
        stats.last_checkpoint_bytes.store(bytes, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{load, open, result_id, HistoryFilter, StoreReader};
    use super::*;
    use crate::exec::Engine;

    fn result(query: &str, start: i64, k: &str, n: i64) -> StoredResult {
        let group_json = format!(r#"{{"k":"{k}"}}"#);
        StoredResult {
            id: result_id(query, (start, start + 10), &group_json),
            query: query.into(),
            window: (start, start + 10),
            group_json,
            values_json: format!(r#"{{"n":{n}}}"#),
            emitted_ms: 0,
        }
    }

    #[test]
    fn checkpoints_commit_with_the_results_and_catalog_before_them() {
        let dir = std::env::temp_dir().join(format!("shoal-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (conn, path) = open(&dir).unwrap();
        let stats = Arc::new(StoreStats::default());
        let (tx, thread) = spawn_writer(conn, path.clone(), stats.clone());
        let mut engine = Engine::new();
        let stream = "CREATE STREAM s WITH (format = 'json')";
        let query = "CREATE QUERY q AS SELECT k, count(*) AS n FROM s GROUP BY k";
        engine.execute(&format!("{stream}; {query};")).unwrap();
        tx.send(StoreMsg::Results(vec![
            result("q", 0, "a", 1),
            result("q", 0, "b", 2),
        ]))
        .unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tx.send(StoreMsg::Checkpoint(Box::new(CheckpointRecord {
            catalog: vec![
                CatalogChange::Create {
                    kind: "stream",
                    name: "s".into(),
                    statement: stream.into(),
                },
                CatalogChange::Create {
                    kind: "query",
                    name: "q".into(),
                    statement: query.into(),
                },
            ],
            engine: engine.checkpoint(),
            positions: vec![SourcePosition {
                stream: "s".into(),
                source: "http".into(),
                line_no: 7,
                csv_header: None,
                file: None,
            }],
            taken_ms: 1234,
            on_commit: vec![Box::new(move |r| done_tx.send(r).unwrap())],
        })))
        .unwrap();
        // The same result again (a replay), and one that contradicts it.
        tx.send(StoreMsg::Results(vec![
            result("q", 0, "a", 1),
            result("q", 0, "b", 3),
        ]))
        .unwrap();
        assert_eq!(done_rx.recv().unwrap(), Ok(()));
        drop(tx);
        thread.join().unwrap();
        assert_eq!(stats.results_written.load(Ordering::Relaxed), 2);
        assert_eq!(stats.results_duplicate.load(Ordering::Relaxed), 1);
        assert_eq!(stats.results_conflicting.load(Ordering::Relaxed), 1);

        let (conn, path) = open(&dir).unwrap();
        let r = load(&conn, &path).unwrap();
        let kinds: Vec<(&str, &str)> = r
            .catalog
            .iter()
            .map(|c| (c.kind.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(kinds, [("stream", "s"), ("query", "q")]);
        assert_eq!(r.checkpoint_ms, Some(1234));
        assert_eq!(r.positions.len(), 1);
        assert_eq!(r.positions[0].line_no, 7);
        let mut fresh = Engine::new();
        for c in &r.catalog {
            fresh.execute(&c.statement).unwrap();
        }
        fresh.restore(r.engine.as_ref().unwrap()).unwrap();
        let reader = StoreReader::open(&dir).unwrap();
        let rows = reader
            .history(
                "q",
                &HistoryFilter {
                    limit: 10,
                    ..HistoryFilter::default()
                },
            )
            .unwrap();
        let values: Vec<&str> = rows.iter().map(|r| r.values.get()).collect();
        assert_eq!(
            values,
            [r#"{"n":1}"#, r#"{"n":2}"#],
            "the first value stays"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
