//! `dir:PATH`: a directory whose files are followed as they grow.
//!
//! One thread per directory source. Files are known by device and inode,
//! not by name, so a renamed file keeps its place and a new file at an old
//! name is a new origin. The thread:
//! - at start lists the directory (hidden files and names the stream's
//!   `files` glob rejects are skipped) and reads every file to its end, in
//!   lexical order, or from a resume position;
//! - then waits for OS events (`notify`): an event on a followed file reads
//!   its new lines; any other event (a file created, renamed, removed, lost
//!   events) rescans the directory. Every [`SourceOptions::poll_interval`]
//!   it also rescans and checks every file, so lost events lose no data;
//! - reads growing files round-robin, one chunk each per round, so a file
//!   being flooded does not delay the others;
//! - reads a file that became shorter than what was read (truncated) again
//!   from its start, with `reset`;
//! - keeps reading, through its open handle, a file that left the directory
//!   (renamed away, deleted), and closes it, with `end`, once it has been
//!   quiet for [`SourceOptions::retire_after`].
//!
//! A trailing partial line waits for its newline; it is delivered anyway
//! when its file is truncated or closed.

use super::lines::LineAssembler;
use super::{ChunkSender, FilePosition, Origin, SourceError, SourceOptions, Stopped};
use crate::planner::StreamDef;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

/// What wakes a directory source's thread.
#[derive(Debug)]
pub(crate) enum Wake {
    /// Something the OS watcher reported.
    Event(notify::Result<notify::Event>),
    /// The source is told to stop.
    Stop,
}

/// Bytes asked for per read.
const READ_BYTES: usize = 256 << 10;

/// A file's identity: device and inode.
type FileKey = (u64, u64);

/// Checks the directory and starts its thread; returns the sender that
/// wakes the thread (to stop it promptly).
pub(crate) fn spawn(
    path: &str,
    def: &StreamDef,
    out: ChunkSender,
    resume: &[FilePosition],
    opts: &SourceOptions,
) -> Result<Sender<Wake>, SourceError> {
    let dir_err = |source| SourceError::Directory {
        path: path.to_string(),
        source,
    };
    let dir = std::path::absolute(path).map_err(dir_err)?;
    let meta = std::fs::metadata(&dir).map_err(dir_err)?;
    if !meta.is_dir() {
        return Err(dir_err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let (wake_tx, wake_rx) = std::sync::mpsc::channel();
    let watcher = if opts.use_notify {
        let tx = wake_tx.clone();
        match notify::recommended_watcher(move |ev| {
            let _ = tx.send(Wake::Event(ev));
        }) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(dir = %path, error = %e, "no file watcher; polling only");
                None
            }
        }
    } else {
        None
    };
    let filter = def
        .files
        .as_deref()
        .map(|g| globset::Glob::new(g).map(|g| g.compile_matcher()));
    let mut tail = Tail {
        dir,
        shown: PathBuf::from(path),
        filter,
        out,
        opts: opts.clone(),
        max_line: def.max_line,
        files: HashMap::new(),
        by_name: HashMap::new(),
        dirty: HashSet::new(),
        rescan_pending: false,
        resume: resume.iter().map(|p| ((p.dev, p.ino), p.clone())).collect(),
        buf: vec![0; READ_BYTES],
        watcher,
        watched: None,
        scan_failing: false,
        unreadable: HashMap::new(),
    };
    // Watch before the first listing, so that no file created after this
    // call returns is missed until the next poll.
    tail.ensure_watch();
    std::thread::Builder::new()
        .name(format!("shoal-dir-{}", def.name))
        .spawn(move || tail.run(wake_rx))
        .map_err(dir_err)?;
    Ok(wake_tx)
}

