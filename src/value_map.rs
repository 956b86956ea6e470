//! Hashing of values and value lists with one process-wide hasher, and a map
//! keyed by owned values that borrowed values can probe without allocating.
//!
//! One hasher for everything means a group key's hash is computed once per
//! record and reused in every aggregation state that groups by those fields.
//! The seed is random per process, so crafted keys cannot force collisions.

use crate::value::{OwnedValue, Value};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;

/// The process-wide hasher.
pub fn hasher() -> &'static foldhash::fast::FixedState {
    static H: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    H.get_or_init(|| {
        let seed = foldhash::fast::RandomState::default().hash_one(0x5_0a1u64);
        foldhash::fast::FixedState::with_seed(seed)
    })
}

/// Hash of one value.
pub fn hash_value(v: &Value<'_>) -> u64 {
    hasher().hash_one(v)
}

/// Hash of a list of values (a group key).
pub fn hash_values<'v, 'a: 'v>(vals: impl IntoIterator<Item = &'v Value<'a>>) -> u64 {
    let mut h = hasher().build_hasher();
    for v in vals {
        v.hash(&mut h);
    }
    h.finish()
}

/// A hash map keyed by owned values that can be probed with borrowed ones.
#[derive(Clone, Debug, Default)]
pub struct ValueMap<V> {
    table: hashbrown::HashTable<(OwnedValue, V)>,
}

impl<V> ValueMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        ValueMap {
            table: hashbrown::HashTable::new(),
        }
    }

    /// The entry for `key`, if any.
    pub fn get(&self, key: &Value<'_>) -> Option<&V> {
        self.table
            .find(hash_value(key), |(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The entry for `key`, inserted with `make` when absent.
    pub fn entry_or_insert_with(&mut self, key: &Value<'_>, make: impl FnOnce() -> V) -> &mut V {
        let entry = self
            .table
            .entry(hash_value(key), |(k, _)| k == key, |(k, _)| hash_value(k));
        &mut entry
            .or_insert_with(|| (key.to_owned_value(), make()))
            .into_mut()
            .1
    }

    /// Inserts `key` with `value` when absent; returns whether it was absent.
    pub fn insert_if_absent(&mut self, key: &Value<'_>, value: V) -> bool {
        let mut inserted = false;
        self.entry_or_insert_with(key, || {
            inserted = true;
            value
        });
        inserted
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&OwnedValue, &V)> {
        self.table.iter().map(|(k, v)| (k, v))
    }
}

/// A set of values that keeps each value's hash (for `count(DISTINCT …)`):
/// a record's value is hashed once however many sets it goes into, and sets
/// merge without hashing again. Serialized as a list of values.
#[derive(Clone, Debug, Default)]
pub struct ValueSet {
    table: hashbrown::HashTable<(u64, OwnedValue)>,
}

impl ValueSet {
    /// An empty set.
    pub fn new() -> ValueSet {
        ValueSet::default()
    }

    /// Adds `v`, whose hash ([`hash_value`]) is `hash`; true if it was new.
    #[inline]
    pub fn insert_hashed(&mut self, hash: u64, v: &Value<'_>) -> bool {
        let entry = self
            .table
            .entry(hash, |(h, k)| *h == hash && k == v, |(h, _)| *h);
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((hash, v.to_owned_value()));
                true
            }
        }
    }

    /// Adds `v`; true if it was new.
    pub fn insert(&mut self, v: &Value<'_>) -> bool {
        self.insert_hashed(hash_value(v), v)
    }

    /// True if `v` is in the set.
    pub fn contains(&self, v: &Value<'_>) -> bool {
        let hash = hash_value(v);
        self.table
            .find(hash, |(h, k)| *h == hash && k == v)
            .is_some()
    }

    /// Adds every value of `other`.
    pub fn union(&mut self, other: &ValueSet) {
        for (h, v) in other.iter() {
            self.insert_hashed(h, v);
        }
    }

    /// The values with their hashes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &OwnedValue)> {
        self.table.iter().map(|(h, v)| (*h, v))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl serde::Serialize for ValueSet {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.iter().map(|(_, v)| v))
    }
}

impl<'de> serde::Deserialize<'de> for ValueSet {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let items = Vec::<OwnedValue>::deserialize(de)?;
        let mut set = ValueSet::new();
        for v in &items {
            set.insert(v);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_probe_finds_owned_key() {
        let mut m: ValueMap<u32> = ValueMap::new();
        *m.entry_or_insert_with(&Value::Str("en".into()), || 0) += 1;
        *m.entry_or_insert_with(&Value::Str(String::from("en").into()), || 0) += 1;
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&Value::Str("en".into())), Some(&2));
        assert_eq!(m.get(&Value::Int(5)), None);
        assert_eq!(hash_value(&Value::Int(5)), hash_value(&Value::Float(5.0)));
    }

    #[test]
    fn value_set_round_trips_through_json() {
        let mut s = ValueSet::new();
        assert!(s.insert(&Value::Int(1)));
        assert!(s.insert(&Value::Str("a".into())));
        assert!(!s.insert(&Value::Float(1.0)), "1.0 groups with 1");
        let json = serde_json::to_string(&s).unwrap();
        let back: ValueSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.contains(&Value::Int(1)));
        assert!(!back.contains(&Value::Int(2)));
    }
}
