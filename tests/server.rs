//! `shoal serve` as clients see it: a real server process on 127.0.0.1, the
//! HTTP API through reqwest, result feeds through tokio-tungstenite.

mod support;

use serde_json::{json, Value};
use shoal::exec::{Engine, Origin, QueryResult};
use std::time::Duration;
use support::{Said, Server, TempDir};

const READINGS: &str = "CREATE STREAM r (ts BIGINT, k TEXT, v BIGINT) \
    WITH (source = 'http', format = 'json', event_time = 'ts', watermark = '1s');";

fn server() -> (Server, TempDir) {
    let dir = TempDir::new("serve");
    (Server::start(&[], &dir.0), dir)
}

fn reading(ts: i64, k: &str, v: i64) -> String {
    format!("{{\"ts\":{ts},\"k\":\"{k}\",\"v\":{v}}}\n")
}

#[tokio::test]
async fn statements_are_created_listed_and_errors_point_at_the_token() {
    let (s, _d) = server();
    let (status, v) = s.sql(READINGS).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["results"][0],
        json!({"kind": "stream_created", "name": "r"})
    );

    let (status, v) = s
        .sql("CREATE QUERY bad AS SELECT k, count(*) AS n FROM r\n  WHERE nope = 1 GROUP BY k;")
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["line"], 2);
    assert_eq!(v["error"]["column"], 9);
    assert_eq!(v["error"]["token"], "nope");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nope"),
        "{v}"
    );

    let (status, v) = s.sql("CREATE QUERY x AS SELEC k FROM r;").await;
    assert_eq!(
        (status, v["error"]["kind"].as_str()),
        (400, Some("syntax")),
        "{v}"
    );
    assert_eq!(v["error"]["token"], "SELEC");

    let (status, _) = s.sql(READINGS).await;
    assert_eq!(status, 409);

    s.sql_ok(
        "CREATE QUERY n_by_k AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;",
    )
    .await;
    let (status, v) = s.sql("CREATE QUERY n_by_k AS SELECT k FROM r;").await;
    assert_eq!(status, 409, "{v}");
    let (_, v) = s.get("/v1/queries").await;
    let names: Vec<&str> = v["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n_by_k"]);
    let (status, v) = s.get("/v1/queries/n_by_k").await;
    assert_eq!(status, 200);
    assert_eq!(v["stream"], "r");
    assert_eq!(v["kind"], "aggregate");
    assert_eq!(v["plan"]["state"]["keys"], json!(["k"]));
    assert!(v["explain"]
        .as_str()
        .unwrap()
        .contains("aggregation states: 1"));

    // A stream still read by a query cannot be dropped.
    let r = s.http.delete(s.url("/v1/streams/r")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let (status, _) = s.get("/v1/queries/nope").await;
    assert_eq!(status, 404);
    let r = s
        .http
        .delete(s.url("/v1/queries/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = s
        .http
        .delete(s.url("/v1/queries/n_by_k"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = s.http.delete(s.url("/v1/streams/r")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = s.get("/v1/streams").await;
    assert_eq!(v["streams"], json!([]));
    let (status, v) = s.get("/v1/health").await;
    assert_eq!((status, &v["status"]), (200, &json!("ok")));
}

#[tokio::test]
async fn filter_rows_and_final_windows_arrive_on_their_feeds() {
    let (s, _d) = server();
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY big AS SELECT ts, k, v FROM r WHERE v >= 10;
         CREATE QUERY per_k AS SELECT k, count(*) AS n, sum(v) AS total FROM r GROUP BY k WINDOW TUMBLING 10s;"
    ))
    .await;
    let mut big = s.ws("/v1/queries/big/live").await;
    let mut per_k = s.ws("/v1/queries/per_k/live").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = [
        reading(1_000, "a", 5),
        reading(2_000, "a", 10),
        reading(3_000, "b", 20),
        reading(9_000, "b", 1),
    ]
    .concat();
    let report = s.ingest("r", &lines).await;
    assert_eq!(report, json!({"accepted": 4, "rejected": 0, "late": 0}));
    assert_eq!(
        big.take(2).await,
        [
            json!({"query": "big", "row": {"ts": 2000, "k": "a", "v": 10}}),
            json!({"query": "big", "row": {"ts": 3000, "k": "b", "v": 20}}),
        ]
    );
    // Nothing final yet: the watermark (8 s) is inside the first window.
    assert!(matches!(
        per_k.next(Duration::from_millis(300)).await,
        Said::Nothing
    ));
    s.ingest("r", &reading(11_500, "a", 7)).await;
    let mut got = per_k.take(2).await;
    // Final window results carry a stable id (checked in tests/store.rs).
    for v in &mut got {
        let id = v.as_object_mut().unwrap().remove("id");
        assert!(
            id.as_ref()
                .and_then(Value::as_str)
                .is_some_and(|i| i.len() == 16),
            "{id:?}"
        );
    }
    got.sort_by_key(|v| v["group"]["k"].as_str().unwrap().to_string());
    assert_eq!(
        got,
        [
            json!({"query": "per_k", "window_start": 0, "window_end": 10_000, "group": {"k": "a"}, "values": {"n": 2, "total": 15}}),
            json!({"query": "per_k", "window_start": 0, "window_end": 10_000, "group": {"k": "b"}, "values": {"n": 2, "total": 21}}),
        ]
    );
    let (_, q) = s.get("/v1/queries/big").await;
    assert_eq!(q["counters"]["results_out"], 2);
    assert_eq!(q["counters"]["matched"], 2);
    assert_eq!(q["counters"]["records_in"], 5);
    assert_eq!(q["subscribers"], 1);
    let (_, q) = s.get("/v1/queries/per_k").await;
    assert_eq!(q["counters"]["matched"], 5);
    assert_eq!(q["counters"]["results_out"], 2);
}

#[tokio::test]
async fn emit_every_pushes_partials_and_running_totals_push_changes() {
    let (s, _d) = server();
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY progress AS SELECT count(*) AS n FROM r WINDOW TUMBLING 1h EMIT EVERY 100ms;
         CREATE QUERY totals AS SELECT k, sum(v) AS s FROM r GROUP BY k EMIT EVERY 100ms;"
    ))
    .await;
    s.ingest(
        "r",
        &[reading(1_000, "a", 1), reading(2_000, "b", 2)].concat(),
    )
    .await;
    let mut progress = s.ws("/v1/queries/progress/live").await;
    let mut totals = s.ws("/v1/queries/totals/live").await;
    // A new subscriber first gets the current values.
    assert_eq!(
        progress.json().await,
        json!({"partial": true, "query": "progress", "window_start": 0, "window_end": 3_600_000, "group": {}, "values": {"n": 2}})
    );
    let mut first = totals.take(2).await;
    first.sort_by_key(|v| v["group"]["k"].as_str().unwrap().to_string());
    assert_eq!(first[0]["values"], json!({"s": 1}));
    assert_eq!(first[1]["values"], json!({"s": 2}));
    // Drain the timed pushes of the values already seen.
    while let Said::Json(_) = totals.next(Duration::from_millis(400)).await {}
    while let Said::Json(_) = progress.next(Duration::from_millis(400)).await {}
    s.ingest("r", &reading(3_000, "b", 5)).await;
    // Only the changed group is pushed.
    let changed = totals.json().await;
    assert_eq!(
        changed,
        json!({"query": "totals", "window_start": null, "window_end": null, "group": {"k": "b"}, "values": {"s": 7}})
    );
    assert!(matches!(
        totals.next(Duration::from_millis(400)).await,
        Said::Nothing
    ));
    let p = progress.json().await;
    assert_eq!(p["values"], json!({"n": 3}));
    assert_eq!(p["partial"], true);
}

/// Results of `query` alone, fed the same batches through the library.
fn alone(setup: &str, batches: &[String]) -> Vec<Value> {
    let mut e = Engine::new();
    e.execute(setup).unwrap();
    let mut out: Vec<QueryResult> = Vec::new();
    let mut origin = Origin::new("http");
    for b in batches {
        e.push_lines("r", &mut origin, b.as_bytes(), 0, &mut out)
            .unwrap();
    }
    out.iter()
        .map(|r| serde_json::from_str(&r.to_json()).unwrap())
        .collect()
}

#[tokio::test]
async fn adding_and_dropping_queries_while_data_flows_changes_no_other_result() {
    let (s, _d) = server();
    let watched = "CREATE QUERY watched AS SELECT k, count(*) AS n, max(v) AS top FROM r WHERE v > 3 GROUP BY k WINDOW SLIDING 20s EVERY 5s;";
    s.sql_ok(&format!("{READINGS} {watched}")).await;
    let mut ws = s.ws("/v1/queries/watched/live").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut batches = Vec::new();
    let keys = ["a", "b", "c", "d"];
    for b in 0..40i64 {
        let lines: String = (0..50i64)
            .map(|i| {
                let n = b * 50 + i;
                reading(n * 97 % 1_000 + n * 100, keys[(n % 4) as usize], n * 7 % 11)
            })
            .collect();
        batches.push(lines);
    }
    for (b, lines) in batches.iter().enumerate() {
        // Queries come and go between batches, some sharing the watched one's state.
        let other = format!("q{b}");
        let sql = match b % 4 {
            0 => format!("CREATE QUERY {other} AS SELECT k, count(*) AS n FROM r WHERE v > 3 GROUP BY k WINDOW TUMBLING 5s;"),
            1 => format!("CREATE QUERY {other} AS SELECT k, v FROM r WHERE k = 'a';"),
            2 => format!("CREATE QUERY {other} AS SELECT sum(v) AS s FROM r;"),
            _ => format!("DROP QUERY q{};", b - 3),
        };
        s.sql_ok(&sql).await;
        let report = s.ingest("r", lines).await;
        assert_eq!(report["accepted"], 50);
    }
    let want = alone(&format!("{READINGS} {watched}"), &batches);
    assert!(want.len() > 50, "the test should produce many windows");
    let mut got = ws.take(want.len()).await;
    // Final window results carry a stable id (checked in tests/store.rs).
    for v in &mut got {
        v.as_object_mut().unwrap().remove("id");
    }
    assert_eq!(got, want);
    assert!(matches!(
        ws.next(Duration::from_millis(300)).await,
        Said::Nothing
    ));
}

#[tokio::test]
async fn a_stalled_subscriber_does_not_stall_ingestion_or_other_subscribers() {
    let (s, _d) = server();
    s.sql_ok(
        "CREATE STREAM p (ts BIGINT, pad TEXT) WITH (source = 'http', event_time = 'ts');
         CREATE QUERY all_rows AS SELECT ts, pad FROM p;",
    )
    .await;
    let mut fast = s.ws("/v1/queries/all_rows/live").await;
    let mut stalled = s.ws("/v1/queries/all_rows/live").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    const TOTAL: i64 = 100_000;
    // Rows of ~300 bytes: 30 MB in all, far more than socket buffers hold.
    let pad = "x".repeat(280);
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(-1i64);
    let reader = tokio::spawn(async move {
        let mut last = -1i64;
        for _ in 0..TOTAL {
            let v = fast.json().await;
            let ts = v["row"]["ts"].as_i64().unwrap_or_else(|| panic!("{v}"));
            assert_eq!(ts, last + 1, "in order, none lost");
            last = ts;
            if last % 1000 == 999 {
                let _ = seen_tx.send(last);
            }
        }
        last
    });
    for b in 0..100i64 {
        let lines: String = (0..1000)
            .map(|i| format!("{{\"ts\":{},\"pad\":\"{pad}\"}}\n", b * 1000 + i))
            .collect();
        let r = s
            .http
            .post(s.url("/v1/streams/p/records"))
            .body(lines)
            .send()
            .await
            .unwrap();
        let report: Value = r.json().await.unwrap();
        assert_eq!(report["accepted"], 1000);
        // Keep within what a live reader can take; the stalled one reads nothing.
        while *seen_rx.borrow() < b * 1000 - 8000 {
            seen_rx.changed().await.unwrap();
        }
    }
    assert_eq!(reader.await.unwrap(), TOTAL - 1);
    // The stalled one now reads: what it missed is reported, not lost silently.
    let (mut rows, mut lagged) = (0i64, 0i64);
    loop {
        match stalled.next(Duration::from_secs(2)).await {
            Said::Json(v) if v.get("lagged").is_some() => lagged += v["lagged"].as_i64().unwrap(),
            Said::Json(_) => rows += 1,
            Said::Closed(code, reason) => {
                panic!("closed {code} {reason} after {rows} rows, {lagged} lagged")
            }
            Said::Nothing => break,
        }
    }
    assert!(lagged > 0, "the stalled subscriber must have lagged");
    assert_eq!(rows + lagged, TOTAL);
}

#[tokio::test]
async fn rejected_lines_are_counted_kept_and_the_stream_goes_on() {
    let (s, _d) = server();
    s.sql_ok(&format!(
        "{READINGS} CREATE QUERY n AS SELECT count(*) AS n, sum(v) AS s FROM r;"
    ))
    .await;
    let lines = format!(
        "{}not json\n{{\"ts\": 2000, \"k\": \"a\", \"v\": \"seven\"}}\n{}",
        reading(1_000, "a", 1),
        reading(3_000, "a", 1)
    );
    let report = s.ingest("r", &lines).await;
    assert_eq!(report, json!({"accepted": 2, "rejected": 2, "late": 0}));
    let (_, v) = s.get("/v1/streams/r/rejects").await;
    assert_eq!(v["rejected"], 2);
    let recent = v["recent"].as_array().unwrap();
    assert_eq!(recent[0]["line"], 2);
    assert!(
        recent[0]["reason"].as_str().unwrap().contains("JSON"),
        "{v}"
    );
    assert_eq!(recent[1]["line"], 3);
    assert!(recent[1]["reason"].as_str().unwrap().contains("v"), "{v}");
    let metrics = s.get_text("/metrics").await;
    assert!(
        metrics.contains("shoal_records_rejected_total{stream=\"r\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shoal_records_accepted_total{stream=\"r\"} 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("shoal_queries 1\n"), "{metrics}");
    assert!(
        metrics.contains("# TYPE shoal_batch_seconds histogram"),
        "{metrics}"
    );
    let (status, _) = s.get("/v1/streams/nope/rejects").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dropping_a_query_closes_its_feeds_with_a_reason() {
    let (s, _d) = server();
    s.sql_ok(&format!("{READINGS} CREATE QUERY q AS SELECT v FROM r;"))
        .await;
    let mut ws = s.ws("/v1/queries/q/live").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.sql_ok("DROP QUERY q;").await;
    match ws.next(Duration::from_secs(5)).await {
        Said::Closed(code, reason) => {
            assert_eq!(code, 1000);
            assert_eq!(reason, "q: query dropped");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    let r = s
        .http
        .get(s.url("/v1/queries/q/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn one_socket_subscribes_to_several_queries() {
    let (s, _d) = server();
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY small AS SELECT v FROM r WHERE v < 5;
         CREATE QUERY large AS SELECT v FROM r WHERE v >= 5;"
    ))
    .await;
    let mut ws = s.ws("/v1/live").await;
    ws.send(json!({"subscribe": ["small", "large", "nope"]}))
        .await;
    let reply = ws.json().await;
    assert_eq!(reply["subscribed"], json!(["small", "large"]));
    assert_eq!(reply["error"]["queries"], json!(["nope"]));
    s.ingest("r", &[reading(1, "a", 1), reading(2, "a", 9)].concat())
        .await;
    let mut got = ws.take(2).await;
    got.sort_by_key(|v| v["query"].as_str().unwrap().to_string());
    assert_eq!(
        got,
        [
            json!({"query": "large", "row": {"v": 9}}),
            json!({"query": "small", "row": {"v": 1}}),
        ]
    );
    ws.send(json!({"unsubscribe": ["small"]})).await;
    assert_eq!(ws.json().await["unsubscribed"], json!(["small"]));
    s.ingest("r", &[reading(3, "a", 2), reading(4, "a", 8)].concat())
        .await;
    assert_eq!(ws.json().await, json!({"query": "large", "row": {"v": 8}}));
    // Dropping one query ends only its subscription.
    s.sql_ok("DROP QUERY large;").await;
    assert_eq!(
        ws.json().await,
        json!({"closed": "large", "reason": "query dropped"})
    );
    ws.send(json!("hello")).await;
    let reply = ws.json().await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("subscribe"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_watched_directory_is_followed_through_appends_rotation_and_truncation() {
    let (s, d) = server();
    let data = d.join("logs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.jsonl"),
        [reading(1, "a", 1), reading(2, "a", 2)].concat(),
    )
    .unwrap();
    s.sql_ok(&format!(
        "CREATE STREAM d (ts BIGINT, k TEXT, v BIGINT) WITH (source = 'dir:{}', files = '*.jsonl', event_time = 'ts', watermark = '1h');
         CREATE QUERY rows AS SELECT v FROM d;",
        data.display()
    ))
    .await;
    let mut ws = s.ws("/v1/queries/rows/live").await;
    let v = |m: Value| m["row"]["v"].as_i64().unwrap();
    // Files present at start are read from the beginning (the subscription
    // may come after them, so look at the counters instead).
    for _ in 0..100 {
        let (_, st) = s.get("/v1/streams/d").await;
        if st["stats"]["records_in"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Rows read before the subscription started are not sent to it.
    while let Said::Json(m) = ws.next(Duration::from_millis(300)).await {
        assert!(v(m) <= 2);
    }
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("a.jsonl"))
        .unwrap();
    // A partial line waits for its newline.
    f.write_all(br#"{"ts":3,"k":"a","#).unwrap();
    f.flush().unwrap();
    assert!(matches!(
        ws.next(Duration::from_millis(500)).await,
        Said::Nothing
    ));
    f.write_all(b"\"v\":3}\n").unwrap();
    assert_eq!(v(ws.json().await), 3);
    // Files not matching the pattern are ignored; new files are read.
    std::fs::write(data.join("skip.txt"), reading(4, "a", 99)).unwrap();
    std::fs::write(data.join("b.jsonl"), reading(5, "b", 4)).unwrap();
    assert_eq!(v(ws.json().await), 4);
    // Rotation: the renamed file is finished, the new one read from its start.
    std::fs::rename(data.join("a.jsonl"), data.join("a.jsonl.1")).unwrap();
    f.write_all(&reading(6, "a", 5).into_bytes()).unwrap();
    f.flush().unwrap();
    std::fs::write(data.join("a.jsonl"), reading(7, "a", 6)).unwrap();
    let mut got = vec![v(ws.json().await), v(ws.json().await)];
    got.sort();
    assert_eq!(got, [5, 6]);
    // Truncation (to a shorter length): the file is read again from its start.
    std::fs::write(data.join("b.jsonl"), "{\"ts\":8,\"v\":7}\n").unwrap();
    assert_eq!(v(ws.json().await), 7);
    assert!(matches!(
        ws.next(Duration::from_millis(700)).await,
        Said::Nothing
    ));
    let (_, st) = s.get("/v1/streams/d").await;
    // 3 lines of a.jsonl, 1 of b.jsonl, 1 appended after rotation, 1 of the
    // new a.jsonl, 1 of b.jsonl after truncation; skip.txt not at all.
    assert_eq!(st["stats"]["records_in"], 7);
}

#[tokio::test]
async fn many_tcp_producers_are_all_counted() {
    let (s, _d) = server();
    s.sql_ok(
        "CREATE STREAM t (ts BIGINT, p BIGINT) WITH (source = 'tcp:127.0.0.1:0', event_time = 'ts', watermark = '1h');
         CREATE QUERY per_producer AS SELECT p, count(*) AS n FROM t GROUP BY p EMIT EVERY 100ms;",
    )
    .await;
    let (_, st) = s.get("/v1/streams/t").await;
    let addr = st["source_detail"]
        .as_str()
        .unwrap()
        .trim_start_matches("tcp:")
        .to_string();
    const PRODUCERS: i64 = 20;
    const LINES: i64 = 1000;
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
            for i in 0..LINES {
                let line = format!("{{\"ts\":{i},\"p\":{p}}}\n");
                sock.write_all(line.as_bytes()).await.unwrap();
            }
            sock.shutdown().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut records = 0;
    for _ in 0..200 {
        let (_, st) = s.get("/v1/streams/t").await;
        records = st["stats"]["records_in"].as_i64().unwrap();
        if records == PRODUCERS * LINES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(records, PRODUCERS * LINES);
    let mut ws = s.ws("/v1/queries/per_producer/live").await;
    let mut counts = std::collections::BTreeMap::new();
    for m in ws.take(PRODUCERS as usize).await {
        counts.insert(
            m["group"]["p"].as_i64().unwrap(),
            m["values"]["n"].as_i64().unwrap(),
        );
    }
    assert_eq!(counts.len() as i64, PRODUCERS);
    assert!(counts.values().all(|n| *n == LINES), "{counts:?}");
}
