//! Engine behaviour on small, hand-computed cases: windows, lateness, running
//! totals, filters, registration mid-stream, drops, errors, EXPLAIN.

use shoal::exec::{Engine, ErrorKind, Origin, QueryResult};

fn engine(sql: &str) -> Engine {
    let mut e = Engine::new();
    if let Err(err) = e.execute(sql) {
        panic!("{}", err.render(sql));
    }
    e
}

fn push(e: &mut Engine, stream: &str, lines: &str) -> Vec<QueryResult> {
    let mut out = Vec::new();
    let mut origin = Origin::new("test");
    e.push_lines(stream, &mut origin, lines.as_bytes(), 0, &mut out)
        .unwrap();
    out
}

/// Results as sorted JSON lines, for comparison.
fn lines(results: &[QueryResult]) -> Vec<String> {
    let mut v: Vec<String> = results.iter().map(QueryResult::to_json).collect();
    v.sort();
    v
}

const READINGS: &str = "CREATE STREAM r (ts BIGINT, k TEXT, v BIGINT, tags TEXT[]) \
    WITH (format = 'json', event_time = 'ts', watermark = '1s');";

#[test]
fn tumbling_and_sliding_windows_share_panes_and_agree_with_hand_counts() {
    let mut e = engine(&format!(
        "{READINGS}
         CREATE QUERY tumble AS SELECT k, count(*) AS n, sum(v) AS s FROM r GROUP BY k WINDOW TUMBLING 10s;
         CREATE QUERY slide AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW SLIDING 20s EVERY 10s;"
    ));
    let mut out = push(
        &mut e,
        "r",
        r#"{"ts": 1000, "k": "a", "v": 1}
{"ts": 9999, "k": "a", "v": 2}
{"ts": 10000, "k": "b", "v": 5}
{"ts": 15000, "k": "a", "v": 7}
"#,
    );
    // Watermark is 14 s: windows ending by then are final.
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"slide","window_start":-10000,"window_end":10000,"group":{"k":"a"},"values":{"n":2}}"#,
            r#"{"query":"tumble","window_start":0,"window_end":10000,"group":{"k":"a"},"values":{"n":2,"s":3}}"#
        ]
    );
    e.flush(&mut out);
    let got = lines(&out);
    let want = [
        r#"{"query":"slide","window_start":-10000,"window_end":10000,"group":{"k":"a"},"values":{"n":2}}"#,
        r#"{"query":"slide","window_start":0,"window_end":20000,"group":{"k":"a"},"values":{"n":3}}"#,
        r#"{"query":"slide","window_start":0,"window_end":20000,"group":{"k":"b"},"values":{"n":1}}"#,
        r#"{"query":"slide","window_start":10000,"window_end":30000,"group":{"k":"a"},"values":{"n":1}}"#,
        r#"{"query":"slide","window_start":10000,"window_end":30000,"group":{"k":"b"},"values":{"n":1}}"#,
        r#"{"query":"tumble","window_start":0,"window_end":10000,"group":{"k":"a"},"values":{"n":2,"s":3}}"#,
        r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"a"},"values":{"n":1,"s":7}}"#,
        r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"b"},"values":{"n":1,"s":5}}"#,
    ];
    assert_eq!(got, want);
    // Both queries group by k with the same (empty) filter and 10 s panes: one state.
    let plan = e.explain(None);
    assert!(plan.contains("aggregation states: 1"), "{plan}");
}

#[test]
fn late_records_are_dropped_and_counted() {
    let mut e = engine(&format!(
        "{READINGS} CREATE QUERY c AS SELECT count(*) AS n FROM r WINDOW TUMBLING 10s;"
    ));
    let mut out = push(
        &mut e,
        "r",
        r#"{"ts": 5000, "k": "a"}
{"ts": 3999, "k": "late"}
{"ts": 4000, "k": "on time"}
{"ts": 20000, "k": "a"}
{"ts": 9000, "k": "late, window closed"}
"#,
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"c","window_start":0,"window_end":10000,"group":{},"values":{"n":2}}"#,
            r#"{"query":"c","window_start":20000,"window_end":30000,"group":{},"values":{"n":1}}"#,
        ]
    );
    let stats = e.stream("r").unwrap().stats();
    assert_eq!((stats.records_in, stats.accepted, stats.late), (5, 3, 2));
}

