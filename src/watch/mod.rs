//! Sources: where records come from.
//!
//! - [`dir`]: every file of a directory read once to its end (`shoal run`).
//! - [`spawn_source`]: the live sources of `shoal serve`, each a task that
//!   sends [`Chunk`]s of whole lines into a bounded channel:
//!   - `dir:PATH` ([`tail`]): a watched directory whose files are followed
//!     as they grow, are truncated, rotated or replaced;
//!   - `tcp:HOST:PORT` ([`tcp`]): a listener; every connection is a source;
//!   - `stdin` ([`reader`]): the process's standard input.
//!   - `http` has nothing to spawn: the server pushes POSTed records itself.
//! - [`lines`]: the line framing all live sources share (partial lines kept,
//!   over-long lines cut).
//!
//! Batching is adaptive: a source sends whatever it has read as soon as it
//! has it (one line when data trickles in) and never more than
//! [`SourceOptions::chunk_bytes`] per chunk (so a flood makes large chunks).
//! A full channel stops the source from reading (TCP producers then block),
//! so memory stays bounded however far the consumer falls behind.

pub mod dir;
pub mod lines;
pub mod reader;
pub mod tail;
pub mod tcp;

use crate::planner::StreamDef;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A batch of whole lines read from one origin (a file, a connection,
/// stdin).
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The stream the lines belong to.
    pub stream: Arc<str>,
    /// The origin's name, for messages: a file's path (the one under which
    /// it was first read, kept when the file is renamed),
    /// `tcp 127.0.0.1:5000 <- 127.0.0.1:43210`, or `stdin`.
    pub source: Arc<str>,
    /// Identifies the origin within the process: a new file at an old
    /// file's name, or a new connection, gets a new id. Per-origin state
    /// (line numbers, CSV header) is keyed by it.
    pub origin_id: u64,
    /// Whole lines, each ending in `\n`. Empty only when `end` is set.
    pub data: Vec<u8>,
    /// The origin starts over with this chunk: its first chunk, and the
    /// first after a file was truncated. Line numbering restarts and a CSV
    /// header is read again.
    pub reset: bool,
    /// The origin ends after this chunk (a file finished after it left the
    /// directory, a closed connection, the end of stdin): its state can be
    /// dropped.
    pub end: bool,
    /// For files: where the chunk's last whole line ends, to resume from.
    pub position: Option<FilePosition>,
    /// Wall-clock milliseconds since the Unix epoch when the data was read.
    pub arrival_ms: i64,
}

/// A place in a file, to resume reading from after a restart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilePosition {
    /// The file's path when the position was taken.
    pub path: PathBuf,
    /// The file's device number (files are known by device and inode, so
    /// a renamed file is still recognized).
    pub dev: u64,
    /// The file's inode number.
    pub ino: u64,
    /// Byte offset just past the last whole line delivered.
    pub offset: u64,
}

/// Tuning of the live sources; [`SourceOptions::default`] suits a server.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Most bytes per chunk.
    pub chunk_bytes: usize,
    /// How often a directory is rescanned and every followed file checked
    /// for growth, whatever the OS watcher reports (the safety net for lost
    /// events, and how files that left the directory are followed).
    pub poll_interval: Duration,
    /// Whether to use the OS file watcher (`notify`) for low latency; with
    /// `false` directories are only polled.
    pub use_notify: bool,
    /// A file that left the directory (renamed, deleted) is read to its end
    /// and closed once it has had no new data for this long.
    pub retire_after: Duration,
    /// Most files held open by a directory source; the least recently
    /// active files still in the directory are closed beyond that and
    /// reopened when they grow.
    pub max_open_files: usize,
}

impl Default for SourceOptions {
    fn default() -> SourceOptions {
        SourceOptions {
            chunk_bytes: 1 << 20,
            poll_interval: Duration::from_millis(500),
            use_notify: true,
            retire_after: Duration::from_secs(2),
            max_open_files: 512,
        }
    }
}

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The `source` option is not one of the known kinds.
    #[error("unknown source `{0}`: expected 'dir:PATH', 'tcp:HOST:PORT', 'stdin' or 'http'")]
    Unknown(String),
    /// The directory of a `dir:` source cannot be read.
    #[error("cannot watch directory `{path}`: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A `tcp:` source cannot listen.
    #[error("cannot listen on `{addr}`: {source}")]
    Listen {
        /// The address as given.
        addr: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Live sources run on tokio; `spawn_source` was called outside a runtime.
    #[error("sources must be started from within a tokio runtime")]
    NoRuntime,
}

