//! Query resolution: a parsed `SELECT` checked against its stream and turned
//! into a [`QuerySpec`], the form the shared plan is built from.
//!
//! Checks done here: the stream exists, fields exist and have fitting types
//! (when the stream declares columns), regexes parse, aggregate queries
//! select only grouped fields, outputs have distinct names, windows are sane.

use super::catalog::StreamDef;
use super::predicate::{Atom, Pred, Truth};
use super::PlanError;
use crate::diagnostic::Diagnostic;
use crate::parser::ast::{
    AggCall, AggFunc, CmpOp, DataType, Expr, Ident, Literal, Select, SelectItem, Span, WindowSpec,
};
use crate::value::{OwnedValue, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A resolved standing query.
#[derive(Clone, Debug)]
pub struct QuerySpec {
    /// The query's name.
    pub name: Arc<str>,
    /// The stream it reads.
    pub stream: String,
    /// The statement text, for listing.
    pub text: String,
    /// The normalized `WHERE` predicate (`TRUE` when absent).
    pub filter: Pred,
    /// Filter or aggregate.
    pub kind: QueryKind,
}

/// The two shapes of query.
#[derive(Clone, Debug)]
pub enum QueryKind {
    /// No aggregates: each matching record is emitted, projected.
    Filter(Projection),
    /// Grouped aggregates, windowed or running.
    Aggregate(Box<AggQuery>),
}

/// What a filter query emits of each matching record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    /// `SELECT *`: the whole record.
    Star,
    /// Named fields: (output name, field).
    Fields(Vec<(Arc<str>, String)>),
}

/// One aggregate computation; equal specs share one accumulator.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct AggSpec {
    /// The function.
    pub func: AggFunc,
    /// The argument field; `None` for `count(*)`.
    pub arg: Option<String>,
    /// `count(DISTINCT …)`.
    pub distinct: bool,
}

impl std::fmt::Display for AggSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.arg {
            None => write!(f, "{}(*)", self.func.as_str()),
            Some(a) if self.distinct => write!(f, "{}(DISTINCT {a})", self.func.as_str()),
            Some(a) => write!(f, "{}({a})", self.func.as_str()),
        }
    }
}

/// A window in milliseconds, aligned to the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Length.
    pub size_ms: i64,
    /// Distance between starts (equal to `size_ms` for tumbling windows).
    pub slide_ms: i64,
}

/// A reference to one output of an aggregate query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutRef {
    /// The i-th group key.
    Key(usize),
    /// The i-th aggregate of [`AggQuery::aggs`].
    Agg(usize),
}

/// An operand of a `HAVING` comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum OutOperand {
    /// An output.
    Ref(OutRef),
    /// A literal.
    Lit(OwnedValue),
}

/// A `HAVING` predicate over a group's outputs.
#[derive(Clone, Debug, PartialEq)]
pub enum OutPred {
    /// `a op b`.
    Cmp(CmpOp, OutOperand, OutOperand),
    /// `a [NOT] IN (…)`.
    In(OutOperand, Vec<OwnedValue>, bool),
    /// `a IS [NOT] NULL`.
    IsNull(OutOperand, bool),
    /// `a AND b`.
    And(Box<OutPred>, Box<OutPred>),
    /// `a OR b`.
    Or(Box<OutPred>, Box<OutPred>),
    /// `NOT a`.
    Not(Box<OutPred>),
}

/// The aggregate part of a query.
#[derive(Clone, Debug)]
pub struct AggQuery {
    /// `GROUP BY` fields, in order.
    pub keys: Vec<String>,
    /// Output names of the group keys (the alias where the key is selected with one).
    pub key_names: Vec<Arc<str>>,
    /// Every aggregate the query needs (selected, in `HAVING`, in `ORDER BY`).
    pub aggs: Vec<AggSpec>,
    /// Selected aggregates: output name and index into `aggs`, in select order.
    pub values: Vec<(Arc<str>, usize)>,
    /// `HAVING`.
    pub having: Option<OutPred>,
    /// `WINDOW`; `None` for running totals.
    pub window: Option<Window>,
    /// `ORDER BY` outputs, `true` for descending.
    pub order_by: Vec<(OutRef, bool)>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `EMIT EVERY`, in milliseconds.
    pub emit_every_ms: Option<i64>,
}

