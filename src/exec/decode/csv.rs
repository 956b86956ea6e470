//! CSV lines (RFC 4180 within one line) with untyped inference.
//!
//! The separator is a comma. A field starting with `"` is quoted: it runs to
//! the next lone `"`, `""` stands for one quote, and a comma or the end of the
//! line must follow. Any other field runs to the next comma, whitespace and
//! stray quotes included (lenient: `5'10"` is fine unquoted). Records cannot
//! span lines.
//!
//! Each needed field is inferred: empty → `Null`; an integer
//! (`[+-]?digits`) → `Int` (or `Float` past the `i64` range); a float such as
//! `1.5`, `-2e3`, `.5` → `Float` (never `nan`/`inf`, nor an overflow);
//! `true`/`false` → `Bool`; anything else → `Str`, borrowed from the line. A
//! quoted field is always `Str`, even `"12"`; `""` is the empty string.
//!
//! Declared `TEXT` columns: inference would turn `007` into `7`, so
//! [`CsvHeader::with_types`] records the declared types by slot and
//! [`decode_csv`] then keeps `TEXT` columns as their exact text (an empty
//! unquoted field is still `Null`). Other declared types go through
//! [`coerce`](mod@super::coerce) as for JSON.

use super::{DecodeError, FieldSet};
use crate::parser::ast::DataType;
use crate::value::Value;
use std::borrow::Cow;

/// The columns of a CSV stream, from its header line, with the slot each
/// needed column fills.
#[derive(Clone, Debug, Default)]
pub struct CsvHeader {
    names: Vec<String>,
    /// For each column, the slot it fills, if the plan needs it.
    slots: Vec<Option<usize>>,
    /// For each slot, whether it is declared `TEXT` (kept verbatim).
    text_slots: Vec<bool>,
}

impl CsvHeader {
    /// Reads the column names from a header line (quoted names are
    /// unescaped) and maps each to its slot in `fields`. If a name repeats,
    /// the last such column fills the slot.
    pub fn parse(line: &str, fields: &FieldSet) -> Result<CsvHeader, DecodeError> {
        let mut names = Vec::new();
        let mut it = Fields::new(line);
        while let Some(f) = it.next_field(true)? {
            names.push(match f {
                Field::Plain(s) => s.to_owned(),
                Field::Quoted(s) => s.into_owned(),
            });
        }
        let slots = names.iter().map(|n| fields.slot_of(n.as_bytes())).collect();
        Ok(CsvHeader {
            names,
            slots,
            text_slots: vec![false; fields.len()],
        })
    }

    /// Records the declared type of each slot (`types[slot]`, `None` when
    /// undeclared), so that `TEXT` columns are kept as their exact text
    /// instead of being inferred.
    pub fn with_types(mut self, types: &[Option<DataType>]) -> CsvHeader {
        self.text_slots = types
            .iter()
            .map(|t| matches!(t, Some(DataType::Text)))
            .collect();
        self
    }

    /// All column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of columns.
    pub fn columns(&self) -> usize {
        self.names.len()
    }

    /// The slot column `col` fills, if any.
    pub fn slot_of_column(&self, col: usize) -> Option<usize> {
        self.slots.get(col).copied().flatten()
    }

    fn is_text_slot(&self, slot: usize) -> bool {
        self.text_slots.get(slot).copied().unwrap_or(false)
    }
}

/// Decodes one CSV line (without its terminator) into the slots the header
/// maps. The line must have exactly as many columns as the header. `out`
/// should have `fields.len()` slots, all `Null`; slots beyond its length are
/// ignored.
pub fn decode_csv<'a>(
    line: &'a str,
    header: &CsvHeader,
    out: &mut [Value<'a>],
) -> Result<(), DecodeError> {
    let mut it = Fields::new(line);
    let mut col = 0;
    loop {
        let slot = header.slot_of_column(col);
        let Some(f) = it.next_field(slot.is_some())? else {
            break;
        };
        if let Some(slot) = slot {
            let v = field_value(f, header.is_text_slot(slot));
            if let Some(o) = out.get_mut(slot) {
                *o = v;
            }
        }
        col += 1;
    }
    check_columns(col, header, line)?;
    Ok(())
}

/// A line must have as many columns as its header.
fn check_columns(found: usize, header: &CsvHeader, line: &str) -> Result<(), DecodeError> {
    if found != header.columns() {
        return Err(DecodeError::ColumnCount {
            expected: header.columns(),
            found,
            offset: line.len(),
        });
    }
    Ok(())
}

