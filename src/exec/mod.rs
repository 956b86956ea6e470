//! The executor: runs a stream's shared plan over batches of lines.
//!
//! - [`decode`]: JSON-lines and CSV decoders that extract only needed fields.
//! - [`eval`]: evaluates the shared predicate graph per record.
//! - [`aggregate`]: mergeable, serializable partial aggregates.
//! - [`intern`]: ids of `count(DISTINCT)` argument values, sets of them, and
//!   ids of group keys.
//! - [`state`]: group tables, panes, group-key computation.
//! - [`window`]: closing windows from panes; HAVING, ORDER BY, LIMIT.
//! - [`result`]: results and sinks.
//! - [`json_text`]: JSON text written by hand for rows and result lines.
//! - [`engine`]: the catalog and per-stream runtime that ties it together.
//! - [`limits`]: engine-wide bounds (queries, groups per state, regex size).
//! - [`checkpoint`]: the engine's dynamic state as data, and its restoration.

pub mod aggregate;
pub mod checkpoint;
pub mod decode;
pub mod engine;
pub mod eval;
pub mod intern;
pub mod json_text;
pub mod limits;
pub mod result;
pub mod state;
pub mod window;

pub use checkpoint::{EngineCheckpoint, RestoreError};
pub use engine::{Engine, ErrorKind, Origin, Outcome, Reject, StatementError, StreamStats};
pub use limits::Limits;
pub use result::{
    AggregateRef, CountingSink, JsonLinesBuffer, JsonLinesSink, QueryResult, ResultBody, ResultSink,
};
