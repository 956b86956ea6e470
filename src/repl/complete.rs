//! Tab completion and multi-line entry for the line editor.
//!
//! Completion looks at the words before the cursor: after `FROM`,
//! `DROP STREAM` and `EXPLAIN` it offers stream names; after `DROP QUERY`,
//! query names; after `\watch`, `\drop` and `\explain`, query (and stream)
//! names; at a line's `\`, the meta-commands; elsewhere keywords, aggregate
//! functions and the fields of the statement's stream (of every stream when
//! the statement names none yet). Names come from the server's catalog,
//! fetched again when older than [`STALE`]. Keywords follow the case of what
//! was typed (`sel` → `select`, `SEL` → `SELECT`).

use super::catalog::Catalog;
use super::input::{split, Item};
use super::meta::COMMANDS;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How old the catalog may be before a completion fetches it again.
pub const STALE: Duration = Duration::from_secs(1);

/// Words of the language, as completion offers them.
pub const KEYWORDS: &[&str] = &[
    "AND",
    "AS",
    "ASC",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "CONTAINS",
    "CREATE",
    "DESC",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "EMIT",
    "EVERY",
    "EXPLAIN",
    "FALSE",
    "FROM",
    "GROUP",
    "HAVING",
    "IN",
    "IS",
    "LIMIT",
    "MATCHES",
    "NOT",
    "NULL",
    "OR",
    "ORDER",
    "QUERY",
    "SELECT",
    "SLIDING",
    "STREAM",
    "TEXT",
    "TIMESTAMP",
    "TRUE",
    "TUMBLING",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// Aggregate functions.
pub const FUNCTIONS: &[&str] = &["avg", "count", "max", "min", "sum"];

/// Candidates for the word ending at `pos` in `line`: where the word
/// starts, and the replacements, sorted.
pub fn candidates(line: &str, pos: usize, catalog: &Catalog) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let s = split(before);
    // A meta-command on the cursor's line.
    if let Some(Item::Meta { offset, .. }) = s.items.last() {
        let text = &before[*offset..];
        if !text.contains('\n') && s.open_statement.is_none() {
            return meta_candidates(text, *offset, catalog);
        }
    }
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map_or(pos, |(i, _)| i);
    let prefix = &before[start..];
    let stmt_start = s.open_statement.unwrap_or(start).min(start);
    let words: Vec<String> = tokens(&before[stmt_start..start]);
    let last = |n: usize| -> &str { words.len().checked_sub(n).map_or("", |i| words[i].as_str()) };
    let streams = || catalog.streams.iter().map(|s| s.name.clone());
    let queries = || catalog.queries.iter().map(|q| q.name.clone());
    let names: Vec<String> = match (last(2), last(1)) {
        (_, "FROM") | ("DROP", "STREAM") | (_, "EXPLAIN") => streams().collect(),
        ("DROP", "QUERY") => queries().collect(),
        ("CREATE", "STREAM") | ("CREATE", "QUERY") => Vec::new(), // a new name
        _ => {
            // The rest of the statement, to find the stream it reads.
            let rest_end = line[pos..].find(';').map_or(line.len(), |i| pos + i);
            let stmt = tokens(&line[stmt_start..rest_end]);
            let creating_stream = stmt.len() >= 2 && stmt[0] == "CREATE" && stmt[1] == "STREAM";
            let from = stmt
                .iter()
                .position(|w| w == "FROM")
                .and_then(|i| raw_words(&line[stmt_start..rest_end]).get(i + 1).cloned());
            let mut out: Vec<String> = keyword_candidates(prefix);
            if !creating_stream {
                out.extend(FUNCTIONS.iter().map(|f| f.to_string()));
                match from.as_deref().and_then(|f| catalog.stream(f)) {
                    Some(st) => out.extend(st.fields.iter().cloned()),
                    None => {
                        for st in &catalog.streams {
                            out.extend(st.fields.iter().cloned());
                        }
                    }
                }
            }
            out
        }
    };
    (start, matching(names, prefix))
}

/// Keywords in the case of `prefix`.
fn keyword_candidates(prefix: &str) -> Vec<String> {
    let lower = !prefix.is_empty() && !prefix.chars().any(|c| c.is_uppercase());
    KEYWORDS
        .iter()
        .map(|k| {
            if lower {
                k.to_ascii_lowercase()
            } else {
                k.to_string()
            }
        })
        .collect()
}

/// Completion of a meta-command line `text` starting at `offset`.
fn meta_candidates(text: &str, offset: usize, catalog: &Catalog) -> (usize, Vec<String>) {
    let Some(space) = text.rfind(|c: char| c.is_whitespace() || c == ',') else {
        let cmds = COMMANDS.iter().map(|c| c.to_string()).collect();
        return (offset, matching(cmds, text));
    };
    let cmd = text.split_whitespace().next().unwrap_or("");
    let prefix = &text[space + 1..];
    let queries = catalog.queries.iter().map(|q| q.name.clone());
    let streams = catalog.streams.iter().map(|s| s.name.clone());
    let names: Vec<String> = match cmd {
        "\\watch" => queries.collect(),
        "\\drop" | "\\explain" => queries.chain(streams).collect(),
        _ => Vec::new(),
    };
    (offset + space + 1, matching(names, prefix))
}

/// The candidates that start with `prefix` (ignoring case), sorted and
/// without repeats.
fn matching(mut names: Vec<String>, prefix: &str) -> Vec<String> {
    let p = prefix.to_lowercase();
    names.retain(|n| n.to_lowercase().starts_with(&p));
    names.sort();
    names.dedup();
    names
}