#[test]
fn running_totals_having_order_and_limit() {
    let mut e = engine(&format!(
        "{READINGS} CREATE QUERY top AS SELECT k, count(*) AS n, max(v) AS mx FROM r \
         GROUP BY k HAVING count(*) >= 2 ORDER BY n DESC LIMIT 2;"
    ));
    let mut out = push(
        &mut e,
        "r",
        r#"{"ts": 1, "k": "a", "v": 1}
{"ts": 2, "k": "b", "v": 2}
{"ts": 3, "k": "b", "v": 3}
{"ts": 4, "k": "c", "v": 4}
{"ts": 5, "k": "c", "v": 5}
{"ts": 6, "k": "c", "v": 6}
{"ts": 7, "k": "d", "v": 7}
{"ts": 8, "k": "d", "v": 8}
"#,
    );
    assert!(out.is_empty(), "running totals wait for flush");
    e.flush(&mut out);
    let got: Vec<String> = out.iter().map(QueryResult::to_json).collect();
    assert_eq!(
        got,
        [
            r#"{"query":"top","window_start":null,"window_end":null,"group":{"k":"c"},"values":{"n":3,"mx":6}}"#,
            r#"{"query":"top","window_start":null,"window_end":null,"group":{"k":"b"},"values":{"n":2,"mx":3}}"#,
        ]
    );
}

#[test]
fn group_by_array_counts_each_distinct_element() {
    let mut e = engine(&format!(
        "{READINGS} CREATE QUERY tags AS SELECT tags AS tag, count(*) AS n FROM r GROUP BY tags;"
    ));
    let mut out = push(
        &mut e,
        "r",
        r#"{"ts": 1, "tags": ["x", "y", "x"]}
{"ts": 2, "tags": ["y"]}
{"ts": 3, "tags": []}
{"ts": 4}
"#,
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"tags","window_start":null,"window_end":null,"group":{"tag":"x"},"values":{"n":1}}"#,
            r#"{"query":"tags","window_start":null,"window_end":null,"group":{"tag":"y"},"values":{"n":2}}"#,
            r#"{"query":"tags","window_start":null,"window_end":null,"group":{"tag":null},"values":{"n":1}}"#,
        ]
    );
}

#[test]
fn filters_project_and_follow_three_valued_logic() {
    let mut e = engine(
        "CREATE STREAM t WITH (format = 'json');
         CREATE QUERY a AS SELECT id, msg AS m FROM t WHERE msg CONTAINS 'ERROR' AND NOT (code = 5);
         CREATE QUERY star AS SELECT * FROM t WHERE tags CONTAINS 'ops' OR msg MATCHES '^disk \\d+';",
    );
    let out = push(
        &mut e,
        "t",
        r#"{"id": 1, "msg": "an error here", "code": 4}
{"id": 2, "msg": "Error again", "code": 5}
{"id": 3, "msg": "ERROR without code"}
{"id": 4, "msg": "disk 42 full", "tags": ["Ops"]}
{"id": 5, "msg": "fine", "tags": ["ops"]}
"#,
    );
    assert_eq!(
        out.iter().map(QueryResult::to_json).collect::<Vec<_>>(),
        [
            r#"{"query":"a","row":{"id":1,"m":"an error here"}}"#,
            r#"{"query":"star","row":{"id": 4, "msg": "disk 42 full", "tags": ["Ops"]}}"#,
            r#"{"query":"star","row":{"id": 5, "msg": "fine", "tags": ["ops"]}}"#,
        ],
        "id 3 has no code: NOT (NULL = 5) is unknown, so it does not match"
    );
}

#[test]
fn query_added_mid_stream_sees_only_later_windows() {
    let mut e = engine(&format!(
        "{READINGS} CREATE QUERY early AS SELECT count(*) AS n FROM r WINDOW TUMBLING 10s;"
    ));
    let mut out = push(&mut e, "r", "{\"ts\": 1000}\n{\"ts\": 12000}\n");
    e.execute("CREATE QUERY late AS SELECT count(*) AS n FROM r WINDOW TUMBLING 10s;")
        .unwrap();
    out.extend(push(&mut e, "r", "{\"ts\": 13000}\n{\"ts\": 25000}\n"));
    e.flush(&mut out);
    let got = lines(&out);
    assert_eq!(
        got,
        [
            r#"{"query":"early","window_start":0,"window_end":10000,"group":{},"values":{"n":1}}"#,
            r#"{"query":"early","window_start":10000,"window_end":20000,"group":{},"values":{"n":2}}"#,
            r#"{"query":"early","window_start":20000,"window_end":30000,"group":{},"values":{"n":1}}"#,
            r#"{"query":"late","window_start":20000,"window_end":30000,"group":{},"values":{"n":1}}"#,
        ]
    );
}

