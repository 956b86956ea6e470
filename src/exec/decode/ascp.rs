//! `format = 'ascp'`: Aspera `ascp` transfer logs, syslog lines whose
//! messages fingerprint each transfer session.
//!
//! ```text
//! Jan 23 10:47:43 elsaspera03 ascp[5276]: LOG Receiver bl t/o/r/d=5292/5292/0/0 rex_rtt l/h/s/o=0/0/67/8 … rate t/m/c/n/vl/vr/r=80000000/0/69277032/… prog t/f/e=7683984/385957572/1000142 rcvD=0
//! ```
//!
//! Fields:
//! - the [syslog](super::syslog) header's `timestamp`, `host`, `program`
//!   and `pid` (a session is a `host` and `pid`); the program must start
//!   with `ascp`;
//! - `level`: the message's first word when it is upper case (`LOG`, `ERR`,
//!   `WARN`, `DBG`), else `NULL`; `message`: the text after it;
//! - `kind`: `stats` for a `Receiver` or `Sender` statistics line (then
//!   `role` is that word), `session_start`, `session_stop`,
//!   `session_params`, `transfer_start`, `transfer_stop` for the
//!   `FASP Session Start|Stop|Parameters` and `FASP Transfer Start|Stop`
//!   lines, `error` for `ERR`, `warning` for `WARN`, `log` otherwise;
//! - from the rest of the message, a group `name a/b/c=1/2/3` gives the
//!   fields `name_a`, `name_b`, `name_c` (a group with no name word before it
//!   gives `a`, `b`, `c`), and a pair `key=value` gives `key`; a value in
//!   double quotes may hold spaces. Values are typed like CSV fields
//!   (integer, float, `true`/`false`, else text; quoted values are text).
//!   As in JSON, a field given twice keeps its last value; a body field
//!   named like a header field is ignored.
//!
//! In a `stats` line a group whose name and value counts differ is malformed
//! and the line is rejected; in free-text lines such a token is not a field.

use super::syslog::{fill_header, parse_header};
use super::timefmt::YearContext;
use super::{DecodeError, FieldSet};
use crate::value::Value;
use std::borrow::Cow;

/// The fields every ascp line has (some `NULL`), in the order of
/// [`AscpDecoder`]'s header slots.
pub const ASCP_HEADER_FIELDS: [&str; 8] = [
    "timestamp",
    "host",
    "program",
    "pid",
    "message",
    "level",
    "kind",
    "role",
];

/// The parts of an ascp message before its fields.
struct Message<'a> {
    level: Option<&'a str>,
    /// The text after the level.
    text: &'a str,
    kind: &'static str,
    role: Option<&'a str>,
    /// Where the fields start (in `text`).
    body_at: usize,
}

fn classify(msg: &str) -> Message<'_> {
    let space = |s: &str| s.bytes().position(|c| c == b' ').unwrap_or(s.len());
    let first_end = space(msg);
    let first = &msg[..first_end];
    let (level, text) = if !first.is_empty() && first.bytes().all(|c| c.is_ascii_uppercase()) {
        (Some(first), msg[first_end..].trim_start())
    } else {
        (None, msg)
    };
    let word_end = space(text);
    let word = &text[..word_end];
    if word == "Receiver" || word == "Sender" {
        return Message {
            level,
            text,
            kind: "stats",
            role: Some(word),
            body_at: word_end,
        };
    }
    const FASP: [(&str, &str); 5] = [
        ("FASP Session Start", "session_start"),
        ("FASP Session Stop", "session_stop"),
        ("FASP Session Parameters", "session_params"),
        ("FASP Transfer Start", "transfer_start"),
        ("FASP Transfer Stop", "transfer_stop"),
    ];
    for (prefix, kind) in FASP {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with(' ') {
                return Message {
                    level,
                    text,
                    kind,
                    role: None,
                    body_at: prefix.len(),
                };
            }
        }
    }
    let kind = match level {
        Some("ERR" | "ERROR") => "error",
        Some("WARN" | "WARNING") => "warning",
        _ => "log",
    };
    Message {
        level,
        text,
        kind,
        role: None,
        body_at: 0,
    }
}

/// A field name as the body spells it: `name` alone, or a group's
/// `prefix` and member `name` (the field `prefix_name`).
#[derive(Clone, Copy, Debug)]
struct Key<'a> {
    prefix: Option<&'a str>,
    name: &'a str,
}

