//! The shared plan of a stream as data (for the HTTP API and the web page):
//! the same facts `EXPLAIN` prints, with every shared piece naming the
//! queries it serves.

use super::explain::{node_text, node_users};
use super::graph::Node;
use super::plan::{StateDesc, StateId, StreamPlan};
use super::query::QuerySpec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A stream's shared plan.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlanDescription {
    /// The stream.
    pub stream: String,
    /// Fields decoded from each record.
    pub fields: Vec<String>,
    /// Distinct predicate nodes, each evaluated once per record.
    pub predicates: Vec<PredicateNode>,
    /// `=`/`IN` atoms answered together by one hash lookup per field.
    pub hash_lookups: Vec<HashLookup>,
    /// `CONTAINS`/`MATCHES` atoms answered by one scan per field.
    pub pattern_scans: Vec<PatternScan>,
    /// Aggregation states, each shared by the queries listed.
    pub states: Vec<StateNode>,
    /// Filter queries and the predicate each emits on.
    pub filters: Vec<FilterNode>,
}

/// One predicate node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PredicateNode {
    /// Node id (`n3` in `EXPLAIN`).
    pub id: usize,
    /// What it tests.
    pub text: String,
    /// `atom`, `and`, `or`, `not` or `const`.
    pub kind: &'static str,
    /// Child node ids.
    pub children: Vec<usize>,
    /// Queries that depend on it.
    pub queries: Vec<Arc<str>>,
}

/// One hash lookup.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HashLookup {
    /// The field.
    pub field: String,
    /// Distinct literal values.
    pub values: usize,
    /// Predicate nodes it answers.
    pub nodes: Vec<usize>,
}

/// One multi-pattern scan of a field.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PatternScan {
    /// The field.
    pub field: String,
    /// `aho-corasick` literals (for `CONTAINS`).
    pub literals: usize,
    /// `regex-automata` patterns (for `MATCHES`).
    pub regexes: usize,
    /// Literals the patterns need, found by the same automaton scan; the
    /// regex search runs only on texts with one of them (0: on every text).
    pub prefilters: usize,
    /// Predicate nodes it answers.
    pub nodes: Vec<usize>,
}

/// One aggregation state.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StateNode {
    /// State id (`s2` in `EXPLAIN`).
    pub id: StateId,
    /// Predicate node filtering its records.
    pub filter: usize,
    /// Group-by fields.
    pub keys: Vec<String>,
    /// Pane length in milliseconds; `None` for running totals.
    pub pane_ms: Option<i64>,
    /// Accumulators kept per group.
    pub accumulators: Vec<String>,
    /// Queries reading it.
    pub queries: Vec<Arc<str>>,
}

/// One filter query.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FilterNode {
    /// The query.
    pub query: Arc<str>,
    /// Predicate node it emits on.
    pub filter: usize,
}

/// Describes one stream's plan.
pub fn describe(
    plan: &StreamPlan,
    states: &BTreeMap<StateId, StateDesc>,
    _queries: &BTreeMap<Arc<str>, QuerySpec>,
) -> PlanDescription {
    let g = &plan.graph;
    let users = node_users(plan);
    let predicates = g
        .nodes
        .iter()
        .enumerate()
        .map(|(id, node)| {
            let (kind, children) = match node {
                Node::Const(_) => ("const", vec![]),
                Node::Atom(_) => ("atom", vec![]),
                Node::And(cs) => ("and", cs.iter().map(|c| *c as usize).collect()),
                Node::Or(cs) => ("or", cs.iter().map(|c| *c as usize).collect()),
                Node::Not(c) => ("not", vec![*c as usize]),
            };
            PredicateNode {
                id,
                text: node_text(node),
                kind,
                children,
                queries: users[id].iter().cloned().collect(),
            }
        })
        .collect();
    PlanDescription {
        stream: plan.stream.name.clone(),
        fields: plan.fields.clone(),
        predicates,
        hash_lookups: g
            .eq_indexes
            .iter()
            .map(|idx| HashLookup {
                field: plan.fields[idx.slot].clone(),
                values: idx.map.len(),
                nodes: idx.atoms.iter().map(|a| a.node as usize).collect(),
            })
            .collect(),
        pattern_scans: g
            .scanners
            .iter()
            .map(|sc| PatternScan {
                field: plan.fields[sc.slot].clone(),
                literals: sc.literals.len(),
                regexes: sc.regexes.len(),
                prefilters: sc.prefilters.len(),
                nodes: sc.nodes.iter().map(|n| *n as usize).collect(),
            })
            .collect(),
        states: plan
            .states
            .iter()
            .map(|ps| {
                let d = &states[&ps.id];
                StateNode {
                    id: ps.id,
                    filter: ps.filter as usize,
                    keys: d.keys.clone(),
                    pane_ms: d.pane_ms,
                    accumulators: d.accs.iter().map(|a| a.to_string()).collect(),
                    queries: d.queries.iter().cloned().collect(),
                }
            })
            .collect(),
        filters: plan
            .filters
            .iter()
            .map(|f| FilterNode {
                query: f.query.clone(),
                filter: f.filter as usize,
            })
            .collect(),
    }
}
