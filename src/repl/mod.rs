//! `shoal repl`: an interactive client of a running `shoal serve`.
//!
//! - [`input`]: cutting text into statements and meta-commands.
//! - [`client`]: the HTTP API and the `/v1/live` websocket.
//! - [`catalog`]: the server's streams and queries, read with Shoal's own
//!   parser and planner (names, fields, result columns and order).
//! - [`complete`]: tab completion and multi-line entry for the line editor.
//! - [`meta`]: the `\` commands.
//! - [`watch`]: live results as tables redrawn in place.
//! - [`table`], [`report`], [`term`]: text tables, messages with carets,
//!   colours and the terminal.
//!
//! Interactive when standard input is a terminal and no `-c` is given;
//! otherwise the text (the `-c` arguments in turn, or all of standard input)
//! is run as a script that stops at the first error, with exit status 1
//! (2 when the server cannot be reached).

pub mod catalog;
pub mod client;
pub mod complete;
pub mod input;
pub mod meta;
pub mod report;
pub mod table;
pub mod term;
pub mod watch;

use catalog::Catalog;
use client::{Client, ClientError, Outcome};
use complete::{CatalogCache, ReplHelper};
use input::{split, Item};
use meta::Meta;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use table::{Cell, Table};
use term::Style;

/// How to run the REPL.
#[derive(Clone, Debug)]
pub struct ReplOptions {
    /// The server's base URL, e.g. `http://127.0.0.1:7878`.
    pub server: String,
    /// Text to run instead of reading input (`-c`), in order.
    pub commands: Vec<String>,
}

/// The prompt.
pub const PROMPT: &str = "shoal> ";

/// How long listing requests of `\` commands and completion may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long completion waits for the server before using what it has.
const COMPLETION_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why the REPL could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplError {
    /// A bad server address.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The line editor failed.
    #[error("line editor: {0}")]
    Readline(#[from] ReadlineError),
    /// Reading standard input or starting the runtime failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the REPL; returns the process exit status.
pub fn run(opts: &ReplOptions) -> Result<i32, ReplError> {
    let client = Client::new(&opts.server)?;
    let rt = Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
    );
    let interactive = opts.commands.is_empty() && term::stdin_is_tty();
    let mut session = Session {
        client,
        rt,
        out: Style::detect(term::stdout_is_tty()),
        err: Style::detect(term::stderr_is_tty()),
        sigint: None,
        cache: Arc::new(Mutex::new(CatalogCache {
            catalog: Catalog::default(),
            fetched: None,
        })),
    };
    if interactive {
        return session.interactive();
    }
    let sources = if opts.commands.is_empty() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        vec![text]
    } else {
        opts.commands.clone()
    };
    for src in &sources {
        match session.run_source(src) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => return Ok(0),
            Err(Failed(code)) => return Ok(code),
        }
    }
    Ok(0)
}

/// Whether to go on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// A command failed (the error is already printed); the exit status a
/// script ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Failed(i32);

/// The exit status for a client error: 2 when the server is out of reach.
fn exit_code(e: &ClientError) -> i32 {
    match e {
        ClientError::Unreachable { .. } => 2,
        _ => 1,
    }
}

/// One REPL: a client, its runtime and how output looks.
struct Session {
    client: Client,
    rt: Arc<tokio::runtime::Runtime>,
    /// Decoration of standard output.
    out: Style,
    /// Decoration of standard error.
    err: Style,
    /// Ctrl-C, caught from the first `\watch` on (interactively, from the
    /// start) so that it stops the watch instead of the process.
    sigint: Option<tokio::signal::unix::Signal>,
    /// The catalog completion uses; emptied of its age after each entry.
    cache: Arc<Mutex<CatalogCache>>,
}

/// The catalog from the server's listings, waiting at most `timeout`.
async fn fetch_catalog(client: &Client, timeout: Duration) -> Result<Catalog, ClientError> {
    let (streams, queries) = tokio::try_join!(client.streams(timeout), client.queries(timeout))?;
    Ok(Catalog::from_listing(&streams, &queries))
}

