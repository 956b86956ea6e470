//! Closing windows: combining panes into each query's windows when the
//! watermark passes their end, and turning groups into results (`HAVING`,
//! `ORDER BY`, `LIMIT`).
//!
//! Windows are aligned to the epoch: a window of size `s` sliding by `d`
//! starts at every multiple of `d` and covers `[start, start + s)`. Panes
//! (of the state's pane length, which divides both) tile time; a window is the
//! merge of the panes inside it.

use super::aggregate::Acc;
use super::intern::{id_hash, KeyId, KeyInterner};
use super::result::{QueryResult, ResultBody, ResultSink, Row};
use super::state::AggState;
use crate::planner::query::{cmp_holds, AggQuery, OutOperand, OutPred, OutRef, Window};
use crate::planner::{QuerySpec, StateId, Truth};
use crate::value::OwnedValue;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The executor's bookkeeping for one aggregate query.
#[derive(Clone, Debug)]
pub struct AggRuntime {
    /// The query.
    pub spec: Arc<QuerySpec>,
    /// The state it reads.
    pub state: StateId,
    /// For each of the query's aggregates, its index in the state's accumulators.
    pub acc_map: Vec<usize>,
    /// Windows starting before this are not reported (they began before the
    /// query was registered).
    pub first_start: i64,
    /// Earliest window start not yet closed.
    pub next_start: i64,
}

impl AggRuntime {
    /// The aggregate part of the query.
    pub fn agg(&self) -> &AggQuery {
        self.spec.aggregate().expect("aggregate query")
    }
}

fn floor_to(x: i128, step: i128) -> i128 {
    x.div_euclid(step) * step
}

/// Emits every window of `q` that ends at or before `watermark` and has data,
/// and advances `q.next_start` past them.
pub fn close_windows(
    q: &mut AggRuntime,
    w: Window,
    state: &AggState,
    keys: &KeyInterner,
    watermark: i64,
    sink: &mut dyn ResultSink,
) {
    let (size, slide) = (w.size_ms as i128, w.slide_ms as i128);
    let wm = watermark as i128;
    let lo = (q.next_start as i128).max(q.first_start as i128);
    let mut starts: BTreeSet<i128> = BTreeSet::new();
    // Panes that can fall in a window closing now start in [lo, wm).
    let range_lo = i64::try_from(lo).unwrap_or(i64::MIN);
    for (&ps, table) in state.panes.range(range_lo..) {
        if table.is_empty() {
            continue;
        }
        let ps = ps as i128;
        if ps >= wm {
            break;
        }
        // Window starts s with s <= ps < s + size, s a multiple of slide.
        let mut s = floor_to(ps, slide);
        while s > ps - size {
            if s >= lo && s + size <= wm {
                starts.insert(s);
            }
            s -= slide;
        }
    }
    for s in starts {
        let (start, end) = (s as i64, (s + size) as i64);
        // Each group's partials from every pane of the window, by reference:
        // nothing is copied until the final values are computed. Groups are
        // matched across panes by their key ids.
        let mut panes = state.panes.range(start..end).map(|(_, t)| t);
        let window = Some((start, end));
        match (panes.next(), panes.next()) {
            (None, _) => {}
            (Some(only), None) => finish_groups(
                q,
                only.groups().map(|g| (keys.key(g.key), vec![&g.accs[..]])),
                window,
                sink,
            ),
            (Some(first), Some(second)) => {
                type Merged<'g> = (KeyId, Vec<&'g [Acc]>);
                let mut merged: hashbrown::HashTable<Merged<'_>> =
                    hashbrown::HashTable::with_capacity(first.len());
                for t in [first, second].into_iter().chain(panes) {
                    for g in t.groups() {
                        match merged.entry(
                            id_hash(g.key),
                            |(k, _)| *k == g.key,
                            |(k, _)| id_hash(*k),
                        ) {
                            hashbrown::hash_table::Entry::Occupied(mut e) => {
                                e.get_mut().1.push(&g.accs[..])
                            }
                            hashbrown::hash_table::Entry::Vacant(e) => {
                                e.insert((g.key, vec![&g.accs[..]]));
                            }
                        }
                    }
                }
                finish_groups(
                    q,
                    merged.into_iter().map(|(k, parts)| (keys.key(k), parts)),
                    window,
                    sink,
                );
            }
        }
    }
    let next = floor_to(wm - size, slide) + slide;
    if next > q.next_start as i128 {
        q.next_start = i64::try_from(next).unwrap_or(i64::MAX);
    }
}

