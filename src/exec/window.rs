//! Closing windows: combining panes into each query's windows when the
//! watermark passes their end, and turning groups into results (`HAVING`,
//! `ORDER BY`, `LIMIT`).
//!
//! Windows are aligned to the epoch: a window of size `s` sliding by `d`
//! starts at every multiple of `d` and covers `[start, start + s)`. Panes
//! (of the state's pane length, which divides both) tile time; a window is the
//! merge of the panes inside it.

use super::aggregate::Acc;
use super::intern::{KeyId, KeyInterner};
use super::result::{AggregateRef, ResultSink};
use super::state::{AggState, GroupIndex};
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

/// Whether [`close_windows`] at `watermark` has anything to do for a query
/// whose earliest open window starts at `next_start` (its
/// [`AggRuntime::next_start`]): when false it would do nothing. A window
/// to emit starts at or after the earliest open one and ends by the
/// watermark, so closing it moves the earliest open window: closing does
/// something exactly when it moves.
pub fn closes_any(next_start: i64, w: Window, watermark: i64) -> bool {
    next_open_start(w, watermark) > next_start as i128
}

/// The start of the earliest window that ends after `watermark`.
fn next_open_start(w: Window, watermark: i64) -> i128 {
    let (size, slide) = (w.size_ms as i128, w.slide_ms as i128);
    floor_to(watermark as i128 - size, slide) + slide
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
    let mut parts: Vec<PanePart<'_>> = Vec::new();
    for s in starts {
        let (start, end) = (s as i64, (s + size) as i64);
        // Each group's partials from every pane of the window, by reference:
        // nothing is copied until the final values are computed.
        collect_parts(state, start, end, &mut parts);
        finish_groups(q, group_runs(&parts), keys, Some((start, end)), sink);
    }
    let next = next_open_start(w, watermark);
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
    let mut parts: Vec<PanePart<'_>> = Vec::new();
    for s in starts {
        let (start, end) = (s as i64, i64::try_from(s + size).unwrap_or(i64::MAX));
        collect_parts(state, start, end, &mut parts);
        finish_groups(q, group_runs(&parts), keys, Some((start, end)), sink);
    }
}

/// One pane's partials of one group: the group's key id and its
/// accumulators.
type PanePart<'g> = (KeyId, &'g [Acc]);

/// The partials of every group of the panes in `[start, end)` of `state`,
/// into `parts`, grouped: the partials of one group are adjacent, in pane
/// order (the order they are merged in, which float sums depend on). Groups
/// are matched across panes by their key ids: one hash probe per partial,
/// then each is put in its group's place (a counting sort by group).
fn collect_parts<'g>(state: &'g AggState, start: i64, end: i64, parts: &mut Vec<PanePart<'g>>) {
    parts.clear();
    let mut panes = state.panes.range(start..end).map(|(_, t)| t);
    let (Some(first), Some(_)) = (panes.next(), panes.next()) else {
        if let Some((_, only)) = state.panes.range(start..end).next() {
            parts.extend(only.groups().map(|g| (g.key, g.accs)));
        }
        return;
    };
    // Each partial's group (numbered as first met), and partials per group.
    let mut group_of = GroupIndex::with_capacity(first.len());
    let mut groups: Vec<u32> = Vec::new();
    let mut count: Vec<u32> = Vec::new();
    for (_, t) in state.panes.range(start..end) {
        for g in t.groups() {
            let n = count.len() as u32;
            let e = group_of.find_or_insert(g.key, n);
            if e == n {
                count.push(0);
            }
            count[e as usize] += 1;
            groups.push(e);
        }
    }
    // Where each group's partials start, then each partial in its place.
    let mut at = 0u32;
    for c in count.iter_mut() {
        let n = *c;
        *c = at;
        at += n;
    }
    parts.resize(groups.len(), (0, &[]));
    let mut next = groups.iter();
    for (_, t) in state.panes.range(start..end) {
        for g in t.groups() {
            let slot = &mut count[*next.next().expect("one group per partial") as usize];
            parts[*slot as usize] = (g.key, g.accs);
            *slot += 1;
        }
    }
}

