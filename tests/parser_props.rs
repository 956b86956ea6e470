//! Property tests for the parser: it never panics (on arbitrary text, token
//! soup and edited valid statements), errors point inside the input, and
//! printed trees parse back to equal trees.

use proptest::prelude::*;
use shoal::parser::*;

fn sp() -> Span {
    Span::default()
}

fn id(name: String) -> Ident {
    Ident::new(name, sp())
}

fn ident() -> impl Strategy<Value = Ident> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "a", "b_1", "user", "text", "count", "window", "timestamp", "level", "from",
            "Select", "NULL", "desc", "tumbling", "x y", "say \"hi\"", "", "größe",
        ])
        .prop_map(|s| id(s.to_string())),
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_map(id),
        1 => any::<String>().prop_map(id),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        (-1000i64..1000).prop_map(Literal::Int),
        prop::num::f64::NORMAL.prop_map(Literal::Float),
        prop::num::f64::SUBNORMAL.prop_map(Literal::Float),
        prop::num::f64::ZERO.prop_map(Literal::Float),
        (-1000i32..1000).prop_map(|x| Literal::Float(f64::from(x) / 4.0)),
        any::<String>().prop_map(Literal::Str),
        "[a-z' \\\\]{0,6}".prop_map(Literal::Str),
    ]
}

fn agg_call() -> impl Strategy<Value = AggCall> {
    (
        prop::sample::select(vec![
            AggFunc::Count,
            AggFunc::Sum,
            AggFunc::Avg,
            AggFunc::Min,
            AggFunc::Max,
        ]),
        prop::option::of(ident()),
        any::<bool>(),
    )
        .prop_map(|(func, arg, distinct)| {
            // `*` only for count, and DISTINCT only with an argument.
            let arg = if func == AggFunc::Count {
                arg
            } else {
                arg.or_else(|| Some(id("f".into())))
            };
            AggCall {
                func,
                distinct: distinct && arg.is_some(),
                arg,
                span: sp(),
            }
        })
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

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        ident().prop_map(Expr::Field),
        literal().prop_map(|l| Expr::Literal(l, sp())),
        agg_call().prop_map(Expr::Agg),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        let b = |e: Expr| Box::new(e);
        prop_oneof![
            (cmp_op(), inner.clone(), inner.clone()).prop_map(move |(op, l, r)| Expr::Cmp {
                op,
                left: b(l),
                right: b(r)
            }),
            (
                inner.clone(),
                prop::collection::vec(literal(), 1..4),
                any::<bool>()
            )
                .prop_map(move |(e, list, negated)| Expr::InList {
                    expr: b(e),
                    list,
                    negated,
                    span: sp()
                }),
            (inner.clone(), any::<String>()).prop_map(move |(e, pattern)| Expr::Contains {
                expr: b(e),
                pattern,
                pattern_span: sp()
            }),
            (inner.clone(), "[a-z\\\\.*+?'()]{0,8}").prop_map(move |(e, pattern)| {
                Expr::Matches {
                    expr: b(e),
                    pattern,
                    pattern_span: sp(),
                }
            }),
            (inner.clone(), any::<bool>()).prop_map(move |(e, negated)| Expr::IsNull {
                expr: b(e),
                negated,
                span: sp()
            }),
            (inner.clone(), inner.clone()).prop_map(move |(l, r)| Expr::And(b(l), b(r))),
            (inner.clone(), inner.clone()).prop_map(move |(l, r)| Expr::Or(b(l), b(r))),
            inner.prop_map(move |e| Expr::Not(b(e), sp())),
        ]
    })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1i64..100_000_000,
        (1i64..1000).prop_map(|s| s * 1000),
        (1i64..1000).prop_map(|m| m * 60_000),
        (1i64..1000).prop_map(|h| h * 3_600_000),
        Just(i64::MAX),
    ]
    .prop_map(|ms| Duration { ms, span: sp() })
}

fn window() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        duration().prop_map(|size| WindowSpec::Tumbling { size }),
        (duration(), duration()).prop_map(|(size, slide)| WindowSpec::Sliding { size, slide }),
    ]
}