/// The words of `text` (upper-cased), one `(` `)` `,` … per punctuation
/// mark; string literals and comments are skipped.
fn tokens(text: &str) -> Vec<String> {
    raw_words(text)
        .into_iter()
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// Like [`tokens`] but as written.
fn raw_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(text[i..end].to_string());
        } else if c == '\'' {
            for (_, d) in chars.by_ref() {
                if d == '\'' {
                    break;
                }
            }
            out.push("'".to_string());
        } else if c == '"' {
            let mut name = String::new();
            for (_, d) in chars.by_ref() {
                if d == '"' {
                    break;
                }
                name.push(d);
            }
            out.push(name);
        } else if c == '-' && chars.peek().is_some_and(|&(_, d)| d == '-') {
            for (_, d) in chars.by_ref() {
                if d == '\n' {
                    break;
                }
            }
        } else if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    out
}

/// Fetches the catalog from the server; `None` when it cannot be had.
pub type Fetch = Box<dyn Fn() -> Option<Catalog>>;

/// The catalog completion works from, and when it was fetched.
pub struct CatalogCache {
    /// The catalog.
    pub catalog: Catalog,
    /// When it was fetched; `None` forces the next completion to fetch it.
    pub fetched: Option<Instant>,
}

/// The line editor's helper: completion and multi-line statements.
pub struct ReplHelper {
    cache: Arc<Mutex<CatalogCache>>,
    fetch: Fetch,
}

impl ReplHelper {
    /// A helper over a shared cache, refreshed with `fetch`.
    pub fn new(cache: Arc<Mutex<CatalogCache>>, fetch: Fetch) -> ReplHelper {
        ReplHelper { cache, fetch }
    }
}

impl Completer for ReplHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.fetched.is_none_or(|t| t.elapsed() >= STALE) {
            if let Some(c) = (self.fetch)() {
                cache.catalog = c;
            }
            cache.fetched = Some(Instant::now());
        }
        Ok(candidates(line, pos, &cache.catalog))
    }
}

impl Validator for ReplHelper {
    /// An entry is complete when it does not end inside a statement: Enter
    /// in the middle of one starts a new line.
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        if split(ctx.input()).pending {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::catalog::{QueryEntry, StreamEntry};

    fn catalog() -> Catalog {
        Catalog {
            streams: vec![
                StreamEntry {
                    name: "tweets".into(),
                    fields: vec!["country".into(), "lang".into(), "ts".into()],
                },
                StreamEntry {
                    name: "logs".into(),
                    fields: vec!["host".into(), "level".into()],
                },
            ],
            queries: vec![
                QueryEntry {
                    name: "by_country".into(),
                    stream: "tweets".into(),
                    shape: None,
                },
                QueryEntry {
                    name: "by_host".into(),
                    stream: "logs".into(),
                    shape: None,
                },
            ],
        }
    }

    fn complete(line: &str) -> (usize, Vec<String>) {
        candidates(line, line.len(), &catalog())
    }

    #[test]
    fn meta_commands_and_their_names() {
        assert_eq!(complete("\\w"), (0, vec!["\\watch".to_string()]));
        assert_eq!(
            complete("\\q"),
            (0, vec!["\\queries".into(), "\\quit".into()])
        );
        assert_eq!(complete("\\watch by_c"), (7, vec!["by_country".into()]));
        assert_eq!(
            complete("\\watch by_country b"),
            (18, vec!["by_country".into(), "by_host".into()])
        );
        assert_eq!(complete("\\drop t"), (6, vec!["tweets".into()]));
        // A meta-command after a finished statement on the same line.
        assert_eq!(
            complete("DROP QUERY a; \\watch by_h"),
            (21, vec!["by_host".into()])
        );
    }

    #[test]
    fn names_after_from_drop_and_explain() {
        assert_eq!(complete("SELECT x FROM tw").1, ["tweets"]);
        assert_eq!(complete("drop query by_").1, ["by_country", "by_host"]);
        assert_eq!(complete("DROP STREAM l").1, ["logs"]);
        assert_eq!(complete("EXPLAIN ").1, ["logs", "tweets"]);
        assert!(complete("CREATE QUERY by").1.is_empty());
    }

    #[test]
    fn fields_of_the_statement_stream_and_keywords_in_the_typed_case() {
        // The stream named later in the statement decides the fields.
        let line = "CREATE QUERY q AS SELECT co FROM tweets;";
        let pos = line.find(" FROM").unwrap();
        let (start, c) = candidates(line, pos, &catalog());
        assert_eq!(start, pos - 2);
        assert_eq!(c, ["contains", "count", "country"]);
        assert_eq!(complete("SELECT * FROM logs WHERE le").1, ["level"]);
        // Without a FROM yet, every stream's fields.
        assert_eq!(complete("SELECT l").1, ["lang", "level", "limit"]);
        assert_eq!(complete("SELECT L").1, ["LIMIT", "lang", "level"]);
        assert_eq!(complete("sel").1, ["select"]);
        assert_eq!(complete("SEL").1, ["SELECT"]);
        assert_eq!(
            complete("SELECT x FROM tweets GROUP BY x WINDOW TU").1,
            ["TUMBLING"]
        );
        // Multi-line entries: the earlier statement does not count.
        assert_eq!(
            complete("SELECT a FROM logs;\nSELECT x FROM tweets WHERE c").1,
            ["contains", "count", "country", "create"]
        );
    }

    #[test]
    fn words_skip_strings_and_comments() {
        assert_eq!(
            tokens("select 'from x' -- FROM y\n\"From\" (a)"),
            ["SELECT", "'", "FROM", "(", "A", ")"]
        );
    }
}
