//! Aggregation state: groups of partial aggregates, in panes or running.
//!
//! A [`GroupTable`] maps a group key to its accumulators. Keys are interned
//! per stream ([`KeyInterner`]) once per record and key list, so a table is
//! probed with a `u32` id: no key hashing, no string comparison and no
//! allocation when the record hits an existing group. Key values are looked
//! up from ids only when results are produced. An [`AggState`] holds one
//! table per pane (windowed states) or one running table.

use super::aggregate::Acc;
use super::intern::{id_hash, KeyId, KeyInterner};
use crate::planner::AccInput;
use crate::value::Value;
use crate::value_map::hash_values;
use std::collections::BTreeMap;

/// One group, borrowed from its table: its key's id and its accumulators.
#[derive(Clone, Copy, Debug)]
pub struct Group<'t> {
    /// The key, an id of the stream's [`KeyInterner`].
    pub key: KeyId,
    /// The accumulators, in the state's accumulator order. May be shorter
    /// than the state's list when accumulators were added later.
    pub accs: &'t [Acc],
}

/// Groups of one pane (or of a running state).
///
/// The groups' accumulators are kept in one array, `stride` places per
/// group in the order groups were created, and the hash table holds only
/// key ids and group numbers (8 bytes each): a probe reads a small, dense
/// table, and no group costs an allocation of its own.
#[derive(Clone, Debug, Default)]
pub struct GroupTable {
    /// Group numbers by key.
    index: GroupIndex,
    /// Per group number, its key.
    keys: Vec<KeyId>,
    /// Per group number, how many of its `stride` places hold accumulators.
    lens: Vec<u32>,
    /// The accumulators, `stride` places per group; places past a group's
    /// length hold placeholders.
    accs: Vec<Acc>,
    /// Places per group.
    stride: usize,
    /// Groups whose length is below `stride` (they were made before
    /// accumulators were added to the state): while there are none, an
    /// update does not read `lens`.
    short: usize,
}

/// What fills the places of a group that hold no accumulator.
const PLACEHOLDER: Acc = Acc::Count(0);

impl GroupTable {
    /// An empty table with room for `groups` groups of `stride` places
    /// before it grows.
    pub fn with_capacity(groups: usize, stride: usize) -> GroupTable {
        GroupTable {
            index: GroupIndex::with_capacity(groups),
            keys: Vec::with_capacity(groups),
            lens: Vec::with_capacity(groups),
            accs: Vec::with_capacity(groups * stride),
            stride,
            short: 0,
        }
    }

    /// The accumulators of the group whose key is `key`, created when absent.
    #[inline]
    pub fn group_mut(&mut self, key: KeyId, accs: &[AccInput]) -> &mut [Acc] {
        let (g, new) = self.find_or_add(key, accs.len());
        let from = g * self.stride;
        if new {
            self.push_places(accs.iter().map(|a| Acc::new(&a.spec)));
        } else if self.short != 0 {
            let len = self.lens[g] as usize;
            if len < accs.len() {
                for (place, a) in self.accs[from + len..from + accs.len()]
                    .iter_mut()
                    .zip(&accs[len..])
                {
                    *place = Acc::new(&a.spec);
                }
                self.set_len(g, accs.len());
            }
        }
        &mut self.accs[from..from + accs.len()]
    }

    /// Sets the length of group `g` to `len` (never below its length),
    /// keeping the count of short groups.
    fn set_len(&mut self, g: usize, len: usize) {
        let old = self.lens[g] as usize;
        if old < self.stride && len >= self.stride {
            self.short -= 1;
        }
        self.lens[g] = len as u32;
    }

    /// The number of the group whose key is `key`, with room for at least
    /// `places` accumulators, and whether it is new: a new group has its
    /// key and number, and its places are then added by
    /// [`GroupTable::push_places`].
    #[inline]
    fn find_or_add(&mut self, key: KeyId, places: usize) -> (usize, bool) {
        if places > self.stride {
            self.widen(places);
        }
        let n = self.keys.len() as u32;
        let g = self.index.find_or_insert(key, n);
        if g == n {
            self.keys.push(key);
        }
        (g as usize, g == n)
    }

