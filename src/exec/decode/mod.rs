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

pub mod coerce;
pub mod csv;
pub mod fields;
pub mod json;

#[cfg(test)]
mod proptests;

pub use self::coerce::{coerce, event_time_ms, parse_rfc3339_ms};
pub use self::csv::{csv_row_object, decode_csv, CsvHeader};
pub use self::fields::FieldSet;
pub use self::json::{decode_json, MAX_DEPTH};

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
}

impl DecodeError {
    /// The byte offset in the line where the problem was found.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Json { offset, .. }
            | DecodeError::NotObject { offset }
            | DecodeError::TooDeep { offset }
            | DecodeError::Csv { offset, .. }
            | DecodeError::ColumnCount { offset, .. } => *offset,
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
