//! Registration cost: adding one query to an engine that already has 1,000
//! (generated, overlapping) queries registered. Each measured iteration adds
//! one query; it is dropped again outside the timed part.

use criterion::{criterion_group, criterion_main, Criterion};
use shoal::exec::Engine;
use shoal::gen::{generate_queries, QueryConfig};
use std::time::{Duration, Instant};

fn engine_with(n: usize) -> (Engine, Vec<String>) {
    let sql = generate_queries(&QueryConfig {
        count: n + 50,
        seed: 7,
        stream: "tweets".into(),
        source_dir: "unused".into(),
    });
    let stmts = shoal::parser::parse_statements(&sql).expect("generated SQL parses");
    let mut e = Engine::new();
    let mut extra = Vec::new();
    let mut queries = 0;
    for s in &stmts {
        let text = &sql[s.span.start..s.span.end];
        if matches!(s.statement, shoal::parser::Statement::CreateQuery(_)) {
            queries += 1;
            if queries > n {
                extra.push(text.replace("CREATE QUERY q", "CREATE QUERY extra_q"));
                continue;
            }
        }
        e.execute(text).expect("generated statement runs");
    }
    (e, extra)
}

fn register(c: &mut Criterion) {
    for n in [100usize, 1000] {
        let (mut engine, extra) = engine_with(n);
        c.bench_function(&format!("add one query with {n} registered"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let sql = &extra[i as usize % extra.len()];
                    let t = Instant::now();
                    let out = engine.execute(sql).expect("query registers");
                    total += t.elapsed();
                    if let Some(shoal::exec::Outcome::QueryCreated { name, .. }) = out.first() {
                        engine.drop_query(name).expect("query drops");
                    }
                }
                total
            })
        });
    }
}

criterion_group!(benches, register);
criterion_main!(benches);
