//! `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! Everything is read from the hub at scrape time, on its thread, so the
//! numbers of one scrape are consistent with each other; the only state kept
//! for metrics is the batch-latency [`Histogram`].

use super::hub::Hub;
use std::fmt::Write;

/// Upper bounds of the batch-latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A cumulative histogram with fixed buckets.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        for (b, c) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    /// Observations made.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The whole exposition.
pub fn render(hub: &Hub) -> String {
    let mut out = String::new();
    let streams: Vec<_> = hub.engine.streams().collect();
    type Get = fn(&crate::exec::StreamStats) -> u64;
    let per_stream: [(&str, &str, Get); 5] = [
        ("shoal_records_in_total", "Records read per stream.", |s| {
            s.records_in
        }),
        (
            "shoal_records_accepted_total",
            "Records accepted per stream.",
            |s| s.accepted,
        ),
        (
            "shoal_records_rejected_total",
            "Records rejected per stream (malformed, too long, wrong type).",
            |s| s.rejected,
        ),
        (
            "shoal_records_late_total",
            "Records older than the watermark, dropped, per stream.",
            |s| s.late,
        ),
        (
            "shoal_results_out_total",
            "Results produced per stream.",
            |s| s.results_out,
        ),
    ];
    for (name, help, get) in per_stream {
        family(&mut out, name, "counter", help);
        for s in &streams {
            let _ = writeln!(
                out,
                "{name}{{stream=\"{}\"}} {}",
                label(&s.def().name),
                get(s.stats())
            );
        }
    }
    family(
        &mut out,
        "shoal_state_groups",
        "gauge",
        "Groups held in aggregation state per stream.",
    );
    for s in &streams {
        let _ = writeln!(
            out,
            "shoal_state_groups{{stream=\"{}\"}} {}",
            label(&s.def().name),
            s.state_groups()
        );
    }
    family(
        &mut out,
        "shoal_query_results_out_total",
        "counter",
        "Results produced per query.",
    );
    let mut names: Vec<_> = hub.counters.iter().collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    for (q, c) in &names {
        let _ = writeln!(
            out,
            "shoal_query_results_out_total{{query=\"{}\"}} {}",
            label(q),
            c.results_out
        );
    }
    family(
        &mut out,
        "shoal_query_groups_dropped_total",
        "counter",
        "Updates dropped because the query's aggregation state held its group limit.",
    );
    let mut in_error = 0;
    for s in &streams {
        for q in s.queries() {
            let dropped = s.groups_dropped(&q.name);
            in_error += usize::from(dropped > 0);
            let _ = writeln!(
                out,
                "shoal_query_groups_dropped_total{{query=\"{}\"}} {dropped}",
                label(&q.name)
            );
        }
    }
    family(
        &mut out,
        "shoal_queries_in_error",
        "gauge",
        "Queries whose status is an error (results incomplete).",
    );
    let _ = writeln!(out, "shoal_queries_in_error {in_error}");
    family(&mut out, "shoal_queries", "gauge", "Registered queries.");
    let _ = writeln!(out, "shoal_queries {}", hub.engine.query_names().count());
    family(&mut out, "shoal_streams", "gauge", "Declared streams.");
    let _ = writeln!(out, "shoal_streams {}", streams.len());
    family(
        &mut out,
        "shoal_subscribers",
        "gauge",
        "Live result subscriptions.",
    );
    let _ = writeln!(out, "shoal_subscribers {}", hub.feeds.subscriber_count());
    hub.batch_seconds.render(
        "shoal_batch_seconds",
        "Time to process one batch of records.",
        &mut out,
    );
    if let Some(stats) = hub.store_stats() {
        render_store(stats, &mut out);
    }
    family(
        &mut out,
        "shoal_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(
        out,
        "shoal_uptime_seconds {:.3}",
        hub.started.elapsed().as_secs_f64()
    );
    out
}

/// The store writer's counters.
fn render_store(st: &crate::store::StoreStats, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    let rows: [(&str, &str, &str, u64); 7] = [
        (
            "shoal_store_results_written_total",
            "counter",
            "Final window results stored.",
            st.results_written.load(Relaxed),
        ),
        (
            "shoal_store_results_duplicate_total",
            "counter",
            "Final results emitted again (after a restart) with the values already stored.",
            st.results_duplicate.load(Relaxed),
        ),
        (
            "shoal_store_results_conflicting_total",
            "counter",
            "Final results emitted again with other values than stored (should stay 0).",
            st.results_conflicting.load(Relaxed),
        ),
        (
            "shoal_store_checkpoints_total",
            "counter",
            "Checkpoints committed.",
            st.checkpoints.load(Relaxed),
        ),
        (
            "shoal_store_checkpoint_bytes",
            "gauge",
            "Size of the last checkpoint's engine state (JSON bytes).",
            st.last_checkpoint_bytes.load(Relaxed),
        ),
        (
            "shoal_store_commits_total",
            "counter",
            "Store transactions committed.",
            st.commits.load(Relaxed),
        ),
        (
            "shoal_store_errors_total",
            "counter",
            "Store transactions that failed.",
            st.errors.load(Relaxed),
        ),
    ];
    for (name, kind, help, v) in rows {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
    family(
        out,
        "shoal_store_last_checkpoint_ms",
        "gauge",
        "When the last committed checkpoint was taken (epoch ms; 0: none yet).",
    );
    let _ = writeln!(
        out,
        "shoal_store_last_checkpoint_ms {}",
        st.last_checkpoint_ms.load(Relaxed)
    );
    family(
        out,
        "shoal_store_write_seconds_total",
        "counter",
        "Time the store writer spent writing.",
    );
    let _ = writeln!(
        out,
        "shoal_store_write_seconds_total {:.6}",
        st.write_micros.load(Relaxed) as f64 / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.0002);
        h.observe(0.003);
        h.observe(5.0);
        let mut out = String::new();
        h.render("x", "help", &mut out);
        assert!(out.contains("x_bucket{le=\"0.00025\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
