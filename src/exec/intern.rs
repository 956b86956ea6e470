//! Interned values of `count(DISTINCT …)` arguments, and interned group
//! keys ([`KeyInterner`], by which group tables are keyed).
//!
//! A stream's [`Interner`] gives every distinct argument value a small
//! integer id, once per record however many states count it. Distinct sets
//! ([`IdSet`]) then hold ids (in place, in a log of `u32` or in a bitmap):
//! an insert compares no string and seldom allocates, and sets of panes
//! union without touching the values. Ids no set refers to any more are reclaimed
//! by [`Interner::retain`] (mark and sweep, run when the interner has grown).

use crate::value::{OwnedValue, Value};
use serde::{Deserialize, Serialize};

/// An interned value's id.
pub type ValueId = u32;

/// Marks a record whose argument is `NULL` (not counted).
pub const NO_ID: ValueId = u32::MAX;

/// Interned things of type `T` and their `u32` ids: the storage shared by
/// [`Interner`] and [`KeyInterner`]. Ids are handed out densely, freed ids
/// are reused first, and each live id keeps its thing's hash.
///
/// A thing that is (or whose key is) one short string keeps its bytes in
/// its table entry too ([`ShortText`]): looking it up again compares the
/// entry and reads neither the slot nor the string, two cache misses less
/// for the usual key (a user name, a hashtag, a country code).
#[derive(Clone, Debug)]
struct IdTable<T> {
    /// Ids, hashed by their thing's hash, with their short text.
    table: hashbrown::HashTable<IdEntry>,
    /// Id → (hash, thing); `None` for a free id.
    slots: Vec<Option<(u64, T)>>,
    /// Free ids, reused first.
    free: Vec<u32>,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable {
            table: hashbrown::HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

/// Longest text kept in a table entry.
const SHORT_TEXT: usize = 11;

/// A string of at most [`SHORT_TEXT`] bytes, as kept in a table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShortText {
    len: u8,
    bytes: [u8; SHORT_TEXT],
}

impl ShortText {
    /// The short text of `v` when it is a string of at most
    /// [`SHORT_TEXT`] bytes. A string equals only a string with the same
    /// bytes (grouping equality), so equal short texts are equal values.
    #[inline]
    fn of(v: &Value<'_>) -> Option<ShortText> {
        match v {
            Value::Str(s) if s.len() <= SHORT_TEXT => {
                let mut bytes = [0; SHORT_TEXT];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Some(ShortText {
                    len: s.len() as u8,
                    bytes,
                })
            }
            _ => None,
        }
    }

    /// The text of an entry whose thing is not one short string (no string
    /// has this length).
    const NONE: ShortText = ShortText {
        len: u8::MAX,
        bytes: [0; SHORT_TEXT],
    };
}

/// A table entry: an id and, when its thing is one short string, the text
/// ([`ShortText::NONE`] otherwise).
#[derive(Clone, Copy, Debug)]
struct IdEntry {
    id: u32,
    text: ShortText,
}

impl<T> IdTable<T> {
    /// The id of the thing whose hash is `hash`, whose short text is
    /// `short` (`Some` exactly for one short string) and for which `same`
    /// holds; when there is none, `make()` is stored under a new id.
    #[inline]
    fn intern(
        &mut self,
        hash: u64,
        short: Option<ShortText>,
        same: impl Fn(&T) -> bool,
        make: impl FnOnce() -> T,
    ) -> u32 {
        let slots = &mut self.slots;
        let entry = match short {
            // Equal short texts are equal things: the entry answers.
            Some(t) => self.table.entry(
                hash,
                |e| e.text == t,
                |e| slots[e.id as usize].as_ref().map_or(0, |(h, _)| *h),
            ),
            None => self.table.entry(
                hash,
                |e| {
                    e.text == ShortText::NONE
                        && matches!(&slots[e.id as usize], Some((h, t)) if *h == hash && same(t))
                },
                |e| slots[e.id as usize].as_ref().map_or(0, |(h, _)| *h),
            ),
        };
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => e.get().id,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                let value = Some((hash, make()));
                let id = match self.free.pop() {
                    Some(id) => {
                        slots[id as usize] = value;
                        id
                    }
                    None => {
                        slots.push(value);
                        u32::try_from(slots.len() - 1).expect("fewer than 2^32 ids")
                    }
                };
                slot.insert(IdEntry {
                    id,
                    text: short.unwrap_or(ShortText::NONE),
                });
                id
            }
        }
    }

    /// The thing of a live id.
    #[inline]
    fn get(&self, id: u32) -> Option<&T> {
        self.slots
            .get(id as usize)
            .and_then(|v| v.as_ref())
            .map(|(_, v)| v)
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn id_bound(&self) -> usize {
        self.slots.len()
    }

    fn retain(&mut self, live: &[bool]) {
        let slots = &mut self.slots;
        let free = &mut self.free;
        self.table.retain(|e| {
            let keep = live.get(e.id as usize).copied().unwrap_or(false);
            if !keep {
                slots[e.id as usize] = None;
                free.push(e.id);
            }
            keep
        });
    }

    fn entries(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, v)| v.as_ref().map(|(_, v)| (id as u32, v)))
    }
}

