//! What each fuzz target checks, shared by the targets (`fuzz_targets/`) and
//! by the regression tests that replay saved inputs
//! (`tests/fuzz_regressions.rs`). Every check must hold for any input bytes;
//! a panic is a finding.
#![allow(dead_code)] // each target uses one check

use serde_json::Value as J;
use shoal::exec::decode::{self, CsvHeader, DecodeError, FieldSet};
use shoal::exec::{Engine, Limits, Origin, QueryResult};
use shoal::parser::parse_statements as parse;
use shoal::value::Value;

/// The statement parser: never panics; error spans lie inside the input on
/// character boundaries; accepted statements print to canonical text that
/// parses back to the same trees.
pub fn parse_statements(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match parse(src) {
        Ok(parsed) => {
            let mut text = String::new();
            for s in &parsed {
                assert!(s.span.start <= s.span.end && s.span.end <= src.len());
                text.push_str(&format!("{};\n", s.statement));
            }
            let again = parse(&text).unwrap_or_else(|e| {
                panic!("canonical text does not parse: {}\n{text}", e.render(&text))
            });
            let a: Vec<_> = parsed.iter().map(|s| &s.statement).collect();
            let b: Vec<_> = again.iter().map(|s| &s.statement).collect();
            assert_eq!(a, b, "canonical text parses differently:\n{text}");
        }
        Err(e) => {
            let span = e.0.span;
            assert!(span.start <= span.end && span.end <= src.len());
            assert!(src.is_char_boundary(span.start) && src.is_char_boundary(span.end));
            assert!(!e.render(src).is_empty());
        }
    }
}

/// Streams every statement check runs against.
const STREAMS: &str = "
CREATE STREAM t (ts BIGINT, lang TEXT, text TEXT, tags TEXT[], n DOUBLE, ok BOOLEAN)
  WITH (format = 'json', event_time = 'ts', watermark = '1s');
CREATE STREAM u WITH (format = 'json');
CREATE STREAM c (ts TIMESTAMP, k TEXT, v BIGINT) WITH (format = 'csv', event_time = 'ts');
";

/// Small limits, so that inputs cannot make a check slow by sheer size.
fn fuzz_limits() -> Limits {
    Limits {
        max_queries: 64,
        max_groups_per_state: 10_000,
        max_regex_bytes: 1 << 20,
    }
}

const T_LINES: &str = r#"{"ts":1000,"lang":"en","text":"Hello world #rust","tags":["a","b"],"n":1.5,"ok":true}
{"ts":2500,"lang":"fr","text":"bonjour","tags":[],"n":-3,"ok":false}
{"ts":9000,"lang":null,"text":"x","tags":["a","a"],"n":null}
not json
{"ts":61000,"lang":"en","text":"late enough to close windows","tags":["b"],"n":2e3}
"#;

const U_LINES: &str = r#"{"a":1,"b":"x","c":[1,2,{"d":null}],"e":{"f":1}}
{"a":"1","b":2.5,"c":"zz"}
{}
"#;

const C_LINES: &str = "ts,k,v
2016-11-01T00:00:00Z,a,1
2016-11-01T00:00:01.5+01:00,\"b,\"\"q\"\"\",2
1477958400000,c,x
";

/// Statements against fixed streams, then a few records through whatever was
/// registered: never panics, errors render, counters add up.
pub fn execute_statements(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let mut e = Engine::with_limits(fuzz_limits());
    e.execute(STREAMS).expect("the fixed streams are valid");
    if let Err(err) = e.execute(src) {
        assert!(!err.render(src).is_empty());
    }
    let mut out: Vec<QueryResult> = Vec::new();
    for (stream, lines) in [("t", T_LINES), ("u", U_LINES), ("c", C_LINES)] {
        let mut origin = Origin::new("fuzz");
        let _ = e.push_lines(stream, &mut origin, lines.as_bytes(), 0, &mut out);
    }
    let names: Vec<String> = e.query_names().map(str::to_string).collect();
    for n in &names {
        let _ = e.snapshot(n, &mut out);
    }
    e.flush(&mut out);
    let _ = e.explain(None);
    let _ = e.describe(None);
    for r in &out {
        let json = r.to_json();
        serde_json::from_str::<J>(&json)
            .unwrap_or_else(|e| panic!("result is not JSON: {e}: {json}"));
    }
    check_counters(&e);
}

/// Every record taken in was accepted, rejected or late.
fn check_counters(e: &Engine) {
    for s in e.streams() {
        let st = s.stats();
        assert_eq!(
            st.records_in,
            st.accepted + st.rejected + st.late,
            "stream {}: {st:?}",
            s.def().name
        );
    }
}

