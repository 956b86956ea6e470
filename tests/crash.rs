//! Crash recovery, end to end: a real `shoal serve` follows a directory
//! into which generated tweets are written as the test runs (appended in
//! chunks cut at arbitrary bytes, like a live log), is killed with SIGKILL
//! at random moments, restarted each time, and once it has consumed
//! everything its result history (read
//! through the API) must equal what `shoal run` computes over the same
//! files: every final window closed by the server's last watermark, none
//! missing, none twice, none with other values; the running totals and the
//! stream's counters must match too.
//!
//! The kill moments come from a seed (printed, and settable with
//! `SHOAL_CRASH_SEED`) so a failure can be replayed.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Server, TempDir};

const RECORDS: u64 = 240_000;
/// One file: a live log's lines arrive in one order, the order in which
/// `shoal run` reads the finished file, so lateness is the same in both.
const FILES: usize = 1;
/// Bytes appended per write, and the pause between writes: the input
/// arrives over about six seconds, so every kill lands mid-stream.
const CHUNK: usize = 40 << 10;
const PAUSE: Duration = Duration::from_millis(4);

const STATEMENTS: &str = "
CREATE STREAM tweets (ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT)
  WITH (source = 'dir:tweets', format = 'json', event_time = 'ts', watermark = '2s');
CREATE QUERY by_lang AS
  SELECT lang, count(*) AS n, sum(retweets) AS rt, avg(followers) AS avg_followers, count(DISTINCT country) AS countries
  FROM tweets GROUP BY lang WINDOW TUMBLING 10s;
CREATE QUERY en_by_country AS
  SELECT country, count(*) AS n, max(retweets) AS top, min(user) AS first_user
  FROM tweets WHERE lang = 'en' GROUP BY country WINDOW SLIDING 30s EVERY 5s;
CREATE QUERY trending AS
  SELECT hashtags, count(*) AS n FROM tweets GROUP BY hashtags
  WINDOW TUMBLING 20s ORDER BY n DESC LIMIT 5;
CREATE QUERY debate_users AS
  SELECT count(DISTINCT user) AS users FROM tweets
  WHERE text CONTAINS 'debate' OR hashtags CONTAINS 'debate' WINDOW TUMBLING 7s;
CREATE QUERY totals AS
  SELECT lang, count(*) AS n, sum(retweets) AS rt FROM tweets GROUP BY lang;
";

const WINDOWED: [&str; 4] = ["by_lang", "en_by_country", "trending", "debate_users"];

/// A small deterministic generator for the kill schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn shoal(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run shoal");
    assert!(
        out.status.success(),
        "shoal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn serve_args() -> Vec<&'static str> {
    vec![
        "statements.sql",
        "--data",
        "store",
        "--checkpoint-interval",
        "100ms",
    ]
}

async fn stream(s: &Server) -> Value {
    let (status, v) = s.get("/v1/streams/tweets").await;
    assert_eq!(status, 200, "{v}");
    v
}

fn records_in(v: &Value) -> u64 {
    v["stats"]["records_in"].as_u64().expect("records_in")
}