fn select_item() -> impl Strategy<Value = SelectItem> {
    prop_oneof![
        1 => Just(SelectItem::Wildcard(sp())),
        4 => (
            prop_oneof![
                ident().prop_map(Expr::Field),
                agg_call().prop_map(Expr::Agg)
            ],
            prop::option::of(ident())
        )
            .prop_map(|(expr, alias)| SelectItem::Expr { expr, alias }),
    ]
}

fn select() -> impl Strategy<Value = Select> {
    (
        prop::collection::vec(select_item(), 1..4),
        ident(),
        prop::option::of(expr()),
        prop::collection::vec(ident(), 0..3),
        prop::option::of(expr()),
        prop::option::of(window()),
        prop::collection::vec(
            (expr(), any::<bool>()).prop_map(|(expr, descending)| OrderItem { expr, descending }),
            0..3,
        ),
        prop::option::of(any::<u64>()),
        prop::option::of(duration()),
    )
        .prop_map(
            |(items, from, selection, group_by, having, window, order_by, limit, emit_every)| {
                Select {
                    items,
                    from,
                    selection,
                    group_by,
                    having,
                    window,
                    order_by,
                    limit,
                    emit_every,
                }
            },
        )
}

fn data_type() -> impl Strategy<Value = DataType> {
    let base = prop::sample::select(vec![
        DataType::Timestamp,
        DataType::Text,
        DataType::BigInt,
        DataType::Double,
        DataType::Boolean,
    ]);
    base.prop_recursive(2, 3, 1, |inner| {
        inner.prop_map(|t| DataType::Array(Box::new(t)))
    })
}

fn statement() -> impl Strategy<Value = Statement> {
    let column = (ident(), data_type()).prop_map(|(name, ty)| ColumnDef {
        name,
        ty,
        ty_span: sp(),
    });
    let option = (ident(), any::<String>()).prop_map(|(key, value)| StreamOption {
        key,
        value,
        value_span: sp(),
    });
    prop_oneof![
        1 => (
            ident(),
            prop::option::of(prop::collection::vec(column, 1..4)),
            prop::collection::vec(option, 0..3)
        )
            .prop_map(|(name, columns, options)| Statement::CreateStream(CreateStream {
                name,
                columns,
                options
            })),
        4 => (ident(), select())
            .prop_map(|(name, select)| Statement::CreateQuery(CreateQuery { name, select })),
        1 => ident().prop_map(|name| Statement::DropQuery { name }),
        1 => ident().prop_map(|name| Statement::DropStream { name }),
        1 => prop::option::of(ident()).prop_map(|stream| Statement::Explain { stream }),
    ]
}

/// Statement-like text: tokens of the language (and some junk) glued with
/// random separators, so the parser gets deep before failing.
fn token_soup() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "CREATE", "QUERY", "STREAM", "q", "AS", "SELECT", "*", "a", "count", "(", ")", ",", "FROM",
        "t", "WHERE", "=", "<>", "1", "-", "2.5e3", "'s''x'", "\"id\"", "AND", "OR", "NOT", "IN",
        "IS", "NULL", "CONTAINS", "MATCHES", "GROUP", "BY", "HAVING", "WINDOW", "TUMBLING",
        "SLIDING", "EVERY", "10s", "5", "ms", "ORDER", "DESC", "LIMIT", "EMIT", ";", "DROP",
        "EXPLAIN", "WITH", "TEXT", "[]", "--", "/*", "*/", "'", "\"", "é", "\u{0}",
    ]);
    let sep = prop::sample::select(vec![" ", "", "\n", "  "]);
    prop::collection::vec((tok, sep), 0..40).prop_map(|v| {
        v.into_iter()
            .map(|(t, s)| format!("{t}{s}"))
            .collect::<String>()
    })
}

fn texts(stmts: &[Statement]) -> String {
    stmts.iter().map(|s| format!("{s};\n")).collect()
}

fn statements_of(src: &str) -> Result<Vec<Statement>, String> {
    parse_statements(src)
        .map(|v| v.into_iter().map(|s| s.statement).collect())
        .map_err(|e| e.render(src))
}

