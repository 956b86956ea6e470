//! The `CREATE STREAM`s of `examples/formats/` against real logs nobody here
//! wrote: every line of each loghub sample must decode, and the header
//! fields extracted must equal the columns of loghub's structured CSV of the
//! same sample, line by line.
//!
//! Each statement file runs in the real engine with two more queries: a
//! `SELECT *` filter (whole rows, through the decoder built for every field)
//! and a projection of the checked fields (through the decoder built for the
//! plan's fields only). Expected timestamps are computed here from the CSV's
//! text with `chrono`, not by the code under test.

use chrono::NaiveDate;
use serde_json::Value as J;
use shoal::exec::{Engine, Origin, QueryResult, ResultBody};

/// How a field is compared with the CSV.
enum Check {
    /// The field's text equals the column (`NULL` for an empty column).
    Text(&'static str, &'static str),
    /// The field is the column's integer (`NULL` for an empty column).
    Int(&'static str, &'static str),
    /// The field is the epoch milliseconds `time` computes from the row.
    Time(&'static str, fn(&Row) -> i64),
}

/// One CSV row, by column name.
struct Row<'a> {
    header: &'a [String],
    cells: Vec<String>,
}

impl Row<'_> {
    fn get(&self, col: &str) -> &str {
        let i = self
            .header
            .iter()
            .position(|h| h == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        &self.cells[i]
    }

    /// The numbers in a column's text, in order (`17:41:44,747` → 17, 41, 44, 747).
    fn nums(&self, col: &str) -> Vec<u32> {
        self.get(col)
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect()
    }
}

fn month(name: &str) -> u32 {
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    names.iter().position(|m| *m == name).expect("month name") as u32 + 1
}

/// Epoch ms of a UTC date and time, by chrono.
fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, milli: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, mo, d)
        .expect("date")
        .and_hms_milli_opt(h, mi, s, milli)
        .expect("time")
        .and_utc()
        .timestamp_millis()
}

/// `hh:mm:ss` plus a date.
fn hms(y: i32, mo: u32, d: u32, t: &[u32]) -> i64 {
    ms(y, mo, d, t[0], t[1], t[2], t.get(3).copied().unwrap_or(0))
}

struct Dataset {
    /// The loghub system name (directory and file prefix).
    system: &'static str,
    sql: &'static str,
    stream: &'static str,
    checks: Vec<Check>,
}

