//! Limits and access control of `shoal serve`, as clients see them: a real
//! server process on 127.0.0.1, reqwest and tokio-tungstenite.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Said, Server, TempDir};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const READINGS: &str = "CREATE STREAM r (ts BIGINT, k TEXT, v BIGINT) \
    WITH (source = 'http', format = 'json', event_time = 'ts', watermark = '1s');";

fn server(args: &[&str]) -> (Server, TempDir) {
    let dir = TempDir::new("safety");
    (Server::start(args, &dir.0), dir)
}

fn reading(ts: i64, k: &str, v: i64) -> String {
    format!("{{\"ts\":{ts},\"k\":\"{k}\",\"v\":{v}}}\n")
}

fn message(v: &Value) -> &str {
    v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {v}"))
}

/// Opens a websocket with extra request headers; the handshake's HTTP status
/// and body when it is refused.
async fn ws_connect(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<support::Ws, (u16, String)> {
    let mut req = format!("ws://{}{path}", s.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        let name =
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut()
            .insert(name, HeaderValue::from_str(v).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((socket, _)) => Ok(support::Ws { socket }),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((r.status().as_u16(), body))
        }
        Err(e) => panic!("websocket failed otherwise: {e}"),
    }
}

#[tokio::test]
async fn the_query_limit_refuses_registrations_beyond_it() {
    let (s, _d) = server(&["--max-queries", "2"]);
    s.sql_ok(READINGS).await;
    s.sql_ok("CREATE QUERY a AS SELECT k FROM r; CREATE QUERY b AS SELECT v FROM r;")
        .await;
    let (status, v) = s.sql("CREATE QUERY c AS SELECT k, v FROM r;").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["kind"], "limit");
    assert_eq!(v["error"]["token"], "c");
    assert!(message(&v).contains("2 queries are registered"), "{v}");
    assert!(message(&v).contains("max_queries"), "{v}");
    let (_, list) = s.get("/v1/queries").await;
    assert_eq!(list["queries"].as_array().unwrap().len(), 2);
    // Room again once one is dropped.
    s.sql_ok("DROP QUERY a;").await;
    s.sql_ok("CREATE QUERY c AS SELECT k, v FROM r;").await;
}

