//! The `CONTAINS` scan of tweet texts with the literals of 1,000 generated
//! queries: texts of a run of 64 records scanned together (what the
//! engine runs), against each text alone in up to four, two and one walks
//! at once, measured in the same run.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shoal::exec::Engine;
use shoal::gen::{generate_queries, QueryConfig};

mod common;

fn bench_scan(c: &mut Criterion) {
    let sql = generate_queries(&QueryConfig {
        count: 1000,
        ..QueryConfig::default()
    });
    let mut engine = Engine::new();
    engine.execute(&sql).expect("generated queries register");
    let plan = engine.stream("tweets").expect("the stream exists").plan();
    let text_slot = plan
        .fields
        .iter()
        .position(|f| f == "text")
        .expect("queries read the text");
    let scanner = plan
        .graph
        .scanners
        .iter()
        .find(|s| s.slot == text_slot)
        .expect("the text field has a scanner");
    let automaton = scanner
        .literal_automaton
        .as_ref()
        .expect("the text scanner has literals");
    let texts = common::tweet_strings(10_000, "text");
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut g = c.benchmark_group(format!(
        "contains_{}_literals",
        scanner.literals.len() + scanner.prefilters.len()
    ));
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, walks) in [("four_walks", 4), ("two_walks", 2), ("one_walk", 1)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for t in &texts {
                    let text = black_box(t.as_bytes());
                    automaton.for_each_match_in_walks(text, walks, |p| hits += p);
                }
                hits
            })
        });
    }
    // What the engine runs on a run of records: their texts together.
    let runs: Vec<Vec<&[u8]>> = texts
        .chunks(64)
        .map(|run| run.iter().map(|t| t.as_bytes()).collect())
        .collect();
    g.bench_function("runs_of_64_together", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for run in &runs {
                automaton.for_each_match_in_texts(black_box(run), |i, p| hits += i + p);
            }
            hits
        })
    });
    g.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