    /// The places of the group just added: `accs`, then placeholders up to
    /// the stride.
    #[inline]
    fn push_places(&mut self, accs: impl ExactSizeIterator<Item = Acc>) {
        let len = accs.len();
        self.lens.push(len as u32);
        self.accs.extend(accs);
        self.accs
            .extend(std::iter::repeat_n(PLACEHOLDER, self.stride - len));
        if len < self.stride {
            self.short += 1;
        }
    }

    /// Lays the accumulators out again with `stride` places per group.
    #[cold]
    fn widen(&mut self, stride: usize) {
        let old = std::mem::take(&mut self.accs);
        let mut accs = Vec::with_capacity(self.keys.len() * stride);
        let mut places = old.into_iter();
        for _ in 0..self.keys.len() {
            accs.extend(places.by_ref().take(self.stride));
            accs.extend(std::iter::repeat_n(PLACEHOLDER, stride - self.stride));
        }
        self.accs = accs;
        self.stride = stride;
        self.short = self.lens.iter().filter(|l| (**l as usize) < stride).count();
    }

    /// True when the table holds the group whose key is `key`.
    #[inline]
    pub fn contains(&self, key: KeyId) -> bool {
        self.index.find(key).is_some()
    }

    /// Merges a group (from another table of the same stream, or restored)
    /// into this one.
    pub fn merge_group(&mut self, key: KeyId, accs: &[Acc]) {
        let (g, new) = self.find_or_add(key, accs.len());
        if new {
            self.push_places(accs.iter().cloned());
            return;
        }
        let (from, len) = (g * self.stride, self.lens[g] as usize);
        for (i, a) in accs.iter().enumerate() {
            if i < len {
                self.accs[from + i].merge(a);
            } else {
                self.accs[from + i] = a.clone();
            }
        }
        self.set_len(g, len.max(accs.len()));
    }

    /// Merges every group of `other` into this table.
    pub fn merge_table(&mut self, other: &GroupTable) {
        for g in other.groups() {
            self.merge_group(g.key, g.accs);
        }
    }

