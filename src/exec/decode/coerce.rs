//! Typing decoded values against declared column types, and event time.
//!
//! Decoders produce untyped [`Value`]s; a stream that declares its columns
//! (`CREATE STREAM s (ts TIMESTAMP, n BIGINT, …)`) runs each needed field
//! through [`coerce`], which either returns the value in the column's type or
//! a human reason to reject the record.
//!
//! Timestamps are epoch milliseconds (`Int`) inside. On input they may be an
//! integer (milliseconds), a float (milliseconds, truncated toward zero) or an
//! RFC 3339 string, parsed by [`parse_rfc3339_ms`].
//!
//! For CSV, whose fields carry no types, a `TEXT` column must keep the field's
//! exact text (`007` is not the number 7): declare the types on the
//! [`CsvHeader`](super::CsvHeader) with
//! [`with_types`](super::CsvHeader::with_types), and `decode_csv` then skips
//! inference for `TEXT` columns, so `coerce` sees a `Str` there.

use crate::parser::ast::DataType;
use crate::value::Value;

/// Converts `v` to the declared type `ty`, or says why it cannot.
///
/// `NULL` passes for every type. `TIMESTAMP`: `Int` (epoch ms), `Float`
/// (truncated to ms) or an RFC 3339 string, giving `Int` ms. `BIGINT`: `Int`,
/// or a `Float` with no fractional part. `DOUBLE`: `Int` or `Float`, giving
/// `Float`. `TEXT`: `Str` only. `BOOLEAN`: `Bool` only. `T[]`: an `Array`
/// whose elements all convert to `T`.
pub fn coerce<'a>(v: Value<'a>, ty: &DataType) -> Result<Value<'a>, String> {
    let mismatch = |v: &Value<'_>| format!("field is {}, expected {ty}", v.type_name());
    match (ty, v) {
        (_, Value::Null) => Ok(Value::Null),
        (DataType::Timestamp, Value::Int(i)) => Ok(Value::Int(i)),
        (DataType::Timestamp, Value::Float(f)) => float_ms(f)
            .map(Value::Int)
            .ok_or_else(|| format!("float {f:?} is out of range for TIMESTAMP")),
        (DataType::Timestamp, Value::Str(s)) => parse_rfc3339_ms(&s)
            .map(Value::Int)
            .ok_or_else(|| format!("text {} is not an RFC 3339 timestamp", quote_short(&s))),
        (DataType::BigInt, Value::Int(i)) => Ok(Value::Int(i)),
        (DataType::BigInt, Value::Float(f)) => integral(f)
            .map(Value::Int)
            .ok_or_else(|| format!("float {f:?} is not an integer, expected BIGINT")),
        (DataType::Double, Value::Int(i)) => Ok(Value::Float(i as f64)),
        (DataType::Double, Value::Float(f)) => Ok(Value::Float(f)),
        (DataType::Text, v @ Value::Str(_)) => Ok(v),
        (DataType::Boolean, v @ Value::Bool(_)) => Ok(v),
        (DataType::Array(el), Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, x)| coerce(x, el).map_err(|e| format!("element {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (_, v) => Err(mismatch(&v)),
    }
}

/// Coerces the value in `slot` to `ty` in place, as [`coerce`] does; a
/// value that already conforms (what nearly every record's fields do) is
/// left where it is. On error the slot is left `NULL`.
pub fn coerce_in_place(slot: &mut Value<'_>, ty: &DataType) -> Result<(), String> {
    if !conforms(slot, ty) {
        *slot = coerce(std::mem::take(slot), ty)?;
    }
    Ok(())
}

/// True when `coerce(v, ty)` would give `v` back unchanged: it is `NULL` or
/// already of the type.
fn conforms(v: &Value<'_>, ty: &DataType) -> bool {
    match (ty, v) {
        (_, Value::Null)
        | (DataType::Timestamp | DataType::BigInt, Value::Int(_))
        | (DataType::Double, Value::Float(_))
        | (DataType::Text, Value::Str(_))
        | (DataType::Boolean, Value::Bool(_)) => true,
        (DataType::Array(el), Value::Array(items)) => items.iter().all(|x| conforms(x, el)),
        _ => false,
    }
}

/// The event time of a value in epoch milliseconds: an `Int` as is, a
/// `Float` truncated, an RFC 3339 string parsed; `None` for anything else
/// (including `NULL`, out-of-range floats and unparsable text).
pub fn event_time_ms(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Float(f) => float_ms(*f),
        Value::Str(s) => parse_rfc3339_ms(s),
        _ => None,
    }
}

