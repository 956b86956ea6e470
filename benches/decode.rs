//! Decoding throughput on realistic tweet lines (JSON and CSV) and log lines
//! (generated ascp logs; loghub's HDFS and Linux samples for regex and syslog).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shoal::exec::decode::regex::{parse_types, RegexSpec};
use shoal::exec::decode::{
    decode_csv, decode_json, CsvHeader, FieldSet, LogDecoder, LogFormat, LogSpec, YearRule,
};
use shoal::gen::{AscpConfig, AscpGenerator};
use shoal::value::Value;

const LANGS: [&str; 4] = ["en", "es", "fr", "de"];
const COUNTRIES: [&str; 4] = ["US", "GB", "FR", "DE"];
const TEXTS: [&str; 4] = [
    "Hillary and Bernie debate tonight about the economy #election",
    "Polls close at 8pm, don't forget to vote! \\\"Every vote counts\\\" #election",
    "Watching the returns come in with friends #debate #election",
    "Caf\\u00e9 talk: who won the debate? \u{1f914} #debate",
];

/// A batch of tweet lines, varied like real data (ids, users, escapes).
fn tweets(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"ts":{},"id":{},"user":"user_{}","lang":"{}","country":"{}","text":"{}","hashtags":["election","debate"],"retweets":{},"followers":{}}}"#,
                1_700_000_000_123u64 + i as u64 * 37,
                123_456_789 + i * 7919,
                (i * 4821) % 10_000,
                LANGS[i % 4],
                COUNTRIES[(i / 4) % 4],
                TEXTS[(i / 16) % 4],
                i % 50,
                (i * 97) % 100_000
            )
        })
        .collect()
}

fn bench_json(c: &mut Criterion) {
    let lines = tweets(1000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(bytes as u64));
    for names in [
        vec!["ts", "lang"],
        vec!["ts", "user", "lang", "country", "hashtags"],
    ] {
        let fields = FieldSet::new(names.iter().map(|s| s.to_string()).collect());
        let mut out = vec![Value::Null; fields.len()];
        g.bench_function(format!("{}_fields_x1000", names.len()), |b| {
            b.iter(|| {
                for l in &lines {
                    out.iter_mut().for_each(|v| *v = Value::Null);
                    decode_json(black_box(l), &fields, &mut out).unwrap();
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

fn bench_csv(c: &mut Criterion) {
    let lines: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{},{},user_{},{},{},"{}",{},{}"#,
                1_700_000_000_123u64 + i as u64 * 37,
                123_456_789 + i * 7919,
                (i * 4821) % 10_000,
                LANGS[i % 4],
                COUNTRIES[(i / 4) % 4],
                TEXTS[(i / 16) % 4].replace('"', "\"\""),
                i % 50,
                (i * 97) % 100_000
            )
        })
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let fields = FieldSet::new(
        ["ts", "user", "lang", "country", "retweets"]
            .map(String::from)
            .to_vec(),
    );
    let header =
        CsvHeader::parse("ts,id,user,lang,country,text,retweets,followers", &fields).unwrap();
    let mut out = vec![Value::Null; fields.len()];
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("5_fields_x1000", |b| {
        b.iter(|| {
            for l in &lines {
                out.iter_mut().for_each(|v| *v = Value::Null);
                decode_csv(black_box(l), &header, &mut out).unwrap();
                black_box(&out);
            }
        })
    });
    g.finish();
}

/// Runs a log decoder over `lines` for each field list.
fn bench_log(
    c: &mut Criterion,
    group: &str,
    spec: &LogSpec,
    lines: &[String],
    field_lists: &[&[&str]],
) {
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes as u64));
    for names in field_lists {
        let fields = FieldSet::new(names.iter().map(|s| s.to_string()).collect());
        let d = LogDecoder::new(spec, &fields, false).unwrap();
        let years = d.years(0);
        let mut scratch = d.scratch();
        let mut out = vec![Value::Null; fields.len()];
        g.bench_function(format!("{}_fields_x{}", names.len(), lines.len()), |b| {
            b.iter(|| {
                for l in lines {
                    out.iter_mut().for_each(|v| *v = Value::Null);
                    d.decode(black_box(l), &years, &mut scratch, &mut out)
                        .unwrap();
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

fn bench_ascp(c: &mut Criterion) {
    let mut gen = AscpGenerator::new(&AscpConfig::default());
    let mut buf = String::new();
    for _ in 0..1000 {
        gen.next_line(&mut buf);
    }
    let lines: Vec<String> = buf.lines().map(String::from).collect();
    let spec = LogSpec {
        format: LogFormat::Ascp,
        year: YearRule::Fixed(2024),
    };
    bench_log(
        c,
        "ascp",
        &spec,
        &lines,
        &[
            &["kind", "host", "pid"],
            &["kind", "host", "pid", "rate_c"],
            &[
                "kind",
                "host",
                "pid",
                "timestamp",
                "rate_c",
                "rex_rtt_s",
                "prog_t",
                "bl_r",
                "role",
                "status",
            ],
        ],
    );
}

/// The first 1,000 lines of a loghub sample in `examples/formats/data`.
fn loghub(system: &str) -> Vec<String> {
    let path = format!("examples/formats/data/{system}/{system}_2k.log");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .take(1000)
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

fn bench_regex_and_syslog(c: &mut Criterion) {
    let hdfs = RegexSpec::new(
        vec![(
            "default".into(),
            r"(?P<ts>(?P<date>\d{6}) (?P<time>\d{6})) (?P<pid>\d+) (?P<level>\w+) (?P<component>[^:]+): +(?P<content>.*?)\s*$".into(),
        )],
        parse_types("ts:timestamp(%y%m%d %H%M%S),pid:int").unwrap(),
        None,
    )
    .unwrap();
    let spec = LogSpec {
        format: LogFormat::Regex(hdfs),
        year: YearRule::Recent,
    };
    bench_log(
        c,
        "regex_hdfs",
        &spec,
        &loghub("HDFS"),
        &[
            &["kind"],
            &["level", "component"],
            &["ts", "pid", "level", "component", "content"],
        ],
    );
    let spec = LogSpec {
        format: LogFormat::Syslog,
        year: YearRule::Fixed(2005),
    };
    bench_log(
        c,
        "syslog_linux",
        &spec,
        &loghub("Linux"),
        &[
            &["program"],
            &["timestamp", "host", "program", "pid", "message"],
        ],
    );
}

criterion_group!(
    benches,
    bench_json,
    bench_csv,
    bench_ascp,
    bench_regex_and_syslog
);
criterion_main!(benches);
