//! A naive reference evaluator for Shoal's standing queries, written straight
//! from the language's specification and independent of the engine's code:
//! records are kept in full, expressions are evaluated on the syntax tree per
//! record, and windows are found by enumerating the windows each record is in.
//!
//! Results are returned in a normalized form ([`NResult`]) that engine results
//! are converted to as well, so the two can be compared as multisets.

use shoal::exec::{QueryResult, ResultBody};
use shoal::parser::ast::{
    AggCall, AggFunc, CmpOp, CreateQuery, CreateStream, Expr, Literal, SelectItem, Statement,
};
use shoal::value::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A value as the reference sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<V>),
    /// A nested object, as compact JSON text.
    Obj(String),
}

impl V {
    pub fn from_json(j: &serde_json::Value) -> V {
        match j {
            serde_json::Value::Null => V::Null,
            serde_json::Value::Bool(b) => V::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().expect("finite number")),
            },
            serde_json::Value::String(s) => V::Str(s.clone()),
            serde_json::Value::Array(a) => V::Arr(a.iter().map(V::from_json).collect()),
            serde_json::Value::Object(_) => V::Obj(j.to_string()),
        }
    }

    /// Converts an engine value.
    pub fn from_engine(v: &Value<'_>) -> V {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Int(*i),
            Value::Float(f) => V::Float(*f),
            Value::Str(s) => V::Str(s.to_string()),
            Value::Array(a) => V::Arr(a.iter().map(V::from_engine).collect()),
            Value::Object(raw) => {
                let j: serde_json::Value = serde_json::from_str(raw).expect("object is JSON");
                V::Obj(j.to_string())
            }
        }
    }

    fn from_literal(l: &Literal) -> V {
        match l {
            Literal::Null => V::Null,
            Literal::Bool(b) => V::Bool(*b),
            Literal::Int(i) => V::Int(*i),
            Literal::Float(f) => V::Float(*f),
            Literal::Str(s) => V::Str(s.clone()),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            V::Null => 0,
            V::Bool(_) => 1,
            V::Int(_) | V::Float(_) => 2,
            V::Str(_) => 3,
            V::Arr(_) => 4,
            V::Obj(_) => 5,
        }
    }
}

/// SQL comparison: `None` when either side is NULL or the types differ.
fn sql_cmp(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Int(_) | V::Float(_), V::Int(_) | V::Float(_)) => a.num()?.partial_cmp(&b.num()?),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The total order: NULL < booleans < numbers < text < arrays < objects.
pub fn total_cmp(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::Int(_) | V::Float(_), V::Int(_) | V::Float(_)) => {
            let (x, y) = (a.num().unwrap(), b.num().unwrap());
            x.partial_cmp(&y)
                .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
        }
        (V::Str(x), V::Str(y)) => x.cmp(y),
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Arr(x), V::Arr(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| total_cmp(p, q))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (V::Obj(x), V::Obj(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    }
}

fn keys_cmp(a: &[V], b: &[V]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(p, q)| total_cmp(p, q))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// A text key such that two values have the same key exactly when they are
/// equal for grouping (`5` and `5.0` are the same number).
fn canon(v: &V) -> String {
    match v {
        V::Null => "N".into(),
        V::Bool(b) => format!("B{b}"),
        V::Int(i) => format!("I{i}"),
        V::Float(f) if f.fract() == 0.0 && f.abs() < 9e18 => format!("I{}", *f as i64),
        V::Float(f) => format!("F{}", f.to_bits()),
        V::Str(s) => format!("S{s:?}"),
        V::Arr(a) => format!("A[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        V::Obj(s) => format!("O{s:?}"),
    }
}

/// Three-valued truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    True,
    False,
    Unknown,
}

impl T {
    fn from_opt(b: Option<bool>) -> T {
        match b {
            Some(true) => T::True,
            Some(false) => T::False,
            None => T::Unknown,
        }
    }
    fn not(self) -> T {
        match self {
            T::True => T::False,
            T::False => T::True,
            T::Unknown => T::Unknown,
        }
    }
    fn and(self, o: T) -> T {
        match (self, o) {
            (T::False, _) | (_, T::False) => T::False,
            (T::True, T::True) => T::True,
            _ => T::Unknown,
        }
    }
    fn or(self, o: T) -> T {
        match (self, o) {
            (T::True, _) | (_, T::True) => T::True,
            (T::False, T::False) => T::False,
            _ => T::Unknown,
        }
    }
}

fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::NotEq => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::LtEq => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::GtEq => o != Ordering::Less,
    }
}

fn cmp3(op: CmpOp, a: &V, b: &V) -> T {
    T::from_opt(sql_cmp(a, b).map(|o| holds(op, o)))
}

fn in3(x: &V, list: &[V], negated: bool) -> T {
    let t = list
        .iter()
        .fold(T::False, |acc, l| acc.or(cmp3(CmpOp::Eq, x, l)));
    if negated {
        t.not()
    } else {
        t
    }
}

/// One accepted record.
#[derive(Clone, Debug)]
pub struct Record {
    /// Index of its line in the input.
    pub line: usize,
    /// Event time.
    pub ts: i64,
    /// The line, trimmed.
    pub raw: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    fn get(&self, f: &str) -> V {
        self.fields.get(f).map(V::from_json).unwrap_or(V::Null)
    }
}

/// The stream options the reference needs.
#[derive(Clone, Debug)]
pub struct StreamConf {
    pub event_time: String,
    pub watermark_ms: i64,
}

impl StreamConf {
    pub fn from_ast(cs: &CreateStream) -> StreamConf {
        let opt = |k: &str| {
            cs.options
                .iter()
                .find(|o| o.key.name.eq_ignore_ascii_case(k))
                .map(|o| o.value.clone())
        };
        let wm = opt("watermark").unwrap_or_else(|| "0".into());
        let (num, unit) = wm.split_at(wm.find(|c: char| !c.is_ascii_digit()).unwrap_or(wm.len()));
        let mult = match unit {
            "" | "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            other => panic!("unsupported watermark unit {other}"),
        };
        StreamConf {
            event_time: opt("event_time").expect("reference needs event_time"),
            watermark_ms: num.parse::<i64>().expect("watermark number") * mult,
        }
    }
}

/// The records of `lines` (in order) that are JSON objects with an integer
/// event time and are not late.
pub fn accept(conf: &StreamConf, lines: &[String]) -> Vec<Record> {
    let mut max: Option<i64> = None;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(line)
        else {
            continue;
        };
        let Some(ts) = fields.get(&conf.event_time).and_then(|t| t.as_i64()) else {
            continue;
        };
        if let Some(m) = max {
            if ts < m - conf.watermark_ms {
                continue;
            }
        }
        max = Some(max.map_or(ts, |m| m.max(ts)));
        out.push(Record {
            line: i,
            ts,
            raw: line.trim().to_string(),
            fields,
        });
    }
    out
}

fn operand(e: &Expr, r: &Record) -> V {
    match e {
        Expr::Field(f) => r.get(&f.name),
        Expr::Literal(l, _) => V::from_literal(l),
        other => panic!("unsupported operand {other}"),
    }
}

fn field_of(e: &Expr, r: &Record) -> V {
    match e {
        Expr::Field(f) => r.get(&f.name),
        other => panic!("expected a field, got {other}"),
    }
}

