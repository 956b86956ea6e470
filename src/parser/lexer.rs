//! The lexer: statement text → tokens with byte spans.
//!
//! Whitespace and comments (`-- to end of line`, `/* … */`) are skipped.
//! String literals use single quotes with `''` for a quote and no other
//! escapes (backslashes are literal, so regexes need no double escaping).
//! Quoted identifiers use double quotes with `""` for a quote.
//!
//! Lexing never fails: characters that start no token become
//! [`TokenKind::Unknown`] tokens (the parser reports them as unexpected), and
//! an unterminated string, quoted identifier or comment becomes a single
//! [`TokenKind::Bad`] token carrying the error message, after which lexing
//! stops. The token list always ends with one [`TokenKind::Eof`] token.

use super::ast::Span;
use nom::{
    branch::alt,
    bytes::complete::{is_not, tag, take_until, take_while, take_while1},
    character::complete::{anychar, char, digit1, one_of, satisfy},
    combinator::{map, opt, recognize, value},
    multi::many0,
    sequence::{pair, tuple},
    IResult,
};

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sym {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `*`
    Star,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `-`
    Minus,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
}

impl Sym {
    /// The symbol as it is quoted in error messages, e.g. `')'`.
    pub fn quoted(self) -> &'static str {
        match self {
            Sym::LParen => "'('",
            Sym::RParen => "')'",
            Sym::Comma => "','",
            Sym::Semi => "';'",
            Sym::Star => "'*'",
            Sym::Eq => "'='",
            Sym::NotEq => "'!='",
            Sym::Lt => "'<'",
            Sym::LtEq => "'<='",
            Sym::Gt => "'>'",
            Sym::GtEq => "'>='",
            Sym::Minus => "'-'",
            Sym::LBracket => "'['",
            Sym::RBracket => "']'",
        }
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word `[A-Za-z_][A-Za-z0-9_]*`: a keyword or an identifier.
    Word,
    /// A double-quoted identifier, with `""` already turned into `"`.
    QuotedIdent(String),
    /// A single-quoted string literal, with `''` already turned into `'`.
    Str(String),
    /// An unsigned number: `digits[.digits][(e|E)[+|-]digits]`.
    Number,
    /// Punctuation or an operator.
    Sym(Sym),
    /// A character that starts no token.
    Unknown,
    /// A lexical error (e.g. an unterminated string); the message says which.
    Bad(&'static str),
    /// The end of the input (always the last token).
    Eof,
}

/// A token and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: TokenKind,
    /// Its byte range in the source.
    pub span: Span,
    /// Its source text.
    pub text: &'a str,
}

impl Token<'_> {
    /// True when the token is the bare word `word` (ASCII case-insensitive).
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(word)
    }

    /// True when the token is the symbol `sym`.
    pub fn is_sym(&self, sym: Sym) -> bool {
        self.kind == TokenKind::Sym(sym)
    }

    /// How the token is named after "found" in error messages.
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::Str(_) => format!("string {}", shorten(self.text)),
            _ => format!("'{}'", shorten(self.text)),
        }
    }
}

/// Shortens long token text and makes control characters visible.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

type LexResult<'a, T> = IResult<&'a str, T>;

/// Whitespace and complete comments.
fn trivia(i: &str) -> LexResult<'_, ()> {
    value(
        (),
        many0(alt((
            take_while1(char::is_whitespace),
            recognize(pair(tag("--"), take_while(|c| c != '\n'))),
            recognize(tuple((tag("/*"), take_until("*/"), tag("*/")))),
        ))),
    )(i)
}

/// A quoted token with doubled quotes inside; `None` when unterminated.
fn quoted(
    quote: char,
    single: &'static str,
    doubled: &'static str,
) -> impl Fn(&str) -> LexResult<'_, Option<String>> {
    move |i| {
        let (i, _) = char(quote)(i)?;
        let (i, body) = recognize(many0(alt((tag(doubled), is_not(single)))))(i)?;
        let (i, close) = opt(char(quote))(i)?;
        Ok((i, close.map(|_| body.replace(doubled, single))))
    }
}

fn number(i: &str) -> LexResult<'_, &str> {
    recognize(tuple((
        digit1,
        opt(pair(char('.'), digit1)),
        opt(tuple((one_of("eE"), opt(one_of("+-")), digit1))),
    )))(i)
}

fn word(i: &str) -> LexResult<'_, &str> {
    recognize(pair(
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))(i)
}