/// Where [`scan_body`] sends the fields it finds.
trait BodySink<'a> {
    /// Whether any member of a group named `prefix` may be wanted; when not,
    /// the group is only checked, its members are not visited.
    fn wants_group(&mut self, prefix: Option<&'a str>) -> bool;
    /// One field: its key, its raw value text, and whether it was quoted.
    fn field(&mut self, key: Key<'a>, raw: &'a str, quoted: bool);
}

/// Checks the body without taking any field.
struct NoFields;

impl<'a> BodySink<'a> for NoFields {
    fn wants_group(&mut self, _: Option<&'a str>) -> bool {
        false
    }
    fn field(&mut self, _: Key<'a>, _: &'a str, _: bool) {}
}

/// Walks the fields of a message body in one pass over its bytes, sending
/// them to `sink`. `base` is the body's offset in the line (for errors);
/// `strict` rejects groups whose name and value counts differ.
fn scan_body<'a>(
    body: &'a str,
    base: usize,
    strict: bool,
    sink: &mut impl BodySink<'a>,
) -> Result<(), DecodeError> {
    let b = body.as_bytes();
    let n = b.len();
    let mut i = 0;
    // The last bare word, which names a group that follows it.
    let mut word: Option<&'a str> = None;
    while i < n {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        let mut key_slashes = 0usize;
        while i < n && b[i] != b' ' && b[i] != b'=' {
            key_slashes += usize::from(b[i] == b'/');
            i += 1;
        }
        if i == n || b[i] == b' ' {
            word = Some(&body[start..i]);
            continue;
        }
        let key = &body[start..i];
        i += 1;
        let prefix = word.take();
        if i < n && b[i] == b'"' {
            let (value, next) = match memchr::memchr(b'"', &b[i + 1..]) {
                Some(k) => (&body[i + 1..i + 1 + k], i + 2 + k),
                None => (&body[i + 1..], n),
            };
            if !key.is_empty() {
                sink.field(
                    Key {
                        prefix: None,
                        name: key,
                    },
                    value,
                    true,
                );
            }
            i = next;
            while i < n && b[i] != b' ' {
                i += 1;
            }
            continue;
        }
        let vstart = i;
        let mut value_slashes = 0usize;
        while i < n && b[i] != b' ' {
            value_slashes += usize::from(b[i] == b'/');
            i += 1;
        }
        let value = &body[vstart..i];
        if key_slashes == 0 {
            if !key.is_empty() {
                sink.field(
                    Key {
                        prefix: None,
                        name: key,
                    },
                    value,
                    false,
                );
            }
            continue;
        }
        if value_slashes != key_slashes {
            if strict {
                return Err(DecodeError::Ascp {
                    offset: base + start,
                    reason: format!(
                        "group `{}` has {} names but {} values",
                        prefix.unwrap_or(key),
                        key_slashes + 1,
                        value_slashes + 1
                    ),
                });
            }
            continue;
        }
        if sink.wants_group(prefix) {
            let (mut names, mut values) = (key, value);
            loop {
                let (kn, vn) = (slash(names), slash(values));
                let (name, raw) = match (kn, vn) {
                    (Some(a), Some(c)) => (&names[..a], &values[..c]),
                    _ => (names, values),
                };
                sink.field(Key { prefix, name }, raw, false);
                match (kn, vn) {
                    (Some(a), Some(c)) => {
                        names = &names[a + 1..];
                        values = &values[c + 1..];
                    }
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

/// The first `/` of a short text.
#[inline]
fn slash(s: &str) -> Option<usize> {
    s.bytes().position(|c| c == b'/')
}

/// The typed value of a raw body value.
fn typed(raw: &str, quoted: bool) -> Value<'_> {
    if quoted {
        Value::Str(Cow::Borrowed(raw))
    } else {
        super::csv::infer(raw)
    }
}

/// ascp lines decoded for one plan.
#[derive(Clone, Debug)]
pub struct AscpDecoder {
    /// Slots of `timestamp`, `host`, `program`, `pid` (and never the
    /// syslog message) for [`fill_header`].
    syslog: [Option<usize>; 5],
    message: Option<usize>,
    level: Option<usize>,
    kind: Option<usize>,
    role: Option<usize>,
    /// Needed body fields, and the slot of each.
    body: FieldSet,
    body_slots: Vec<usize>,
    /// For every `prefix` such that some needed body field is
    /// `prefix_member`: those members and their slots. Groups with another
    /// name are skipped; members are matched without building names.
    groups: Vec<(String, Vec<(String, usize)>)>,
}

impl AscpDecoder {
    /// A decoder filling the slots of `fields`.
    pub fn new(fields: &FieldSet) -> AscpDecoder {
        let slot = |n: &str| fields.slot_of(n.as_bytes());
        let mut body = Vec::new();
        let mut body_slots = Vec::new();
        let mut groups: Vec<(String, Vec<(String, usize)>)> = Vec::new();
        for (i, n) in fields.names().iter().enumerate() {
            if ASCP_HEADER_FIELDS.contains(&n.as_str()) || fields.slot_of(n.as_bytes()) != Some(i) {
                continue;
            }
            for (at, _) in n.match_indices('_') {
                let (prefix, member) = (&n[..at], &n[at + 1..]);
                if prefix.is_empty() || member.is_empty() {
                    continue;
                }
                let g = match groups.iter().position(|(p, _)| p == prefix) {
                    Some(g) => g,
                    None => {
                        groups.push((prefix.to_string(), Vec::new()));
                        groups.len() - 1
                    }
                };
                groups[g].1.push((member.to_string(), i));
            }
            body.push(n.clone());
            body_slots.push(i);
        }
        AscpDecoder {
            syslog: [
                slot("timestamp"),
                slot("host"),
                slot("program"),
                slot("pid"),
                None,
            ],
            message: slot("message"),
            level: slot("level"),
            kind: slot("kind"),
            role: slot("role"),
            body: FieldSet::new(body),
            body_slots,
            groups,
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
        check_program(h.program, line)?;
        fill_header(&h, &self.syslog, years, out)?;
        let m = classify(h.message);
        let text_at = h.message_at + (h.message.len() - m.text.len());
        let set = |slot: Option<usize>, v: Option<&'a str>, out: &mut [Value<'a>]| {
            if let (Some(s), Some(v)) = (slot, v) {
                out[s] = Value::Str(Cow::Borrowed(v));
            }
        };
        set(self.message, Some(m.text), out);
        set(self.level, m.level, out);
        set(self.kind, Some(m.kind), out);
        set(self.role, m.role, out);
        let body = &m.text[m.body_at..];
        let strict = m.kind == "stats";
        let base = text_at + m.body_at;
        if self.body.is_empty() {
            return scan_body(body, base, strict, &mut NoFields);
        }
        scan_body(
            body,
            base,
            strict,
            &mut SlotSink {
                decoder: self,
                out,
                group: 0,
            },
        )
    }

    /// Every field of a line as a JSON object (for `SELECT *`). Body fields
    /// whose names are not bare identifiers are left out.
    pub fn row_object(
        line: &str,
        years: &YearContext,
    ) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
        let h = parse_header(line)?;
        check_program(h.program, line)?;
        let m = classify(h.message);
        let mut map = serde_json::Map::new();
        let body = &m.text[m.body_at..];
        let base = h.message_at + (h.message.len() - m.text.len()) + m.body_at;
        scan_body(body, base, m.kind == "stats", &mut MapSink(&mut map))?;
        let mut header = vec![Value::Null; 4];
        fill_header(
            &h,
            &[Some(0), Some(1), Some(2), Some(3), None],
            years,
            &mut header,
        )?;
        let text = |s: Option<&str>| s.map_or(serde_json::Value::Null, |s| s.into());
        for (n, v) in ASCP_HEADER_FIELDS.iter().zip(header) {
            map.insert(n.to_string(), super::value_json(v));
        }
        map.insert("message".into(), m.text.into());
        map.insert("level".into(), text(m.level));
        map.insert("kind".into(), m.kind.into());
        map.insert("role".into(), text(m.role));
        Ok(map)
    }
}

/// Fills the slots of the needed body fields.
struct SlotSink<'d, 'o, 'a> {
    decoder: &'d AscpDecoder,
    out: &'o mut [Value<'a>],
    /// The wanted group being visited (index into `decoder.groups`).
    group: usize,
}

impl<'a> BodySink<'a> for SlotSink<'_, '_, 'a> {
    fn wants_group(&mut self, prefix: Option<&'a str>) -> bool {
        let Some(p) = prefix else {
            return true;
        };
        match self.decoder.groups.iter().position(|(g, _)| g == p) {
            Some(g) => {
                self.group = g;
                true
            }
            None => false,
        }
    }

    fn field(&mut self, key: Key<'a>, raw: &'a str, quoted: bool) {
        let d = self.decoder;
        let slot = match key.prefix {
            None => d.body.slot_of(key.name.as_bytes()).map(|i| d.body_slots[i]),
            Some(_) => d.groups[self.group]
                .1
                .iter()
                .find(|(m, _)| m == key.name)
                .map(|(_, slot)| *slot),
        };
        if let Some(slot) = slot {
            self.out[slot] = typed(raw, quoted);
        }
    }
}