fn eval(e: &Expr, r: &Record) -> T {
    match e {
        Expr::Literal(Literal::Bool(b), _) => T::from_opt(Some(*b)),
        Expr::Literal(Literal::Null, _) => T::Unknown,
        Expr::Field(_) => cmp3(CmpOp::Eq, &operand(e, r), &V::Bool(true)),
        Expr::Cmp { op, left, right } => cmp3(*op, &operand(left, r), &operand(right, r)),
        Expr::InList {
            expr,
            list,
            negated,
            ..
        } => {
            let list: Vec<V> = list.iter().map(V::from_literal).collect();
            in3(&operand(expr, r), &list, *negated)
        }
        Expr::Contains { expr, pattern, .. } => match field_of(expr, r) {
            V::Str(s) => T::from_opt(Some(
                s.to_ascii_lowercase()
                    .contains(&pattern.to_ascii_lowercase()),
            )),
            V::Arr(a) => T::from_opt(Some(
                a.iter().any(|x| matches!(x, V::Str(s) if s == pattern)),
            )),
            _ => T::Unknown,
        },
        Expr::Matches { expr, pattern, .. } => {
            let re = regex_automata::meta::Regex::new(pattern).expect("valid regex");
            match field_of(expr, r) {
                V::Str(s) => T::from_opt(Some(re.is_match(s.as_str()))),
                V::Arr(a) => T::from_opt(Some(
                    a.iter()
                        .any(|x| matches!(x, V::Str(s) if re.is_match(s.as_str()))),
                )),
                _ => T::Unknown,
            }
        }
        Expr::IsNull { expr, negated, .. } => {
            let null = matches!(operand(expr, r), V::Null);
            T::from_opt(Some(null != *negated))
        }
        Expr::And(a, b) => eval(a, r).and(eval(b, r)),
        Expr::Or(a, b) => eval(a, r).or(eval(b, r)),
        Expr::Not(a, _) => eval(a, r).not(),
        other => panic!("unsupported predicate {other}"),
    }
}

/// Computes one aggregate over a group's records.
fn aggregate(call: &AggCall, recs: &[&Record]) -> V {
    let vals = || {
        recs.iter()
            .map(|r| r.get(&call.arg.as_ref().expect("argument").name))
    };
    match call.func {
        AggFunc::Count => match &call.arg {
            None => V::Int(recs.len() as i64),
            Some(_) if call.distinct => {
                let mut set: Vec<String> = vals()
                    .filter(|v| *v != V::Null)
                    .map(|v| canon(&v))
                    .collect();
                set.sort();
                set.dedup();
                V::Int(set.len() as i64)
            }
            Some(_) => V::Int(vals().filter(|v| *v != V::Null).count() as i64),
        },
        AggFunc::Sum | AggFunc::Avg => {
            let nums: Vec<V> = vals().filter(|v| v.num().is_some()).collect();
            if nums.is_empty() {
                return V::Null;
            }
            let fsum: f64 = nums.iter().map(|v| v.num().unwrap()).sum();
            if call.func == AggFunc::Avg {
                return V::Float(fsum / nums.len() as f64);
            }
            if nums.iter().all(|v| matches!(v, V::Int(_))) {
                V::Int(
                    nums.iter()
                        .map(|v| match v {
                            V::Int(i) => *i,
                            _ => unreachable!(),
                        })
                        .sum(),
                )
            } else {
                V::Float(fsum)
            }
        }
        AggFunc::Min | AggFunc::Max => {
            let it = vals().filter(|v| *v != V::Null);
            let best = if call.func == AggFunc::Min {
                it.min_by(total_cmp)
            } else {
                it.max_by(total_cmp)
            };
            best.unwrap_or(V::Null)
        }
    }
}

/// A result, normalized for comparison.
#[derive(Clone, Debug)]
pub enum NBody {
    Agg {
        window: Option<(i64, i64)>,
        group: Vec<(String, V)>,
        values: Vec<(String, V)>,
    },
    Row(Vec<(String, V)>),
}

/// The fields of a JSON object's text, in their order.
pub fn ordered_fields(text: &str) -> Vec<(String, V)> {
    struct Fields(Vec<(String, V)>);
    impl<'de> serde::Deserialize<'de> for Fields {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Fields;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Fields, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                        out.push((k, V::from_json(&v)));
                    }
                    Ok(Fields(out))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Fields>(text)
        .expect("row is a JSON object")
        .0
}

#[derive(Clone, Debug)]
pub struct NResult {
    pub query: String,
    pub body: NBody,
}

impl NResult {
    pub fn from_engine(r: &QueryResult) -> NResult {
        let row = |row: &[(std::sync::Arc<str>, shoal::value::OwnedValue)]| {
            row.iter()
                .map(|(k, v)| (k.to_string(), V::from_engine(v)))
                .collect::<Vec<_>>()
        };
        let body = match &r.body {
            ResultBody::Aggregate {
                window,
                group,
                values,
            } => NBody::Agg {
                window: *window,
                group: row(group),
                values: row(values),
            },
            ResultBody::Row(r) => NBody::Row(ordered_fields(r.get())),
        };
        NResult {
            query: r.query.to_string(),
            body,
        }
    }

