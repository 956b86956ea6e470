//! Differential tests: the shared engine, each query alone in its own engine,
//! and the naive reference evaluator (tests/common/reference.rs) must give the
//! same multiset of results on random streams and random sets of queries,
//! whatever the batch boundaries.

mod common;

use common::reference::{self, diff, normalize, NResult};
use proptest::prelude::*;
use shoal::exec::{Engine, Origin, QueryResult};
use shoal::parser::ast::*;

// ---------------------------------------------------------------------------
// Building syntax trees.
// ---------------------------------------------------------------------------

fn id(name: &str) -> Ident {
    Ident::new(name, Span::default())
}

fn field(name: &str) -> Expr {
    Expr::Field(id(name))
}

fn lit(l: Literal) -> Expr {
    Expr::Literal(l, Span::default())
}

fn dur(ms: i64) -> Duration {
    Duration {
        ms,
        span: Span::default(),
    }
}

fn agg(func: AggFunc, arg: Option<&str>, distinct: bool) -> AggCall {
    AggCall {
        func,
        arg: arg.map(id),
        distinct,
        span: Span::default(),
    }
}

pub fn stream_stmt(watermark_ms: i64) -> Statement {
    let opt = |k: &str, v: String| StreamOption {
        key: id(k),
        value: v,
        value_span: Span::default(),
    };
    Statement::CreateStream(CreateStream {
        name: id("s"),
        columns: None,
        options: vec![
            opt("format", "json".into()),
            opt("event_time", "ts".into()),
            opt("watermark", format!("{watermark_ms}ms")),
        ],
    })
}

// ---------------------------------------------------------------------------
// Strategies: literals, predicates, queries.
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["a", "b", "c", "A"];
const WORDS: &[&str] = &[
    "red", "Red", "RED", "blue", "green", "dark", "light", "réd", "RÉD",
];
const TAGS: &[&str] = &["x", "y", "z", "X"];

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        3 => (-3i64..8).prop_map(Literal::Int),
        2 => prop::sample::select(vec![-2.25f64, -0.5, 0.75, 1.5, 2.5, 4.25, 7.0]).prop_map(Literal::Float),
        3 => prop::sample::select(KEYS).prop_map(|s| Literal::Str(s.to_string())),
        1 => prop::sample::select(WORDS).prop_map(|s| Literal::Str(s.to_string())),
        1 => prop::sample::select(TAGS).prop_map(|s| Literal::Str(s.to_string())),
        1 => any::<bool>().prop_map(Literal::Bool),
        1 => Just(Literal::Null),
    ]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::NotEq,
        CmpOp::Lt,
        CmpOp::LtEq,
        CmpOp::Gt,
        CmpOp::GtEq,
    ])
}

/// Fields for comparisons (including `zz`, which no record has).
const SCALARS: &[&str] = &["k", "n", "s", "b", "zz"];

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        // field op literal, or literal op field
        6 => (prop::sample::select(SCALARS), cmp_op(), literal(), any::<bool>()).prop_map(|(f, op, l, flip)| {
            if flip {
                Expr::Cmp { op, left: Box::new(lit(l)), right: Box::new(field(f)) }
            } else {
                Expr::Cmp { op, left: Box::new(field(f)), right: Box::new(lit(l)) }
            }
        }),
        // field op field
        1 => (prop::sample::select(SCALARS), cmp_op(), prop::sample::select(SCALARS))
            .prop_map(|(a, op, b)| Expr::Cmp { op, left: Box::new(field(a)), right: Box::new(field(b)) }),
        3 => (prop::sample::select(SCALARS), prop::collection::vec(literal(), 1..4), any::<bool>())
            .prop_map(|(f, list, negated)| Expr::InList { expr: Box::new(field(f)), list, negated, span: Span::default() }),
        4 => (
            prop::sample::select(&["s", "tags", "k", "n"][..]),
            prop::sample::select(
                &["red", "RED", "blu", "e r", "x", "X", "a", "ark li", "RéD", "rÉd"][..]
            ),
        )
            .prop_map(|(f, p)| Expr::Contains { expr: Box::new(field(f)), pattern: p.to_string(), pattern_span: Span::default() }),
        3 => (
            prop::sample::select(&["s", "tags", "k", "n"][..]),
            prop::sample::select(&["^r", "(?i)blue", "e$", "[xy]", "R.d", "^$", "(?i)^RED\\s+blue", "^[A-Z]"][..]),
        )
            .prop_map(|(f, p)| Expr::Matches { expr: Box::new(field(f)), pattern: p.to_string(), pattern_span: Span::default() }),
        2 => (prop::sample::select(&["k", "n", "s", "tags", "b", "zz"][..]), any::<bool>())
            .prop_map(|(f, negated)| Expr::IsNull { expr: Box::new(field(f)), negated, span: Span::default() }),
        1 => prop_oneof![Just(Literal::Bool(true)), Just(Literal::Bool(false)), Just(Literal::Null)].prop_map(lit),
    ]
}

