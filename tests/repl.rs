//! `shoal repl` as a person uses it: the real binary in a pseudo-terminal
//! (and, for scripts, with pipes) against a real `shoal serve` process.
//!
//! Every wait is for expected text, with generous time limits, so a loaded
//! machine only makes the tests slower.

mod support;

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Server, TempDir};

/// How long any expected text may take to appear.
const WAIT: Duration = Duration::from_secs(60);

const STREAM_SQL: &str = "CREATE STREAM t (ts BIGINT, country TEXT, lang TEXT)
    WITH (source = 'http', format = 'json', event_time = 'ts');";

/// `s` without ANSI escape sequences, with `\r\n` as `\n`.
fn strip(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            c => out.push(c),
        }
    }
    out
}

/// The REPL in a pseudo-terminal; everything it writes is collected by a
/// reader thread.
struct Repl {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    _master: Box<dyn MasterPty + Send>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// Where in the stripped output the next `expect` starts looking.
    mark: usize,
}

impl Repl {
    fn start(server: &str, history: &Path) -> Repl {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_shoal"));
        cmd.args(["repl", "--server", server]);
        cmd.env("TERM", "xterm-256color");
        cmd.env("SHOAL_HISTORY", history);
        cmd.env_remove("NO_COLOR");
        let child = pty.slave.spawn_command(cmd).expect("start shoal repl");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let raw = Arc::new(Mutex::new(Vec::new()));
        let sink = raw.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Repl {
            child,
            writer,
            _master: pty.master,
            raw,
            mark: 0,
        }
    }

