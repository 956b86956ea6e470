//! End to end: the real `shoal` binary generates tweets, runs standing
//! queries over them shared and unshared, and the results are checked
//! against values computed here directly from the generated JSON files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("shoal-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shoal(args: &[&str]) -> (String, String) {
    shoal_in(Path::new("."), args)
}

/// Runs `shoal` in `dir` and returns its standard output and error.
fn shoal_in(dir: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("shoal runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "shoal {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

const WATERMARK_MS: i64 = 1000;

fn sql(data: &Path) -> String {
    format!(
        r#"
CREATE STREAM tweets (ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT)
  WITH (source = 'dir:{}', format = 'json', event_time = 'ts', watermark = '1s');
CREATE QUERY per_lang AS
  SELECT lang, count(*) AS n FROM tweets GROUP BY lang WINDOW TUMBLING 10s;
CREATE QUERY hillary_users AS
  SELECT count(DISTINCT user) AS users FROM tweets WHERE text CONTAINS 'hillary';
CREATE QUERY vote_for AS
  SELECT id, user FROM tweets WHERE text MATCHES '(?i)vote\s+for';
CREATE QUERY totals AS
  SELECT lang, count(*) AS n, sum(retweets) AS rts FROM tweets GROUP BY lang;
"#,
        data.display()
    )
}

/// The accepted records of the data directory (files in name order, late
/// records dropped), parsed with serde_json.
fn accepted(data: &Path) -> (Vec<serde_json::Value>, u64) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut max: Option<i64> = None;
    let mut out = Vec::new();
    let mut late = 0;
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let ts = v["ts"].as_i64().expect("generated ts is an integer");
            if max.is_some_and(|m| ts < m - WATERMARK_MS) {
                late += 1;
                continue;
            }
            max = Some(max.map_or(ts, |m| m.max(ts)));
            out.push(v);
        }
    }
    (out, late)
}

fn read_results(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("result line is JSON"))
        .collect()
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn of<'a>(rs: &'a [serde_json::Value], q: &str) -> Vec<&'a serde_json::Value> {
    rs.iter().filter(|r| r["query"] == q).collect()
}