/// Emits the current values of every window of `q` that is still open (not
/// yet closed by the watermark) and has data: partial results, for queries
/// that show progress before a window is final (`EMIT EVERY`).
pub fn emit_open_windows(
    q: &AggRuntime,
    w: Window,
    state: &AggState,
    keys: &KeyInterner,
    sink: &mut dyn ResultSink,
) {
    let (size, slide) = (w.size_ms as i128, w.slide_ms as i128);
    let lo = (q.next_start as i128).max(q.first_start as i128);
    let mut starts: BTreeSet<i128> = BTreeSet::new();
    let range_lo = i64::try_from(lo).unwrap_or(i64::MIN);
    for (&ps, table) in state.panes.range(range_lo..) {
        if table.is_empty() {
            continue;
        }
        let ps = ps as i128;
        let mut s = floor_to(ps, slide);
        while s > ps - size {
            if s >= lo {
                starts.insert(s);
            }
            s -= slide;
        }
    }
    for s in starts {
        let (start, end) = (s as i64, i64::try_from(s + size).unwrap_or(i64::MAX));
        let mut merged: hashbrown::HashMap<KeyId, Vec<&[Acc]>> = hashbrown::HashMap::new();
        for (_, t) in state.panes.range(start..end) {
            for g in t.groups() {
                merged.entry(g.key).or_default().push(&g.accs[..]);
            }
        }
        finish_groups(
            q,
            merged.into_iter().map(|(k, parts)| (keys.key(k), parts)),
            Some((start, end)),
            sink,
        );
    }
}

/// Emits the current running totals of `q`.
pub fn emit_running(
    q: &AggRuntime,
    state: &AggState,
    keys: &KeyInterner,
    sink: &mut dyn ResultSink,
) {
    finish_groups(
        q,
        state
            .running
            .groups()
            .map(|g| (keys.key(g.key), vec![&g.accs[..]])),
        None,
        sink,
    );
}

struct OutRow<'g> {
    key: &'g [OwnedValue],
    /// The group's partials, one slice of accumulators per pane.
    parts: Vec<&'g [Acc]>,
    /// Final aggregate values; those not yet needed are `Null` until
    /// [`OutRow::compute`] fills them.
    aggs: Vec<OwnedValue>,
}

impl OutRow<'_> {
    fn get(&self, r: OutRef) -> &OwnedValue {
        match r {
            OutRef::Key(i) => &self.key[i],
            OutRef::Agg(i) => &self.aggs[i],
        }
    }

    /// Fills in the final values of the aggregates `which` (indexes into
    /// the query's aggregates).
    fn compute(&mut self, q: &AggRuntime, which: impl Iterator<Item = usize>) {
        let agg = q.agg();
        for j in which {
            let (spec, i) = (&agg.aggs[j], q.acc_map[j]);
            self.aggs[j] = match &self.parts[..] {
                [one] => match one.get(i) {
                    Some(a) => a.finish(spec.func),
                    None => Acc::new(spec).finish(spec.func),
                },
                parts => {
                    let accs: Vec<&Acc> = parts.iter().filter_map(|p| p.get(i)).collect();
                    if accs.is_empty() {
                        Acc::new(spec).finish(spec.func)
                    } else {
                        Acc::finish_many(&accs, spec.func)
                    }
                }
            };
        }
    }

    fn operand<'s>(&'s self, o: &'s OutOperand) -> &'s OwnedValue {
        match o {
            OutOperand::Ref(r) => self.get(*r),
            OutOperand::Lit(v) => v,
        }
    }

    fn having(&self, p: &OutPred) -> Truth {
        match p {
            OutPred::Cmp(op, a, b) => Truth::from_option(
                self.operand(a)
                    .sql_cmp(self.operand(b))
                    .map(|o| cmp_holds(*op, o)),
            ),
            OutPred::In(a, list, negated) => {
                let v = self.operand(a);
                let mut t = Truth::False;
                for l in list {
                    t = t.or(Truth::from_option(
                        v.sql_cmp(l).map(|o| o == Ordering::Equal),
                    ));
                }
                if *negated {
                    !t
                } else {
                    t
                }
            }
            OutPred::IsNull(a, negated) => {
                let null = self.operand(a).is_null();
                if null != *negated {
                    Truth::True
                } else {
                    Truth::False
                }
            }
            OutPred::And(a, b) => self.having(a).and(self.having(b)),
            OutPred::Or(a, b) => self.having(a).or(self.having(b)),
            OutPred::Not(a) => !self.having(a),
        }
    }
}

