//! The syntax tree of Shoal's SQL dialect.
//!
//! Every node carries a [`Span`] into the source text so that later stages
//! (type checks, name resolution) can point at the offending token. Spans are
//! ignored by `PartialEq` and `Hash`, so two expressions written in different
//! places compare equal when they say the same thing: the planner hash-conses
//! predicates directly on these types. `Display` prints canonical SQL, which
//! parses back to an equal tree.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A byte range `start..end` in the statement source.
///
/// Equality and hashing ignore spans on purpose (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl Hash for Span {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

/// A name: a stream, query, field, alias or option key, as written
/// (double quotes removed, case kept).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The name itself.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

impl Ident {
    /// An identifier with a span.
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident {
            name: name.into(),
            span,
        }
    }
}

/// One statement of the language.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::large_enum_variant)] // Statements are few; boxing would change the shape.
pub enum Statement {
    /// `CREATE STREAM name [(columns)] WITH (options)`.
    CreateStream(CreateStream),
    /// `CREATE QUERY name AS SELECT …`.
    CreateQuery(CreateQuery),
    /// `DROP QUERY name`.
    DropQuery {
        /// The query to drop.
        name: Ident,
    },
    /// `DROP STREAM name`.
    DropStream {
        /// The stream to drop.
        name: Ident,
    },
    /// `EXPLAIN [stream]`: print the shared plan of one stream or of all.
    Explain {
        /// The stream to explain; all streams when absent.
        stream: Option<Ident>,
    },
}

/// A statement together with where it stands in the source.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpannedStatement {
    /// The statement.
    pub statement: Statement,
    /// The statement's text, without the terminating semicolon.
    pub span: Span,
}

/// `CREATE STREAM`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CreateStream {
    /// The stream's name.
    pub name: Ident,
    /// Declared columns; `None` when the stream is dynamically typed.
    pub columns: Option<Vec<ColumnDef>>,
    /// The `WITH (key = 'value', …)` options, in source order.
    pub options: Vec<StreamOption>,
}

/// One `key = 'value'` entry of `WITH (…)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamOption {
    /// The option key, e.g. `source`.
    pub key: Ident,
    /// The option value: a string literal, or a number written bare.
    pub value: String,
    /// Where the value was written.
    pub value_span: Span,
}

/// A declared column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnDef {
    /// Column name.
    pub name: Ident,
    /// Declared type.
    pub ty: DataType,
    /// Where the type was written.
    pub ty_span: Span,
}

/// Column types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `TIMESTAMP`: epoch milliseconds or an RFC 3339 string on input, milliseconds inside.
    Timestamp,
    /// `TEXT` (also `VARCHAR`, `STRING`).
    Text,
    /// `BIGINT` (also `INT`, `INTEGER`).
    BigInt,
    /// `DOUBLE` (also `FLOAT`, `REAL`).
    Double,
    /// `BOOLEAN` (also `BOOL`).
    Boolean,
    /// `T[]`: an array of `T`.
    Array(Box<DataType>),
}

/// `CREATE QUERY`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CreateQuery {
    /// The query's name.
    pub name: Ident,
    /// Its body.
    pub select: Select,
}

/// The body of a standing query.
///
/// Clause order in canonical form: `SELECT … FROM … WHERE … GROUP BY … HAVING …
/// WINDOW … ORDER BY … LIMIT … EMIT EVERY …`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Select {
    /// Output columns.
    pub items: Vec<SelectItem>,
    /// The stream read.
    pub from: Ident,
    /// `WHERE` predicate.
    pub selection: Option<Expr>,
    /// `GROUP BY` fields.
    pub group_by: Vec<Ident>,
    /// `HAVING` predicate over outputs and aggregates.
    pub having: Option<Expr>,
    /// `WINDOW …`; `None` for running totals or filters.
    pub window: Option<WindowSpec>,
    /// `ORDER BY` items.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT k`.
    pub limit: Option<u64>,
    /// `EMIT EVERY d`: push running partial values every `d` milliseconds.
    pub emit_every: Option<Duration>,
}

/// One item of the select list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SelectItem {
    /// `*`.
    Wildcard(Span),
    /// An expression (a field or an aggregate call) with an optional alias.
    Expr {
        /// The expression.
        expr: Expr,
        /// `AS alias` (the `AS` keyword is optional).
        alias: Option<Ident>,
    },
}

/// A window clause.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WindowSpec {
    /// `WINDOW TUMBLING size`.
    Tumbling {
        /// Window length.
        size: Duration,
    },
    /// `WINDOW SLIDING size EVERY slide`.
    Sliding {
        /// Window length.
        size: Duration,
        /// Distance between window starts.
        slide: Duration,
    },
}

impl WindowSpec {
    /// Window length in milliseconds.
    pub fn size_ms(&self) -> i64 {
        match self {
            WindowSpec::Tumbling { size } | WindowSpec::Sliding { size, .. } => size.ms,
        }
    }

