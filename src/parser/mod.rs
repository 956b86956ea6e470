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
