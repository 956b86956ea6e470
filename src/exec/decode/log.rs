//! The log formats (`regex`, `syslog`, `ascp`) behind one type: what a
//! stream declares ([`LogSpec`]) and its decoder for one plan
//! ([`LogDecoder`]).

use super::ascp::AscpDecoder;
use super::regex::{RegexDecoder, RegexScratch, RegexSpec};
use super::syslog::SyslogDecoder;
use super::timefmt::{YearContext, YearRule};
use super::{DecodeError, FieldSet};
use crate::value::Value;

/// Which log format, with what it needs.
#[derive(Clone, Debug, PartialEq)]
pub enum LogFormat {
    /// Line patterns with named captures.
    Regex(RegexSpec),
    /// BSD syslog lines.
    Syslog,
    /// Aspera `ascp` logs.
    Ascp,
}

/// What a log-format stream declares.
#[derive(Clone, Debug, PartialEq)]
pub struct LogSpec {
    /// The format.
    pub format: LogFormat,
    /// How timestamps without a year get one (`year = '…'`, else recent).
    pub year: YearRule,
}

/// A log stream's decoder for one plan.
#[derive(Clone, Debug)]
pub struct LogDecoder {
    kind: Kind,
    year: YearRule,
}

#[derive(Clone, Debug)]
enum Kind {
    Regex {
        /// Captures only the plan's fields.
        slots: RegexDecoder,
        /// Captures everything, for `SELECT *`; built only when a query
        /// asks for whole rows.
        full: Option<RegexDecoder>,
    },
    Syslog(SyslogDecoder),
    Ascp(AscpDecoder),
}

/// Per-thread state of a [`LogDecoder`].
pub struct LogScratch {
    slots: Option<RegexScratch>,
    full: Option<RegexScratch>,
}

impl LogDecoder {
    /// Builds the decoder of `spec` for the plan's `fields`; `whole_rows`
    /// when some query selects `*`.
    pub fn new(spec: &LogSpec, fields: &FieldSet, whole_rows: bool) -> Result<LogDecoder, String> {
        let kind = match &spec.format {
            LogFormat::Regex(r) => Kind::Regex {
                slots: RegexDecoder::new(r, fields)?,
                full: if whole_rows {
                    Some(RegexDecoder::new(r, &RegexDecoder::all_fields(r))?)
                } else {
                    None
                },
            },
            LogFormat::Syslog => Kind::Syslog(SyslogDecoder::new(fields)),
            LogFormat::Ascp => Kind::Ascp(AscpDecoder::new(fields)),
        };
        Ok(LogDecoder {
            kind,
            year: spec.year,
        })
    }

    /// Fresh per-thread state.
    pub fn scratch(&self) -> LogScratch {
        match &self.kind {
            Kind::Regex { slots, full } => LogScratch {
                slots: Some(slots.scratch()),
                full: full.as_ref().map(RegexDecoder::scratch),
            },
            _ => LogScratch {
                slots: None,
                full: None,
            },
        }
    }

    /// The year context for a batch that arrived at `arrival_ms`.
    pub fn years(&self, arrival_ms: i64) -> YearContext {
        YearContext::new(self.year, arrival_ms)
    }

    /// Decodes one line into the plan's slots. `out` should be all `Null`.
    pub fn decode<'a>(
        &self,
        line: &'a str,
        years: &YearContext,
        scratch: &mut LogScratch,
        out: &mut [Value<'a>],
    ) -> Result<(), DecodeError> {
        match &self.kind {
            Kind::Regex { slots, .. } => {
                let s = scratch.slots.get_or_insert_with(|| slots.scratch());
                slots.decode(line, s, years, out)
            }
            Kind::Syslog(d) => d.decode(line, years, out),
            Kind::Ascp(d) => d.decode(line, years, out),
        }
    }

    /// Every field of a line as a JSON object (for `SELECT *`).
    pub fn row_object(
        &self,
        line: &str,
        years: &YearContext,
        scratch: &mut LogScratch,
    ) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
        match &self.kind {
            Kind::Regex { slots, full } => {
                let d = full.as_ref().unwrap_or(slots);
                let s = scratch.full.get_or_insert_with(|| d.scratch());
                d.row_object(line, s, years)
            }
            Kind::Syslog(_) => SyslogDecoder::row_object(line, years),
            Kind::Ascp(_) => AscpDecoder::row_object(line, years),
        }
    }
}