/// Collects every field whose name is a bare identifier into a JSON object.
struct MapSink<'m>(&'m mut serde_json::Map<String, serde_json::Value>);

impl<'a> BodySink<'a> for MapSink<'_> {
    fn wants_group(&mut self, _: Option<&'a str>) -> bool {
        true
    }

    fn field(&mut self, key: Key<'a>, raw: &'a str, quoted: bool) {
        let name = match key.prefix {
            Some(p) => format!("{p}_{}", key.name),
            None => key.name.to_string(),
        };
        if super::regex::is_field_name(&name) && !ASCP_HEADER_FIELDS.contains(&name.as_str()) {
            self.0.insert(name, super::value_json(typed(raw, quoted)));
        }
    }
}

fn check_program(program: &str, line: &str) -> Result<(), DecodeError> {
    if program.starts_with("ascp") {
        return Ok(());
    }
    let offset = program.as_ptr() as usize - line.as_ptr() as usize;
    let shown: String = program.chars().take(40).collect();
    Err(DecodeError::Ascp {
        offset,
        reason: format!("program `{shown}` is not ascp"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::decode::timefmt::YearRule;
    use serde_json::json;

    const STATS: &str = "Jan 23 10:47:43 elsaspera03 ascp[5276]: LOG Receiver bl t/o/r/d=5292/5292/0/0 rex_rtt l/h/s/o=0/0/67/8 rate t/m/c/n/vl/vr/r=80000000/0/69277032/69277032/80000000/80000000/80000000 prog t/f/e=7683984/385957572/1000142 rcvD=0 dsk_w=0.25";

    fn years() -> YearContext {
        YearContext::new(YearRule::Fixed(2024), 0)
    }

    fn dec<'a>(line: &'a str, names: &[&str]) -> Result<Vec<Value<'a>>, DecodeError> {
        let fs = FieldSet::new(names.iter().map(|s| s.to_string()).collect());
        let d = AscpDecoder::new(&fs);
        let mut out = vec![Value::Null; fs.len()];
        d.decode(line, &years(), &mut out)?;
        Ok(out)
    }

    #[test]
    fn stats_line_fields() {
        let v = dec(
            STATS,
            &[
                "rate_c",
                "rex_rtt_s",
                "prog_f",
                "rcvD",
                "role",
                "kind",
                "host",
                "pid",
                "level",
                "dsk_w",
                "bl_x",
                "rate",
            ],
        )
        .unwrap();
        assert!(matches!(v[0], Value::Int(69_277_032)));
        assert!(matches!(v[1], Value::Int(67)));
        assert!(matches!(v[2], Value::Int(385_957_572)));
        assert!(matches!(v[3], Value::Int(0)));
        assert_eq!(v[4].as_str(), Some("Receiver"));
        assert_eq!(v[5].as_str(), Some("stats"));
        assert_eq!(v[6].as_str(), Some("elsaspera03"));
        assert!(matches!(v[7], Value::Int(5276)));
        assert_eq!(v[8].as_str(), Some("LOG"));
        assert!(matches!(v[9], Value::Float(f) if f == 0.25));
        assert!(v[10].is_null());
        assert!(v[11].is_null());
    }

    #[test]
    fn row_object_has_everything() {
        let obj = AscpDecoder::row_object(STATS, &years()).unwrap();
        let o = serde_json::Value::Object(obj);
        assert_eq!(o["bl_t"], json!(5292));
        assert_eq!(o["rate_vr"], json!(80_000_000));
        assert_eq!(o["prog_e"], json!(1_000_142));
        assert_eq!(o["rcvD"], json!(0));
        assert_eq!(o["role"], json!("Receiver"));
        assert_eq!(o["kind"], json!("stats"));
        assert_eq!(o["program"], json!("ascp"));
        assert_eq!(o["timestamp"], json!(1_706_006_863_000i64));
        assert!(o["message"]
            .as_str()
            .unwrap()
            .starts_with("Receiver bl t/o/r/d="));
        // 4 + 4 + 7 + 3 group members, 2 pairs, 8 header fields.
        assert_eq!(o.as_object().unwrap().len(), 18 + 2 + 8);
    }

    #[test]
    fn other_kinds() {
        let names = [
            "kind", "message", "level", "role", "status", "file", "size", "op",
        ];
        let v = dec(
            "Jan 23 10:47:40 h ascp[1]: LOG FASP Session Start uuid=ab-12 op=recv status=started file=\"/data/my file.bin\" size=385957572",
            &names,
        )
        .unwrap();
        assert_eq!(v[0].as_str(), Some("session_start"));
        assert!(v[1]
            .as_str()
            .unwrap()
            .starts_with("FASP Session Start uuid="));
        assert_eq!(v[2].as_str(), Some("LOG"));
        assert!(v[3].is_null());
        assert_eq!(v[4].as_str(), Some("started"));
        assert_eq!(v[5].as_str(), Some("/data/my file.bin"));
        assert!(matches!(v[6], Value::Int(385_957_572)));
        assert_eq!(v[7].as_str(), Some("recv"));
        let v = dec(
            "Jan 23 10:47:40 h ascp[1]: ERR Failed to open \"x\": a/b=1",
            &names,
        )
        .unwrap();
        assert_eq!(v[0].as_str(), Some("error"));
        assert_eq!(v[1].as_str(), Some("Failed to open \"x\": a/b=1"));
        let v = dec("Jan 23 10:47:40 h ascp4[1]: Starting up", &names).unwrap();
        assert_eq!(v[0].as_str(), Some("log"));
        assert!(v[2].is_null());
        assert_eq!(v[1].as_str(), Some("Starting up"));
        let v = dec(
            "Jan 23 10:47:40 h ascp[1]: WARN x host=evil kind=bad",
            &["host", "kind"],
        )
        .unwrap();
        assert_eq!(v[0].as_str(), Some("h"));
        assert_eq!(v[1].as_str(), Some("warning"));
    }

    #[test]
    fn malformed_lines_are_rejected() {
        let e = dec(
            "Jan 23 10:47:43 h ascp[1]: LOG Sender rate t/m/c=1/2 x=1",
            &["x"],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ascp line at byte 43: group `rate` has 3 names but 2 values"
        );
        // The same in free text is just not a field; the check does not
        // depend on which fields are needed.
        assert!(dec("Jan 23 10:47:43 h ascp[1]: LOG note t/m/c=1/2", &["x"]).is_ok());
        assert!(dec("Jan 23 10:47:43 h ascp[1]: LOG Sender rate t/m/c=1/2", &[]).is_err());
        let e = dec("Jan 23 10:47:43 h sshd[1]: LOG Sender", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ascp line at byte 18: program `sshd` is not ascp"
        );
        assert!(dec("Jan 23 10:47:43", &[]).is_err());
    }

    #[test]
    fn groups_without_names_and_odd_tokens() {
        let line = "Jan 23 10:47:43 h ascp[1]: LOG Sender a/b=1/x y=\"unterminated";
        let v = dec(line, &["a", "b", "y"]).unwrap();
        assert!(matches!(v[0], Value::Int(1)));
        assert_eq!(v[1].as_str(), Some("x"));
        assert_eq!(v[2].as_str(), Some("unterminated"));
        let obj = AscpDecoder::row_object(
            "Jan 23 10:47:43 h ascp[1]: LOG x =1 (a=2 b= c=d=e",
            &years(),
        )
        .unwrap();
        assert_eq!(obj.get("b"), Some(&json!(null)));
        assert_eq!(obj.get("c"), Some(&json!("d=e")));
        assert!(!obj.contains_key("(a"));
    }
}