/// All columns of a CSV line as a JSON object keyed by the header's names
/// (for `SELECT *`), with the same inference as [`decode_csv`]. Numbers that
/// JSON cannot hold do not occur (inference never yields NaN or infinity).
pub fn csv_row_object(
    line: &str,
    header: &CsvHeader,
) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
    let mut map = serde_json::Map::new();
    let mut it = Fields::new(line);
    let mut col = 0;
    while let Some(f) = it.next_field(true)? {
        if let Some(name) = header.names.get(col) {
            let text = header
                .slot_of_column(col)
                .is_some_and(|s| header.is_text_slot(s));
            map.insert(name.clone(), to_json(field_value(f, text)));
        }
        col += 1;
    }
    check_columns(col, header, line)?;
    Ok(map)
}

fn to_json(v: Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Int(i) => J::from(i),
        Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.into_owned()),
        // Not produced by CSV fields.
        Value::Array(_) | Value::Object(_) => J::Null,
    }
}

fn field_value(f: Field<'_>, text: bool) -> Value<'_> {
    match f {
        Field::Quoted(s) => Value::Str(s),
        Field::Plain("") => Value::Null,
        Field::Plain(s) if text => Value::Str(Cow::Borrowed(s)),
        Field::Plain(s) => infer(s),
    }
}

/// The untyped value of an unquoted, non-empty field.
pub(crate) fn infer(s: &str) -> Value<'_> {
    let b = s.as_bytes();
    match b.first() {
        Some(b'0'..=b'9' | b'+' | b'-' | b'.') => {}
        _ => {
            return match s {
                "" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::Str(Cow::Borrowed(s)),
            }
        }
    }
    let digits = match b[0] {
        b'+' | b'-' => &b[1..],
        _ => b,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
    }
    // Only number characters, so `parse` cannot see `nan` or `inf`; it still
    // rejects malformed text like `1e` or `--1`.
    if b.iter()
        .all(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        if let Ok(f) = s.parse::<f64>() {
            if f.is_finite() {
                return Value::Float(f);
            }
        }
    }
    Value::Str(Cow::Borrowed(s))
}