#[test]
fn dropping_a_query_leaves_the_others_untouched() {
    let sql = format!(
        "{READINGS}
         CREATE QUERY keep AS SELECT k, count(*) AS n FROM r WHERE v > 1 GROUP BY k WINDOW TUMBLING 10s;
         CREATE QUERY gone AS SELECT k, sum(v) AS s FROM r WHERE v > 1 GROUP BY k WINDOW TUMBLING 10s;"
    );
    let data1 = "{\"ts\": 1000, \"k\": \"a\", \"v\": 2}\n{\"ts\": 2000, \"k\": \"a\", \"v\": 0}\n";
    let data2 = "{\"ts\": 3000, \"k\": \"b\", \"v\": 3}\n{\"ts\": 14000, \"k\": \"a\", \"v\": 9}\n";
    let mut with_drop = engine(&sql);
    let mut a = push(&mut with_drop, "r", data1);
    with_drop.execute("DROP QUERY gone").unwrap();
    a.extend(push(&mut with_drop, "r", data2));
    with_drop.flush(&mut a);
    let mut alone = engine(&sql);
    alone.drop_query("gone").unwrap();
    let mut b = push(&mut alone, "r", data1);
    b.extend(push(&mut alone, "r", data2));
    alone.flush(&mut b);
    assert_eq!(lines(&a), lines(&b));
    assert_eq!(lines(&a).len(), 3);
    let err = with_drop.execute("DROP QUERY gone").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[test]
fn malformed_records_are_rejected_with_reasons_and_counted() {
    let mut e = engine(&format!(
        "{READINGS} CREATE QUERY c AS SELECT count(*) AS n, sum(v) AS s FROM r;"
    ));
    let mut out = push(
        &mut e,
        "r",
        "{\"ts\": 1, \"k\": \"a\"}\nnot json\n{\"ts\": 2, \"v\": \"text\"}\n{\"k\": \"no time\"}\n{\"ts\": 3}\n",
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"c","window_start":null,"window_end":null,"group":{},"values":{"n":2,"s":null}}"#
        ]
    );
    let rt = e.stream("r").unwrap();
    assert_eq!(rt.stats().rejected, 3);
    let reasons: Vec<(u64, String)> = rt.rejects().map(|r| (r.line, r.reason.clone())).collect();
    assert_eq!(reasons[0].0, 2);
    assert!(reasons[0].1.contains("not a JSON object"), "{reasons:?}");
    assert!(reasons[1].1.contains("field `v`"), "{reasons:?}");
    assert!(reasons[2].1.contains("event time"), "{reasons:?}");
}

#[test]
fn csv_streams_decode_by_header() {
    let mut e = engine(
        "CREATE STREAM c (ts TIMESTAMP, host TEXT, ms DOUBLE) WITH (format = 'csv', event_time = 'ts');
         CREATE QUERY slow AS SELECT host, count(*) AS n, avg(ms) AS avg_ms FROM c WHERE ms > 100 GROUP BY host;",
    );
    let mut out = push(
        &mut e,
        "c",
        "host,ts,ms\nweb1,2016-11-01T00:00:00Z,150\nweb2,2016-11-01T00:00:01Z,50\n\"web1\",1477958402000,250.5\n",
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"slow","window_start":null,"window_end":null,"group":{"host":"web1"},"values":{"n":2,"avg_ms":200.25}}"#
        ]
    );
}