    /// Everything but aggregate values (which may differ by float rounding).
    pub fn sort_key(&self) -> String {
        match &self.body {
            NBody::Agg { window, group, .. } => {
                let g: Vec<(String, String)> =
                    group.iter().map(|(k, v)| (k.clone(), canon(v))).collect();
                format!("{}|A|{window:?}|{g:?}", self.query)
            }
            NBody::Row(r) => format!("{}|R|{r:?}", self.query),
        }
    }

    /// Equal up to float rounding in aggregate values (relative 1e-9) and
    /// grouping equality in group keys.
    pub fn approx_eq(&self, o: &NResult) -> bool {
        if self.query != o.query {
            return false;
        }
        match (&self.body, &o.body) {
            (
                NBody::Agg {
                    window: w1,
                    group: g1,
                    values: v1,
                },
                NBody::Agg {
                    window: w2,
                    group: g2,
                    values: v2,
                },
            ) => {
                w1 == w2
                    && g1.len() == g2.len()
                    && g1
                        .iter()
                        .zip(g2)
                        .all(|(a, b)| a.0 == b.0 && canon(&a.1) == canon(&b.1))
                    && v1.len() == v2.len()
                    && v1
                        .iter()
                        .zip(v2)
                        .all(|(a, b)| a.0 == b.0 && v_approx(&a.1, &b.1))
            }
            (NBody::Row(a), NBody::Row(b)) => a == b,
            _ => false,
        }
    }
}

fn v_approx(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Float(x), V::Float(y)) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (V::Arr(x), V::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| v_approx(p, q))
        }
        _ => a == b,
    }
}

/// Sorts results into a canonical order.
pub fn sorted(mut v: Vec<NResult>) -> Vec<NResult> {
    v.sort_by_cached_key(|r| r.sort_key());
    v
}

/// Normalizes and sorts engine results.
pub fn normalize(rs: &[QueryResult]) -> Vec<NResult> {
    sorted(rs.iter().map(NResult::from_engine).collect())
}

/// Compares two result multisets; on a difference, returns a description.
pub fn diff(label_a: &str, a: &[NResult], label_b: &str, b: &[NResult]) -> Result<(), String> {
    let a = sorted(a.to_vec());
    let b = sorted(b.to_vec());
    let ok = a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.approx_eq(y));
    if ok {
        return Ok(());
    }
    let mut msg = format!(
        "{label_a}: {} results, {label_b}: {} results\n",
        a.len(),
        b.len()
    );
    let (mut i, mut j, mut shown) = (0, 0, 0);
    while (i < a.len() || j < b.len()) && shown < 12 {
        let ka = a.get(i).map(|r| r.sort_key());
        let kb = b.get(j).map(|r| r.sort_key());
        match (ka, kb) {
            (Some(x), Some(y)) if x == y => {
                if !a[i].approx_eq(&b[j]) {
                    msg += &format!(
                        "  differ:\n    {label_a}: {:?}\n    {label_b}: {:?}\n",
                        a[i], b[j]
                    );
                    shown += 1;
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                msg += &format!("  only in {label_a}: {:?}\n", a[i]);
                shown += 1;
                i += 1;
            }
            (Some(_), None) => {
                msg += &format!("  only in {label_a}: {:?}\n", a[i]);
                shown += 1;
                i += 1;
            }
            _ => {
                msg += &format!("  only in {label_b}: {:?}\n", b[j]);
                shown += 1;
                j += 1;
            }
        }
    }
    Err(msg)
}

/// The output name of each `SELECT` item of an aggregate query.
struct AggShape<'q> {
    /// Group key fields and their output names.
    keys: Vec<(String, String)>,
    /// Selected aggregates: output name and call.
    values: Vec<(String, &'q AggCall)>,
}