impl QuerySpec {
    /// Every record field the query reads.
    pub fn fields(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        collect_pred_fields(&self.filter, &mut out);
        match &self.kind {
            QueryKind::Filter(Projection::Star) => {}
            QueryKind::Filter(Projection::Fields(fs)) => {
                out.extend(fs.iter().map(|(_, f)| f.clone()))
            }
            QueryKind::Aggregate(a) => {
                out.extend(a.keys.iter().cloned());
                out.extend(a.aggs.iter().filter_map(|s| s.arg.clone()));
            }
        }
        out
    }

    /// The aggregate part, for aggregate queries.
    pub fn aggregate(&self) -> Option<&AggQuery> {
        match &self.kind {
            QueryKind::Aggregate(a) => Some(a),
            QueryKind::Filter(_) => None,
        }
    }
}

/// Adds every field a predicate reads to `out`.
pub fn collect_pred_fields(p: &Pred, out: &mut BTreeSet<String>) {
    match p {
        Pred::Const(_) => {}
        Pred::Atom(a) => out.extend(a.fields().into_iter().map(str::to_string)),
        Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| collect_pred_fields(p, out)),
        Pred::Not(p) => collect_pred_fields(p, out),
    }
}

fn err(message: impl Into<String>, span: Span) -> PlanError {
    PlanError(Diagnostic::new(message, span))
}

/// Largest number of windows one record may fall in (`size / slide`).
pub const MAX_WINDOWS_PER_RECORD: i64 = 10_000;

/// Resolves a query body against its stream.
pub fn resolve(
    name: &Ident,
    select: &Select,
    stream: &StreamDef,
    text: &str,
) -> Result<QuerySpec, PlanError> {
    let schema = Schema { stream };
    let filter = match &select.selection {
        Some(e) => schema.to_pred(e, 0)?,
        None => Pred::Const(Truth::True),
    };
    let has_agg = select.items.iter().any(|i| {
        matches!(
            i,
            SelectItem::Expr {
                expr: Expr::Agg(_),
                ..
            }
        )
    });
    let is_aggregate = has_agg || !select.group_by.is_empty() || select.having.is_some();
    let kind = if is_aggregate {
        QueryKind::Aggregate(Box::new(schema.resolve_aggregate(select)?))
    } else {
        if let Some(w) = &select.window {
            let span = match w {
                WindowSpec::Tumbling { size } | WindowSpec::Sliding { size, .. } => size.span,
            };
            return Err(err(
                "WINDOW needs an aggregate query (add an aggregate such as count(*))",
                span,
            ));
        }
        if let Some(o) = select.order_by.first() {
            return Err(err("ORDER BY needs an aggregate query", o.expr.span()));
        }
        if select.limit.is_some() {
            return Err(err("LIMIT needs an aggregate query", select.from.span));
        }
        let mut star = false;
        let mut fields = Vec::new();
        for item in &select.items {
            match item {
                SelectItem::Wildcard(_) => star = true,
                SelectItem::Expr {
                    expr: Expr::Field(f),
                    alias,
                } => {
                    schema.field_type(f)?;
                    let out = alias.as_ref().unwrap_or(f).name.as_str();
                    fields.push((Arc::<str>::from(out), f.name.clone()));
                }
                SelectItem::Expr { expr, .. } => {
                    return Err(err(
                        format!("cannot select `{expr}`: expected a field or an aggregate"),
                        expr.span(),
                    ))
                }
            }
        }
        if star && !fields.is_empty() {
            return Err(err(
                "`*` cannot be mixed with other select items",
                select.from.span,
            ));
        }
        check_unique(fields.iter().map(|(n, _)| n.clone()), select)?;
        QueryKind::Filter(if star {
            Projection::Star
        } else {
            Projection::Fields(fields)
        })
    };
    Ok(QuerySpec {
        name: Arc::from(name.name.as_str()),
        stream: stream.name.clone(),
        text: text.to_string(),
        filter,
        kind,
    })
}

fn check_unique(names: impl Iterator<Item = Arc<str>>, select: &Select) -> Result<(), PlanError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n.clone()) {
            let span = select
                .items
                .iter()
                .find_map(|i| match i {
                    SelectItem::Expr { alias: Some(a), .. } if *a.name == *n => Some(a.span),
                    SelectItem::Expr { expr, .. } if expr.to_string() == *n => Some(expr.span()),
                    _ => None,
                })
                .unwrap_or(select.from.span);
            return Err(err(
                format!("output name `{n}` is used twice; give one an alias"),
                span,
            ));
        }
    }
    Ok(())
}

struct Schema<'a> {
    stream: &'a StreamDef,
}