#[test]
fn statement_errors_point_at_the_token() {
    let mut e = engine(READINGS);
    let cases = [
        (
            "CREATE QUERY q AS SELECT count(*) FROM nope;",
            ErrorKind::Invalid,
            "nope",
            "unknown stream `nope`",
        ),
        (
            "CREATE QUERY q AS SELECT k FROM r WHERE colour = 'red';",
            ErrorKind::Invalid,
            "colour",
            "unknown field `colour`",
        ),
        (
            "CREATE QUERY q AS SELECT k FROM r WHERE v = 'ten';",
            ErrorKind::Invalid,
            "'ten'",
            "type mismatch",
        ),
        (
            "CREATE QUERY q AS SELECT k FROM r WHERE k MATCHES 'a(b';",
            ErrorKind::Invalid,
            "'a(b'",
            "invalid regex",
        ),
        (
            "CREATE QUERY q AS SELECT k, count(*) FROM r;",
            ErrorKind::Invalid,
            "k",
            "must appear in GROUP BY",
        ),
        (
            "CREATE QUERY q AS SELECT sum(k) FROM r;",
            ErrorKind::Invalid,
            "k",
            "needs a number",
        ),
        (
            "CREATE STREAM r WITH (format = 'json');",
            ErrorKind::Conflict,
            "r",
            "already exists",
        ),
    ];
    for (sql, kind, token, msg) in cases {
        let err = e.execute(sql).unwrap_err();
        assert_eq!(err.kind, kind, "{sql}");
        assert_eq!(
            err.diagnostic.token(sql),
            token,
            "{sql}: {}",
            err.render(sql)
        );
        assert!(
            err.diagnostic.message.contains(msg),
            "{sql}: {}",
            err.render(sql)
        );
        assert!(
            err.render(sql).starts_with("line 1, column "),
            "{}",
            err.render(sql)
        );
    }
    e.execute("CREATE QUERY q AS SELECT count(*) FROM r;")
        .unwrap();
    let err = e.execute("DROP STREAM r").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
}

#[test]
fn explain_shows_shared_predicates_lookups_and_automata() {
    let e = engine(
        "CREATE STREAM t WITH (format = 'json', event_time = 'ts');
         CREATE QUERY a AS SELECT count(*) FROM t WHERE lang = 'en' AND text CONTAINS 'hillary';
         CREATE QUERY b AS SELECT country, count(*) FROM t WHERE text CONTAINS 'hillary' AND lang = 'en' GROUP BY country;
         CREATE QUERY c AS SELECT id FROM t WHERE lang IN ('es', 'pt') AND text CONTAINS 'bernie';
         CREATE QUERY d AS SELECT id FROM t WHERE text MATCHES 'vote\\s+for' OR text MATCHES '^rt ';",
    );
    let plan = e.explain(Some("t"));
    expect_test::expect_file!["engine_explain.txt"].assert_eq(&plan);
    // The shared sub-predicate is one node used by both queries.
    assert!(
        plan.contains("text CONTAINS 'hillary'   [2 queries: a, b]"),
        "{plan}"
    );
    assert!(
        plan.contains("hash lookup on `lang`: 3 value(s) answer 2 predicate(s)"),
        "{plan}"
    );
    assert!(plan.contains("aho-corasick over 2 literal(s)"), "{plan}");
    assert!(
        plan.contains("regex-automata search over 2 pattern(s)"),
        "{plan}"
    );
}

#[test]
fn results_do_not_depend_on_batching() {
    let sql = format!(
        "{READINGS}
         CREATE QUERY w AS SELECT k, count(*) AS n, count(DISTINCT v) AS dv FROM r WHERE k != 'z' GROUP BY k WINDOW SLIDING 3s EVERY 1s;
         CREATE QUERY f AS SELECT ts, k FROM r WHERE v >= 5;"
    );
    let mut data = String::new();
    // Over 256 KiB, so the single batch is decoded by two threads.
    for i in 0..12000i64 {
        let ts = i * 10 - (i * 7919 % 13) * 200;
        let k = ["a", "b", "z", "c"][(i % 4) as usize];
        data.push_str(&format!(
            "{{\"ts\": {ts}, \"k\": \"{k}\", \"v\": {}}}\n",
            i % 9
        ));
    }
    let run = |cut: usize| {
        let mut e = engine(&sql);
        let mut out = Vec::new();
        let mut origin = Origin::new("x");
        let bytes = data.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let mut end = (start + cut).min(bytes.len());
            while end < bytes.len() && bytes[end - 1] != b'\n' {
                end += 1;
            }
            e.push_lines("r", &mut origin, &bytes[start..end], 0, &mut out)
                .unwrap();
            start = end;
        }
        e.flush(&mut out);
        (lines(&out), e.stream("r").unwrap().stats().late)
    };
    let whole = run(usize::MAX / 2);
    assert!(whole.1 > 0, "the data has late records");
    assert_eq!(whole, run(100));
    assert_eq!(whole, run(7000));
}

