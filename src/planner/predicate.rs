//! Normalized predicates: the planner's structural form of a `WHERE` clause.
//!
//! A [`Pred`] is built from an AST expression after names and types are
//! checked. Normalization makes equal meanings equal values, so that the
//! shared graph ([`super::graph`]) can hash-cons them: `a != b` becomes
//! `NOT (a = b)`, `x = 'en'` becomes the one-element membership `x IN ('en')`,
//! `AND`/`OR` are flattened, their operands sorted and deduplicated, constant
//! operands folded (with SQL's three-valued logic), double negation removed.

use crate::parser::ast::CmpOp;
use crate::value::OwnedValue;
use std::fmt;

/// SQL's three truth values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Truth {
    /// False.
    False = 0,
    /// True.
    True = 1,
    /// Unknown (a comparison involving NULL).
    Unknown = 2,
}

impl std::ops::Not for Truth {
    type Output = Truth;

    /// Three-valued NOT.
    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

impl Truth {
    /// Three-valued AND.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    /// Three-valued OR.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }

    /// The truth of an optional boolean (`None` is unknown).
    pub fn from_option(b: Option<bool>) -> Truth {
        match b {
            Some(true) => Truth::True,
            Some(false) => Truth::False,
            None => Truth::Unknown,
        }
    }
}

/// A leaf predicate on record fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Atom {
    /// `field IN (values)`; plain equality is the one-value case. When
    /// `has_null` is set a value outside the set gives unknown, not false.
    In {
        /// The field tested.
        field: String,
        /// The non-null values, sorted and deduplicated.
        values: Vec<OwnedValue>,
        /// The list contained `NULL`.
        has_null: bool,
    },
    /// `field op value` for the order comparisons `< <= > >=`.
    Cmp {
        /// The field tested.
        field: String,
        /// The operator (never `=` or `!=`).
        op: CmpOp,
        /// The literal, never `NULL`.
        value: OwnedValue,
    },
    /// `left op right` between two fields.
    CmpFields {
        /// Left field.
        left: String,
        /// Operator.
        op: CmpOp,
        /// Right field.
        right: String,
    },
    /// `field CONTAINS 'lit'`.
    Contains {
        /// The field searched.
        field: String,
        /// The literal.
        literal: String,
    },
    /// `field MATCHES 'regex'`.
    Matches {
        /// The field searched.
        field: String,
        /// The pattern.
        regex: String,
    },
    /// `field IS NULL`.
    IsNull {
        /// The field tested.
        field: String,
    },
}

impl Atom {
    /// The record field the atom reads first (the left one for field pairs).
    pub fn field(&self) -> &str {
        match self {
            Atom::In { field, .. }
            | Atom::Cmp { field, .. }
            | Atom::Contains { field, .. }
            | Atom::Matches { field, .. }
            | Atom::IsNull { field } => field,
            Atom::CmpFields { left, .. } => left,
        }
    }

    /// Every field the atom reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Atom::CmpFields { left, right, .. } => vec![left, right],
            other => vec![other.field()],
        }
    }
}

/// A normalized predicate tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pred {
    /// A constant truth value (e.g. `x = NULL` is always unknown).
    Const(Truth),
    /// A leaf.
    Atom(Atom),
    /// Conjunction of two or more operands, sorted, without duplicates.
    And(Vec<Pred>),
    /// Disjunction of two or more operands, sorted, without duplicates.
    Or(Vec<Pred>),
    /// Negation (never of a negation or a constant).
    Not(Box<Pred>),
}

impl Pred {
    /// `NOT p`, simplified.
    pub fn negate(p: Pred) -> Pred {
        match p {
            Pred::Not(inner) => *inner,
            Pred::Const(t) => Pred::Const(!t),
            other => Pred::Not(Box::new(other)),
        }
    }

    /// `AND` of the operands, flattened, folded, sorted and deduplicated.
    pub fn and(parts: Vec<Pred>) -> Pred {
        Self::junction(parts, true)
    }

    /// `OR` of the operands, flattened, folded, sorted and deduplicated.
    pub fn or(parts: Vec<Pred>) -> Pred {
        Self::junction(parts, false)
    }

