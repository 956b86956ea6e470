//! The embedded store through a real `shoal serve`: the catalog and engine
//! state survive SIGKILL, `?durable=true` answers only once the records are
//! checkpointed, the result history API, stable ids on the feeds, drops,
//! and start-up files that disagree with the store.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Server, TempDir};

const READINGS: &str = "CREATE STREAM r (ts BIGINT, k TEXT, v BIGINT) \
    WITH (source = 'http', format = 'json', event_time = 'ts', watermark = '1s');";

fn reading(ts: i64, k: &str, v: i64) -> String {
    format!("{{\"ts\": {ts}, \"k\": \"{k}\", \"v\": {v}}}\n")
}

/// Sends records and waits until they are durable.
async fn ingest_durable(s: &Server, lines: &str) -> (u16, Value) {
    let r = s
        .http
        .post(s.url("/v1/streams/r/records?durable=true"))
        .body(lines.to_string())
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON"))
}

async fn history(s: &Server, q: &str, params: &str) -> Vec<Value> {
    let (status, v) = s.get(&format!("/v1/queries/{q}/results{params}")).await;
    assert_eq!(status, 200, "{v}");
    v["results"].as_array().unwrap().clone()
}

fn values(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .map(|r| json!([r["window_start"], r["group"], r["values"]]))
        .collect()
}

#[tokio::test]
async fn catalog_and_state_survive_sigkill_and_durable_records_are_kept() {
    let dir = TempDir::new("store-kill");
    let mut s = Server::start(&["--checkpoint-interval", "1h"], &dir.0);
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY per_k AS SELECT k, count(*) AS n, sum(v) AS total FROM r GROUP BY k WINDOW TUMBLING 10s;
         CREATE QUERY totals AS SELECT k, sum(v) AS s FROM r GROUP BY k;"
    ))
    .await;
    let mut feed = s.ws("/v1/queries/per_k/live").await;
    let lines = [
        reading(1_000, "a", 5),
        reading(2_000, "b", 7),
        reading(12_000, "a", 1),
    ]
    .concat();
    let (status, report) = ingest_durable(&s, &lines).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"accepted": 3, "rejected": 0, "late": 0}));
    // The first window closed: its results are on the feed with their ids.
    // (A subscription may first get the open window's partial values.)
    let mut live = Vec::new();
    while live.len() < 2 {
        let v = feed.json().await;
        if v.get("partial").is_none() {
            live.push(v);
        }
    }
    // Records sent without durable=true after the last checkpoint (the
    // interval is an hour) are lost in a crash.
    s.ingest("r", &reading(13_000, "b", 100)).await;
    s.kill();

    let s = Server::start(&["--checkpoint-interval", "1h"], &dir.0);
    let (_, q) = s.get("/v1/queries").await;
    let names: Vec<&str> = q["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["per_k", "totals"]);
    let (_, st) = s.get("/v1/streams/r").await;
    assert_eq!(st["stats"]["records_in"], 3, "{st}");
    let stored = history(&s, "per_k", "").await;
    let mut live_ids: Vec<&str> = live
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_else(|| panic!("{v}")))
        .collect();
    let mut stored_ids: Vec<&str> = stored.iter().map(|v| v["id"].as_str().unwrap()).collect();
    live_ids.sort();
    stored_ids.sort();
    assert_eq!(live_ids, stored_ids, "feed ids are the stored ids");
    assert_eq!(
        values(&stored),
        [
            json!([0, {"k": "a"}, {"n": 1, "total": 5}]),
            json!([0, {"k": "b"}, {"n": 1, "total": 7}])
        ]
    );
    // The open window kept its record from before the crash.
    let mut feed = s.ws("/v1/queries/per_k/live").await;
    s.ingest("r", &reading(25_000, "a", 2)).await;
    let got = loop {
        let v = feed.json().await;
        if v.get("partial").is_none() {
            break v;
        }
    };
    assert_eq!(
        json!([got["window_start"], got["group"], got["values"]]),
        json!([10_000, {"k": "a"}, {"n": 1, "total": 1}])
    );
    // Running totals continue from the checkpoint.
    let mut totals = s.ws("/v1/queries/totals/live").await;
    let mut t = totals.take(2).await;
    t.sort_by_key(|v| v["group"]["k"].as_str().unwrap().to_string());
    assert_eq!(t[0]["values"], json!({"s": 8}));
    assert_eq!(t[1]["values"], json!({"s": 7}));
}