fn predicate() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Expr::Not(Box::new(a), Span::default())),
        ]
    })
}

fn agg_call() -> impl Strategy<Value = AggCall> {
    prop_oneof![
        3 => Just(agg(AggFunc::Count, None, false)),
        1 => prop::sample::select(&["k", "n", "tags"][..]).prop_map(|f| agg(AggFunc::Count, Some(f), false)),
        2 => prop::sample::select(&["k", "n", "tags", "s"][..]).prop_map(|f| agg(AggFunc::Count, Some(f), true)),
        2 => prop::sample::select(&["n", "k"][..]).prop_map(|f| agg(AggFunc::Sum, Some(f), false)),
        2 => prop::sample::select(&["n", "k"][..]).prop_map(|f| agg(AggFunc::Avg, Some(f), false)),
        2 => (prop::sample::select(vec![AggFunc::Min, AggFunc::Max]), prop::sample::select(&["n", "k", "s", "tags", "b"][..]))
            .prop_map(|(func, f)| agg(func, Some(f), false)),
    ]
}

fn window() -> impl Strategy<Value = Option<WindowSpec>> {
    let sizes = vec![100i64, 200, 250, 300, 500, 1000];
    prop_oneof![
        1 => Just(None),
        2 => prop::sample::select(sizes.clone()).prop_map(|s| Some(WindowSpec::Tumbling { size: dur(s) })),
        2 => (prop::sample::select(sizes), prop::sample::select(vec![50i64, 70, 100, 150, 200, 300]))
            .prop_filter("slide <= size", |(size, slide)| slide <= size)
            .prop_map(|(size, slide)| Some(WindowSpec::Sliding { size: dur(size), slide: dur(slide) })),
    ]
}

/// An aggregate query body (without name).
fn aggregate_select() -> impl Strategy<Value = Select> {
    (
        prop::sample::subsequence(vec!["k", "tags", "n", "b", "s"], 0..=2),
        prop::collection::vec(any::<bool>(), 2),
        prop::collection::vec((agg_call(), any::<bool>()), 0..4),
        prop::option::weighted(0.6, predicate()),
        window(),
        prop::option::weighted(
            0.3,
            (
                any::<prop::sample::Index>(),
                cmp_op(),
                literal(),
                any::<bool>(),
            ),
        ),
        prop::option::weighted(0.3, (any::<prop::sample::Index>(), any::<bool>(), 1u64..4)),
    )
        .prop_map(|(keys, key_sel, calls, selection, window, having, order)| {
            let mut items = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                if key_sel[i] {
                    let alias = (i == 0).then(|| id(&format!("g_{k}")));
                    items.push(SelectItem::Expr {
                        expr: field(k),
                        alias,
                    });
                }
            }
            let mut seen = Vec::new();
            // Output references usable in HAVING / ORDER BY.
            let mut outs: Vec<Expr> = keys.iter().map(|k| field(k)).collect();
            for (i, (call, aliased)) in calls.into_iter().enumerate() {
                if seen.contains(&call) {
                    continue;
                }
                seen.push(call.clone());
                let alias = aliased.then(|| id(&format!("v{i}")));
                outs.push(match &alias {
                    Some(a) => Expr::Field(a.clone()),
                    None => Expr::Agg(call.clone()),
                });
                items.push(SelectItem::Expr {
                    expr: Expr::Agg(call),
                    alias,
                });
            }
            if items.is_empty() {
                items.push(SelectItem::Expr {
                    expr: Expr::Agg(agg(AggFunc::Count, None, false)),
                    alias: Some(id("c")),
                });
                outs.push(field("c"));
            }
            // A hidden aggregate is allowed in HAVING and ORDER BY.
            outs.push(Expr::Agg(agg(AggFunc::Count, None, false)));
            let having = having.map(|(ix, op, l, neg)| {
                let c = Expr::Cmp {
                    op,
                    left: Box::new(ix.get(&outs).clone()),
                    right: Box::new(lit(l)),
                };
                if neg {
                    Expr::Not(Box::new(c), Span::default())
                } else {
                    c
                }
            });
            let (order_by, limit) = match order {
                Some((ix, descending, k)) => (
                    vec![OrderItem {
                        expr: ix.get(&outs).clone(),
                        descending,
                    }],
                    Some(k),
                ),
                None => (Vec::new(), None),
            };
            Select {
                items,
                from: id("s"),
                selection,
                group_by: keys.iter().map(|k| id(k)).collect(),
                having,
                window,
                order_by,
                limit,
                emit_every: None,
            }
        })
}

