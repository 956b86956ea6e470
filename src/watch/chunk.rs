//! What every live source hands the engine: a batch of whole lines.

use std::path::PathBuf;
use std::sync::Arc;

/// A batch of complete lines read from one source.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The stream the lines belong to.
    pub stream: Arc<str>,
    /// The source within the stream: a file path, a TCP peer, `stdin`.
    pub source: Arc<str>,
    /// Whole lines, each ending in `\n`.
    pub data: Vec<u8>,
    /// The source starts over (a truncated or replaced file): line numbers
    /// restart and a CSV header is read again.
    pub reset: bool,
    /// For files: where this chunk ends.
    pub position: Option<FilePosition>,
    /// Wall-clock milliseconds when the lines were read.
    pub arrival_ms: i64,
}

/// A position in a file, by identity, so a restart can resume it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilePosition {
    /// The file's path when read.
    pub path: PathBuf,
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Bytes of the file consumed.
    pub offset: u64,
}
