//! JSON text of results: strings escaped as `serde_json` escapes them
//! (`push_str`), over the texts and user names of generated tweets.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shoal::exec::json_text::push_str;

mod common;

fn bench_push_str(c: &mut Criterion) {
    let (texts, users) = (
        common::tweet_strings(10_000, "text"),
        common::tweet_strings(10_000, "user"),
    );
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