fn filter_select() -> impl Strategy<Value = Select> {
    (
        prop::option::weighted(0.25, Just(())),
        prop::sample::subsequence(vec!["k", "n", "s", "tags", "ts", "b", "zz"], 1..=3),
        any::<bool>(),
        prop::option::weighted(0.8, predicate()),
    )
        .prop_map(|(star, fields, alias, selection)| Select {
            items: match star {
                Some(()) => vec![SelectItem::Wildcard(Span::default())],
                None => fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| SelectItem::Expr {
                        expr: field(f),
                        alias: (alias && i == 0).then(|| id(&format!("o_{f}"))),
                    })
                    .collect(),
            },
            from: id("s"),
            selection,
            group_by: Vec::new(),
            having: None,
            window: None,
            order_by: Vec::new(),
            limit: None,
            emit_every: None,
        })
}

fn select() -> impl Strategy<Value = Select> {
    prop_oneof![1 => filter_select(), 3 => aggregate_select()]
}

fn queries(max: usize) -> impl Strategy<Value = Vec<CreateQuery>> {
    prop::collection::vec(select(), 1..=max).prop_map(|sels| {
        sels.into_iter()
            .enumerate()
            .map(|(i, select)| CreateQuery {
                name: id(&format!("q{i}")),
                select,
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Strategies: records.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Line {
    /// A record: time step, disorder, and field choices.
    Record {
        step: i64,
        back: i64,
        k: Option<serde_json::Value>,
        n: Option<serde_json::Value>,
        s: Option<Vec<&'static str>>,
        tags: Option<Option<Vec<serde_json::Value>>>,
        b: Option<bool>,
    },
    /// A record far behind the others (late unless the watermark is large).
    Late { back: i64 },
    /// Not a valid record.
    Malformed(&'static str),
}

fn n_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        5 => (-3i64..10).prop_map(serde_json::Value::from),
        3 => prop::sample::select(vec![-2.25f64, -0.5, 0.75, 1.5, 2.5, 4.25]).prop_map(serde_json::Value::from),
        1 => Just(serde_json::Value::Null),
        1 => Just(serde_json::Value::from("5")),
    ]
}

fn k_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        12 => prop::sample::select(KEYS).prop_map(serde_json::Value::from),
        2 => Just(serde_json::Value::Null),
        1 => prop::sample::select(vec![serde_json::json!(1), serde_json::json!(2.5), serde_json::json!(true)]),
    ]
}

fn tag_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        8 => prop::sample::select(TAGS).prop_map(serde_json::Value::from),
        1 => Just(serde_json::Value::from(1)),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    let record = (
        0i64..30,
        prop_oneof![3 => Just(0i64), 1 => 0i64..300],
        prop::option::weighted(0.9, k_value()),
        prop::option::weighted(0.85, n_value()),
        prop::option::weighted(
            0.85,
            prop::collection::vec(prop::sample::select(WORDS), 0..4),
        ),
        prop::option::weighted(
            0.85,
            prop::option::weighted(0.9, prop::collection::vec(tag_value(), 0..4)),
        ),
        prop::option::weighted(0.5, any::<bool>()),
    )
        .prop_map(|(step, back, k, n, s, tags, b)| Line::Record {
            step,
            back,
            k,
            n,
            s,
            tags,
            b,
        });
    prop_oneof![
        40 => record,
        1 => (500i64..3000).prop_map(|back| Line::Late { back }),
        1 => prop::sample::select(vec![
            "not json",
            "{\"ts\": 12, \"k\": ",
            "[1, 2, 3]",
            "42",
            "{\"k\": \"a\", \"n\": 1}",
            "{\"ts\": \"yesterday\", \"k\": \"a\"}",
            "{\"ts\": null}",
        ])
        .prop_map(Line::Malformed),
    ]
}

const T0: i64 = 1_700_000_000_000;

/// Renders lines as JSON text, with event times from a running clock.
fn render(lines: &[Line]) -> Vec<String> {
    let mut clock = T0;
    lines
        .iter()
        .map(|l| match l {
            Line::Record {
                step,
                back,
                k,
                n,
                s,
                tags,
                b,
            } => {
                clock += step;
                let mut m = serde_json::Map::new();
                m.insert("ts".into(), (clock - back).into());
                if let Some(k) = k {
                    m.insert("k".into(), k.clone());
                }
                if let Some(n) = n {
                    m.insert("n".into(), n.clone());
                }
                if let Some(s) = s {
                    m.insert("s".into(), s.join(" ").into());
                }
                if let Some(t) = tags {
                    m.insert(
                        "tags".into(),
                        t.clone()
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                    );
                }
                if let Some(b) = b {
                    m.insert("b".into(), (*b).into());
                }
                serde_json::Value::Object(m).to_string()
            }
            Line::Late { back } => format!(
                "{{\"ts\":{},\"k\":\"a\",\"n\":1,\"s\":\"red\",\"tags\":[\"x\"]}}",
                clock - back
            ),
            Line::Malformed(t) => t.to_string(),
        })
        .collect()
}

/// Batch boundaries: cut points into `n` lines.
fn batches(cuts: &[prop::sample::Index], n: usize) -> Vec<std::ops::Range<usize>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(n + 1)).collect();
    points.push(0);
    points.push(n);
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| w[0]..w[1]).collect()
}

