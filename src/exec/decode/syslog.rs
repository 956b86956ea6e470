//! `format = 'syslog'`: BSD syslog lines (RFC 3164 style), as files under
//! `/var/log` hold them:
//!
//! ```text
//! [<PRI>]TIMESTAMP HOST PROGRAM[PID]: MESSAGE
//! Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; …
//! ```
//!
//! - `TIMESTAMP` is `Mmm dd hh:mm:ss` (the day may be space-padded), whose
//!   year a [`YearRule`](super::timefmt::YearRule) picks, or an RFC 3339 time
//!   (as rsyslog writes with high-precision timestamps). Times are UTC.
//! - `HOST` is one word; any run of spaces may follow it.
//! - The tag runs to the first `:` followed by a space (or ending the line).
//!   `PROGRAM` is the tag up to a `[`; `[digits]` after it is the `PID`.
//!   Anything between that `]` and the colon is dropped; a tag whose `[…]`
//!   is not digits is all program. Programs may contain spaces and colons
//!   (`sshd(pam_unix)`, `-- root`, `audit(1131538222.234:0)`).
//! - `MESSAGE` is the rest, without surrounding whitespace.
//!
//! Fields: `timestamp` (TIMESTAMP), `host`, `program` (TEXT), `pid` (BIGINT,
//! `NULL` without one) and `message` (TEXT). A line without this header is
//! rejected with the reason.

use super::timefmt::YearContext;
use super::{DecodeError, FieldSet};
use crate::parser::ast::DataType;
use crate::value::Value;
use std::borrow::Cow;

/// The fields of a syslog line and their types, in slot order of
/// [`SyslogDecoder`].
pub const SYSLOG_FIELDS: [(&str, DataType); 5] = [
    ("timestamp", DataType::Timestamp),
    ("host", DataType::Text),
    ("program", DataType::Text),
    ("pid", DataType::BigInt),
    ("message", DataType::Text),
];

/// When a line was written, as its header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderTime {
    /// `Mmm dd hh:mm:ss`: no year yet.
    Bsd {
        /// 1–12.
        month: u32,
        /// 1–31.
        day: u32,
        /// Milliseconds since midnight.
        ms_of_day: i64,
    },
    /// An RFC 3339 time, epoch ms.
    Epoch(i64),
}

/// The parts of a syslog line, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The time stamp.
    pub time: HeaderTime,
    /// The host name.
    pub host: &'a str,
    /// The program (the tag without its pid).
    pub program: &'a str,
    /// The process id, if the tag has one.
    pub pid: Option<i64>,
    /// The message, trimmed.
    pub message: &'a str,
    /// Byte offset of the message in the line.
    pub message_at: usize,
}

impl Header<'_> {
    /// The time stamp in epoch ms, the year picked by `years` when the
    /// header has none.
    pub fn timestamp_ms(&self, years: &YearContext) -> Result<i64, DecodeError> {
        match self.time {
            HeaderTime::Epoch(t) => Ok(t),
            HeaderTime::Bsd {
                month,
                day,
                ms_of_day,
            } => years
                .resolve(month, day, ms_of_day)
                .ok_or(DecodeError::Syslog {
                    offset: 0,
                    reason: "no such date",
                }),
        }
    }
}