#[test]
fn a_script_error_keeps_the_queries_before_it_working() {
    let mut e = engine(READINGS);
    let script =
        "CREATE QUERY a AS SELECT k, count(*) AS n FROM r WHERE k IN ('x', 'y') GROUP BY k;
                  CREATE QUERY b AS SELECT count(*) AS n FROM r WHERE k CONTAINS 'x';
                  CREATE QUERY c AS SELECT count(*) FROM r WHERE nope = 1;";
    let err = e.execute(script).unwrap_err();
    assert_eq!(err.diagnostic.token(script), "nope");
    let names: Vec<&str> = e.query_names().collect();
    assert_eq!(names, ["a", "b"]);
    let mut out = push(
        &mut e,
        "r",
        "{\"ts\": 1, \"k\": \"x\"}\n{\"ts\": 2, \"k\": \"z\"}\n",
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"a","window_start":null,"window_end":null,"group":{"k":"x"},"values":{"n":1}}"#,
            r#"{"query":"b","window_start":null,"window_end":null,"group":{},"values":{"n":1}}"#,
        ]
    );
}

/// `count` generated queries over a `tweets` stream (seed `seed`) and
/// `records` generated tweets, 100 per second, as JSON lines.
fn generated(count: usize, seed: u64, records: u64) -> (String, String) {
    use shoal::gen::{generate_queries, QueryConfig, TweetConfig, TweetGenerator};
    let sql = generate_queries(&QueryConfig {
        count,
        seed,
        stream: "tweets".into(),
        source_dir: "unused".into(),
    });
    let mut data = String::new();
    let cfg = TweetConfig {
        records,
        rate_per_s: 100.0,
        ..TweetConfig::default()
    };
    let mut g = TweetGenerator::new(&cfg);
    for _ in 0..cfg.records {
        g.next_line(&mut data);
        data.push('\n');
    }
    (sql, data)
}

/// With many queries the end of input closes every window and emits every
/// running total in tasks on two threads; the results still come in one
/// order: the windowed queries' in query order, then the running totals',
/// the same through a sink that lends buffers (JSON lines) as through one
/// that takes results one by one.
#[test]
fn many_queries_flush_in_query_order_through_either_sink() {
    use shoal::exec::{JsonLinesSink, ResultSink};
    let (sql, data) = generated(150, 5, 3000);
    let fed = |sink: &mut dyn ResultSink| {
        let mut e = engine(&sql);
        let mut origin = Origin::new("gen");
        e.push_lines("tweets", &mut origin, data.as_bytes(), 0, sink)
            .unwrap();
        e
    };
    // Results one by one.
    let mut pushed = Vec::new();
    let mut e = fed(&mut pushed);
    let mut flushed = Vec::new();
    e.flush(&mut flushed);
    let by_one: Vec<String> = flushed.iter().map(QueryResult::to_json).collect();
    // JSON lines, through lent buffers.
    let mut ignored = JsonLinesSink::new(Vec::new());
    let mut e = fed(&mut ignored);
    let mut sink = JsonLinesSink::new(Vec::new());
    e.flush(&mut sink);
    let text = String::from_utf8(sink.finish().unwrap()).unwrap();
    let by_lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(by_lines, by_one);
    // Windowed queries' results first, then running totals, each part in
    // query order.
    let query_of = |line: &str| -> (bool, String) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        (
            v["window_start"].is_null(),
            v["query"].as_str().unwrap().to_string(),
        )
    };
    let order: Vec<(bool, String)> = by_one.iter().map(|l| query_of(l)).collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "results out of order"
    );
    let running = order.iter().filter(|(r, _)| *r).count();
    assert!(running > 100 && order.len() - running > 100, "{order:?}");
    let queries: std::collections::BTreeSet<&String> = order.iter().map(|(_, q)| q).collect();
    assert!(queries.len() >= 64, "{} queries emitted", queries.len());
}