fn bytes(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Executes a statement through its SQL text (so through the parser).
fn exec(e: &mut Engine, stmt: &Statement) {
    let text = stmt.to_string();
    e.execute(&text)
        .unwrap_or_else(|err| panic!("{text}: {}", err.render(&text)));
}

/// Parses the statements' canonical SQL; it must give back the same trees.
fn parse_back(stmts: &[Statement], sql: &str) -> Result<Vec<Statement>, TestCaseError> {
    let parsed: Vec<Statement> = shoal::parser::parse_statements(sql)
        .map_err(|e| TestCaseError::fail(e.render(sql)))?
        .into_iter()
        .map(|s| s.statement)
        .collect();
    prop_assert_eq!(
        &parsed,
        stmts,
        "canonical SQL does not parse back:\n{}",
        sql
    );
    Ok(parsed)
}

/// Runs statements over lines pushed in the given batches, then flushes.
fn run_engine(
    stmts: &[Statement],
    lines: &[String],
    cuts: &[std::ops::Range<usize>],
) -> Vec<QueryResult> {
    let mut e = Engine::new();
    for s in stmts {
        exec(&mut e, s);
    }
    let mut origin = Origin::new("file-a");
    let mut out = Vec::new();
    for c in cuts {
        e.push_lines("s", &mut origin, &bytes(&lines[c.clone()]), 0, &mut out)
            .expect("stream exists");
    }
    e.flush(&mut out);
    out
}

fn check(
    a_label: &str,
    a: &[NResult],
    b_label: &str,
    b: &[NResult],
    sql: &str,
) -> Result<(), TestCaseError> {
    diff(a_label, a, b_label, b)
        .map_err(|m| TestCaseError::fail(format!("{m}\nstatements:\n{sql}")))
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Shared engine == each query alone == reference, under two different batchings.
    #[test]
    fn shared_equals_alone_equals_reference(
        watermark in prop::sample::select(vec![0i64, 100, 250, 1000]),
        qs in queries(12),
        lines in prop::collection::vec(line(), 100..400),
        cuts_a in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        cuts_b in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let lines = render(&lines);
        let stream = stream_stmt(watermark);
        let mut stmts = vec![stream.clone()];
        stmts.extend(qs.iter().cloned().map(Statement::CreateQuery));
        let sql: String = stmts.iter().map(|s| format!("{s};\n")).collect();
        let stmts = parse_back(&stmts, &sql)?;

        let expected = reference::run(&stmts, &lines);
        let shared = normalize(&run_engine(&stmts, &lines, &batches(&cuts_a, lines.len())));
        check("reference", &expected, "shared", &shared, &sql)?;

        // Each query alone, with other batch boundaries.
        let mut alone = Vec::new();
        for q in &qs {
            let one = vec![stream.clone(), Statement::CreateQuery(q.clone())];
            alone.extend(normalize(&run_engine(&one, &lines, &batches(&cuts_b, lines.len()))));
        }
        check("shared", &shared, "alone", &alone, &sql)?;
        // One line per batch.
        let single: Vec<_> = (0..lines.len()).map(|i| i..i + 1).collect();
        let one_by_one = normalize(&run_engine(&stmts, &lines, &single));
        check("shared", &shared, "line-by-line", &one_by_one, &sql)?;
    }
}

fn named(name: &str, select: Select) -> CreateQuery {
    CreateQuery {
        name: id(name),
        select,
    }
}

fn of_query(rs: &[NResult], q: &str) -> Vec<NResult> {
    rs.iter().filter(|r| r.query == q).cloned().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Adding and dropping queries between batches leaves the other queries'
    /// results unchanged; a query added mid-stream reports exactly the windows
    /// that start after the largest event time seen when it was added; a
    /// dropped query's results before the drop are correct.
    #[test]
    fn add_and_drop_between_batches(
        watermark in prop::sample::select(vec![0i64, 100, 250, 1000]),
        untouched in queries(6),
        added in select(),
        dropped in select(),
        copies in (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..4),
        lines in prop::collection::vec(line(), 100..300),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 2..12),
        add_at in any::<prop::sample::Index>(),
        drop_at in any::<prop::sample::Index>(),
    ) {
        let lines = render(&lines);
        let cuts = batches(&cuts, lines.len());
        let add_at = add_at.index(cuts.len());
        let drop_at = drop_at.index(cuts.len());
        let stream = stream_stmt(watermark);
        // Sometimes the added or dropped query is a copy of an untouched one,
        // so that it shares state with it.
        let (ia, id_, which) = copies;
        let added = match which {
            1 | 3 => untouched[ia.index(untouched.len())].select.clone(),
            _ => added,
        };
        let dropped = match which {
            2 | 3 => untouched[id_.index(untouched.len())].select.clone(),
            _ => dropped,
        };
        let added = named("added", added);
        let dropped = named("dropped", dropped);
        let mut base = vec![stream.clone()];
        base.extend(untouched.iter().cloned().map(Statement::CreateQuery));
        let sql: String = base
            .iter()
            .chain([&Statement::CreateQuery(dropped.clone()), &Statement::CreateQuery(added.clone())])
            .map(|s| format!("{s};\n"))
            .collect();

        // With add and drop.
        let mut e = Engine::new();
        for s in &base {
            exec(&mut e, s);
        }
        exec(&mut e, &Statement::CreateQuery(dropped.clone()));
        let mut origin = Origin::new("file-a");
        let mut out = Vec::new();
        let mut boundary = 0;
        for (i, c) in cuts.iter().enumerate() {
            if i == add_at {
                exec(&mut e, &Statement::CreateQuery(added.clone()));
                boundary = c.start;
            }
            if i == drop_at {
                e.drop_query("dropped").expect("dropped exists");
            }
            e.push_lines("s", &mut origin, &bytes(&lines[c.clone()]), 0, &mut out).expect("stream exists");
        }
        e.flush(&mut out);
        let with = normalize(&out);

        // Without.
        let without = normalize(&run_engine(&base, &lines, &cuts));
        for q in &untouched {
            let name = &q.name.name;
            check("without add/drop", &of_query(&without, name), "with add/drop", &of_query(&with, name), &sql)?;
        }
        let expected = reference::run(&base, &lines);
        check("reference", &expected, "without add/drop", &without, &sql)?;

        // The added query: records from the point it was added, windows
        // starting after the largest event time seen before.
        let conf = reference::StreamConf::from_ast(match &stream {
            Statement::CreateStream(cs) => cs,
            _ => unreachable!(),
        });
        let recs = reference::accept(&conf, &lines);
        let max_before = recs.iter().filter(|r| r.line < boundary).map(|r| r.ts).max();
        let after: Vec<&reference::Record> = recs.iter().filter(|r| r.line >= boundary).collect();
        let expected_added: Vec<NResult> = reference::eval_query(&added, &after)
            .into_iter()
            .filter(|r| match &r.body {
                reference::NBody::Agg { window: Some((start, _)), .. } => max_before.is_none_or(|m| *start > m),
                _ => true,
            })
            .collect();
        check("reference (added)", &expected_added, "added", &of_query(&with, "added"), &sql)?;

        // The dropped query: whatever it emitted before the drop is right.
        let all: Vec<&reference::Record> = recs.iter().collect();
        let mut expected_dropped = reference::sorted(reference::eval_query(&dropped, &all));
        for r in of_query(&with, "dropped") {
            let pos = expected_dropped.iter().position(|x| x.approx_eq(&r));
            prop_assert!(pos.is_some(), "dropped query emitted {:?}, which the reference does not have\n{}", r, sql);
            expected_dropped.remove(pos.unwrap());
        }
    }
}

