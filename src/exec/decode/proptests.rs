//! Property tests of the decoders, with `serde_json` (and `chrono`) as the
//! oracles.

use super::*;
use crate::value::Value;
use proptest::prelude::*;
use serde_json::Value as J;
use std::fmt::Write;

/// Strings with unicode, quotes, backslashes and control characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,10}",
        "[a-z\"\\\\/\u{0}-\u{1f}\u{7f}é€😀 ]{0,12}",
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = J> {
    prop_oneof![
        (-1000i64..1000).prop_map(J::from),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(J::Number)),
        (-1e6f64..1e6)
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(J::Number)),
    ]
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number(),
        text().prop_map(J::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

/// Top-level members; keys drawn from a small pool too, so they repeat.
fn members() -> impl Strategy<Value = Vec<(String, J)>> {
    prop::collection::vec((prop_oneof!["[a-e]", text()], json()), 0..8)
}

/// How to write a line.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// `serde_json::to_string`.
    Compact,
    /// `serde_json::to_string_pretty` folded onto one line, spaces around
    /// `:` and `,`.
    Pretty,
    /// Hand-written: every non-ASCII character and `/` escaped (astral ones as
    /// surrogate pairs), floats in exponent form, tabs and spaces between
    /// tokens.
    Escaped,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Compact),
        Just(Style::Pretty),
        Just(Style::Escaped)
    ]
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\u{8}' => out.push_str("\\b"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_escaped(v: &J, out: &mut String) {
    match v {
        J::Number(n) if n.is_f64() => {
            let _ = write!(out, "{:e}", n.as_f64().unwrap_or(0.0));
        }
        J::String(s) => write_str(s, out),
        J::Array(a) => {
            out.push_str("[ ");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str("\t,");
                }
                write_escaped(x, out);
            }
            out.push_str(" ]");
        }
        J::Object(m) => {
            out.push_str("{\t");
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(" , ");
                }
                write_str(k, out);
                out.push_str(" :\t");
                write_escaped(x, out);
            }
            out.push_str(" }");
        }
        other => out.push_str(&other.to_string()),
    }
}

fn line(members: &[(String, J)], style: Style) -> String {
    let mut out = String::new();
    match style {
        Style::Compact => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                out.push_str(&serde_json::to_string(v).unwrap());
            }
            out.push('}');
        }
        Style::Pretty => {
            out.push_str("  {  ");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,  ");
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(" : ");
                out.push_str(&serde_json::to_string_pretty(v).unwrap().replace('\n', " "));
            }
            out.push_str(" } ");
        }
        Style::Escaped => {
            out.push_str("\t{");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str("\t,\t");
                }
                write_str(k, &mut out);
                out.push_str("\t:");
                write_escaped(v, &mut out);
            }
            out.push_str("}\t");
        }
    }
    out
}

/// Decoded value vs. `serde_json`'s, with objects compared by re-parsing.
fn same(got: &Value<'_>, want: &J) -> bool {
    match (got, want) {
        (Value::Object(raw), J::Object(_)) => {
            serde_json::from_str::<J>(raw).is_ok_and(|j| &j == want)
        }
        (Value::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(_) | Value::Array(_), _) | (_, J::Object(_) | J::Array(_)) => false,
        (g, w) => {
            let w = Value::from_json(w);
            g == &w && g.type_name() == w.type_name()
        }
    }
}

/// Decodes `line` asking for `names`, and checks the result against
/// `serde_json`: accepted exactly when it gives an object, with equal fields.
fn check(line: &str, names: &[String]) -> Result<(), TestCaseError> {
    let fields = FieldSet::new(names.to_vec());
    let mut out = vec![Value::Null; fields.len()];
    let got = decode_json(line, &fields, &mut out);
    let want = serde_json::from_str::<J>(line);
    match (&got, &want) {
        (Ok(()), Ok(J::Object(m))) => {
            for (name, v) in names.iter().zip(&out) {
                let w = m.get(name).unwrap_or(&J::Null);
                prop_assert!(
                    same(v, w),
                    "field {name:?}: got {v:?}, serde_json {w:?}\nline {line:?}"
                );
            }
        }
        (Err(_), Err(_)) | (Err(DecodeError::NotObject { .. }), Ok(_)) => {}
        _ => prop_assert!(
            false,
            "decode_json {got:?} but serde_json {want:?}\nline {line:?}"
        ),
    }
    Ok(())
}