    /// The groups, in the order they were created.
    pub fn groups(&self) -> impl Iterator<Item = Group<'_>> {
        let stride = self.stride;
        self.keys
            .iter()
            .zip(&self.lens)
            .enumerate()
            .map(move |(g, (key, len))| Group {
                key: *key,
                accs: &self.accs[g * stride..g * stride + *len as usize],
            })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Asks the processor to bring up to `max_bytes` of the index, and as
    /// many of the accumulators, into its cache ahead of updates (a hint:
    /// nothing is read).
    #[inline]
    pub fn prefetch(&self, max_bytes: usize) {
        prefetch_bytes(
            self.index.slots.as_ptr().cast(),
            self.index.approx_bytes().min(max_bytes),
        );
        prefetch_bytes(
            self.accs.as_ptr().cast(),
            std::mem::size_of_val(self.accs.as_slice()).min(max_bytes),
        );
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Rough bytes held (key values are held once per stream, by the
    /// [`KeyInterner`], and not counted here): the index, per group its key
    /// and length (8 bytes) and its accumulators.
    pub fn approx_bytes(&self) -> usize {
        self.index.approx_bytes()
            + self
                .groups()
                .map(|g| 8 + g.accs.iter().map(Acc::approx_bytes).sum::<usize>())
                .sum::<usize>()
    }
}

/// Prefetches `len` bytes from `ptr`, one cache line at a time.
#[inline]
fn prefetch_bytes(ptr: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..len).step_by(64) {
        // SAFETY: a prefetch is a hint that never faults, and `off` stays
        // within the allocation.
        unsafe {
            std::arch::x86_64::_mm_prefetch(ptr.add(off).cast(), std::arch::x86_64::_MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, len);
}

/// A map from key ids to group numbers: open addressing with linear
/// probing over one array of (key, group) pairs packed in a `u64`, at most
/// three quarters full. A probe is a multiply, a shift and (almost always)
/// one or two compares in one cache line; `hashbrown`'s general entry API
/// took several times the instructions for these 8-byte entries.
#[derive(Clone, Debug, Default)]
pub struct GroupIndex {
    /// `key << 32 | group` per occupied slot, [`EMPTY_SLOT`] elsewhere; a
    /// power of two long (or empty).
    slots: Vec<u64>,
    /// Occupied slots.
    len: usize,
    /// `64 - log2(slots.len())`: the shift that takes a hash's top bits.
    shift: u32,
}

/// A slot that holds no key (no group number reaches `u32::MAX`).
const EMPTY_SLOT: u64 = u64::MAX;

impl GroupIndex {
    /// An empty index with room for `keys` keys before it grows.
    pub fn with_capacity(keys: usize) -> GroupIndex {
        let mut index = GroupIndex::default();
        if keys > 0 {
            let size = (keys * 4 / 3 + 1).next_power_of_two().max(16);
            index.slots = vec![EMPTY_SLOT; size];
            index.shift = 64 - size.trailing_zeros();
        }
        index
    }

    /// The group number of `key`, if it has one.
    #[inline]
    pub fn find(&self, key: KeyId) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = self.slots[self.slot_of(key)];
        (slot != EMPTY_SLOT).then_some(slot as u32)
    }

    /// The group number of `key`; `group` is given to it when it has none.
    #[inline]
    pub fn find_or_insert(&mut self, key: KeyId, group: u32) -> u32 {
        if 4 * (self.len + 1) > 3 * self.slots.len() {
            self.grow();
        }
        let i = self.slot_of(key);
        if self.slots[i] == EMPTY_SLOT {
            self.slots[i] = (key as u64) << 32 | group as u64;
            self.len += 1;
            return group;
        }
        self.slots[i] as u32
    }

    /// The slot that holds `key`, or the empty one where it would go (the
    /// slots must not be empty).
    #[inline]
    fn slot_of(&self, key: KeyId) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY_SLOT || (slot >> 32) as KeyId == key {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the slots.
    pub fn approx_bytes(&self) -> usize {
        8 * self.slots.len()
    }

    /// Where `key`'s probe starts: the top bits of its hash.
    #[inline]
    fn home(&self, key: KeyId) -> usize {
        (id_hash(key) >> self.shift) as usize
    }

    /// Doubles the slots (16 at first) and puts every key back.
    #[cold]
    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; size]);
        self.shift = 64 - size.trailing_zeros();
        self.len = 0;
        for slot in old.into_iter().filter(|s| *s != EMPTY_SLOT) {
            self.find_or_insert((slot >> 32) as KeyId, slot as u32);
        }
    }
}

/// The data of one aggregation state.
#[derive(Clone, Debug, Default)]
pub struct AggState {
    /// Pane start → groups, for windowed states.
    pub panes: BTreeMap<i64, GroupTable>,
    /// Groups of a running (unwindowed) state.
    pub running: GroupTable,
    /// Records that passed the state's filter since it was created.
    pub matched: u64,
    /// Group updates refused because the state held its limit of groups
    /// ([`crate::exec::Limits::max_groups_per_state`]) and the update needed
    /// a new one.
    pub dropped: u64,
}

/// The start of the pane, `pane_ms` long and aligned to the epoch, that
/// holds event time `ts`.
#[inline]
pub fn pane_start(ts: i64, pane_ms: i64) -> i64 {
    ts.div_euclid(pane_ms) * pane_ms
}

