//! How the REPL tells what statements did and where they went wrong.

use super::client::Outcome;
use super::input::line_of;
use super::term::Style;
use unicode_width::UnicodeWidthChar;

/// One line per statement outcome (`EXPLAIN` prints its plan).
pub fn outcome(o: &Outcome, style: &Style) -> String {
    match o {
        Outcome::StreamCreated { name } => style.ok(&format!("created stream {name}")),
        Outcome::QueryCreated { name, stream } => {
            style.ok(&format!("created query {name} on {stream}"))
        }
        Outcome::QueryDropped { name } => format!("dropped query {name}"),
        Outcome::StreamDropped { name } => format!("dropped stream {name}"),
        Outcome::Explain { text } => text.trim_end().to_string(),
        Outcome::Other => "done".to_string(),
    }
}

/// An error in statement text: `error: line L, column C: message`, the
/// source line with its number, and carets under the offending token.
///
/// `src` is the whole text the user gave (a typed entry, a `-c` argument or
/// a script) and `offset` the byte offset of the token in it, so line
/// numbers count from the start of that text. `token` is the token's text
/// (empty at the end of input: one caret). Tabs in the line are kept under
/// the caret so the caret stays aligned.
pub fn statement_error(
    src: &str,
    offset: usize,
    token: &str,
    message: &str,
    style: &Style,
) -> String {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_no = line_of(src, offset) + 1;
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = src[line_start..line_end].trim_end_matches('\r');
    let column = src[line_start..offset].chars().count() + 1;
    let lead: String = src[line_start..offset]
        .chars()
        .map(|c| {
            if c == '\t' {
                "\t".to_string()
            } else {
                " ".repeat(c.width().unwrap_or(0))
            }
        })
        .collect();
    let token = token.split('\n').next().unwrap_or("");
    let width: usize = token.chars().map(|c| c.width().unwrap_or(0)).sum();
    let gutter = format!("{line_no} | ");
    format!(
        "{} line {line_no}, column {column}: {}\n{}{line}\n{}{lead}{}",
        style.error("error:"),
        style.bold(message),
        style.gutter(&gutter),
        " ".repeat(gutter.len()),
        style.error(&"^".repeat(width.max(1)))
    )
}

/// Any other error: `error: message`.
pub fn error(message: &str, style: &Style) -> String {
    format!("{} {message}", style.error("error:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_stand_under_the_token_on_its_line() {
        let src = "CREATE QUERY q AS SELECT a\nFORM t;";
        let off = src.find("FORM").unwrap();
        assert_eq!(
            statement_error(src, off, "FORM", "expected FROM", &Style::plain()),
            "error: line 2, column 1: expected FROM\n2 | FORM t;\n    ^^^^"
        );
        let src = "SELECT é, \tx FROM t";
        let off = src.find('x').unwrap();
        assert_eq!(
            statement_error(src, off, "x", "unknown field", &Style::plain()),
            format!(
                "error: line 1, column 12: unknown field\n1 | SELECT é, \tx FROM t\n{}\t^",
                " ".repeat(4 + 10)
            )
        );
    }

    #[test]
    fn the_end_of_input_gets_one_caret_and_wide_tokens_get_more() {
        let src = "DROP QUERY";
        assert_eq!(
            statement_error(src, src.len(), "", "expected a name", &Style::plain()),
            format!(
                "error: line 1, column 11: expected a name\n1 | DROP QUERY\n{}^",
                " ".repeat(4 + 10)
            )
        );
        let src = "x 日本";
        assert!(statement_error(src, 2, "日本", "m", &Style::plain()).ends_with("\n      ^^^^"));
        // An offset past the end (or inside a character) is clamped.
        assert!(statement_error("é", 1, "é", "m", &Style::plain()).ends_with("\n    ^"));
    }

    #[test]
    fn colour_marks_the_carets() {
        let s = statement_error("x", 0, "x", "m", &Style { color: true });
        assert!(s.ends_with("\x1b[1;31m^\x1b[0m"), "{s:?}");
        assert!(s.starts_with("\x1b[1;31merror:\x1b[0m"));
    }
}
