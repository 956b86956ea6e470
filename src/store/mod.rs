//! The embedded store: one SQLite database (WAL mode) under `--data DIR`
//! that makes a server's work survive restarts and crashes.
//!
//! - the **catalog**: every stream and query statement still in force, in
//!   registration order, so a restart re-creates them as registered;
//! - the **result history**: every final window result, each under a
//!   stable id (a hash of query, window and group), so that a result
//!   emitted again after a crash is recognized and stored once;
//! - the **checkpoint**: the engine's dynamic state
//!   ([`EngineCheckpoint`]) together with where every source was when it
//!   was taken (file identity and offset, line counts, CSV headers).
//!
//! The hub never waits for the disk: it sends [`StoreMsg`]s to a writer
//! thread ([`writer`]) over a bounded channel, in the order it produced
//! them. The writer commits them in batches, each batch one transaction,
//! so a checkpoint is committed together with (or after) every result
//! produced before it, and the catalog changes made before it. What a
//! restart finds is therefore always consistent: the catalog and engine
//! state of the last checkpoint, source positions that match that state,
//! and every final result up to it (and maybe some beyond, which the
//! replay from the saved positions emits again identically).
//!
//! The tables are documented for `sqlite3` users in `docs/store.md`.

pub mod writer;

use crate::exec::EngineCheckpoint;
use crate::watch::FilePosition;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use writer::{
    spawn_writer, CatalogChange, CheckpointRecord, StoreMsg, StoreStats, StoredResult,
};

/// The database file inside the data directory.
pub const DB_FILE: &str = "shoal.db";

/// Schema version written in `meta`. A store of version 1 is migrated (its
/// results table is rebuilt); any other version is refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The database was written by another schema version.
    #[error("store {path}: schema version {found}, this build reads version {SCHEMA_VERSION}")]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: String,
    },
    /// The saved checkpoint cannot be read.
    #[error("store {path}: the checkpoint cannot be read: {message}")]
    Checkpoint {
        /// The database file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The table of store-wide settings (the schema version).
const META: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The results table of the current layout (schema version 2); the
/// version 1 migration creates it too.
macro_rules! results_table {
    () => {
        "
CREATE TABLE IF NOT EXISTS results (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    query        TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    group_json   TEXT NOT NULL,
    values_json  TEXT NOT NULL,
    emitted_ms   INTEGER NOT NULL,
    UNIQUE (query, window_end, window_start, group_json)
);
"
    };
}

/// The other tables. Results are unique by their natural key (query, window,
/// group), whose index grows at its end as windows close, rather than by the
/// hashed `id`, whose index would take every insert at a random place (an
/// insert then costs several times more once the table outgrows the page
/// cache).
const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS catalog (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('stream', 'query')),
    name       TEXT NOT NULL,
    statement  TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (kind, name)
);
",
    results_table!(),
    "CREATE TABLE IF NOT EXISTS checkpoint (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    seq      INTEGER NOT NULL,
    taken_ms INTEGER NOT NULL,
    engine   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_positions (
    stream     TEXT NOT NULL,
    source     TEXT NOT NULL,
    line_no    INTEGER NOT NULL,
    csv_header TEXT,
    path       TEXT,
    dev        INTEGER,
    ino        INTEGER,
    offset     INTEGER,
    PRIMARY KEY (stream, source)
);
",
);

/// Opens (creating if needed) the database under `dir`, in WAL mode, with
/// the schema in place.
pub fn open(dir: &Path) -> Result<(Connection, PathBuf), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(DB_FILE);
    let err = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let conn = Connection::open(&path).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    // FULL: a commit is on disk before the writer reports it (the durable
    // ingest acknowledgement waits for that); commits are batched, so this
    // is a few fsyncs per second.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    let version = |conn: &Connection| -> rusqlite::Result<Option<String>> {
        conn.query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
    };
    conn.execute_batch(META).map_err(err)?;
    if version(&conn).map_err(err)?.as_deref() == Some("1") {
        migrate_from_1(&conn).map_err(err)?;
    }
    conn.execute_batch(SCHEMA).map_err(err)?;
    match version(&conn).map_err(err)? {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )
            .map_err(err)?;
        }
        Some(v) if v == SCHEMA_VERSION.to_string() => {}
        Some(found) => return Err(StoreError::Schema { path, found }),
    }
    Ok((conn, path))
}

