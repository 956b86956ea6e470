//! Partial aggregates: mergeable, serializable accumulators.
//!
//! An [`Acc`] holds the partial result of one aggregate over some records.
//! Two partials of the same aggregate merge into the partial over the union
//! of their records, which is how panes combine into windows, how worker
//! threads combine their work, and (later) how machines will.

use super::intern::{IdSet, ValueId};
use crate::parser::ast::AggFunc;
use crate::planner::AggSpec;
use crate::value::{OwnedValue, Value};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A record's aggregate argument in short form, copied out of its decoded
/// slot so that aggregation reads a compact column: numbers and `NULL` as
/// they are, anything else (`Other`) read from the slot itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AccArg {
    /// `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Another kind of value: read the slot.
    Other,
}

impl AccArg {
    /// The short form of `v`.
    #[inline]
    pub fn of(v: &Value<'_>) -> AccArg {
        match v {
            Value::Null => AccArg::Null,
            Value::Int(i) => AccArg::Int(*i),
            Value::Float(f) => AccArg::Float(*f),
            _ => AccArg::Other,
        }
    }
}

/// The partial state of one aggregate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Acc {
    /// `count(*)` or `count(f)`: records (with non-null `f`).
    Count(i64),
    /// `sum(f)` and `avg(f)`: exact integer part, float part, numbers seen.
    Sum {
        /// Sum of integer inputs, exact.
        int: i128,
        /// Sum of float inputs.
        float: f64,
        /// Some input was a float (the sum is then a float).
        any_float: bool,
        /// Numeric inputs seen.
        n: i64,
    },
    /// `min(f)`.
    Min(Option<OwnedValue>),
    /// `max(f)`.
    Max(Option<OwnedValue>),
    /// `count(DISTINCT f)`: the distinct non-null values, as ids of the
    /// stream's [`super::intern::Interner`].
    Distinct(IdSet),
}

impl Acc {
    /// The empty partial for an aggregate.
    pub fn new(spec: &AggSpec) -> Acc {
        match spec.func {
            AggFunc::Count if spec.distinct => Acc::Distinct(IdSet::new()),
            AggFunc::Count => Acc::Count(0),
            AggFunc::Sum | AggFunc::Avg => Acc::Sum {
                int: 0,
                float: 0.0,
                any_float: false,
                n: 0,
            },
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
        }
    }