/// One field as it appears in the line.
enum Field<'a> {
    /// Unquoted: the exact text.
    Plain(&'a str),
    /// Quoted: the unescaped text (owned only if it had `""`, and only when
    /// wanted).
    Quoted(Cow<'a, str>),
}

/// Splits a line into fields.
struct Fields<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Fields<'a> {
    fn new(s: &'a str) -> Fields<'a> {
        Fields {
            s,
            pos: 0,
            done: false,
        }
    }

    /// The next field, or `None` past the last. Without `want`, a quoted
    /// field is validated but not unescaped.
    fn next_field(&mut self, want: bool) -> Result<Option<Field<'a>>, DecodeError> {
        if self.done {
            return Ok(None);
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        if b.get(start) != Some(&b'"') {
            return Ok(Some(Field::Plain(
                match memchr::memchr(b',', &b[start..]) {
                    Some(i) => {
                        self.pos = start + i + 1;
                        &self.s[start..start + i]
                    }
                    None => {
                        self.done = true;
                        &self.s[start..]
                    }
                },
            )));
        }
        let mut owned: Option<String> = None;
        let mut seg = start + 1;
        let mut i = start + 1;
        loop {
            let Some(q) = memchr::memchr(b'"', &b[i..]).map(|q| i + q) else {
                return Err(DecodeError::Csv {
                    offset: start,
                    reason: "unterminated quoted field",
                });
            };
            if b.get(q + 1) == Some(&b'"') {
                if want {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&self.s[seg..=q]);
                }
                seg = q + 2;
                i = q + 2;
                continue;
            }
            let text = match owned {
                Some(mut o) => {
                    o.push_str(&self.s[seg..q]);
                    Cow::Owned(o)
                }
                None => Cow::Borrowed(&self.s[seg..q]),
            };
            match b.get(q + 1) {
                None => self.done = true,
                Some(b',') => self.pos = q + 2,
                Some(_) => {
                    return Err(DecodeError::Csv {
                        offset: q + 1,
                        reason: "expected ',' after closing quote",
                    })
                }
            }
            return Ok(Some(Field::Quoted(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(names: &[&str]) -> FieldSet {
        FieldSet::new(names.iter().map(|s| s.to_string()).collect())
    }

    fn dec<'a>(header: &str, line: &'a str, names: &[&str]) -> Result<Vec<Value<'a>>, DecodeError> {
        let f = fs(names);
        let h = CsvHeader::parse(header, &f)?;
        let mut out = vec![Value::Null; f.len()];
        decode_csv(line, &h, &mut out)?;
        Ok(out)
    }

    #[test]
    fn header_maps_columns_to_slots() {
        let f = fs(&["c", "a", "zz"]);
        let h = CsvHeader::parse(r#"a,"b ""x""",c"#, &f).unwrap();
        assert_eq!(h.names(), ["a", "b \"x\"", "c"]);
        assert_eq!(h.columns(), 3);
        assert_eq!(
            (0..4).map(|c| h.slot_of_column(c)).collect::<Vec<_>>(),
            [Some(1), None, Some(0), None]
        );
        assert!(CsvHeader::parse("a,\"b", &f).is_err());
    }

    #[test]
    fn inference() {
        let v = dec(
            "a,b,c,d,e,f,g,h,i,j,k,l,m,n",
            r#"12,-3,1.5,-2e3,true,false,hello, x ,,nan,inf,1e999,99999999999999999999,+4"#,
            &[
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
            ],
        )
        .unwrap();
        assert!(matches!(v[0], Value::Int(12)));
        assert!(matches!(v[1], Value::Int(-3)));
        assert!(matches!(v[2], Value::Float(f) if f == 1.5));
        assert!(matches!(v[3], Value::Float(f) if f == -2000.0));
        assert!(matches!(v[4], Value::Bool(true)));
        assert!(matches!(v[5], Value::Bool(false)));
        assert!(matches!(&v[6], Value::Str(Cow::Borrowed("hello"))));
        assert!(matches!(&v[7], Value::Str(Cow::Borrowed(" x "))));
        assert!(v[8].is_null());
        assert_eq!(v[9].as_str(), Some("nan"));
        assert_eq!(v[10].as_str(), Some("inf"));
        assert_eq!(v[11].as_str(), Some("1e999"));
        assert!(matches!(v[12], Value::Float(f) if f == 1e20));
        assert!(matches!(v[13], Value::Int(4)));
        for s in [
            "True", "1e", "--1", "1-2", "-", ".", "1.2.3", "e5", "0x10", "1 ",
        ] {
            assert_eq!(infer(s).as_str(), Some(s), "{s}");
        }
        assert!(matches!(infer(".5"), Value::Float(f) if f == 0.5));
        assert!(matches!(infer("007"), Value::Int(7)));
    }

    #[test]
    fn quoted_fields_are_text() {
        let v = dec(
            "a,b,c,d,e",
            r#""12","","say ""hi""","a,b",5'10""#,
            &["a", "b", "c", "d", "e"],
        )
        .unwrap();
        assert!(matches!(&v[0], Value::Str(Cow::Borrowed("12"))));
        assert!(matches!(&v[1], Value::Str(Cow::Borrowed(""))));
        assert!(matches!(&v[2], Value::Str(Cow::Owned(s)) if s == "say \"hi\""));
        assert!(matches!(&v[3], Value::Str(Cow::Borrowed("a,b"))));
        assert_eq!(v[4].as_str(), Some("5'10\""));
    }

    #[test]
    fn column_counts_and_quote_errors() {
        let e = dec("a,b,c,d,e,f", "1,2,3,4,5", &["a"]).unwrap_err();
        assert_eq!(e.to_string(), "expected 6 columns, found 5");
        let e = dec("a,b", "1,2,3", &["a"]).unwrap_err();
        assert_eq!(e.to_string(), "expected 2 columns, found 3");
        assert!(dec("a,b", "1,2,", &["a"]).is_err());
        assert!(dec("a,b,c", "1,2,", &["c"]).unwrap()[0].is_null());
        assert!(dec("a", "", &["a"]).unwrap()[0].is_null());
        let e = dec("a,b", r#""x"y,2"#, &["a"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CSV at byte 3: expected ',' after closing quote"
        );
        let e = dec("a,b", r#"1,"abc"#, &["z"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CSV at byte 2: unterminated quoted field"
        );
        assert!(dec("a,b", r#"1,"a""""#, &["z"]).is_ok());
        assert!(dec("a,b", r#"1,"a"""#, &["z"]).is_err());
    }

    #[test]
    fn declared_text_columns_keep_their_text() {
        let f = fs(&["zip", "n", "t"]);
        let h = CsvHeader::parse("zip,n,t", &f).unwrap().with_types(&[
            Some(DataType::Text),
            Some(DataType::BigInt),
            None,
        ]);
        let mut out = vec![Value::Null; 3];
        decode_csv("007,007,true", &h, &mut out).unwrap();
        assert!(matches!(&out[0], Value::Str(Cow::Borrowed("007"))));
        assert!(matches!(out[1], Value::Int(7)));
        assert!(matches!(out[2], Value::Bool(true)));
        let mut out = vec![Value::Null; 3];
        decode_csv(",,", &h, &mut out).unwrap();
        assert!(out[0].is_null());
        let obj = csv_row_object("007,007,x", &h).unwrap();
        assert_eq!(obj["zip"], serde_json::json!("007"));
        assert_eq!(obj["n"], serde_json::json!(7));
    }

    #[test]
    fn row_object_has_every_column() {
        let f = fs(&["a"]);
        let h = CsvHeader::parse("a,b,c,d,e", &f).unwrap();
        let obj = csv_row_object(r#"1,2.5,"x",,true"#, &h).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"a": 1, "b": 2.5, "c": "x", "d": null, "e": true})
        );
        assert_eq!(
            csv_row_object("1,2", &h).unwrap_err().to_string(),
            "expected 5 columns, found 2"
        );
    }
}
