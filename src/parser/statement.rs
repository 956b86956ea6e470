//! Statements: `CREATE STREAM`, `CREATE QUERY … AS SELECT …`, `DROP`,
//! `EXPLAIN`, with column types, stream options, durations and the clauses of
//! a query.
//!
//! Every statement parser stops at `;` or the end of the input without
//! consuming it, and fails there with the list of what could have come next.

use super::ast::{
    ColumnDef, CreateQuery, CreateStream, DataType, Duration, Ident, OrderItem, Select, SelectItem,
    Span, Statement, StreamOption, WindowSpec,
};
use super::expr::{agg_call, expr};
use super::lexer::{Sym, TokenKind};
use super::primitives::{
    at_statement_end, comma_list1, expected, fail, ident, is_ident, kw, label, peek, statement_end,
    sym, Input, PError, PResult,
};
use nom::branch::alt;
use nom::combinator::{cut, map, opt};
use nom::sequence::preceded;
use nom::Err;

/// One statement, up to (not including) its `;`.
pub(crate) fn statement(i: Input<'_>) -> PResult<'_, Statement> {
    match peek(i) {
        Some(t) if t.is_word("CREATE") => cut(alt((create_stream, create_query)))(&i[1..]),
        Some(t) if t.is_word("DROP") => {
            let (rest, stmt) = cut(alt((
                map(preceded(kw("QUERY"), cut(ident("a query name"))), |name| {
                    Statement::DropQuery { name }
                }),
                map(
                    preceded(kw("STREAM"), cut(ident("a stream name"))),
                    |name| Statement::DropStream { name },
                ),
            )))(&i[1..])?;
            let (rest, ()) = statement_end(rest, &[])?;
            Ok((rest, stmt))
        }
        Some(t) if t.is_word("EXPLAIN") => {
            let rest = &i[1..];
            if at_statement_end(rest) {
                return Ok((rest, Statement::Explain { stream: None }));
            }
            let (rest, stream) = cut(ident("a stream name or ';'"))(rest)?;
            let (rest, ()) = statement_end(rest, &[])?;
            Ok((
                rest,
                Statement::Explain {
                    stream: Some(stream),
                },
            ))
        }
        _ => Err(Err::Error(PError {
            remaining: i.len(),
            expected: vec!["CREATE".into(), "DROP".into(), "EXPLAIN".into()],
            custom: None,
        })),
    }
}

/// `STREAM name [(col type, …)] [WITH (key = value, …)]` after `CREATE`.
fn create_stream(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, _) = kw("STREAM")(i)?;
    let (i, name) = cut(ident("a stream name"))(i)?;
    let (i, columns) = opt(preceded(
        sym(Sym::LParen),
        cut(|i| {
            let (i, cols) = comma_list1(column_def)(i)?;
            let (i, _) = sym(Sym::RParen)(i)?;
            Ok((i, cols))
        }),
    ))(i)?;
    let (i, options) = opt(preceded(
        kw("WITH"),
        cut(|i| {
            let (i, _) = sym(Sym::LParen)(i)?;
            let (i, opts) = comma_list1(stream_option)(i)?;
            let (i, _) = sym(Sym::RParen)(i)?;
            Ok((i, opts))
        }),
    ))(i)?;
    let more: &[&str] = match (&columns, &options) {
        (None, None) => &["'('", "WITH"],
        (Some(_), None) => &["WITH"],
        _ => &[],
    };
    let (i, ()) = statement_end(i, more)?;
    Ok((
        i,
        Statement::CreateStream(CreateStream {
            name,
            columns,
            options: options.unwrap_or_default(),
        }),
    ))
}

