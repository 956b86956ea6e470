//! The shared plan of one stream, and the rule for sharing aggregation state.
//!
//! Queries with the same filter and group keys share one aggregation state.
//! A windowed state keeps *panes*: each record updates exactly one pane, and
//! every query's windows, sliding or tumbling, are merged from panes. A query
//! joins an existing state when its window is a whole number of the state's
//! panes (pane = gcd of size and slide); otherwise it gets a state of its own,
//! so existing states are never re-cut. Running totals (no window) share a
//! state only with queries registered before any record reached it, since a
//! later query must not see earlier records.

use super::catalog::StreamDef;
use super::graph::{GraphBuilder, NodeId, PredGraph, ScannerCache};
use super::predicate::Pred;
use super::query::{AggSpec, Projection, QueryKind, QuerySpec};
use super::PlanError;
use crate::diagnostic::Diagnostic;
use crate::parser::ast::{DataType, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Identifies an aggregation state for the life of a stream.
pub type StateId = u64;

/// What an aggregation state computes, and for whom.
#[derive(Clone, Debug)]
pub struct StateDesc {
    /// The shared filter.
    pub filter: Pred,
    /// The shared group keys.
    pub keys: Vec<String>,
    /// Pane length for windowed states; `None` for running totals.
    pub pane_ms: Option<i64>,
    /// Accumulators, in the order entries store them. Only ever appended to.
    pub accs: Vec<AggSpec>,
    /// The queries that read this state.
    pub queries: BTreeSet<Arc<str>>,
    /// Records the stream had taken in when the state was created.
    pub created_at_record: u64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Finds or creates the state for an aggregate query and records the query
/// in it. `records_seen` is the stream's record count now. Returns the id and
/// whether the state is new.
pub fn assign_state(
    states: &mut BTreeMap<StateId, StateDesc>,
    next_id: &mut StateId,
    spec: &QuerySpec,
    records_seen: u64,
) -> Option<(StateId, bool)> {
    let agg = spec.aggregate()?;
    let want_pane = agg.window.map(|w| gcd(w.size_ms, w.slide_ms));
    let found = states.iter().find(|(_, s)| {
        s.filter == spec.filter
            && s.keys == agg.keys
            && match (s.pane_ms, want_pane) {
                (Some(p), Some(w)) => w % p == 0,
                (None, None) => s.created_at_record == records_seen,
                _ => false,
            }
    });
    let (id, new) = match found {
        Some((id, _)) => (*id, false),
        None => {
            let id = *next_id;
            *next_id += 1;
            states.insert(
                id,
                StateDesc {
                    filter: spec.filter.clone(),
                    keys: agg.keys.clone(),
                    pane_ms: want_pane,
                    accs: Vec::new(),
                    queries: BTreeSet::new(),
                    created_at_record: records_seen,
                },
            );
            (id, true)
        }
    };
    let st = states.get_mut(&id).expect("state exists");
    for a in &agg.aggs {
        if !st.accs.contains(a) {
            st.accs.push(a.clone());
        }
    }
    st.queries.insert(spec.name.clone());
    Some((id, new))
}

/// What an accumulator reads.
#[derive(Clone, Debug)]
pub struct AccInput {
    /// The aggregate.
    pub spec: AggSpec,
    /// The argument's slot; `None` for `count(*)`.
    pub slot: Option<usize>,
}

/// An aggregation state as the executor sees it.
#[derive(Clone, Debug)]
pub struct PlanState {
    /// The state's id.
    pub id: StateId,
    /// Node of the state's filter.
    pub filter: NodeId,
    /// Index into [`StreamPlan::key_lists`].
    pub key_list: usize,
    /// Accumulators.
    pub accs: Vec<AccInput>,
    /// Pane length, or `None` for running totals.
    pub pane_ms: Option<i64>,
}

/// The fields of an output row: output name and slot of each, in order.
pub type RowFields = Vec<(Arc<str>, usize)>;

/// A filter query as the executor sees it.
#[derive(Clone, Debug)]
pub struct PlanFilter {
    /// The query.
    pub query: Arc<str>,
    /// Node of its predicate.
    pub filter: NodeId,
    /// Output name and slot of each projected field; `None` for `SELECT *`.
    pub projection: Option<RowFields>,
}

/// The one plan that serves every query of a stream.
#[derive(Clone, Debug)]
pub struct StreamPlan {
    /// The stream.
    pub stream: Arc<StreamDef>,
    /// Slot → field name: the only fields the decoder extracts.
    pub fields: Vec<String>,
    /// Slot of the event-time field.
    pub event_time_slot: Option<usize>,
    /// Some query selects `*` and needs the whole record.
    pub needs_raw: bool,
    /// The shared predicates.
    pub graph: PredGraph,
    /// Distinct group-key lists (as slots), each computed once per record.
    pub key_lists: Vec<Vec<usize>>,
    /// Aggregation states.
    pub states: Vec<PlanState>,
    /// Filter queries.
    pub filters: Vec<PlanFilter>,
    /// Which states and filter queries read each node, for EXPLAIN.
    pub users: BTreeMap<NodeId, BTreeSet<Arc<str>>>,
}

impl StreamPlan {
    /// The type the stream declares for the field in `slot`, if it declares
    /// its columns and that field among them.
    pub fn declared_type(&self, slot: usize) -> Option<&DataType> {
        let cols = self.stream.columns.as_ref()?;
        cols.iter()
            .find(|(name, _)| *name == self.fields[slot])
            .map(|(_, ty)| ty)
    }
}

/// Builds the shared plan from the stream's queries and states.
pub fn build_plan(
    stream: Arc<StreamDef>,
    queries: &BTreeMap<Arc<str>, QuerySpec>,
    states: &BTreeMap<StateId, StateDesc>,
    cache: &mut ScannerCache,
) -> Result<StreamPlan, PlanError> {
    let mut fields: BTreeSet<String> = BTreeSet::new();
    let mut needs_raw = false;
    for q in queries.values() {
        fields.extend(q.fields());
        if matches!(q.kind, QueryKind::Filter(Projection::Star)) {
            needs_raw = true;
        }
    }
    // A state keeps the accumulators of queries dropped since (they are
    // only ever appended to), so their arguments are still decoded.
    for st in states.values() {
        fields.extend(st.keys.iter().cloned());
        fields.extend(st.accs.iter().filter_map(|a| a.arg.clone()));
    }
    if let Some(et) = &stream.event_time {
        fields.insert(et.clone());
    }
    let fields: Vec<String> = fields.into_iter().collect();
    let slot_of = |name: &str| {
        fields
            .iter()
            .position(|f| f == name)
            .expect("field collected")
    };

    let mut gb = GraphBuilder::new();
    let mut users: BTreeMap<NodeId, BTreeSet<Arc<str>>> = BTreeMap::new();
    let mut key_lists: Vec<Vec<usize>> = Vec::new();
    let mut plan_states = Vec::new();
    for (id, st) in states {
        let filter = gb.add(&st.filter);
        users
            .entry(filter)
            .or_default()
            .extend(st.queries.iter().cloned());
        let keys: Vec<usize> = st.keys.iter().map(|k| slot_of(k)).collect();
        let key_list = match key_lists.iter().position(|k| *k == keys) {
            Some(i) => i,
            None => {
                key_lists.push(keys);
                key_lists.len() - 1
            }
        };
        plan_states.push(PlanState {
            id: *id,
            filter,
            key_list,
            accs: st
                .accs
                .iter()
                .map(|a| AccInput {
                    spec: a.clone(),
                    slot: a.arg.as_deref().map(slot_of),
                })
                .collect(),
            pane_ms: st.pane_ms,
        });
    }
    let mut filters = Vec::new();
    for q in queries.values() {
        if let QueryKind::Filter(proj) = &q.kind {
            let filter = gb.add(&q.filter);
            users.entry(filter).or_default().insert(q.name.clone());
            filters.push(PlanFilter {
                query: q.name.clone(),
                filter,
                projection: match proj {
                    Projection::Star => None,
                    Projection::Fields(fs) => {
                        Some(fs.iter().map(|(n, f)| (n.clone(), slot_of(f))).collect())
                    }
                },
            });
        }
    }
    let graph = gb.finish(&slot_of, cache).map_err(|e| {
        PlanError(Diagnostic::new(
            format!("cannot compile the stream's patterns: {e}"),
            Span::default(),
        ))
    })?;
    cache.retain_used(&graph);
    let event_time_slot = stream.event_time.as_deref().map(slot_of);
    Ok(StreamPlan {
        stream,
        event_time_slot,
        fields,
        needs_raw,
        graph,
        key_lists,
        states: plan_states,
        filters,
        users,
    })
}
