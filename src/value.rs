//! Field values as they flow through the engine.
//!
//! A [`Value`] borrows its text from the input batch where it can (`Cow`), so
//! decoding a record allocates nothing for strings without escapes. Group
//! keys, distinct sets and results hold [`OwnedValue`]s.
//!
//! Two notions of comparison live here, and they differ on purpose:
//! - *grouping equality* (`PartialEq`/`Hash`/[`Value::total_cmp`]): `NULL` is a
//!   value like any other, `5` and `5.0` are the same number, `NaN` equals
//!   itself. Used for group keys, `count(DISTINCT)`, `min`/`max`, `ORDER BY`.
//! - *SQL comparison* ([`Value::sql_cmp`]): `NULL` or a type mismatch gives
//!   `None` (unknown), which predicates turn into SQL's third truth value.

use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A field value, possibly borrowing text from the input.
#[derive(Clone, Debug, Default)]
pub enum Value<'a> {
    /// Missing or `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (also timestamps, in epoch milliseconds).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Str(Cow<'a, str>),
    /// An array of values.
    Array(Vec<Value<'a>>),
    /// A nested JSON object, kept as its raw text.
    Object(Cow<'a, str>),
}

/// A value that owns all its data.
pub type OwnedValue = Value<'static>;

impl<'a> Value<'a> {
    /// Copies any borrowed text so the value outlives its input.
    pub fn into_owned(self) -> OwnedValue {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(v) => Value::Array(v.into_iter().map(Value::into_owned).collect()),
            Value::Object(s) => Value::Object(Cow::Owned(s.into_owned())),
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> OwnedValue {
        self.clone().into_owned()
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, for `Str` values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `f64`, for `Int` and `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "text",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }

    /// A summary of the value whose order agrees with [`Value::total_cmp`]:
    /// when `a.total_cmp(b)` is `Less`, `a.sort_prefix() <= b.sort_prefix()`.
    /// The type's rank and, for text, its first 15 bytes; equal prefixes
    /// say nothing.
    pub fn sort_prefix(&self) -> u128 {
        let rank = u128::from(self.rank()) << 120;
        match self {
            Value::Str(s) => {
                let mut bytes = [0u8; 16];
                let n = s.len().min(15);
                bytes[1..1 + n].copy_from_slice(&s.as_bytes()[..n]);
                rank | u128::from_be_bytes(bytes)
            }
            Value::Bool(b) => rank | u128::from(*b),
            _ => rank,
        }
    }

    /// SQL comparison: `None` when either side is `NULL` or the types cannot
    /// be compared (text with a number, say); numbers compare by value.
    pub fn sql_cmp(&self, other: &Value<'_>) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                cmp_numbers(self, other)
            }
            (Value::Str(a), Value::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order over all values, for `min`/`max`, `ORDER BY` and sorting
    /// output: `NULL` < booleans < numbers < text < arrays < objects.
    pub fn total_cmp(&self, other: &Value<'_>) -> Ordering {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                cmp_numbers(self, other).unwrap_or_else(|| {
                    // NaN sorts above every other number and equals itself.
                    let an = self.as_f64().is_some_and(f64::is_nan);
                    let bn = other.as_f64().is_some_and(f64::is_nan);
                    an.cmp(&bn)
                })
            }
            (Value::Str(a), Value::Str(b)) => a.as_ref().cmp(b.as_ref()),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Value::Object(a), Value::Object(b)) => a.as_ref().cmp(b.as_ref()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

fn cmp_numbers(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => cmp_int_float(*y, *x).map(Ordering::reverse),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

/// Exact comparison of an integer with a float (no rounding of large integers).
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9.223_372_036_854_776e18 {
        return Some(Ordering::Less);
    }
    if f < -9.223_372_036_854_776e18 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)),
        o => Some(o),
    }
}

/// The integer a float equals exactly, if any (so `5.0` groups with `5`).
fn float_as_int(f: f64) -> Option<i64> {
    if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

impl<'a, 'b> PartialEq<Value<'b>> for Value<'a> {
    fn eq(&self, other: &Value<'b>) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value<'_> {}

impl Hash for Value<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => state.write_u8(0),
            Value::Bool(b) => {
                state.write_u8(1);
                b.hash(state)
            }
            Value::Int(i) => {
                state.write_u8(2);
                i.hash(state)
            }
            Value::Float(f) => {
                state.write_u8(2);
                match float_as_int(*f) {
                    Some(i) => i.hash(state),
                    None if f.is_nan() => state.write_u64(u64::MAX),
                    None => f.to_bits().hash(state),
                }
            }
            Value::Str(s) => {
                state.write_u8(3);
                s.as_ref().hash(state)
            }
            Value::Array(v) => {
                state.write_u8(4);
                state.write_usize(v.len());
                for x in v {
                    x.hash(state);
                }
            }
            Value::Object(s) => {
                state.write_u8(5);
                s.as_ref().hash(state)
            }
        }
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => ser.serialize_unit(),
            Value::Bool(b) => ser.serialize_bool(*b),
            Value::Int(i) => ser.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => ser.serialize_f64(*f),
            Value::Float(_) => ser.serialize_unit(),
            Value::Str(s) => ser.serialize_str(s),
            Value::Array(v) => {
                let mut seq = ser.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Value::Object(raw) => match serde_json::value::RawValue::from_string(raw.to_string()) {
                Ok(rv) => rv.serialize(ser),
                Err(_) => ser.serialize_str(raw),
            },
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value<'static> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(de)?;
        Ok(Value::from_json(&v))
    }
}

impl Value<'static> {
    /// Converts a parsed JSON value (objects keep their JSON text).
    pub fn from_json(v: &serde_json::Value) -> OwnedValue {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(Cow::Owned(s.clone())),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Object(Cow::Owned(v.to_string())),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Object(s) => f.write_str(s),
            other => f.write_str(&serde_json::to_string(other).map_err(|_| fmt::Error)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn h(v: &Value<'_>) -> u64 {
        let mut s = DefaultHasher::new();
        v.hash(&mut s);
        s.finish()
    }

    #[test]
    fn integral_floats_group_with_integers() {
        assert_eq!(Value::Int(5), Value::Float(5.0));
        assert_eq!(h(&Value::Int(5)), h(&Value::Float(5.0)));
        assert_ne!(Value::Int(5), Value::Float(5.5));
    }

    #[test]
    fn sql_comparison_is_unknown_for_null_and_mismatches() {
        assert_eq!(Value::Null.sql_cmp(&Value::Null), None);
        assert_eq!(Value::Int(1).sql_cmp(&Value::Str("1".into())), None);
        assert_eq!(
            Value::Int(i64::MAX).sql_cmp(&Value::Float(9.223_372_036_854_776e18)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::Float(2.5).sql_cmp(&Value::Int(2)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn total_order_ranks_types() {
        let mut v = vec![
            Value::Str("a".into()),
            Value::Int(3),
            Value::Null,
            Value::Float(1.5),
            Value::Bool(true),
        ];
        v.sort_by(|a, b| a.total_cmp(b));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[null,true,1.5,3,"a"]"#
        );
    }

    fn scalar() -> impl proptest::strategy::Strategy<Value = Value<'static>> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::Int),
            (-3.0f64..3.0).prop_map(Value::Float),
            // Short and long text, sharing prefixes, with NUL bytes.
            "(user_[0-9]{0,12}|[\\x00-\\x7f]{0,3}|[a\\x00é]{0,20}|\\PC{0,17})"
                .prop_map(|s| Value::Str(s.into())),
            proptest::collection::vec((-3i64..3).prop_map(Value::Int), 0..3).prop_map(Value::Array),
        ]
    }

    proptest::proptest! {
        /// Sort prefixes never contradict the total order.
        #[test]
        fn sort_prefixes_agree_with_the_total_order(a in scalar(), b in scalar()) {
            if a.total_cmp(&b) == Ordering::Less {
                proptest::prop_assert!(a.sort_prefix() <= b.sort_prefix());
            }
            if a.total_cmp(&b) == Ordering::Equal {
                proptest::prop_assert_eq!(a.sort_prefix(), b.sort_prefix());
            }
        }
    }
}