/// Where history is kept: `$SHOAL_HISTORY` (empty: no history), else
/// `$XDG_STATE_HOME/shoal/history`, else `~/.shoal_history`.
pub fn history_path() -> Option<PathBuf> {
    let nonempty = |v: std::ffi::OsString| (!v.is_empty()).then_some(v);
    if let Some(v) = std::env::var_os("SHOAL_HISTORY") {
        return nonempty(v).map(PathBuf::from);
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").and_then(nonempty) {
        return Some(PathBuf::from(state).join("shoal").join("history"));
    }
    std::env::var_os("HOME")
        .and_then(nonempty)
        .map(|h| PathBuf::from(h).join(".shoal_history"))
}

/// An identifier as statement text: always quoted, so any name works.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Session {
    /// The interactive loop.
    fn interactive(&mut self) -> Result<i32, ReplError> {
        {
            let _g = self.rt.enter();
            self.sigint =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        }
        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .max_history_size(10_000)?
            .history_ignore_dups(true)?
            .build();
        let mut rl: Editor<ReplHelper, FileHistory> = Editor::with_config(config)?;
        let (client, rt) = (self.client.clone(), self.rt.clone());
        rl.set_helper(Some(ReplHelper::new(
            self.cache.clone(),
            Box::new(move || rt.block_on(fetch_catalog(&client, COMPLETION_TIMEOUT)).ok()),
        )));
        let history = history_path();
        if let Some(p) = &history {
            let _ = rl.load_history(p);
        }
        match self.rt.block_on(self.client.health()) {
            Ok(h) => println!(
                "connected to {} ({}, {}); \\help for help",
                self.client.base(),
                count(&h["streams"], "stream"),
                count(&h["queries"], "query"),
            ),
            Err(e) => eprintln!("{}", report::error(&e.to_string(), &self.err)),
        }
        loop {
            match rl.readline(PROMPT) {
                Ok(entry) => {
                    if entry.trim().is_empty() {
                        continue;
                    }
                    let _ = rl.add_history_entry(entry.as_str());
                    if let Some(p) = &history {
                        if let Some(dir) = p.parent() {
                            let _ = std::fs::create_dir_all(dir);
                        }
                        if let Err(e) = rl.append_history(p) {
                            eprintln!(
                                "{}",
                                report::error(
                                    &format!("cannot save history to {}: {e}", p.display()),
                                    &self.err
                                )
                            );
                        }
                    }
                    let flow = self.run_source(&entry);
                    self.cache.lock().unwrap_or_else(|e| e.into_inner()).fetched = None;
                    if flow == Ok(Flow::Quit) {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(0)
    }

    /// Runs every statement and meta-command of `src`; stops at the first
    /// error.
    fn run_source(&mut self, src: &str) -> Result<Flow, Failed> {
        for item in split(src).items {
            match item {
                Item::Sql { text, offset } => self.run_sql(src, text, offset)?,
                Item::Meta { text, .. } => {
                    let cmd = match meta::parse(text) {
                        Ok(c) => c,
                        Err(msg) => {
                            eprintln!("{}", report::error(&msg, &self.err));
                            return Err(Failed(1));
                        }
                    };
                    if self.run_meta(cmd)? == Flow::Quit {
                        return Ok(Flow::Quit);
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Prints a client error; returns the failure.
    fn fail(&self, e: &ClientError) -> Failed {
        eprintln!("{}", report::error(&e.to_string(), &self.err));
        Failed(exit_code(e))
    }

    fn print_outcomes(&self, outcomes: &[Outcome]) {
        for o in outcomes {
            println!("{}", report::outcome(o, &self.out));
        }
    }

    /// Sends statements (`text`, at `offset` in `src`) to the server.
    fn run_sql(&mut self, src: &str, text: &str, offset: usize) -> Result<(), Failed> {
        match self.rt.block_on(self.client.statements(text)) {
            Ok(outcomes) => {
                self.print_outcomes(&outcomes);
                Ok(())
            }
            Err(ClientError::Statement(f)) => {
                self.print_outcomes(&f.executed);
                let at = offset + f.offset.unwrap_or(text.len()).min(text.len());
                eprintln!(
                    "{}",
                    report::statement_error(
                        src,
                        at,
                        f.token.as_deref().unwrap_or(""),
                        &f.message,
                        &self.err
                    )
                );
                Err(Failed(1))
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    fn run_meta(&mut self, cmd: Meta) -> Result<Flow, Failed> {
        let rt = self.rt.clone();
        match cmd {
            Meta::Quit => return Ok(Flow::Quit),
            Meta::Help => println!("{}", meta::HELP),
            Meta::Streams => {
                let streams = rt
                    .block_on(self.client.streams(LIST_TIMEOUT))
                    .map_err(|e| self.fail(&e))?;
                if streams.is_empty() {
                    println!("no streams");
                } else {
                    let mut t = Table::new([
                        "name",
                        "source",
                        "format",
                        "records/s",
                        "in",
                        "accepted",
                        "rejected",
                        "late",
                        "queries",
                    ]);
                    for s in &streams {
                        t.rows.push(vec![
                            Cell::text(&s.name),
                            Cell::text(s.source.as_deref().unwrap_or("-")),
                            Cell::text(s.format.as_str().unwrap_or("")),
                            Cell::number(table::format_float(s.records_per_sec)),
                            Cell::number(s.stats.records_in.to_string()),
                            Cell::number(s.stats.accepted.to_string()),
                            Cell::number(s.stats.rejected.to_string()),
                            Cell::number(s.stats.late.to_string()),
                            Cell::number(s.queries.len().to_string()),
                        ]);
                    }
                    self.print_table(&t);
                }
            }
            Meta::Queries => {
                let queries = rt
                    .block_on(self.client.queries(LIST_TIMEOUT))
                    .map_err(|e| self.fail(&e))?;
                if queries.is_empty() {
                    println!("no queries");
                } else {
                    let mut t = Table::new([
                        "name", "stream", "kind", "in", "matched", "out", "groups", "watchers",
                        "query",
                    ]);
                    for q in &queries {
                        t.rows.push(vec![
                            Cell::text(&q.name),
                            Cell::text(&q.stream),
                            Cell::text(&q.kind),
                            Cell::number(q.counters.records_in.to_string()),
                            Cell::number(q.counters.matched.to_string()),
                            Cell::number(q.counters.results_out.to_string()),
                            Cell::number(q.counters.state_groups.to_string()),
                            Cell::number(q.subscribers.to_string()),
                            Cell::text(query_body(&q.text)),
                        ]);
                    }
                    self.print_table(&t);
                }
            }
            Meta::Explain(None) => {
                let text = rt
                    .block_on(self.client.explain())
                    .map_err(|e| self.fail(&e))?;
                println!("{}", text.trim_end());
            }
            Meta::Explain(Some(name)) => {
                let detail = rt
                    .block_on(self.client.query(&name))
                    .map_err(|e| self.fail(&e))?;
                match detail {
                    Some(d) => {
                        println!(
                            "{} {} on {}: {}",
                            self.out.bold("query"),
                            d.info.name,
                            d.info.stream,
                            query_body(&d.info.text)
                        );
                        if let Some(f) = d.plan.get("filter").and_then(|f| f.as_str()) {
                            let node = d.plan.get("filter_node").and_then(|n| n.as_u64());
                            let node = node.map(|n| format!("n{n} ")).unwrap_or_default();
                            println!("{} {node}{f}", self.out.bold("its filter:"));
                        }
                        println!("{}", d.explain.trim_end());
                    }
                    None => {
                        let sql = format!("EXPLAIN {};", quote_ident(&name));
                        let outcomes =
                            rt.block_on(self.client.statements(&sql))
                                .map_err(|e| match e {
                                    ClientError::Statement(_) => self.fail(&ClientError::Api {
                                        status: 404,
                                        message: format!("no query or stream named `{name}`"),
                                    }),
                                    e => self.fail(&e),
                                })?;
                        self.print_outcomes(&outcomes);
                    }
                }
            }
            Meta::Drop(name) => {
                let r = match rt.block_on(self.client.drop("queries", &name)) {
                    Err(ClientError::Api { status: 404, .. }) => {
                        match rt.block_on(self.client.drop("streams", &name)) {
                            Err(ClientError::Api { status: 404, .. }) => Err(ClientError::Api {
                                status: 404,
                                message: format!("no query or stream named `{name}`"),
                            }),
                            r => r,
                        }
                    }
                    r => r,
                };
                let outcomes = r.map_err(|e| self.fail(&e))?;
                self.print_outcomes(&outcomes);
            }
            Meta::Watch(names) => self.watch(&names)?,
        }
        Ok(Flow::Continue)
    }

    /// Prints a table, cut to the terminal's width on a terminal.
    fn print_table(&self, t: &Table) {
        let width = term::stdout_is_tty().then(|| term::size().0);
        for line in t.render(&self.out, width) {
            println!("{line}");
        }
    }

    /// `\watch`: live tables until Ctrl-C or every query ends.
    fn watch(&mut self, names: &[String]) -> Result<(), Failed> {
        let rt = self.rt.clone();
        let catalog = rt
            .block_on(fetch_catalog(&self.client, LIST_TIMEOUT))
            .unwrap_or_default();
        let mut views: Vec<watch::View> = names
            .iter()
            .map(|n| watch::View::new(n.clone(), catalog.query(n).and_then(|q| q.shape.clone())))
            .collect();
        if self.sigint.is_none() {
            let _g = rt.enter();
            self.sigint =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        }
        let client = self.client.clone();
        let style = self.out;
        let sigint = self.sigint.as_mut();
        let result = rt.block_on(async move {
            let mut feed = client.live(names).await?;
            // A Ctrl-C from before the watch must not end it at once.
            let mut sigint = sigint;
            if let Some(s) = sigint.as_deref_mut() {
                while tokio::time::timeout(Duration::ZERO, s.recv()).await.is_ok() {}
            }
            let interrupt = async move {
                match sigint {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let in_place = term::stdout_is_tty();
            let quiet = term::QuietInput::new();
            let mut screen = watch::Screen::new(std::io::stdout(), in_place, style);
            let end = watch::run(&mut feed, &mut views, &mut screen, interrupt).await;
            drop(quiet);
            feed.close().await;
            Ok::<_, ClientError>(end)
        });
        match result {
            Ok(Ok(watch::WatchEnd::Lost(reason))) => Err(self.fail(&ClientError::Unreachable {
                base: self.client.base().to_string(),
                reason,
            })),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                eprintln!(
                    "{}",
                    report::error(&format!("writing the table: {e}"), &self.err)
                );
                Err(Failed(1))
            }
            Err(e) => Err(self.fail(&e)),
        }
    }
}

/// `n things`, from a JSON count.
fn count(v: &serde_json::Value, thing: &str) -> String {
    let n = v.as_u64().unwrap_or(0);
    match (n, thing) {
        (1, _) => format!("1 {thing}"),
        (_, "query") => format!("{n} queries"),
        _ => format!("{n} {thing}s"),
    }
}

/// The `SELECT …` part of a `CREATE QUERY` text, on one line.
fn query_body(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let upper = flat.to_ascii_uppercase();
    match upper.find(" AS SELECT ") {
        Some(i) => flat[i + 4..].to_string(),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bodies_and_counts() {
        assert_eq!(
            query_body("CREATE QUERY q AS\n  SELECT *   FROM t"),
            "SELECT * FROM t"
        );
        assert_eq!(query_body("odd"), "odd");
        assert_eq!(count(&serde_json::json!(2), "query"), "2 queries");
        assert_eq!(count(&serde_json::json!(1), "stream"), "1 stream");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