/// The table of the pane that starts at `start`, created when absent with
/// room for half again as many groups as the pane before it holds: a pane
/// of a stream usually holds about as many groups as the one before it
/// (which may still be filling, as records arrive out of order), and a
/// table grown from nothing copies its index and accumulators at every
/// doubling. Sizing from the pane just before, not from the largest held,
/// keeps a burst from reserving its size in every pane after it: only the
/// next pane is made too large, as growth by doubling could make it.
#[inline]
pub fn pane_table(panes: &mut BTreeMap<i64, GroupTable>, start: i64) -> &mut GroupTable {
    if !panes.contains_key(&start) {
        let table = match panes.range(..start).next_back() {
            Some((_, before)) => {
                GroupTable::with_capacity(before.len() + before.len() / 2, before.stride)
            }
            None => GroupTable::default(),
        };
        panes.insert(start, table);
    }
    panes.get_mut(&start).expect("pane inserted")
}

impl AggState {
    /// The table a record at `ts` updates.
    #[inline]
    pub fn table_for(&mut self, pane_ms: Option<i64>, ts: i64) -> &mut GroupTable {
        match pane_ms {
            None => &mut self.running,
            Some(p) => pane_table(&mut self.panes, pane_start(ts, p)),
        }
    }

    /// The table a record at `ts` would update, if it exists yet.
    #[inline]
    pub fn table_at(&self, pane_ms: Option<i64>, ts: i64) -> Option<&GroupTable> {
        match pane_ms {
            None => Some(&self.running),
            Some(p) => self.panes.get(&pane_start(ts, p)),
        }
    }

    /// Merges another partial of the same state into this one.
    pub fn merge(&mut self, other: &AggState) {
        for (start, t) in &other.panes {
            pane_table(&mut self.panes, *start).merge_table(t);
        }
        self.running.merge_table(&other.running);
    }

    /// Number of groups held over all panes.
    pub fn group_count(&self) -> usize {
        self.running.len() + self.panes.values().map(GroupTable::len).sum::<usize>()
    }

    /// Rough bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.running.approx_bytes()
            + self
                .panes
                .values()
                .map(GroupTable::approx_bytes)
                .sum::<usize>()
    }
}

/// The group keys of one record for one key list: usually one, several when
/// a key field holds an array (one per combination of distinct elements),
/// none when such an array is empty. Reused from record to record.
#[derive(Debug, Default)]
pub struct KeyCombos {
    /// For each key, per component: `u32::MAX` for the whole value, else the
    /// index of the array element. Flattened, `width` entries per key.
    pub picks: Vec<u32>,
    /// Hash of each key.
    pub hashes: Vec<u64>,
    /// Components per key.
    pub width: usize,
    /// Scratch of [`KeyCombos::compute`]: the distinct element choices of
    /// every component, flattened.
    choices: Vec<u32>,
    /// Scratch: where each component's choices end in `choices`.
    choice_ends: Vec<usize>,
    /// Scratch: the current choice (an index into `choices`) per component.
    cursor: Vec<usize>,
}

/// Marks a whole (non-array) value in [`KeyCombos::picks`].
pub const WHOLE: u32 = u32::MAX;

