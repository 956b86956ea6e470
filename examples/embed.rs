//! Embedding Shoal as a library: declare a stream, register queries, push
//! batches of records in, and collect results.

use shoal::exec::{Engine, Origin, QueryResult};

fn main() {
    let mut engine = Engine::new();
    engine
        .execute(
            "CREATE STREAM readings (ts BIGINT, sensor TEXT, temp DOUBLE)
               WITH (format = 'json', event_time = 'ts', watermark = '1s');
             CREATE QUERY hot AS
               SELECT sensor, count(*) AS n, max(temp) AS max_temp
               FROM readings WHERE temp > 30.0
               GROUP BY sensor WINDOW TUMBLING 10s;
             CREATE QUERY alarms AS SELECT sensor, temp FROM readings WHERE temp >= 45.0;",
        )
        .unwrap_or_else(|e| panic!("{e}"));

    let mut results: Vec<QueryResult> = Vec::new();
    let mut origin = Origin::new("example");
    // Two batches; the second moves the watermark past the first window.
    let batch1 = br#"{"ts": 1000, "sensor": "a", "temp": 31.5}
{"ts": 2000, "sensor": "b", "temp": 46.0}
{"ts": 3500, "sensor": "a", "temp": 33.0}
"#;
    let batch2 = br#"{"ts": 12000, "sensor": "a", "temp": 20.0}
"#;
    for batch in [&batch1[..], &batch2[..]] {
        engine
            .push_lines("readings", &mut origin, batch, 0, &mut results)
            .expect("stream exists");
    }
    engine.flush(&mut results);
    for r in &results {
        println!("{}", r.to_json());
    }
}
