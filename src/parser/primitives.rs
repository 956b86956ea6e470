//! Token-level building blocks for the nom parsers: the input type, the error
//! type that remembers what was expected at the furthest failure, and parsers
//! for keywords, symbols, identifiers and string literals.
//!
//! The parsers run over a token slice that always ends with
//! [`TokenKind::Eof`], which no parser consumes, so the slice is never empty
//! while parsing. The position of an error is the number of tokens left.

use super::ast::{Ident, Span};
use super::lexer::{Sym, Token, TokenKind};
use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::Err;

/// The parser input: the tokens not yet consumed.
pub(crate) type Input<'a> = &'a [Token<'a>];

/// The result of every parser in this module tree.
pub(crate) type PResult<'a, T> = nom::IResult<Input<'a>, T, PError>;

/// Words that cannot be bare identifiers because they would be ambiguous.
/// Anything else (`user`, `count`, `window`, `text`, …) is a name wherever a
/// name is expected.
pub(crate) const RESERVED: &[&str] = &[
    "select", "from", "where", "group", "having", "order", "limit", "emit", "and", "or", "not",
    "in", "is", "as", "contains", "matches", "null", "true", "false",
];

/// True when `word` is reserved (ASCII case-insensitive).
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// A parse failure: where, and what would have been accepted there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PError {
    /// Tokens left at the failure; fewer means further into the input.
    pub remaining: usize,
    /// What was expected, e.g. `FROM`, `')'`, `an expression`.
    pub expected: Vec<String>,
    /// A complete message and span that replace the `expected … found …` text.
    pub custom: Option<(String, Span)>,
}

impl PError {
    /// `what` was expected at the start of `i`.
    pub fn expected(i: Input<'_>, what: impl Into<String>) -> PError {
        PError {
            remaining: i.len(),
            expected: vec![what.into()],
            custom: None,
        }
    }
}

impl<'a> NomParseError<Input<'a>> for PError {
    fn from_error_kind(input: Input<'a>, _: ErrorKind) -> Self {
        PError {
            remaining: input.len(),
            expected: Vec::new(),
            custom: None,
        }
    }

    fn append(_: Input<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }

    /// Keeps the failure that got furthest; merges expectations on a tie.
    fn or(mut self, other: Self) -> Self {
        if self.remaining != other.remaining {
            return if self.remaining < other.remaining {
                self
            } else {
                other
            };
        }
        if self.custom.is_some() {
            return self;
        }
        if other.custom.is_some() {
            return other;
        }
        for e in other.expected {
            if !self.expected.contains(&e) {
                self.expected.push(e);
            }
        }
        self
    }
}

/// Fails without backtracking, with a complete message about `span`.
pub(crate) fn fail<'a, T>(i: Input<'a>, message: impl Into<String>, span: Span) -> PResult<'a, T> {
    Err(Err::Failure(PError {
        remaining: i.len(),
        expected: Vec::new(),
        custom: Some((message.into(), span)),
    }))
}

/// Fails (recoverably) expecting `what`.
pub(crate) fn expected<'a, T>(i: Input<'a>, what: impl Into<String>) -> PResult<'a, T> {
    Err(Err::Error(PError::expected(i, what)))
}

/// The next token, if any (there always is one: [`TokenKind::Eof`]).
pub(crate) fn peek<'a>(i: Input<'a>) -> Option<&'a Token<'a>> {
    i.first()
}

/// True at `;` or the end of the input.
pub(crate) fn at_statement_end(i: Input<'_>) -> bool {
    match peek(i) {
        None => true,
        Some(t) => matches!(t.kind, TokenKind::Eof | TokenKind::Sym(Sym::Semi)),
    }
}

/// Succeeds without consuming at `;` or the end of the input; otherwise fails
/// expecting one of `more` or `';'`.
pub(crate) fn statement_end<'a>(i: Input<'a>, more: &[&str]) -> PResult<'a, ()> {
    if at_statement_end(i) {
        return Ok((i, ()));
    }
    let mut expected: Vec<String> = more.iter().map(|s| s.to_string()).collect();
    expected.push("';'".to_string());
    Err(Err::Failure(PError {
        remaining: i.len(),
        expected,
        custom: None,
    }))
}

/// The keyword `word` (give it in upper case; matching ignores case).
pub(crate) fn kw<'a>(word: &'static str) -> impl Fn(Input<'a>) -> PResult<'a, Span> {
    move |i| match peek(i) {
        Some(t) if t.is_word(word) => Ok((&i[1..], t.span)),
        _ => expected(i, word),
    }
}

/// The symbol `s`.
pub(crate) fn sym<'a>(s: Sym) -> impl Fn(Input<'a>) -> PResult<'a, Span> {
    move |i| match peek(i) {
        Some(t) if t.is_sym(s) => Ok((&i[1..], t.span)),
        _ => expected(i, s.quoted()),
    }
}

