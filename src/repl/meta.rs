//! Meta-commands: lines starting with `\` that the REPL runs itself.

/// A parsed meta-command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meta {
    /// `\streams`: streams with their rates and counters.
    Streams,
    /// `\queries`: queries with their counters.
    Queries,
    /// `\explain [NAME]`: the shared plans, one stream's, or a query's part.
    Explain(Option<String>),
    /// `\drop NAME`: drop a query (or, when no query has that name, a stream).
    Drop(String),
    /// `\watch NAME…`: live results.
    Watch(Vec<String>),
    /// `\help`.
    Help,
    /// `\quit`.
    Quit,
}

/// The meta-commands, as completion offers them.
pub const COMMANDS: &[&str] = &[
    "\\drop",
    "\\explain",
    "\\help",
    "\\queries",
    "\\quit",
    "\\streams",
    "\\watch",
];

/// What `\help` prints.
pub const HELP: &str = "\
Statements end with `;` and may span lines:
  CREATE STREAM name (col TYPE, …) WITH (source = 'http', event_time = 'ts');
  CREATE QUERY name AS SELECT … FROM stream [WHERE …] [GROUP BY …] [WINDOW …];
  DROP QUERY name;  DROP STREAM name;  EXPLAIN [stream];

Meta-commands (one line each):
  \\streams              streams with their rates and counters
  \\queries              queries with their counters
  \\explain [NAME]       the shared plans; a stream's, or a query's part of it
  \\drop NAME            drop a query (or a stream, when no query has that name)
  \\watch NAME [NAME…]   live results as tables, redrawn per window; Ctrl-C stops
  \\help                 this text
  \\quit                 leave (Ctrl-D too)

Tab completes keywords, stream, field and query names. History is kept in
$SHOAL_HISTORY (default $XDG_STATE_HOME/shoal/history or ~/.shoal_history).";

/// Parses a meta-command line (starting with `\`).
pub fn parse(text: &str) -> Result<Meta, String> {
    let text = text.trim().trim_end_matches(';');
    let mut words = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    let cmd = words.next().unwrap_or("\\");
    let args: Vec<String> = words.map(unquote).collect();
    let no_args = |m: Meta| {
        if args.is_empty() {
            Ok(m)
        } else {
            Err(format!("{cmd} takes no arguments"))
        }
    };
    match cmd {
        "\\streams" => no_args(Meta::Streams),
        "\\queries" => no_args(Meta::Queries),
        "\\help" | "\\h" | "\\?" => no_args(Meta::Help),
        "\\quit" | "\\q" => no_args(Meta::Quit),
        "\\explain" => match args.len() {
            0 => Ok(Meta::Explain(None)),
            1 => Ok(Meta::Explain(args.into_iter().next())),
            _ => Err("\\explain takes at most one name".to_string()),
        },
        "\\drop" => match args.len() {
            1 => Ok(Meta::Drop(args.into_iter().next().unwrap_or_default())),
            _ => Err("usage: \\drop NAME".to_string()),
        },
        "\\watch" if args.is_empty() => Err("usage: \\watch NAME [NAME…]".to_string()),
        "\\watch" => {
            let mut names: Vec<String> = Vec::new();
            for a in args {
                if !names.contains(&a) {
                    names.push(a);
                }
            }
            Ok(Meta::Watch(names))
        }
        other => Err(format!("unknown command `{other}`; \\help lists them")),
    }
}

/// A name as typed: `"a name"` stands for `a name`.
fn unquote(w: &str) -> String {
    match w.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => w.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(parse("\\streams"), Ok(Meta::Streams));
        assert_eq!(parse("  \\queries ; "), Ok(Meta::Queries));
        assert_eq!(parse("\\explain"), Ok(Meta::Explain(None)));
        assert_eq!(parse("\\explain t"), Ok(Meta::Explain(Some("t".into()))));
        assert_eq!(parse("\\drop q;"), Ok(Meta::Drop("q".into())));
        assert_eq!(
            parse("\\watch a, b a \"c\""),
            Ok(Meta::Watch(vec!["a".into(), "b".into(), "c".into()]))
        );
        assert_eq!(parse("\\q"), Ok(Meta::Quit));
        assert_eq!(parse("\\?"), Ok(Meta::Help));
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(parse("\\watch"), Err("usage: \\watch NAME [NAME…]".into()));
        assert_eq!(parse("\\drop"), Err("usage: \\drop NAME".into()));
        assert_eq!(parse("\\drop a b"), Err("usage: \\drop NAME".into()));
        assert_eq!(
            parse("\\streams x"),
            Err("\\streams takes no arguments".into())
        );
        assert_eq!(
            parse("\\frob"),
            Err("unknown command `\\frob`; \\help lists them".into())
        );
    }

    #[test]
    fn every_completed_command_parses() {
        for c in COMMANDS {
            let line = match *c {
                "\\drop" => "\\drop x".to_string(),
                "\\watch" => "\\watch x".to_string(),
                _ => c.to_string(),
            };
            assert!(parse(&line).is_ok(), "{line}");
        }
    }
}