    /// Adds one record's value (`None` for `count(*)`). A `count(DISTINCT)`
    /// partial takes interned values instead ([`Acc::insert_distinct`]).
    #[inline]
    pub fn update(&mut self, v: Option<&Value<'_>>) {
        match self {
            Acc::Count(c) => {
                if v.is_none_or(|v| !v.is_null()) {
                    *c += 1;
                }
            }
            Acc::Sum {
                int,
                float,
                any_float,
                n,
            } => match v {
                Some(Value::Int(i)) => {
                    *int += *i as i128;
                    *n += 1;
                }
                Some(Value::Float(f)) => {
                    *float += *f;
                    *any_float = true;
                    *n += 1;
                }
                _ => {}
            },
            Acc::Min(cur) => {
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    if cur
                        .as_ref()
                        .is_none_or(|c| v.total_cmp(c) == Ordering::Less)
                    {
                        *cur = Some(v.to_owned_value());
                    }
                }
            }
            Acc::Max(cur) => {
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    if cur
                        .as_ref()
                        .is_none_or(|c| v.total_cmp(c) == Ordering::Greater)
                    {
                        *cur = Some(v.to_owned_value());
                    }
                }
            }
            Acc::Distinct(_) => debug_assert!(false, "distinct values are interned"),
        }
    }

    /// Adds one record's argument in short form; `arg` must not be
    /// [`AccArg::Other`] (pass the value to [`Acc::update`] instead). The
    /// same as [`Acc::update`] with the value, without building it for the
    /// usual cases (counts, sums, integer extremes).
    #[inline]
    pub fn update_arg(&mut self, arg: AccArg) {
        match (&mut *self, arg) {
            (_, AccArg::Other) => {
                debug_assert!(false, "other values are read from their slot");
            }
            (_, AccArg::Null) => {}
            (Acc::Count(c), _) => *c += 1,
            (Acc::Sum { int, n, .. }, AccArg::Int(i)) => {
                *int += i as i128;
                *n += 1;
            }
            (Acc::Max(Some(Value::Int(cur))), AccArg::Int(i)) => *cur = (*cur).max(i),
            (Acc::Min(Some(Value::Int(cur))), AccArg::Int(i)) => *cur = (*cur).min(i),
            (_, AccArg::Int(i)) => self.update(Some(&Value::Int(i))),
            (_, AccArg::Float(f)) => self.update(Some(&Value::Float(f))),
        }
    }

    /// Adds the interned value `id` of a non-null argument to a
    /// `count(DISTINCT)` partial (other partials ignore it).
    #[inline]
    pub fn insert_distinct(&mut self, id: ValueId) {
        if let Acc::Distinct(set) = self {
            set.insert(id);
        }
    }

    /// Adds the sum partial `other` into this one (both `sum`/`avg`
    /// partials; any other pair is left as it is).
    #[inline]
    fn add_sum(&mut self, other: &Acc) {
        if let (
            Acc::Sum {
                int,
                float,
                any_float,
                n,
            },
            Acc::Sum {
                int: i2,
                float: f2,
                any_float: a2,
                n: n2,
            },
        ) = (self, other)
        {
            *int += i2;
            *float += f2;
            *any_float |= a2;
            *n += n2;
        }
    }

    /// Merges another partial of the same aggregate into this one.
    pub fn merge(&mut self, other: &Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (a @ Acc::Sum { .. }, b @ Acc::Sum { .. }) => a.add_sum(b),
            (Acc::Min(a), Acc::Min(Some(b))) => {
                if a.as_ref().is_none_or(|x| b.total_cmp(x) == Ordering::Less) {
                    *a = Some(b.clone());
                }
            }
            (Acc::Max(a), Acc::Max(Some(b))) => {
                if a.as_ref()
                    .is_none_or(|x| b.total_cmp(x) == Ordering::Greater)
                {
                    *a = Some(b.clone());
                }
            }
            (Acc::Distinct(a), Acc::Distinct(b)) => a.union(b),
            (Acc::Min(_), Acc::Min(None)) | (Acc::Max(_), Acc::Max(None)) => {}
            (a, b) => debug_assert!(false, "merging different aggregates {a:?} and {b:?}"),
        }
    }

    /// The final value: integers for `count` and integer `sum`, a float for
    /// `avg`, `NULL` for `sum`/`avg`/`min`/`max` of no values.
    pub fn finish(&self, func: AggFunc) -> OwnedValue {
        match self {
            Acc::Count(c) => Value::Int(*c),
            Acc::Distinct(s) => Value::Int(s.len() as i64),
            Acc::Sum { n: 0, .. } => Value::Null,
            Acc::Sum {
                int,
                float,
                any_float,
                n,
            } => {
                if func == AggFunc::Avg {
                    Value::Float((*int as f64 + *float) / *n as f64)
                } else if *any_float {
                    Value::Float(*int as f64 + *float)
                } else {
                    match i64::try_from(*int) {
                        Ok(i) => Value::Int(i),
                        Err(_) => Value::Float(*int as f64),
                    }
                }
            }
            Acc::Min(v) | Acc::Max(v) => v.clone().unwrap_or(Value::Null),
        }
    }

    /// The final value over several partials of the same aggregate (at
    /// least one), without copying them (how a window is finished from its
    /// panes).
    pub fn finish_many<'a>(
        parts: impl Iterator<Item = &'a Acc> + Clone,
        func: AggFunc,
    ) -> OwnedValue {
        let mut rest = parts.clone();
        let Some(first) = rest.next() else {
            return Value::Null;
        };
        if rest.next().is_none() {
            return first.finish(func);
        }
        match first {
            Acc::Distinct(_) => Value::Int(IdSet::union_len(parts.filter_map(|p| match p {
                Acc::Distinct(s) => Some(s),
                _ => None,
            })) as i64),
            Acc::Min(_) | Acc::Max(_) => {
                let want = if matches!(first, Acc::Min(_)) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                let mut best: Option<&OwnedValue> = None;
                for p in parts {
                    if let Acc::Min(Some(v)) | Acc::Max(Some(v)) = p {
                        if best.is_none_or(|b| v.total_cmp(b) == want) {
                            best = Some(v);
                        }
                    }
                }
                best.cloned().unwrap_or(Value::Null)
            }
            // Counts and sums, the usual partials, are added up in place
            // (what `merge` does, without its match on every pair).
            Acc::Count(_) => Value::Int(
                parts
                    .map(|p| match p {
                        Acc::Count(c) => *c,
                        _ => 0,
                    })
                    .sum(),
            ),
            Acc::Sum { .. } => {
                let mut total = first.clone();
                for p in parts.skip(1) {
                    total.add_sum(p);
                }
                total.finish(func)
            }
        }
    }

    /// Rough bytes held, for state-size reporting.
    pub fn approx_bytes(&self) -> usize {
        match self {
            Acc::Distinct(s) => 48 + s.heap_bytes(),
            _ => 48,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(func: AggFunc, distinct: bool) -> AggSpec {
        AggSpec {
            func,
            arg: Some("x".into()),
            distinct,
        }
    }

    fn fold(s: &AggSpec, vals: &[Value<'_>]) -> Acc {
        // One interner per test thread, so the partials of a test share ids.
        thread_local!(static IDS: std::cell::RefCell<super::super::intern::Interner> =
            std::cell::RefCell::default());
        let mut a = Acc::new(s);
        for v in vals {
            if !s.distinct {
                a.update(Some(v));
            } else if !v.is_null() {
                let id = IDS.with(|i| i.borrow_mut().intern(crate::value_map::hash_value(v), v));
                a.insert_distinct(id);
            }
        }
        a
    }

    use proptest::prelude::*;

    proptest! {
        /// The short-form update gives what the update with the value gives,
        /// whatever mix of nulls, integers and floats comes in.
        #[test]
        fn short_form_arguments_update_as_their_values(
            args in proptest::collection::vec(
                prop_oneof![
                    Just(AccArg::Null),
                    any::<i64>().prop_map(AccArg::Int),
                    (-1e6f64..1e6).prop_map(AccArg::Float),
                ],
                0..20,
            )
        ) {
            for func in [AggFunc::Count, AggFunc::Sum, AggFunc::Avg, AggFunc::Min, AggFunc::Max] {
                let s = spec(func, false);
                let (mut short, mut long) = (Acc::new(&s), Acc::new(&s));
                for arg in &args {
                    short.update_arg(*arg);
                    let v = match *arg {
                        AccArg::Int(i) => Value::Int(i),
                        AccArg::Float(f) => Value::Float(f),
                        _ => Value::Null,
                    };
                    long.update(Some(&v));
                }
                prop_assert_eq!(short.finish(func), long.finish(func));
            }
        }
    }

    #[test]
    fn merge_equals_single_pass() {
        let vals: Vec<Value> = vec![
            Value::Int(3),
            Value::Null,
            Value::Int(7),
            Value::Float(0.5),
            Value::Int(3),
            Value::Str("z".into()),
        ];
        for (f, d) in [
            (AggFunc::Count, false),
            (AggFunc::Count, true),
            (AggFunc::Sum, false),
            (AggFunc::Avg, false),
            (AggFunc::Min, false),
            (AggFunc::Max, false),
        ] {
            let s = spec(f, d);
            let whole = fold(&s, &vals);
            let (a, b) = (fold(&s, &vals[..2]), fold(&s, &vals[2..]));
            let mut left = a.clone();
            left.merge(&b);
            assert_eq!(whole.finish(f), left.finish(f), "{f:?} distinct={d}");
            assert_eq!(
                whole.finish(f),
                Acc::finish_many([&a, &b].into_iter(), f),
                "{f:?} distinct={d}"
            );
        }
    }

    #[test]
    fn finals() {
        let ints = [Value::Int(2), Value::Int(3), Value::Null];
        assert_eq!(
            fold(&spec(AggFunc::Sum, false), &ints).finish(AggFunc::Sum),
            Value::Int(5)
        );
        assert!(
            matches!(fold(&spec(AggFunc::Avg, false), &ints).finish(AggFunc::Avg), Value::Float(f) if f == 2.5)
        );
        assert_eq!(
            fold(&spec(AggFunc::Count, false), &ints).finish(AggFunc::Count),
            Value::Int(2)
        );
        assert_eq!(
            fold(&spec(AggFunc::Sum, false), &[Value::Null]).finish(AggFunc::Sum),
            Value::Null
        );
        assert_eq!(
            fold(
                &spec(AggFunc::Max, false),
                &[Value::Str("b".into()), Value::Str("a".into())]
            )
            .finish(AggFunc::Max),
            Value::Str("b".into())
        );
    }

    #[test]
    fn partials_serialize() {
        let s = spec(AggFunc::Count, true);
        let a = fold(&s, &[Value::Int(1), Value::Int(2), Value::Int(1)]);
        let json = serde_json::to_string(&a).unwrap();
        let back: Acc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.finish(AggFunc::Count), Value::Int(2));
    }
}