/// The groups of grouped `parts`: each group's key id and its partials.
fn group_runs<'g>(parts: &'g [PanePart<'g>]) -> impl Iterator<Item = (KeyId, &'g [PanePart<'g>])> {
    parts.chunk_by(|a, b| a.0 == b.0).map(|run| (run[0].0, run))
}

/// Emits the current running totals of `q`.
pub fn emit_running(
    q: &AggRuntime,
    state: &AggState,
    keys: &KeyInterner,
    sink: &mut dyn ResultSink,
) {
    let parts: Vec<PanePart<'_>> = state.running.groups().map(|g| (g.key, g.accs)).collect();
    finish_groups(q, group_runs(&parts), keys, None, sink);
}

/// One output row being finished: its group key and its final aggregate
/// values (those not yet computed are `Null`).
struct OutRow<'r> {
    key: &'r [OwnedValue],
    aggs: &'r [OwnedValue],
}

/// Fills `out` (one value per aggregate of `q`) with the final values of
/// the aggregates `which` (indexes into the query's aggregates), from a
/// group's partials.
fn compute_aggs(
    q: &AggRuntime,
    parts: &[PanePart<'_>],
    which: impl Iterator<Item = usize>,
    out: &mut [OwnedValue],
) {
    let agg = q.agg();
    for j in which {
        let (spec, i) = (&agg.aggs[j], q.acc_map[j]);
        let mut accs = parts.iter().filter_map(|(_, p)| p.get(i)).peekable();
        out[j] = match accs.peek() {
            None => Acc::new(spec).finish(spec.func),
            Some(_) => Acc::finish_many(accs, spec.func),
        };
    }
}

impl OutRow<'_> {
    fn get(&self, r: OutRef) -> &OwnedValue {
        match r {
            OutRef::Key(i) => &self.key[i],
            OutRef::Agg(i) => &self.aggs[i],
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

/// Two rows compared by the `ORDER BY` items alone (equal when they tie on
/// every item).
fn cmp_order_by(order_by: &[(OutRef, bool)], a: &OutRow<'_>, b: &OutRow<'_>) -> Ordering {
    for (r, desc) in order_by {
        let o = a.get(*r).total_cmp(b.get(*r));
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
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

/// Turns groups (key ids, whose values `key_values` holds, and partials)
/// into results: final
/// values, `HAVING`, `ORDER BY` (ties and unordered queries by group key,
/// so output is deterministic), `LIMIT`. The aggregates that `HAVING` and
/// `ORDER BY` read are computed for every group; the others only for the
/// groups that are output. A top-k ordered by aggregates alone looks up
/// the key values only of the groups whose ordered values are among the
/// first k (ties included).
pub fn finish_groups<'g>(
    q: &AggRuntime,
    groups: impl Iterator<Item = (KeyId, &'g [PanePart<'g>])>,
    key_values: &'g KeyInterner,
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
    // Rows by index: key ids and partials in `groups_of`, final values in
    // `finals` (`n` per row), key values in `keys` once looked up.
    let n = agg.aggs.len();
    let mut groups_of: Vec<(KeyId, &'g [PanePart<'g>])> = Vec::new();
    let mut finals: Vec<OwnedValue> = Vec::new();
    for (key, parts) in groups {
        let base = finals.len();
        finals.resize_with(base + n, || OwnedValue::Null);
        compute_aggs(q, parts, early_aggs.iter().copied(), &mut finals[base..]);
        groups_of.push((key, parts));
    }
    let mut live: Vec<u32> = (0..groups_of.len() as u32).collect();
    let mut keys: Vec<&'g [OwnedValue]> = vec![&[]; groups_of.len()];
    fn view<'r>(
        keys: &[&'r [OwnedValue]],
        finals: &'r [OwnedValue],
        n: usize,
        i: u32,
    ) -> OutRow<'r> {
        OutRow {
            key: keys[i as usize],
            aggs: &finals[i as usize * n..][..n],
        }
    }
    // A top-k ordered by aggregates alone: the rows whose ordered values
    // come after the k-th row's can be cut before keys are looked up (at
    // least k rows come before each of them, whatever the keys).
    let by_aggs = !agg.order_by.is_empty()
        && agg
            .order_by
            .iter()
            .all(|(r, _)| matches!(r, OutRef::Agg(_)))
        && agg.having.is_none();
    if let (true, Some(limit)) = (by_aggs, agg.limit) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit < live.len() {
            let values_order = |a: u32, b: u32| -> Ordering {
                let (ra, rb) = (view(&keys, &finals, n, a), view(&keys, &finals, n, b));
                cmp_order_by(&agg.order_by, &ra, &rb)
            };
            match limit.checked_sub(1) {
                None => live.clear(),
                Some(last) => {
                    live.select_nth_unstable_by(last, |a, b| values_order(*a, *b));
                    let kth = live[last];
                    live.retain(|r| values_order(*r, kth) != Ordering::Greater);
                }
            }
        }
    }
    // Key values of the rows still live (the others are never read).
    for &i in &live {
        keys[i as usize] = key_values.key(groups_of[i as usize].0);
    }
    if let Some(h) = &agg.having {
        live.retain(|i| view(&keys, &finals, n, *i).having(h) == Truth::True);
    }
    // Rows by key: the first key's sort prefix (`Value::sort_prefix`,
    // which never contradicts `total_cmp`) settles most comparisons, full
    // comparisons only on equal prefixes.
    let mut key_prefix: Vec<u128> = vec![0; groups_of.len()];
    for &i in &live {
        key_prefix[i as usize] = keys[i as usize].first().map_or(0, |v| v.sort_prefix());
    }
    // `order` over rows by index, reading the final values in `finals`.
    let order = |finals: &[OwnedValue], a: u32, b: u32| -> Ordering {
        let (ra, rb) = (view(&keys, finals, n, a), view(&keys, finals, n, b));
        let o = cmp_order_by(&agg.order_by, &ra, &rb);
        if o != Ordering::Equal {
            return o;
        }
        key_prefix[a as usize]
            .cmp(&key_prefix[b as usize])
            .then_with(|| {
                for (x, y) in ra.key.iter().zip(rb.key.iter()) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            })
    };
    // Group keys are distinct, so `order` is total and an unstable sort
    // gives the one order; with a LIMIT, the rows past it are cut off by
    // selection before the rest is sorted.
    if let Some(limit) = agg.limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit < live.len() {
            live.select_nth_unstable_by(limit, |a, b| order(&finals, *a, *b));
            live.truncate(limit);
        }
    }
    if early_aggs.len() < n {
        for &i in &live {
            let i = i as usize;
            compute_aggs(
                q,
                groups_of[i].1,
                (0..n).filter(|j| !early[*j]),
                &mut finals[i * n..][..n],
            );
        }
    }
    // Unordered queries sort by key, their prefixes beside the indexes
    // that move.
    let mut sorted: Vec<(u128, u32)> = live
        .iter()
        .map(|&i| {
            let prefix = if agg.order_by.is_empty() {
                key_prefix[i as usize]
            } else {
                0
            };
            (prefix, i)
        })
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| order(&finals, a.1, b.1)));
    for r in sorted.iter().map(|(_, i)| view(&keys, &finals, n, *i)) {
        sink.emit_aggregate(&AggregateRef {
            query: &q.spec.name,
            window,
            key_names: &agg.key_names,
            key: r.key,
            values: &agg.values,
            aggs: r.aggs,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `closes_any` is true exactly when some window start (a multiple
        /// of the slide) at or after both the earliest open window and the
        /// first reported one ends by the watermark, or when closing moves
        /// the earliest open window, found by walking every window start
        /// near the watermark.
        #[test]
        fn closes_any_is_true_exactly_when_closing_does_something(
            slide in 1i64..60,
            extra in 0i64..120,
            next in -100i64..100,
            first in -100i64..100,
            wm in -100i64..200,
        ) {
            let w = Window { size_ms: slide + extra, slide_ms: slide };
            let lo = next.max(first);
            let starts = || (-400..400).map(|k| k * slide);
            let emits = starts().any(|s| s >= lo && s + w.size_ms <= wm);
            // Closing moves the earliest open window to the first start of
            // a window that ends after the watermark.
            let open = starts().find(|s| s + w.size_ms > wm).expect("in range");
            let moves = open > next;
            prop_assert_eq!(closes_any(next, w, wm), emits || moves);
        }
    }
}