/// Field names the decoders are asked for.
fn fields() -> FieldSet {
    FieldSet::new(
        ["a", "b", "ts", "text", "k", "v", ""]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

/// A decoded value against `serde_json`'s, objects compared by re-parsing.
fn same(got: &Value<'_>, want: &J) -> bool {
    match (got, want) {
        (Value::Object(raw), J::Object(_)) => {
            serde_json::from_str::<J>(raw).is_ok_and(|j| &j == want)
        }
        (Value::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(_) | Value::Array(_), _) | (_, J::Object(_) | J::Array(_)) => false,
        (g, w) => {
            let w = Value::from_json(w);
            g == &w && g.type_name() == w.type_name()
        }
    }
}

/// The JSON decoder: one line at a time, accepted exactly when `serde_json`
/// reads an object from it (save for nesting beyond [`decode::MAX_DEPTH`],
/// which the decoder refuses), with the same field values.
pub fn decode_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fields = fields();
    for line in text.split('\n') {
        let mut out = vec![Value::Null; fields.len()];
        let got = decode::decode_json(line, &fields, &mut out);
        let want = serde_json::from_str::<J>(line);
        match (&got, &want) {
            (Ok(()), Ok(J::Object(m))) => {
                for (name, v) in fields.names().iter().zip(&out) {
                    let w = m.get(name).unwrap_or(&J::Null);
                    assert!(
                        same(v, w),
                        "field {name:?}: got {v:?}, serde_json {w:?}\nline {line:?}"
                    );
                }
            }
            (Err(_), Err(_))
            | (Err(DecodeError::NotObject { .. }), Ok(_))
            | (Err(DecodeError::TooDeep { .. }), Ok(_)) => {}
            _ => panic!("decode_json {got:?} but serde_json {want:?}\nline {line:?}"),
        }
        if let Err(e) = got {
            assert!(e.offset() <= line.len(), "{e:?} beyond the line {line:?}");
        }
    }
}

/// The CSV decoder: the first line is the header, the others records.
/// Never panics; a line decodes exactly when its `SELECT *` object builds,
/// with the same values in the mapped columns.
pub fn decode_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let fields = fields();
    let header = match CsvHeader::parse(lines.next().unwrap_or(""), &fields) {
        Ok(h) => h,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut out = vec![Value::Null; fields.len()];
        let got = decode::decode_csv(line, &header, &mut out);
        let obj = decode::csv_row_object(line, &header);
        assert_eq!(
            got.is_ok(),
            obj.is_ok(),
            "line {line:?}: {got:?} vs {obj:?}"
        );
        if let Err(e) = &got {
            assert!(e.offset() <= line.len(), "{e:?} beyond the line {line:?}");
        }
        if let Ok(obj) = obj {
            serde_json::to_string(&obj).expect("the row object serializes");
            for (col, name) in header.names().iter().enumerate() {
                let Some(slot) = header.slot_of_column(col) else {
                    continue;
                };
                let want = obj.get(name).unwrap_or(&J::Null);
                // Repeated header names: the last column wins in the object.
                let last = header.names().iter().rposition(|n| n == name) == Some(col);
                if last && header.names().iter().filter(|n| *n == name).count() == 1 {
                    assert!(
                        same(&out[slot], want),
                        "column {name:?}: {:?} vs {want:?}\nline {line:?}",
                        out[slot]
                    );
                }
            }
        }
    }
}

/// Queries every ingested record goes through: filters, aggregates,
/// windows, patterns, arrays, DISTINCT, HAVING, ORDER BY, LIMIT.
const QUERIES: &str = "
CREATE QUERY f1 AS SELECT * FROM t WHERE text CONTAINS 'rust' OR lang IN ('en', 'fr');
CREATE QUERY f2 AS SELECT ts, text FROM t WHERE text MATCHES '^[A-Z][a-z]+ w' AND n > 1;
CREATE QUERY f3 AS SELECT * FROM u WHERE a = 1 OR b IS NULL;
CREATE QUERY a1 AS SELECT lang, count(*) AS n, avg(n) AS m, min(text) AS lo, max(n) AS hi
  FROM t GROUP BY lang WINDOW TUMBLING 10s;
CREATE QUERY a2 AS SELECT tags, count(DISTINCT lang) AS langs FROM t WHERE NOT ok
  GROUP BY tags WINDOW SLIDING 20s EVERY 5s;
CREATE QUERY a3 AS SELECT count(*) AS n, sum(n) AS s FROM t WHERE tags CONTAINS 'a';
CREATE QUERY a4 AS SELECT b, count(*) AS n FROM u GROUP BY b HAVING count(*) > 1 ORDER BY n DESC LIMIT 3;
CREATE QUERY c1 AS SELECT k, sum(v) AS s, count(*) AS n FROM c GROUP BY k WINDOW TUMBLING 1h;
CREATE QUERY c2 AS SELECT * FROM c WHERE v >= 2;
";

