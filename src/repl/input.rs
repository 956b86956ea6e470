//! Cutting typed or piped text into what the REPL runs: runs of SQL
//! statements (sent to the server together) and meta-commands (`\watch …`).
//!
//! A statement ends at a `;` outside string literals (`'…'`), quoted
//! identifiers (`"…"`) and comments (`-- …`, `/* … */`). A meta-command is a
//! line, or the rest of a line, that starts with `\` where a statement could
//! start; it ends at the end of its line.

/// One thing to run, pointing into the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// One or more consecutive statements, sent to the server in one request
    /// (so a script's queries rebuild each plan once).
    Sql {
        /// The statements' text, from the first token to the last `;`.
        text: &'a str,
        /// Byte offset of `text` in the source.
        offset: usize,
    },
    /// A meta-command line, from its `\` to the end of the line.
    Meta {
        /// The command text, without the line end.
        text: &'a str,
        /// Byte offset of `text` in the source.
        offset: usize,
    },
}

/// The items of a source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// What to run, in order.
    pub items: Vec<Item<'a>>,
    /// True when the text ends inside a statement (no final `;`), a string,
    /// a quoted name or a block comment: interactively, more lines are needed.
    pub pending: bool,
    /// Where the last, unfinished statement starts, if the text ends inside one.
    pub open_statement: Option<usize>,
}

/// Cuts `src` into items.
pub fn split(src: &str) -> Split<'_> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut chunk: Option<(usize, usize)> = None; // (start, end after last `;`)
    let mut at_boundary = true;
    let mut pending = false;
    let mut statement_start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() && at_boundary {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match memchr::memmem::find(&b[i + 2..], b"*/") {
                Some(n) => i = i + 2 + n + 2,
                None => {
                    pending = true;
                    i = b.len();
                }
            }
            continue;
        }
        if at_boundary && c == b'\\' {
            close_chunk(src, &mut chunk, &mut items);
            let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            let text = src[i..end].trim_end();
            items.push(Item::Meta { text, offset: i });
            i = end;
            continue;
        }
        if at_boundary {
            at_boundary = false;
            statement_start = i;
            if chunk.is_none() {
                chunk = Some((i, i));
            }
        }
        match c {
            b'\'' | b'"' => match memchr::memchr(c, &b[i + 1..]) {
                Some(n) => i = i + 1 + n + 1,
                None => {
                    pending = true;
                    i = b.len();
                }
            },
            b';' => {
                at_boundary = true;
                i += 1;
                if let Some((_, e)) = chunk.as_mut() {
                    *e = i;
                }
            }
            _ => i += 1,
        }
    }
    let open_statement = (!at_boundary).then_some(statement_start);
    if !at_boundary {
        pending = true;
        if let Some((_, e)) = chunk.as_mut() {
            *e = src.trim_end().len().max(*e);
        }
    }
    close_chunk(src, &mut chunk, &mut items);
    Split {
        items,
        pending,
        open_statement,
    }
}

/// Ends the current run of statements, if any, as an item.
fn close_chunk<'a>(src: &'a str, chunk: &mut Option<(usize, usize)>, items: &mut Vec<Item<'a>>) {
    if let Some((s, e)) = chunk.take() {
        if e > s {
            items.push(Item::Sql {
                text: &src[s..e],
                offset: s,
            });
        }
    }
}

/// The 0-based line number of byte `offset` in `src`.
pub fn line_of(src: &str, offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &src.as_bytes()[..offset.min(src.len())]).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        split(src)
            .items
            .iter()
            .map(|i| match i {
                Item::Sql { text, offset } => {
                    assert_eq!(&src[*offset..*offset + text.len()], *text);
                    format!("sql:{text}")
                }
                Item::Meta { text, offset } => {
                    assert_eq!(&src[*offset..*offset + text.len()], *text);
                    format!("meta:{text}")
                }
            })
            .collect()
    }

    #[test]
    fn statements_run_together_until_a_meta_command() {
        let src =
            "CREATE STREAM t;\n  CREATE QUERY q AS SELECT * FROM t;\n\\queries\nDROP QUERY q;";
        assert_eq!(
            texts(src),
            [
                "sql:CREATE STREAM t;\n  CREATE QUERY q AS SELECT * FROM t;",
                "meta:\\queries",
                "sql:DROP QUERY q;"
            ]
        );
        assert!(!split(src).pending);
    }

    #[test]
    fn semicolons_in_strings_names_and_comments_do_not_end_statements() {
        let src = "SELECT ';' AS \"a;b\" -- x;\n /* ; */ FROM t;";
        assert_eq!(texts(src), [format!("sql:{src}")]);
        assert!(!split(src).pending);
    }

    #[test]
    fn unfinished_input_is_pending() {
        assert!(split("CREATE QUERY q AS").pending);
        assert!(split("SELECT 'abc;").pending);
        assert!(split("SELECT 1; /* open").pending);
        assert!(!split("SELECT 1; -- done").pending);
        assert!(!split("   ").pending);
        assert!(!split("\\watch q").pending);
        assert_eq!(split("DROP QUERY a; SELECT x").open_statement, Some(14));
        assert_eq!(split("DROP QUERY a;").open_statement, None);
        // The unfinished statement is still an item (a script's last `;` is optional).
        assert_eq!(texts("DROP QUERY q  \n"), ["sql:DROP QUERY q"]);
    }

    #[test]
    fn meta_commands_may_follow_a_statement_on_its_line() {
        assert_eq!(
            texts("DROP QUERY q; \\streams  \n\\watch a b"),
            ["sql:DROP QUERY q;", "meta:\\streams", "meta:\\watch a b"]
        );
        // A backslash inside a statement is the statement's.
        assert_eq!(texts("SELECT x\n\\foo;"), ["sql:SELECT x\n\\foo;"]);
    }

    #[test]
    fn lines_are_counted_from_zero() {
        assert_eq!(line_of("a\nb\nc", 0), 0);
        assert_eq!(line_of("a\nb\nc", 2), 1);
        assert_eq!(line_of("a\nb\nc", 99), 2);
    }
}