fn check_results(rs: &[serde_json::Value], recs: &[serde_json::Value]) {
    // per_lang: count per (10 s window, lang).
    let mut want: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for r in recs {
        let ts = r["ts"].as_i64().unwrap();
        let lang = r["lang"].as_str().unwrap().to_string();
        *want
            .entry((ts.div_euclid(10_000) * 10_000, lang))
            .or_default() += 1;
    }
    let mut got: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for r in of(rs, "per_lang") {
        let start = r["window_start"].as_i64().unwrap();
        assert_eq!(r["window_end"].as_i64().unwrap(), start + 10_000);
        let key = (start, r["group"]["lang"].as_str().unwrap().to_string());
        assert!(
            got.insert(key, r["values"]["n"].as_i64().unwrap())
                .is_none(),
            "duplicate group {r}"
        );
    }
    assert!(
        want.len() > 20,
        "per_lang should have several windows and languages"
    );
    assert_eq!(got, want, "per_lang");

    // hillary_users: distinct users whose text mentions hillary, any case.
    let users: BTreeSet<&str> = recs
        .iter()
        .filter(|r| {
            r["text"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("hillary")
        })
        .map(|r| r["user"].as_str().unwrap())
        .collect();
    let h = of(rs, "hillary_users");
    assert_eq!(h.len(), 1, "one running total");
    assert!(h[0]["window_start"].is_null());
    assert!(!users.is_empty());
    assert_eq!(
        h[0]["values"]["users"].as_i64().unwrap(),
        users.len() as i64,
        "hillary_users"
    );

    // vote_for: the matching records' ids and users.
    let re = regex_automata::meta::Regex::new(r"(?i)vote\s+for").unwrap();
    let mut want_rows: Vec<(i64, String)> = recs
        .iter()
        .filter(|r| re.is_match(r["text"].as_str().unwrap()))
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["user"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut got_rows: Vec<(i64, String)> = of(rs, "vote_for")
        .iter()
        .map(|r| {
            (
                r["row"]["id"].as_i64().unwrap(),
                r["row"]["user"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want_rows.sort();
    got_rows.sort();
    assert!(!want_rows.is_empty());
    assert_eq!(got_rows, want_rows, "vote_for");

    // totals: running count and retweet sum per lang.
    let mut want_tot: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in recs {
        let e = want_tot
            .entry(r["lang"].as_str().unwrap().to_string())
            .or_default();
        e.0 += 1;
        e.1 += r["retweets"].as_i64().unwrap();
    }
    let got_tot: BTreeMap<String, (i64, i64)> = of(rs, "totals")
        .iter()
        .map(|r| {
            assert!(r["window_start"].is_null());
            (
                r["group"]["lang"].as_str().unwrap().to_string(),
                (
                    r["values"]["n"].as_i64().unwrap(),
                    r["values"]["rts"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got_tot, want_tot, "totals");
}

fn stats_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains("records/s"))
        .unwrap_or_else(|| panic!("no records/s line in:\n{stderr}"))
}

fn stat(line: &str, name: &str) -> f64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("no `{name}` in {line}"));
    words[i + 1].parse().unwrap()
}

#[test]
fn generated_tweets_shared_unshared_and_independent() {
    let tmp = TempDir::new("e2e");
    let data = tmp.0.join("data");
    let data_s = data.to_str().unwrap();
    shoal(&[
        "gen",
        "tweets",
        "--records",
        "20000",
        "--files",
        "3",
        "--out",
        data_s,
        "--seed",
        "7",
        "--rate",
        "500",
    ]);
    let n_files = std::fs::read_dir(&data).unwrap().count();
    assert_eq!(n_files, 3);
    let q = tmp.0.join("q.sql");
    std::fs::write(&q, sql(&data)).unwrap();
    let q_s = q.to_str().unwrap();

    let shared = tmp.0.join("shared.jsonl");
    let (_, stderr) = shoal(&["run", q_s, "--out", shared.to_str().unwrap(), "--stats"]);
    let line = stats_line(&stderr);
    assert_eq!(stat(line, "records"), 20000.0, "{line}");
    assert!(stat(line, "records/s") > 0.0, "{line}");
    assert_eq!(stat(line, "rejected"), 0.0, "{line}");
    let (recs, late) = accepted(&data);
    assert!(
        late > 0,
        "1 s watermark with 2 s disorder should make some records late"
    );
    assert_eq!(stat(line, "late"), late as f64, "{line}");
    check_results(&read_results(&shared), &recs);

    let unshared = tmp.0.join("unshared.jsonl");
    shoal(&[
        "run",
        q_s,
        "--out",
        unshared.to_str().unwrap(),
        "--unshared",
    ]);
    assert_eq!(
        sorted_lines(&shared),
        sorted_lines(&unshared),
        "shared != unshared"
    );

    // A malformed line at the end of the first file is rejected and changes nothing else.
    let mut first: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    first.sort();
    let mut text = std::fs::read_to_string(&first[0]).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("{\"ts\": 1477958400000, \"lang\": \"en\", oops\n");
    std::fs::write(&first[0], text).unwrap();
    let bad = tmp.0.join("bad.jsonl");
    let (_, stderr) = shoal(&["run", q_s, "--out", bad.to_str().unwrap(), "--stats"]);
    let line = stats_line(&stderr);
    assert_eq!(stat(line, "rejected"), 1.0, "{line}");
    assert_eq!(stat(line, "late"), late as f64, "{line}");
    assert_eq!(
        sorted_lines(&shared),
        sorted_lines(&bad),
        "a rejected line changed results"
    );
}

#[test]
fn out_dash_writes_results_to_standard_output() {
    let tmp = TempDir::new("dash");
    let data = tmp.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.jsonl"),
        "{\"ts\":1000,\"id\":1,\"user\":\"u\",\"lang\":\"en\",\"text\":\"vote for me\",\"hashtags\":[],\"retweets\":2}\n",
    )
    .unwrap();
    let q = tmp.0.join("q.sql");
    std::fs::write(&q, sql(&data)).unwrap();
    let (stdout, _) = shoal_in(&tmp.0, &["run", q.to_str().unwrap(), "--out", "-"]);
    assert!(
        stdout.contains(r#"{"query":"vote_for","row":{"id":1,"user":"u"}}"#),
        "{stdout}"
    );
    assert!(!tmp.0.join("-").exists(), "`--out -` made a file named -");
}
