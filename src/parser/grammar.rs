//! The grammar: recursive descent over the tokens of [`super::lexer`].
//!
//! Keywords are recognized by context, so common words (`user`, `text`,
//! `count`, `window`, `timestamp`…) work as field names and aliases wherever
//! that is unambiguous. Only the words in [`RESERVED`] must be double-quoted
//! to be used as names. Every error names the first token that cannot be
//! parsed and what was expected there.

use super::ast::*;
use super::lexer::{Tok, Token};
use crate::diagnostic::Diagnostic;

/// Words that cannot be bare identifiers (they would be ambiguous).
pub const RESERVED: &[&str] = &[
    "select", "from", "where", "group", "having", "order", "limit", "and", "or", "not", "in", "is",
    "as", "contains", "matches", "emit", "null", "true", "false",
];

/// Deepest nesting of parentheses and `NOT` accepted.
pub const MAX_DEPTH: usize = 64;

type PResult<T> = Result<T, Diagnostic>;

/// Parser state over a token list.
pub struct Parser<'t> {
    toks: &'t [Token],
    pos: usize,
    src_len: usize,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(q) => format!("'\"{q}\"'"),
        Tok::Str(s) => format!("'{}'", quote_str(s)),
        Tok::Number(n) => format!("'{n}'"),
        Tok::Punct(p) => format!("'{p}'"),
    }
}

impl<'t> Parser<'t> {
    /// A parser over `toks`, from text of length `src_len`.
    pub fn new(toks: &'t [Token], src_len: usize) -> Parser<'t> {
        Parser {
            toks,
            pos: 0,
            src_len,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&'t Token> {
        self.toks.get(self.pos + k)
    }

    fn here(&self) -> Span {
        match self.peek() {
            Some(t) => t.span,
            None => Span::new(self.src_len, self.src_len),
        }
    }

    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end
        }
    }

    fn expected(&self, what: &str) -> Diagnostic {
        let found = match self.peek() {
            Some(t) => describe(&t.tok),
            None => "end of input".to_string(),
        };
        Diagnostic::new(format!("expected {what}, found {found}"), self.here())
    }