/// With many windowed queries the engine closes windows on two threads; the
/// results must equal each query run alone (which closes on one).
#[test]
fn many_queries_shared_equal_each_query_alone() {
    let (sql, data) = generated(120, 3, 6000);
    let stmts = shoal::parser::parse_statements(&sql).unwrap();
    let texts: Vec<&str> = stmts
        .iter()
        .map(|s| &sql[s.span.start..s.span.end])
        .collect();
    let run = |queries: &[&str]| {
        let mut e = engine(texts[0]);
        for q in queries {
            e.execute(q).unwrap();
        }
        let mut out = Vec::new();
        let mut origin = Origin::new("gen");
        // Batches of ~100 lines, so windows close as data flows.
        for chunk in data.split_inclusive('\n').collect::<Vec<_>>().chunks(100) {
            e.push_lines(
                "tweets",
                &mut origin,
                chunk.concat().as_bytes(),
                0,
                &mut out,
            )
            .unwrap();
        }
        e.flush(&mut out);
        lines(&out)
    };
    let queries = &texts[1..];
    let windowed = queries.iter().filter(|q| q.contains("WINDOW")).count();
    assert!(windowed >= 64, "only {windowed} windowed queries");
    let shared = run(queries);
    let mut alone: Vec<String> = queries.iter().flat_map(|q| run(&[q])).collect();
    alone.sort();
    assert!(shared.len() > 1000, "{} results", shared.len());
    assert_eq!(shared, alone);
}

#[test]
fn snapshots_show_open_windows_and_running_totals_without_closing_them() {
    let mut e = engine(&format!(
        "{READINGS}
         CREATE QUERY tumble AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s EMIT EVERY 1s;
         CREATE QUERY total AS SELECT k, sum(v) AS s FROM r GROUP BY k;
         CREATE QUERY f AS SELECT k FROM r WHERE v > 100;"
    ));
    let out = push(
        &mut e,
        "r",
        r#"{"ts": 1000, "k": "a", "v": 1}
{"ts": 12000, "k": "a", "v": 2}
{"ts": 13000, "k": "b", "v": 5}
"#,
    );
    // Watermark 12 s closed [0, 10 s); [10 s, 20 s) is open.
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"tumble","window_start":0,"window_end":10000,"group":{"k":"a"},"values":{"n":1}}"#
        ]
    );
    let mut snap = Vec::new();
    e.snapshot("tumble", &mut snap).unwrap();
    e.snapshot("total", &mut snap).unwrap();
    e.snapshot("f", &mut snap).unwrap();
    assert_eq!(
        lines(&snap),
        [
            r#"{"query":"total","window_start":null,"window_end":null,"group":{"k":"a"},"values":{"s":3}}"#,
            r#"{"query":"total","window_start":null,"window_end":null,"group":{"k":"b"},"values":{"s":5}}"#,
            r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"a"},"values":{"n":1}}"#,
            r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"b"},"values":{"n":1}}"#,
        ]
    );
    assert!(e.snapshot("nope", &mut snap).is_err());
    let r = e.stream("r").unwrap();
    assert_eq!(r.query_state("total"), Some((Some(3), 2)));
    assert_eq!(r.query_state("f"), Some((None, 0)));
    assert_eq!(r.query_state("nope"), None);
    // A snapshot changes nothing: the final window carries later records too.
    let mut out = push(&mut e, "r", "{\"ts\": 14000, \"k\": \"a\", \"v\": 1}\n");
    e.flush(&mut out);
    let finals: Vec<String> = lines(&out)
        .into_iter()
        .filter(|l| l.contains("tumble"))
        .collect();
    assert_eq!(
        finals,
        [
            r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"a"},"values":{"n":2}}"#,
            r#"{"query":"tumble","window_start":10000,"window_end":20000,"group":{"k":"b"},"values":{"n":1}}"#,
        ]
    );
}

/// Regression: a dropped query's aggregate stays in the state it shared
/// (accumulators are only appended), so its argument field must still be
/// decoded; the plan rebuilt after the drop used to panic looking it up.
#[test]
fn dropping_a_query_whose_aggregate_alone_read_a_field_keeps_the_plan_sound() {
    let mut e = Engine::new();
    e.execute(&format!(
        "{READINGS}
         CREATE QUERY keep AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;
         CREATE QUERY gone AS SELECT k, sum(v) AS s FROM r GROUP BY k WINDOW TUMBLING 10s;"
    ))
    .unwrap();
    e.drop_query("gone").unwrap();
    let mut out = push(
        &mut e,
        "r",
        "{\"ts\": 1000, \"k\": \"a\", \"v\": 1}\n{\"ts\": 12000, \"k\": \"a\", \"v\": 2}\n",
    );
    e.flush(&mut out);
    assert_eq!(
        lines(&out),
        [
            r#"{"query":"keep","window_start":0,"window_end":10000,"group":{"k":"a"},"values":{"n":1}}"#,
            r#"{"query":"keep","window_start":10000,"window_end":20000,"group":{"k":"a"},"values":{"n":1}}"#,
        ]
    );
}