/// The names to ask for: some present keys and some absent ones.
fn pick(members: &[(String, J)], picks: &[prop::sample::Index]) -> Vec<String> {
    let mut names: Vec<String> = vec!["a".into(), "zz".into()];
    if !members.is_empty() {
        for p in picks {
            names.push(p.get(members).0.clone());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(prop::sample::Index, char),
    Insert(prop::sample::Index, char),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let c = prop_oneof![
        prop::sample::select(
            "\"{}[],:\\ \t0123456789eE.+-tfnrulx/\u{0}\u{1f}é"
                .chars()
                .collect::<Vec<_>>()
        ),
        any::<char>(),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), c.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<prop::sample::Index>(), c).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<prop::sample::Index>().prop_map(Mutation::Delete),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(line: &str, muts: &[Mutation]) -> String {
    let mut cs: Vec<char> = line.chars().collect();
    for m in muts {
        if cs.is_empty() {
            break;
        }
        match m {
            Mutation::Replace(i, c) => {
                let i = i.index(cs.len());
                cs[i] = *c;
            }
            Mutation::Insert(i, c) => {
                let i = i.index(cs.len() + 1);
                cs.insert(i, *c);
            }
            Mutation::Delete(i) => {
                cs.remove(i.index(cs.len()));
            }
            Mutation::Truncate(i) => cs.truncate(i.index(cs.len())),
        }
    }
    cs.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_lines_decode_like_serde_json(
        m in members(),
        st in style(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let l = line(&m, st);
        let names = pick(&m, &picks);
        let fields = FieldSet::new(names.clone());
        let mut out = vec![Value::Null; fields.len()];
        prop_assert!(decode_json(&l, &fields, &mut out).is_ok(), "rejected {l:?}: {:?}", decode_json(&l, &fields, &mut out));
        check(&l, &names)?;
    }

    /// Lines decoded one after another with a shared [`KeyOrder`] (keys in
    /// other orders, repeated, missing, unwanted, lines that fail) decode
    /// as each line alone does.
    #[test]
    fn remembered_key_order_decodes_as_each_line_alone(
        lines in prop::collection::vec((members(), style()), 1..6),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        muts in prop::collection::vec(mutation(), 0..2),
    ) {
        let names = pick(&lines[0].0, &picks);
        let fields = FieldSet::new(names);
        let mut order = KeyOrder::default();
        for (i, (m, st)) in lines.iter().enumerate() {
            let mut l = line(m, *st);
            if i == 1 {
                l = mutate(&l, &muts);
            }
            let mut alone = vec![Value::Null; fields.len()];
            let mut ordered = vec![Value::Null; fields.len()];
            let want = decode_json(&l, &fields, &mut alone);
            let got = decode_json_in_order(&l, &fields, &mut ordered, &mut order);
            prop_assert_eq!(got.is_ok(), want.is_ok(), "line {:?}", l);
            if want.is_ok() {
                prop_assert_eq!(format!("{ordered:?}"), format!("{alone:?}"), "line {:?}", l);
            }
        }
    }

    #[test]
    fn mutated_lines_are_accepted_exactly_when_serde_json_accepts(
        m in members(),
        st in style(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let l = mutate(&line(&m, st), &muts);
        check(&l, &pick(&m, &picks))?;
    }

    #[test]
    fn every_prefix_is_judged_like_serde_json(m in members(), st in style()) {
        let l = line(&m, st);
        let names = pick(&m, &[]);
        for (i, _) in l.char_indices() {
            check(&l[..i], &names)?;
        }
    }

    #[test]
    fn rfc3339_agrees_with_chrono(
        y in 0i64..10000, mo in 0i64..14, d in 0i64..33, h in 0i64..25, mi in 0i64..61, s in 0i64..61,
        frac in prop_oneof![Just(String::new()), "\\.[0-9]{1,12}"],
        tz in prop_oneof![Just("Z".to_string()), Just("z".to_string()), "[+-](0[0-9]|1[0-9]|2[0-4]):[0-6][0-9]"],
        sep in prop_oneof![Just('T'), Just('t'), Just(' ')],
    ) {
        let text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{tz}");
        let want = chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
        prop_assert_eq!(parse_rfc3339_ms(&text), want, "{}", text);
    }

    #[test]
    fn csv_fields_round_trip(cols in prop::collection::vec(prop_oneof!["[a-z0-9 .,\"e+-]{0,8}", any::<String>().prop_map(|s| s.replace(['\n', '\r'], ""))], 1..8)) {
        let names: Vec<String> = (0..cols.len()).map(|i| format!("c{i}")).collect();
        let fields = FieldSet::new(names.clone());
        let header = CsvHeader::parse(&names.join(","), &fields).unwrap();
        let quoted: Vec<String> = cols.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
        let l = quoted.join(",");
        let mut out = vec![Value::Null; fields.len()];
        decode_csv(&l, &header, &mut out).unwrap();
        for (v, c) in out.iter().zip(&cols) {
            prop_assert_eq!(v.as_str(), Some(c.as_str()));
        }
        // Unquoted where possible: inference, or the exact text.
        let plain: Vec<String> = cols.iter().zip(&quoted).map(|(c, q)| if c.contains([',', '"']) { q.clone() } else { c.clone() }).collect();
        let l = plain.join(",");
        let mut out = vec![Value::Null; fields.len()];
        decode_csv(&l, &header, &mut out).unwrap();
        for ((v, c), p) in out.iter().zip(&cols).zip(&plain) {
            match v {
                Value::Str(s) => prop_assert_eq!(s.as_ref(), c.as_str()),
                Value::Null => prop_assert!(c.is_empty()),
                Value::Int(i) => prop_assert_eq!(c.parse::<i64>().ok(), Some(*i)),
                Value::Float(f) => prop_assert_eq!(c.parse::<f64>().ok(), Some(*f)),
                Value::Bool(b) => prop_assert_eq!(c.as_str(), if *b { "true" } else { "false" }),
                other => prop_assert!(false, "{other:?} from {p:?}"),
            }
        }
    }
}