const MAX_DEPTH: usize = 128;

impl Schema<'_> {
    /// The declared type of a field (`None` for dynamic streams), or an
    /// error when the stream declares columns and this is not one.
    fn field_type(&self, f: &Ident) -> Result<Option<&DataType>, PlanError> {
        match &self.stream.columns {
            None => Ok(None),
            Some(_) => self.stream.column_type(&f.name).map(Some).ok_or_else(|| {
                err(
                    format!(
                        "unknown field `{}` in stream `{}`",
                        f.name, self.stream.name
                    ),
                    f.span,
                )
            }),
        }
    }

    fn literal(
        &self,
        ty: Option<&DataType>,
        field: &Ident,
        lit: &Literal,
        span: Span,
    ) -> Result<OwnedValue, PlanError> {
        let v = literal_value(lit);
        let Some(ty) = ty else { return Ok(v) };
        let ok = match (ty, &v) {
            (_, Value::Null) => true,
            (DataType::Text, Value::Str(_)) => true,
            (DataType::BigInt | DataType::Double, Value::Int(_) | Value::Float(_)) => true,
            (DataType::Boolean, Value::Bool(_)) => true,
            (DataType::Timestamp, Value::Int(_)) => true,
            (DataType::Timestamp, Value::Str(s)) => {
                return crate::exec::decode::event_time_ms(&Value::Str(s.clone()))
                    .map(Value::Int)
                    .ok_or_else(|| err(format!("invalid timestamp {lit}: expected RFC 3339, e.g. '2016-11-01T10:00:00Z'"), span));
            }
            _ => false,
        };
        if ok {
            Ok(v)
        } else {
            Err(err(
                format!(
                    "type mismatch: `{}` is {ty} but {lit} is {}",
                    field.name,
                    literal_kind(lit)
                ),
                span,
            ))
        }
    }

    fn to_pred(&self, e: &Expr, depth: usize) -> Result<Pred, PlanError> {
        if depth > MAX_DEPTH {
            return Err(err("expression nested too deeply", e.span()));
        }
        Ok(match e {
            Expr::And(a, b) => Pred::and(vec![
                self.to_pred(a, depth + 1)?,
                self.to_pred(b, depth + 1)?,
            ]),
            Expr::Or(a, b) => Pred::or(vec![
                self.to_pred(a, depth + 1)?,
                self.to_pred(b, depth + 1)?,
            ]),
            Expr::Not(a, _) => Pred::negate(self.to_pred(a, depth + 1)?),
            Expr::Literal(Literal::Bool(b), _) => {
                Pred::Const(if *b { Truth::True } else { Truth::False })
            }
            Expr::Literal(Literal::Null, _) => Pred::Const(Truth::Unknown),
            Expr::Field(f) => {
                // A bare boolean field is `f = TRUE`.
                let ty = self.field_type(f)?;
                if let Some(t) = ty.filter(|t| **t != DataType::Boolean) {
                    return Err(err(format!("`{}` is {t}, not a condition", f.name), f.span));
                }
                Pred::Atom(Atom::In {
                    field: f.name.clone(),
                    values: vec![Value::Bool(true)],
                    has_null: false,
                })
            }
            Expr::Cmp { op, left, right } => self.cmp_pred(*op, left, right)?,
            Expr::InList {
                expr,
                list,
                negated,
                span,
            } => {
                let f = self.expect_field(expr, "IN")?;
                let ty = self.field_type(f)?;
                self.no_array(ty, f, "IN")?;
                let mut values = Vec::new();
                let mut has_null = false;
                for lit in list {
                    match self.literal(ty, f, lit, *span)? {
                        Value::Null => has_null = true,
                        v => values.push(v),
                    }
                }
                values.sort_by(|a, b| a.total_cmp(b));
                values.dedup();
                let p = if values.is_empty() && !has_null {
                    Pred::Const(Truth::False)
                } else {
                    Pred::Atom(Atom::In {
                        field: f.name.clone(),
                        values,
                        has_null,
                    })
                };
                if *negated {
                    Pred::negate(p)
                } else {
                    p
                }
            }
            Expr::Contains { expr, pattern, .. } => {
                let f = self.expect_field(expr, "CONTAINS")?;
                match self.field_type(f)? {
                    None | Some(DataType::Text) | Some(DataType::Array(_)) => {}
                    Some(t) => {
                        return Err(err(
                            format!("CONTAINS needs text or an array, but `{}` is {t}", f.name),
                            f.span,
                        ))
                    }
                }
                Pred::Atom(Atom::Contains {
                    field: f.name.clone(),
                    literal: pattern.clone(),
                })
            }
            Expr::Matches {
                expr,
                pattern,
                pattern_span,
            } => {
                let f = self.expect_field(expr, "MATCHES")?;
                match self.field_type(f)? {
                    None | Some(DataType::Text) | Some(DataType::Array(_)) => {}
                    Some(t) => {
                        return Err(err(
                            format!("MATCHES needs text, but `{}` is {t}", f.name),
                            f.span,
                        ))
                    }
                }
                // Syntax only: the automaton is compiled with the field's
                // other patterns, under the engine's size limit, in the plan.
                if let Err(e) = regex_automata::util::syntax::parse(pattern) {
                    let detail = e.to_string();
                    let detail = detail.lines().last().unwrap_or("").trim().to_string();
                    return Err(err(format!("invalid regex: {detail}"), *pattern_span));
                }
                Pred::Atom(Atom::Matches {
                    field: f.name.clone(),
                    regex: pattern.clone(),
                })
            }
            Expr::IsNull { expr, negated, .. } => {
                let p = match expr.as_ref() {
                    Expr::Field(f) => {
                        self.field_type(f)?;
                        Pred::Atom(Atom::IsNull {
                            field: f.name.clone(),
                        })
                    }
                    Expr::Literal(l, _) => Pred::Const(if matches!(l, Literal::Null) {
                        Truth::True
                    } else {
                        Truth::False
                    }),
                    other => {
                        return Err(err(
                            format!("IS NULL needs a field, found `{other}`"),
                            other.span(),
                        ))
                    }
                };
                if *negated {
                    Pred::negate(p)
                } else {
                    p
                }
            }
            Expr::Agg(a) => {
                return Err(err(
                    "aggregates are not allowed in WHERE; use HAVING",
                    a.span,
                ))
            }
            Expr::Literal(l, s) => return Err(err(format!("{l} is not a condition"), *s)),
        })
    }

    fn expect_field<'e>(&self, e: &'e Expr, what: &str) -> Result<&'e Ident, PlanError> {
        match e {
            Expr::Field(f) => Ok(f),
            other => Err(err(
                format!("{what} needs a field on its left, found `{other}`"),
                other.span(),
            )),
        }
    }

    fn no_array(&self, ty: Option<&DataType>, f: &Ident, what: &str) -> Result<(), PlanError> {
        if let Some(t @ DataType::Array(_)) = ty {
            return Err(err(
                format!(
                    "cannot use {what} on `{}`, which is {t}; use CONTAINS",
                    f.name
                ),
                f.span,
            ));
        }
        Ok(())
    }

    fn cmp_pred(&self, op: CmpOp, left: &Expr, right: &Expr) -> Result<Pred, PlanError> {
        match (left, right) {
            (Expr::Literal(..), Expr::Field(_)) => self.cmp_pred(op.flip(), right, left),
            (Expr::Field(f), Expr::Literal(lit, span)) => {
                let ty = self.field_type(f)?;
                self.no_array(ty, f, op.as_str())?;
                let value = self.literal(ty, f, lit, *span)?;
                Ok(match (op, value) {
                    (_, Value::Null) => Pred::Const(Truth::Unknown),
                    (CmpOp::Eq, v) => Pred::Atom(Atom::In {
                        field: f.name.clone(),
                        values: vec![v],
                        has_null: false,
                    }),
                    (CmpOp::NotEq, v) => Pred::negate(Pred::Atom(Atom::In {
                        field: f.name.clone(),
                        values: vec![v],
                        has_null: false,
                    })),
                    (op, v) => Pred::Atom(Atom::Cmp {
                        field: f.name.clone(),
                        op,
                        value: v,
                    }),
                })
            }
            (Expr::Field(a), Expr::Field(b)) => {
                let ta = self.field_type(a)?;
                let tb = self.field_type(b)?;
                self.no_array(ta, a, op.as_str())?;
                self.no_array(tb, b, op.as_str())?;
                if let (Some(x), Some(y)) = (ta, tb) {
                    let numeric = |t: &DataType| {
                        matches!(t, DataType::BigInt | DataType::Double | DataType::Timestamp)
                    };
                    if x != y && !(numeric(x) && numeric(y)) {
                        return Err(err(
                            format!("type mismatch: `{}` is {x} but `{}` is {y}", a.name, b.name),
                            a.span.to(b.span),
                        ));
                    }
                }
                Ok(Pred::Atom(Atom::CmpFields {
                    left: a.name.clone(),
                    op,
                    right: b.name.clone(),
                }))
            }
            (Expr::Literal(a, _), Expr::Literal(b, _)) => {
                let (a, b) = (literal_value(a), literal_value(b));
                Ok(Pred::Const(Truth::from_option(
                    a.sql_cmp(&b).map(|o| cmp_holds(op, o)),
                )))
            }
            (Expr::Agg(a), _) | (_, Expr::Agg(a)) => Err(err(
                "aggregates are not allowed in WHERE; use HAVING",
                a.span,
            )),
            (other, _) => Err(err(
                format!("cannot compare `{other}`: expected a field or a literal"),
                other.span(),
            )),
        }
    }

    fn resolve_aggregate(&self, select: &Select) -> Result<AggQuery, PlanError> {
        let mut keys = Vec::new();
        for g in &select.group_by {
            self.field_type(g)?;
            if keys.contains(&g.name) {
                return Err(err(format!("`{}` is grouped by twice", g.name), g.span));
            }
            keys.push(g.name.clone());
        }
        let mut key_names: Vec<Arc<str>> = keys.iter().map(|k| Arc::from(k.as_str())).collect();
        let mut aggs: Vec<AggSpec> = Vec::new();
        let mut values = Vec::new();
        let mut outputs: Vec<Arc<str>> = Vec::new();
        for item in &select.items {
            match item {
                SelectItem::Wildcard(s) => {
                    return Err(err("`*` cannot be selected in an aggregate query", *s));
                }
                SelectItem::Expr {
                    expr: Expr::Field(f),
                    alias,
                } => {
                    let Some(i) = keys.iter().position(|k| *k == f.name) else {
                        return Err(err(
                            format!(
                                "`{}` must appear in GROUP BY or be inside an aggregate",
                                f.name
                            ),
                            f.span,
                        ));
                    };
                    if let Some(a) = alias {
                        key_names[i] = Arc::from(a.name.as_str());
                    }
                    outputs.push(key_names[i].clone());
                }
                SelectItem::Expr {
                    expr: Expr::Agg(call),
                    alias,
                } => {
                    let idx = self.agg_index(call, &mut aggs)?;
                    let name: Arc<str> = match alias {
                        Some(a) => Arc::from(a.name.as_str()),
                        None => Arc::from(call.to_string().as_str()),
                    };
                    outputs.push(name.clone());
                    values.push((name, idx));
                }
                SelectItem::Expr { expr, .. } => {
                    return Err(err(
                        format!("cannot select `{expr}`: expected a field or an aggregate"),
                        expr.span(),
                    ))
                }
            }
        }
        // Group keys not selected still name their group, under the field name.
        let all_names = key_names
            .iter()
            .cloned()
            .chain(values.iter().map(|(n, _)| n.clone()));
        check_unique(all_names, select)?;
        let _ = outputs;
        let mut q = AggQuery {
            keys,
            key_names,
            aggs,
            values,
            having: None,
            window: None,
            order_by: Vec::new(),
            limit: select.limit,
            emit_every_ms: select.emit_every.map(|d| d.ms),
        };
        if let Some(h) = &select.having {
            q.having = Some(self.out_pred(h, &mut q, 0)?);
        }
        for o in &select.order_by {
            let r = self.out_ref(&o.expr, &mut q)?;
            q.order_by.push((r, o.descending));
        }
        if let Some(w) = &select.window {
            let (size, slide) = (w.size_ms(), w.slide_ms());
            let span = match w {
                WindowSpec::Tumbling { size } => size.span,
                WindowSpec::Sliding { size, slide } => size.span.to(slide.span),
            };
            if size <= 0 || slide <= 0 {
                return Err(err("window size and slide must be positive", span));
            }
            if slide > size {
                return Err(err("the slide must not be longer than the window", span));
            }
            if size / slide > MAX_WINDOWS_PER_RECORD {
                return Err(err(
                    format!("window too many times its slide (at most {MAX_WINDOWS_PER_RECORD})"),
                    span,
                ));
            }
            q.window = Some(Window {
                size_ms: size,
                slide_ms: slide,
            });
        }
        if let Some(d) = &select.emit_every {
            if d.ms <= 0 {
                return Err(err("EMIT EVERY needs a positive duration", d.span));
            }
        }
        Ok(q)
    }

    fn agg_index(&self, call: &AggCall, aggs: &mut Vec<AggSpec>) -> Result<usize, PlanError> {
        if call.distinct && call.func != AggFunc::Count {
            return Err(err(
                "DISTINCT is supported only in count(DISTINCT field)",
                call.span,
            ));
        }
        if let Some(arg) = &call.arg {
            let ty = self.field_type(arg)?;
            if matches!(call.func, AggFunc::Sum | AggFunc::Avg) {
                if let Some(t) = ty.filter(|t| !matches!(t, DataType::BigInt | DataType::Double)) {
                    return Err(err(
                        format!(
                            "{} needs a number, but `{}` is {t}",
                            call.func.as_str(),
                            arg.name
                        ),
                        arg.span,
                    ));
                }
            }
        } else if call.func != AggFunc::Count {
            return Err(err(
                format!("{}(*) is not defined; name a field", call.func.as_str()),
                call.span,
            ));
        }
        let spec = AggSpec {
            func: call.func,
            arg: call.arg.as_ref().map(|a| a.name.clone()),
            distinct: call.distinct,
        };
        Ok(match aggs.iter().position(|a| *a == spec) {
            Some(i) => i,
            None => {
                aggs.push(spec);
                aggs.len() - 1
            }
        })
    }

    fn out_ref(&self, e: &Expr, q: &mut AggQuery) -> Result<OutRef, PlanError> {
        match e {
            Expr::Field(f) => {
                if let Some((_, i)) = q.values.iter().find(|(n, _)| **n == *f.name) {
                    return Ok(OutRef::Agg(*i));
                }
                if let Some(i) = q.key_names.iter().position(|n| **n == *f.name) {
                    return Ok(OutRef::Key(i));
                }
                if let Some(i) = q.keys.iter().position(|k| *k == f.name) {
                    return Ok(OutRef::Key(i));
                }
                Err(err(
                    format!("`{}` is not an output or group key of this query", f.name),
                    f.span,
                ))
            }
            Expr::Agg(call) => Ok(OutRef::Agg(self.agg_index(call, &mut q.aggs)?)),
            other => Err(err(
                format!("expected an output name or an aggregate, found `{other}`"),
                other.span(),
            )),
        }
    }

    fn operand(&self, e: &Expr, q: &mut AggQuery) -> Result<OutOperand, PlanError> {
        match e {
            Expr::Literal(l, _) => Ok(OutOperand::Lit(literal_value(l))),
            other => Ok(OutOperand::Ref(self.out_ref(other, q)?)),
        }
    }

    fn out_pred(&self, e: &Expr, q: &mut AggQuery, depth: usize) -> Result<OutPred, PlanError> {
        if depth > MAX_DEPTH {
            return Err(err("expression nested too deeply", e.span()));
        }
        Ok(match e {
            Expr::And(a, b) => OutPred::And(
                Box::new(self.out_pred(a, q, depth + 1)?),
                Box::new(self.out_pred(b, q, depth + 1)?),
            ),
            Expr::Or(a, b) => OutPred::Or(
                Box::new(self.out_pred(a, q, depth + 1)?),
                Box::new(self.out_pred(b, q, depth + 1)?),
            ),
            Expr::Not(a, _) => OutPred::Not(Box::new(self.out_pred(a, q, depth + 1)?)),
            Expr::Cmp { op, left, right } => {
                OutPred::Cmp(*op, self.operand(left, q)?, self.operand(right, q)?)
            }
            Expr::InList {
                expr,
                list,
                negated,
                ..
            } => OutPred::In(
                self.operand(expr, q)?,
                list.iter().map(literal_value).collect(),
                *negated,
            ),
            Expr::IsNull { expr, negated, .. } => OutPred::IsNull(self.operand(expr, q)?, *negated),
            other => {
                return Err(err(
                    format!("`{other}` is not supported in HAVING"),
                    other.span(),
                ))
            }
        })
    }
}

/// Whether `op` holds for an ordering of left against right.
pub fn cmp_holds(op: CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::NotEq => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::LtEq => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::GtEq => o != Less,
    }
}

/// The value of a literal.
pub fn literal_value(l: &Literal) -> OwnedValue {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::Str(s) => Value::Str(s.clone().into()),
    }
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "NULL",
        Literal::Bool(_) => "a boolean",
        Literal::Int(_) | Literal::Float(_) => "a number",
        Literal::Str(_) => "text",
    }
}
