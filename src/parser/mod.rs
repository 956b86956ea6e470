//! The statement parser: text in, [`ast::SpannedStatement`]s out.
//!
//! Syntax only: names are not resolved and types are not checked here (the
//! planner does that). Built with `nom` over the raw text so every node keeps
//! its byte span; errors name the line, column and offending token.

pub mod ast;
mod expr;
pub mod lexer;
mod primitives;
mod statement;

pub use ast::*;
pub use expr::MAX_DEPTH;

use crate::diagnostic::Diagnostic;
use lexer::{Sym, Token, TokenKind};
use primitives::{consumed_span, join_expected, PError};

/// A syntax error, with the span of the offending token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.message)]
pub struct ParseError(pub Diagnostic);

impl ParseError {
    /// `line L, column C: message`, the line, and a caret under the token.
    pub fn render(&self, src: &str) -> String {
        self.0.render(src)
    }
}

/// Parses zero or more statements separated (and optionally ended) by `;`.
///
/// Empty statements, whitespace and comments are skipped. The first syntax
/// error stops parsing; its span is the first token that could not be parsed
/// (an empty span at the end of the input when the input ended too early).
pub fn parse_statements(src: &str) -> Result<Vec<SpannedStatement>, ParseError> {
    let tokens = lexer::lex(src);
    let mut i: &[Token<'_>] = &tokens;
    let mut out = Vec::new();
    loop {
        while i.first().is_some_and(|t| t.is_sym(Sym::Semi)) {
            i = &i[1..];
        }
        if i.first().is_none_or(|t| t.kind == TokenKind::Eof) {
            return Ok(out);
        }
        match statement::statement(i) {
            Ok((rest, statement)) => {
                out.push(SpannedStatement {
                    statement,
                    span: consumed_span(i, rest),
                });
                i = rest;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                return Err(ParseError(to_diagnostic(&tokens, e)))
            }
            Err(nom::Err::Incomplete(_)) => {
                let end = Span::new(src.len(), src.len());
                return Err(ParseError(Diagnostic::new("unexpected end of input", end)));
            }
        }
    }
}

/// Turns the furthest failure into a message about the token it stopped at.
fn to_diagnostic(tokens: &[Token<'_>], e: PError) -> Diagnostic {
    if let Some((message, span)) = e.custom {
        return Diagnostic::new(message, span);
    }
    let Some(last) = tokens.len().checked_sub(1) else {
        return Diagnostic::new("unexpected end of input", Span::default());
    };
    let tok = &tokens[tokens.len().saturating_sub(e.remaining).min(last)];
    if let TokenKind::Bad(message) = tok.kind {
        return Diagnostic::new(message, tok.span);
    }
    let message = if e.expected.is_empty() {
        format!("unexpected {}", tok.describe())
    } else {
        format!(
            "expected {}, found {}",
            join_expected(&e.expected),
            tok.describe()
        )
    };
    Diagnostic::new(message, tok.span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: Span) -> (usize, usize) {
        (s.start, s.end)
    }

    #[test]
    fn statement_spans_exclude_semicolons_and_trivia() {
        let src = " ; EXPLAIN  t ;-- c\nDROP QUERY q";
        let stmts = parse_statements(src).unwrap();
        assert_eq!(stmts.len(), 2);
        assert_eq!(range(stmts[0].span), (3, 13));
        assert_eq!(range(stmts[1].span), (20, 32));
    }

    #[test]
    fn node_spans_point_into_the_source() {
        let src = "CREATE STREAM s (tags TEXT[]) WITH (watermark = '5s')";
        let stmts = parse_statements(src).unwrap();
        let Statement::CreateStream(cs) = &stmts[0].statement else {
            panic!("{:?}", stmts[0])
        };
        let cols = cs.columns.as_ref().expect("columns");
        assert_eq!(&src[cols[0].name.span.start..cols[0].name.span.end], "tags");
        assert_eq!(&src[cols[0].ty_span.start..cols[0].ty_span.end], "TEXT[]");
        let opt = &cs.options[0];
        assert_eq!(&src[opt.value_span.start..opt.value_span.end], "'5s'");

        let src = "CREATE QUERY q AS SELECT n FROM t WINDOW SLIDING 5 m EVERY 10s";
        let stmts = parse_statements(src).unwrap();
        let Statement::CreateQuery(cq) = &stmts[0].statement else {
            panic!("{:?}", stmts[0])
        };
        let Some(WindowSpec::Sliding { size, slide }) = &cq.select.window else {
            panic!("{:?}", cq.select.window)
        };
        assert_eq!(&src[size.span.start..size.span.end], "5 m");
        assert_eq!(&src[slide.span.start..slide.span.end], "10s");
        assert_eq!((size.ms, slide.ms), (300_000, 10_000));
    }

    #[test]
    fn errors_at_end_of_input_have_an_empty_span_at_the_end() {
        let src = "DROP QUERY";
        let err = parse_statements(src).unwrap_err();
        assert_eq!(err.0.message, "expected a query name, found end of input");
        assert_eq!(range(err.0.span), (src.len(), src.len()));
    }
}