/// Hand-picked values the generator avoids: timestamps around and before the
/// epoch, `5` next to `5.0` (one group, one distinct value), nested objects,
/// escaped strings.
#[test]
fn edge_values_match_reference() {
    let sql = "CREATE STREAM s WITH (format = 'json', event_time = 'ts', watermark = '500ms');
        CREATE QUERY by_n AS SELECT n, count(*) AS c, count(DISTINCT n) AS d, min(o) AS mo FROM s GROUP BY n WINDOW SLIDING 300ms EVERY 200ms;
        CREATE QUERY total AS SELECT count(DISTINCT n) AS d, sum(n) AS sn, avg(n) AS an, max(s) AS ms FROM s;
        CREATE QUERY rows AS SELECT o, s FROM s WHERE s CONTAINS 'É' OR s MATCHES '\\n';
        CREATE QUERY star AS SELECT * FROM s WHERE n >= 5;";
    let lines: Vec<String> = [
        r#"{"ts": -450, "n": 5, "o": {"a": [1, 2]}, "s": "plain"}"#,
        r#"{"ts": -1, "n": 5.0, "s": "caf\u00c9"}"#,
        r#"{"ts": 0, "n": 5.5, "o": {"b": null}, "s": "line\nbreak"}"#,
        r#"{"ts": 199, "n": -7, "s": "quote \" here"}"#,
        r#"{"ts": 200, "n": 5, "o": "text"}"#,
        r#"{"ts": -300, "n": 6}"#,
        r#"  {"ts": 401, "n": 1e2}  "#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let stmts: Vec<Statement> = shoal::parser::parse_statements(sql)
        .expect("parses")
        .into_iter()
        .map(|s| s.statement)
        .collect();
    let expected = reference::run(&stmts, &lines);
    let mut e = Engine::new();
    e.execute(sql).expect("executes");
    let mut out = Vec::new();
    e.push_lines("s", &mut Origin::new("a"), &bytes(&lines), 0, &mut out)
        .unwrap();
    e.flush(&mut out);
    let got = normalize(&out);
    assert!(expected.len() > 10, "{expected:?}");
    if let Err(m) = diff("reference", &expected, "engine", &got) {
        panic!("{m}");
    }
}

/// Runs `base` (then `added` before batch `add_at`, and drops `dropped`
/// before batch `drop_at`) over the batches; when `checkpoint_at` is set,
/// the engine is checkpointed before that batch, the checkpoint goes
/// through JSON, and a fresh engine with the same catalog restored from it
/// carries on. Returns the results and the stream's counters.
fn run_with_checkpoint(
    base: &[Statement],
    added: &CreateQuery,
    dropped: &CreateQuery,
    lines: &[String],
    cuts: &[std::ops::Range<usize>],
    (add_at, drop_at): (usize, usize),
    checkpoint_at: Option<usize>,
) -> (Vec<QueryResult>, shoal::exec::StreamStats) {
    let mut e = Engine::new();
    for s in base {
        exec(&mut e, s);
    }
    exec(&mut e, &Statement::CreateQuery(dropped.clone()));
    let mut origin = Origin::new("file-a");
    let mut out = Vec::new();
    for (i, c) in cuts.iter().enumerate() {
        if checkpoint_at == Some(i) {
            let json = serde_json::to_string(&e.checkpoint()).expect("serializes");
            // The catalog as a server would re-create it: surviving
            // statements in registration order.
            let mut fresh = Engine::new();
            for s in base {
                exec(&mut fresh, s);
            }
            if i <= drop_at {
                exec(&mut fresh, &Statement::CreateQuery(dropped.clone()));
            }
            if i > add_at {
                exec(&mut fresh, &Statement::CreateQuery(added.clone()));
            }
            fresh
                .restore(&serde_json::from_str(&json).expect("parses"))
                .expect("restores");
            e = fresh;
        }
        if i == add_at {
            exec(&mut e, &Statement::CreateQuery(added.clone()));
        }
        if i == drop_at {
            e.drop_query("dropped").expect("dropped exists");
        }
        e.push_lines("s", &mut origin, &bytes(&lines[c.clone()]), 0, &mut out)
            .expect("stream exists");
    }
    e.flush(&mut out);
    let stats = e.stream("s").expect("stream").stats().clone();
    (out, stats)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// Checkpointing between two batches, serializing, and restoring into a
    /// fresh engine with the same catalog changes nothing: the same results
    /// in the same order, and the same counters, as the uninterrupted run,
    /// with a query registered and one dropped mid-stream on either side of
    /// the checkpoint, sharing state with others or not.
    #[test]
    fn checkpoint_restore_equals_uninterrupted(
        watermark in prop::sample::select(vec![0i64, 100, 250, 1000]),
        untouched in queries(6),
        added in select(),
        dropped in select(),
        copies in (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..4),
        lines in prop::collection::vec(line(), 100..300),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 2..12),
        add_at in any::<prop::sample::Index>(),
        drop_at in any::<prop::sample::Index>(),
        checkpoint_at in any::<prop::sample::Index>(),
    ) {
        let lines = render(&lines);
        let cuts = batches(&cuts, lines.len());
        let (ia, id_, which) = copies;
        let added = named("added", match which {
            1 | 3 => untouched[ia.index(untouched.len())].select.clone(),
            _ => added,
        });
        let dropped = named("dropped", match which {
            2 | 3 => untouched[id_.index(untouched.len())].select.clone(),
            _ => dropped,
        });
        let mut base = vec![stream_stmt(watermark)];
        base.extend(untouched.iter().cloned().map(Statement::CreateQuery));
        let sql: String = base.iter().map(|s| format!("{s};\n")).collect();
        let at = (add_at.index(cuts.len()), drop_at.index(cuts.len()));
        let cp = checkpoint_at.index(cuts.len());
        let (expected, expected_stats) =
            run_with_checkpoint(&base, &added, &dropped, &lines, &cuts, at, None);
        let (got, got_stats) =
            run_with_checkpoint(&base, &added, &dropped, &lines, &cuts, at, Some(cp));
        prop_assert!(
            got == expected,
            "checkpoint before batch {} of {}, add at {}, drop at {}:\n{}\nadded: {}\ndropped: {}\n{}",
            cp, cuts.len(), at.0, at.1, sql, Statement::CreateQuery(added.clone()), Statement::CreateQuery(dropped.clone()),
            diff("uninterrupted", &normalize(&expected), "restored", &normalize(&got)).err().unwrap_or_else(|| "same multiset, other order".into())
        );
        prop_assert_eq!(got_stats, expected_stats);
    }
}