/// A file being followed.
struct Followed {
    /// Its origin (name: its path when first seen).
    origin: Origin,
    /// Its name in the directory, or the last one it had.
    name: OsString,
    /// Its path as shown (the directory as given, joined with `name`).
    shown: PathBuf,
    /// The open handle; `None` while closed to save descriptors (only for
    /// files still in the directory, reopened when they grow).
    file: Option<File>,
    /// Device and inode.
    key: FileKey,
    /// Bytes read so far.
    offset: u64,
    /// Framing of its lines.
    lines: LineAssembler,
    /// The next chunk starts the file over (`reset`).
    fresh: bool,
    /// When it was first missing from the directory listing.
    gone_since: Option<Instant>,
    /// When data was last read from it.
    last_data: Instant,
    /// A read error was logged and has not cleared yet.
    failing: bool,
}

impl Followed {
    /// Where its last whole line read ends.
    fn position(&self) -> FilePosition {
        FilePosition {
            path: self.shown.clone(),
            dev: self.key.0,
            ino: self.key.1,
            offset: self.offset - self.lines.pending() as u64,
        }
    }
}

/// The state of a directory source's thread.
struct Tail {
    /// The directory, absolute, for I/O.
    dir: PathBuf,
    /// The directory as given, for origin names.
    shown: PathBuf,
    /// The stream's `files` glob (an invalid one matches nothing).
    filter: Option<Result<globset::GlobMatcher, globset::Error>>,
    out: ChunkSender,
    opts: SourceOptions,
    max_line: usize,
    /// Followed files by identity.
    files: HashMap<FileKey, Followed>,
    /// Names in the directory at the last scan, to the file they name.
    by_name: HashMap<OsString, FileKey>,
    /// Files that may have unread data.
    dirty: HashSet<FileKey>,
    /// An event asked for a rescan of the directory.
    rescan_pending: bool,
    /// Resume positions by identity (used by the first scan only).
    resume: HashMap<FileKey, FilePosition>,
    /// The read buffer.
    buf: Vec<u8>,
    /// The OS watcher, if any (dropped with the thread).
    watcher: Option<notify::RecommendedWatcher>,
    /// The directory identity the watcher watches, once watching works.
    watched: Option<FileKey>,
    /// A directory scan failed and was logged; cleared on success.
    scan_failing: bool,
    /// Files that could not be opened (logged once per name and file).
    unreadable: HashMap<OsString, FileKey>,
}

impl Tail {
    /// The thread's body: ends when the source stops.
    fn run(mut self, wake: Receiver<Wake>) {
        let _ = self.run_until_stopped(&wake);
        tracing::debug!(dir = %self.shown.display(), "directory source stopped");
    }

    fn run_until_stopped(&mut self, wake: &Receiver<Wake>) -> Result<(), Stopped> {
        self.rescan(true);
        self.resume.clear();
        // Files present at start: each to its end, in lexical order.
        for key in self.dirty_in_order() {
            while self.read_step(key)? {}
            self.dirty.remove(&key);
        }
        let mut next_poll = Instant::now() + self.opts.poll_interval;
        loop {
            if Instant::now() >= next_poll {
                // The safety net: rescan, and check every file for growth.
                self.rescan_pending = true;
                self.dirty.extend(self.files.keys().copied());
                next_poll = Instant::now() + self.opts.poll_interval;
            }
            if self.rescan_pending {
                self.rescan(false);
            }
            if !self.dirty.is_empty() {
                // One round: a chunk from each file with new data.
                for key in self.dirty_in_order() {
                    if !self.read_step(key)? {
                        self.dirty.remove(&key);
                    }
                }
                while let Ok(w) = wake.try_recv() {
                    self.on_wake(w)?;
                }
                continue;
            }
            self.retire_quiet()?;
            self.limit_open();
            let now = Instant::now();
            if now < next_poll {
                match wake.recv_timeout(next_poll - now) {
                    Ok(w) => self.on_wake(w)?,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Err(Stopped),
                }
                while let Ok(w) = wake.try_recv() {
                    self.on_wake(w)?;
                }
            }
            if self.out.stopped() {
                return Err(Stopped);
            }
        }
    }