/// Waits until the server has taken in every record.
async fn wait_for_all(s: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let v = stream(s).await;
        if records_in(&v) >= RECORDS {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "not all records consumed: {}",
            v["stats"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sigterm(child: &mut Child) {
    let pid = child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(ok.success());
}

/// A final window result in a comparable form.
fn key(v: &Value) -> (i64, i64, String, String) {
    (
        v["window_start"].as_i64().expect("window_start"),
        v["window_end"].as_i64().expect("window_end"),
        v["group"].to_string(),
        v["values"].to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_after_repeated_sigkill_equal_an_uninterrupted_run() {
    let seed: u64 = std::env::var("SHOAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (SHOAL_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = TempDir::new("crash");
    shoal(
        &dir.0,
        &[
            "gen",
            "tweets",
            "--records",
            &RECORDS.to_string(),
            "--files",
            &FILES.to_string(),
            "--out",
            "generated",
            "--rate",
            "2000",
        ],
    );
    std::fs::write(dir.join("statements.sql"), STATEMENTS).unwrap();
    std::fs::create_dir(dir.join("tweets")).unwrap();
    let writer = {
        let name = "tweets-00000.jsonl";
        let from = dir.join("generated").join(name);
        let to = dir.join("tweets").join(name);
        std::thread::spawn(move || {
            use std::io::Write;
            let data = std::fs::read(from).expect("generated tweets");
            let mut f = std::fs::File::create(to).expect("create the live file");
            for chunk in data.chunks(CHUNK) {
                f.write_all(chunk).expect("append");
                std::thread::sleep(PAUSE);
            }
        })
    };

    // Kills while the file grows: each run waits until the server has taken
    // in more records than it resumed at, then a random delay so the kill
    // lands anywhere in a batch or between a batch and its checkpoint; one
    // run is killed at a random moment right after start (during recovery
    // or the first batch).
    let early = rng.below(5) as usize;
    let mut mid_stream = 0;
    for run in 0..5 {
        let mut s = Server::start(&serve_args(), &dir.0);
        let at_start = records_in(&stream(&s).await);
        let seen: u64 = if run == early {
            tokio::time::sleep(Duration::from_millis(rng.below(200))).await;
            records_in(&stream(&s).await)
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            while records_in(&stream(&s).await) <= at_start && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(50 + rng.below(600))).await;
            records_in(&stream(&s).await)
        };
        s.kill();
        if seen > 0 && seen < RECORDS {
            mid_stream += 1;
        }
        eprintln!("run {run}: resumed at {at_start} records, killed (SIGKILL) at about {seen}");
    }
    assert!(
        mid_stream >= 3,
        "only {mid_stream} kills landed mid-stream; the input arrived too fast"
    );
    writer.join().expect("writer");

    // The last run: consume everything, stop gracefully, start again (a
    // clean restart must neither re-read nor lose anything) and read.
    let mut s = Server::start(&serve_args(), &dir.0);
    let before = wait_for_all(&s).await;
    sigterm(s.child());
    let status = s.child().wait().expect("wait");
    assert!(status.success(), "graceful shutdown: {status:?}");
    let s = Server::start(&serve_args(), &dir.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = stream(&s).await;
    assert_eq!(
        after["stats"], before["stats"],
        "a clean restart changed the counters"
    );
    let watermark = after["watermark"].as_i64().expect("watermark");

    // What an uninterrupted run computes over the same files.
    let run = shoal(
        &dir.0,
        &[
            "run",
            "statements.sql",
            "--out",
            "expected.jsonl",
            "--stats",
        ],
    );
    let stats_line = String::from_utf8_lossy(&run.stderr).to_string();
    let field = |name: &str| -> u64 {
        let mut it = stats_line.split_whitespace();
        while let Some(w) = it.next() {
            if w == name {
                return it.next().unwrap().parse().unwrap();
            }
        }
        panic!("no {name} in {stats_line}")
    };
    assert_eq!(records_in(&after), field("records"));
    assert_eq!(after["stats"]["late"].as_u64(), Some(field("late")));
    assert_eq!(after["stats"]["rejected"].as_u64(), Some(field("rejected")));
    let expected_text = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    let mut expected: BTreeMap<String, Vec<(i64, i64, String, String)>> = BTreeMap::new();
    let mut expected_totals: Vec<(String, String)> = Vec::new();
    for line in expected_text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let q = v["query"].as_str().unwrap().to_string();
        if q == "totals" {
            expected_totals.push((v["group"].to_string(), v["values"].to_string()));
        } else if v["window_end"].as_i64().unwrap() <= watermark {
            // The server closes only windows its watermark passed; `shoal
            // run` also flushes the open ones at its end.
            expected.entry(q).or_default().push(key(&v));
        }
    }

    let mut compared = 0;
    for q in WINDOWED {
        let mut got = Vec::new();
        let mut after_seq = i64::MIN;
        loop {
            let (status, v) = s
                .get(&format!(
                    "/v1/queries/{q}/results?limit=5000&after={after_seq}"
                ))
                .await;
            assert_eq!(status, 200, "{v}");
            let rows = v["results"].as_array().unwrap();
            for r in rows {
                got.push(key(r));
                after_seq = r["seq"].as_i64().unwrap();
            }
            if !v["truncated"].as_bool().unwrap() {
                break;
            }
        }
        let mut want = expected.remove(q).unwrap_or_default();
        want.sort();
        let n = got.len();
        got.sort();
        let dups = n - {
            let mut d = got.clone();
            d.dedup();
            d.len()
        };
        assert_eq!(dups, 0, "{q}: results stored twice");
        assert!(!want.is_empty(), "{q}: no expected results");
        if got != want {
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(5).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(5).collect();
            panic!(
                "{q}: {} stored, {} expected\nmissing: {missing:?}\nextra: {extra:?}",
                got.len(),
                want.len()
            );
        }
        compared += got.len();
    }
    eprintln!(
        "compared {compared} final window results of {} queries",
        WINDOWED.len()
    );

    // Running totals: a new subscriber gets the current values first.
    let mut ws = s.ws("/v1/queries/totals/live").await;
    let mut got_totals: Vec<(String, String)> = ws
        .take(expected_totals.len())
        .await
        .iter()
        .map(|v| (v["group"].to_string(), v["values"].to_string()))
        .collect();
    got_totals.sort();
    expected_totals.sort();
    assert_eq!(got_totals, expected_totals, "running totals differ");

    let metrics = s.get_text("/metrics").await;
    assert!(
        metrics.contains("\nshoal_store_results_conflicting_total 0\n"),
        "{metrics}"
    );
}