    /// Distance between window starts in milliseconds.
    pub fn slide_ms(&self) -> i64 {
        match self {
            WindowSpec::Tumbling { size } => size.ms,
            WindowSpec::Sliding { slide, .. } => slide.ms,
        }
    }
}

/// A length of time written like `10s`, `500ms`, `5m`, `1h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    /// Milliseconds.
    pub ms: i64,
    /// Where it was written.
    pub span: Span,
}

/// One `ORDER BY` item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderItem {
    /// The expression: an output name or an aggregate call.
    pub expr: Expr,
    /// `DESC` when true; `ASC` (the default) when false.
    pub descending: bool,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
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
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }

    /// The SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// Aggregate functions.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AggFunc {
    /// `count(*)`, `count(f)`, `count(DISTINCT f)`.
    Count,
    /// `sum(f)`.
    Sum,
    /// `avg(f)`.
    Avg,
    /// `min(f)`.
    Min,
    /// `max(f)`.
    Max,
}

impl AggFunc {
    /// The lower-case SQL name.
    pub fn as_str(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// A literal value.
#[derive(Clone, Debug)]
pub enum Literal {
    /// `NULL`
    Null,
    /// `TRUE` / `FALSE`
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A single-quoted string (`''` already turned into `'`).
    Str(String),
}

impl PartialEq for Literal {
    fn eq(&self, other: &Literal) -> bool {
        match (self, other) {
            (Literal::Null, Literal::Null) => true,
            (Literal::Bool(a), Literal::Bool(b)) => a == b,
            (Literal::Int(a), Literal::Int(b)) => a == b,
            (Literal::Float(a), Literal::Float(b)) => a.to_bits() == b.to_bits(),
            (Literal::Str(a), Literal::Str(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Literal {}

impl Hash for Literal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Literal::Null => {}
            Literal::Bool(b) => b.hash(state),
            Literal::Int(i) => i.hash(state),
            Literal::Float(f) => f.to_bits().hash(state),
            Literal::Str(s) => s.hash(state),
        }
    }
}

/// An expression: predicates in `WHERE`/`HAVING`, items in `SELECT`/`ORDER BY`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A field of the record (or, in `HAVING`/`ORDER BY`, an output name).
    Field(Ident),
    /// A literal.
    Literal(Literal, Span),
    /// An aggregate call.
    Agg(AggCall),
    /// `left op right`.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `expr [NOT] IN (lit, …)`.
    InList {
        /// The tested expression.
        expr: Box<Expr>,
        /// The literals.
        list: Vec<Literal>,
        /// `NOT IN` when true.
        negated: bool,
        /// The span of the whole predicate.
        span: Span,
    },
    /// `expr CONTAINS 'lit'`.
    Contains {
        /// The tested expression.
        expr: Box<Expr>,
        /// The literal searched for.
        pattern: String,
        /// Where the literal was written.
        pattern_span: Span,
    },
    /// `expr MATCHES 'regex'`.
    Matches {
        /// The tested expression.
        expr: Box<Expr>,
        /// The regular expression (regex-automata syntax).
        pattern: String,
        /// Where the literal was written.
        pattern_span: Span,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// The tested expression.
        expr: Box<Expr>,
        /// `IS NOT NULL` when true.
        negated: bool,
        /// The span of the whole predicate.
        span: Span,
    },
    /// `a AND b`.
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`.
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>, Span),
}

/// An aggregate call such as `count(DISTINCT user)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// The argument field; `None` for `count(*)`.
    pub arg: Option<Ident>,
    /// `DISTINCT` was written.
    pub distinct: bool,
    /// The whole call.
    pub span: Span,
}

impl Expr {
    /// The source span covering the whole expression.
    pub fn span(&self) -> Span {
        match self {
            Expr::Field(id) => id.span,
            Expr::Literal(_, s) => *s,
            Expr::Agg(a) => a.span,
            Expr::Cmp { left, right, .. } => left.span().to(right.span()),
            Expr::InList { span, .. } | Expr::IsNull { span, .. } | Expr::Not(_, span) => *span,
            Expr::Contains {
                expr, pattern_span, ..
            }
            | Expr::Matches {
                expr, pattern_span, ..
            } => expr.span().to(*pattern_span),
            Expr::And(a, b) | Expr::Or(a, b) => a.span().to(b.span()),
        }
    }
}

// ---------------------------------------------------------------------------
// Canonical SQL printing.
// ---------------------------------------------------------------------------

/// Words that must be double-quoted when printed as identifiers so that the
/// canonical text parses back to the same tree.
const RESERVED: &[&str] = &[
    "select", "from", "where", "group", "by", "having", "window", "order", "limit", "emit", "and",
    "or", "not", "in", "is", "null", "true", "false", "contains", "matches", "as", "create",
    "drop", "stream", "query", "with", "explain", "tumbling", "sliding", "every", "asc", "desc",
    "distinct", "count", "sum", "avg", "min", "max",
];

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.name.is_empty()
            && self
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !RESERVED.contains(&self.name.to_ascii_lowercase().as_str());
        if plain {
            f.write_str(&self.name)
        } else {
            write!(f, "\"{}\"", self.name.replace('"', "\"\""))
        }
    }
}

/// Writes `s` as a single-quoted SQL string literal.
pub fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x:?}")
                }
            }
            Literal::Str(s) => f.write_str(&quote_str(s)),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.ms;
        if ms != 0 && ms % 3_600_000 == 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms != 0 && ms % 60_000 == 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms != 0 && ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Timestamp => f.write_str("TIMESTAMP"),
            DataType::Text => f.write_str("TEXT"),
            DataType::BigInt => f.write_str("BIGINT"),
            DataType::Double => f.write_str("DOUBLE"),
            DataType::Boolean => f.write_str("BOOLEAN"),
            DataType::Array(t) => write!(f, "{t}[]"),
        }
    }
}