fn agg_shape(q: &CreateQuery) -> AggShape<'_> {
    let sel = &q.select;
    let mut keys: Vec<(String, String)> = sel
        .group_by
        .iter()
        .map(|g| (g.name.clone(), g.name.clone()))
        .collect();
    let mut values = Vec::new();
    for item in &sel.items {
        match item {
            SelectItem::Expr {
                expr: Expr::Field(f),
                alias,
            } => {
                if let Some(a) = alias {
                    let k = keys
                        .iter_mut()
                        .find(|k| k.0 == f.name)
                        .expect("selected key is grouped");
                    k.1 = a.name.clone();
                }
            }
            SelectItem::Expr {
                expr: Expr::Agg(call),
                alias,
            } => {
                let name = alias
                    .as_ref()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| call.to_string());
                values.push((name, call));
            }
            other => panic!("unsupported select item {other:?}"),
        }
    }
    AggShape { keys, values }
}

fn is_aggregate(q: &CreateQuery) -> bool {
    let s = &q.select;
    !s.group_by.is_empty()
        || s.having.is_some()
        || s.items.iter().any(|i| {
            matches!(
                i,
                SelectItem::Expr {
                    expr: Expr::Agg(_),
                    ..
                }
            )
        })
}

/// One group of one window, with its records.
struct Group<'r> {
    key: Vec<V>,
    recs: Vec<&'r Record>,
}

impl Group<'_> {
    /// The value of an output reference in `HAVING`/`ORDER BY`.
    fn out(&self, e: &Expr, shape: &AggShape<'_>) -> V {
        match e {
            Expr::Literal(l, _) => V::from_literal(l),
            Expr::Agg(call) => aggregate(call, &self.recs),
            Expr::Field(f) => {
                if let Some((_, call)) = shape.values.iter().find(|(n, _)| *n == f.name) {
                    return aggregate(call, &self.recs);
                }
                let i = shape
                    .keys
                    .iter()
                    .position(|(_, n)| *n == f.name)
                    .or_else(|| shape.keys.iter().position(|(k, _)| *k == f.name))
                    .unwrap_or_else(|| panic!("unknown output {}", f.name));
                self.key[i].clone()
            }
            other => panic!("unsupported output expression {other}"),
        }
    }

    fn having(&self, e: &Expr, shape: &AggShape<'_>) -> T {
        match e {
            Expr::Cmp { op, left, right } => {
                cmp3(*op, &self.out(left, shape), &self.out(right, shape))
            }
            Expr::InList {
                expr,
                list,
                negated,
                ..
            } => {
                let list: Vec<V> = list.iter().map(V::from_literal).collect();
                in3(&self.out(expr, shape), &list, *negated)
            }
            Expr::IsNull { expr, negated, .. } => {
                T::from_opt(Some(matches!(self.out(expr, shape), V::Null) != *negated))
            }
            Expr::And(a, b) => self.having(a, shape).and(self.having(b, shape)),
            Expr::Or(a, b) => self.having(a, shape).or(self.having(b, shape)),
            Expr::Not(a, _) => self.having(a, shape).not(),
            other => panic!("unsupported HAVING {other}"),
        }
    }
}

/// The group keys a record falls in: one value per key field, arrays
/// expanded to their distinct elements (cross product).
fn record_keys(r: &Record, fields: &[(String, String)]) -> Vec<Vec<V>> {
    let mut combos: Vec<Vec<V>> = vec![Vec::new()];
    for (f, _) in fields {
        let choices: Vec<V> = match r.get(f) {
            V::Arr(a) => {
                let mut seen = Vec::new();
                let mut out = Vec::new();
                for x in a {
                    let c = canon(&x);
                    if !seen.contains(&c) {
                        seen.push(c);
                        out.push(x);
                    }
                }
                out
            }
            v => vec![v],
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                choices.iter().map(move |x| {
                    let mut c = c.clone();
                    c.push(x.clone());
                    c
                })
            })
            .collect();
    }
    combos
}