/// Regexes run only on texts holding a literal they need, found by the same
/// automaton as the `CONTAINS` literals, one of which is the same text.
#[test]
fn prefiltered_regexes_match_exactly_as_without_the_filter() {
    let mut e = engine(
        "CREATE STREAM t (text TEXT) WITH (format = 'json');
         CREATE QUERY has AS SELECT text FROM t WHERE text CONTAINS 'hillary';
         CREATE QUERY word AS SELECT text FROM t WHERE text MATCHES '(?i)\\bhillary\\b';
         CREATE QUERY tag AS SELECT text FROM t WHERE text MATCHES '#\\w+2016';",
    );
    assert!(e
        .explain(None)
        .contains("only on texts where aho-corasick finds one of 2 literal(s)"));
    let out = push(
        &mut e,
        "t",
        r##"{"text": "HILLARY won"}
{"text": "hillary2 is one word"}
{"text": "nothing here"}
{"text": "#Election2016 and HiLLary"}
{"text": "#2016 alone"}
{"text": "Ünïcode before Hillary."}
"##,
    );
    let mut got: Vec<String> = out
        .iter()
        .map(|r| {
            let row: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
            format!("{} {}", r.query, row["row"]["text"].as_str().unwrap())
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "has #Election2016 and HiLLary",
            "has HILLARY won",
            "has hillary2 is one word",
            "has Ünïcode before Hillary.",
            "tag #Election2016 and HiLLary",
            "word #Election2016 and HiLLary",
            "word HILLARY won",
            "word Ünïcode before Hillary.",
        ]
    );
}

/// After its first records a plan picks the guards of its ANDs from the
/// atom rates it observed; counts before and after the switch stay exact.
#[test]
fn guards_chosen_from_observed_rates_keep_results_exact() {
    let mut e = engine(
        "CREATE STREAM s (a BIGINT, b BIGINT, t TEXT) WITH (format = 'json');
         CREATE QUERY q1 AS SELECT count(*) AS n FROM s WHERE a = 1 AND (t CONTAINS 'x' OR b = 2);
         CREATE QUERY q2 AS SELECT count(*) AS n FROM s WHERE NOT a IN (1, 2) AND b > 8 AND t CONTAINS 'z';
         CREATE QUERY q3 AS SELECT count(*) AS n FROM s WHERE (a = 3 OR t CONTAINS 'y') AND NOT b = 4;
         CREATE QUERY q4 AS SELECT count(*) AS n FROM s WHERE b > 0 AND a = 0 AND t CONTAINS 'x';
         CREATE QUERY q5 AS SELECT count(*) AS n FROM s WHERE NOT b > 0 AND a = 0;",
    );
    let texts = ["xx", "y", "zx", "plain", "xyz"];
    let mut want = [0i64; 5];
    let mut origin = Origin::new("test");
    let mut out = Vec::new();
    for batch in 0..12 {
        let mut lines = String::new();
        for i in batch * 4000..(batch + 1) * 4000 {
            // Rates that differ from the static guesses: `a = 0` and
            // `b > 0` hold often, the texts rarely hold `z`.
            let a = if i % 3 == 0 { 0 } else { i % 7 };
            let b = i % 11;
            let t = texts[(i * 7 % 13) % texts.len()];
            lines.push_str(&format!("{{\"a\": {a}, \"b\": {b}, \"t\": \"{t}\"}}\n"));
            let has = |c: char| t.contains(c);
            want[0] += i64::from(a == 1 && (has('x') || b == 2));
            want[1] += i64::from(!(a == 1 || a == 2) && b > 8 && has('z'));
            want[2] += i64::from((a == 3 || has('y')) && b != 4);
            want[3] += i64::from(b > 0 && a == 0 && has('x'));
            want[4] += i64::from(b == 0 && a == 0);
        }
        e.push_lines("s", &mut origin, lines.as_bytes(), 0, &mut out)
            .unwrap();
    }
    e.flush(&mut out);
    let got: Vec<String> = lines(&out);
    let expect: Vec<String> = (0..5)
        .map(|q| {
            format!(
                r#"{{"query":"q{}","window_start":null,"window_end":null,"group":{{}},"values":{{"n":{}}}}}"#,
                q + 1,
                want[q]
            )
        })
        .collect();
    assert_eq!(got, expect);
}

