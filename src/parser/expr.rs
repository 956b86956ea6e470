//! Expressions: literals, fields, aggregate calls and predicates.
//!
//! ```text
//! expr      := and_expr { OR and_expr }
//! and_expr  := not_expr { AND not_expr }
//! not_expr  := NOT not_expr | predicate
//! predicate := primary [ cmp_op primary | [NOT] IN '(' literal {',' literal} ')'
//!                      | CONTAINS string | MATCHES string | IS [NOT] NULL ]
//! primary   := '(' expr ')' | literal | agg_call | field
//! ```
//!
//! Parentheses and `NOT` may nest at most [`MAX_DEPTH`] deep, so hostile
//! input cannot overflow the stack.

use super::ast::{AggCall, AggFunc, CmpOp, Expr, Literal, Span};
use super::lexer::{Sym, TokenKind};
use super::primitives::{
    comma_list1, expected, fail, ident, is_reserved, kw, label, peek, string_lit, sym, Input,
    PResult,
};
use nom::branch::alt;
use nom::combinator::{cut, map, opt};

/// How deeply parentheses and `NOT` may nest.
pub const MAX_DEPTH: usize = 64;

/// An expression (`OR` has the lowest precedence). `depth` is the current
/// nesting of parentheses and `NOT`; start at 0.
pub(crate) fn expr(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    let (mut i, mut left) = and_expr(i, depth)?;
    while let Ok((rest, _)) = kw("OR")(i) {
        let (rest, right) = cut(|i| and_expr(i, depth))(rest)?;
        left = Expr::Or(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn and_expr(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    let (mut i, mut left) = not_expr(i, depth)?;
    while let Ok((rest, _)) = kw("AND")(i) {
        let (rest, right) = cut(|i| not_expr(i, depth))(rest)?;
        left = Expr::And(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn not_expr(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    let Ok((rest, not_span)) = kw("NOT")(i) else {
        return predicate(i, depth);
    };
    if depth >= MAX_DEPTH {
        return fail(i, "expression nested too deeply", not_span);
    }
    let (rest, inner) = cut(|i| not_expr(i, depth + 1))(rest)?;
    let span = not_span.to(inner.span());
    Ok((rest, Expr::Not(Box::new(inner), span)))
}

/// What may follow the first operand of a predicate.
enum Suffix {
    Cmp(CmpOp, Expr),
    In(bool, Vec<Literal>, Span),
    Contains(String, Span),
    Matches(String, Span),
    IsNull(bool, Span),
}

fn cmp_op(i: Input<'_>) -> PResult<'_, CmpOp> {
    alt((
        map(sym(Sym::Eq), |_| CmpOp::Eq),
        map(sym(Sym::NotEq), |_| CmpOp::NotEq),
        map(sym(Sym::LtEq), |_| CmpOp::LtEq),
        map(sym(Sym::GtEq), |_| CmpOp::GtEq),
        map(sym(Sym::Lt), |_| CmpOp::Lt),
        map(sym(Sym::Gt), |_| CmpOp::Gt),
    ))(i)
}

/// `IN (lit, …)` after an optional `NOT` (already consumed when `negated`).
fn in_list(i: Input<'_>, negated: bool) -> PResult<'_, Suffix> {
    let (i, _) = kw("IN")(i)?;
    let (i, _) = cut(sym(Sym::LParen))(i)?;
    let (i, list) = cut(comma_list1(|i| literal(i).map(|(r, (l, _))| (r, l))))(i)?;
    let (i, close) = cut(sym(Sym::RParen))(i)?;
    Ok((i, Suffix::In(negated, list, close)))
}

fn suffix(i: Input<'_>, depth: usize) -> PResult<'_, Suffix> {
    alt((
        |i| {
            let (i, op) = cmp_op(i)?;
            let (i, right) = cut(|i| primary(i, depth))(i)?;
            Ok((i, Suffix::Cmp(op, right)))
        },
        |i| in_list(i, false),
        |i| {
            let (i, _) = kw("NOT")(i)?;
            cut(|i| in_list(i, true))(i)
        },
        |i| {
            let (i, _) = kw("CONTAINS")(i)?;
            let (i, (s, span)) = cut(string_lit)(i)?;
            Ok((i, Suffix::Contains(s, span)))
        },
        |i| {
            let (i, _) = kw("MATCHES")(i)?;
            let (i, (s, span)) = cut(string_lit)(i)?;
            Ok((i, Suffix::Matches(s, span)))
        },
        |i| {
            let (i, _) = kw("IS")(i)?;
            let (i, not) = opt(kw("NOT"))(i)?;
            let (i, null) = cut(kw("NULL"))(i)?;
            Ok((i, Suffix::IsNull(not.is_some(), null)))
        },
    ))(i)
}

fn predicate(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    let (i, left) = primary(i, depth)?;
    let (i, suffix) = opt(|i| suffix(i, depth))(i)?;
    let start = left.span();
    let left = Box::new(left);
    let e = match suffix {
        None => *left,
        Some(Suffix::Cmp(op, right)) => Expr::Cmp {
            op,
            left,
            right: Box::new(right),
        },
        Some(Suffix::In(negated, list, end)) => Expr::InList {
            expr: left,
            list,
            negated,
            span: start.to(end),
        },
        Some(Suffix::Contains(pattern, pattern_span)) => Expr::Contains {
            expr: left,
            pattern,
            pattern_span,
        },
        Some(Suffix::Matches(pattern, pattern_span)) => Expr::Matches {
            expr: left,
            pattern,
            pattern_span,
        },
        Some(Suffix::IsNull(negated, end)) => Expr::IsNull {
            expr: left,
            negated,
            span: start.to(end),
        },
    };
    Ok((i, e))
}

/// An operand: a parenthesized expression, a literal, an aggregate call or
/// a field.
fn primary(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    label(
        "an expression",
        alt((
            |i| parenthesized(i, depth),
            map(literal, |(lit, span)| Expr::Literal(lit, span)),
            map(agg_call, Expr::Agg),
            map(ident("a field name"), Expr::Field),
        )),
    )(i)
}

fn parenthesized(i: Input<'_>, depth: usize) -> PResult<'_, Expr> {
    let (rest, open) = sym(Sym::LParen)(i)?;
    if depth >= MAX_DEPTH {
        return fail(i, "expression nested too deeply", open);
    }
    let (rest, e) = cut(|i| expr(i, depth + 1))(rest)?;
    let (rest, _) = cut(sym(Sym::RParen))(rest)?;
    Ok((rest, e))
}

/// Turns number text (with an optional leading `-`) into a literal: `Int`
/// when it is a whole number that fits `i64`, else `Float`; `None` when it
/// is out of range even for `f64`.
fn number_literal(text: &str) -> Option<Literal> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Literal::Int(n));
        }
    }
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Literal::Float)
}

/// A literal: a string, a number (optionally negative), `TRUE`, `FALSE` or
/// `NULL`.
pub(crate) fn literal(i: Input<'_>) -> PResult<'_, (Literal, Span)> {
    let Some(t) = peek(i) else {
        return expected(i, "a literal");
    };
    match &t.kind {
        TokenKind::Str(s) => Ok((&i[1..], (Literal::Str(s.clone()), t.span))),
        TokenKind::Number => match number_literal(t.text) {
            Some(lit) => Ok((&i[1..], (lit, t.span))),
            None => fail(i, format!("number out of range: {}", t.describe()), t.span),
        },
        TokenKind::Sym(Sym::Minus) => match i.get(1) {
            Some(n) if n.kind == TokenKind::Number => {
                let span = t.span.to(n.span);
                match number_literal(&format!("-{}", n.text)) {
                    Some(lit) => Ok((&i[2..], (lit, span))),
                    None => fail(i, format!("number out of range: '-{}'", n.text), span),
                }
            }
            _ => Err(nom::Err::Failure(super::primitives::PError::expected(
                &i[1..],
                "a number",
            ))),
        },
        TokenKind::Word if t.is_word("TRUE") => Ok((&i[1..], (Literal::Bool(true), t.span))),
        TokenKind::Word if t.is_word("FALSE") => Ok((&i[1..], (Literal::Bool(false), t.span))),
        TokenKind::Word if t.is_word("NULL") => Ok((&i[1..], (Literal::Null, t.span))),
        _ => expected(i, "a literal"),
    }
}

/// An aggregate call: `count(*)`, `f(field)`, `f(DISTINCT field)` with `f`
/// one of count, sum, avg, min, max (any case). A non-reserved word followed
/// by `(` that is not an aggregate is an error.
pub(crate) fn agg_call(i: Input<'_>) -> PResult<'_, AggCall> {
    let (Some(name), Some(open)) = (i.first(), i.get(1)) else {
        return expected(i, "an aggregate call");
    };
    if name.kind != TokenKind::Word || is_reserved(name.text) || !open.is_sym(Sym::LParen) {
        return expected(i, "an aggregate call");
    }
    let func = match name.text.to_ascii_lowercase().as_str() {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        _ => {
            return fail(
                i,
                format!(
                    "unknown function {}, expected count, sum, avg, min or max",
                    name.describe()
                ),
                name.span,
            )
        }
    };
    let rest = &i[2..];
    let (rest, distinct) = opt(kw("DISTINCT"))(rest)?;
    let (rest, arg) = match (distinct, peek(rest)) {
        (None, Some(star)) if star.is_sym(Sym::Star) => {
            if func != AggFunc::Count {
                return fail(
                    rest,
                    format!("only count accepts '*', {}() needs a field", func.as_str()),
                    star.span,
                );
            }
            (&rest[1..], None)
        }
        _ => {
            let what = if func == AggFunc::Count && distinct.is_none() {
                "a field name or '*'"
            } else {
                "a field name"
            };
            let (rest, arg) = cut(label(what, ident("a field name")))(rest)?;
            (rest, Some(arg))
        }
    };
    let (rest, close) = cut(sym(Sym::RParen))(rest)?;
    Ok((
        rest,
        AggCall {
            func,
            arg,
            distinct: distinct.is_some(),
            span: name.span.to(close),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn parse(src: &str) -> Expr {
        let toks = lex(src);
        let (rest, e) = expr(&toks, 0).expect("parses");
        assert_eq!(rest.len(), 1, "all input consumed");
        e
    }

    fn sp(e: &Expr) -> (usize, usize) {
        let s = e.span();
        (s.start, s.end)
    }

    #[test]
    fn precedence_and_left_nesting() {
        let e = parse("a = 1 OR b = 2 AND NOT c = 3 AND d");
        assert_eq!(e.to_string(), "a = 1 OR b = 2 AND NOT c = 3 AND d");
        let Expr::Or(_, right) = &e else {
            panic!("expected OR at the top: {e:?}")
        };
        let Expr::And(left_and, _) = &**right else {
            panic!("expected AND: {right:?}")
        };
        assert!(matches!(**left_and, Expr::And(..)));
    }

    #[test]
    fn spans_cover_their_text() {
        let src = "NOT x IS NOT NULL";
        let e = parse(src);
        assert_eq!(sp(&e), (0, src.len()));
        let Expr::Not(inner, _) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(sp(inner), (4, src.len()));
        let e = parse("lang NOT IN ('en', -2)");
        assert_eq!(sp(&e), (0, 22));
        let Expr::InList { list, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(list[1], Literal::Int(-2));
        let e = parse("count(DISTINCT user) >= -1.5e3");
        let Expr::Cmp { left, right, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(sp(left), (0, 20));
        assert_eq!(sp(right), (24, 30));
        assert!(matches!(**right, Expr::Literal(Literal::Float(x), _) if x == -1500.0));
    }

    #[test]
    fn numbers() {
        assert_eq!(number_literal("42"), Some(Literal::Int(42)));
        assert_eq!(
            number_literal("-9223372036854775808"),
            Some(Literal::Int(i64::MIN))
        );
        assert_eq!(
            number_literal("9223372036854775808"),
            Some(Literal::Float(9223372036854775808.0))
        );
        assert_eq!(number_literal("1e2"), Some(Literal::Float(100.0)));
        assert_eq!(number_literal("1e999"), None);
    }

    #[test]
    fn keywords_as_fields() {
        let e = parse("count = 1 AND window > user AND text CONTAINS 'x'");
        assert_eq!(
            e.to_string(),
            "\"count\" = 1 AND \"window\" > user AND text CONTAINS 'x'"
        );
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&ok).to_string(), "a");
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let toks = lex(&deep);
        let Err(nom::Err::Failure(e)) = expr(&toks, 0) else {
            panic!("expected a failure")
        };
        let (msg, span) = e.custom.expect("custom message");
        assert_eq!(msg, "expression nested too deeply");
        assert_eq!((span.start, span.end), (MAX_DEPTH, MAX_DEPTH + 1));
    }
}