#[tokio::test]
async fn history_api_filters_and_pages() {
    let dir = TempDir::new("store-history");
    let s = Server::start(&[], &dir.0);
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY per_k AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;
         CREATE QUERY rows AS SELECT k FROM r;"
    ))
    .await;
    let mut lines = String::new();
    for w in 0..5 {
        lines.push_str(&reading(w * 10_000 + 500, "a", 1));
        lines.push_str(&reading(w * 10_000 + 600, "b", 1));
    }
    lines.push_str(&reading(60_000, "a", 1));
    let (status, _) = ingest_durable(&s, &lines).await;
    assert_eq!(status, 200);
    let all = history(&s, "per_k", "").await;
    assert_eq!(all.len(), 10);
    let ends: Vec<i64> = all
        .iter()
        .map(|r| r["window_end"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ends,
        [10_000, 10_000, 20_000, 20_000, 30_000, 30_000, 40_000, 40_000, 50_000, 50_000]
    );
    let mid = history(&s, "per_k", "?since=20000&until=40000").await;
    assert_eq!(mid.len(), 4);
    assert!(mid
        .iter()
        .all(|r| (20_000..40_000).contains(&r["window_end"].as_i64().unwrap())));
    let (_, page) = s.get("/v1/queries/per_k/results?limit=3").await;
    assert_eq!(page["truncated"], true);
    let rows = page["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let after = rows[2]["seq"].as_i64().unwrap();
    let rest = history(&s, "per_k", &format!("?after={after}")).await;
    assert_eq!(rest.len(), 7);
    assert_eq!(rest[0]["id"], all[3]["id"]);
    // Filter rows and unknown queries.
    assert!(history(&s, "rows", "").await.is_empty());
    let (status, _) = s.get("/v1/queries/nope/results").await;
    assert_eq!(status, 404);
    let (status, v) = s.get("/v1/queries/per_k/results?since=yesterday").await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("since"));
    // A dropped query's history goes with it, also after a restart.
    s.sql_ok("DROP QUERY per_k;").await;
    s.sql_ok(
        "CREATE QUERY per_k AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;",
    )
    .await;
    assert!(history(&s, "per_k", "").await.is_empty());
}

#[tokio::test]
async fn durable_needs_the_store_and_the_history_too() {
    let dir = TempDir::new("store-none");
    let s = Server::start(&["--no-store"], &dir.0);
    s.sql_ok(&format!(
        "{READINGS} CREATE QUERY per_k AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;"
    ))
    .await;
    let (status, v) = ingest_durable(&s, &reading(1, "a", 1)).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--no-store"));
    let (status, _) = s.get("/v1/queries/per_k/results").await;
    assert_eq!(status, 409);
    assert!(!dir.join("shoal-data").exists());
}

#[tokio::test]
async fn startup_files_skip_what_the_store_holds_and_refuse_changes() {
    let dir = TempDir::new("store-startup");
    let sql = format!(
        "{READINGS}\nCREATE QUERY per_k AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;\n"
    );
    std::fs::write(dir.join("a.sql"), &sql).unwrap();
    let mut s = Server::start(&["a.sql"], &dir.0);
    s.sql_ok("CREATE QUERY later AS SELECT k, count(*) AS n FROM r GROUP BY k;")
        .await;
    // Let the catalog's checkpoint commit, then stop hard.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.kill();
    // The same file again: nothing to do, and `later` is back too.
    let mut s = Server::start(&["a.sql"], &dir.0);
    let (status, q) = s.get("/v1/queries/later").await;
    assert_eq!(status, 200, "{q}");
    s.kill();
    // A changed definition is refused, with the reason.
    std::fs::write(
        dir.join("b.sql"),
        sql.replace("count(*) AS n", "count(*) AS c"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["serve", "--bind", "127.0.0.1:0", "b.sql"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run shoal serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "query `per_k` already exists (restored from the store) with another definition"
        ),
        "{err}"
    );
}