/// Rebuilds a version 1 results table (unique by `id`, with its `rowid` as
/// `seq`) in the version 2 layout, keeping every row and its `seq`.
fn migrate_from_1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(concat!(
        "BEGIN IMMEDIATE;
         DROP INDEX IF EXISTS results_by_query;
         ALTER TABLE results RENAME TO results_v1;",
        results_table!(),
        "INSERT OR IGNORE INTO results
             SELECT rowid, id, query, window_start, window_end, group_json, values_json, emitted_ms
             FROM results_v1 ORDER BY rowid;
         DROP TABLE results_v1;
         UPDATE meta SET value = '2' WHERE key = 'schema_version';
         COMMIT;",
    ))
}

/// One catalog entry: a statement still in force.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CatalogEntry {
    /// Registration order.
    pub seq: i64,
    /// `stream` or `query`.
    pub kind: String,
    /// The stream's or query's name.
    pub name: String,
    /// The statement text as executed.
    pub statement: String,
}

/// Where one source of a stream was at a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourcePosition {
    /// The stream.
    pub stream: String,
    /// The source within it: a file path, a TCP peer, `stdin`, `http`.
    pub source: String,
    /// Lines taken from it so far.
    pub line_no: u64,
    /// Its CSV header line, once read.
    pub csv_header: Option<String>,
    /// For files: identity and offset just past the last line taken.
    pub file: Option<FilePosition>,
}

/// What a restart starts from.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// The catalog, in registration order.
    pub catalog: Vec<CatalogEntry>,
    /// The last checkpoint's engine state, if one was taken.
    pub engine: Option<EngineCheckpoint>,
    /// Checkpoints taken since the store was created.
    pub checkpoint_seq: i64,
    /// When the last checkpoint was taken (epoch ms).
    pub checkpoint_ms: Option<i64>,
    /// Source positions of the last checkpoint.
    pub positions: Vec<SourcePosition>,
}

