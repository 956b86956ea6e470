//! A validating, single-pass JSON-lines decoder.
//!
//! [`decode_json`] walks one line byte by byte (eight at a time inside
//! strings), decodes the values of the top-level keys in the [`FieldSet`] and
//! skips everything else without building it, while still checking the whole
//! line is valid JSON as `serde_json` defines it:
//!
//! - strings: the escapes `\" \\ \/ \b \f \n \r \t \uXXXX`, with surrogate
//!   pairs; a lone surrogate, an unknown escape or a raw control character
//!   (below U+0020) is an error;
//! - numbers per RFC 8259 (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`); a number
//!   too large for an `f64` is an error, as in `serde_json`;
//! - the literals `true`, `false`, `null`; no trailing commas; only
//!   whitespace (space, tab, CR, LF) around tokens and after the object.
//!
//! Values: strings borrow from the line unless they contain escapes; integers
//! that fit an `i64` become `Int` and all other numbers `Float` (as
//! `serde_json`'s `as_i64`/`as_f64`, so `-0` is `Float(-0.0)`); arrays are
//! decoded recursively; nested objects are kept as their raw text. Arrays and
//! objects may nest [`MAX_DEPTH`] levels deep, counting the line's own object.
//!
//! Floats are parsed with Rust's correctly rounded `f64` parser. `serde_json`
//! without its `float_roundtrip` feature is off by one unit in the last place
//! for some numbers of 17 or more significant digits (and so may also judge
//! differently whether a number right at `f64::MAX` is out of range); the
//! property tests use `serde_json` with `float_roundtrip` as the oracle.

use super::{DecodeError, FieldSet};
use crate::value::Value;
use std::borrow::Cow;

/// The deepest nesting of arrays and objects accepted, counting the line's
/// own top-level object as level 1.
pub const MAX_DEPTH: usize = 64;

/// Decodes one JSON line into the slots of `fields`.
///
/// `line` is one record without its line terminator. It must hold exactly
/// one JSON object (whitespace around it is allowed). For each top-level key
/// in `fields`, the value is stored in `out[slot]` (the last one wins when a
/// key repeats); other keys are validated and skipped. `out` should have
/// `fields.len()` slots, all `Value::Null`; slots beyond its length are
/// ignored. On error, `out` may have been partly filled.
pub fn decode_json<'a>(
    line: &'a str,
    fields: &FieldSet,
    out: &mut [Value<'a>],
) -> Result<(), DecodeError> {
    decode_json_in_order(line, fields, out, &mut KeyOrder::default())
}

/// The keys of the last line decoded and their slots, in the line's order.
/// JSON lines usually list their keys in the same order, so the k-th key of
/// a line is first compared with the k-th key of the line before, which
/// saves looking its name up among the wanted fields.
#[derive(Debug, Default)]
pub struct KeyOrder {
    /// Per key position: the key's raw bytes and its slot (`None` when
    /// the plan does not need it).
    keys: Vec<(Vec<u8>, Option<usize>)>,
}

impl KeyOrder {
    /// The slot of `key`, the `k`-th key of its line.
    #[inline]
    fn slot_of(&mut self, k: usize, key: &[u8], fields: &FieldSet) -> Option<usize> {
        match self.keys.get_mut(k) {
            Some((known, slot)) if known.as_slice() == key => *slot,
            Some((known, slot)) => {
                known.clear();
                known.extend_from_slice(key);
                *slot = fields.slot_of(key);
                *slot
            }
            None => {
                let slot = fields.slot_of(key);
                if k == self.keys.len() {
                    self.keys.push((key.to_vec(), slot));
                }
                slot
            }
        }
    }
}

