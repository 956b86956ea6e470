//! Errors that point into statement text: line, column, the offending token
//! and a caret under it. Shared by the parser (syntax) and the planner (names,
//! types, regexes), so every user-facing statement error renders the same way.

use crate::parser::ast::Span;
use std::fmt;

/// A message about a span of statement text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, as a sentence without position.
    pub message: String,
    /// Where, as byte offsets into the source.
    pub span: Span,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column number.
    pub column: usize,
}

/// The line and column of byte `offset` in `src` (clamped to the text).
pub fn line_col(src: &str, offset: usize) -> LineCol {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = src[line_start..offset].chars().count() + 1;
    LineCol { line, column }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Diagnostic {
    /// A diagnostic with a message and a span.
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
        }
    }

    /// Line and column of the start of the span in `src`.
    pub fn position(&self, src: &str) -> LineCol {
        line_col(src, self.span.start)
    }

    /// The offending token: the source text of the span (at most one line),
    /// or `end of input` when the span is empty at the end.
    pub fn token<'s>(&self, src: &'s str) -> &'s str {
        let start = floor_char_boundary(src, self.span.start.min(src.len()));
        let end = floor_char_boundary(src, self.span.end.clamp(start, src.len()));
        let text = &src[start..end];
        text.split('\n').next().unwrap_or("")
    }

    /// Renders `line L, column C: message`, the source line, and carets under
    /// the offending token.
    pub fn render(&self, src: &str) -> String {
        let pos = self.position(src);
        let start = floor_char_boundary(src, self.span.start.min(src.len()));
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line_text = &src[line_start..line_end];
        let token = self.token(src);
        let width = token.chars().count().max(1);
        let gutter = format!("{} | ", pos.line);
        format!(
            "line {}, column {}: {}\n{}{}\n{}{}",
            pos.line,
            pos.column,
            self.message,
            gutter,
            line_text,
            " ".repeat(gutter.len() + pos.column - 1),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_token() {
        let src = "CREATE QUERY q AS\nSELECT x FROM nope";
        let d = Diagnostic::new("unknown stream `nope`", Span::new(32, 36));
        assert_eq!(
            d.render(src),
            "line 2, column 15: unknown stream `nope`\n2 | SELECT x FROM nope\n                  ^^^^"
        );
        assert_eq!(d.token(src), "nope");
    }

    #[test]
    fn columns_count_characters() {
        let src = "'é' x";
        assert_eq!(line_col(src, 5), LineCol { line: 1, column: 5 });
    }
}