    fn is_kw_at(&self, k: usize, kw: &str) -> bool {
        matches!(self.peek_at(k), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<Span> {
        let span = self.here();
        if self.eat_kw(kw) {
            Ok(span)
        } else {
            Err(self.expected(&kw.to_uppercase()))
        }
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        let span = self.here();
        if self.eat_punct(p) {
            Ok(span)
        } else {
            Err(self.expected(&format!("'{p}'")))
        }
    }

    fn is_ident_here(&self) -> bool {
        match self.peek() {
            Some(Token {
                tok: Tok::Quoted(_),
                ..
            }) => true,
            Some(Token {
                tok: Tok::Word(w), ..
            }) => !RESERVED.contains(&w.to_ascii_lowercase().as_str()),
            _ => false,
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        match self.peek() {
            Some(Token {
                tok: Tok::Quoted(q),
                span,
            }) => {
                self.pos += 1;
                Ok(Ident::new(q.clone(), *span))
            }
            Some(Token {
                tok: Tok::Word(w),
                span,
            }) if !RESERVED.contains(&w.to_ascii_lowercase().as_str()) => {
                self.pos += 1;
                Ok(Ident::new(w.clone(), *span))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Parses every statement of the input.
    pub fn statements(&mut self) -> PResult<Vec<SpannedStatement>> {
        let mut out = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.peek().is_none() {
                return Ok(out);
            }
            let start = self.here().start;
            let statement = self.statement()?;
            let span = Span::new(start, self.prev_end());
            out.push(SpannedStatement { statement, span });
            if self.peek().is_some() && !self.is_punct(";") {
                return Err(self.expected("';' or the end of input"));
            }
        }
    }

    fn statement(&mut self) -> PResult<Statement> {
        if self.eat_kw("create") {
            if self.eat_kw("stream") {
                return self.create_stream();
            }
            if self.eat_kw("query") {
                let name = self.ident("a query name")?;
                self.expect_kw("as")?;
                let select = self.select()?;
                return Ok(Statement::CreateQuery(CreateQuery { name, select }));
            }
            return Err(self.expected("STREAM or QUERY"));
        }
        if self.eat_kw("drop") {
            if self.eat_kw("stream") {
                return Ok(Statement::DropStream {
                    name: self.ident("a stream name")?,
                });
            }
            if self.eat_kw("query") {
                return Ok(Statement::DropQuery {
                    name: self.ident("a query name")?,
                });
            }
            return Err(self.expected("STREAM or QUERY"));
        }
        if self.eat_kw("explain") {
            let stream = if self.is_ident_here() {
                Some(self.ident("a stream name")?)
            } else {
                None
            };
            return Ok(Statement::Explain { stream });
        }
        Err(self.expected("CREATE, DROP or EXPLAIN"))
    }

    fn create_stream(&mut self) -> PResult<Statement> {
        let name = self.ident("a stream name")?;
        let mut columns = None;
        if self.eat_punct("(") {
            let mut cols = Vec::new();
            loop {
                let cname = self.ident("a column name")?;
                let (ty, ty_span) = self.data_type()?;
                cols.push(ColumnDef {
                    name: cname,
                    ty,
                    ty_span,
                });
                if self.eat_punct(")") {
                    break;
                }
                if !self.eat_punct(",") {
                    return Err(self.expected("',' or ')'"));
                }
            }
            columns = Some(cols);
        }
        let mut options = Vec::new();
        if self.eat_kw("with") {
            self.expect_punct("(")?;
            loop {
                let key = self.ident("an option name")?;
                self.expect_punct("=")?;
                let (value, value_span) = match self.peek() {
                    Some(Token {
                        tok: Tok::Str(s),
                        span,
                    })
                    | Some(Token {
                        tok: Tok::Number(s),
                        span,
                    }) => (s.clone(), *span),
                    Some(Token {
                        tok: Tok::Word(w),
                        span,
                    }) => (w.clone(), *span),
                    _ => return Err(self.expected("an option value such as 'json'")),
                };
                self.pos += 1;
                options.push(StreamOption {
                    key,
                    value,
                    value_span,
                });
                if self.eat_punct(")") {
                    break;
                }
                if !self.eat_punct(",") {
                    return Err(self.expected("',' or ')'"));
                }
            }
        }
        Ok(Statement::CreateStream(CreateStream {
            name,
            columns,
            options,
        }))
    }

    fn data_type(&mut self) -> PResult<(DataType, Span)> {
        let Some(Token {
            tok: Tok::Word(w),
            span,
        }) = self.peek()
        else {
            return Err(self.expected("a type such as TEXT"));
        };
        let ty = match w.to_ascii_lowercase().as_str() {
            "timestamp" => DataType::Timestamp,
            "text" | "varchar" | "string" => DataType::Text,
            "bigint" | "int" | "integer" => DataType::BigInt,
            "double" | "float" | "real" => DataType::Double,
            "boolean" | "bool" => DataType::Boolean,
            _ => return Err(Diagnostic::new(format!("unknown type '{w}'"), *span)),
        };
        self.pos += 1;
        let mut span = *span;
        let mut ty = ty;
        while self.is_punct("[") {
            self.pos += 1;
            let close = self.expect_punct("]")?;
            span = span.to(close);
            ty = DataType::Array(Box::new(ty));
        }
        Ok((ty, span))
    }

    fn is_window_clause(&self) -> bool {
        self.is_kw("window") && (self.is_kw_at(1, "tumbling") || self.is_kw_at(1, "sliding"))
    }

    fn select(&mut self) -> PResult<Select> {
        self.expect_kw("select")?;
        let mut items = Vec::new();
        loop {
            if self.is_punct("*") {
                items.push(SelectItem::Wildcard(self.here()));
                self.pos += 1;
            } else {
                if self.is_kw("from") {
                    return Err(self.expected("a select item"));
                }
                let expr = self.operand()?;
                // `AS` is optional before an alias.
                let alias = if self.eat_kw("as") || self.is_ident_here() {
                    Some(self.ident("an alias")?)
                } else {
                    None
                };
                items.push(SelectItem::Expr { expr, alias });
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_kw("from")?;
        let from = self.ident("a stream name")?;
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
        if self.eat_kw("where") {
            s.selection = Some(self.expr()?);
        }
        self.maybe_window(&mut s)?;
        if self.eat_kw("group") {
            self.expect_kw("by")?;
            loop {
                s.group_by.push(self.ident("a field to group by")?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.maybe_window(&mut s)?;
        if self.eat_kw("having") {
            s.having = Some(self.expr()?);
        }
        self.maybe_window(&mut s)?;
        if self.eat_kw("order") {
            self.expect_kw("by")?;
            loop {
                let expr = self.operand()?;
                let descending = if self.eat_kw("desc") {
                    true
                } else {
                    self.eat_kw("asc");
                    false
                };
                s.order_by.push(OrderItem { expr, descending });
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        if self.eat_kw("limit") {
            match self.peek() {
                Some(Token {
                    tok: Tok::Number(n),
                    span,
                }) => {
                    let k = n.parse::<u64>().map_err(|_| {
                        Diagnostic::new(format!("expected a whole number, found '{n}'"), *span)
                    })?;
                    self.pos += 1;
                    s.limit = Some(k);
                }
                _ => return Err(self.expected("a number")),
            }
        }
        if self.eat_kw("emit") {
            self.expect_kw("every")?;
            s.emit_every = Some(self.duration()?);
        }
        if self.is_window_clause() {
            return Err(Diagnostic::new(
                "WINDOW must come before ORDER BY, LIMIT and EMIT",
                self.here(),
            ));
        }
        Ok(s)
    }

    fn maybe_window(&mut self, s: &mut Select) -> PResult<()> {
        if !self.is_window_clause() {
            return Ok(());
        }
        if s.window.is_some() {
            return Err(Diagnostic::new("WINDOW is given twice", self.here()));
        }
        self.pos += 1;
        if self.eat_kw("tumbling") {
            s.window = Some(WindowSpec::Tumbling {
                size: self.duration()?,
            });
        } else {
            self.expect_kw("sliding")?;
            let size = self.duration()?;
            self.expect_kw("every")?;
            let slide = self.duration()?;
            s.window = Some(WindowSpec::Sliding { size, slide });
        }
        Ok(())
    }

    fn duration(&mut self) -> PResult<Duration> {
        let bad = |p: &Self| p.expected("a duration such as 10s");
        let Some(Token {
            tok: Tok::Number(n),
            span,
        }) = self.peek()
        else {
            return Err(bad(self));
        };
        let Ok(value) = n.parse::<i64>() else {
            return Err(bad(self));
        };
        let unit = match self.peek_at(1) {
            Some(Token {
                tok: Tok::Word(u),
                span: us,
            }) => Some((u.to_ascii_lowercase(), *us)),
            _ => None,
        };
        let mult = match unit.as_ref().map(|(u, _)| u.as_str()) {
            Some("ms") => 1,
            Some("s") => 1000,
            Some("m") => 60_000,
            Some("h") => 3_600_000,
            _ => {
                let end = unit.map_or(span.end, |(_, us)| us.end);
                return Err(Diagnostic::new(
                    format!(
                        "expected a duration such as 10s, found '{}'",
                        self.text_between(span.start, end, n)
                    ),
                    Span::new(span.start, end),
                ));
            }
        };
        let us = unit.expect("unit present").1;
        self.pos += 2;
        let ms = value
            .checked_mul(mult)
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                Diagnostic::new(
                    "a duration must be positive and at most 292 million years",
                    span.to(us),
                )
            })?;
        Ok(Duration {
            ms,
            span: span.to(us),
        })
    }

    fn text_between(&self, _start: usize, _end: usize, number: &str) -> String {
        match self.peek_at(1) {
            Some(Token {
                tok: Tok::Word(u),
                span,
            }) if span.start == self.here().end => format!("{number}{u}"),
            _ => number.to_string(),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::new("expression nested too deeply", self.here()));
        }
        Ok(())
    }

    /// `expr := and (OR and)*`
    pub fn expr(&mut self) -> PResult<Expr> {
        let mut left = self.and_expr()?;
        while self.eat_kw("or") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut left = self.not_expr()?;
        while self.eat_kw("and") {
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.is_kw("not") {
            let start = self.here();
            self.pos += 1;
            self.enter()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            let span = start.to(inner.span());
            return Ok(Expr::Not(Box::new(inner), span));
        }
        self.predicate()
    }

    fn string_lit(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.peek() {
            Some(Token {
                tok: Tok::Str(s),
                span,
            }) => {
                self.pos += 1;
                Ok((s.clone(), *span))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn predicate(&mut self) -> PResult<Expr> {
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Token {
                tok: Tok::Punct(p), ..
            }) => match *p {
                "=" => Some(CmpOp::Eq),
                "!=" | "<>" => Some(CmpOp::NotEq),
                "<" => Some(CmpOp::Lt),
                "<=" => Some(CmpOp::LtEq),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::GtEq),
                _ => None,
            },
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.operand()?;
            return Ok(Expr::Cmp {
                op,
                left: Box::new(left),
                right: Box::new(right),
            });
        }
        let negated_in = self.is_kw("not") && self.is_kw_at(1, "in");
        if negated_in || self.is_kw("in") {
            self.pos += if negated_in { 2 } else { 1 };
            self.expect_punct("(")?;
            let mut list = Vec::new();
            loop {
                let (lit, _) = self.literal()?;
                list.push(lit);
                if !self.eat_punct(",") {
                    break;
                }
            }
            let close = self.expect_punct(")")?;
            let span = left.span().to(close);
            return Ok(Expr::InList {
                expr: Box::new(left),
                list,
                negated: negated_in,
                span,
            });
        }
        if self.eat_kw("contains") {
            let (pattern, pattern_span) = self.string_lit("a string literal after CONTAINS")?;
            return Ok(Expr::Contains {
                expr: Box::new(left),
                pattern,
                pattern_span,
            });
        }
        if self.eat_kw("matches") {
            let (pattern, pattern_span) =
                self.string_lit("a string literal (the regex) after MATCHES")?;
            return Ok(Expr::Matches {
                expr: Box::new(left),
                pattern,
                pattern_span,
            });
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            let null = self.expect_kw("null")?;
            let span = left.span().to(null);
            return Ok(Expr::IsNull {
                expr: Box::new(left),
                negated,
                span,
            });
        }
        Ok(left)
    }

    fn literal(&mut self) -> PResult<(Literal, Span)> {
        let Some(t) = self.peek() else {
            return Err(self.expected("a literal"));
        };
        let lit = match &t.tok {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Number(n) => number_literal(n, false),
            Tok::Punct("-") => {
                if let Some(Token {
                    tok: Tok::Number(n),
                    span,
                }) = self.peek_at(1)
                {
                    self.pos += 2;
                    return Ok((number_literal(n, true), t.span.to(*span)));
                }
                return Err(self.expected("a literal"));
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Err(self.expected("a literal")),
        };
        self.pos += 1;
        Ok((lit, t.span))
    }

    fn operand(&mut self) -> PResult<Expr> {
        let Some(t) = self.peek() else {
            return Err(self.expected("an expression"));
        };
        match &t.tok {
            Tok::Punct("(") => {
                self.pos += 1;
                self.enter()?;
                let e = self.expr()?;
                self.depth -= 1;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Str(_) | Tok::Number(_) | Tok::Punct("-") => {
                let (lit, span) = self.literal()?;
                Ok(Expr::Literal(lit, span))
            }
            Tok::Word(w)
                if ["null", "true", "false"].contains(&w.to_ascii_lowercase().as_str()) =>
            {
                let (lit, span) = self.literal()?;
                Ok(Expr::Literal(lit, span))
            }
            Tok::Word(w) if self.is_punct_at(1, "(") && agg_func(w).is_some() => {
                let func = agg_func(w).expect("checked");
                let start = t.span;
                self.pos += 2;
                let distinct = self.eat_kw("distinct");
                let arg = if !distinct && self.is_punct("*") {
                    if func != AggFunc::Count {
                        return Err(Diagnostic::new(
                            format!("{}(*) is not defined; name a field", func.as_str()),
                            self.here(),
                        ));
                    }
                    self.pos += 1;
                    None
                } else {
                    Some(self.ident("a field name")?)
                };
                let close = self.expect_punct(")")?;
                Ok(Expr::Agg(AggCall {
                    func,
                    arg,
                    distinct,
                    span: start.to(close),
                }))
            }
            _ => {
                let id = self.ident("an expression")?;
                Ok(Expr::Field(id))
            }
        }
    }

    fn is_punct_at(&self, k: usize, p: &str) -> bool {
        matches!(self.peek_at(k), Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
    }
}

fn agg_func(w: &str) -> Option<AggFunc> {
    Some(match w.to_ascii_lowercase().as_str() {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        _ => return None,
    })
}

fn number_literal(n: &str, negative: bool) -> Literal {
    let text = if negative {
        format!("-{n}")
    } else {
        n.to_string()
    };
    match text.parse::<i64>() {
        Ok(i) => Literal::Int(i),
        Err(_) => Literal::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)),
    }
}