/// Values and their ids.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    ids: IdTable<OwnedValue>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The id of `v`, whose hash ([`crate::value_map::hash_value`]) is
    /// `hash`, assigned when `v` is new.
    #[inline]
    pub fn intern(&mut self, hash: u64, v: &Value<'_>) -> ValueId {
        self.ids
            .intern(hash, ShortText::of(v), |w| w == v, || v.to_owned_value())
    }

    /// The value of a live id.
    pub fn value(&self, id: ValueId) -> Option<&OwnedValue> {
        self.ids.get(id)
    }

    /// Number of live ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no value is interned.
    pub fn is_empty(&self) -> bool {
        self.ids.len() == 0
    }

    /// Frees every id for which `live` is false (ids beyond `live`'s length
    /// are freed too). Freed ids are reused for new values.
    pub fn retain(&mut self, live: &[bool]) {
        self.ids.retain(live);
    }

    /// One past the largest id handed out (the length a `live` mask needs).
    pub fn id_bound(&self) -> usize {
        self.ids.id_bound()
    }

    /// The live ids with their values, in id order (what a checkpoint keeps,
    /// since distinct sets are serialized as ids).
    pub fn entries(&self) -> impl Iterator<Item = (ValueId, &OwnedValue)> + '_ {
        self.ids.entries()
    }

    /// An interner that gives each value of `entries` its listed id (the
    /// inverse of [`Interner::entries`]); `hash` is the value hash of
    /// [`Interner::intern`]. Ids not listed are free. Fails on a repeated
    /// id or value, or on [`NO_ID`].
    pub fn from_entries(
        entries: impl IntoIterator<Item = (ValueId, OwnedValue)>,
        hash: impl Fn(&OwnedValue) -> u64,
    ) -> Result<Interner, String> {
        let mut ids = IdTable::default();
        for (id, value) in entries {
            if id == NO_ID {
                return Err("interned value with the reserved id".into());
            }
            let slot = id as usize;
            if ids.slots.len() <= slot {
                ids.slots.resize_with(slot + 1, || None);
            }
            if ids.slots[slot].is_some() {
                return Err(format!("interned id {id} given twice"));
            }
            let h = hash(&value);
            let slots = &ids.slots;
            if ids
                .table
                .find(
                    h,
                    |x| matches!(&slots[x.id as usize], Some((xh, w)) if *xh == h && *w == value),
                )
                .is_some()
            {
                return Err(format!("interned value {value:?} given twice"));
            }
            let short = ShortText::of(&value);
            ids.slots[slot] = Some((h, value));
            let slots = &ids.slots;
            let entry = IdEntry {
                id,
                text: short.unwrap_or(ShortText::NONE),
            };
            ids.table.insert_unique(h, entry, |x| {
                slots[x.id as usize].as_ref().map_or(0, |(h, _)| *h)
            });
        }
        ids.free = (0..ids.slots.len())
            .rev()
            .filter(|i| ids.slots[*i].is_none())
            .map(|i| i as ValueId)
            .collect();
        Ok(Interner { ids })
    }
}

/// An interned group key's id ([`KeyInterner`]).
pub type KeyId = u32;

/// Group keys (lists of values) and their ids.
///
/// A stream's group tables are keyed by these ids: a key is interned once per
/// record and key list (phase 2a), and every state that groups the record
/// then probes its table with a `u32`. Keys are equal when their values are
/// ([`Value`]'s `==`, so `5.0` is `5`); an id keeps the values of the first
/// record that interned it, which is the form results show. Ids no table
/// refers to any more are reclaimed by [`KeyInterner::retain`].
#[derive(Clone, Debug, Default)]
pub struct KeyInterner {
    ids: IdTable<Box<[OwnedValue]>>,
}

