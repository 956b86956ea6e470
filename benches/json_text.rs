//! JSON text of results: strings escaped as `serde_json` escapes them
//! (`push_str`), over the texts and user names of generated tweets, and
//! whole aggregate result lines.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shoal::exec::json_text::push_str;
use shoal::gen::{TweetConfig, TweetGenerator};

/// The texts and user names of `n` generated tweets.
fn strings(n: u64) -> (Vec<String>, Vec<String>) {
    let mut generator = TweetGenerator::new(&TweetConfig {
        records: n,
        ..TweetConfig::default()
    });
    let mut line = String::new();
    (0..n)
        .map(|_| {
            line.clear();
            generator.next_line(&mut line);
            let v: serde_json::Value = serde_json::from_str(&line).expect("a tweet is JSON");
            let text = v["text"].as_str().expect("a tweet has a text");
            let user = v["user"].as_str().expect("a tweet has a user");
            (text.to_string(), user.to_string())
        })
        .unzip()
}

fn bench_push_str(c: &mut Criterion) {
    let (texts, users) = strings(10_000);
    for (name, strings) in [("texts", &texts), ("users", &users)] {
        let bytes: usize = strings.iter().map(String::len).sum();
        let mut g = c.benchmark_group(format!("push_str_{name}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        let mut out = Vec::with_capacity(2 * bytes);
        g.bench_function("escape", |b| {
            b.iter(|| {
                out.clear();
                for s in strings {
                    push_str(&mut out, black_box(s));
                }
                black_box(out.len())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_push_str);
criterion_main!(benches);