fn datasets() -> Vec<Dataset> {
    use Check::*;
    vec![
        Dataset {
            system: "Apache",
            sql: "apache.sql",
            stream: "apache",
            checks: vec![
                Time("time", |r| {
                    // `Sun Dec 04 04:47:44 2005`
                    let words: Vec<&str> = r.get("Time").split(' ').collect();
                    let t = r.nums("Time");
                    hms(t[4] as i32, month(words[1]), t[0], &t[1..4])
                }),
                Text("level", "Level"),
                Text("content", "Content"),
            ],
        },
        Dataset {
            system: "HDFS",
            sql: "hdfs.sql",
            stream: "hdfs",
            checks: vec![
                Text("date", "Date"),
                Text("time", "Time"),
                Int("pid", "Pid"),
                Text("level", "Level"),
                Text("component", "Component"),
                Text("content", "Content"),
                Time("ts", |r| {
                    // `081109` `203615`
                    let (d, t) = (r.get("Date"), r.get("Time"));
                    let n = |s: &str, i: usize| s[i..i + 2].parse::<u32>().unwrap();
                    ms(
                        2000 + n(d, 0) as i32,
                        n(d, 2),
                        n(d, 4),
                        n(t, 0),
                        n(t, 2),
                        n(t, 4),
                        0,
                    )
                }),
            ],
        },
        Dataset {
            system: "Linux",
            sql: "linux.sql",
            stream: "linux",
            checks: vec![
                Time("timestamp", |r| {
                    let d = r.nums("Date")[0];
                    hms(2005, month(r.get("Month")), d, &r.nums("Time"))
                }),
                // loghub calls the host column `Level`.
                Text("host", "Level"),
                Text("program", "Component"),
                Int("pid", "PID"),
                Text("message", "Content"),
            ],
        },
        Dataset {
            system: "OpenSSH",
            sql: "openssh.sql",
            stream: "openssh",
            checks: vec![
                Time("timestamp", |r| {
                    let d = r.nums("Day")[0];
                    hms(2015, month(r.get("Date")), d, &r.nums("Time"))
                }),
                // loghub calls the host column `Component`.
                Text("host", "Component"),
                Int("pid", "Pid"),
                Text("message", "Content"),
            ],
        },
        Dataset {
            system: "Zookeeper",
            sql: "zookeeper.sql",
            stream: "zookeeper",
            checks: vec![
                Text("date", "Date"),
                Text("time", "Time"),
                Text("level", "Level"),
                Text("node", "Node"),
                Text("component", "Component"),
                Int("id", "Id"),
                Text("content", "Content"),
                Time("ts", |r| {
                    let d = r.nums("Date");
                    hms(d[0] as i32, d[1], d[2], &r.nums("Time"))
                }),
            ],
        },
        Dataset {
            system: "Spark",
            sql: "spark.sql",
            stream: "spark",
            checks: vec![
                Text("date", "Date"),
                Text("time", "Time"),
                Text("level", "Level"),
                Text("component", "Component"),
                Text("content", "Content"),
                Time("ts", |r| {
                    let d = r.nums("Date");
                    hms(2000 + d[0] as i32, d[1], d[2], &r.nums("Time"))
                }),
            ],
        },
        Dataset {
            system: "Android",
            sql: "android.sql",
            stream: "android",
            checks: vec![
                Text("date", "Date"),
                Text("time", "Time"),
                Int("pid", "Pid"),
                Int("tid", "Tid"),
                Text("level", "Level"),
                Text("component", "Component"),
                Text("content", "Content"),
                Time("ts", |r| {
                    let d = r.nums("Date");
                    hms(2017, d[0], d[1], &r.nums("Time"))
                }),
            ],
        },
        Dataset {
            system: "HealthApp",
            sql: "healthapp.sql",
            stream: "healthapp",
            checks: vec![
                Time("time", |r| {
                    // `20171223-22:16:0:5`: the last number is milliseconds.
                    let n = r.nums("Time");
                    let ymd = n[0];
                    hms((ymd / 10_000) as i32, ymd / 100 % 100, ymd % 100, &n[1..])
                }),
                Text("component", "Component"),
                Int("pid", "Pid"),
                Text("content", "Content"),
            ],
        },
    ]
}

/// Splits one CSV record (no line breaks inside fields in these files).
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    cells.push(cur);
    cells
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of a filter query's results, in order.
fn rows_of(results: &[QueryResult], query: &str) -> Vec<serde_json::Map<String, J>> {
    results
        .iter()
        .filter(|r| &*r.query == query)
        .map(|r| {
            let text = match &r.body {
                ResultBody::Row(row) => row.get().to_string(),
                ResultBody::Aggregate { .. } => panic!("not a row"),
            };
            match serde_json::from_str(&text).unwrap() {
                J::Object(m) => m,
                other => panic!("row is not an object: {other}"),
            }
        })
        .collect()
}

fn field_name(c: &Check) -> &'static str {
    match c {
        Check::Text(f, _) | Check::Int(f, _) | Check::Time(f, _) => f,
    }
}

fn check_row(
    system: &str,
    line_no: usize,
    row: &serde_json::Map<String, J>,
    csv: &Row,
    checks: &[Check],
) {
    for c in checks {
        let got = row.get(field_name(c)).unwrap_or(&J::Null);
        let want = match c {
            Check::Text(_, col) => match csv.get(col) {
                "" => J::Null,
                s => J::from(s),
            },
            Check::Int(_, col) => match csv.get(col) {
                "" => J::Null,
                s => J::from(s.parse::<i64>().unwrap()),
            },
            Check::Time(_, f) => J::from(f(csv)),
        };
        // A text column that is empty in the CSV may be an empty capture.
        let same = *got == want || (want.is_null() && got.as_str() == Some(""));
        assert!(
            same,
            "{system} line {line_no}, field `{}`: got {got}, CSV says {want}",
            field_name(c)
        );
    }
}