#[tokio::test]
async fn pathological_regexes_are_refused_with_the_limit_named() {
    let (s, _d) = server(&[]);
    s.sql_ok(READINGS).await;
    let (status, v) = s
        .sql(r"CREATE QUERY huge AS SELECT k FROM r WHERE k MATCHES '(\w{100}){100}';")
        .await;
    assert_eq!(status, 400, "{v}");
    let m = message(&v);
    assert!(m.contains("MATCHES on `k`"), "{m}");
    assert!(
        m.contains("larger than the limit of 10485760 bytes (max_regex_bytes)"),
        "{m}"
    );
    let (_, list) = s.get("/v1/queries").await;
    assert_eq!(list["queries"], json!([]));

    // The patterns of one field are compiled together: with a small limit
    // the field fills up, and the queries already there keep working.
    let (s, _d) = server(&["--max-regex-bytes", "60000"]);
    s.sql_ok(READINGS).await;
    let mut registered = 0;
    let mut refused = None;
    for i in 0..200 {
        let (status, v) = s
            .sql(&format!(
                r"CREATE QUERY m{i} AS SELECT count(*) AS n FROM r WHERE k MATCHES '[a-z]{{30}}x{i}y';"
            ))
            .await;
        if status == 400 {
            refused = Some(v);
            break;
        }
        assert_eq!(status, 201, "{v}");
        registered += 1;
    }
    let v = refused.expect("the field's automaton reached the limit");
    assert!(registered >= 1);
    assert!(
        message(&v).contains(&format!(
            "{} pattern(s) would compile to an automaton larger than the limit of 60000 bytes",
            registered + 1
        )),
        "{v}"
    );
    let k = format!("{}x0y", "a".repeat(30));
    let report = s.ingest("r", &reading(1_000, &k, 1)).await;
    assert_eq!(report["accepted"], 1);
    let (_, q) = s.get("/v1/queries/m0").await;
    assert_eq!(q["counters"]["matched"], 1, "{q}");
    let (status, _) = s.get(&format!("/v1/queries/m{registered}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_full_group_table_drops_new_groups_and_flags_the_query() {
    let (s, _d) = server(&["--max-groups", "3"]);
    s.sql_ok(&format!(
        "{READINGS}
         CREATE QUERY per_k AS SELECT k, count(*) AS n FROM r GROUP BY k;
         CREATE QUERY total AS SELECT count(*) AS n FROM r;
         CREATE QUERY windows AS SELECT k, count(*) AS n FROM r GROUP BY k WINDOW TUMBLING 10s;"
    ))
    .await;
    let lines: String = [
        (1_000, "a"),
        (1_100, "b"),
        (1_200, "c"),
        (1_300, "d"),
        (1_400, "a"),
        (1_500, "e"),
    ]
    .iter()
    .map(|(ts, k)| reading(*ts, k, 1))
    .collect();
    let report = s.ingest("r", &lines).await;
    assert_eq!(report["accepted"], 6, "{report}");

    let (_, q) = s.get("/v1/queries/per_k").await;
    assert_eq!(q["counters"]["state_groups"], 3, "{q}");
    assert_eq!(q["counters"]["groups_dropped"], 2, "{q}");
    assert_eq!(
        q["status"],
        "error: group limit 3 reached; 2 updates needing a new group were dropped, results are incomplete"
    );
    let (_, q) = s.get("/v1/queries/total").await;
    assert_eq!(q["status"], "ok", "{q}");
    assert_eq!(q["counters"]["groups_dropped"], 0);
    let (_, list) = s.get("/v1/queries").await;
    let statuses: Vec<(&str, &str)> = list["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap(), q["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses[0], ("per_k", q_status_error()));
    assert_eq!(statuses[1], ("total", "ok"));

    // Groups already held keep counting.
    let mut feed = s.ws("/v1/queries/per_k/live").await;
    let mut now: Vec<(String, i64)> = feed
        .take(3)
        .await
        .iter()
        .map(|m| {
            (
                m["group"]["k"].as_str().unwrap().to_string(),
                m["values"]["n"].as_i64().unwrap(),
            )
        })
        .collect();
    now.sort();
    assert_eq!(
        now,
        [
            ("a".to_string(), 2),
            ("b".to_string(), 1),
            ("c".to_string(), 1)
        ]
    );

    let metrics = s.get_text("/metrics").await;
    assert!(
        metrics.contains("shoal_query_groups_dropped_total{query=\"per_k\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shoal_query_groups_dropped_total{query=\"total\"} 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("shoal_queries_in_error 2\n"), "{metrics}");

    // A windowed state frees room when its panes close: the next window
    // holds new groups again.
    let mut windows = s.ws("/v1/queries/windows/live").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Groups are added before the batch's windows close: this record still
    // finds the first window's pane full, and closes it.
    s.ingest("r", &reading(11_500, "a", 1)).await;
    s.ingest("r", &reading(12_000, "f", 1)).await;
    s.ingest("r", &reading(25_000, "g", 1)).await;
    let mut finals: Vec<(i64, String, i64)> = Vec::new();
    while finals.len() < 4 {
        match windows.next(Duration::from_secs(10)).await {
            Said::Json(m) if m.get("partial").is_none() => finals.push((
                m["window_start"].as_i64().unwrap(),
                m["group"]["k"].as_str().unwrap().to_string(),
                m["values"]["n"].as_i64().unwrap(),
            )),
            Said::Json(_) => {}
            other => panic!("expected window results, got {other:?}"),
        }
    }
    finals.sort();
    assert_eq!(
        finals,
        [
            (0, "a".to_string(), 2),
            (0, "b".to_string(), 1),
            (0, "c".to_string(), 1),
            (10_000, "f".to_string(), 1),
        ]
    );
    let (_, q) = s.get("/v1/queries/windows").await;
    assert_eq!(q["counters"]["groups_dropped"], 3, "{q}");
}

fn q_status_error() -> &'static str {
    "error: group limit 3 reached; 2 updates needing a new group were dropped, results are incomplete"
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_the_limit_named() {
    let (s, _d) = server(&["--max-body", "1000"]);
    s.sql_ok(READINGS).await;
    let long_sql = format!("{}CREATE QUERY q AS SELECT k FROM r;", " ".repeat(1200));
    let r = s
        .http
        .post(s.url("/v1/statements"))
        .body(long_sql)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        message(&v),
        "request body larger than the limit of 1000 bytes (--max-body)"
    );
    let lines = reading(1_000, "a", 1).repeat(40);
    assert!(lines.len() > 1000);
    let r = s
        .http
        .post(s.url("/v1/streams/r/records"))
        .body(lines)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // Under the limit all is well.
    let report = s.ingest("r", &reading(1_000, "a", 1).repeat(10)).await;
    assert_eq!(report["accepted"], 10);
}

#[tokio::test]
async fn long_lines_and_deep_json_are_rejected_with_reasons_and_the_stream_goes_on() {
    let (s, _d) = server(&[]);
    s.sql_ok(
        "CREATE STREAM r (ts BIGINT, k TEXT, v BIGINT) \
         WITH (source = 'http', format = 'json', event_time = 'ts', max_line = '200');",
    )
    .await;
    let long = format!("{{\"ts\":1000,\"k\":\"{}\",\"v\":1}}\n", "x".repeat(300));
    let deep = format!(
        "{{\"ts\":1000,\"k\":\"a\",\"v\":1,\"z\":{}1{}}}\n",
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(deep.len() <= 200);
    let long_len = long.len() - 1;
    let report = s
        .ingest("r", &[long, deep, reading(2_000, "b", 2)].concat())
        .await;
    assert_eq!(report, json!({"accepted": 1, "rejected": 2, "late": 0}));
    let (_, v) = s.get("/v1/streams/r/rejects").await;
    let reasons: Vec<&str> = v["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            format!("line of {long_len} bytes is longer than max_line (200)"),
            "JSON nested deeper than 64 levels".to_string()
        ]
    );
}

#[tokio::test]
async fn websockets_beyond_the_subscriber_limit_get_503() {
    let (s, _d) = server(&["--max-subscribers", "2"]);
    s.sql_ok(&format!("{READINGS} CREATE QUERY q AS SELECT k FROM r;"))
        .await;
    let first = s.ws("/v1/queries/q/live").await;
    let _second = s.ws("/v1/live").await;
    let (status, body) = ws_connect(&s, "/v1/queries/q/live", &[])
        .await
        .err()
        .expect("a third websocket is refused");
    assert_eq!(status, 503);
    assert!(
        body.contains("too many websocket subscribers: 2 are open, the limit (--max-subscribers)"),
        "{body}"
    );
    let (status, _) = ws_connect(&s, "/v1/live", &[]).await.err().unwrap();
    assert_eq!(status, 503);
    // Plain HTTP calls are not affected.
    let (status, _) = s.get("/v1/queries").await;
    assert_eq!(status, 200);
    // A closed socket frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ws_connect(&s, "/v1/queries/q/live", &[]).await {
            Ok(_) => break,
            Err((503, _)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the freed place was not reused: {e:?}"),
        }
    }
}

#[tokio::test]
async fn with_a_token_every_call_needs_it() {
    let (s, _d) = server(&["--token", "s3cret-token"]);
    let get = |path: &str, auth: Option<&str>| {
        let mut r = s.http.get(s.url(path));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };
    let r = get("/v1/queries", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"shoal\""
    );
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("Authorization: Bearer TOKEN"), "{v}");
    for wrong in [
        "Bearer s3cret-tokeN",
        "Bearer s3cret",
        "Bearer s3cret-token-and-more",
        "Basic s3cret-token",
        "s3cret-token",
    ] {
        let r = get("/v1/queries", Some(wrong)).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{wrong}");
    }
    let r = get("/v1/queries", Some("Bearer s3cret-token"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = get("/metrics", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = get("/metrics", Some("bearer s3cret-token")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The liveness probe stays open.
    let r = get("/v1/health", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Statements: refused without, executed with.
    let r = s
        .http
        .post(s.url("/v1/statements"))
        .body(format!("{READINGS} CREATE QUERY q AS SELECT k FROM r;"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = s
        .http
        .post(s.url("/v1/statements"))
        .bearer_auth("s3cret-token")
        .body(format!("{READINGS} CREATE QUERY q AS SELECT k FROM r;"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // Websockets: the header, or ?token= for browsers.
    let (status, _) = ws_connect(&s, "/v1/queries/q/live", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = ws_connect(&s, "/v1/live?token=wrong", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = ws_connect(&s, "/v1/live", &[("Authorization", "Bearer s3cret-tokenX")])
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    // A query-string token is for websockets only.
    let r = get("/v1/queries?token=s3cret-token", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let mut feed = ws_connect(&s, "/v1/queries/q/live?token=s3cret-token", &[])
        .await
        .expect("?token= opens the websocket");
    let mut multi = ws_connect(&s, "/v1/live", &[("Authorization", "Bearer s3cret-token")])
        .await
        .expect("the header opens the websocket");
    multi.send(json!({"subscribe": ["q"]})).await;
    assert_eq!(multi.json().await["subscribed"], json!(["q"]));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = s
        .http
        .post(s.url("/v1/streams/r/records"))
        .bearer_auth("s3cret-token")
        .body(reading(1_000, "a", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(feed.json().await, json!({"query": "q", "row": {"k": "a"}}));
    assert_eq!(multi.json().await, json!({"query": "q", "row": {"k": "a"}}));
}

#[tokio::test]
async fn the_token_can_come_from_the_environment() {
    let dir = TempDir::new("safety-env");
    let s = Server::start_with_env(&[], &dir.0, &[("SHOAL_TOKEN", "from-env")]);
    let r = s.http.get(s.url("/v1/streams")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = s
        .http
        .get(s.url("/v1/streams"))
        .bearer_auth("from-env")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Runs `shoal serve ARGS` and returns (exit code, stderr) if it exits
/// within 20 s, or `None` (and kills it) if it keeps running and listens.
fn serve_outcome(args: &[&str], env: &[(&str, &str)]) -> Option<(i32, String)> {
    use std::io::{BufRead, BufReader, Read};
    let dir = TempDir::new("safety-bind");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("serve")
        .args(args)
        .current_dir(&dir.0)
        .env("SHOAL_LOG", "warn")
        .env_remove("SHOAL_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shoal serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.starts_with("listening on ") {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    Some((status.code().unwrap_or(-1), err))
}

#[test]
fn a_non_loopback_bind_needs_a_token_or_insecure() {
    let (code, err) = serve_outcome(&["--bind", "0.0.0.0:0"], &[]).expect("refused");
    assert_ne!(code, 0);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{err}"
    );
    assert!(err.contains("--insecure"), "{err}");
    assert_eq!(
        serve_outcome(&["--bind", "0.0.0.0:0", "--token", "t0k"], &[]),
        None
    );
    assert_eq!(
        serve_outcome(&["--bind", "0.0.0.0:0"], &[("SHOAL_TOKEN", "t0k")]),
        None
    );
    assert_eq!(
        serve_outcome(&["--bind", "0.0.0.0:0", "--insecure"], &[]),
        None
    );
    // Loopback needs neither.
    assert_eq!(serve_outcome(&["--bind", "127.0.0.1:0"], &[]), None);
    let (code, err) = serve_outcome(&["--bind", "127.0.0.1:0", "--token", ""], &[]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("the token is empty"), "{err}");
}

#[tokio::test]
async fn cross_origin_requests_are_refused_unless_allowed() {
    let (s, _d) = server(&["--allow-origin", "http://dash.example:3000"]);
    let own = format!("http://{}", s.addr);
    let post = |origin: Option<&str>| {
        let mut r = s
            .http
            .post(s.url("/v1/statements"))
            .body(READINGS.to_string());
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send()
    };
    let r = post(Some("http://evil.example")).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        message(&v),
        "cross-origin request from `http://evil.example` refused; start the server with --allow-origin http://evil.example to allow it"
    );
    // Another port of the same host is another origin.
    let port: u16 = s.addr.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    assert_eq!(
        post(Some(&other_port)).await.unwrap().status().as_u16(),
        403
    );
    assert_eq!(post(Some("null")).await.unwrap().status().as_u16(), 403);
    let (_, v) = s.get("/v1/streams").await;
    assert_eq!(v["streams"], json!([]), "refused statements did not run");

    // Same origin, and no Origin at all (curl), are served.
    assert_eq!(post(Some(&own)).await.unwrap().status().as_u16(), 201);
    let r = s
        .http
        .get(s.url("/v1/streams"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    s.sql_ok("CREATE QUERY q AS SELECT k FROM r;").await;

    // An allowed origin is served, with CORS headers, and its preflight answered.
    let r = s
        .http
        .get(s.url("/v1/queries"))
        .header("Origin", "http://dash.example:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://dash.example:3000"
    );
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/v1/statements"))
        .header("Origin", "http://dash.example:3000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));

    // Websockets: the handshake's Origin is checked the same way.
    let (status, _) = ws_connect(
        &s,
        "/v1/queries/q/live",
        &[("Origin", "http://evil.example")],
    )
    .await
    .err()
    .expect("cross-origin websocket refused");
    assert_eq!(status, 403);
    assert!(ws_connect(&s, "/v1/queries/q/live", &[("Origin", &own)])
        .await
        .is_ok());
    assert!(
        ws_connect(&s, "/v1/live", &[("Origin", "http://dash.example:3000")])
            .await
            .is_ok()
    );

    // Without a token a DNS name in Host is refused (DNS rebinding), unless listed.
    let r = s
        .http
        .get(s.url("/v1/streams"))
        .header("Host", format!("rebound.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(
        message(&v).contains("host `rebound.example` refused"),
        "{v}"
    );
    for host in [format!("localhost:{port}"), "dash.example:3000".to_string()] {
        let r = s
            .http
            .get(s.url("/v1/streams"))
            .header("Host", host.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{host}");
    }
}

#[tokio::test]
async fn with_a_token_any_host_name_is_served() {
    let (s, _d) = server(&["--token", "abc"]);
    let r = s
        .http
        .get(s.url("/v1/streams"))
        .header("Host", "shoal.internal.example:7878")
        .bearer_auth("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Origin is still checked.
    let r = s
        .http
        .get(s.url("/v1/streams"))
        .header("Origin", "http://evil.example")
        .bearer_auth("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

/// The engine alone: the group limit holds on the threaded aggregation path
/// too (a large batch, several states).
#[test]
fn the_group_limit_holds_when_states_are_updated_on_several_threads() {
    use shoal::exec::{Engine, Limits, Origin, QueryResult};
    let mut e = Engine::with_limits(Limits {
        max_groups_per_state: 100,
        ..Limits::default()
    });
    e.execute(
        "CREATE STREAM r (ts BIGINT, k BIGINT, v BIGINT) WITH (format = 'json', event_time = 'ts');
         CREATE QUERY by_k AS SELECT k, count(*) AS n FROM r GROUP BY k;
         CREATE QUERY by_v AS SELECT v, count(*) AS n FROM r GROUP BY v;",
    )
    .unwrap();
    // 5,000 records in one batch: keys 0..999 five times each (k), 0..2 (v).
    let lines: String = (0..5000)
        .map(|i| format!("{{\"ts\":{i},\"k\":{},\"v\":{}}}\n", i % 1000, i % 3))
        .collect();
    let mut out: Vec<QueryResult> = Vec::new();
    e.push_lines("r", &mut Origin::new("t"), lines.as_bytes(), 0, &mut out)
        .unwrap();
    e.flush(&mut out);
    let rt = e.stream("r").unwrap();
    // Keys 0..99 came first and were kept; the other 900 keys' 4,500
    // updates were dropped.
    assert_eq!(rt.query_state("by_k"), Some((Some(5000), 100)));
    assert_eq!(rt.groups_dropped("by_k"), 4500);
    assert_eq!(rt.groups_dropped("by_v"), 0);
    let mut counts: Vec<(i64, i64)> = out
        .iter()
        .filter(|r| &*r.query == "by_k")
        .map(|r| {
            let v: Value = serde_json::from_str(&r.to_json()).unwrap();
            (
                v["group"]["k"].as_i64().unwrap(),
                v["values"]["n"].as_i64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    let expected: Vec<(i64, i64)> = (0..100).map(|k| (k, 5)).collect();
    assert_eq!(counts, expected);
}