impl KeyInterner {
    /// An empty interner.
    pub fn new() -> KeyInterner {
        KeyInterner::default()
    }

    /// The id of the key whose values `key()` yields and whose hash
    /// ([`crate::value_map::hash_values`]) is `hash`, assigned when new.
    #[inline]
    pub fn intern<'v, 'a: 'v, I>(&mut self, hash: u64, key: impl Fn() -> I) -> KeyId
    where
        I: Iterator<Item = &'v Value<'a>>,
    {
        // Keys of different lengths can hash alike (a trailing `NULL` may
        // add nothing to the hash), and keys of every key list share ids.
        let (mut len, mut first) = (0, None);
        for v in key() {
            first = first.or(Some(v));
            len += 1;
        }
        let short = first.filter(|_| len == 1).and_then(ShortText::of);
        self.ids.intern(
            hash,
            short,
            |k| k.len() == len && k.iter().zip(key()).all(|(a, b)| same_value(a, b)),
            || key().map(|v| v.to_owned_value()).collect(),
        )
    }

    /// The values of a live id (empty for a free one).
    #[inline]
    pub fn key(&self, id: KeyId) -> &[OwnedValue] {
        self.ids.get(id).map_or(&[], |k| &k[..])
    }

    /// Number of live ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no key is interned.
    pub fn is_empty(&self) -> bool {
        self.ids.len() == 0
    }

    /// One past the largest id handed out (the length a `live` mask needs).
    pub fn id_bound(&self) -> usize {
        self.ids.id_bound()
    }

    /// Frees every id for which `live` is false (ids beyond `live`'s length
    /// are freed too). Freed ids are reused for new keys.
    pub fn retain(&mut self, live: &[bool]) {
        self.ids.retain(live);
    }
}

/// Grouping equality ([`Value`]'s `==`), with the common cases first.
#[inline]
pub fn same_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.as_bytes() == y.as_bytes(),
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => a == b,
    }
}

