//! Tokens: the lexical layer of the language, written with nom.
//!
//! Keywords are not tokens of their own: a word is a [`Tok::Word`] and the
//! grammar decides by context whether it is a keyword or a name, which is what
//! lets `user`, `text`, `count` or `window` be field names.

use super::ast::Span;
use crate::diagnostic::Diagnostic;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_until, take_while, take_while1};
use nom::character::complete::{char, digit1, multispace1, one_of};
use nom::combinator::{opt, recognize};
use nom::sequence::{pair, tuple};
use nom::IResult;

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare word: keyword or identifier, decided by the grammar.
    Word(String),
    /// A double-quoted identifier (quotes removed, `""` unescaped).
    Quoted(String),
    /// A single-quoted string (quotes removed, `''` unescaped).
    Str(String),
    /// A number as written (digits, optional fraction and exponent).
    Number(String),
    /// Punctuation or an operator: `( ) , ; * . [ ] = != <> < <= > >= -`.
    Punct(&'static str),
}

/// A token and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The kind and text.
    pub tok: Tok,
    /// Byte span in the source.
    pub span: Span,
}

fn skip_ws(i: &str) -> IResult<&str, ()> {
    let mut rest = i;
    loop {
        let before = rest.len();
        if let Ok((r, _)) = multispace1::<&str, nom::error::Error<&str>>(rest) {
            rest = r;
        }
        if let Ok((r, _)) = recognize(pair(
            tag::<&str, &str, nom::error::Error<&str>>("--"),
            take_while(|c| c != '\n'),
        ))(rest)
        {
            rest = r;
        }
        if rest.starts_with("/*") {
            match take_until::<&str, &str, nom::error::Error<&str>>("*/")(&rest[2..]) {
                Ok((r, _)) => rest = &r[2..],
                Err(_) => rest = &rest[rest.len()..],
            }
        }
        if rest.len() == before {
            return Ok((rest, ()));
        }
    }
}

fn word(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))(i)
}

fn number(i: &str) -> IResult<&str, &str> {
    recognize(tuple((
        digit1,
        opt(pair(char('.'), digit1)),
        opt(tuple((one_of("eE"), opt(one_of("+-")), digit1))),
    )))(i)
}

fn punct(i: &str) -> IResult<&str, &'static str> {
    let (r, p) = alt((
        alt((tag("<="), tag(">="), tag("!="), tag("<>"))),
        alt((
            tag("("),
            tag(")"),
            tag(","),
            tag(";"),
            tag("*"),
            tag("."),
            tag("["),
            tag("]"),
            tag("="),
            tag("<"),
            tag(">"),
            tag("-"),
        )),
    ))(i)?;
    let p: &'static str = match p {
        "<=" => "<=",
        ">=" => ">=",
        "!=" => "!=",
        "<>" => "<>",
        "(" => "(",
        ")" => ")",
        "," => ",",
        ";" => ";",
        "*" => "*",
        "." => ".",
        "[" => "[",
        "]" => "]",
        "=" => "=",
        "<" => "<",
        ">" => ">",
        _ => "-",
    };
    Ok((r, p))
}

/// Reads a quoted run with the quote doubled inside; returns the unescaped
/// text and the rest, or `None` when unterminated.
fn quoted(i: &str, q: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut rest = &i[1..];
    loop {
        let idx = rest.find(q)?;
        out.push_str(&rest[..idx]);
        rest = &rest[idx + 1..];
        if rest.starts_with(q) {
            out.push(q);
            rest = &rest[1..];
        } else {
            return Some((out, rest));
        }
    }
}

/// Splits `src` into tokens.
pub fn tokenize(src: &str) -> Result<Vec<Token>, Diagnostic> {
    let mut toks = Vec::new();
    let mut rest = src;
    loop {
        rest = skip_ws(rest).map(|(r, _)| r).unwrap_or(rest);
        if rest.starts_with("/*") {
            let at = src.len() - rest.len();
            return Err(Diagnostic::new(
                "unterminated comment",
                Span::new(at, at + 2),
            ));
        }
        let start = src.len() - rest.len();
        let Some(c) = rest.chars().next() else { break };
        let (tok, r) = if c == '\'' || c == '"' {
            match quoted(rest, c) {
                Some((text, r)) => (
                    if c == '\'' {
                        Tok::Str(text)
                    } else {
                        Tok::Quoted(text)
                    },
                    r,
                ),
                None => {
                    let what = if c == '\'' {
                        "string literal"
                    } else {
                        "quoted identifier"
                    };
                    return Err(Diagnostic::new(
                        format!("unterminated {what}"),
                        Span::new(start, start + 1),
                    ));
                }
            }
        } else if let Ok((r, w)) = word(rest) {
            (Tok::Word(w.to_string()), r)
        } else if let Ok((r, n)) = number(rest) {
            (Tok::Number(n.to_string()), r)
        } else if let Ok((r, p)) = punct(rest) {
            (Tok::Punct(p), r)
        } else {
            let end = start + c.len_utf8();
            return Err(Diagnostic::new(
                format!("unexpected character '{c}'"),
                Span::new(start, end),
            ));
        };
        let end = src.len() - r.len();
        toks.push(Token {
            tok,
            span: Span::new(start, end),
        });
        rest = r;
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_spans() {
        let t = tokenize("SELECT \"a b\", 'it''s' -- c\n /* x */ 1.5e3 <> x_1").unwrap();
        let kinds: Vec<Tok> = t.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Word("SELECT".into()),
                Tok::Quoted("a b".into()),
                Tok::Punct(","),
                Tok::Str("it's".into()),
                Tok::Number("1.5e3".into()),
                Tok::Punct("<>"),
                Tok::Word("x_1".into()),
            ]
        );
        assert_eq!(t[3].span, Span::new(14, 21));
        assert_eq!((t[3].span.start, t[3].span.end), (14, 21));
    }

    #[test]
    fn backslashes_are_literal() {
        let t = tokenize(r"'\d+\s'").unwrap();
        assert_eq!(t[0].tok, Tok::Str(r"\d+\s".into()));
    }

    #[test]
    fn unterminated_string_points_at_quote() {
        let e = tokenize("x = 'abc").unwrap_err();
        assert_eq!((e.span.start, e.span.end), (4, 5));
        assert_eq!(e.message, "unterminated string literal");
    }
}