fn bad(offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Syslog { offset, reason }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Parses a syslog line's header.
pub fn parse_header(line: &str) -> Result<Header<'_>, DecodeError> {
    let b = line.as_bytes();
    let mut pos = 0;
    // An optional priority, `<0>` to `<191>`: skipped.
    if b.first() == Some(&b'<') {
        let end = b
            .iter()
            .take(5)
            .position(|&c| c == b'>')
            .filter(|&e| e > 1 && b[1..e].iter().all(u8::is_ascii_digit))
            .ok_or(bad(0, "bad <priority>"))?;
        pos = end + 1;
    }
    let time = if b.get(pos).is_some_and(u8::is_ascii_digit) {
        let end = memchr::memchr(b' ', &b[pos..]).map_or(b.len(), |i| pos + i);
        let t = super::parse_rfc3339_ms(&line[pos..end]).ok_or(bad(pos, "bad RFC 3339 time"))?;
        pos = end;
        HeaderTime::Epoch(t)
    } else {
        let m = b
            .get(pos..pos + 3)
            .and_then(|w| MONTHS.iter().position(|m| m.as_slice() == w))
            .ok_or(bad(pos, "expected a month name (Jan…Dec)"))?;
        pos += 3;
        if b.get(pos) != Some(&b' ') {
            return Err(bad(pos, "expected a space after the month"));
        }
        pos += 1;
        if b.get(pos) == Some(&b' ') {
            pos += 1;
        }
        let digit = |at: usize| {
            b.get(at)
                .filter(|c| c.is_ascii_digit())
                .map(|c| (c - b'0') as i64)
        };
        let day = match (digit(pos), digit(pos + 1)) {
            (Some(a), Some(c)) => {
                pos += 2;
                a * 10 + c
            }
            (Some(a), None) => {
                pos += 1;
                a
            }
            _ => return Err(bad(pos, "expected a day of the month")),
        };
        let two = |at: usize| Some(digit(at)? * 10 + digit(at + 1)?);
        let (h, mi, s) = match (two(pos + 1), two(pos + 4), two(pos + 7)) {
            (Some(h), Some(mi), Some(s))
                if b[pos] == b' ' && b[pos + 3] == b':' && b[pos + 6] == b':' =>
            {
                (h, mi, s)
            }
            _ => return Err(bad(pos, "expected ' hh:mm:ss'")),
        };
        if !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
            return Err(bad(pos, "time out of range"));
        }
        pos += 9;
        HeaderTime::Bsd {
            month: m as u32 + 1,
            day: day as u32,
            ms_of_day: (h * 3600 + mi * 60 + s) * 1000,
        }
    };
    if b.get(pos) != Some(&b' ') {
        return Err(bad(pos, "expected a space after the time"));
    }
    pos += 1;
    let host_start = pos;
    let host_end = memchr::memchr(b' ', &b[pos..]).map(|i| pos + i);
    let Some(host_end) = host_end.filter(|&e| e > host_start) else {
        return Err(bad(pos, "expected a host name and a tag"));
    };
    pos = host_end;
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let tag_start = pos;
    // The tag ends at the first ':' followed by a space or the end.
    let mut tag_end = None;
    for i in memchr::memchr_iter(b':', &b[pos..]) {
        let at = pos + i;
        if matches!(b.get(at + 1), None | Some(b' ' | b'\t')) {
            tag_end = Some(at);
            break;
        }
    }
    let tag_end = tag_end.ok_or(bad(tag_start, "expected `program:` or `program[pid]:`"))?;
    if tag_end == tag_start {
        return Err(bad(tag_start, "empty program name"));
    }
    let tag = &line[tag_start..tag_end];
    let (program, pid) = match memchr::memchr(b'[', tag.as_bytes()) {
        Some(open) if open > 0 => {
            let rest = &tag.as_bytes()[open + 1..];
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            let pid = (digits > 0 && digits <= 18 && rest.get(digits) == Some(&b']'))
                .then(|| tag[open + 1..open + 1 + digits].parse::<i64>().ok())
                .flatten();
            match pid {
                Some(p) => (&tag[..open], Some(p)),
                None => (tag, None),
            }
        }
        _ => (tag, None),
    };
    let mut msg_start = tag_end + 1;
    while b.get(msg_start).is_some_and(u8::is_ascii_whitespace) {
        msg_start += 1;
    }
    let message = line[msg_start..].trim_end();
    Ok(Header {
        time,
        host: &line[host_start..host_end],
        program,
        pid,
        message,
        message_at: msg_start,
    })
}

/// Syslog lines decoded for one plan.
#[derive(Clone, Debug)]
pub struct SyslogDecoder {
    /// The slot of each of [`SYSLOG_FIELDS`], if needed.
    slots: [Option<usize>; 5],
}

impl SyslogDecoder {
    /// A decoder filling the slots of `fields`.
    pub fn new(fields: &FieldSet) -> SyslogDecoder {
        SyslogDecoder {
            slots: SYSLOG_FIELDS.map(|(n, _)| fields.slot_of(n.as_bytes())),
        }
    }

    /// Decodes one line. `out` should be all `Null`.
    pub fn decode<'a>(
        &self,
        line: &'a str,
        years: &YearContext,
        out: &mut [Value<'a>],
    ) -> Result<(), DecodeError> {
        let h = parse_header(line)?;
        fill_header(&h, &self.slots, years, out)
    }

    /// All fields as a JSON object (for `SELECT *`).
    pub fn row_object(
        line: &str,
        years: &YearContext,
    ) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
        let h = parse_header(line)?;
        let mut out = vec![Value::Null; 5];
        fill_header(
            &h,
            &[Some(0), Some(1), Some(2), Some(3), Some(4)],
            years,
            &mut out,
        )?;
        Ok(SYSLOG_FIELDS
            .iter()
            .zip(out)
            .map(|((n, _), v)| (n.to_string(), super::value_json(v)))
            .collect())
    }
}