/// Parses `src` and checks the invariants that hold for any input.
fn check_any_input(src: &str) -> Result<(), TestCaseError> {
    match parse_statements(src) {
        Ok(parsed) => {
            for s in &parsed {
                prop_assert!(s.span.start <= s.span.end && s.span.end <= src.len());
            }
            let stmts: Vec<Statement> = parsed.into_iter().map(|s| s.statement).collect();
            let text = texts(&stmts);
            prop_assert_eq!(statements_of(&text), Ok(stmts), "canonical text:\n{}", text);
        }
        Err(e) => {
            let span = e.0.span;
            prop_assert!(span.start <= span.end && span.end <= src.len());
            prop_assert!(src.is_char_boundary(span.start) && src.is_char_boundary(span.end));
            prop_assert!(!e.render(src).is_empty());
        }
    }
    Ok(())
}

/// An edit of valid statement text, so that inputs are near misses that get
/// deep into the parser before going wrong.
#[derive(Clone, Debug)]
enum Edit {
    /// Remove the characters between two positions.
    Cut(prop::sample::Index, prop::sample::Index),
    /// Repeat the characters between two positions.
    Repeat(prop::sample::Index, prop::sample::Index),
    /// Insert a token at a position.
    Insert(prop::sample::Index, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    let idx = any::<prop::sample::Index>;
    prop_oneof![
        (idx(), idx()).prop_map(|(a, b)| Edit::Cut(a, b)),
        (idx(), idx()).prop_map(|(a, b)| Edit::Repeat(a, b)),
        (
            idx(),
            prop::sample::select(vec![
                "(",
                ")",
                ",",
                ";",
                "'",
                "\"",
                "--",
                "/*",
                "NOT ",
                " AND ",
                "*",
                "-",
                "1e999",
                "99999999999999999999",
                " IN (",
                " GROUP BY ",
                " WINDOW ",
                "é",
                "\u{0}",
            ])
        )
            .prop_map(|(a, t)| Edit::Insert(a, t)),
    ]
}

/// `text` with the edits applied (on characters, so the result is text).
fn edited(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len() + 1;
        match e {
            Edit::Cut(a, b) | Edit::Repeat(a, b) => {
                let (x, y) = (a.index(n), b.index(n));
                let (x, y) = (x.min(y), x.max(y));
                if matches!(e, Edit::Cut(..)) {
                    chars.drain(x..y);
                } else {
                    let part: Vec<char> = chars[x..y].to_vec();
                    chars.splice(y..y, part);
                }
            }
            Edit::Insert(a, t) => {
                let x = a.index(n);
                chars.splice(x..x, t.chars());
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_edited_statements(
        stmts in prop::collection::vec(statement(), 1..3),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        check_any_input(&edited(&texts(&stmts), &edits))?;
    }

    #[test]
    fn the_engine_never_panics_on_token_soup(src in token_soup()) {
        let mut e = shoal::exec::Engine::new();
        e.execute("CREATE STREAM t (a BIGINT, q TEXT, ts BIGINT) WITH (format = 'json');")
            .expect("the stream is valid");
        if let Err(err) = e.execute(&src) {
            prop_assert!(!err.render(&src).is_empty());
        }
        let mut out: Vec<shoal::exec::QueryResult> = Vec::new();
        let mut origin = shoal::exec::Origin::new("props");
        // The soup may have dropped the stream: then there is nothing to push to.
        let _ = e.push_lines("t", &mut origin, b"{\"a\":1,\"q\":\"x\",\"ts\":5}\nnot json\n", 0, &mut out);
        e.flush(&mut out);
    }

    #[test]
    fn never_panics_on_arbitrary_strings(src in any::<String>()) {
        check_any_input(&src)?;
    }

    #[test]
    fn never_panics_on_token_soup(src in token_soup()) {
        check_any_input(&src)?;
    }

    #[test]
    fn printed_trees_parse_back(stmts in prop::collection::vec(statement(), 1..4)) {
        let text = texts(&stmts);
        prop_assert_eq!(statements_of(&text), Ok(stmts), "text:\n{}", text);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for open in ["(", "NOT ", "NOT ("] {
        let src = format!(
            "CREATE QUERY q AS SELECT * FROM t WHERE {}a",
            open.repeat(100_000)
        );
        let err = parse_statements(&src).expect_err("too deep");
        assert_eq!(err.0.message, "expression nested too deeply");
    }
}