/// Appends to `out` the places in `items` of its distinct elements, each at
/// its first place: the elements an array grouped on fans out to, in the
/// order its keys take.
pub fn push_distinct_elements(items: &[Value<'_>], out: &mut Vec<u32>) {
    let from = out.len();
    for (i, v) in items.iter().enumerate() {
        if !out[from..].iter().any(|j| items[*j as usize] == *v) {
            out.push(i as u32);
        }
    }
}

impl KeyCombos {
    /// Computes the keys of a record for the key list `slots`.
    pub fn compute(&mut self, slots: &[usize], record: &[Value<'_>]) {
        self.picks.clear();
        self.hashes.clear();
        self.width = slots.len();
        let has_array = slots.iter().any(|s| matches!(record[*s], Value::Array(_)));
        if !has_array {
            self.picks.extend(std::iter::repeat_n(WHOLE, slots.len()));
            self.hashes
                .push(hash_values(slots.iter().map(|s| &record[*s])));
            return;
        }
        // Distinct element choices per component, flattened: component `c`
        // has `choices[ends[c - 1]..ends[c]]`.
        let (choices, ends) = (&mut self.choices, &mut self.choice_ends);
        choices.clear();
        ends.clear();
        for s in slots {
            match &record[*s] {
                Value::Array(items) => {
                    let from = choices.len();
                    push_distinct_elements(items, choices);
                    if choices.len() == from {
                        return;
                    }
                }
                _ => choices.push(WHOLE),
            }
            ends.push(choices.len());
        }
        let cursor = &mut self.cursor;
        cursor.clear();
        cursor.extend(std::iter::once(0).chain(ends[..ends.len() - 1].iter().copied()));
        loop {
            let start = self.picks.len();
            self.picks.extend(cursor.iter().map(|c| choices[*c]));
            let picks = &self.picks[start..];
            self.hashes.push(hash_values(
                slots.iter().zip(picks).map(|(s, p)| pick(record, *s, *p)),
            ));
            // Advance the odometer.
            let mut i = slots.len();
            loop {
                if i == 0 {
                    return;
                }
                i -= 1;
                cursor[i] += 1;
                if cursor[i] < ends[i] {
                    break;
                }
                cursor[i] = if i == 0 { 0 } else { ends[i - 1] };
            }
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when the record has no key (an empty array was grouped on).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Interns every key (after [`KeyCombos::compute`] for `slots` and
    /// `record`) and appends the ids to `out`.
    pub fn intern_into(
        &self,
        slots: &[usize],
        record: &[Value<'_>],
        keys: &mut KeyInterner,
        out: &mut Vec<KeyId>,
    ) {
        for (k, hash) in self.hashes.iter().enumerate() {
            out.push(keys.intern(*hash, || self.key(k, slots, record)));
        }
    }

    /// The components of key `i`, resolved against the record.
    pub fn key<'r, 'a>(
        &'r self,
        i: usize,
        slots: &'r [usize],
        record: &'r [Value<'a>],
    ) -> impl Iterator<Item = &'r Value<'a>> + 'r {
        let picks = &self.picks[i * self.width..(i + 1) * self.width];
        slots
            .iter()
            .zip(picks)
            .map(move |(s, p)| pick(record, *s, *p))
    }
}

#[inline]
fn pick<'r, 'a>(record: &'r [Value<'a>], slot: usize, p: u32) -> &'r Value<'a> {
    match (&record[slot], p) {
        (v, WHOLE) => v,
        (Value::Array(items), i) => &items[i as usize],
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::OwnedValue;
    use proptest::prelude::*;

    proptest! {
        /// The index gives each key the number it was first given, finds
        /// exactly the keys inserted, and keeps them across growth, with
        /// keys that collide (a small range) and keys spread far apart.
        #[test]
        fn the_group_index_agrees_with_a_hash_map(
            keys in prop::collection::vec(
                prop_oneof![0u32..64, any::<u32>().prop_map(|k| k.min(u32::MAX - 1))],
                0..600,
            ),
            sized in any::<bool>(),
        ) {
            let mut index = if sized { GroupIndex::with_capacity(keys.len()) } else { GroupIndex::default() };
            let mut reference: std::collections::HashMap<KeyId, u32> = Default::default();
            for k in &keys {
                let next = reference.len() as u32;
                let expected = *reference.entry(*k).or_insert(next);
                prop_assert_eq!(index.find_or_insert(*k, next), expected);
            }
            prop_assert_eq!(index.len(), reference.len());
            for k in keys.iter().map(|k| k.wrapping_add(1)).chain(keys.iter().copied()) {
                prop_assert_eq!(index.find(k), reference.get(&k).copied());
            }
        }
    }

    /// A new pane is sized from the pane just before it, so that a burst
    /// of groups in one pane does not reserve its size in every later one.
    #[test]
    fn a_new_pane_is_sized_from_the_pane_before_it() {
        use crate::parser::ast::AggFunc;
        let accs = [AccInput {
            spec: crate::planner::AggSpec {
                func: AggFunc::Count,
                arg: None,
                distinct: false,
            },
            slot: None,
        }];
        let mut panes: BTreeMap<i64, GroupTable> = BTreeMap::new();
        for key in 0..1000 {
            pane_table(&mut panes, 0).group_mut(key, &accs);
        }
        for key in 0..10 {
            pane_table(&mut panes, 10).group_mut(key, &accs);
        }
        let next = pane_table(&mut panes, 20);
        assert!(next.is_empty());
        assert!(
            next.accs.capacity() >= 15,
            "room for half again the groups before"
        );
        assert!(next.accs.capacity() < 100, "not the burst's size");
    }

    #[test]
    fn arrays_fan_out_to_distinct_elements() {
        let rec = vec![
            Value::Str("US".into()),
            Value::Array(vec![
                Value::Str("a".into()),
                Value::Str("b".into()),
                Value::Str("a".into()),
            ]),
        ];
        let mut k = KeyCombos::default();
        k.compute(&[0, 1], &rec);
        assert_eq!(k.len(), 2);
        let out: Vec<_> = k.key(1, &[0, 1], &rec).collect();
        assert_eq!(out, vec![&Value::Str("US".into()), &Value::Str("b".into())]);
        let empty = vec![Value::Array(vec![])];
        k.compute(&[0], &empty);
        assert!(k.is_empty());
    }

    #[test]
    fn partial_states_merge_into_the_whole() {
        use crate::parser::ast::AggFunc;
        let spec = |func, distinct| crate::planner::AggSpec {
            func,
            arg: Some("v".into()),
            distinct,
        };
        let accs = vec![
            AccInput {
                spec: spec(AggFunc::Count, false),
                slot: Some(1),
            },
            AccInput {
                spec: spec(AggFunc::Count, true),
                slot: Some(1),
            },
            AccInput {
                spec: spec(AggFunc::Sum, false),
                slot: Some(1),
            },
        ];
        let records: Vec<(i64, Vec<Value>)> = (0..40)
            .map(|i| {
                (
                    i * 250,
                    vec![
                        Value::Str(["a", "b", "c"][i as usize % 3].into()),
                        Value::Int(i % 7),
                    ],
                )
            })
            .collect();
        let ids = std::cell::RefCell::new(super::super::intern::Interner::new());
        let keys = std::cell::RefCell::new(KeyInterner::new());
        let fill = |recs: &[(i64, Vec<Value>)]| {
            let mut st = AggState::default();
            for (ts, rec) in recs {
                let k = &rec[0];
                let key = keys
                    .borrow_mut()
                    .intern(hash_values([k]), || [k].into_iter());
                let accs_of = st.table_for(Some(1000), *ts).group_mut(key, &accs);
                for (a, input) in accs_of.iter_mut().zip(&accs) {
                    match input.slot {
                        Some(s) if input.spec.distinct => {
                            let v = &rec[s];
                            let h = crate::value_map::hash_value(v);
                            a.insert_distinct(ids.borrow_mut().intern(h, v));
                        }
                        slot => a.update(slot.map(|s| &rec[s])),
                    }
                }
            }
            st
        };
        let whole = fill(&records);
        let mut merged = fill(&records[..17]);
        merged.merge(&fill(&records[17..]));
        let keys = &keys;
        let dump = |st: &AggState| {
            let mut v: Vec<String> = st
                .panes
                .iter()
                .flat_map(|(p, t)| {
                    t.groups().map(move |g| {
                        let finals: Vec<OwnedValue> = g
                            .accs
                            .iter()
                            .zip([AggFunc::Count, AggFunc::Count, AggFunc::Sum])
                            .map(|(a, f)| a.finish(f))
                            .collect();
                        format!("{p} {:?} {:?}", keys.borrow().key(g.key), finals)
                    })
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(dump(&whole), dump(&merged));
        assert_eq!(whole.group_count(), merged.group_count());
    }

    fn acc_input(func: crate::parser::ast::AggFunc, slot: Option<usize>) -> AccInput {
        AccInput {
            spec: crate::planner::AggSpec {
                func,
                arg: None,
                distinct: false,
            },
            slot,
        }
    }

    #[test]
    fn groups_keep_their_accumulators_when_the_state_gains_one() {
        use crate::parser::ast::AggFunc::{Count, Max, Sum};
        let one = vec![acc_input(Count, None)];
        let two = vec![acc_input(Count, None), acc_input(Sum, Some(0))];
        let three = vec![
            acc_input(Count, None),
            acc_input(Sum, Some(0)),
            acc_input(Max, Some(0)),
        ];
        let mut t = GroupTable::default();
        for key in 0..5u32 {
            for _ in 0..=key {
                t.group_mut(key, &one)[0].update(None);
            }
        }
        // The state gains a sum: old groups keep their counts, and get a
        // fresh sum when next updated.
        for (a, v) in t.group_mut(3, &two).iter_mut().zip([None, Some(7)]) {
            a.update(v.map(Value::Int).as_ref());
        }
        // A group merged in with three partials widens the table again.
        let mut other = GroupTable::default();
        for a in other.group_mut(1, &three).iter_mut() {
            a.update(Some(&Value::Int(9)));
        }
        t.merge_table(&other);
        let finals: Vec<(u32, Vec<OwnedValue>)> = t
            .groups()
            .map(|g| {
                let funcs = [Count, Sum, Max];
                let v = g.accs.iter().zip(funcs).map(|(a, f)| a.finish(f));
                (g.key, v.collect())
            })
            .collect();
        assert_eq!(
            finals,
            vec![
                (0, vec![Value::Int(1)]),
                (1, vec![Value::Int(3), Value::Int(9), Value::Int(9)]),
                (2, vec![Value::Int(3)]),
                (3, vec![Value::Int(5), Value::Int(7)]),
                (4, vec![Value::Int(5)]),
            ]
        );
        assert!(t.contains(4) && !t.contains(5));
        // Touched with all three, every group gets the ones it lacked (and
        // updates stop reading lengths: no group is short); a new group
        // touched with two of them is short until touched with three.
        for key in 0..5u32 {
            t.group_mut(key, &three)[0].update(None);
        }
        assert_eq!(t.short, 0);
        t.group_mut(5, &two);
        assert_eq!(t.short, 1);
        t.group_mut(5, &three)[2].update(Some(&Value::Int(4)));
        assert_eq!(t.short, 0);
        let lens: Vec<usize> = t.groups().map(|g| g.accs.len()).collect();
        assert_eq!(lens, [3; 6]);
        let g0: Vec<OwnedValue> = t
            .groups()
            .next()
            .unwrap()
            .accs
            .iter()
            .zip([Count, Sum, Max])
            .map(|(a, f)| a.finish(f))
            .collect();
        assert_eq!(g0, [Value::Int(2), Value::Null, Value::Null]);
    }

    #[test]
    fn group_lookup_by_interned_key() {
        let accs = vec![AccInput {
            spec: crate::planner::AggSpec {
                func: crate::parser::ast::AggFunc::Count,
                arg: None,
                distinct: false,
            },
            slot: None,
        }];
        let mut t = GroupTable::default();
        let mut keys = KeyInterner::new();
        let k1 = Value::Str("x".into());
        let h = hash_values([&k1]);
        let id = keys.intern(h, || [&k1].into_iter());
        let k2 = Value::Str(String::from("x").into());
        assert_eq!(keys.intern(h, || [&k2].into_iter()), id);
        t.group_mut(id, &accs)[0].update(None);
        t.group_mut(keys.intern(h, || [&k2].into_iter()), &accs)[0].update(None);
        assert_eq!(t.len(), 1);
        assert_eq!(keys.key(id), &[Value::Str("x".into())]);
        let g = t.groups().next().unwrap();
        assert_eq!(
            g.accs[0].finish(crate::parser::ast::AggFunc::Count),
            Value::Int(2)
        );
    }
}