/// Fills the slots (in [`SYSLOG_FIELDS`] order) from a header. The time is
/// resolved even when not needed, so a line is accepted or not whatever the
/// plan.
pub(crate) fn fill_header<'a>(
    h: &Header<'a>,
    slots: &[Option<usize>; 5],
    years: &YearContext,
    out: &mut [Value<'a>],
) -> Result<(), DecodeError> {
    let ts = h.timestamp_ms(years)?;
    let [t, host, program, pid, message] = *slots;
    if let Some(s) = t {
        out[s] = Value::Int(ts);
    }
    if let Some(s) = host {
        out[s] = Value::Str(Cow::Borrowed(h.host));
    }
    if let Some(s) = program {
        out[s] = Value::Str(Cow::Borrowed(h.program));
    }
    if let (Some(s), Some(p)) = (pid, h.pid) {
        out[s] = Value::Int(p);
    }
    if let Some(s) = message {
        out[s] = Value::Str(Cow::Borrowed(h.message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::decode::timefmt::YearRule;

    fn years() -> YearContext {
        YearContext::new(YearRule::Fixed(2005), 0)
    }

    #[test]
    fn headers() {
        let h =
            parse_header("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; x ")
                .unwrap();
        assert_eq!(
            h.time,
            HeaderTime::Bsd {
                month: 6,
                day: 14,
                ms_of_day: (15 * 3600 + 16 * 60 + 1) * 1000
            }
        );
        assert_eq!(
            (h.host, h.program, h.pid, h.message),
            (
                "combo",
                "sshd(pam_unix)",
                Some(19939),
                "authentication failure; x"
            )
        );
        let line = "Jul  1 09:29:02 mac sandboxd[129] ([31211]): com.apple.Addres(31211) deny";
        let h = parse_header(line).unwrap();
        assert_eq!(
            (h.program, h.pid, h.message),
            ("sandboxd", Some(129), "com.apple.Addres(31211) deny")
        );
        assert_eq!(&line[h.message_at..], h.message);
        let h =
            parse_header("Jul 27 14:41:57 combo kernel:  BIOS-e820: 0000 - 00a0 (usable)").unwrap();
        assert_eq!(
            (h.program, h.pid, h.message),
            ("kernel", None, "BIOS-e820: 0000 - 00a0 (usable)")
        );
        let h = parse_header("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2").unwrap();
        assert_eq!((h.host, h.program, h.pid), ("combo", "-- root", Some(2421)));
        let h =
            parse_header("Nov  9 12:10:43 local@tbird-admin1 audit(1131538222.234:0): initialized")
                .unwrap();
        assert_eq!(
            (h.program, h.pid, h.message),
            ("audit(1131538222.234:0)", None, "initialized")
        );
        let h = parse_header("<34>Oct 11 22:14:15 mymachine su: 'su root' failed").unwrap();
        assert_eq!((h.host, h.program), ("mymachine", "su"));
        let h = parse_header("2003-10-11T22:14:15.003Z host app[x]: msg:").unwrap();
        assert_eq!(h.time, HeaderTime::Epoch(1_065_910_455_003));
        assert_eq!((h.program, h.pid, h.message), ("app[x]", None, "msg:"));
        let h = parse_header("Jan  1 00:00:00 h p:").unwrap();
        assert_eq!((h.program, h.message), ("p", ""));
    }

    #[test]
    fn bad_headers() {
        for (line, reason) in [
            ("", "expected a month name"),
            ("jun 14 15:16:01 h p: m", "expected a month name"),
            ("Jun 14 15:16 h p: m", "expected ' hh:mm:ss'"),
            ("Jun 32 15:16:01 h p: m", "time out of range"),
            ("Jun 14 25:16:01 h p: m", "time out of range"),
            ("Jun 14 15:16:01 h", "expected a host name"),
            ("Jun 14 15:16:01 h no tag here", "expected `program:`"),
            ("Jun 14 15:16:01 h : m", "empty program"),
            ("Jun 14 15:16:01h p: m", "expected a space after the time"),
            ("<34 Jun 14 15:16:01 h p: m", "bad <priority>"),
            ("2003-10-11T22:14 h p: m", "bad RFC 3339"),
        ] {
            let e = parse_header(line).unwrap_err();
            assert!(e.to_string().contains(reason), "{line:?}: {e}");
        }
        let h = parse_header("Feb 30 00:00:00 h p: m").unwrap();
        assert_eq!(
            h.timestamp_ms(&years()).unwrap_err().to_string(),
            "invalid syslog line at byte 0: no such date"
        );
    }

    #[test]
    fn decode_and_row() {
        let fs = FieldSet::new(vec![
            "pid".into(),
            "timestamp".into(),
            "message".into(),
            "other".into(),
        ]);
        let d = SyslogDecoder::new(&fs);
        let mut out = vec![Value::Null; 4];
        d.decode("Jan  2 03:04:05 h cron[7]: hello ", &years(), &mut out)
            .unwrap();
        assert!(matches!(out[0], Value::Int(7)));
        assert!(matches!(out[1], Value::Int(1_104_635_045_000)));
        assert_eq!(out[2].as_str(), Some("hello"));
        assert!(out[3].is_null());
        let obj = SyslogDecoder::row_object("Jan  2 03:04:05 h cron: hi", &years()).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"timestamp": 1_104_635_045_000i64, "host": "h", "program": "cron", "pid": null, "message": "hi"})
        );
    }
}