/// True when the token can be an identifier.
pub(crate) fn is_ident(t: &Token<'_>) -> bool {
    match t.kind {
        TokenKind::Word => !is_reserved(t.text),
        TokenKind::QuotedIdent(_) => true,
        _ => false,
    }
}

/// An identifier (a non-reserved word or a double-quoted name); `what` names
/// it in errors, e.g. `a field name`.
pub(crate) fn ident<'a>(what: &'static str) -> impl Fn(Input<'a>) -> PResult<'a, Ident> {
    move |i| match peek(i) {
        Some(t) if is_ident(t) => {
            let name = match &t.kind {
                TokenKind::QuotedIdent(name) => name.clone(),
                _ => t.text.to_string(),
            };
            Ok((&i[1..], Ident::new(name, t.span)))
        }
        _ => expected(i, what),
    }
}

/// A single-quoted string literal: its value and span.
pub(crate) fn string_lit(i: Input<'_>) -> PResult<'_, (String, Span)> {
    match peek(i) {
        Some(Token {
            kind: TokenKind::Str(s),
            span,
            ..
        }) => Ok((&i[1..], (s.clone(), *span))),
        _ => expected(i, "a string literal"),
    }
}

/// Runs `p`; if it fails without consuming anything, says `what` was expected
/// instead of the list of alternatives.
pub(crate) fn label<'a, T>(
    what: &'static str,
    mut p: impl FnMut(Input<'a>) -> PResult<'a, T>,
) -> impl FnMut(Input<'a>) -> PResult<'a, T> {
    move |i| {
        p(i).map_err(|e| match e {
            Err::Error(mut pe) if pe.remaining == i.len() && pe.custom.is_none() => {
                pe.expected = vec![what.to_string()];
                Err::Error(pe)
            }
            other => other,
        })
    }
}

/// One or more `p` separated by commas; after a comma an item is required.
pub(crate) fn comma_list1<'a, T>(
    mut p: impl FnMut(Input<'a>) -> PResult<'a, T>,
) -> impl FnMut(Input<'a>) -> PResult<'a, Vec<T>> {
    move |i| {
        let (mut i, first) = p(i)?;
        let mut items = vec![first];
        while let Ok((rest, _)) = sym(Sym::Comma)(i) {
            let (rest, item) = nom::combinator::cut(&mut p)(rest)?;
            items.push(item);
            i = rest;
        }
        Ok((i, items))
    }
}

/// Joins expectations as `A`, `A or B`, `A, B or C`.
pub(crate) fn join_expected(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// The span from the first consumed token to the last one, given the input
/// before and after parsing.
pub(crate) fn consumed_span(before: Input<'_>, after: Input<'_>) -> Span {
    let n = before.len().saturating_sub(after.len());
    match (before.first(), n.checked_sub(1).and_then(|k| before.get(k))) {
        (Some(first), Some(last)) => first.span.to(last.span),
        (Some(first), None) => Span::new(first.span.start, first.span.start),
        _ => Span::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    #[test]
    fn or_keeps_furthest_and_merges_ties() {
        let a = PError {
            remaining: 3,
            expected: vec!["A".into()],
            custom: None,
        };
        let b = PError {
            remaining: 3,
            expected: vec!["B".into(), "A".into()],
            custom: None,
        };
        let c = PError {
            remaining: 2,
            expected: vec!["C".into()],
            custom: None,
        };
        assert_eq!(a.clone().or(b).expected, vec!["A", "B"]);
        assert_eq!(a.or(c).expected, vec!["C"]);
    }

    #[test]
    fn join_expected_reads_naturally() {
        let s = |v: &[&str]| join_expected(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["A"]), "A");
        assert_eq!(s(&["A", "B"]), "A or B");
        assert_eq!(s(&["A", "B", "C"]), "A, B or C");
    }

    #[test]
    fn identifiers_exclude_reserved_words() {
        let toks = lex("user FROM \"from\"");
        let (rest, id) = ident("a name")(&toks).unwrap();
        assert_eq!(id.name, "user");
        assert!(ident("a name")(rest).is_err());
        let (_, id) = ident("a name")(&rest[1..]).unwrap();
        assert_eq!(id.name, "from");
        assert_eq!((id.span.start, id.span.end), (10, 16));
    }

    #[test]
    fn keywords_ignore_case() {
        let toks = lex("fRoM");
        assert!(kw("FROM")(&toks).is_ok());
        assert!(kw("WHERE")(&toks).is_err());
    }
}
