//! Record decoders: one input line in, one value per needed field out.
//!
//! The plan asks for a fixed set of top-level fields ([`FieldSet`], each with a
//! slot index). A decoder fills `out[slot]` for every field it finds and
//! leaves the others `Value::Null`. Values borrow from the line wherever the
//! text needs no unescaping, so decoding a typical record allocates only for
//! arrays and escaped strings.
//!
//! - [`fields`]: the field set and its name → slot lookup.
//! - [`json`]: a hand-written, validating, single-pass JSON-lines scanner.
//! - [`csv`]: RFC 4180 lines with untyped inference.
//! - [`coerce`](mod@coerce): typing values against declared column types, event time.
//! - Log lines: [`regex`](mod@regex) (named captures of line patterns),
//!   [`syslog`] (BSD syslog headers), [`ascp`] (Aspera transfer logs, on
//!   syslog), behind one [`LogDecoder`] ([`log`]); [`timefmt`]: strftime-style
//!   timestamps and the year of yearless ones.

pub mod ascp;
pub mod coerce;
pub mod csv;
pub mod fields;
pub mod json;
pub mod log;
pub mod regex;
pub mod syslog;
pub mod timefmt;

#[cfg(test)]
mod proptests;

use crate::value::Value;

pub use self::coerce::{coerce, coerce_in_place, event_time_ms, parse_rfc3339_ms};
pub use self::csv::{csv_row_object, decode_csv, CsvHeader};
pub use self::fields::FieldSet;
pub use self::json::{decode_json, decode_json_in_order, KeyOrder, MAX_DEPTH};
pub use self::log::{LogDecoder, LogFormat, LogScratch, LogSpec};
pub use self::timefmt::{TimeFormat, YearContext, YearRule};

/// A decoded value as JSON (for whole rows). Non-finite floats, which JSON
/// cannot hold, become `null`.
pub(crate) fn value_json(v: Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Int(i) => J::from(i),
        Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.into_owned()),
        Value::Array(items) => J::Array(items.into_iter().map(value_json).collect()),
        Value::Object(raw) => {
            serde_json::from_str(&raw).unwrap_or_else(|_| J::String(raw.into_owned()))
        }
    }
}

/// Why a line could not be decoded. Every variant carries the byte offset in
/// the line where the problem was found (see [`DecodeError::offset`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Malformed JSON.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Json {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Well-formed or not, the line does not start with `{`.
    #[error("line is not a JSON object")]
    NotObject {
        /// Byte offset of the first non-whitespace character.
        offset: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("JSON nested deeper than {} levels", MAX_DEPTH)]
    TooDeep {
        /// Byte offset of the bracket that went too deep.
        offset: usize,
    },
    /// Malformed CSV (an unterminated or badly closed quoted field).
    #[error("invalid CSV at byte {offset}: {reason}")]
    Csv {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A CSV line whose column count differs from the header's.
    #[error("expected {expected} columns, found {found}")]
    ColumnCount {
        /// Columns in the header.
        expected: usize,
        /// Columns in this line.
        found: usize,
        /// Byte offset of the end of the line.
        offset: usize,
    },
    /// A line that no pattern of a regex stream matches.
    #[error("{}", if kinds.is_empty() { "line matches no pattern".to_string() } else { format!("line matches none of the patterns ({kinds})") })]
    NoMatch {
        /// The patterns' kinds, comma-separated (empty for a lone pattern).
        kinds: String,
    },
    /// A field whose text does not convert to its type.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: String,
        /// Why.
        reason: String,
        /// Byte offset of the field's text.
        offset: usize,
    },
    /// A line without a syslog header.
    #[error("invalid syslog line at byte {offset}: {reason}")]
    Syslog {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A malformed ascp line.
    #[error("invalid ascp line at byte {offset}: {reason}")]
    Ascp {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
}

impl DecodeError {
    /// The byte offset in the line where the problem was found.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Json { offset, .. }
            | DecodeError::NotObject { offset }
            | DecodeError::TooDeep { offset }
            | DecodeError::Csv { offset, .. }
            | DecodeError::ColumnCount { offset, .. }
            | DecodeError::Field { offset, .. }
            | DecodeError::Syslog { offset, .. }
            | DecodeError::Ascp { offset, .. } => *offset,
            DecodeError::NoMatch { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_human() {
        let e = DecodeError::Json {
            offset: 17,
            reason: "expected ':' after object key",
        };
        assert_eq!(
            e.to_string(),
            "invalid JSON at byte 17: expected ':' after object key"
        );
        assert_eq!(e.offset(), 17);
        assert_eq!(
            DecodeError::TooDeep { offset: 70 }.to_string(),
            "JSON nested deeper than 64 levels"
        );
        assert_eq!(
            DecodeError::ColumnCount {
                expected: 6,
                found: 5,
                offset: 9
            }
            .to_string(),
            "expected 6 columns, found 5"
        );
    }
}