/// Reads what a restart needs: catalog, last checkpoint, source positions.
pub fn load(conn: &Connection, path: &Path) -> Result<Recovered, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Recovered::default();
    let mut stmt = conn
        .prepare("SELECT seq, kind, name, statement FROM catalog ORDER BY seq")
        .map_err(err)?;
    out.catalog = stmt
        .query_map([], |r| {
            Ok(CatalogEntry {
                seq: r.get(0)?,
                kind: r.get(1)?,
                name: r.get(2)?,
                statement: r.get(3)?,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let cp: Option<(i64, i64, String)> = conn
        .query_row(
            "SELECT seq, taken_ms, engine FROM checkpoint WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(err)?;
    if let Some((seq, taken, engine)) = cp {
        out.checkpoint_seq = seq;
        out.checkpoint_ms = Some(taken);
        out.engine = Some(
            serde_json::from_str(&engine).map_err(|e| StoreError::Checkpoint {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?,
        );
    }
    let mut stmt = conn
        .prepare(
            "SELECT stream, source, line_no, csv_header, path, dev, ino, offset
             FROM source_positions ORDER BY stream, source",
        )
        .map_err(err)?;
    out.positions = stmt
        .query_map([], |r| {
            let path: Option<String> = r.get(4)?;
            let file = match path {
                Some(p) => Some(FilePosition {
                    path: PathBuf::from(p),
                    dev: r.get::<_, i64>(5)? as u64,
                    ino: r.get::<_, i64>(6)? as u64,
                    offset: r.get::<_, i64>(7)? as u64,
                }),
                None => None,
            };
            Ok(SourcePosition {
                stream: r.get(0)?,
                source: r.get(1)?,
                line_no: r.get::<_, i64>(2)? as u64,
                csv_header: r.get(3)?,
                file,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    Ok(out)
}

/// One stored final result, as the history API returns it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HistoryRow {
    /// Insertion order (first emission), for paging with `after`.
    pub seq: i64,
    /// The stable id.
    pub id: String,
    /// The query.
    pub query: String,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Window end, epoch ms.
    pub window_end: i64,
    /// The group key, by output name (keys in output order).
    pub group: Box<serde_json::value::RawValue>,
    /// The values, by output name (keys in output order).
    pub values: Box<serde_json::value::RawValue>,
}

/// Which results to read.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Only windows ending at or after this (epoch ms).
    pub since: Option<i64>,
    /// Only windows ending before this (epoch ms).
    pub until: Option<i64>,
    /// Only results stored after the one with this `seq` (paging).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

/// Read access for the API: its own connection (WAL lets it read while the
/// writer writes).
pub struct StoreReader {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StoreReader {
    /// Opens a reading connection to the store under `dir`.
    pub fn open(dir: &Path) -> Result<StoreReader, StoreError> {
        let (conn, path) = open(dir)?;
        Ok(StoreReader {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Final results of `query`, in the order they were first stored.
    pub fn history(&self, query: &str, f: &HistoryFilter) -> Result<Vec<HistoryRow>, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, id, query, window_start, window_end, group_json, values_json
                 FROM results
                 WHERE query = ?1 AND window_end >= ?2 AND window_end < ?3 AND seq > ?4
                 ORDER BY seq LIMIT ?5",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                params![
                    query,
                    f.since.unwrap_or(i64::MIN),
                    f.until.unwrap_or(i64::MAX),
                    f.after.unwrap_or(i64::MIN),
                    f.limit as i64
                ],
                |r| {
                    let raw = |text: String| {
                        serde_json::value::RawValue::from_string(text).unwrap_or_else(|e| {
                            serde_json::value::to_raw_value(&e.to_string()).expect("a string")
                        })
                    };
                    let (g, v): (String, String) = (r.get(5)?, r.get(6)?);
                    Ok(HistoryRow {
                        seq: r.get(0)?,
                        id: r.get(1)?,
                        query: r.get(2)?,
                        window_start: r.get(3)?,
                        window_end: r.get(4)?,
                        group: raw(g),
                        values: raw(v),
                    })
                },
            )
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(rows)
    }
}

/// The stable id of a final window result: 16 hex digits of a 64-bit
/// FNV-1a hash of the query name, the window bounds and the group key's
/// JSON. The same window and group of the same query always get the same
/// id, in any process, so a result emitted again after a crash is
/// recognized by subscribers and stored once.
pub fn result_id(query: &str, window: (i64, i64), group_json: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(query.as_bytes());
    eat(&[0]);
    eat(&window.0.to_le_bytes());
    eat(&window.1.to_le_bytes());
    eat(group_json.as_bytes());
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_ids_are_stable_and_distinguish_windows_and_groups() {
        let a = result_id("q", (0, 10), r#"{"k":"a"}"#);
        assert_eq!(a, result_id("q", (0, 10), r#"{"k":"a"}"#));
        assert_eq!(a.len(), 16);
        assert_ne!(a, result_id("q", (0, 10), r#"{"k":"b"}"#));
        assert_ne!(a, result_id("q", (10, 20), r#"{"k":"a"}"#));
        assert_ne!(a, result_id("r", (0, 10), r#"{"k":"a"}"#));
    }

    #[test]
    fn a_new_store_has_an_empty_catalog_and_no_checkpoint() {
        let dir = std::env::temp_dir().join(format!("shoal-store-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (conn, path) = open(&dir).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let r = load(&conn, &path).unwrap();
        assert!(r.catalog.is_empty() && r.engine.is_none() && r.positions.is_empty());
        drop(conn);
        // Opening again keeps the schema version.
        let (conn, _) = open(&dir).unwrap();
        let v: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_version_1_store_is_migrated_keeping_its_results_and_their_order() {
        let dir = std::env::temp_dir().join(format!("shoal-store-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = Connection::open(dir.join(DB_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema_version', '1');
                 CREATE TABLE results (id TEXT PRIMARY KEY, query TEXT NOT NULL,
                     window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
                     group_json TEXT NOT NULL, values_json TEXT NOT NULL,
                     emitted_ms INTEGER NOT NULL);
                 CREATE INDEX results_by_query ON results (query, window_end);
                 INSERT INTO results VALUES ('b', 'q', 10, 20, '{}', '{\"n\":2}', 5);
                 INSERT INTO results VALUES ('a', 'q', 0, 10, '{}', '{\"n\":1}', 6);",
            )
            .unwrap();
        }
        let (conn, _) = open(&dir).unwrap();
        let rows: Vec<(i64, String, i64)> = conn
            .prepare("SELECT seq, id, window_start FROM results ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![(1, "b".into(), 10), (2, "a".into(), 0)]);
        let v: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, "2");
        // The natural key is unique now.
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO results (id, query, window_start, window_end, group_json, values_json, emitted_ms)
                 VALUES ('x', 'q', 0, 10, '{}', '{}', 7)",
                [],
            )
            .unwrap();
        assert_eq!(n, 0);
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