    /// Everything written so far, as text with escapes.
    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// Types `keys`.
    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("type");
        self.writer.flush().expect("flush");
    }

    /// Waits until the output after the mark satisfies `found` (which
    /// returns where the awaited text ends); moves the mark there and
    /// returns the output from the old mark to it.
    fn expect_with(&mut self, what: &str, found: impl Fn(&str) -> Option<usize>) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = strip(&self.raw());
            let tail = &text[self.mark.min(text.len())..];
            if let Some(end) = found(tail) {
                let seen = tail[..end].to_string();
                self.mark += end;
                return seen;
            }
            if Instant::now() > deadline {
                panic!("waited {WAIT:?} for {what}; the terminal showed after the mark:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for `needle` after the mark.
    fn expect(&mut self, needle: &str) -> String {
        self.expect_with(&format!("{needle:?}"), |t| {
            t.find(needle).map(|i| i + needle.len())
        })
    }

    /// Waits until the latest drawing (after the mark) of a table whose
    /// title contains `title` has rows that start with `rows` (cells split
    /// on white space), in this order. Returns the text from that title on;
    /// the mark stays (tables are redrawn over each other).
    fn expect_table(&mut self, title: &str, rows: &[&[&str]]) -> String {
        let what = format!("a table {title:?} with rows {rows:?}");
        let mark = self.mark;
        let seen = self.expect_with(&what, |t| {
            let start = t.rfind(title)?;
            let lines: Vec<Vec<&str>> = t[start..]
                .lines()
                .map(|l| l.split_whitespace().collect())
                .collect();
            let mut at = 0;
            for want in rows {
                at += lines[at..].iter().position(|l| l.starts_with(want))? + 1;
            }
            Some(t.len())
        });
        self.mark = mark;
        let start = seen.rfind(title).expect("found");
        seen[start..].to_string()
    }

    /// Waits for the process to end; its exit code.
    fn exit_code(&mut self) -> u32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.exit_code();
            }
            assert!(Instant::now() < deadline, "the REPL did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Records of `t`: (event time in ms, country).
fn records(rows: &[(i64, &str)]) -> String {
    rows.iter()
        .map(|(ts, c)| format!("{{\"ts\":{ts},\"country\":\"{c}\",\"lang\":\"en\"}}\n"))
        .collect()
}

#[test]
fn a_terminal_session_with_a_mistake_a_query_a_live_table_and_history() {
    let dir = TempDir::new("repl-pty");
    std::fs::write(dir.join("t.sql"), STREAM_SQL).unwrap();
    let server = Server::start(&["t.sql"], &dir.0);
    let rt = runtime();
    let history = dir.join("history");
    let mut r = Repl::start(&server.base, &history);
    r.expect("connected to");
    r.expect("shoal> ");

    // A statement over two lines with a misspelled FROM on the second.
    r.send("CREATE QUERY by_country AS SELECT country, count(*) AS n\r");
    r.send("FORM t GROUP BY country WINDOW TUMBLING 10s ORDER BY n DESC;\r");
    let shown = r.expect_with("the caret line", |t| {
        let i = t.find('^')?;
        Some(i + t[i..].find('\n')?)
    });
    let lines: Vec<&str> = shown.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("2 | FORM t GROUP BY"))
        .unwrap_or_else(|| panic!("no source line in:\n{shown}"));
    assert!(
        lines[i - 1].starts_with("error: line 2, column 1:"),
        "{shown}"
    );
    let caret_line = lines[i + 1];
    assert_eq!(
        caret_line.find('^'),
        lines[i].find("FORM"),
        "caret under FORM:\n{shown}"
    );
    assert_eq!(caret_line.trim(), "^^^^", "{shown}");
    // In colour on a terminal: the carets are bold red.
    assert!(r.raw().contains("\x1b[1;31m^^^^\x1b[0m"));

    // Fixed, it registers.
    r.send("CREATE QUERY by_country AS SELECT country, count(*) AS n\r");
    r.send("FROM t GROUP BY country WINDOW TUMBLING 10s ORDER BY n DESC;\r");
    r.expect("created query by_country on t");
    r.expect("shoal> ");

    // Tab completes the query's name.
    r.send("\\watch by_c");
    r.expect("by_c");
    r.send("\t");
    r.expect("ountry"); // only "by_c" was typed
    r.send("\r");
    r.expect("waiting for results");

    // The first window closes: its rows appear, most first.
    rt.block_on(server.ingest(
        "t",
        &records(&[
            (1000, "US"),
            (2000, "US"),
            (3000, "FR"),
            (4000, "US"),
            (15_000, "DE"),
        ]),
    ));
    r.expect_table(
        "window 1970-01-01 00:00:00–00:00:10 UTC · final · 2 groups",
        &[&["country", "n"], &["US", "3"], &["FR", "1"]],
    );
    // The next one replaces it in place.
    rt.block_on(server.ingest(
        "t",
        &records(&[(16_000, "FR"), (17_000, "FR"), (25_000, "US")]),
    ));
    let drawn = r.expect_table(
        "window 1970-01-01 00:00:10–00:00:20 UTC · final · 2 groups",
        &[&["country", "n"], &["FR", "2"], &["DE", "1"]],
    );
    assert!(!drawn.contains("US       3"), "the old window is gone");
    assert!(r.raw().contains("\x1b[J"), "redrawn in place");

    // Ctrl-C stops watching, not the REPL.
    r.send("\x03");
    r.expect("stopped");
    r.expect("shoal> ");
    r.send("\\queries\r");
    r.expect_table("name", &[&["by_country", "t", "aggregate", "8", "8"]]);
    r.expect("shoal> ");
    r.send("\\quit\r");
    assert_eq!(r.exit_code(), 0);
    drop(r);

    // History persists: a new session recalls the last entries.
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("\\watch by_country"), "{saved}");
    assert!(saved.contains("ORDER BY n DESC;"), "{saved}");
    let mut r = Repl::start(&server.base, &history);
    r.expect("shoal> ");
    r.send("\x1b[A\x1b[A");
    r.expect("\\queries");
    r.send("\r");
    r.expect("by_country");
    r.expect("shoal> ");
    r.send("\x04"); // Ctrl-D on an empty line leaves
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn several_queries_watched_at_once_and_one_dropped_meanwhile() {
    let dir = TempDir::new("repl-multi");
    std::fs::write(dir.join("t.sql"), STREAM_SQL).unwrap();
    let server = Server::start(&["t.sql"], &dir.0);
    let rt = runtime();
    rt.block_on(server.sql_ok(
        "CREATE QUERY totals AS SELECT lang, count(*) AS n FROM t GROUP BY lang EMIT EVERY 1s;
         CREATE QUERY us AS SELECT ts, country FROM t WHERE country = 'US';",
    ));
    let mut r = Repl::start(&server.base, &dir.join("history"));
    r.expect("shoal> ");
    r.send("\\watch totals us\r");
    r.expect("watching totals, us");
    rt.block_on(server.ingest("t", &records(&[(1000, "US"), (2000, "FR"), (3000, "US")])));
    r.expect_table(
        "us · last 2 of 2 rows",
        &[&["ts", "country"], &["1000", "US"], &["3000", "US"]],
    );
    r.expect_table(
        "totals · running totals · 1 group",
        &[&["lang", "n"], &["en", "3"]],
    );
    // Running totals update in place.
    rt.block_on(server.ingest("t", &records(&[(4000, "DE")])));
    r.expect_table(
        "totals · running totals · 1 group",
        &[&["lang", "n"], &["en", "4"]],
    );
    // Dropping one query ends its table; the other goes on.
    rt.block_on(server.sql_ok("DROP QUERY us;"));
    r.expect("ended: query dropped");
    rt.block_on(server.ingest("t", &records(&[(5000, "US")])));
    r.expect_table(
        "totals · running totals · 1 group",
        &[&["lang", "n"], &["en", "5"]],
    );
    r.send("\x03");
    r.expect("shoal> ");
    r.send("\\quit\r");
    assert_eq!(r.exit_code(), 0);
}

/// Runs `shoal repl --server BASE ARGS` with `stdin`; (exit code, stdout, stderr).
fn script(base: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["repl", "--server", base])
        .args(args)
        .env("SHOAL_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shoal repl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn dash_c_runs_statements_and_meta_commands_and_fails_on_an_error() {
    let dir = TempDir::new("repl-c");
    std::fs::write(dir.join("t.sql"), STREAM_SQL).unwrap();
    let server = Server::start(&["t.sql"], &dir.0);
    let rt = runtime();

    let (code, out, err) = script(
        &server.base,
        &[
            "-c",
            "CREATE QUERY en AS SELECT * FROM t WHERE lang = 'en';",
            "-c",
            "\\queries",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created query en on t"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(3).eq(["en", "t", "filter"])),
        "{out}"
    );
    let (status, _) = rt.block_on(server.get("/v1/queries/en"));
    assert_eq!(status, 200);

    // An error: the message, the line and a caret under the token, no colour
    // (not a terminal), exit status 1.
    let sql = "CREATE QUERY bad AS SELECT nope FROM t;";
    let (code, _, err) = script(&server.base, &["-c", sql], "");
    assert_eq!(code, 1);
    assert!(!err.contains('\x1b'), "{err:?}");
    let lines: Vec<&str> = err.lines().collect();
    let col = sql.find("nope").unwrap();
    assert!(
        lines[0].starts_with(&format!("error: line 1, column {}: ", col + 1)),
        "{err}"
    );
    assert!(lines[0].contains("nope"), "{err}");
    assert_eq!(lines[1], format!("1 | {sql}"));
    assert_eq!(lines[2], format!("{}^^^^", " ".repeat(4 + col)));
    let (status, _) = rt.block_on(server.get("/v1/queries/bad"));
    assert_eq!(status, 404);

    // Unknown meta-commands and names fail too.
    let (code, _, err) = script(&server.base, &["-c", "\\frob"], "");
    assert_eq!(
        (code, err.trim()),
        (1, "error: unknown command `\\frob`; \\help lists them")
    );
    let (code, _, err) = script(&server.base, &["-c", "\\watch nope"], "");
    assert_eq!((code, err.trim()), (1, "error: no query named `nope`"));
    let (code, _, err) = script(&server.base, &["-c", "\\drop nope"], "");
    assert_eq!(
        (code, err.trim()),
        (1, "error: no query or stream named `nope`")
    );
    let (code, out, err) = script(&server.base, &["-c", "\\drop en"], "");
    assert_eq!((code, out.trim()), (0, "dropped query en"), "{err}");
}

#[test]
fn scripts_on_standard_input_stop_at_the_first_error() {
    let dir = TempDir::new("repl-stdin");
    let server = Server::start(&[], &dir.0);
    let rt = runtime();
    let ok = format!(
        "{STREAM_SQL}\n\
         -- a comment; with a semicolon\n\
         CREATE QUERY a AS SELECT country, count(*) AS n FROM t GROUP BY country;\n\
         \\streams\n\
         \\explain a\n"
    );
    let (code, out, err) = script(&server.base, &[], &ok);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("created stream t\ncreated query a on t\n"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(3).eq(["t", "http", "json"])),
        "{out}"
    );
    assert!(out.contains("query a on t: SELECT country"), "{out}");

    // The error is on line 4 of the script; line numbers count from its top.
    let bad = "CREATE QUERY b AS SELECT * FROM t;\n\
               \\queries\n\
               CREATE QUERY c AS\n  SELECT * FROM t WHERE lang = 5 AND;\n\
               CREATE QUERY d AS SELECT * FROM t;\n";
    let (code, out, err) = script(&server.base, &[], bad);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("created query b on t"), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("error: line 4, column "), "{err}");
    assert_eq!(lines[1], "4 |   SELECT * FROM t WHERE lang = 5 AND;");
    for (name, status) in [("b", 200), ("c", 404), ("d", 404)] {
        let (s, _) = rt.block_on(server.get(&format!("/v1/queries/{name}")));
        assert_eq!(s, status, "query {name}");
    }

    // `\quit` ends a script early and well.
    let (code, out, _) = script(&server.base, &[], "\\quit\nDROP QUERY a;\n");
    assert_eq!((code, out.as_str()), (0, ""));
    let (s, _) = rt.block_on(server.get("/v1/queries/a"));
    assert_eq!(s, 200);
}

#[test]
fn an_unreachable_server_is_exit_status_2() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, err) = script(
        &format!("http://127.0.0.1:{port}"),
        &["-c", "\\streams"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach the server"), "{err}");
    let (code, _, err) = script("ftp://x", &["-c", "\\streams"], "");
    assert_ne!(code, 0);
    assert!(err.contains("bad server address"), "{err}");
}
