//! JSON text written by hand for the hot output paths: the rows of filter
//! queries (built once per record and row shape) and result lines (one per
//! result). The text is byte for byte what `serde_json`'s compact
//! serializer writes for the same values (numbers are formatted by
//! `serde_json` itself), without its per-call machinery.

use super::decode::json::special_bytes;
use crate::value::Value;

/// Where JSON text is written: bytes (result lines) or a string (the rows
/// of filter queries, kept as text), so that neither is checked for UTF-8
/// or copied after it is written. Only text is appended, so bytes stay
/// UTF-8 too.
pub trait JsonOut {
    /// Appends `s`.
    fn put(&mut self, s: &str);
    /// Appends an ASCII character.
    fn put_ascii(&mut self, c: u8);
    /// Makes room for `n` more bytes.
    fn reserve_bytes(&mut self, n: usize);
    /// Appends `v` as `serde_json` writes it (floats, nested objects).
    fn put_serialized(&mut self, v: &Value<'_>);
}

impl JsonOut for Vec<u8> {
    #[inline]
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn put_ascii(&mut self, c: u8) {
        debug_assert!(c.is_ascii());
        self.push(c);
    }

    #[inline]
    fn reserve_bytes(&mut self, n: usize) {
        self.reserve(n);
    }

    fn put_serialized(&mut self, v: &Value<'_>) {
        serde_json::to_writer(&mut *self, v).expect("writing to a vector cannot fail")
    }
}

impl JsonOut for String {
    #[inline]
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }

    #[inline]
    fn put_ascii(&mut self, c: u8) {
        debug_assert!(c.is_ascii());
        self.push(char::from(c));
    }

    #[inline]
    fn reserve_bytes(&mut self, n: usize) {
        self.reserve(n);
    }

    fn put_serialized(&mut self, v: &Value<'_>) {
        self.push_str(&serde_json::to_string(v).expect("a value serializes"))
    }
}

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control
/// characters escaped as `serde_json` escapes them.
pub fn push_str(out: &mut impl JsonOut, s: &str) {
    let bytes = s.as_bytes();
    out.reserve_bytes(bytes.len() + 2);
    out.put_ascii(b'"');
    let clean = clean_prefix(bytes);
    let mut run = 0;
    if clean == bytes.len() {
        out.put(s);
        out.put_ascii(b'"');
        return;
    }
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // `i` is at an ASCII byte, so on a character boundary.
        out.put(&s[run..i]);
        run = i + 1;
        match b {
            b'"' => out.put("\\\""),
            b'\\' => out.put("\\\\"),
            0x08 => out.put("\\b"),
            b'\t' => out.put("\\t"),
            b'\n' => out.put("\\n"),
            0x0c => out.put("\\f"),
            b'\r' => out.put("\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put("\\u00");
                out.put_ascii(HEX[(b >> 4) as usize]);
                out.put_ascii(HEX[(b & 0xf) as usize]);
            }
        }
    }
    out.put(&s[run..]);
    out.put_ascii(b'"');
}

/// How many leading bytes of `bytes` need no escaping, for certain: all
/// of them, or a multiple of 16 (the bytes before the first block of 16
/// that holds one needing it). Sixteen bytes at a time, in two words; the
/// bytes after the last whole block in one or two words that end where
/// `bytes` ends (overlapping bytes already seen), and a string shorter
/// than a word in two overlapping halves: no copying into a padded word.
#[inline]
fn clean_prefix(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    if n >= 8 {
        let mut at = 0;
        while at + 16 <= n {
            if special_bytes(word(at)) | special_bytes(word(at + 8)) != 0 {
                return at;
            }
            at += 16;
        }
        let head = if n - at > 8 {
            special_bytes(word(at))
        } else {
            0
        };
        return if head | special_bytes(word(n - 8)) == 0 {
            n
        } else {
            at
        };
    }
    if n >= 4 {
        let half = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let w = u64::from(half(0)) | u64::from(half(n - 4)) << 32;
        return if special_bytes(w) == 0 { n } else { 0 };
    }
    if bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\') {
        n
    } else {
        0
    }
}

/// Appends `v` as JSON, as its `Serialize` implementation writes it.
pub fn push_value(out: &mut impl JsonOut, v: &Value<'_>) {
    match v {
        Value::Null => out.put("null"),
        Value::Bool(true) => out.put("true"),
        Value::Bool(false) => out.put("false"),
        Value::Str(s) => push_str(out, s),
        Value::Array(items) => {
            out.put_ascii(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.put_ascii(b',');
                }
                push_value(out, x);
            }
            out.put_ascii(b']');
        }
        // Integers as serde_json writes them (with `itoa`); floats and
        // nested objects by serde_json itself.
        Value::Int(i) => out.put(itoa::Buffer::new().format(*i)),
        Value::Float(_) | Value::Object(_) => out.put_serialized(v),
    }
}