#[test]
fn every_loghub_sample_line_decodes_and_matches_the_structured_csv() {
    for ds in datasets() {
        let sql = read(&format!("examples/formats/{}", ds.sql));
        let fields: Vec<&str> = ds.checks.iter().map(field_name).collect();
        let mut engine = Engine::new();
        let script = format!(
            "{sql}\nCREATE QUERY all_rows AS SELECT * FROM {s};\nCREATE QUERY header AS SELECT {f} FROM {s};",
            s = ds.stream,
            f = fields.join(", ")
        );
        if let Err(e) = engine.execute(&script) {
            panic!("{}: {}", ds.sql, e.render(&script));
        }
        let dir = format!("examples/formats/data/{}", ds.system);
        let log = std::fs::read(format!("{dir}/{}_2k.log", ds.system)).unwrap();
        let mut out: Vec<QueryResult> = Vec::new();
        let mut origin = Origin::new(ds.system);
        engine
            .push_lines(ds.stream, &mut origin, &log, 0, &mut out)
            .unwrap();
        engine.flush(&mut out);
        let st = engine.stream(ds.stream).unwrap().stats().clone();
        let rejects: Vec<_> = engine
            .stream(ds.stream)
            .unwrap()
            .rejects()
            .take(3)
            .cloned()
            .collect();
        assert_eq!(st.rejected, 0, "{}: {rejects:?}", ds.system);
        assert_eq!(
            (st.records_in, st.accepted, st.late),
            (2000, 2000, 0),
            "{}",
            ds.system
        );

        let csv_text = read(&format!("{dir}/{}_2k.log_structured.csv", ds.system));
        let mut csv_lines = csv_text.lines();
        let header = csv_cells(csv_lines.next().unwrap());
        let csv_rows: Vec<Row> = csv_lines
            .map(|l| Row {
                header: &header,
                cells: csv_cells(l),
            })
            .collect();
        assert_eq!(csv_rows.len(), 2000, "{}", ds.system);
        for query in ["all_rows", "header"] {
            let rows = rows_of(&out, query);
            assert_eq!(rows.len(), 2000, "{} {query}", ds.system);
            for (i, (row, csv)) in rows.iter().zip(&csv_rows).enumerate() {
                assert_eq!(csv.get("LineId"), (i + 1).to_string());
                check_row(ds.system, i + 1, row, csv, &ds.checks);
            }
        }
        // The example's own queries produced results too.
        assert!(
            out.iter()
                .any(|r| !["all_rows", "header"].contains(&&*r.query)),
            "{}: the example query emitted nothing",
            ds.system
        );
    }
}

#[test]
fn lines_that_do_not_fit_are_rejected_with_a_reason() {
    let mut engine = Engine::new();
    let sql = read("examples/formats/apache.sql");
    engine.execute(&sql).unwrap();
    engine
        .execute("CREATE STREAM ssh WITH (format = 'syslog', year = '2015');")
        .unwrap();
    let mut out: Vec<QueryResult> = Vec::new();
    let mut origin = Origin::new("bad.log");
    engine
        .push_lines(
            "apache",
            &mut origin,
            b"[Sun Dec 04 04:47:44 2005] [notice] fine\nnot apache at all\n[Sun Dec 32 04:47:44 2005] [notice] bad day\n",
            0,
            &mut out,
        )
        .unwrap();
    let rt = engine.stream("apache").unwrap();
    assert_eq!(rt.stats().rejected, 2);
    let reasons: Vec<(u64, &str)> = rt.rejects().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(reasons[0], (2, "line matches no pattern"));
    assert_eq!(reasons[1].0, 3);
    assert!(
        reasons[1]
            .1
            .starts_with("field `time`: \"Sun Dec 32 04:47:44 2005\" does not fit"),
        "{}",
        reasons[1].1
    );
    let mut origin = Origin::new("ssh.log");
    engine
        .push_lines("ssh", &mut origin, b"Dec 10 06:55:46 LabSZ\n", 0, &mut out)
        .unwrap();
    let r = engine
        .stream("ssh")
        .unwrap()
        .rejects()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        r.reason,
        "invalid syslog line at byte 16: expected a host name and a tag"
    );
}