/// A running source. Stopping it (or dropping the handle) ends its tasks;
/// their senders are then dropped, so the channel closes once every source
/// feeding it has stopped.
#[derive(Debug)]
pub struct SourceHandle {
    /// Set to `true` (or dropped) to stop every task of the source.
    stop: watch::Sender<bool>,
    /// Wakes a directory source's thread, which waits on OS events.
    wake: Option<std::sync::mpsc::Sender<tail::Wake>>,
    /// The bound address of a `tcp:` source.
    local_addr: Option<SocketAddr>,
}

impl SourceHandle {
    /// A handle with no running task (an `http` source).
    fn idle() -> SourceHandle {
        SourceHandle {
            stop: watch::channel(false).0,
            wake: None,
            local_addr: None,
        }
    }

    /// Stops the source. Chunks already in the channel stay there.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        if let Some(w) = &self.wake {
            let _ = w.send(tail::Wake::Stop);
        }
    }

    /// The address a `tcp:` source listens on (the bound port when port 0
    /// was asked for).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the live source of `def` with the default options; see
/// [`spawn_source_with`].
pub fn spawn_source(
    def: &StreamDef,
    tx: mpsc::Sender<Chunk>,
    resume: &[FilePosition],
) -> Result<SourceHandle, SourceError> {
    spawn_source_with(def, tx, resume, &SourceOptions::default())
}

/// Starts the live source of `def`, sending its chunks into `tx`. `resume`
/// holds positions from an earlier run: a file present at start whose
/// device and inode match one, and that is at least that long, is read from
/// there instead of from its start. Must be called within a tokio runtime.
/// Streams without a source, and `http` ones, get a handle with nothing
/// running.
pub fn spawn_source_with(
    def: &StreamDef,
    tx: mpsc::Sender<Chunk>,
    resume: &[FilePosition],
    opts: &SourceOptions,
) -> Result<SourceHandle, SourceError> {
    let source = match def.source.as_deref() {
        None | Some("http") => return Ok(SourceHandle::idle()),
        Some(s) => s,
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(SourceError::NoRuntime);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let out = ChunkSender {
        stream: Arc::from(def.name.as_str()),
        tx,
        stop: stop_rx,
    };
    let mut handle = SourceHandle {
        stop: stop_tx,
        wake: None,
        local_addr: None,
    };
    if source == "stdin" {
        reader::spawn_stdin(out, def.max_line, opts.chunk_bytes);
    } else if let Some(path) = source.strip_prefix("dir:") {
        handle.wake = Some(tail::spawn(path, def, out, resume, opts)?);
    } else if let Some(addr) = source.strip_prefix("tcp:") {
        handle.local_addr = Some(tcp::spawn(addr, out, def.max_line, opts.chunk_bytes)?);
    } else {
        return Err(SourceError::Unknown(source.to_string()));
    }
    Ok(handle)
}

/// The source was stopped, or the channel's receiver is gone.
#[derive(Debug)]
pub(crate) struct Stopped;

/// The sending end shared by a source's tasks: the channel, the stream's
/// name, and the stop signal, which aborts a send blocked on a full channel.
#[derive(Clone, Debug)]
pub(crate) struct ChunkSender {
    stream: Arc<str>,
    tx: mpsc::Sender<Chunk>,
    stop: watch::Receiver<bool>,
}

impl ChunkSender {
    /// Whether the source has been told to stop (or its handle dropped).
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err() || self.tx.is_closed()
    }

    /// Sends a chunk, waiting while the channel is full, unless stopped.
    async fn send(&mut self, chunk: Chunk) -> Result<(), Stopped> {
        if self.stopped() {
            return Err(Stopped);
        }
        tokio::select! {
            biased;
            _ = self.stop.wait_for(|s| *s) => Err(Stopped),
            r = self.tx.send(chunk) => r.map_err(|_| Stopped),
        }
    }

    /// [`ChunkSender::send`] from a plain thread, outside any runtime.
    fn send_blocking(&mut self, chunk: Chunk) -> Result<(), Stopped> {
        block_on(self.send(chunk))
    }

    /// A chunk of this stream.
    fn chunk(&self, origin: &Origin, data: Vec<u8>) -> Chunk {
        Chunk {
            stream: self.stream.clone(),
            source: origin.name.clone(),
            origin_id: origin.id,
            data,
            reset: false,
            end: false,
            position: None,
            arrival_ms: now_ms(),
        }
    }
}

/// The name and id of one origin of chunks.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    name: Arc<str>,
    id: u64,
}

impl Origin {
    /// A new origin with a process-unique id.
    fn new(name: impl Into<Arc<str>>) -> Origin {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Origin {
            name: name.into(),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a future to completion on the current (plain) thread.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