    /// The dirty files, ordered by name.
    fn dirty_in_order(&self) -> Vec<FileKey> {
        let mut keys: Vec<(&OsString, FileKey)> = self
            .dirty
            .iter()
            .filter_map(|k| self.files.get(k).map(|f| (&f.name, *k)))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// Whether a file name belongs to the stream.
    fn wanted(&self, name: &OsString) -> bool {
        let Some(name) = name.to_str() else {
            return false;
        };
        if name.starts_with('.') {
            return false;
        }
        match &self.filter {
            None => true,
            Some(Ok(m)) => m.is_match(name),
            Some(Err(_)) => false,
        }
    }

    /// Handles one wake-up: marks files dirty or asks for a rescan.
    fn on_wake(&mut self, w: Wake) -> Result<(), Stopped> {
        let ev = match w {
            Wake::Stop => return Err(Stopped),
            Wake::Event(Err(e)) => {
                tracing::warn!(dir = %self.shown.display(), error = %e, "file watcher error; rescanning");
                self.rescan_pending = true;
                return Ok(());
            }
            Wake::Event(Ok(ev)) => ev,
        };
        if ev.need_rescan() || ev.paths.is_empty() {
            self.rescan_pending = true;
            return Ok(());
        }
        for p in &ev.paths {
            let Some(name) = p.file_name().map(|n| n.to_os_string()) else {
                self.rescan_pending = true;
                continue;
            };
            if p.parent() != Some(self.dir.as_path()) {
                // The directory itself (deleted, moved) or something else.
                self.rescan_pending = true;
                continue;
            }
            let followed = self.by_name.get(&name).copied();
            match (&ev.kind, followed) {
                // Our own opens and reads, and closes: nothing to do.
                (EventKind::Access(_), _) => {}
                (EventKind::Modify(ModifyKind::Metadata(_)), Some(_)) => {}
                (
                    EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Other),
                    Some(key),
                ) => {
                    self.dirty.insert(key);
                }
                (_, Some(_)) => self.rescan_pending = true,
                (_, None) => {
                    if self.wanted(&name) {
                        self.rescan_pending = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// Lists the directory: new files are followed (from their start, or a
    /// resume position on the first scan), renamed ones keep their place,
    /// files no longer listed are marked gone (read to their end, then
    /// closed when quiet). Every followed file is then checked for growth.
    fn rescan(&mut self, first: bool) {
        self.rescan_pending = false;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(rd) => {
                self.scan_failing = false;
                rd
            }
            Err(e) => {
                if !self.scan_failing {
                    tracing::warn!(dir = %self.shown.display(), error = %e, "cannot list the directory; retrying");
                    self.scan_failing = true;
                }
                return;
            }
        };
        self.ensure_watch();
        let mut listed: Vec<(OsString, FileKey)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !self.wanted(&name) {
                continue;
            }
            // Follows symbolic links, like `shoal run` does.
            match std::fs::metadata(entry.path()) {
                Ok(m) if m.is_file() => listed.push((name, key_of(&m, &entry.path()))),
                _ => {}
            }
        }
        listed.sort();
        let now = Instant::now();
        let mut seen = HashSet::new();
        let mut by_name = HashMap::new();
        for (name, key) in listed {
            if let Some(f) = self.files.get_mut(&key) {
                // Known file, maybe under a new name (a second hard link to
                // it is ignored).
                if seen.insert(key) {
                    if f.name != name {
                        f.shown = self.shown.join(&name);
                        f.name = name.clone();
                    }
                    f.gone_since = None;
                    by_name.insert(name, key);
                }
                continue;
            }
            let path = self.dir.join(&name);
            let (file, meta) = match File::open(&path).and_then(|f| f.metadata().map(|m| (f, m))) {
                Ok(fm) => fm,
                Err(e) => {
                    if self.unreadable.get(&name) != Some(&key) {
                        tracing::warn!(file = %path.display(), error = %e, "cannot open; will retry");
                        self.unreadable.insert(name.clone(), key);
                    }
                    continue;
                }
            };
            self.unreadable.remove(&name);
            // The name may have changed hands between listing and opening.
            let key = key_of(&meta, &path);
            if !seen.insert(key) || self.files.contains_key(&key) {
                continue;
            }
            let offset = match self.resume.get(&key) {
                Some(p) if first && p.offset <= meta.len() => p.offset,
                _ => 0,
            };
            let shown = self.shown.join(&name);
            tracing::debug!(file = %shown.display(), offset, "following file");
            self.files.insert(
                key,
                Followed {
                    origin: Origin::new(shown.display().to_string()),
                    name: name.clone(),
                    shown,
                    file: Some(file),
                    key,
                    offset,
                    lines: LineAssembler::new(self.max_line),
                    fresh: offset == 0,
                    gone_since: None,
                    last_data: now,
                    failing: false,
                },
            );
            self.dirty.insert(key);
            by_name.insert(name, key);
        }
        for (key, f) in self.files.iter_mut() {
            if !seen.contains(key) && f.gone_since.is_none() {
                tracing::debug!(file = %f.shown.display(), "file left the directory; finishing it");
                f.gone_since = Some(now);
            }
            // An event that asked for this rescan may also have been a write
            // (to a file under a name not known yet): check every file.
            self.dirty.insert(*key);
        }
        self.by_name = by_name;
    }

    /// Watches the directory, again if it was replaced or watching failed.
    fn ensure_watch(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let Ok(meta) = std::fs::metadata(&self.dir) else {
            return;
        };
        let key = key_of(&meta, &self.dir);
        if self.watched == Some(key) {
            return;
        }
        let _ = w.unwatch(&self.dir);
        match w.watch(&self.dir, RecursiveMode::NonRecursive) {
            Ok(()) => self.watched = Some(key),
            Err(e) => {
                tracing::warn!(dir = %self.shown.display(), error = %e, "cannot watch; polling only");
                // Polling does the work; do not try (and log) again.
                self.watcher = None;
            }
        }
    }

    /// Reads at most about one chunk of a file's new lines and sends them.
    /// Returns whether the file may have more right away.
    fn read_step(&mut self, key: FileKey) -> Result<bool, Stopped> {
        let Some(f) = self.files.get_mut(&key) else {
            return Ok(false);
        };
        if f.file.is_none() && !reopen(f, &self.dir) {
            return Ok(false);
        }
        let file = f.file.as_ref().expect("opened above");
        let len = match file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                report(f, &e);
                return Ok(false);
            }
        };
        if len < f.offset {
            tracing::info!(file = %f.shown.display(), "file truncated; reading it again from its start");
            // The partial line of the old content ends here.
            let mut rest = Vec::new();
            f.lines.finish(&mut rest);
            f.offset = 0;
            let was_fresh = std::mem::replace(&mut f.fresh, true);
            if !rest.is_empty() {
                let mut chunk = self.out.chunk(&f.origin, rest);
                chunk.reset = was_fresh;
                chunk.position = Some(f.position());
                self.out.send_blocking(chunk)?;
            }
            return Ok(true);
        }
        if len == f.offset {
            return Ok(false);
        }
        if f.gone_since.is_none() && !names_file(&self.dir.join(&f.name), key) {
            // Renamed (or removed) and the OS watcher has not said so yet:
            // the data read here goes out with a position that carries the
            // file's name, so the directory is listed again first.
            self.rescan(false);
        }
        self.read_new_data(key, len)
    }

    /// The rest of [`Tail::read_step`], once the file is known to be `len`
    /// bytes long, longer than what was read, and its name to be current
    /// (or the file to have left the directory).
    fn read_new_data(&mut self, key: FileKey, len: u64) -> Result<bool, Stopped> {
        let Some(f) = self.files.get_mut(&key) else {
            return Ok(false);
        };
        let Some(file) = f.file.as_ref() else {
            return Ok(false);
        };
        let chunk_bytes = self.opts.chunk_bytes;
        let mut data =
            Vec::with_capacity(((len - f.offset) as usize).min(chunk_bytes) + f.lines.pending());
        let mut read = 0;
        let mut more = true;
        while read < chunk_bytes {
            match read_at(file, &mut self.buf, f.offset) {
                Ok(0) => {
                    more = false;
                    break;
                }
                Ok(n) => {
                    f.offset += n as u64;
                    read += n;
                    f.lines.push(&self.buf[..n], &mut data);
                }
                Err(e) => {
                    report(f, &e);
                    more = false;
                    break;
                }
            }
        }
        if read > 0 {
            f.failing = false;
            f.last_data = Instant::now();
        }
        if !data.is_empty() {
            let mut chunk = self.out.chunk(&f.origin, data);
            chunk.reset = std::mem::take(&mut f.fresh);
            chunk.position = Some(f.position());
            self.out.send_blocking(chunk)?;
        }
        Ok(more)
    }

    /// Closes the files that left the directory and have been quiet long
    /// enough, after a last read to their end.
    fn retire_quiet(&mut self) -> Result<(), Stopped> {
        let wait = self.opts.retire_after;
        let quiet: Vec<FileKey> = self
            .files
            .values()
            .filter(|f| {
                f.gone_since.is_some_and(|t| t.elapsed() >= wait) && f.last_data.elapsed() >= wait
            })
            .map(|f| f.key)
            .collect();
        for key in quiet {
            while self.read_step(key)? {}
            self.dirty.remove(&key);
            let mut f = self.files.remove(&key).expect("listed above");
            tracing::debug!(file = %f.shown.display(), "finished file closed");
            let mut rest = Vec::new();
            f.lines.finish(&mut rest);
            let mut chunk = self.out.chunk(&f.origin, rest);
            chunk.reset = f.fresh;
            chunk.end = true;
            chunk.position = Some(f.position());
            self.out.send_blocking(chunk)?;
        }
        Ok(())
    }

    /// Closes the handles of the least recently active files still in the
    /// directory beyond [`SourceOptions::max_open_files`].
    fn limit_open(&mut self) {
        let open = self.files.values().filter(|f| f.file.is_some()).count();
        if open <= self.opts.max_open_files {
            return;
        }
        let mut idle: Vec<(Instant, FileKey)> = self
            .files
            .values()
            .filter(|f| f.file.is_some() && f.gone_since.is_none() && !self.dirty.contains(&f.key))
            .map(|f| (f.last_data, f.key))
            .collect();
        idle.sort();
        for (_, key) in idle.into_iter().take(open - self.opts.max_open_files) {
            if let Some(f) = self.files.get_mut(&key) {
                f.file = None;
            }
        }
    }
}

/// Reopens a closed file if it grew (or shrank); false when there is
/// nothing to read or its name now holds another file (which the next
/// rescan picks up).
fn reopen(f: &mut Followed, dir: &Path) -> bool {
    let path = dir.join(&f.name);
    match std::fs::metadata(&path) {
        Ok(m) if key_of(&m, &path) == f.key && m.len() != f.offset => {}
        _ => return false,
    }
    match File::open(&path) {
        Ok(file) if file.metadata().is_ok_and(|m| key_of(&m, &path) == f.key) => {
            f.file = Some(file);
            true
        }
        Ok(_) => false,
        Err(e) => {
            report(f, &e);
            false
        }
    }
}

/// Logs a read error once until reads succeed again.
fn report(f: &mut Followed, e: &io::Error) {
    if !f.failing {
        tracing::warn!(file = %f.shown.display(), error = %e, "read failed; will retry");
        f.failing = true;
    }
}

/// Reads at `offset`, retrying when interrupted.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(file, buf, offset);
        #[cfg(not(unix))]
        let r = {
            use std::io::{Read, Seek};
            let mut f = file;
            f.seek(io::SeekFrom::Start(offset))
                .and_then(|_| f.read(buf))
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// True when `path` names the file whose key is `key` (following symbolic
/// links, as the directory listing does).
fn names_file(path: &Path, key: FileKey) -> bool {
    std::fs::metadata(path).is_ok_and(|m| key_of(&m, path) == key)
}

/// A file's identity. Off Unix there are no inodes: files are known by
/// path, so renames are not recognized there.
fn key_of(meta: &Metadata, _path: &Path) -> FileKey {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        use std::hash::{Hash, Hasher};
        let _ = meta;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        _path.hash(&mut h);
        (0, h.finish())
    }
}