    fn junction(parts: Vec<Pred>, is_and: bool) -> Pred {
        // The value that decides the junction on its own, and the neutral one.
        let (absorbing, neutral) = if is_and {
            (Truth::False, Truth::True)
        } else {
            (Truth::True, Truth::False)
        };
        let mut flat = Vec::new();
        let mut stack = parts;
        stack.reverse();
        while let Some(p) = stack.pop() {
            match p {
                Pred::And(inner) if is_and => stack.extend(inner.into_iter().rev()),
                Pred::Or(inner) if !is_and => stack.extend(inner.into_iter().rev()),
                Pred::Const(t) if t == absorbing => return Pred::Const(absorbing),
                Pred::Const(t) if t == neutral => {}
                other => flat.push(other),
            }
        }
        let mut keyed: Vec<(String, Pred)> = flat.into_iter().map(|p| (p.to_string(), p)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        let mut flat: Vec<Pred> = keyed.into_iter().map(|(_, p)| p).collect();
        match flat.len() {
            0 => Pred::Const(neutral),
            1 => flat.pop().expect("one operand"),
            _ if is_and => Pred::And(flat),
            _ => Pred::Or(flat),
        }
    }
}

fn fmt_values(values: &[OwnedValue], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        fmt_value(v, f)?;
    }
    Ok(())
}

fn fmt_value(v: &OwnedValue, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        crate::value::Value::Str(s) => f.write_str(&crate::parser::ast::quote_str(s)),
        other => write!(f, "{other}"),
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::parser::ast::quote_str;
        match self {
            Atom::In {
                field,
                values,
                has_null,
            } => {
                if values.len() == 1 && !has_null {
                    write!(f, "{field} = ")?;
                    return fmt_value(&values[0], f);
                }
                write!(f, "{field} IN (")?;
                fmt_values(values, f)?;
                if *has_null {
                    f.write_str(if values.is_empty() { "NULL" } else { ", NULL" })?;
                }
                f.write_str(")")
            }
            Atom::Cmp { field, op, value } => {
                write!(f, "{field} {} ", op.as_str())?;
                fmt_value(value, f)
            }
            Atom::CmpFields { left, op, right } => write!(f, "{left} {} {right}", op.as_str()),
            Atom::Contains { field, literal } => {
                write!(f, "{field} CONTAINS {}", quote_str(literal))
            }
            Atom::Matches { field, regex } => write!(f, "{field} MATCHES {}", quote_str(regex)),
            Atom::IsNull { field } => write!(f, "{field} IS NULL"),
        }
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pred::Const(Truth::True) => f.write_str("TRUE"),
            Pred::Const(Truth::False) => f.write_str("FALSE"),
            Pred::Const(Truth::Unknown) => f.write_str("NULL"),
            Pred::Atom(a) => write!(f, "{a}"),
            Pred::Not(p) => match p.as_ref() {
                Pred::Atom(_) => write!(f, "NOT {p}"),
                _ => write!(f, "NOT ({p})"),
            },
            Pred::And(ps) | Pred::Or(ps) => {
                let sep = if matches!(self, Pred::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    match p {
                        Pred::And(_) | Pred::Or(_) => write!(f, "({p})")?,
                        _ => write!(f, "{p}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn eq(field: &str, v: &str) -> Pred {
        Pred::Atom(Atom::In {
            field: field.into(),
            values: vec![Value::Str(v.to_string().into())],
            has_null: false,
        })
    }

    #[test]
    fn and_is_order_insensitive_and_flat() {
        let a = Pred::and(vec![
            eq("lang", "en"),
            Pred::and(vec![eq("c", "US"), eq("lang", "en")]),
        ]);
        let b = Pred::and(vec![eq("c", "US"), eq("lang", "en")]);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "c = 'US' AND lang = 'en'");
    }

    #[test]
    fn constants_fold_with_three_valued_logic() {
        assert_eq!(
            Pred::and(vec![eq("a", "x"), Pred::Const(Truth::False)]),
            Pred::Const(Truth::False)
        );
        assert_eq!(
            Pred::or(vec![eq("a", "x"), Pred::Const(Truth::False)]),
            eq("a", "x")
        );
        let unknown_and = Pred::and(vec![eq("a", "x"), Pred::Const(Truth::Unknown)]);
        assert!(matches!(unknown_and, Pred::And(_)));
        assert_eq!(Pred::negate(Pred::negate(eq("a", "x"))), eq("a", "x"));
    }

    #[test]
    fn truth_tables() {
        use Truth::*;
        assert_eq!(Unknown.and(False), False);
        assert_eq!(Unknown.and(True), Unknown);
        assert_eq!(Unknown.or(True), True);
        assert_eq!(Unknown.or(False), Unknown);
        assert_eq!(!Unknown, Unknown);
    }
}
