//! The set of top-level fields a plan needs, each with a slot index.
//!
//! Decoders call [`FieldSet::slot_of`] once per key in every record, so it is
//! on the hot path. Plans usually need 2–10 fields; for those a linear scan
//! that rejects on length first beats hashing the key. Past
//! [`LINEAR_MAX`] fields a hash map takes over.

use hashbrown::HashMap;

/// Up to this many fields, lookup is a linear scan; above, a hash map.
pub const LINEAR_MAX: usize = 12;

/// Field names mapped to slots `0..len()`, in the order given.
#[derive(Clone, Debug, Default)]
pub struct FieldSet {
    names: Vec<String>,
    /// Only built when there are more than [`LINEAR_MAX`] names.
    map: Option<HashMap<Box<[u8]>, usize>>,
}

impl FieldSet {
    /// A field set whose slot `i` is `names[i]`. Names should be distinct; if
    /// one repeats, lookups give its first slot and the later ones stay empty.
    pub fn new(names: Vec<String>) -> FieldSet {
        let map = (names.len() > LINEAR_MAX).then(|| {
            let mut m = HashMap::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                m.entry(n.as_bytes().into()).or_insert(i);
            }
            m
        });
        FieldSet { names, map }
    }

    /// The slot of the field called `name` (raw, unescaped UTF-8 bytes), if
    /// the plan needs it.
    #[inline]
    pub fn slot_of(&self, name: &[u8]) -> Option<usize> {
        match &self.map {
            None => self
                .names
                .iter()
                .position(|n| n.len() == name.len() && n.as_bytes() == name),
            Some(m) => m.get(name).copied(),
        }
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no field is needed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The field names, by slot.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> FieldSet {
        FieldSet::new((0..n).map(|i| format!("field_{i}")).collect())
    }

    #[test]
    fn small_sets_find_slots() {
        let f = FieldSet::new(vec!["ts".into(), "user".into(), "lang".into()]);
        assert_eq!(f.len(), 3);
        assert_eq!(f.slot_of(b"ts"), Some(0));
        assert_eq!(f.slot_of(b"lang"), Some(2));
        assert_eq!(f.slot_of(b"langs"), None);
        assert_eq!(f.slot_of(b"lanG"), None);
        assert_eq!(f.slot_of(b""), None);
        assert_eq!(f.names()[1], "user");
    }

    #[test]
    fn large_sets_use_the_map_and_agree_with_the_scan() {
        for n in [0, 1, LINEAR_MAX, LINEAR_MAX + 1, 100] {
            let f = set(n);
            assert_eq!(f.map.is_some(), n > LINEAR_MAX);
            for i in 0..n {
                assert_eq!(f.slot_of(format!("field_{i}").as_bytes()), Some(i));
            }
            assert_eq!(f.slot_of(b"field_x"), None);
        }
    }

    #[test]
    fn repeated_names_give_the_first_slot() {
        let f = FieldSet::new(vec!["a".into(), "a".into()]);
        assert_eq!(f.slot_of(b"a"), Some(0));
        let mut names: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        names.push("3".into());
        assert_eq!(FieldSet::new(names).slot_of(b"3"), Some(3));
    }
}