fn column_def(i: Input<'_>) -> PResult<'_, ColumnDef> {
    let (i, name) = ident("a column name")(i)?;
    let (i, (ty, ty_span)) = cut(data_type)(i)?;
    Ok((i, ColumnDef { name, ty, ty_span }))
}

/// A type name, optionally followed by one or more `[]`.
pub(crate) fn data_type(i: Input<'_>) -> PResult<'_, (DataType, Span)> {
    let Some(t) = peek(i) else {
        return expected(i, "a type");
    };
    if t.kind != TokenKind::Word {
        return expected(i, "a type");
    }
    let mut ty = match t.text.to_ascii_uppercase().as_str() {
        "TIMESTAMP" => DataType::Timestamp,
        "TEXT" | "VARCHAR" | "STRING" => DataType::Text,
        "BIGINT" | "INT" | "INTEGER" => DataType::BigInt,
        "DOUBLE" | "FLOAT" | "REAL" => DataType::Double,
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        _ => return fail(i, format!("unknown type {}", t.describe()), t.span),
    };
    let mut span = t.span;
    let mut i = &i[1..];
    while let Ok((rest, _)) = sym(Sym::LBracket)(i) {
        let (rest, close) = cut(sym(Sym::RBracket))(rest)?;
        ty = DataType::Array(Box::new(ty));
        span = span.to(close);
        i = rest;
    }
    Ok((i, (ty, span)))
}

/// `key = 'value'` or `key = number`.
fn stream_option(i: Input<'_>) -> PResult<'_, StreamOption> {
    let (i, key) = ident("an option name")(i)?;
    let (i, _) = cut(sym(Sym::Eq))(i)?;
    let (first, second) = (peek(i), i.get(1));
    let (rest, value, value_span) = match (first, second) {
        (Some(t), _) if matches!(t.kind, TokenKind::Str(_)) => {
            let TokenKind::Str(s) = &t.kind else {
                unreachable!()
            };
            (&i[1..], s.clone(), t.span)
        }
        (Some(t), _) if t.kind == TokenKind::Number => (&i[1..], t.text.to_string(), t.span),
        (Some(m), Some(n)) if m.is_sym(Sym::Minus) && n.kind == TokenKind::Number => {
            (&i[2..], format!("-{}", n.text), m.span.to(n.span))
        }
        _ => {
            return Err(Err::Failure(PError::expected(
                i,
                "a string literal or a number",
            )))
        }
    };
    Ok((
        rest,
        StreamOption {
            key,
            value,
            value_span,
        },
    ))
}

/// A positive whole number of `ms`, `s`, `m` or `h`, e.g. `10s`, `5 m`.
pub(crate) fn duration(i: Input<'_>) -> PResult<'_, Duration> {
    let Some(num) = peek(i) else {
        return expected(i, "a duration such as 10s");
    };
    if num.kind != TokenKind::Number {
        return expected(i, "a duration such as 10s");
    }
    let next = i.get(1);
    let unit_ms = next.filter(|u| u.kind == TokenKind::Word).and_then(|u| {
        match u.text.to_ascii_lowercase().as_str() {
            "ms" => Some(1),
            "s" => Some(1_000),
            "m" => Some(60_000),
            "h" => Some(3_600_000),
            _ => None,
        }
    });
    // The text shown in errors: the number and an adjacent or valid unit.
    let unit = next.filter(|u| {
        unit_ms.is_some() || (u.span.start == num.span.end && u.kind != TokenKind::Eof)
    });
    let span = unit.map_or(num.span, |u| num.span.to(u.span));
    let shown = format!("'{}{}'", num.text, unit.map_or("", |u| u.text));
    let (Some(unit_ms), true) = (unit_ms, num.text.bytes().all(|b| b.is_ascii_digit())) else {
        return fail(
            i,
            format!("expected a duration such as 10s, found {shown}"),
            span,
        );
    };
    let Some(ms) = num
        .text
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
    else {
        return fail(i, format!("duration too large: {shown}"), span);
    };
    if ms == 0 {
        return fail(
            i,
            format!("a duration must be greater than zero, found {shown}"),
            span,
        );
    }
    Ok((&i[2..], Duration { ms, span }))
}

/// `QUERY name AS SELECT …` after `CREATE`.
fn create_query(i: Input<'_>) -> PResult<'_, Statement> {
    let (i, _) = kw("QUERY")(i)?;
    let (i, name) = cut(ident("a query name"))(i)?;
    let (i, _) = cut(kw("AS"))(i)?;
    let (i, select) = cut(select)(i)?;
    Ok((i, Statement::CreateQuery(CreateQuery { name, select })))
}

/// A field or an aggregate call with an optional alias, or `*`.
fn select_item(i: Input<'_>) -> PResult<'_, SelectItem> {
    if let Ok((rest, span)) = sym(Sym::Star)(i) {
        return Ok((rest, SelectItem::Wildcard(span)));
    }
    let (i, expr) = label(
        "a field, an aggregate call or '*'",
        alt((
            map(agg_call, super::ast::Expr::Agg),
            map(ident("a field name"), super::ast::Expr::Field),
        )),
    )(i)?;
    let (i, alias) = alias(i)?;
    Ok((i, SelectItem::Expr { expr, alias }))
}

/// `AS name`, or a bare name when it is followed by `,` or `FROM` (so a
/// misspelled `FROM` is not taken for an alias).
fn alias(i: Input<'_>) -> PResult<'_, Option<Ident>> {
    if let Ok((rest, _)) = kw("AS")(i) {
        let (rest, name) = cut(ident("an alias"))(rest)?;
        return Ok((rest, Some(name)));
    }
    match (i.first(), i.get(1)) {
        (Some(name), Some(after))
            if is_ident(name) && (after.is_sym(Sym::Comma) || after.is_word("FROM")) =>
        {
            let (rest, name) = ident("an alias")(i)?;
            Ok((rest, Some(name)))
        }
        _ => Ok((i, None)),
    }
}

/// The clauses after `FROM`, in their canonical order; the position of each
/// is its rank here. WINDOW may come at any rank up to HAVING.
const CLAUSES: [&str; 6] = ["WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", "EMIT"];

fn window(i: Input<'_>) -> PResult<'_, WindowSpec> {
    cut(alt((
        map(preceded(kw("TUMBLING"), cut(duration)), |size| {
            WindowSpec::Tumbling { size }
        }),
        preceded(kw("SLIDING"), |i| {
            let (i, size) = cut(duration)(i)?;
            let (i, _) = cut(kw("EVERY"))(i)?;
            let (i, slide) = cut(duration)(i)?;
            Ok((i, WindowSpec::Sliding { size, slide }))
        }),
    )))(i)
}

fn order_item(i: Input<'_>) -> PResult<'_, OrderItem> {
    let (i, e) = expr(i, 0)?;
    let (i, dir) = opt(alt((map(kw("ASC"), |_| false), map(kw("DESC"), |_| true))))(i)?;
    Ok((
        i,
        OrderItem {
            expr: e,
            descending: dir.unwrap_or(false),
        },
    ))
}

fn limit_count(i: Input<'_>) -> PResult<'_, u64> {
    match peek(i) {
        Some(t) if t.kind == TokenKind::Number && t.text.bytes().all(|b| b.is_ascii_digit()) => {
            match t.text.parse::<u64>() {
                Ok(n) => Ok((&i[1..], n)),
                Err(_) => fail(i, format!("LIMIT too large: {}", t.describe()), t.span),
            }
        }
        _ => expected(i, "a whole number"),
    }
}

/// `SELECT items FROM stream` and the optional clauses.
fn select(i: Input<'_>) -> PResult<'_, Select> {
    let (i, _) = kw("SELECT")(i)?;
    let (i, items) = cut(comma_list1(select_item))(i)?;
    let (i, _) = cut(kw("FROM"))(i)?;
    let (mut i, from) = cut(ident("a stream name"))(i)?;
    let mut s = Select {
        items,
        from,
        selection: None,
        group_by: Vec::new(),
        having: None,
        window: None,
        order_by: Vec::new(),
        limit: None,
        emit_every: None,
    };
    // Rank of the last clause parsed (0 = none yet).
    let mut rank = 0;
    while let Some(t) = peek(i) {
        let rest = &i[1..];
        let (next, new_rank) = if t.is_word("WHERE") && rank < 1 {
            let (r, e) = cut(|i| expr(i, 0))(rest)?;
            s.selection = Some(e);
            (r, 1)
        } else if t.is_word("GROUP") && rank < 2 {
            let (r, _) = cut(kw("BY"))(rest)?;
            let (r, fields) = cut(comma_list1(ident("a field name")))(r)?;
            s.group_by = fields;
            (r, 2)
        } else if t.is_word("HAVING") && rank < 3 {
            let (r, e) = cut(|i| expr(i, 0))(rest)?;
            s.having = Some(e);
            (r, 3)
        } else if t.is_word("WINDOW") && rank <= 3 {
            if s.window.is_some() {
                return fail(i, "duplicate WINDOW clause", t.span);
            }
            let (r, w) = window(rest)?;
            s.window = Some(w);
            (r, rank)
        } else if t.is_word("ORDER") && rank < 4 {
            let (r, _) = cut(kw("BY"))(rest)?;
            let (r, items) = cut(comma_list1(order_item))(r)?;
            s.order_by = items;
            (r, 4)
        } else if t.is_word("LIMIT") && rank < 5 {
            let (r, n) = cut(limit_count)(rest)?;
            s.limit = Some(n);
            (r, 5)
        } else if t.is_word("EMIT") && rank < 6 {
            let (r, _) = cut(kw("EVERY"))(rest)?;
            let (r, d) = cut(duration)(r)?;
            s.emit_every = Some(d);
            (r, 6)
        } else {
            break;
        };
        i = next;
        rank = new_rank;
    }
    let mut more: Vec<&str> = Vec::new();
    for (k, clause) in CLAUSES.iter().enumerate() {
        if k == 3 && rank <= 3 && s.window.is_none() {
            more.push("WINDOW");
        }
        if k >= rank {
            more.push(clause);
        }
    }
    let (i, ()) = statement_end(i, &more)?;
    Ok((i, s))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn dur(src: &str) -> Result<i64, String> {
        let toks = lex(src);
        match duration(&toks) {
            Ok((_, d)) => Ok(d.ms),
            Err(Err::Error(e) | Err::Failure(e)) => {
                Err(e.custom.map_or(e.expected.join("|"), |(m, _)| m))
            }
            Err(Err::Incomplete(_)) => Err("incomplete".into()),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(dur("10s"), Ok(10_000));
        assert_eq!(dur("500MS"), Ok(500));
        assert_eq!(dur("5 m"), Ok(300_000));
        assert_eq!(dur("2h"), Ok(7_200_000));
        assert_eq!(
            dur("10x"),
            Err("expected a duration such as 10s, found '10x'".into())
        );
        assert_eq!(
            dur("10 EVERY"),
            Err("expected a duration such as 10s, found '10'".into())
        );
        assert_eq!(
            dur("0s"),
            Err("a duration must be greater than zero, found '0s'".into())
        );
        assert_eq!(
            dur("1.5s"),
            Err("expected a duration such as 10s, found '1.5s'".into())
        );
        assert_eq!(
            dur("99999999999999h"),
            Err("duration too large: '99999999999999h'".into())
        );
        assert_eq!(dur("s"), Err("a duration such as 10s".into()));
    }

    #[test]
    fn types() {
        let toks = lex("text[][] x");
        let (_, (ty, span)) = data_type(&toks).unwrap();
        assert_eq!(ty.to_string(), "TEXT[][]");
        assert_eq!((span.start, span.end), (0, 8));
        for (src, want) in [
            ("int", "BIGINT"),
            ("Real", "DOUBLE"),
            ("bool", "BOOLEAN"),
            ("varchar", "TEXT"),
        ] {
            let toks = lex(src);
            assert_eq!(data_type(&toks).unwrap().1 .0.to_string(), want);
        }
    }

    #[test]
    fn window_can_follow_where_group_or_having() {
        for src in [
            "SELECT a FROM t WINDOW TUMBLING 1m WHERE a = 1 GROUP BY a HAVING a > 1",
            "SELECT a FROM t WHERE a = 1 WINDOW TUMBLING 1m GROUP BY a HAVING a > 1",
            "SELECT a FROM t WHERE a = 1 GROUP BY a WINDOW TUMBLING 1m HAVING a > 1",
            "SELECT a FROM t WHERE a = 1 GROUP BY a HAVING a > 1 WINDOW TUMBLING 1m",
        ] {
            let toks = lex(src);
            let (_, s) = select(&toks).unwrap();
            assert_eq!(
                s.to_string(),
                "SELECT a FROM t WHERE a = 1 GROUP BY a HAVING a > 1 WINDOW TUMBLING 1m"
            );
        }
    }
}
