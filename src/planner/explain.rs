//! `EXPLAIN`: the shared plan of a stream as text, showing what is shared:
//! fields decoded, predicates with the queries that use them, hash lookups and
//! pattern automata with their sizes, group keys, aggregation states.

use super::graph::{Node, NodeId};
use super::plan::{StateDesc, StateId, StreamPlan};
use super::query::{Projection, QueryKind, QuerySpec};
use crate::parser::ast::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Arc;

fn dur(ms: i64) -> String {
    Duration {
        ms,
        span: Default::default(),
    }
    .to_string()
}

/// Renders the plan of one stream.
pub fn explain(
    plan: &StreamPlan,
    states: &BTreeMap<StateId, StateDesc>,
    queries: &BTreeMap<Arc<str>, QuerySpec>,
) -> String {
    let g = &plan.graph;
    let s = &plan.stream;
    let mut out = String::new();
    let fmt = s.format.name();
    let time = match &s.event_time {
        Some(f) => format!("event time `{f}`, watermark {}", dur(s.watermark_ms)),
        None => "arrival time".to_string(),
    };
    let _ = writeln!(
        out,
        "stream {} ({fmt}, {time}): {} queries",
        s.name,
        queries.len()
    );
    let _ = writeln!(
        out,
        "  scan: each line decoded once, extracting {} field(s): {}{}",
        plan.fields.len(),
        plan.fields.join(", "),
        if plan.needs_raw {
            " (and the whole record for SELECT *)"
        } else {
            ""
        }
    );
    let users = node_users(plan);
    let (eq, scan, single) = g.atom_counts();
    let _ = writeln!(
        out,
        "  predicates: {} distinct node(s), each evaluated once per record ({eq} by hash lookup, {scan} by pattern scan, {single} alone)",
        g.nodes.len()
    );
    for (id, node) in g.nodes.iter().enumerate() {
        let text = node_text(node);
        let u = &users[id];
        let _ = writeln!(
            out,
            "    n{id:<3} {text}   [{} quer{}: {}]",
            u.len(),
            if u.len() == 1 { "y" } else { "ies" },
            abbreviate(u)
        );
    }
    for idx in &g.eq_indexes {
        let _ = writeln!(
            out,
            "  hash lookup on `{}`: {} value(s) answer {} predicate(s)",
            plan.fields[idx.slot],
            idx.map.len(),
            idx.atoms.len()
        );
    }
    for sc in &g.scanners {
        let f = &plan.fields[sc.slot];
        if !sc.literals.is_empty() {
            let _ = writeln!(
                out,
                "  pattern scan on `{f}`: aho-corasick over {} literal(s) (ASCII case-insensitive; element lookup on arrays)",
                sc.literals.len()
            );
        }
        if !sc.regexes.is_empty() {
            let filter = if sc.regexes_prefiltered() {
                format!(
                    ", only on texts where aho-corasick finds one of {} literal(s) they need",
                    sc.prefilters.len()
                )
            } else {
                ", on every text (some pattern needs no literal)".to_string()
            };
            let _ = writeln!(
                out,
                "  pattern scan on `{f}`: one regex-automata search over {} pattern(s){filter}",
                sc.regexes.len()
            );
        }
    }
    let _ = writeln!(
        out,
        "  group keys: {} distinct list(s), each computed once per record",
        plan.key_lists.len()
    );
    for keys in &plan.key_lists {
        let names: Vec<&str> = keys.iter().map(|s| plan.fields[*s].as_str()).collect();
        let _ = writeln!(out, "    [{}]", names.join(", "));
    }
    let _ = writeln!(out, "  aggregation states: {}", plan.states.len());
    for ps in &plan.states {
        let d = &states[&ps.id];
        let accs: Vec<String> = d.accs.iter().map(|a| a.to_string()).collect();
        let span = match d.pane_ms {
            Some(p) => format!("panes of {}", dur(p)),
            None => "running totals".to_string(),
        };
        let _ = writeln!(
            out,
            "    s{} filter n{} group by [{}], {span}, accumulators [{}]",
            ps.id,
            ps.filter,
            d.keys.join(", "),
            accs.join(", ")
        );
        for q in &d.queries {
            let w = queries
                .get(q)
                .and_then(|q| q.aggregate())
                .and_then(|a| a.window)
                .map(|w| {
                    if w.size_ms == w.slide_ms {
                        format!("TUMBLING {}", dur(w.size_ms))
                    } else {
                        format!("SLIDING {} EVERY {}", dur(w.size_ms), dur(w.slide_ms))
                    }
                })
                .unwrap_or_else(|| "running".to_string());
            let _ = writeln!(out, "      {q}: {w}");
        }
    }
    let filters: Vec<&QuerySpec> = queries
        .values()
        .filter(|q| matches!(q.kind, QueryKind::Filter(_)))
        .collect();
    let _ = writeln!(out, "  filter queries: {}", filters.len());
    for f in plan.filters.iter() {
        let proj = match queries.get(&f.query).map(|q| &q.kind) {
            Some(QueryKind::Filter(Projection::Star)) => "*".to_string(),
            Some(QueryKind::Filter(Projection::Fields(fs))) => fs
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let _ = writeln!(out, "    {} filter n{} emits {proj}", f.query, f.filter);
    }
    out
}

/// Every query that depends on each predicate node, directly or through a
/// parent, indexed by node id.
pub fn node_users(plan: &StreamPlan) -> Vec<BTreeSet<Arc<str>>> {
    let g = &plan.graph;
    let mut users: Vec<BTreeSet<Arc<str>>> = vec![BTreeSet::new(); g.nodes.len()];
    for (node, qs) in &plan.users {
        users[*node as usize].extend(qs.iter().cloned());
    }
    for id in (0..g.nodes.len()).rev() {
        let children: Vec<NodeId> = match &g.nodes[id] {
            Node::And(cs) | Node::Or(cs) => cs.clone(),
            Node::Not(c) => vec![*c],
            _ => vec![],
        };
        let mine = users[id].clone();
        for c in children {
            users[c as usize].extend(mine.iter().cloned());
        }
    }
    users
}

/// The text of one predicate node (`n3 AND n5`, `lang IN ('en')`).
pub fn node_text(node: &Node) -> String {
    match node {
        Node::Const(t) => format!("{t:?}").to_uppercase(),
        Node::Atom(a) => a.to_string(),
        Node::And(cs) => join_nodes(cs, " AND "),
        Node::Or(cs) => join_nodes(cs, " OR "),
        Node::Not(c) => format!("NOT n{c}"),
    }
}

fn join_nodes(cs: &[NodeId], sep: &str) -> String {
    cs.iter()
        .map(|c| format!("n{c}"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn abbreviate(names: &BTreeSet<Arc<str>>) -> String {
    const SHOW: usize = 8;
    let mut v: Vec<&str> = names.iter().take(SHOW).map(|s| s.as_ref()).collect();
    if names.len() > SHOW {
        v.push("…");
    }
    v.join(", ")
}
