//! The statement parser: text in, [`ast::SpannedStatement`]s out.
//!
//! Syntax only: names are not resolved and types are not checked here (the
//! planner does that). Built with `nom` over the raw text so every node keeps
//! its byte span; errors name the line, column and offending token.

pub mod ast;
pub mod grammar;
pub mod lexer;

pub use ast::*;

use crate::diagnostic::Diagnostic;

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
pub fn parse_statements(src: &str) -> Result<Vec<SpannedStatement>, ParseError> {
    let toks = lexer::tokenize(src).map_err(ParseError)?;
    grammar::Parser::new(&toks, src.len())
        .statements()
        .map_err(ParseError)
}