fn symbol(i: &str) -> LexResult<'_, Sym> {
    alt((
        value(Sym::LtEq, tag("<=")),
        value(Sym::GtEq, tag(">=")),
        value(Sym::NotEq, tag("<>")),
        value(Sym::NotEq, tag("!=")),
        value(Sym::LParen, char('(')),
        value(Sym::RParen, char(')')),
        value(Sym::Comma, char(',')),
        value(Sym::Semi, char(';')),
        value(Sym::Star, char('*')),
        value(Sym::Eq, char('=')),
        value(Sym::Lt, char('<')),
        value(Sym::Gt, char('>')),
        value(Sym::Minus, char('-')),
        value(Sym::LBracket, char('[')),
        value(Sym::RBracket, char(']')),
    ))(i)
}

fn token(i: &str) -> LexResult<'_, TokenKind> {
    alt((
        map(quoted('\'', "'", "''"), |s| {
            s.map_or(
                TokenKind::Bad("unterminated string literal"),
                TokenKind::Str,
            )
        }),
        map(quoted('"', "\"", "\"\""), |s| {
            s.map_or(
                TokenKind::Bad("unterminated quoted identifier"),
                TokenKind::QuotedIdent,
            )
        }),
        value(TokenKind::Number, number),
        value(TokenKind::Word, word),
        map(symbol, TokenKind::Sym),
        value(TokenKind::Unknown, anychar),
    ))(i)
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`].
pub fn lex(src: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = src;
    loop {
        if let Ok((r, ())) = trivia(rest) {
            rest = r;
        }
        let start = src.len() - rest.len();
        if rest.is_empty() {
            break;
        }
        if rest.starts_with("/*") {
            tokens.push(Token {
                kind: TokenKind::Bad("unterminated comment"),
                span: Span::new(start, start + 2),
                text: &rest[..2],
            });
            break;
        }
        let Ok((r, kind)) = token(rest) else {
            // Unreachable: `anychar` accepts any non-empty input.
            break;
        };
        if let TokenKind::Bad(_) = kind {
            // Point at the opening quote only.
            tokens.push(Token {
                kind,
                span: Span::new(start, start + 1),
                text: &rest[..1],
            });
            break;
        }
        let end = src.len() - r.len();
        tokens.push(Token {
            kind,
            span: Span::new(start, end),
            text: &src[start..end],
        });
        rest = r;
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(src.len(), src.len()),
        text: "",
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        lex(src).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn words_numbers_symbols_and_trivia() {
        use TokenKind::*;
        assert_eq!(
            kinds("a1 -- c\n 1.5e-3<>/* x */10s<= !="),
            vec![
                (Word, "a1"),
                (Number, "1.5e-3"),
                (Sym(super::Sym::NotEq), "<>"),
                (Number, "10"),
                (Word, "s"),
                (Sym(super::Sym::LtEq), "<="),
                (Sym(super::Sym::NotEq), "!="),
                (Eof, ""),
            ]
        );
    }

    #[test]
    fn exponent_needs_digits() {
        use TokenKind::*;
        assert_eq!(
            kinds("2e 3.x"),
            vec![
                (Number, "2"),
                (Word, "e"),
                (Number, "3"),
                (Unknown, "."),
                (Word, "x"),
                (Eof, "")
            ]
        );
    }

    #[test]
    fn strings_and_quoted_identifiers() {
        let toks = lex(r#"'it''s \d' "a ""b""" ''"#);
        assert_eq!(toks[0].kind, TokenKind::Str(r"it's \d".into()));
        assert_eq!(toks[1].kind, TokenKind::QuotedIdent("a \"b\"".into()));
        assert_eq!(toks[2].kind, TokenKind::Str(String::new()));
        assert_eq!((toks[0].span.start, toks[0].span.end), (0, 10));
    }

    #[test]
    fn unterminated_things_become_bad_tokens() {
        let toks = lex("x 'abc");
        assert_eq!(toks[1].kind, TokenKind::Bad("unterminated string literal"));
        assert_eq!((toks[1].span.start, toks[1].span.end), (2, 3));
        assert_eq!(toks[2].kind, TokenKind::Eof);
        assert_eq!(
            lex("/* x").first().map(|t| t.kind.clone()),
            Some(TokenKind::Bad("unterminated comment"))
        );
        assert_eq!(
            lex("\"ab").first().map(|t| t.kind.clone()),
            Some(TokenKind::Bad("unterminated quoted identifier"))
        );
    }

    #[test]
    fn unknown_characters_keep_whole_chars() {
        let toks = lex("é@");
        assert_eq!(toks[0].kind, TokenKind::Unknown);
        assert_eq!(toks[0].text, "é");
        assert_eq!(toks[1].text, "@");
        assert_eq!(toks[0].describe(), "'é'");
        assert_eq!(lex("\u{7}")[0].describe(), "'\\u{7}'");
        assert_eq!(lex("")[0].describe(), "end of input");
    }
}