/// A float of milliseconds truncated toward zero, if it fits an `i64`.
fn float_ms(f: f64) -> Option<i64> {
    if f.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Some(f.trunc() as i64)
    } else {
        None
    }
}

/// The integer a float equals exactly, if any.
fn integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0).then(|| float_ms(f)).flatten()
}

fn quote_short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}…", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// Parses an RFC 3339 date-time to epoch milliseconds.
///
/// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with `t` or a space
/// for `T` and `z` for `Z`. The fraction may have any number of digits and is
/// truncated to milliseconds. Second `60` (a leap second) counts as the first
/// second of the next minute. Dates are checked (no February 30th).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |at: usize, n: usize| -> Option<i64> {
        let d = b.get(at..at + n)?;
        d.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    let hour = num(11, 2)?;
    let min = num(14, 2)?;
    let sec = num(17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut ms = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 3 {
                ms = ms * 10 + (b[pos] - b'0') as i64;
            }
            pos += 1;
        }
        match pos - start {
            0 => return None,
            1 => ms *= 100,
            2 => ms *= 10,
            _ => {}
        }
    }
    let offset_min = match b.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let (oh, om) = (num(pos + 1, 2)?, num(pos + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 60 + om;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }

    #[test]
    fn conforming_values_are_what_coercion_gives_back() {
        let types = [
            DataType::Timestamp,
            DataType::BigInt,
            DataType::Double,
            DataType::Text,
            DataType::Boolean,
            DataType::Array(Box::new(DataType::Text)),
            DataType::Array(Box::new(DataType::Double)),
        ];
        let values = [
            Value::Null,
            Value::Int(7),
            Value::Float(2.5),
            s("2016-11-05T10:00:00Z"),
            Value::Bool(true),
            Value::Array(vec![s("a"), Value::Null]),
            Value::Array(vec![s("a"), Value::Int(1)]),
            Value::Array(vec![Value::Float(1.0), Value::Int(1)]),
            Value::Array(vec![]),
        ];
        let mut conforming = 0;
        for ty in &types {
            for v in &values {
                // Compared as debug text: `Int(7)` equals `Float(7.0)` as a
                // value, but coercion to DOUBLE changes it.
                let same =
                    format!("{:?}", coerce(v.clone(), ty)) == format!("{:?}", Ok::<_, String>(v));
                assert_eq!(conforms(v, ty), same, "{v:?} as {ty}");
                conforming += usize::from(same);
            }
        }
        assert!(
            conforming > 2 * types.len(),
            "NULL and each type's own values conform"
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2016-11-05T10:00:00Z"),
            Some(1_478_340_000_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-11-05t10:00:00.5z"),
            Some(1_478_340_000_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-11-05 10:00:00.123456789+01:30"),
            Some(1_478_334_600_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-11-05T10:00:00.12-00:00"),
            Some(1_478_340_000_120)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(
            parse_rfc3339_ms("2016-12-31T23:59:60Z"),
            parse_rfc3339_ms("2017-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        for bad in [
            "",
            "2016-11-05",
            "2016-11-05T10:00:00",
            "2016-11-05T10:00Z",
            "2016-11-05T10:00:00.Z",
            "2016-13-05T10:00:00Z",
            "2023-02-29T10:00:00Z",
            "2016-11-31T10:00:00Z",
            "2016-11-05T24:00:00Z",
            "2016-11-05T10:60:00Z",
            "2016-11-05T10:00:61Z",
            "2016-11-05T10:00:00+1:00",
            "2016-11-05T10:00:00+01:60",
            "2016-11-05T10:00:00Zx",
            "2016-11-05X10:00:00Z",
            "2016/11/05T10:00:00Z",
            "+016-11-05T10:00:00Z",
            "2016-11-05T10:00:00+01:00:00",
            "2016-11-05T10:00:00é",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn null_passes_every_type() {
        let arr = DataType::Array(Box::new(DataType::BigInt));
        for ty in [
            DataType::Timestamp,
            DataType::Text,
            DataType::BigInt,
            DataType::Double,
            DataType::Boolean,
            arr,
        ] {
            assert!(coerce(Value::Null, &ty).unwrap().is_null());
        }
    }

    #[test]
    fn timestamps() {
        let t = DataType::Timestamp;
        assert!(matches!(coerce(Value::Int(5), &t), Ok(Value::Int(5))));
        assert!(matches!(coerce(Value::Float(5.9), &t), Ok(Value::Int(5))));
        assert!(matches!(coerce(Value::Float(-5.9), &t), Ok(Value::Int(-5))));
        assert!(matches!(
            coerce(s("2016-11-05T10:00:00Z"), &t),
            Ok(Value::Int(1_478_340_000_000))
        ));
        assert_eq!(
            coerce(s("yesterday"), &t).unwrap_err(),
            "text \"yesterday\" is not an RFC 3339 timestamp"
        );
        assert_eq!(
            coerce(Value::Float(f64::NAN), &t).unwrap_err(),
            "float NaN is out of range for TIMESTAMP"
        );
        assert_eq!(
            coerce(Value::Float(1e300), &t).unwrap_err(),
            "float 1e300 is out of range for TIMESTAMP"
        );
        assert_eq!(
            coerce(Value::Bool(true), &t).unwrap_err(),
            "field is boolean, expected TIMESTAMP"
        );
    }

    #[test]
    fn scalars() {
        assert!(matches!(
            coerce(Value::Int(3), &DataType::BigInt),
            Ok(Value::Int(3))
        ));
        assert!(matches!(
            coerce(Value::Float(3.0), &DataType::BigInt),
            Ok(Value::Int(3))
        ));
        assert_eq!(
            coerce(Value::Float(3.5), &DataType::BigInt).unwrap_err(),
            "float 3.5 is not an integer, expected BIGINT"
        );
        assert!(coerce(Value::Float(1e19), &DataType::BigInt).is_err());
        assert_eq!(
            coerce(s("12"), &DataType::BigInt).unwrap_err(),
            "field is text, expected BIGINT"
        );
        assert!(
            matches!(coerce(Value::Int(3), &DataType::Double), Ok(Value::Float(f)) if f == 3.0)
        );
        assert!(
            matches!(coerce(Value::Float(0.5), &DataType::Double), Ok(Value::Float(f)) if f == 0.5)
        );
        assert_eq!(
            coerce(s("x"), &DataType::Double).unwrap_err(),
            "field is text, expected DOUBLE"
        );
        assert_eq!(coerce(s("x"), &DataType::Text).unwrap().as_str(), Some("x"));
        assert_eq!(
            coerce(Value::Int(1), &DataType::Text).unwrap_err(),
            "field is integer, expected TEXT"
        );
        assert_eq!(
            coerce(Value::Object("{}".into()), &DataType::Text).unwrap_err(),
            "field is object, expected TEXT"
        );
        assert!(matches!(
            coerce(Value::Bool(false), &DataType::Boolean),
            Ok(Value::Bool(false))
        ));
        assert_eq!(
            coerce(s("true"), &DataType::Boolean).unwrap_err(),
            "field is text, expected BOOLEAN"
        );
    }

    #[test]
    fn arrays() {
        let ty = DataType::Array(Box::new(DataType::Double));
        let v = coerce(
            Value::Array(vec![Value::Int(1), Value::Null, Value::Float(2.5)]),
            &ty,
        )
        .unwrap();
        assert_eq!(
            v,
            Value::Array(vec![Value::Float(1.0), Value::Null, Value::Float(2.5)])
        );
        assert!(matches!(&v, Value::Array(a) if matches!(a[0], Value::Float(_))));
        assert_eq!(
            coerce(Value::Array(vec![Value::Int(1), s("x")]), &ty).unwrap_err(),
            "element 1: field is text, expected DOUBLE"
        );
        assert_eq!(
            coerce(Value::Int(1), &ty).unwrap_err(),
            "field is integer, expected DOUBLE[]"
        );
        let nested = DataType::Array(Box::new(ty));
        assert!(coerce(
            Value::Array(vec![Value::Array(vec![Value::Int(1)])]),
            &nested
        )
        .is_ok());
    }

    #[test]
    fn event_time() {
        assert_eq!(event_time_ms(&Value::Int(7)), Some(7));
        assert_eq!(event_time_ms(&Value::Float(7.8)), Some(7));
        assert_eq!(event_time_ms(&s("1970-01-01T00:00:01Z")), Some(1000));
        assert_eq!(event_time_ms(&s("soon")), None);
        assert_eq!(event_time_ms(&Value::Null), None);
        assert_eq!(event_time_ms(&Value::Bool(true)), None);
        assert_eq!(event_time_ms(&Value::Float(f64::INFINITY)), None);
    }
}