/// `data` cut into batches of whole lines of at least `cut` bytes.
fn batches(data: &[u8], cut: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + cut).min(data.len());
        while end < data.len() && data[end - 1] != b'\n' {
            end += 1;
        }
        out.push(&data[start..end]);
        start = end;
    }
    out
}

/// Everything a run of `data` in batches of `cut` bytes shows: results in
/// emission order, rejects with their line numbers, late records. Either one
/// `push_lines` per batch, or `push_chunks` (later batches decoded on the
/// worker pool while earlier ones are finished).
fn observe(sql: &str, stream: &str, data: &str, cut: usize, pipelined: bool) -> String {
    let mut e = engine(sql);
    let mut out = Vec::new();
    let mut origin = Origin::new("x");
    let parts = batches(data.as_bytes(), cut);
    if pipelined {
        let mut next = parts.iter();
        e.push_chunks(
            stream,
            &mut origin,
            |buf| {
                buf.clear();
                Ok(next.next().map(|p| buf.extend_from_slice(p)).is_some())
            },
            &|| 0,
            &mut out,
        )
        .unwrap();
    } else {
        for p in &parts {
            e.push_lines(stream, &mut origin, p, 0, &mut out).unwrap();
        }
    }
    e.flush(&mut out);
    let rt = e.stream(stream).unwrap();
    let mut seen: Vec<String> = out.iter().map(QueryResult::to_json).collect();
    seen.extend(
        rt.rejects()
            .map(|r| format!("reject {} {}", r.line, r.reason)),
    );
    seen.push(format!(
        "late {} rejected {}",
        rt.stats().late,
        rt.stats().rejected
    ));
    seen.join("\n")
}

#[test]
fn pipelined_batches_give_the_results_of_batches_one_by_one() {
    let sql = format!(
        "{READINGS}
         CREATE QUERY w AS SELECT k, count(*) AS n, count(DISTINCT v) AS dv FROM r WHERE k != 'z' GROUP BY k WINDOW SLIDING 3s EVERY 1s;
         CREATE QUERY t AS SELECT count(*) AS n, max(v) AS top FROM r WHERE v > 2;
         CREATE QUERY f AS SELECT ts, k FROM r WHERE v >= 5;"
    );
    let mut data = String::new();
    for i in 0..30000i64 {
        let ts = i * 10 - (i * 7919 % 13) * 200;
        let k = ["a", "b", "z", "c"][(i % 4) as usize];
        if i % 997 == 0 {
            data.push_str("not json\n");
        }
        data.push_str(&format!(
            "{{\"ts\": {ts}, \"k\": \"{k}\", \"v\": {}}}\n",
            i % 9
        ));
    }
    for cut in [300, 5000, 300_000] {
        let one_by_one = observe(&sql, "r", &data, cut, false);
        assert!(one_by_one.contains("reject 1 "), "the data has rejects");
        assert!(!one_by_one.contains("late 0 "), "the data has late records");
        assert_eq!(
            observe(&sql, "r", &data, cut, true),
            one_by_one,
            "cut {cut}"
        );
    }
    // CSV: the header is the first line of the first batch only.
    let csv_sql = "CREATE STREAM c (ts BIGINT, host TEXT, ms DOUBLE) WITH (format = 'csv', event_time = 'ts');
         CREATE QUERY slow AS SELECT host, count(*) AS n, avg(ms) AS avg_ms FROM c WHERE ms > 100 GROUP BY host WINDOW TUMBLING 1s;";
    let mut csv = String::from("host,ts,ms\n");
    for i in 0..5000 {
        if i % 333 == 0 {
            csv.push_str("web9,not a time,1\n");
        }
        csv.push_str(&format!("web{},{},{}\n", i % 3, i * 7, (i * 37) % 400));
    }
    for cut in [100, 4000] {
        let one_by_one = observe(csv_sql, "c", &csv, cut, false);
        assert!(one_by_one.contains("reject 2 "), "{one_by_one}");
        assert_eq!(
            observe(csv_sql, "c", &csv, cut, true),
            one_by_one,
            "cut {cut}"
        );
    }
}
