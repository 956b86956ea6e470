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
    let first_end = msg.find(' ').unwrap_or(msg.len());
    let first = &msg[..first_end];
    let (level, text) = if !first.is_empty() && first.bytes().all(|c| c.is_ascii_uppercase()) {
        (Some(first), msg[first_end..].trim_start())
    } else {
        (None, msg)
    };
    let word_end = text.find(' ').unwrap_or(text.len());
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

/// Walks the fields of a message body, calling `visit(key, raw value,
/// quoted)` for each. `base` is the body's offset in the line (for errors);
/// `strict` rejects groups whose counts differ.
fn scan_body<'a>(
    body: &'a str,
    base: usize,
    strict: bool,
    visit: &mut impl FnMut(Key<'a>, &'a str, bool),
) -> Result<(), DecodeError> {
    let b = body.as_bytes();
    let mut i = 0;
    let mut word: Option<&'a str> = None;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        let Some(eq) = memchr::memchr2(b' ', b'=', &b[start..])
            .map(|k| start + k)
            .filter(|&k| b[k] == b'=')
        else {
            // A bare word: the name of a group that may follow.
            let end = memchr::memchr(b' ', &b[start..]).map_or(b.len(), |k| start + k);
            word = Some(&body[start..end]);
            i = end;
            continue;
        };
        let key = &body[start..eq];
        let vstart = eq + 1;
        if b.get(vstart) == Some(&b'"') {
            let (value, next) = match memchr::memchr(b'"', &b[vstart + 1..]) {
                Some(k) => (&body[vstart + 1..vstart + 1 + k], vstart + 2 + k),
                None => (&body[vstart + 1..], b.len()),
            };
            if !key.is_empty() {
                visit(
                    Key {
                        prefix: None,
                        name: key,
                    },
                    value,
                    true,
                );
            }
            i = memchr::memchr(b' ', &b[next.min(b.len())..]).map_or(b.len(), |k| next + k);
            word = None;
            continue;
        }
        let vend = memchr::memchr(b' ', &b[vstart..]).map_or(b.len(), |k| vstart + k);
        let value = &body[vstart..vend];
        i = vend;
        let prefix = word.take();
        let slashes = memchr::memchr_iter(b'/', key.as_bytes()).count();
        if slashes == 0 {
            if !key.is_empty() {
                visit(
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
        if memchr::memchr_iter(b'/', value.as_bytes()).count() != slashes {
            if strict {
                return Err(DecodeError::Ascp {
                    offset: base + start,
                    reason: format!(
                        "group `{}` has {} names but {} values",
                        prefix.map_or(key, |p| p),
                        slashes + 1,
                        value.split('/').count()
                    ),
                });
            }
            continue;
        }
        for (name, v) in key.split('/').zip(value.split('/')) {
            visit(Key { prefix, name }, v, false);
        }
    }
    Ok(())
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
    /// Every `prefix` such that some needed body field is `prefix_…`: groups
    /// with another name are skipped without building names.
    prefixes: FieldSet,
}

impl AscpDecoder {
    /// A decoder filling the slots of `fields`.
    pub fn new(fields: &FieldSet) -> AscpDecoder {
        let slot = |n: &str| fields.slot_of(n.as_bytes());
        let mut body = Vec::new();
        let mut body_slots = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        for (i, n) in fields.names().iter().enumerate() {
            if ASCP_HEADER_FIELDS.contains(&n.as_str()) || fields.slot_of(n.as_bytes()) != Some(i) {
                continue;
            }
            for (at, _) in n.match_indices('_') {
                if at > 0 && !prefixes.iter().any(|p| p == &n[..at]) {
                    prefixes.push(n[..at].to_string());
                }
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
            prefixes: FieldSet::new(prefixes),
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
            return scan_body(body, base, strict, &mut |_, _, _| {});
        }
        let mut name_buf: Vec<u8> = Vec::new();
        scan_body(body, base, strict, &mut |k, raw, quoted| {
            let slot = match k.prefix {
                None => self.body.slot_of(k.name.as_bytes()),
                Some(p) => {
                    if self.prefixes.slot_of(p.as_bytes()).is_none() {
                        return;
                    }
                    name_buf.clear();
                    name_buf.extend_from_slice(p.as_bytes());
                    name_buf.push(b'_');
                    name_buf.extend_from_slice(k.name.as_bytes());
                    self.body.slot_of(&name_buf)
                }
            };
            if let Some(i) = slot {
                out[self.body_slots[i]] = typed(raw, quoted);
            }
        })
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
        scan_body(body, base, m.kind == "stats", &mut |k, raw, quoted| {
            let name = match k.prefix {
                Some(p) => format!("{p}_{}", k.name),
                None => k.name.to_string(),
            };
            if super::regex::is_field_name(&name) && !ASCP_HEADER_FIELDS.contains(&name.as_str()) {
                map.insert(name, super::value_json(typed(raw, quoted)));
            }
        })?;
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