/// Evaluates one query over accepted records (all of which it sees).
pub fn eval_query(q: &CreateQuery, recs: &[&Record]) -> Vec<NResult> {
    let name = q.name.name.clone();
    let sel = &q.select;
    let matching: Vec<&Record> = recs
        .iter()
        .copied()
        .filter(|r| sel.selection.as_ref().is_none_or(|e| eval(e, r) == T::True))
        .collect();
    if !is_aggregate(q) {
        return matching
            .iter()
            .map(|r| {
                let body = if sel
                    .items
                    .iter()
                    .any(|i| matches!(i, SelectItem::Wildcard(_)))
                {
                    NBody::Row(ordered_fields(&r.raw))
                } else {
                    NBody::Row(
                        sel.items
                            .iter()
                            .map(|i| match i {
                                SelectItem::Expr {
                                    expr: Expr::Field(f),
                                    alias,
                                } => (alias.as_ref().unwrap_or(f).name.clone(), r.get(&f.name)),
                                other => panic!("unsupported filter item {other:?}"),
                            })
                            .collect(),
                    )
                };
                NResult {
                    query: name.clone(),
                    body,
                }
            })
            .collect();
    }
    let shape = agg_shape(q);
    // (window, canonical key) -> group
    let mut groups: BTreeMap<(Option<(i64, i64)>, String), Group<'_>> = BTreeMap::new();
    for r in &matching {
        let windows: Vec<Option<(i64, i64)>> = match &sel.window {
            None => vec![None],
            Some(w) => {
                let (size, slide) = (w.size_ms(), w.slide_ms());
                let mut out = Vec::new();
                let mut k = r.ts.div_euclid(slide);
                while k * slide + size > r.ts {
                    out.push(Some((k * slide, k * slide + size)));
                    k -= 1;
                }
                out
            }
        };
        for key in record_keys(r, &shape.keys) {
            let ck = key.iter().map(canon).collect::<Vec<_>>().join("\u{1}");
            for w in &windows {
                groups
                    .entry((*w, ck.clone()))
                    .or_insert_with(|| Group {
                        key: key.clone(),
                        recs: Vec::new(),
                    })
                    .recs
                    .push(r);
            }
        }
    }
    let mut by_window: BTreeMap<Option<(i64, i64)>, Vec<Group<'_>>> = BTreeMap::new();
    for ((w, _), g) in groups {
        by_window.entry(w).or_default().push(g);
    }
    let mut out = Vec::new();
    for (w, mut gs) in by_window {
        if let Some(h) = &sel.having {
            gs.retain(|g| g.having(h, &shape) == T::True);
        }
        if !sel.order_by.is_empty() {
            gs.sort_by(|a, b| {
                sel.order_by
                    .iter()
                    .map(|o| {
                        let c = total_cmp(&a.out(&o.expr, &shape), &b.out(&o.expr, &shape));
                        if o.descending {
                            c.reverse()
                        } else {
                            c
                        }
                    })
                    .find(|c| *c != Ordering::Equal)
                    .unwrap_or_else(|| keys_cmp(&a.key, &b.key))
            });
        }
        if let Some(k) = sel.limit {
            gs.truncate(k as usize);
        }
        for g in gs {
            out.push(NResult {
                query: name.clone(),
                body: NBody::Agg {
                    window: w,
                    group: shape
                        .keys
                        .iter()
                        .zip(&g.key)
                        .map(|((_, n), v)| (n.clone(), v.clone()))
                        .collect(),
                    values: shape
                        .values
                        .iter()
                        .map(|(n, call)| (n.clone(), aggregate(call, &g.recs)))
                        .collect(),
                },
            });
        }
    }
    out
}

/// Runs statements (one `CREATE STREAM`, then `CREATE QUERY`s) over lines.
pub fn run(stmts: &[Statement], lines: &[String]) -> Vec<NResult> {
    let cs = stmts
        .iter()
        .find_map(|s| match s {
            Statement::CreateStream(cs) => Some(cs),
            _ => None,
        })
        .expect("a CREATE STREAM");
    let recs = accept(&StreamConf::from_ast(cs), lines);
    let refs: Vec<&Record> = recs.iter().collect();
    let mut out = Vec::new();
    for s in stmts {
        if let Statement::CreateQuery(q) = s {
            out.extend(eval_query(q, &refs));
        }
    }
    sorted(out)
}