/// Spreads an id over 64 bits for hash tables.
#[inline]
pub fn id_hash(id: ValueId) -> u64 {
    (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A set of interned values (a `count(DISTINCT …)` partial). Serialized as
/// the list of its ids, which refer to the stream's [`Interner`].
///
/// Three forms, chosen by size. Up to [`SMALL_SET`] ids are held in place,
/// unordered, and found by a linear scan: no allocation and no second
/// cache line (distinct users of one hashtag in one pane). Larger sets are
/// logs: an insert appends the id without looking for it, and the log is
/// deduplicated whenever it has doubled since it last was, so it holds at
/// most about twice its distinct ids. An insert thus writes at the log's
/// end, one cache line that repeated inserts share, where a hash table or
/// a bitmap would be read at a random place (usually a cache miss: a
/// state's sets are many and are reached once per record). Counting a log
/// or a union of logs (a window's panes) marks its ids in a bitmap of the
/// thread's, which stays in cache. A set that holds a good share of all ids
/// (distinct users of a whole country) becomes a bitmap over the id space
/// when it is deduplicated, which is then smaller than the log. Interned ids
/// are dense (freed ids are reused first), so the id space is about the
/// number of live values; a bitmap that a far id would leave mostly empty
/// turns back into a log.
#[derive(Clone, Debug)]
pub struct IdSet {
    repr: SetRepr,
}

/// Ids an [`IdSet`] holds in place.
pub const SMALL_SET: usize = 8;

#[derive(Clone, Debug)]
enum SetRepr {
    /// The first `len` entries of `ids`, distinct, in insertion order.
    Small { len: u8, ids: [ValueId; SMALL_SET] },
    /// More than [`SMALL_SET`] ids, too sparse for a bitmap: `ids[..unique]`
    /// are distinct, the ids after them were appended unchecked and may
    /// repeat any id.
    Log { ids: Vec<ValueId>, unique: usize },
    /// Bit `id % 64` of word `id / 64` is set for each id; `len` of them.
    Dense { words: Vec<u64>, len: usize },
}

impl Default for IdSet {
    fn default() -> IdSet {
        IdSet {
            repr: SetRepr::Small {
                len: 0,
                ids: [0; SMALL_SET],
            },
        }
    }
}

/// Sets bit `id` of a bitmap (grown as needed); true if it was clear.
#[inline]
fn bit_insert(words: &mut Vec<u64>, id: ValueId) -> bool {
    let (w, bit) = (id as usize / 64, 1u64 << (id % 64));
    if w >= words.len() {
        words.resize(w + 1, 0);
    }
    let new = words[w] & bit == 0;
    words[w] |= bit;
    new
}

thread_local! {
    /// A bitmap over the id space, all clear between uses, in which a
    /// thread marks the ids of logs to count or deduplicate them.
    static MARKS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's clear bitmap, which `f` must leave clear
/// (by zeroing the words of the ids it marked).
fn with_marks<R>(f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
    MARKS.with(|m| match m.try_borrow_mut() {
        Ok(mut marks) => f(&mut marks),
        // Not reached (no use nests another); a fresh bitmap is as good.
        Err(_) => f(&mut Vec::new()),
    })
}

/// Whether a bitmap of `words` words is worth holding `ids` distinct ids:
/// it takes at most twice the bytes of a log of them (4 bytes an id). The
/// one bound both ways: a log becomes a bitmap within it, a bitmap that a
/// far id would take beyond it becomes a log again.
fn bitmap_fits(words: usize, ids: usize) -> bool {
    words * 8 <= ids * 4 * 2
}

/// Ids below this are always marked in the thread's bitmap (at most 2 MiB).
const MARKS_IDS: usize = 1 << 24;

/// Whether ids up to `max`, `n` of them, are marked in the thread's bitmap
/// rather than sorted: always for the ids an interner hands out (dense, so
/// below [`MARKS_IDS`] unless there are millions of values), and otherwise
/// when the bitmap takes at most 32 bytes per id (a set loaded with far ids
/// does not grow the bitmap out of proportion).
fn marks_fit(max: ValueId, n: usize) -> bool {
    (max as usize) < MARKS_IDS || max as usize / 8 <= n * 32
}

/// Number of distinct ids that `ids` gives (each time it is called).
fn count_distinct<I: Iterator<Item = ValueId>>(ids: impl Fn() -> I) -> usize {
    let (n, max) = ids().fold((0, 0), |(n, max), id| (n + 1, max.max(id)));
    if !marks_fit(max, n) {
        let mut sorted: Vec<ValueId> = ids().collect();
        sorted.sort_unstable();
        sorted.dedup();
        return sorted.len();
    }
    with_marks(|marks| {
        let n = ids().filter(|&id| bit_insert(marks, id)).count();
        for id in ids() {
            marks[id as usize / 64] = 0;
        }
        n
    })
}

impl IdSet {
    /// An empty set.
    pub fn new() -> IdSet {
        IdSet::default()
    }

    /// Adds `id`.
    #[inline]
    pub fn insert(&mut self, id: ValueId) {
        match &mut self.repr {
            SetRepr::Small { len, ids } => {
                let n = *len as usize;
                if ids[..n].contains(&id) {
                    return;
                }
                if n < SMALL_SET {
                    ids[n] = id;
                    *len += 1;
                    return;
                }
                let mut log = Vec::with_capacity(4 * SMALL_SET);
                log.extend_from_slice(ids);
                log.push(id);
                self.repr = SetRepr::Log {
                    ids: log,
                    unique: SMALL_SET + 1,
                };
            }
            SetRepr::Log { ids, unique } => {
                ids.push(id);
                if ids.len() >= 2 * *unique {
                    self.deduplicate();
                }
            }
            SetRepr::Dense { words, len } => {
                let need = id as usize / 64 + 1;
                // A far id would leave the bitmap mostly empty: back to a
                // log when it would take over twice the log's bytes.
                if need > words.len() && !bitmap_fits(need, *len) {
                    let mut ids: Vec<ValueId> = self.iter().collect();
                    ids.push(id);
                    let unique = ids.len();
                    self.repr = SetRepr::Log { ids, unique };
                    return;
                }
                *len += usize::from(bit_insert(words, id));
            }
        }
    }

    /// Drops the repeated ids of a log; then turns it into a bitmap when
    /// the bitmap (one bit per id up to the largest) takes at most twice
    /// the bytes of the log's distinct ids.
    #[cold]
    fn deduplicate(&mut self) {
        let SetRepr::Log { ids, unique } = &mut self.repr else {
            return;
        };
        let max = ids.iter().copied().max().unwrap_or(0);
        if marks_fit(max, ids.len()) {
            with_marks(|marks| {
                ids.retain(|&id| bit_insert(marks, id));
                for &id in ids.iter() {
                    marks[id as usize / 64] = 0;
                }
            });
        } else {
            ids.sort_unstable();
            ids.dedup();
        }
        *unique = ids.len();
        let words = max as usize / 64 + 1;
        if !bitmap_fits(words, *unique) {
            return;
        }
        let mut bits = vec![0u64; words];
        for &id in ids.iter() {
            bit_insert(&mut bits, id);
        }
        let len = *unique;
        self.repr = SetRepr::Dense { words: bits, len };
    }

    /// True if `id` is in the set.
    pub fn contains(&self, id: ValueId) -> bool {
        match &self.repr {
            SetRepr::Small { len, ids } => ids[..*len as usize].contains(&id),
            SetRepr::Log { ids, .. } => ids.contains(&id),
            SetRepr::Dense { words, .. } => words
                .get(id as usize / 64)
                .is_some_and(|w| w & (1 << (id % 64)) != 0),
        }
    }

    /// Adds every id of `other`.
    pub fn union(&mut self, other: &IdSet) {
        for id in other.iter() {
            self.insert(id);
        }
    }

    /// Number of distinct values in the union of `sets`, without building it
    /// when there is only one.
    pub fn union_len<'s>(sets: impl Iterator<Item = &'s IdSet> + Clone) -> usize {
        let mut two = sets.clone();
        match (two.next(), two.next()) {
            (None, _) => 0,
            (Some(one), None) => one.len(),
            _ => {
                let total: usize = sets.clone().map(|s| s.logged()).sum();
                if total <= UNION_SCAN_MAX {
                    // Few ids: a linear scan of those seen beats marking.
                    let mut seen = [0 as ValueId; UNION_SCAN_MAX];
                    let mut n = 0;
                    for id in sets.flat_map(|s| s.iter()) {
                        if !seen[..n].contains(&id) {
                            seen[n] = id;
                            n += 1;
                        }
                    }
                    return n;
                }
                if sets
                    .clone()
                    .any(|s| matches!(s.repr, SetRepr::Dense { .. }))
                {
                    // Bitmaps are ORed word by word, other ids set one by one.
                    let mut bits: Vec<u64> = Vec::new();
                    for s in sets {
                        match &s.repr {
                            SetRepr::Dense { words, .. } => {
                                if bits.len() < words.len() {
                                    bits.resize(words.len(), 0);
                                }
                                for (b, w) in bits.iter_mut().zip(words) {
                                    *b |= w;
                                }
                            }
                            _ => {
                                for id in s.iter() {
                                    bit_insert(&mut bits, id);
                                }
                            }
                        }
                    }
                    return bits.iter().map(|w| w.count_ones() as usize).sum();
                }
                count_distinct(|| sets.clone().flat_map(|s| s.iter()))
            }
        }
    }

    /// The ids, in no particular order; an id inserted again since a log
    /// was last deduplicated may come more than once.
    pub fn iter(&self) -> impl Iterator<Item = ValueId> + '_ {
        let (listed, dense) = match &self.repr {
            SetRepr::Small { len, ids } => (&ids[..*len as usize], &[][..]),
            SetRepr::Log { ids, .. } => (&ids[..], &[][..]),
            SetRepr::Dense { words, .. } => (&[][..], &words[..]),
        };
        let bits = dense.iter().enumerate().flat_map(|(w, word)| {
            let mut word = *word;
            std::iter::from_fn(move || {
                (word != 0).then(|| {
                    let b = word.trailing_zeros();
                    word &= word - 1;
                    (w * 64) as ValueId + b
                })
            })
        });
        listed.iter().copied().chain(bits)
    }

    /// Ids [`IdSet::iter`] gives, repeats counted (bitmaps: their `len`).
    fn logged(&self) -> usize {
        match &self.repr {
            SetRepr::Small { len, .. } => *len as usize,
            SetRepr::Log { ids, .. } => ids.len(),
            SetRepr::Dense { len, .. } => *len,
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        match &self.repr {
            SetRepr::Small { len, .. } => *len as usize,
            SetRepr::Log { ids, unique } if *unique == ids.len() => *unique,
            SetRepr::Log { ids, .. } => count_distinct(|| ids.iter().copied()),
            SetRepr::Dense { len, .. } => *len,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rough bytes held beyond the set itself.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            SetRepr::Small { .. } => 0,
            SetRepr::Log { ids, .. } => ids.capacity() * 4,
            SetRepr::Dense { words, .. } => words.len() * 8,
        }
    }
}

/// Largest union of distinct sets (counting repeats) counted by a linear
/// scan rather than by marking ids in a bitmap.
const UNION_SCAN_MAX: usize = 32;

impl Serialize for IdSet {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match &self.repr {
            SetRepr::Log { ids, unique } if *unique < ids.len() => {
                let mut distinct = self.clone();
                distinct.deduplicate();
                ser.collect_seq(distinct.iter())
            }
            _ => ser.collect_seq(self.iter()),
        }
    }
}

impl<'de> Deserialize<'de> for IdSet {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let ids = Vec::<ValueId>::deserialize(de)?;
        let mut set = IdSet::new();
        for id in ids {
            set.insert(id);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_map::hash_value;
    use proptest::strategy::{Just, Strategy};

    fn intern(i: &mut Interner, v: Value<'_>) -> ValueId {
        i.intern(hash_value(&v), &v)
    }

    #[test]
    fn equal_values_share_an_id() {
        let mut i = Interner::new();
        let a = intern(&mut i, Value::Str("ann".into()));
        let b = intern(&mut i, Value::Str(String::from("bob").into()));
        assert_ne!(a, b);
        assert_eq!(intern(&mut i, Value::Str("ann".into())), a);
        assert_eq!(
            intern(&mut i, Value::Int(5)),
            intern(&mut i, Value::Float(5.0)),
            "5.0 counts as 5"
        );
        assert_eq!(i.len(), 3);
        assert_eq!(i.value(b), Some(&Value::Str("bob".into())));
    }

    #[test]
    fn retain_frees_and_reuses_ids() {
        let mut i = Interner::new();
        let a = intern(&mut i, Value::Str("a".into()));
        let b = intern(&mut i, Value::Str("b".into()));
        let mut live = vec![false; i.id_bound()];
        live[b as usize] = true;
        i.retain(&live);
        assert_eq!(i.len(), 1);
        assert_eq!(i.value(a), None);
        assert_eq!(intern(&mut i, Value::Str("b".into())), b);
        let c = intern(&mut i, Value::Str("c".into()));
        assert_eq!(c, a, "a freed id is reused");
        assert_eq!(i.value(c), Some(&Value::Str("c".into())));
    }

    #[test]
    fn keys_intern_by_value_and_are_reclaimed() {
        use crate::value_map::hash_values;
        let mut keys = KeyInterner::new();
        let mut intern = |k: &[Value<'_>]| keys.intern(hash_values(k.iter()), || k.iter());
        let a = intern(&[Value::Str("a".into()), Value::Int(5)]);
        let b = intern(&[Value::Str("a".into()), Value::Int(6)]);
        assert_ne!(a, b);
        assert_eq!(intern(&[Value::Str("a".into()), Value::Float(5.0)]), a);
        let empty = intern(&[]);
        assert_eq!(intern(&[]), empty);
        assert_eq!(keys.len(), 3);
        // Same hash, other length: still another key.
        let x = [Value::Float(2.5)];
        let xn = [Value::Float(2.5), Value::Null];
        let short = keys.intern(hash_values(x.iter()), || x.iter());
        let long = keys.intern(hash_values(x.iter()), || xn.iter());
        assert_ne!(short, long);
        assert_eq!(keys.key(long).len(), 2);
        assert_eq!(keys.key(a), &[Value::Str("a".into()), Value::Int(5)]);
        let mut live = vec![true; keys.id_bound()];
        live[a as usize] = false;
        keys.retain(&live);
        assert_eq!(keys.len(), 4);
        assert!(keys.key(a).is_empty());
        let one = [Value::Int(1)];
        let c = keys.intern(hash_values(one.iter()), || one.iter());
        assert_eq!(c, a, "a freed id is reused");
        assert_eq!(keys.key(c), &[Value::Int(1)]);
    }

    /// Values that are equal in many ways: strings on both sides of
    /// [`SHORT_TEXT`] bytes, digit strings, integers and floats equal to them.
    fn tricky_value() -> impl Strategy<Value = OwnedValue> {
        proptest::prop_oneof![
            "[ab]{0,13}".prop_map(|s| Value::Str(s.into())),
            "[12]{1,2}".prop_map(|s| Value::Str(s.into())),
            (0i64..3).prop_map(Value::Int),
            proptest::prop_oneof![Just(1.0), Just(2.0), Just(2.5)].prop_map(Value::Float),
            Just(Value::Null),
        ]
    }

    proptest::proptest! {
        /// Values and one- or two-value keys get the same id exactly when
        /// they are equal (grouping equality), with their own hashes and
        /// with one hash for all (every lookup then meets every entry,
        /// short texts and others).
        #[test]
        fn ids_are_shared_exactly_by_equal_values(
            values in proptest::collection::vec((tricky_value(), 1usize..3), 0..60),
            collide in proptest::bool::ANY,
        ) {
            use crate::value_map::hash_values;
            let mut interner = Interner::new();
            let mut keys = KeyInterner::new();
            let mut seen: Vec<(Vec<OwnedValue>, ValueId, KeyId)> = Vec::new();
            for (v, len) in &values {
                let id = interner.intern(if collide { 7 } else { hash_value(v) }, v);
                let key: Vec<OwnedValue> = std::iter::once(v.clone())
                    .chain((*len == 2).then_some(Value::Null))
                    .collect();
                let hash = if collide { 7 } else { hash_values(key.iter()) };
                let kid = keys.intern(hash, || key.iter());
                for (k, wid, wkid) in &seen {
                    proptest::prop_assert_eq!(k[0] == *v, *wid == id, "{:?} and {:?}", k[0], v);
                    proptest::prop_assert_eq!(*k == key, *wkid == kid, "{:?} and {:?}", k, key);
                }
                seen.push((key, id, kid));
            }
        }

        /// Sets in place, in logs and in bitmaps (and the switches from one
        /// to the next) hold what a `BTreeSet` holds; unions and union
        /// counts (by scan, by marking or by bitmap) agree with it, and a
        /// set saved and loaded holds the same ids.
        #[test]
        fn sets_hold_what_a_btree_set_holds(
            lists in proptest::collection::vec(
                proptest::prop_oneof![Just(40u32), Just(300u32), Just(5000u32)]
                    .prop_flat_map(|r| proptest::collection::vec(0..r, 0..400)),
                1..5,
            ),
            probe in 0u32..320,
        ) {
            use std::collections::BTreeSet;
            let mut sets = Vec::new();
            let mut models = Vec::new();
            for list in &lists {
                let mut set = IdSet::new();
                let mut model = BTreeSet::new();
                for &id in list {
                    set.insert(id);
                    model.insert(id);
                }
                proptest::prop_assert_eq!(set.len(), model.len());
                proptest::prop_assert_eq!(set.iter().collect::<BTreeSet<_>>(), model.clone());
                proptest::prop_assert_eq!(set.contains(probe), model.contains(&probe));
                sets.push(set);
                models.push(model);
            }
            let all: BTreeSet<u32> = models.iter().flatten().copied().collect();
            let refs: Vec<&IdSet> = sets.iter().collect();
            proptest::prop_assert_eq!(IdSet::union_len(refs.iter().copied()), all.len());
            let mut merged = IdSet::new();
            for s in &sets {
                merged.union(s);
            }
            proptest::prop_assert_eq!(merged.iter().collect::<BTreeSet<_>>(), all);
            let json = serde_json::to_string(&merged).unwrap();
            let back: IdSet = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(back.iter().collect::<BTreeSet<_>>(), merged.iter().collect());
        }
    }

    #[test]
    fn a_bitmap_up_to_twice_the_log_replaces_it() {
        // 128 ids 60 apart: a bitmap of 120 words (960 bytes) against a
        // log of 512 bytes.
        let mut set = IdSet::new();
        for id in (0..128).map(|i| i * 60) {
            set.insert(id);
        }
        assert!(matches!(set.repr, SetRepr::Dense { .. }));
        assert_eq!(set.len(), 128);
        assert!(set.contains(7620) && !set.contains(7621));
        // 128 ids 200 apart would need 3,200 bytes of bitmap: a log.
        let mut sparse = IdSet::new();
        for id in (0..128).map(|i| i * 200) {
            sparse.insert(id);
        }
        assert!(matches!(sparse.repr, SetRepr::Log { .. }));
        assert_eq!(sparse.len(), 128);
    }

    #[test]
    fn a_far_id_turns_a_bitmap_back_into_a_log() {
        let mut set = IdSet::new();
        for id in 0..256 {
            set.insert(id);
        }
        assert!(
            matches!(set.repr, SetRepr::Dense { .. }),
            "dense ids make a bitmap"
        );
        set.insert(10_000_000);
        assert!(matches!(set.repr, SetRepr::Log { .. }));
        set.insert(10_000_000);
        assert!(set.heap_bytes() < 64 << 10, "{} bytes", set.heap_bytes());
        assert_eq!(set.len(), 257);
        assert!(set.contains(255) && set.contains(10_000_000) && !set.contains(256));
    }

    #[test]
    fn a_log_counts_and_saves_each_id_once() {
        // 20 ids make a log (deduplicated at 18), then 7 repeats wait in it.
        let mut set = IdSet::new();
        for id in (0..20).chain(0..7) {
            set.insert(id * 1000);
        }
        let SetRepr::Log { ids, unique } = &set.repr else {
            panic!("a log: {:?}", set.repr);
        };
        assert!(*unique < ids.len(), "repeats are waiting: {ids:?}");
        assert_eq!(set.len(), 20);
        let mut other = IdSet::new();
        other.insert(19_000);
        other.insert(20_000);
        assert_eq!(IdSet::union_len([&set, &other].into_iter()), 21);
        let saved: Vec<ValueId> =
            serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        let mut sorted = saved.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).map(|i| i * 1000).collect::<Vec<_>>());
    }

    #[test]
    fn far_ids_are_counted_without_a_bitmap_as_large() {
        // Ids near the top of the range (a damaged checkpoint): counted and
        // deduplicated by sorting, not in a bitmap of half a gigabyte.
        let mut set = IdSet::new();
        for id in (0..20).chain(0..20).map(|i| u32::MAX - 1 - i * 7) {
            set.insert(id);
        }
        assert_eq!(set.len(), 20);
        let other: IdSet = serde_json::from_str("[4294967294, 5]").unwrap();
        assert_eq!(IdSet::union_len([&set, &other].into_iter()), 21);
        assert!(MARKS.with(|m| m.borrow().len()) <= MARKS_IDS / 64);
    }

    #[test]
    fn sets_union_and_count() {
        let mut x = IdSet::new();
        let mut y = IdSet::new();
        for id in [1, 2, 3, 2] {
            x.insert(id);
        }
        for id in [3, 4] {
            y.insert(id);
        }
        assert_eq!(x.len(), 3);
        assert_eq!(IdSet::union_len([&x, &y].into_iter()), 4);
        x.union(&y);
        assert_eq!(x.len(), 4);
        assert!(x.contains(4) && !x.contains(5));
        let json = serde_json::to_string(&x).unwrap();
        let back: IdSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back.len(), 4);
    }

    #[test]
    fn entries_rebuild_the_same_ids() {
        let mut i = Interner::new();
        let ids: Vec<ValueId> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| intern(&mut i, Value::Str((*s).into())))
            .collect();
        let mut live = vec![true; i.id_bound()];
        live[ids[1] as usize] = false;
        i.retain(&live);
        let saved: Vec<(ValueId, OwnedValue)> =
            i.entries().map(|(id, v)| (id, v.clone())).collect();
        assert_eq!(saved.len(), 3);
        let mut back = Interner::from_entries(saved.clone(), hash_value).unwrap();
        assert_eq!(back.len(), 3);
        for (id, v) in &saved {
            assert_eq!(back.value(*id), Some(v));
            assert_eq!(intern(&mut back, v.clone()), *id);
        }
        let e = intern(&mut back, Value::Str("e".into()));
        assert_eq!(e, ids[1], "the freed id is reused, not a live one");
        let f = intern(&mut back, Value::Str("f".into()));
        assert!(!ids.contains(&f));
        let twice = vec![(0, Value::Int(1)), (1, Value::Int(1))];
        assert!(Interner::from_entries(twice, hash_value).is_err());
    }
}