/// [`decode_json`], remembering the order of the keys from line to line
/// in `order`. An `order` holds slots of `fields`, so it must always be
/// used with the same field set (the engine keeps one per batch part).
pub fn decode_json_in_order<'a>(
    line: &'a str,
    fields: &FieldSet,
    out: &mut [Value<'a>],
    order: &mut KeyOrder,
) -> Result<(), DecodeError> {
    let mut p = Parser {
        src: line,
        b: line.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(DecodeError::NotObject { offset: p.pos });
    }
    p.pos += 1;
    p.top_object(fields, out, order)?;
    p.skip_ws();
    if p.pos != p.b.len() {
        return Err(p.err("trailing characters after the object"));
    }
    Ok(())
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero; exact for the lowest such
/// byte (false positives appear only above a true one).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Marks the bytes of `w` that end a plain run inside a string: `"`, `\` or
/// a control character. The lowest marked byte is exact.
#[inline(always)]
pub(crate) fn special_bytes(w: u64) -> u64 {
    zero_bytes(w ^ (LO * b'"' as u64))
        | zero_bytes(w ^ (LO * b'\\' as u64))
        | (w.wrapping_sub(LO * 0x20) & !w & HI)
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[cold]
    fn err(&self, reason: &'static str) -> DecodeError {
        let reason = if self.pos >= self.b.len() {
            "unexpected end of line"
        } else {
            reason
        };
        DecodeError::Json {
            offset: self.pos,
            reason,
        }
    }

    #[cold]
    fn err_at(&self, offset: usize, reason: &'static str) -> DecodeError {
        DecodeError::Json { offset, reason }
    }

    /// The members of the top-level object; `pos` is just past its `{`.
    fn top_object(
        &mut self,
        fields: &FieldSet,
        out: &mut [Value<'a>],
        order: &mut KeyOrder,
    ) -> Result<(), DecodeError> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut k = 0;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.err("expected '\"' to start an object key"));
            }
            self.pos += 1;
            let key = self.string(true)?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let slot = order.slot_of(k, key.as_bytes(), fields);
            k += 1;
            match slot {
                Some(slot) => {
                    let v = self.value(1, true)?;
                    if let Some(o) = out.get_mut(slot) {
                        *o = v;
                    }
                }
                None => {
                    self.value(1, false)?;
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}' after object value")),
            }
        }
    }

    /// One value inside a container at nesting level `depth`. With `want`
    /// false the value is only validated and `Null` comes back.
    fn value(&mut self, depth: usize, want: bool) -> Result<Value<'a>, DecodeError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let s = self.string(want)?;
                Ok(if want { Value::Str(s) } else { Value::Null })
            }
            Some(b'-' | b'0'..=b'9') => self.number(want),
            Some(b'{') => {
                let start = self.pos;
                self.enter(depth)?;
                self.skip_object(depth + 1)?;
                Ok(if want {
                    Value::Object(Cow::Borrowed(&self.src[start..self.pos]))
                } else {
                    Value::Null
                })
            }
            Some(b'[') => {
                self.enter(depth)?;
                self.array(depth + 1, want)
            }
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            _ => Err(self.err("expected a value")),
        }
    }

    /// Steps over the `[` or `{` at `pos` that opens level `depth + 1`.
    #[inline(always)]
    fn enter(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep { offset: self.pos });
        }
        self.pos += 1;
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8], v: Value<'a>) -> Result<Value<'a>, DecodeError> {
        match self.b.get(self.pos..self.pos + word.len()) {
            Some(w) if w == word => {
                self.pos += word.len();
                Ok(v)
            }
            _ => Err(self.err_at(self.pos, "invalid literal (expected true, false or null)")),
        }
    }

    /// The elements of an array at level `depth`; `pos` is past its `[`.
    fn array(&mut self, depth: usize, want: bool) -> Result<Value<'a>, DecodeError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(if want {
                Value::Array(items)
            } else {
                Value::Null
            });
        }
        loop {
            let v = self.value(depth, want)?;
            if want {
                items.push(v);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(if want {
                        Value::Array(items)
                    } else {
                        Value::Null
                    });
                }
                _ => return Err(self.err("expected ',' or ']' after array element")),
            }
        }
    }

    /// Validates the members of an object at level `depth`; `pos` is past its
    /// `{`, and ends past its `}`.
    fn skip_object(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.err("expected '\"' to start an object key"));
            }
            self.pos += 1;
            self.string(false)?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after object key"));
            }
            self.pos += 1;
            self.skip_ws();
            self.value(depth, false)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}' after object value")),
            }
        }
    }

    /// Moves `pos` to the next `"`, `\` or control character and returns it,
    /// or to the end of the line (`None`).
    #[inline(always)]
    fn find_special(&mut self) -> Option<u8> {
        let b = self.b;
        let mut i = self.pos;
        while let Some(chunk) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let m = special_bytes(u64::from_le_bytes(w));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                self.pos = i;
                return b.get(i).copied();
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                self.pos = i;
                return Some(c);
            }
            i += 1;
        }
        self.pos = i;
        None
    }

    /// A string whose opening quote is just before `pos`; ends past the
    /// closing quote. Without escapes the text is borrowed; with escapes and
    /// `want`, it is unescaped into an owned string. Without `want` the result
    /// is meaningless (but the string is fully validated).
    #[inline]
    fn string(&mut self, want: bool) -> Result<Cow<'a, str>, DecodeError> {
        let start = self.pos;
        let mut owned: Option<String> = None;
        // Start of the text not yet copied into `owned`.
        let mut seg = start;
        loop {
            match self.find_special() {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(&self.src[start..end]),
                        Some(mut s) => {
                            s.push_str(&self.src[seg..end]);
                            Cow::Owned(s)
                        }
                    });
                }
                Some(b'\\') => {
                    let at = self.pos;
                    let c = self.escape()?;
                    if want {
                        let s = owned
                            .get_or_insert_with(|| String::with_capacity(self.pos - start + 16));
                        s.push_str(&self.src[seg..at]);
                        s.push(c);
                    }
                    seg = self.pos;
                }
                Some(_) => return Err(self.err("control character in string (must be escaped)")),
                None => return Err(self.err_at(self.pos, "unterminated string")),
            }
        }
    }

    /// The escape at `pos` (a backslash); ends past it.
    fn escape(&mut self) -> Result<char, DecodeError> {
        let at = self.pos;
        let Some(e) = self.b.get(at + 1).copied() else {
            return Err(self.err_at(self.b.len(), "unterminated string"));
        };
        self.pos += 2;
        Ok(match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.err_at(at, "lone surrogate in \\u escape"));
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(self.err_at(at, "lone surrogate in \\u escape"));
                        }
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER)
                    }
                    0xDC00..=0xDFFF => return Err(self.err_at(at, "lone surrogate in \\u escape")),
                    _ => char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER),
                }
            }
            _ => return Err(self.err_at(at, "invalid escape in string")),
        })
    }

    /// Four hex digits at `pos`.
    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape (expected 4 hex digits)")),
            };
            v = v * 16 + d as u32;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A number starting at `pos` (`-` or a digit).
    fn number(&mut self, want: bool) -> Result<Value<'a>, DecodeError> {
        let start = self.pos;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let int_start = self.pos;
        let mut acc: u64 = 0;
        let mut overflow = false;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    match acc
                        .checked_mul(10)
                        .and_then(|a| a.checked_add((d - b'0') as u64))
                    {
                        Some(a) => acc = a,
                        None => overflow = true,
                    }
                    self.pos += 1;
                }
            }
            _ => return Err(self.err("invalid number (expected a digit)")),
        }
        let int_digits = self.pos - int_start;
        let mut is_float = false;
        let mut has_exp = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
            is_float = true;
            has_exp = true;
        }
        if !is_float && !overflow {
            if !want {
                return Ok(Value::Null);
            }
            return Ok(if !neg {
                match i64::try_from(acc) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::Float(acc as f64),
                }
            } else if acc == 0 {
                Value::Float(-0.0)
            } else if acc <= 1 << 63 {
                Value::Int((acc as i64).wrapping_neg())
            } else {
                Value::Float(-(acc as f64))
            });
        }
        // Numbers without an exponent can only overflow past 308 digits.
        if !want && !has_exp && int_digits <= 308 {
            return Ok(Value::Null);
        }
        let f: f64 = self.src[start..self.pos].parse().unwrap_or(f64::INFINITY);
        if !f.is_finite() {
            return Err(self.err_at(start, "number out of range"));
        }
        Ok(if want { Value::Float(f) } else { Value::Null })
    }

    /// One or more digits at `pos`.
    #[inline]
    fn digits(&mut self) -> Result<(), DecodeError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.err("invalid number (expected a digit)"));
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(names: &[&str]) -> FieldSet {
        FieldSet::new(names.iter().map(|s| s.to_string()).collect())
    }

    fn dec<'a>(line: &'a str, names: &[&str]) -> Result<Vec<Value<'a>>, DecodeError> {
        let f = fs(names);
        let mut out = vec![Value::Null; f.len()];
        decode_json(line, &f, &mut out)?;
        Ok(out)
    }

    fn err(line: &str) -> String {
        dec(line, &["a"]).unwrap_err().to_string()
    }

    #[test]
    fn extracts_requested_fields_and_skips_others() {
        let line = r#"{"ts":1700000000123,"id":123456789,"user":"user_4821","lang":"en","tags":["a","b"],"geo":{"x":[1,{"y":2}]},"ok":true,"n":null,"r":1.5}"#;
        let v = dec(
            line,
            &["user", "ts", "tags", "geo", "ok", "n", "r", "missing"],
        )
        .unwrap();
        assert_eq!(v[0], Value::Str("user_4821".into()));
        assert!(matches!(&v[0], Value::Str(Cow::Borrowed(_))));
        assert!(matches!(v[1], Value::Int(1_700_000_000_123)));
        assert_eq!(
            v[2],
            Value::Array(vec![Value::Str("a".into()), Value::Str("b".into())])
        );
        assert!(matches!(
            &v[3],
            Value::Object(Cow::Borrowed(r#"{"x":[1,{"y":2}]}"#))
        ));
        assert!(matches!(v[4], Value::Bool(true)));
        assert!(v[5].is_null());
        assert!(matches!(v[6], Value::Float(f) if f == 1.5));
        assert!(v[7].is_null());
    }

    #[test]
    fn whitespace_empty_object_and_duplicates() {
        let v = dec(" \t{ \"a\" : 1 ,\r\n \"a\" : [ ] } \t", &["a"]).unwrap();
        assert_eq!(v[0], Value::Array(vec![]));
        assert!(dec("{}", &["a"]).unwrap()[0].is_null());
        assert!(dec("  { }  ", &["a"]).unwrap()[0].is_null());
    }

    #[test]
    fn escapes_are_unescaped() {
        let v = dec(
            r#"{"a":"x\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00y","b":"plain é"}"#,
            &["a", "b"],
        )
        .unwrap();
        assert_eq!(
            v[0].as_str(),
            Some("x\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{20ac}\u{1f600}y")
        );
        assert!(matches!(&v[0], Value::Str(Cow::Owned(_))));
        assert!(matches!(&v[1], Value::Str(Cow::Borrowed("plain é"))));
    }

    #[test]
    fn escaped_keys_are_unescaped_before_lookup() {
        let v = dec(r#"{"\u0074s":5,"t\u0073x":6,"\"q\"":7}"#, &["ts", "\"q\""]).unwrap();
        assert!(matches!(v[0], Value::Int(5)));
        assert!(matches!(v[1], Value::Int(7)));
    }

    #[test]
    fn numbers_follow_serde_json() {
        let v = dec(
            r#"{"a":-0,"b":9223372036854775807,"c":9223372036854775808,"d":-9223372036854775808,"e":-9223372036854775809,"f":1e2,"g":-2.5E-3,"h":0,"i":123456789012345678901234567890,"j":1e-400}"#,
            &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
        )
        .unwrap();
        assert!(matches!(v[0], Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(v[1], Value::Int(i64::MAX)));
        assert!(matches!(v[2], Value::Float(f) if f == 9223372036854775808.0));
        assert!(matches!(v[3], Value::Int(i64::MIN)));
        assert!(matches!(v[4], Value::Float(_)));
        assert!(matches!(v[5], Value::Float(f) if f == 100.0));
        assert!(matches!(v[6], Value::Float(f) if f == -0.0025));
        assert!(matches!(v[7], Value::Int(0)));
        assert!(matches!(v[8], Value::Float(f) if f == 1.2345678901234568e29));
        assert!(matches!(v[9], Value::Float(f) if f == 0.0));
    }

    #[test]
    fn out_of_range_numbers_are_errors_even_when_skipped() {
        assert_eq!(
            err(r#"{"a":1e400}"#),
            "invalid JSON at byte 5: number out of range"
        );
        assert_eq!(
            err(r#"{"b":-1e400}"#),
            "invalid JSON at byte 5: number out of range"
        );
        let long = format!("{{\"b\":{}}}", "9".repeat(400));
        assert_eq!(err(&long), "invalid JSON at byte 5: number out of range");
        assert!(dec(r#"{"b":1e308,"c":0e99999999999999999999}"#, &["a"]).is_ok());
    }

    #[test]
    fn invalid_numbers() {
        for bad in [
            "01", "1.", ".5", "-", "+1", "1e", "1e+", "1.e3", "-a", "0x1", "1_0", "- 1",
        ] {
            let line = format!(r#"{{"a":{bad}}}"#);
            assert!(dec(&line, &["a"]).is_err(), "{line}");
            let line = format!(r#"{{"b":{bad}}}"#);
            assert!(dec(&line, &["a"]).is_err(), "{line}");
        }
    }

    #[test]
    fn structural_errors_have_reasons_and_offsets() {
        assert_eq!(
            err(r#"{"a" 1}"#),
            "invalid JSON at byte 5: expected ':' after object key"
        );
        assert_eq!(
            err(r#"{"a":1,}"#),
            "invalid JSON at byte 7: expected '\"' to start an object key"
        );
        assert_eq!(
            err(r#"{"b":[1,]}"#),
            "invalid JSON at byte 8: expected a value"
        );
        assert_eq!(
            err(r#"{"a":1 "b":2}"#),
            "invalid JSON at byte 7: expected ',' or '}' after object value"
        );
        assert_eq!(
            err(r#"{"b":[1 2]}"#),
            "invalid JSON at byte 8: expected ',' or ']' after array element"
        );
        assert_eq!(
            err(r#"{"a":1} x"#),
            "invalid JSON at byte 8: trailing characters after the object"
        );
        assert_eq!(
            err(r#"{"a":1}{}"#),
            "invalid JSON at byte 7: trailing characters after the object"
        );
        assert_eq!(
            err(r#"{"a":tru}"#),
            "invalid JSON at byte 5: invalid literal (expected true, false or null)"
        );
        assert_eq!(
            err(r#"{"a":nul"#),
            "invalid JSON at byte 5: invalid literal (expected true, false or null)"
        );
        assert_eq!(
            err(r#"{"a":"x"#),
            "invalid JSON at byte 7: unterminated string"
        );
        assert_eq!(
            err(r#"{"a":1"#),
            "invalid JSON at byte 6: unexpected end of line"
        );
        assert_eq!(
            err(r#"{"#),
            "invalid JSON at byte 1: unexpected end of line"
        );
        assert_eq!(
            err(r#"{'a':1}"#),
            "invalid JSON at byte 1: expected '\"' to start an object key"
        );
        assert_eq!(err(r#"{"a":}"#), "invalid JSON at byte 5: expected a value");
    }

    #[test]
    fn non_objects_are_rejected() {
        for line in ["", "   ", "[1]", "1", "\"x\"", "null", "x", "\u{feff}{}"] {
            let e = dec(line, &["a"]).unwrap_err();
            assert!(matches!(e, DecodeError::NotObject { .. }), "{line:?}: {e}");
            assert_eq!(e.to_string(), "line is not a JSON object");
        }
    }

    #[test]
    fn string_errors() {
        assert_eq!(
            err("{\"a\":\"x\u{1}\"}"),
            "invalid JSON at byte 7: control character in string (must be escaped)"
        );
        assert_eq!(
            err("{\"b\":\"tab\there\"}"),
            "invalid JSON at byte 9: control character in string (must be escaped)"
        );
        assert_eq!(
            err("{\"k\u{1f}\":1}"),
            "invalid JSON at byte 3: control character in string (must be escaped)"
        );
        assert_eq!(
            err(r#"{"a":"\x"}"#),
            "invalid JSON at byte 6: invalid escape in string"
        );
        assert_eq!(
            err(r#"{"b":"\u12g4"}"#),
            "invalid JSON at byte 10: invalid \\u escape (expected 4 hex digits)"
        );
        for lone in [
            r#"\ud800"#,
            r#"\udc00"#,
            r#"\ud800\u0041"#,
            r#"\ud800\n"#,
            r#"\ud800x"#,
            r#"\udbff\udbff"#,
        ] {
            let line = format!(r#"{{"b":"{lone}"}}"#);
            assert_eq!(
                dec(&line, &["a"]).unwrap_err().to_string(),
                "invalid JSON at byte 6: lone surrogate in \\u escape",
                "{line}"
            );
            assert!(dec(&line, &["b"]).is_err());
        }
        // DEL and non-ASCII need no escaping.
        assert!(dec("{\"a\":\"\u{7f}\u{10ffff}\"}", &["a"]).is_ok());
        assert_eq!(
            err(r#"{"a":"x\"#),
            "invalid JSON at byte 8: unterminated string"
        );
    }

    #[test]
    fn long_strings_cross_the_eight_byte_chunks() {
        for n in 0..40 {
            let body = "é".repeat(n) + &"x".repeat(n % 9);
            let line = format!(r#"{{"a":"{body}","b":"{body}\n{body}"}}"#);
            let v = dec(&line, &["a", "b"]).unwrap();
            assert_eq!(v[0].as_str(), Some(body.as_str()));
            assert_eq!(v[1].as_str(), Some(format!("{body}\n{body}").as_str()));
            let bad = format!("{{\"a\":\"{body}\u{0}\"}}");
            assert!(dec(&bad, &["z"]).is_err());
        }
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(dec(&nest(MAX_DEPTH - 1), &["a"]).is_ok());
        assert!(dec(&nest(MAX_DEPTH - 1), &["z"]).is_ok());
        let e = dec(&nest(MAX_DEPTH), &["a"]).unwrap_err();
        assert_eq!(e.to_string(), "JSON nested deeper than 64 levels");
        assert_eq!(e.offset(), 5 + MAX_DEPTH - 1);
        assert!(dec(&nest(MAX_DEPTH), &["z"]).is_err());
        let objs =
            |n: usize| format!("{}{}", "{\"a\":".repeat(n), "}".repeat(n)).replace(":}", ":1}");
        assert!(dec(&objs(MAX_DEPTH), &["a"]).is_ok());
        assert!(matches!(
            dec(&objs(MAX_DEPTH + 1), &["a"]),
            Err(DecodeError::TooDeep { .. })
        ));
        // Far deeper than the stack could take without the limit.
        assert!(dec(&nest(100_000), &["a"]).is_err());
    }

    #[test]
    fn short_output_slice_does_not_panic() {
        let f = fs(&["a", "b"]);
        let mut out = vec![Value::Null; 1];
        decode_json(r#"{"b":1,"a":2}"#, &f, &mut out).unwrap();
        assert!(matches!(out[0], Value::Int(2)));
    }
}