/// Records through registered queries: the first byte picks the stream
/// and how the rest is cut into batches; never panics, counters add up,
/// results are JSON.
pub fn ingest(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut e = Engine::with_limits(fuzz_limits());
    e.execute(STREAMS).expect("the fixed streams are valid");
    e.execute(QUERIES).expect("the fixed queries are valid");
    let stream = ["t", "u", "c"][usize::from(first % 3)];
    let cuts = usize::from(first / 3 % 4) + 1;
    let mut origin = Origin::new("fuzz");
    let mut out: Vec<QueryResult> = Vec::new();
    // Batches end at line boundaries, as sources deliver them.
    let mut start = 0;
    for i in 1..=cuts {
        let want = rest.len() * i / cuts;
        let end = if i == cuts {
            rest.len()
        } else {
            match rest[want..].iter().position(|b| *b == b'\n') {
                Some(p) => want + p + 1,
                None => rest.len(),
            }
        };
        if end > start {
            e.push_lines(stream, &mut origin, &rest[start..end], 0, &mut out)
                .expect("the stream exists");
            let names: Vec<String> = e.query_names().map(str::to_string).collect();
            for n in &names {
                let _ = e.snapshot(n, &mut out);
            }
        }
        start = end.max(start);
    }
    e.flush(&mut out);
    for r in &out {
        let json = r.to_json();
        serde_json::from_str::<J>(&json)
            .unwrap_or_else(|e| panic!("result is not JSON: {e}: {json}"));
    }
    check_counters(&e);
}

/// Log-format streams the `decode_logs` check reads, each with the fields a
/// narrow query selects (some captures, header fields, ascp groups).
const LOG_STREAMS: [(&str, &str, &str); 3] = [
    (
        "r",
        r#"CREATE STREAM r WITH (format = 'regex',
             pattern_access = '^(?P<ip>\S+) \S+ \S+ \[(?P<when>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) [^\]]*\] "(?P<verb>[A-Z]+) (?P<path>\S*)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-)',
             pattern_hdfs = '(?P<ts>(?P<date>\d{6}) (?P<time>\d{6})) (?P<pid>\d+) (?P<level>\w+) (?P<component>[^:]+): +(?P<content>.*?)\s*$',
             pattern_kv = '^(?P<key>\w+)=(?P<val>.*)$',
             types = 'when:timestamp(%d/%b/%Y:%H:%M:%S),status:int,ts:timestamp(%y%m%d %H%M%S),pid:int');"#,
        "kind, verb, status, level, pid, val",
    ),
    (
        "y",
        "CREATE STREAM y WITH (format = 'syslog', year = '2015');",
        "host, pid, message",
    ),
    (
        "a",
        "CREATE STREAM a WITH (format = 'ascp', year = '2016');",
        "kind, role, pid, rate_t, prog_f, rex_rtt_s, message",
    ),
];

/// The regex, syslog and ascp decoders: the first byte picks the stream,
/// the rest are its lines. Never panics; counters add up; results are JSON;
/// and decoding only the fields a narrow query reads gives the same values
/// as decoding whole rows (`SELECT *`): the narrow query's rows contain, in
/// order, the projection of every whole row (it may accept more lines, as
/// only the fields a query reads are converted to their types).
pub fn decode_logs(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let which = usize::from(first) % LOG_STREAMS.len();
    let (name, create, narrow) = LOG_STREAMS[which];
    thread_local! {
        // Compiling a stream's patterns costs far more than decoding a few
        // lines, so each (stream, query) engine is built once per thread.
        // A filter query keeps no state from one input to the next but its
        // counters, which are compared as differences.
        static ENGINES: std::cell::RefCell<std::collections::HashMap<(usize, bool), Engine>> =
            Default::default();
    }
    let run = |select: &str| -> (Vec<J>, u64) {
        ENGINES.with(|engines| {
            let mut engines = engines.borrow_mut();
            let e = engines.entry((which, select == "*")).or_insert_with(|| {
                let mut e = Engine::with_limits(fuzz_limits());
                e.execute(create).expect("the fixed stream is valid");
                e.execute(&format!("CREATE QUERY q AS SELECT {select} FROM {name};"))
                    .expect("the fixed query is valid");
                e
            });
            let rejected_before = e.stream(name).expect("the stream exists").stats().rejected;
            let mut out: Vec<QueryResult> = Vec::new();
            e.push_lines(name, &mut Origin::new("fuzz"), rest, 0, &mut out)
                .expect("the stream exists");
            e.flush(&mut out);
            check_counters(e);
            let rows = out
                .iter()
                .map(|r| {
                    let json = r.to_json();
                    let v: J = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("result is not JSON: {e}: {json}"));
                    v["row"].clone()
                })
                .collect();
            let rejected = e.stream(name).expect("the stream exists").stats().rejected;
            (rows, rejected - rejected_before)
        })
    };
    let (whole, whole_rejected) = run("*");
    let (narrow_rows, narrow_rejected) = run(narrow);
    assert!(narrow_rejected <= whole_rejected);
    let fields: Vec<&str> = narrow.split(", ").collect();
    let mut rows = narrow_rows.iter();
    for w in &whole {
        let want: serde_json::Map<String, J> = fields
            .iter()
            .map(|f| (f.to_string(), w.get(*f).cloned().unwrap_or(J::Null)))
            .collect();
        let want = J::Object(want);
        assert!(
            rows.any(|r| *r == want),
            "whole row {w} has no narrow row {want} in order"
        );
    }
}