impl fmt::Display for AggCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            None => write!(f, "{}(*)", self.func.as_str()),
            Some(arg) if self.distinct => write!(f, "{}(DISTINCT {arg})", self.func.as_str()),
            Some(arg) => write!(f, "{}({arg})", self.func.as_str()),
        }
    }
}

impl Expr {
    /// Binding strength, used to print the fewest parentheses that keep the tree.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            Expr::Not(..) => 3,
            Expr::Cmp { .. }
            | Expr::InList { .. }
            | Expr::Contains { .. }
            | Expr::Matches { .. }
            | Expr::IsNull { .. } => 4,
            _ => 5,
        }
    }

    fn fmt_child(&self, child: &Expr, min: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if child.precedence() < min {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Field(id) => write!(f, "{id}"),
            Expr::Literal(lit, _) => write!(f, "{lit}"),
            Expr::Agg(call) => write!(f, "{call}"),
            Expr::Cmp { op, left, right } => {
                self.fmt_child(left, 5, f)?;
                write!(f, " {} ", op.as_str())?;
                self.fmt_child(right, 5, f)
            }
            Expr::InList {
                expr,
                list,
                negated,
                ..
            } => {
                self.fmt_child(expr, 5, f)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                for (i, lit) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{lit}")?;
                }
                f.write_str(")")
            }
            Expr::Contains { expr, pattern, .. } => {
                self.fmt_child(expr, 5, f)?;
                write!(f, " CONTAINS {}", quote_str(pattern))
            }
            Expr::Matches { expr, pattern, .. } => {
                self.fmt_child(expr, 5, f)?;
                write!(f, " MATCHES {}", quote_str(pattern))
            }
            Expr::IsNull { expr, negated, .. } => {
                self.fmt_child(expr, 5, f)?;
                f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
            }
            Expr::And(a, b) => {
                self.fmt_child(a, 2, f)?;
                f.write_str(" AND ")?;
                self.fmt_child(b, 3, f)
            }
            Expr::Or(a, b) => {
                self.fmt_child(a, 1, f)?;
                f.write_str(" OR ")?;
                self.fmt_child(b, 2, f)
            }
            Expr::Not(a, _) => {
                f.write_str("NOT ")?;
                self.fmt_child(a, 3, f)
            }
        }
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match item {
                SelectItem::Wildcard(_) => f.write_str("*")?,
                SelectItem::Expr { expr, alias } => {
                    write!(f, "{expr}")?;
                    if let Some(alias) = alias {
                        write!(f, " AS {alias}")?;
                    }
                }
            }
        }
        write!(f, " FROM {}", self.from)?;
        if let Some(sel) = &self.selection {
            write!(f, " WHERE {sel}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            for (i, g) in self.group_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{g}")?;
            }
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        match &self.window {
            Some(WindowSpec::Tumbling { size }) => write!(f, " WINDOW TUMBLING {size}")?,
            Some(WindowSpec::Sliding { size, slide }) => {
                write!(f, " WINDOW SLIDING {size} EVERY {slide}")?
            }
            None => {}
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, o) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", o.expr)?;
                if o.descending {
                    f.write_str(" DESC")?;
                }
            }
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        if let Some(every) = &self.emit_every {
            write!(f, " EMIT EVERY {every}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateStream(cs) => {
                write!(f, "CREATE STREAM {}", cs.name)?;
                if let Some(cols) = &cs.columns {
                    f.write_str(" (")?;
                    for (i, c) in cols.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{} {}", c.name, c.ty)?;
                    }
                    f.write_str(")")?;
                }
                if !cs.options.is_empty() {
                    f.write_str(" WITH (")?;
                    for (i, o) in cs.options.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{} = {}", o.key, quote_str(&o.value))?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            Statement::CreateQuery(cq) => write!(f, "CREATE QUERY {} AS {}", cq.name, cq.select),
            Statement::DropQuery { name } => write!(f, "DROP QUERY {name}"),
            Statement::DropStream { name } => write!(f, "DROP STREAM {name}"),
            Statement::Explain { stream: None } => f.write_str("EXPLAIN"),
            Statement::Explain { stream: Some(s) } => write!(f, "EXPLAIN {s}"),
        }
    }
}
