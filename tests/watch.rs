//! Live sources against real files in temporary directories and real
//! sockets on 127.0.0.1: every line arrives exactly once, in order per
//! origin, through appends, partial lines, truncation, rotation, resume,
//! over-long lines, many TCP producers and a consumer that falls behind.

use shoal::planner::StreamDef;
use shoal::watch::{
    spawn_source, spawn_source_with, Chunk, FilePosition, SourceError, SourceOptions,
};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// How long a test waits for data that must come.
const PATIENCE: Duration = Duration::from_secs(8);

/// A stream definition from its `WITH (…)` options.
fn stream(options: &str) -> StreamDef {
    let sql = format!("CREATE STREAM s WITH ({options});");
    let stmts = shoal::parser::parse_statements(&sql).expect("parses");
    match &stmts[0].statement {
        shoal::parser::Statement::CreateStream(cs) => {
            StreamDef::from_ast(cs, &sql).expect("valid stream")
        }
        other => panic!("not a CREATE STREAM: {other:?}"),
    }
}

/// A new empty directory under the system temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shoal-watch-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dir_stream(dir: &Path, extra: &str) -> StreamDef {
    stream(&format!("source = 'dir:{}'{extra}", dir.display()))
}

/// Quick polling and retiring, so that tests of those paths stay short.
fn quick() -> SourceOptions {
    SourceOptions {
        poll_interval: Duration::from_millis(100),
        retire_after: Duration::from_millis(200),
        ..SourceOptions::default()
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn text_of(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Everything received so far.
#[derive(Default)]
struct Got {
    chunks: Vec<Chunk>,
}

impl Got {
    /// Receives until `done` holds, failing after [`PATIENCE`].
    async fn until(&mut self, rx: &mut mpsc::Receiver<Chunk>, done: impl Fn(&Got) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some(c)) => {
                    assert!(
                        c.data.ends_with(b"\n") || c.data.is_empty(),
                        "a chunk ends in a newline"
                    );
                    assert!(!c.data.is_empty() || c.end, "only an end chunk is empty");
                    self.chunks.push(c);
                }
                Ok(None) => panic!("channel closed; got {:?}", self.summary()),
                Err(_) => panic!("timed out; got {:?}", self.summary()),
            }
        }
    }

    /// Receives whatever arrives within `wait`.
    async fn for_a_while(&mut self, rx: &mut mpsc::Receiver<Chunk>, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Ok(Some(c)) = tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            self.chunks.push(c);
        }
    }

    /// Origin ids in order of their first chunk.
    fn origins(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for c in &self.chunks {
            if !ids.contains(&c.origin_id) {
                ids.push(c.origin_id);
            }
        }
        ids
    }

    /// The origin ids whose name ends with `suffix`, in order of appearance.
    fn origins_named(&self, suffix: &str) -> Vec<u64> {
        self.origins()
            .into_iter()
            .filter(|id| self.chunks_of(*id)[0].source.ends_with(suffix))
            .collect()
    }

    fn chunks_of(&self, id: u64) -> Vec<&Chunk> {
        self.chunks.iter().filter(|c| c.origin_id == id).collect()
    }

    fn lines_of(&self, id: u64) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.chunks_of(id) {
            let text = std::str::from_utf8(&c.data).unwrap();
            out.extend(text.lines().map(str::to_string));
        }
        out
    }

    /// All lines of every origin named `…suffix`, origin after origin.
    fn lines_named(&self, suffix: &str) -> Vec<String> {
        self.origins_named(suffix)
            .into_iter()
            .flat_map(|id| self.lines_of(id))
            .collect()
    }

    fn summary(&self) -> BTreeMap<String, Vec<String>> {
        self.origins()
            .into_iter()
            .map(|id| {
                (
                    format!("{} #{id}", self.chunks_of(id)[0].source),
                    self.lines_of(id),
                )
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_present_at_start_are_read_in_lexical_order() {
    let dir = fresh_dir("start");
    let a = numbered("a", 0..2);
    let b = numbered("b", 0..3);
    std::fs::write(dir.join("b.jsonl"), text_of(&b)).unwrap();
    std::fs::write(dir.join("a.jsonl"), text_of(&a)).unwrap();
    std::fs::write(dir.join(".hidden.jsonl"), "hidden\n").unwrap();
    std::fs::write(dir.join("x.txt"), "not matched\n").unwrap();
    std::fs::write(dir.join("c.jsonl"), "c0\nc1-part").unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source(&dir_stream(&dir, ", files = '*.jsonl'"), tx, &[]).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| {
        g.lines_named("c.jsonl").len() == 1 && g.lines_named("b.jsonl").len() == 3
    })
    .await;
    let names: Vec<String> = got
        .origins()
        .iter()
        .map(|id| got.chunks_of(*id)[0].source.to_string())
        .collect();
    let shown = |n: &str| dir.join(n).display().to_string();
    assert_eq!(
        names,
        [shown("a.jsonl"), shown("b.jsonl"), shown("c.jsonl")]
    );
    // Lexical order holds chunk by chunk, not only by first chunk.
    let order: Vec<u64> = got.chunks.iter().map(|c| c.origin_id).collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "files read one after another"
    );
    assert_eq!(got.lines_named("a.jsonl"), a);
    assert_eq!(got.lines_named("b.jsonl"), b);
    assert_eq!(got.lines_named("c.jsonl"), ["c0"]);
    for id in got.origins() {
        assert!(
            got.chunks_of(id)[0].reset,
            "an origin's first chunk starts it over"
        );
    }
    // Positions: where the last whole line ends, with the file's identity.
    let last_a = got
        .chunks_of(got.origins()[0])
        .last()
        .unwrap()
        .position
        .clone()
        .unwrap();
    let meta = std::fs::metadata(dir.join("a.jsonl")).unwrap();
    assert_eq!(last_a.offset, meta.len());
    assert_eq!(last_a.path, dir.join("a.jsonl"));
    #[cfg(unix)]
    assert_eq!(last_a.ino, std::os::unix::fs::MetadataExt::ino(&meta));
    let last_c = got
        .chunks_of(got.origins()[2])
        .last()
        .unwrap()
        .position
        .clone()
        .unwrap();
    assert_eq!(
        last_c.offset, 3,
        "the partial line is not part of the position"
    );

    // The partial line waits for its newline, then arrives whole.
    got.for_a_while(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(got.lines_named("c.jsonl"), ["c0"]);
    append(&dir.join("c.jsonl"), "-done\nc2\n");
    got.until(&mut rx, |g| g.lines_named("c.jsonl").len() == 3)
        .await;
    assert_eq!(got.lines_named("c.jsonl"), ["c0", "c1-part-done", "c2"]);
    assert!(!got
        .summary()
        .keys()
        .any(|k| k.contains("hidden") || k.contains("x.txt")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_and_appends_arrive_as_written() {
    let dir = fresh_dir("appends");
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source(&dir_stream(&dir, ""), tx, &[]).unwrap();
    let mut got = Got::default();
    let path = dir.join("new.log");
    append(&path, "l0\nl1\n");
    got.until(&mut rx, |g| g.lines_named("new.log").len() == 2)
        .await;
    append(&path, "l2-par");
    got.for_a_while(&mut rx, Duration::from_millis(100)).await;
    append(&path, "t\nl3\n");
    append(&path, "l4\n");
    got.until(&mut rx, |g| g.lines_named("new.log").len() == 5)
        .await;
    assert_eq!(
        got.lines_named("new.log"),
        ["l0", "l1", "l2-part", "l3", "l4"]
    );
    assert_eq!(got.origins().len(), 1);
    let chunks = got.chunks_of(got.origins()[0]);
    assert!(chunks[0].reset && chunks[1..].iter().all(|c| !c.reset));
    assert!(chunks.iter().all(|c| c.stream.as_ref() == "s" && !c.end));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With polling an hour apart, only the OS watcher can deliver these.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_watcher_delivers_without_polling() {
    let dir = fresh_dir("notify");
    let opts = SourceOptions {
        poll_interval: Duration::from_secs(3600),
        ..SourceOptions::default()
    };
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &opts).unwrap();
    let mut got = Got::default();
    append(&dir.join("one.log"), "x0\n");
    got.until(&mut rx, |g| g.lines_named("one.log").len() == 1)
        .await;
    append(&dir.join("one.log"), "x1\n");
    got.until(&mut rx, |g| g.lines_named("one.log").len() == 2)
        .await;
    std::fs::rename(dir.join("one.log"), dir.join("two.log")).unwrap();
    append(&dir.join("two.log"), "x2\n");
    got.until(&mut rx, |g| g.lines_named("one.log").len() == 3)
        .await;
    assert_eq!(got.lines_named("one.log"), ["x0", "x1", "x2"]);
    assert_eq!(got.origins().len(), 1, "a renamed file keeps its origin");
    assert_eq!(
        got.chunks.last().unwrap().position.as_ref().unwrap().path,
        dir.join("two.log"),
        "positions follow the file's current name"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without the OS watcher, polling alone finds everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_alone_loses_nothing() {
    let dir = fresh_dir("poll");
    let opts = SourceOptions {
        use_notify: false,
        ..quick()
    };
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &opts).unwrap();
    let mut got = Got::default();
    for round in 0..5 {
        append(
            &dir.join("p.log"),
            &text_of(&numbered(&format!("r{round}-"), 0..50)),
        );
        append(&dir.join(format!("q{round}.log")), "q\n");
    }
    got.until(&mut rx, |g| {
        g.lines_named("p.log").len() == 250 && g.origins().len() == 6
    })
    .await;
    let expected: Vec<String> = (0..5)
        .flat_map(|r| numbered(&format!("r{r}-"), 0..50))
        .collect();
    assert_eq!(got.lines_named("p.log"), expected);
    for round in 0..5 {
        assert_eq!(got.lines_named(&format!("q{round}.log")), ["q"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_read_again_from_its_start() {
    let dir = fresh_dir("truncate");
    let path = dir.join("t.log");
    append(&path, "first-0\nfirst-1\nfirst-2\n");
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &quick()).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("t.log").len() == 3)
        .await;
    let ino_before = std::fs::metadata(&path).unwrap();
    std::fs::write(&path, "new-0\n").unwrap(); // O_TRUNC, same file
    got.until(&mut rx, |g| g.lines_named("t.log").len() == 4)
        .await;
    append(&path, "new-1\n");
    got.until(&mut rx, |g| g.lines_named("t.log").len() == 5)
        .await;
    assert_eq!(
        got.lines_named("t.log"),
        ["first-0", "first-1", "first-2", "new-0", "new-1"]
    );
    assert_eq!(got.origins().len(), 1, "the same file, started over");
    let chunks = got.chunks_of(got.origins()[0]);
    let restart = chunks
        .iter()
        .position(|c| c.data.starts_with(b"new-0"))
        .unwrap();
    assert!(
        chunks[restart].reset,
        "the chunk after truncation starts over"
    );
    assert!(chunks[1..restart].iter().all(|c| !c.reset));
    assert_eq!(chunks.last().unwrap().position.as_ref().unwrap().offset, 12);
    #[cfg(unix)]
    assert_eq!(
        chunks.last().unwrap().position.as_ref().unwrap().ino,
        std::os::unix::fs::MetadataExt::ino(&ino_before)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `app.log` is renamed out of the stream's glob while being written, its
/// writer goes on writing to it, and a new `app.log` starts: the old file is
/// finished through its open handle and closed, the new one read from its
/// start, nothing lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_loses_nothing() {
    let dir = fresh_dir("rotate");
    let path = dir.join("app.log");
    append(&path, &text_of(&numbered("old-", 0..100)));
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ", files = '*.log'"), tx, &[], &quick()).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("app.log").len() == 100)
        .await;

    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    writer
        .write_all(text_of(&numbered("old-", 100..200)).as_bytes())
        .unwrap();
    std::fs::rename(&path, dir.join("app.log.1")).unwrap();
    writer
        .write_all(text_of(&numbered("old-", 200..250)).as_bytes())
        .unwrap();
    append(&path, &text_of(&numbered("new-", 0..100)));
    writer.write_all(b"old-250").unwrap(); // its last line, never ended
    drop(writer);

    let old_id = got.origins()[0];
    got.until(&mut rx, |g| {
        g.chunks_of(old_id).last().is_some_and(|c| c.end)
            && g.origins().len() == 2
            && g.lines_of(g.origins()[1]).len() == 100
    })
    .await;
    assert_eq!(got.lines_of(old_id), numbered("old-", 0..251));
    let new_id = got.origins()[1];
    assert_eq!(got.lines_of(new_id), numbered("new-", 0..100));
    let new_chunks = got.chunks_of(new_id);
    assert_eq!(
        new_chunks[0].source,
        got.chunks_of(old_id)[0].source,
        "both were app.log"
    );
    assert!(new_chunks[0].reset);
    assert!(new_chunks.iter().all(|c| !c.end));
    assert_eq!(got.chunks_of(old_id).iter().filter(|c| c.end).count(), 1);
    got.for_a_while(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(got.lines_of(new_id).len(), 100, "nothing read twice");
    assert_eq!(got.origins().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rotation where the old name still matches: the renamed file is known by
/// its inode, so it is neither read again nor closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_renamed_within_the_stream_is_not_read_twice() {
    let dir = fresh_dir("rename");
    let path = dir.join("app.log");
    append(&path, &text_of(&numbered("old-", 0..100)));
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &quick()).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("app.log").len() == 100)
        .await;
    std::fs::rename(&path, dir.join("app.log.1")).unwrap();
    append(
        &dir.join("app.log.1"),
        &text_of(&numbered("old-", 100..110)),
    );
    append(&path, &text_of(&numbered("new-", 0..10)));
    got.until(&mut rx, |g| {
        g.origins().len() == 2
            && g.lines_of(g.origins()[1]).len() == 10
            && g.lines_of(g.origins()[0]).len() == 110
    })
    .await;
    got.for_a_while(&mut rx, Duration::from_millis(500)).await;
    assert_eq!(got.lines_of(got.origins()[0]), numbered("old-", 0..110));
    assert_eq!(got.lines_of(got.origins()[1]), numbered("new-", 0..10));
    assert_eq!(got.origins().len(), 2);
    assert!(
        got.chunks.iter().all(|c| !c.end),
        "the renamed file is still followed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_files_written_at_once() {
    let dir = fresh_dir("many");
    const FILES: usize = 40;
    const ROUNDS: usize = 5;
    const LINES: usize = 100;
    for f in 0..FILES / 2 {
        append(
            &dir.join(format!("f{f:02}.log")),
            &text_of(&numbered(&format!("f{f}-r0-"), 0..LINES)),
        );
    }
    let (tx, mut rx) = mpsc::channel(8);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &quick()).unwrap();
    let writer = std::thread::spawn({
        let dir = dir.clone();
        move || {
            for round in 0..ROUNDS {
                for f in 0..FILES {
                    if round == 0 && f < FILES / 2 {
                        continue;
                    }
                    append(
                        &dir.join(format!("f{f:02}.log")),
                        &text_of(&numbered(&format!("f{f}-r{round}-"), 0..LINES)),
                    );
                }
            }
        }
    });
    let mut got = Got::default();
    got.until(&mut rx, |g| {
        g.chunks
            .iter()
            .map(|c| c.data.iter().filter(|&&b| b == b'\n').count())
            .sum::<usize>()
            >= FILES * ROUNDS * LINES
    })
    .await;
    writer.join().unwrap();
    got.for_a_while(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(got.origins().len(), FILES);
    for f in 0..FILES {
        let expected: Vec<String> = (0..ROUNDS)
            .flat_map(|r| numbered(&format!("f{f}-r{r}-"), 0..LINES))
            .collect();
        assert_eq!(
            got.lines_named(&format!("f{f:02}.log")),
            expected,
            "file {f}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_resumes_from_a_position() {
    let dir = fresh_dir("resume");
    let lines = numbered("line-", 0..10);
    std::fs::write(dir.join("a.log"), text_of(&lines)).unwrap();
    std::fs::write(dir.join("b.log"), text_of(&lines)).unwrap();
    std::fs::write(dir.join("c.log"), text_of(&lines)).unwrap();
    let position = |name: &str, offset: u64| {
        let meta = std::fs::metadata(dir.join(name)).unwrap();
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        FilePosition {
            path: dir.join(name),
            dev,
            ino,
            offset,
        }
    };
    let four = text_of(&lines[..4]).len() as u64;
    let resume = [
        position("a.log", four),
        // Longer than the file: not this file any more; read it whole.
        position("b.log", 10_000),
    ];
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source(&dir_stream(&dir, ""), tx, &resume).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("c.log").len() == 10)
        .await;
    assert_eq!(got.lines_named("a.log"), lines[4..]);
    assert_eq!(got.lines_named("b.log"), lines);
    assert_eq!(got.lines_named("c.log"), lines);
    let a = got.chunks_of(got.origins_named("a.log")[0]);
    assert!(!a[0].reset, "a resumed file continues");
    assert!(got.chunks_of(got.origins_named("b.log")[0])[0].reset);
    let end = a.last().unwrap().position.clone().unwrap();
    assert_eq!(end, position("a.log", text_of(&lines).len() as u64));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_lines_are_cut_in_files() {
    let dir = fresh_dir("long");
    let path = dir.join("l.log");
    append(
        &path,
        &format!("short\n{}\nok\n{}", "x".repeat(30), "y".repeat(20)),
    );
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source(&dir_stream(&dir, ", max_line = '8'"), tx, &[]).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("l.log").len() == 4)
        .await;
    append(&path, &format!("{}\nend\n", "y".repeat(5000)));
    got.until(&mut rx, |g| g.lines_named("l.log").len() == 5)
        .await;
    assert_eq!(
        got.lines_named("l.log"),
        [
            "short".to_string(),
            "x".repeat(9),
            "ok".into(),
            "y".repeat(9),
            "end".into()
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// More files than the source may hold open: the least recently active
/// are closed and reopened when they grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_beyond_the_open_limit_are_reopened() {
    let dir = fresh_dir("limit");
    let opts = SourceOptions {
        max_open_files: 2,
        ..quick()
    };
    for f in 0..6 {
        append(&dir.join(format!("f{f}.log")), &format!("f{f}-0\n"));
    }
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &opts).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.origins().len() == 6).await;
    // Let the source settle and close handles, then write to every file.
    got.for_a_while(&mut rx, Duration::from_millis(300)).await;
    for round in 1..3 {
        for f in 0..6 {
            append(&dir.join(format!("f{f}.log")), &format!("f{f}-{round}\n"));
        }
        got.until(&mut rx, |g| {
            (0..6).all(|f| g.lines_named(&format!("f{f}.log")).len() == round + 1)
        })
        .await;
    }
    for f in 0..6 {
        assert_eq!(
            got.lines_named(&format!("f{f}.log")),
            numbered(&format!("f{f}-"), 0..3)
        );
    }
    assert_eq!(got.origins().len(), 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The watched directory is removed and created again: the source logs,
/// keeps going, and follows the new directory's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_removed_and_recreated_is_followed_again() {
    let dir = fresh_dir("recreate");
    append(&dir.join("a.log"), "a0\n");
    let (tx, mut rx) = mpsc::channel(16);
    let _h = spawn_source_with(&dir_stream(&dir, ""), tx, &[], &quick()).unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.lines_named("a.log").len() == 1)
        .await;
    std::fs::remove_dir_all(&dir).unwrap();
    got.for_a_while(&mut rx, Duration::from_millis(300)).await;
    std::fs::create_dir_all(&dir).unwrap();
    append(&dir.join("b.log"), "b0\n");
    got.until(&mut rx, |g| g.lines_named("b.log").len() == 1)
        .await;
    append(&dir.join("b.log"), "b1\n");
    got.until(&mut rx, |g| g.lines_named("b.log").len() == 2)
        .await;
    assert_eq!(got.lines_named("a.log"), ["a0"]);
    assert_eq!(got.lines_named("b.log"), ["b0", "b1"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The source name of a TCP connection: `tcp LOCAL <- PEER`.
fn tcp_name(local: std::net::SocketAddr, peer: std::net::SocketAddr) -> String {
    format!("tcp {local} <- {peer}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tcp_producers_each_keep_their_order() {
    const CONNS: usize = 20;
    const LINES: usize = 1000;
    let (tx, mut rx) = mpsc::channel(64);
    let h = spawn_source(&stream("source = 'tcp:127.0.0.1:0'"), tx, &[]).unwrap();
    let addr = h.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let mut producers = Vec::new();
    for c in 0..CONNS {
        producers.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let peer = s.local_addr().unwrap();
            // Lines in writes of varied sizes, cut anywhere.
            let text = text_of(&numbered(&format!("c{c}-"), 0..LINES));
            let mut rest = text.as_bytes();
            let mut step = 1 + c * 7;
            while !rest.is_empty() {
                let n = step.min(rest.len());
                s.write_all(&rest[..n]).await.unwrap();
                rest = &rest[n..];
                step = step * 3 % 4093 + 1;
            }
            s.shutdown().await.unwrap();
            (c, peer)
        }));
    }
    let mut peers = BTreeMap::new();
    for p in producers {
        let (c, peer) = p.await.unwrap();
        peers.insert(tcp_name(addr, peer), c);
    }
    let mut got = Got::default();
    got.until(&mut rx, |g| {
        g.chunks.iter().filter(|c| c.end).count() == CONNS
    })
    .await;
    assert_eq!(got.origins().len(), CONNS);
    for id in got.origins() {
        let chunks = got.chunks_of(id);
        let c = peers[chunks[0].source.as_ref()];
        assert_eq!(
            got.lines_of(id),
            numbered(&format!("c{c}-"), 0..LINES),
            "connection {c}"
        );
        assert!(chunks[0].reset && chunks.last().unwrap().end);
        assert!(chunks.iter().all(|ch| ch.position.is_none()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_final_line_without_newline_and_over_long_lines() {
    let (tx, mut rx) = mpsc::channel(16);
    let h = spawn_source(
        &stream("source = 'tcp:127.0.0.1:0', max_line = '10'"),
        tx,
        &[],
    )
    .unwrap();
    let mut s = tokio::net::TcpStream::connect(h.local_addr().unwrap())
        .await
        .unwrap();
    s.write_all(b"first\n").await.unwrap();
    s.write_all(&[b'z'; 100_000]).await.unwrap();
    s.write_all(b"\nmiddle\nlast").await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Got::default();
    got.until(&mut rx, |g| g.chunks.iter().any(|c| c.end)).await;
    let id = got.origins()[0];
    assert_eq!(got.lines_of(id), ["first", "zzzzzzzzzzz", "middle", "last"]);
}

/// A consumer that does not drain: the producer's writes stop once the
/// socket buffers are full, instead of the source buffering everything.
/// Draining then delivers every line, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_channel_holds_tcp_producers_back() {
    const LINE: usize = 64;
    const TOTAL_LINES: usize = 1 << 20; // 64 MiB
    let (tx, mut rx) = mpsc::channel(1);
    let h = spawn_source(&stream("source = 'tcp:127.0.0.1:0'"), tx, &[]).unwrap();
    let addr = h.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let producer = tokio::spawn({
        let written = written.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut block = Vec::with_capacity(64 << 10);
            for i in 0..TOTAL_LINES {
                let line = format!("{i:0>width$}\n", width = LINE - 1);
                block.extend_from_slice(line.as_bytes());
                if block.len() >= 64 << 10 || i + 1 == TOTAL_LINES {
                    s.write_all(&block).await.unwrap();
                    written.fetch_add(block.len() as u64, Ordering::Relaxed);
                    block.clear();
                }
            }
            s.shutdown().await.unwrap();
        }
    });
    // Wait until the producer makes no progress for half a second.
    let mut last = 0;
    let mut still = Duration::ZERO;
    let deadline = Instant::now() + PATIENCE;
    while still < Duration::from_millis(500) {
        assert!(Instant::now() < deadline, "the producer never stalled");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = written.load(Ordering::Relaxed);
        if now == last {
            still += Duration::from_millis(50);
        } else {
            (last, still) = (now, Duration::ZERO);
        }
    }
    let total = (LINE * TOTAL_LINES) as u64;
    assert!(last > 0, "the producer wrote something");
    // Kernel socket buffers on loopback may grow to tens of MiB; the source
    // itself holds at most a chunk in the channel and one being sent.
    assert!(last < total / 2, "stalled after {last} of {total} bytes");
    eprintln!("producer stalled after {last} bytes");
    // Drain: every line, in order.
    let mut next = 0usize;
    let mut ended = false;
    let deadline = Instant::now() + PATIENCE;
    while !ended {
        let c = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .expect("drained in time")
            .expect("open");
        assert!(c.data.len() <= SourceOptions::default().chunk_bytes + (64 << 10));
        for line in c.data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert_eq!(line.len(), LINE - 1);
            assert_eq!(
                std::str::from_utf8(line).unwrap().parse::<usize>().unwrap(),
                next
            );
            next += 1;
        }
        ended = c.end;
    }
    assert_eq!(next, TOTAL_LINES);
    producer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_sources_close_the_channel() {
    let dir = fresh_dir("stop");
    append(&dir.join("a.log"), "a\n");
    let (tx, mut rx) = mpsc::channel(16);
    let d = spawn_source(&dir_stream(&dir, ""), tx.clone(), &[]).unwrap();
    let t = spawn_source(&stream("source = 'tcp:127.0.0.1:0'"), tx.clone(), &[]).unwrap();
    let addr = t.local_addr().unwrap();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"t\n").await.unwrap();
    drop(tx);
    let mut got = Got::default();
    got.until(&mut rx, |g| {
        g.lines_named("a.log").len() == 1 && g.origins().len() == 2
    })
    .await;
    d.stop();
    drop(t);
    // Every task is gone once the channel reports its end.
    let end = tokio::time::timeout(PATIENCE, async { while rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "the channel closes once both sources stopped");
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "no longer listening");
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bad_sources_are_reported() {
    let (tx, _rx) = mpsc::channel(1);
    let missing = std::env::temp_dir().join("shoal-watch-no-such-dir");
    assert!(matches!(
        spawn_source(&dir_stream(&missing, ""), tx.clone(), &[]),
        Err(SourceError::Directory { .. })
    ));
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = stream(&format!("source = 'tcp:{}'", held.local_addr().unwrap()));
    assert!(matches!(
        spawn_source(&busy, tx.clone(), &[]),
        Err(SourceError::Listen { .. })
    ));
    let h = spawn_source(&stream("source = 'http'"), tx.clone(), &[]).unwrap();
    assert!(h.local_addr().is_none());
}

#[test]
fn sources_need_a_runtime() {
    let (tx, _rx) = mpsc::channel(1);
    assert!(matches!(
        spawn_source(&stream("source = 'tcp:127.0.0.1:0'"), tx, &[]),
        Err(SourceError::NoRuntime)
    ));
}