/// The aggregates (indexes into [`AggQuery::aggs`]) that a `HAVING`
/// predicate reads, marked in `used`.
fn mark_having_aggs(p: &OutPred, used: &mut [bool]) {
    let mut operand = |o: &OutOperand| {
        if let OutOperand::Ref(OutRef::Agg(i)) = o {
            used[*i] = true;
        }
    };
    match p {
        OutPred::Cmp(_, a, b) => {
            operand(a);
            operand(b);
        }
        OutPred::In(a, _, _) | OutPred::IsNull(a, _) => operand(a),
        OutPred::And(a, b) | OutPred::Or(a, b) => {
            mark_having_aggs(a, used);
            mark_having_aggs(b, used);
        }
        OutPred::Not(a) => mark_having_aggs(a, used),
    }
}

/// Turns groups into results: final values, `HAVING`, `ORDER BY` (ties and
/// unordered queries by group key, so output is deterministic), `LIMIT`.
/// The aggregates that `HAVING` and `ORDER BY` read are computed for every
/// group; the others only for the groups that are output.
pub fn finish_groups<'g>(
    q: &AggRuntime,
    groups: impl Iterator<Item = (&'g [OwnedValue], Vec<&'g [Acc]>)>,
    window: Option<(i64, i64)>,
    sink: &mut dyn ResultSink,
) {
    let agg = q.agg();
    // Which aggregates are needed before rows are cut.
    let mut early = vec![false; agg.aggs.len()];
    if let Some(h) = &agg.having {
        mark_having_aggs(h, &mut early);
    }
    for (r, _) in &agg.order_by {
        if let OutRef::Agg(i) = r {
            early[*i] = true;
        }
    }
    let early_aggs: Vec<usize> = (0..early.len()).filter(|j| early[*j]).collect();
    let mut rows: Vec<OutRow<'g>> = groups
        .map(|(key, parts)| {
            let mut row = OutRow {
                key,
                parts,
                aggs: vec![OwnedValue::Null; agg.aggs.len()],
            };
            row.compute(q, early_aggs.iter().copied());
            row
        })
        .collect();
    if let Some(h) = &agg.having {
        rows.retain(|r| r.having(h) == Truth::True);
    }
    let by_key = |a: &OutRow, b: &OutRow| -> Ordering {
        for (x, y) in a.key.iter().zip(b.key.iter()) {
            let o = x.total_cmp(y);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    };
    let order = |a: &OutRow, b: &OutRow| -> Ordering {
        for (r, desc) in &agg.order_by {
            let o = a.get(*r).total_cmp(b.get(*r));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        by_key(a, b)
    };
    // Group keys are distinct, so `order` is total and an unstable sort
    // gives the one order; with a LIMIT, the rows past it are cut off by
    // selection before the rest is sorted.
    if let Some(limit) = agg.limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit < rows.len() {
            rows.select_nth_unstable_by(limit, order);
            rows.truncate(limit);
        }
    }
    if early_aggs.len() < agg.aggs.len() {
        for r in &mut rows {
            r.compute(q, (0..early.len()).filter(|j| !early[*j]));
        }
    }
    // Unordered queries sort by key: the first key's sort prefix settles
    // most comparisons, and indexes move instead of rows.
    let prefix_of = |r: &OutRow| match (agg.order_by.is_empty(), r.key.first()) {
        (true, Some(k)) => k.sort_prefix(),
        _ => 0,
    };
    let mut sorted: Vec<(u128, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (prefix_of(r), i as u32))
        .collect();
    sorted.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| order(&rows[a.1 as usize], &rows[b.1 as usize]))
    });
    for r in sorted.iter().map(|(_, i)| &rows[*i as usize]) {
        let group: Row = agg
            .key_names
            .iter()
            .cloned()
            .zip(r.key.iter().cloned())
            .collect();
        let values: Row = agg
            .values
            .iter()
            .map(|(name, i)| (name.clone(), r.aggs[*i].clone()))
            .collect();
        sink.emit(QueryResult {
            query: q.spec.name.clone(),
            body: ResultBody::Aggregate {
                window,
                group,
                values,
            },
        });
    }
}