/// Appends the JSON object of `fields` (name, value), in order.
pub fn push_object<'v, 'a: 'v, K: AsRef<str>>(
    out: &mut impl JsonOut,
    fields: impl IntoIterator<Item = (K, &'v Value<'a>)>,
) {
    out.put_ascii(b'{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.put_ascii(b',');
        }
        push_str(out, k.as_ref());
        out.put_ascii(b':');
        push_value(out, v);
    }
    out.put_ascii(b'}');
}

/// A JSON object whose member names are fixed (a filter query's row
/// shape): the text before each value (`{"name":`, then `,"name":`) is
/// escaped once, when the template is made, and each object only writes
/// its values.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectTemplate {
    heads: Vec<Box<str>>,
}

impl ObjectTemplate {
    /// The template of objects with members `names`, in order.
    pub fn new<K: AsRef<str>>(names: impl IntoIterator<Item = K>) -> ObjectTemplate {
        let heads = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let mut head = String::from(if i == 0 { "{" } else { "," });
                push_str(&mut head, name.as_ref());
                head.push(':');
                head.into_boxed_str()
            })
            .collect();
        ObjectTemplate { heads }
    }

    /// Appends the object whose member values are `values` (one per
    /// member), in the template's order (as [`push_object`] with the
    /// template's names).
    pub fn write<'v, 'a: 'v>(
        &self,
        out: &mut impl JsonOut,
        values: impl IntoIterator<Item = &'v Value<'a>>,
    ) {
        if self.heads.is_empty() {
            out.put("{}");
            return;
        }
        for (head, v) in self.heads.iter().zip(values) {
            out.put(head);
            push_value(out, v);
        }
        out.put_ascii(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    /// `v` as JSON text, written as bytes and as a string (the same text).
    fn text(v: &Value<'_>) -> String {
        let mut bytes = Vec::new();
        push_value(&mut bytes, v);
        let mut string = String::new();
        push_value(&mut string, v);
        let bytes = String::from_utf8(bytes).expect("JSON text is UTF-8");
        assert_eq!(bytes, string);
        bytes
    }

    fn value() -> impl Strategy<Value = Value<'static>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            // Any characters, control characters and quotes included.
            ".*".prop_map(|s| Value::Str(Cow::Owned(s))),
            "[\\x00-\\x1f\"\\\\a-z\u{e9}\u{1F600}]{0,40}".prop_map(|s| Value::Str(Cow::Owned(s))),
            Just(Value::Object(Cow::Borrowed(r#"{"a": [1, 2]}"#))),
            Just(Value::Object(Cow::Borrowed("{not json"))),
        ];
        leaf.prop_recursive(2, 16, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(Value::Array)
        })
    }

    #[test]
    fn each_special_byte_is_escaped_at_every_position_of_every_length() {
        // Strings of 0 to 40 bytes (shorter than half a word, than a word,
        // than a block of 16, and several blocks with a tail), each with
        // one byte needing escape at each position, and none.
        for len in 0..=40 {
            let plain: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let s = Value::Str(Cow::Owned(plain.clone()));
            assert_eq!(text(&s), serde_json::to_string(&s).unwrap());
            for at in 0..len {
                for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', 'é'] {
                    let mut t = plain.clone();
                    t.replace_range(at..at + 1, &special.to_string());
                    let v = Value::Str(Cow::Owned(t));
                    assert_eq!(text(&v), serde_json::to_string(&v).unwrap(), "{len} {at}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn values_are_written_as_serde_json_writes_them(v in value()) {
            prop_assert_eq!(text(&v), serde_json::to_string(&v).unwrap());
        }

        #[test]
        fn objects_are_written_as_serde_json_writes_maps(
            fields in prop::collection::vec((".{0,6}", value()), 0..4)
        ) {
            let mut out = Vec::new();
            push_object(&mut out, fields.iter().map(|(k, v)| (k.as_str(), v)));
            let mut expected = String::from("{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    expected.push(',');
                }
                expected.push_str(&serde_json::to_string(k).unwrap());
                expected.push(':');
                expected.push_str(&serde_json::to_string(v).unwrap());
            }
            expected.push('}');
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }

        #[test]
        fn templates_write_what_push_object_writes(
            fields in prop::collection::vec((".{0,6}", value()), 0..4)
        ) {
            let template = ObjectTemplate::new(fields.iter().map(|(k, _)| k));
            let mut out = b"x".to_vec();
            template.write(&mut out, fields.iter().map(|(_, v)| v));
            let mut expected = b"x".to_vec();
            push_object(&mut expected, fields.iter().map(|(k, v)| (k.as_str(), v)));
            let expected = String::from_utf8(expected).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
            // Into a string (the rows of filter queries): the same text.
            let mut string = String::from("x");
            template.write(&mut string, fields.iter().map(|(_, v)| v));
            prop_assert_eq!(string, expected);
        }
    }
}
