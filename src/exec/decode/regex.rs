//! `format = 'regex'`: the named captures of line patterns become fields.
//!
//! A stream gives one pattern or several, each for a *kind* of line
//! ([`RegexSpec`]). All of them are compiled together into one
//! `regex-automata` multi-pattern regex, searched anchored at the start of
//! the line, so the first pattern (in the order given) that matches there
//! wins and its kind becomes the field `kind`. A line no pattern matches is
//! rejected.
//!
//! The compiled regex depends on the plan ([`RegexDecoder::new`]): named
//! groups whose field no query needs are turned into plain, non-capturing
//! groups first, so the regex engine tracks only the captures some query
//! reads; with none at all, a match needs no capture tracking whatever
//! (the fastest search). Captured text is converted by its [`CaptureType`]
//! (`types = 'pid:int,ts:timestamp(%b %d %H:%M:%S)'`).

use super::timefmt::{TimeFormat, YearContext};
use super::{DecodeError, FieldSet};
use crate::parser::ast::DataType;
use crate::value::Value;
use regex_automata::util::captures::Captures;
use regex_automata::{meta, Anchored, Input};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The field that names the pattern a line matched.
pub const KIND_FIELD: &str = "kind";

/// The kind of the lone pattern given as `pattern = '…'`.
pub const DEFAULT_KIND: &str = "default";

/// How a capture's text becomes a value. Empty text is `NULL` for every type
/// but `Text`; a group that took no part in the match is always `NULL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureType {
    /// The text as is (the default).
    Text,
    /// A signed 64-bit integer (`int`, `integer`, `bigint`).
    Int,
    /// A finite 64-bit float (`float`, `double`).
    Float,
    /// `true` or `false`, any case (`bool`, `boolean`).
    Bool,
    /// Epoch milliseconds: with a format, parsed by it; without, an RFC 3339
    /// time or an integer of milliseconds (`timestamp`, `timestamp(FMT)`).
    Timestamp(Option<TimeFormat>),
}

impl CaptureType {
    /// The column type a capture of this type has.
    pub fn data_type(&self) -> DataType {
        match self {
            CaptureType::Text => DataType::Text,
            CaptureType::Int => DataType::BigInt,
            CaptureType::Float => DataType::Double,
            CaptureType::Bool => DataType::Boolean,
            CaptureType::Timestamp(_) => DataType::Timestamp,
        }
    }

    /// The conversion a declared column type asks for; `None` for arrays,
    /// which no capture can hold.
    pub fn from_data_type(ty: &DataType) -> Option<CaptureType> {
        Some(match ty {
            DataType::Text => CaptureType::Text,
            DataType::BigInt => CaptureType::Int,
            DataType::Double => CaptureType::Float,
            DataType::Boolean => CaptureType::Bool,
            DataType::Timestamp => CaptureType::Timestamp(None),
            DataType::Array(_) => return None,
        })
    }

    /// Converts captured text; the error is a human reason.
    pub fn convert<'a>(&self, text: &'a str, years: &YearContext) -> Result<Value<'a>, String> {
        if text.is_empty() {
            return Ok(match self {
                CaptureType::Text => Value::Str(Cow::Borrowed(text)),
                _ => Value::Null,
            });
        }
        match self {
            CaptureType::Text => Ok(Value::Str(Cow::Borrowed(text))),
            CaptureType::Int => text
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("{} is not an integer", quote_short(text))),
            CaptureType::Float => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(format!("{} is not a finite number", quote_short(text))),
            },
            CaptureType::Bool => {
                if text.eq_ignore_ascii_case("true") {
                    Ok(Value::Bool(true))
                } else if text.eq_ignore_ascii_case("false") {
                    Ok(Value::Bool(false))
                } else {
                    Err(format!("{} is not true or false", quote_short(text)))
                }
            }
            CaptureType::Timestamp(Some(f)) => f
                .parse_ms(text, years)
                .map(Value::Int)
                .map_err(|e| format!("{} does not fit `{}`: {e}", quote_short(text), f.as_str())),
            CaptureType::Timestamp(None) => text
                .parse::<i64>()
                .ok()
                .or_else(|| super::parse_rfc3339_ms(text))
                .map(Value::Int)
                .ok_or_else(|| {
                    format!(
                        "{} is neither RFC 3339 nor epoch milliseconds",
                        quote_short(text)
                    )
                }),
        }
    }
}

fn quote_short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}…", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// Parses a `types` option: `name:type` entries separated by commas, where a
/// type is `text`, `int`, `float`, `bool`, `timestamp` or
/// `timestamp(FORMAT)` (the format may contain commas).
pub fn parse_types(s: &str) -> Result<Vec<(String, CaptureType)>, String> {
    let mut out: Vec<(String, CaptureType)> = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(colon) = rest.find(':') else {
            return Err(format!("expected `name:type` in types, found `{rest}`"));
        };
        let name = rest[..colon].trim();
        if !is_field_name(name) {
            return Err(format!("`{name}` in types is not a field name"));
        }
        rest = rest[colon + 1..].trim_start();
        let word_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let word = rest[..word_end].to_ascii_lowercase();
        rest = &rest[word_end..];
        let ty = match word.as_str() {
            "text" | "string" => CaptureType::Text,
            "int" | "integer" | "bigint" => CaptureType::Int,
            "float" | "double" => CaptureType::Float,
            "bool" | "boolean" => CaptureType::Bool,
            "timestamp" => match rest.strip_prefix('(') {
                Some(inner) => {
                    let Some(close) = inner.find(')') else {
                        return Err(format!("unclosed `(` in the timestamp format of `{name}`"));
                    };
                    let f = TimeFormat::parse(&inner[..close])?;
                    rest = &inner[close + 1..];
                    CaptureType::Timestamp(Some(f))
                }
                None => CaptureType::Timestamp(None),
            },
            _ => {
                return Err(format!(
                    "unknown type `{word}` for `{name}`: expected text, int, float, bool, timestamp or timestamp(FORMAT)"
                ))
            }
        };
        rest = rest.trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => {
                return Err(format!(
                    "expected `,` after the type of `{name}`, found `{rest}`"
                ))
            }
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("`{name}` is given two types"));
        }
        out.push((name.to_string(), ty));
    }
    Ok(out)
}

/// Whether `s` is a bare SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`), so a
/// field of that name can be written in a query without quotes.
pub fn is_field_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// One line pattern and the kind of line it recognizes.
#[derive(Clone, Debug)]
struct LinePattern {
    kind: String,
    regex: String,
    hir: Hir,
}

/// Why a regex stream's patterns or types are wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegexSpecError {
    /// Pattern number `index` (0-based, in the order given) is wrong.
    #[error("{message}")]
    Pattern {
        /// Which pattern.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The `types` option is wrong, or disagrees with the patterns.
    #[error("{0}")]
    Types(String),
    /// A declared column is not a capture, or its type disagrees.
    #[error("{message}")]
    Column {
        /// The column.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// A regex stream's patterns, checked, with every field they produce and its
/// conversion.
#[derive(Clone, Debug)]
pub struct RegexSpec {
    patterns: Vec<LinePattern>,
    /// Every named capture of any pattern, in order of first appearance,
    /// then `kind`: the stream's columns.
    fields: Vec<(String, CaptureType)>,
}

impl PartialEq for RegexSpec {
    fn eq(&self, other: &RegexSpec) -> bool {
        self.fields == other.fields
            && self.patterns.len() == other.patterns.len()
            && self
                .patterns
                .iter()
                .zip(&other.patterns)
                .all(|(a, b)| a.kind == b.kind && a.regex == b.regex)
    }
}

impl RegexSpec {
    /// Checks `(kind, regex)` patterns (in priority order), the `types`
    /// option and the declared columns (if any) against each other.
    ///
    /// A capture's type is the one `types` gives, else its declared column's,
    /// else `Text`. Capture names must be bare identifiers other than `kind`;
    /// the same name may appear in several patterns (it is one field).
    /// Declared columns must be captures (or `kind`, which is `TEXT`).
    pub fn new(
        patterns: Vec<(String, String)>,
        types: Vec<(String, CaptureType)>,
        declared: Option<&[(String, DataType)]>,
    ) -> Result<RegexSpec, RegexSpecError> {
        let mut lines = Vec::with_capacity(patterns.len());
        let mut names: Vec<String> = Vec::new();
        for (index, (kind, regex)) in patterns.into_iter().enumerate() {
            let perr = |message: String| RegexSpecError::Pattern { index, message };
            let hir = regex_syntax::ParserBuilder::new()
                .build()
                .parse(&regex)
                .map_err(|e| {
                    let text = e.to_string();
                    perr(format!(
                        "invalid regex: {}",
                        text.lines().last().unwrap_or("").trim()
                    ))
                })?;
            let mut own = Vec::new();
            capture_names(&hir, &mut own);
            for n in own {
                if n == KIND_FIELD {
                    return Err(perr(format!(
                        "the capture name `{KIND_FIELD}` is reserved for the pattern's kind"
                    )));
                }
                if !is_field_name(&n) {
                    return Err(perr(format!(
                        "capture name `{n}` is not a field name ([A-Za-z_][A-Za-z0-9_]*)"
                    )));
                }
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            lines.push(LinePattern { kind, regex, hir });
        }
        for (n, _) in &types {
            if !names.contains(n) {
                return Err(RegexSpecError::Types(format!(
                    "types names `{n}`, which no pattern captures"
                )));
            }
        }
        let declared = declared.unwrap_or(&[]);
        for (n, ty) in declared {
            if n == KIND_FIELD {
                if *ty != DataType::Text {
                    return Err(RegexSpecError::Column {
                        name: n.clone(),
                        message: format!(
                        "column `{KIND_FIELD}` holds the pattern's kind and must be TEXT, not {ty}"
                    ),
                    });
                }
                continue;
            }
            if !names.contains(n) {
                return Err(RegexSpecError::Column {
                    name: n.clone(),
                    message: format!("column `{n}` is not captured by any pattern"),
                });
            }
            if CaptureType::from_data_type(ty).is_none() {
                return Err(RegexSpecError::Column {
                    name: n.clone(),
                    message: format!("column `{n}` is {ty}, which a capture cannot hold"),
                });
            }
            if let Some((_, t)) = types.iter().find(|(m, _)| m == n) {
                if t.data_type() != *ty {
                    return Err(RegexSpecError::Column {
                        name: n.clone(),
                        message: format!(
                            "column `{n}` is declared {ty} but types makes it {}",
                            t.data_type()
                        ),
                    });
                }
            }
        }
        let mut fields: Vec<(String, CaptureType)> = names
            .into_iter()
            .map(|n| {
                let ty = types
                    .iter()
                    .find(|(m, _)| *m == n)
                    .map(|(_, t)| t.clone())
                    .or_else(|| {
                        declared
                            .iter()
                            .find(|(m, _)| *m == n)
                            .and_then(|(_, t)| CaptureType::from_data_type(t))
                    })
                    .unwrap_or(CaptureType::Text);
                (n, ty)
            })
            .collect();
        fields.push((KIND_FIELD.to_string(), CaptureType::Text));
        let spec = RegexSpec {
            patterns: lines,
            fields,
        };
        // All captures on: the largest regex any plan compiles.
        let all = FieldSet::new(spec.fields.iter().map(|(n, _)| n.clone()).collect());
        RegexDecoder::new(&spec, &all).map_err(|e| RegexSpecError::Pattern {
            index: 0,
            message: e,
        })?;
        Ok(spec)
    }

    /// The fields the patterns produce (every named capture, then `kind`),
    /// with their column types: the stream's columns.
    pub fn columns(&self) -> Vec<(String, DataType)> {
        self.fields
            .iter()
            .map(|(n, t)| (n.clone(), t.data_type()))
            .collect()
    }

    /// The kinds, in priority order.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.kind.as_str())
    }
}

/// The names of the named groups of `h`, in order.
fn capture_names(h: &Hir, out: &mut Vec<String>) {
    match h.kind() {
        HirKind::Capture(c) => {
            if let Some(n) = &c.name {
                out.push(n.to_string());
            }
            capture_names(&c.sub, out);
        }
        HirKind::Repetition(r) => capture_names(&r.sub, out),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            v.iter().for_each(|x| capture_names(x, out))
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

/// `h` with every group whose name `keep` refuses (and every unnamed group)
/// made non-capturing. Kept groups are renumbered 1, 2, … in order, as the
/// regex compiler requires; their names are appended to `kept`.
fn keep_captures(h: &Hir, keep: &dyn Fn(&str) -> bool, kept: &mut Vec<String>) -> Hir {
    match h.kind() {
        HirKind::Capture(c) => match c.name.as_deref().filter(|n| keep(n)) {
            Some(name) => {
                kept.push(name.to_string());
                let index = kept.len() as u32;
                let sub = keep_captures(&c.sub, keep, kept);
                Hir::capture(Capture {
                    index,
                    name: Some(name.into()),
                    sub: Box::new(sub),
                })
            }
            None => keep_captures(&c.sub, keep, kept),
        },
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(keep_captures(&r.sub, keep, kept)),
        }),
        HirKind::Concat(v) => Hir::concat(v.iter().map(|x| keep_captures(x, keep, kept)).collect()),
        HirKind::Alternation(v) => {
            Hir::alternation(v.iter().map(|x| keep_captures(x, keep, kept)).collect())
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => h.clone(),
    }
}

/// How a pattern ends when its end needs no regex engine: the rest of the
/// line, as `.*` or `.*$` gives it, or the rest without trailing
/// whitespace, as `.*?\s*$` gives it (optionally inside a group). Such a
/// tail always matches and, whatever precedes it, does not change how the
/// rest of the pattern matches (leftmost-first: the best path of the prefix
/// is the best path of the whole, since the tail accepts any remainder). So
/// the tail is cut off before compiling, and a tail group is read as
/// `line[prefix end..]`: capture engines then walk only the prefix, not the
/// message that usually ends a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tail {
    /// The tail's group name, if it is a named group.
    name: Option<String>,
    /// Trailing whitespace is dropped (the `.*?\s*$` form).
    trim: bool,
}

/// Splits a pattern into its prefix and a [`Tail`], if it has one.
fn split_tail(h: &Hir) -> (Hir, Option<Tail>) {
    let parse = |p: &str| {
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(p)
            .expect("fixed pattern parses")
    };
    let (greedy, lazy, spaces, end) = (parse(".*"), parse(".*?"), parse(r"\s*"), parse("$"));
    let HirKind::Concat(items) = h.kind() else {
        return (h.clone(), None);
    };
    let mut items: &[Hir] = items;
    let anchored_end = items.last() == Some(&end);
    if anchored_end {
        items = &items[..items.len() - 1];
    }
    // The rest of the line, as the item or as a group around it.
    let rest_of = |item: &Hir, want: &Hir| -> Option<Option<String>> {
        if item == want {
            return Some(None);
        }
        match item.kind() {
            HirKind::Capture(c) if *c.sub == *want => Some(c.name.as_deref().map(String::from)),
            _ => None,
        }
    };
    if let Some(last) = items.last() {
        if let Some(name) = rest_of(last, &greedy) {
            let prefix = Hir::concat(items[..items.len() - 1].to_vec());
            return (prefix, Some(Tail { name, trim: false }));
        }
        if anchored_end && items.len() >= 2 && *last == spaces {
            if let Some(name) = rest_of(&items[items.len() - 2], &lazy) {
                let prefix = Hir::concat(items[..items.len() - 2].to_vec());
                return (prefix, Some(Tail { name, trim: true }));
            }
        }
    }
    (h.clone(), None)
}

/// A slot and the index of its field in [`RegexSpec::fields`].
type SlotField = (usize, usize);

/// A capture the decoder reads.
#[derive(Clone, Debug)]
struct Group {
    /// Group index within its pattern.
    index: usize,
    /// Slot it fills.
    slot: usize,
    /// Index into [`RegexSpec::fields`]: its name and conversion.
    field: usize,
}

/// A regex stream's patterns compiled for one plan: only the captures the
/// plan's fields need are tracked.
#[derive(Clone, Debug)]
pub struct RegexDecoder {
    re: meta::Regex,
    /// Interned kind names, by pattern.
    kinds: Vec<&'static str>,
    /// The slot of `kind`, if needed.
    kind_slot: Option<usize>,
    /// Per pattern, the captures read.
    groups: Vec<Vec<Group>>,
    /// Per pattern, its tail, with the tail group's slot and field if read.
    tails: Vec<Option<(Tail, Option<SlotField>)>>,
    /// Field names and conversions (the spec's).
    fields: Vec<(String, CaptureType)>,
    /// Whether any capture is read (otherwise a plain match suffices).
    captures: bool,
}

/// Per-thread search state of a [`RegexDecoder`].
pub struct RegexScratch {
    cache: meta::Cache,
    caps: Captures,
}

impl RegexDecoder {
    /// Compiles `spec` for the fields in `fields` (names outside the spec are
    /// ignored).
    pub fn new(spec: &RegexSpec, fields: &FieldSet) -> Result<RegexDecoder, String> {
        let mut hirs = Vec::with_capacity(spec.patterns.len());
        let mut groups = Vec::with_capacity(spec.patterns.len());
        let mut tails = Vec::with_capacity(spec.patterns.len());
        let wanted = |n: &str| fields.slot_of(n.as_bytes()).is_some();
        let field_of = |n: &str| spec.fields.iter().position(|(m, _)| m == n);
        for p in &spec.patterns {
            let (prefix, tail) = split_tail(&p.hir);
            tails.push(tail.map(|t| {
                let read = t
                    .name
                    .as_deref()
                    .and_then(|n| Some((fields.slot_of(n.as_bytes())?, field_of(n)?)));
                (t, read)
            }));
            let mut kept = Vec::new();
            hirs.push(keep_captures(&prefix, &wanted, &mut kept));
            groups.push(
                kept.iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        Some(Group {
                            index: i + 1,
                            slot: fields.slot_of(n.as_bytes())?,
                            field: field_of(n)?,
                        })
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let re = meta::Regex::builder()
            .build_many_from_hir(&hirs)
            .map_err(|e| format!("the patterns do not compile together: {e}"))?;
        Ok(RegexDecoder {
            re,
            kinds: spec.patterns.iter().map(|p| intern(&p.kind)).collect(),
            kind_slot: fields.slot_of(KIND_FIELD.as_bytes()),
            captures: groups.iter().any(|g| !g.is_empty()),
            groups,
            tails,
            fields: spec.fields.clone(),
        })
    }

    /// Fresh search state, one per thread.
    pub fn scratch(&self) -> RegexScratch {
        RegexScratch {
            cache: self.re.create_cache(),
            caps: self.re.create_captures(),
        }
    }

    /// The pattern `line` matches (anchored at its start) and where the
    /// match (of its prefix, when the tail was cut off) ends, with the
    /// captures in `scratch`.
    fn search(
        &self,
        line: &str,
        scratch: &mut RegexScratch,
    ) -> Result<(usize, usize), DecodeError> {
        let input = Input::new(line).anchored(Anchored::Yes);
        let m = if self.captures {
            self.re
                .search_captures_with(&mut scratch.cache, &input, &mut scratch.caps);
            scratch.caps.get_match()
        } else {
            self.re.search_with(&mut scratch.cache, &input)
        };
        m.map(|m| (m.pattern().as_usize(), m.end()))
            .ok_or_else(|| DecodeError::NoMatch {
                kinds: if self.kinds.len() == 1 {
                    String::new()
                } else {
                    self.kinds.join(", ")
                },
            })
    }

    /// Decodes one line into the slots of the plan the decoder was built
    /// for: `kind` and the needed captures, converted. `out` should be all
    /// `Null`.
    pub fn decode<'a>(
        &self,
        line: &'a str,
        scratch: &mut RegexScratch,
        years: &YearContext,
        out: &mut [Value<'a>],
    ) -> Result<(), DecodeError> {
        let (pid, end) = self.search(line, scratch)?;
        if let Some(s) = self.kind_slot {
            out[s] = Value::Str(Cow::Borrowed(self.kinds[pid]));
        }
        for g in &self.groups[pid] {
            if let Some(span) = scratch.caps.get_group(g.index) {
                out[g.slot] = self.convert(g.field, &line[span.range()], span.start, years)?;
            }
        }
        if let Some((tail, Some((slot, field)))) = &self.tails[pid] {
            out[*slot] = self.convert(*field, tail_text(line, end, tail), end, years)?;
        }
        Ok(())
    }

    fn convert<'a>(
        &self,
        field: usize,
        text: &'a str,
        offset: usize,
        years: &YearContext,
    ) -> Result<Value<'a>, DecodeError> {
        let (name, ty) = &self.fields[field];
        ty.convert(text, years)
            .map_err(|reason| DecodeError::Field {
                field: name.clone(),
                reason,
                offset,
            })
    }

    /// Every field of the pattern `line` matches, as a JSON object (for
    /// `SELECT *`): `kind` and each of the pattern's captures (`null` when
    /// the group took no part in the match). Build the decoder with every
    /// field for this.
    pub fn row_object(
        &self,
        line: &str,
        scratch: &mut RegexScratch,
        years: &YearContext,
    ) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
        let (pid, end) = self.search(line, scratch)?;
        let mut map = serde_json::Map::new();
        map.insert(KIND_FIELD.into(), self.kinds[pid].into());
        if let Some((tail, Some((_, field)))) = &self.tails[pid] {
            let v = self.convert(*field, tail_text(line, end, tail), end, years)?;
            map.insert(self.fields[*field].0.clone(), super::value_json(v));
        }
        for g in &self.groups[pid] {
            let v = match scratch.caps.get_group(g.index) {
                Some(span) => self.convert(g.field, &line[span.range()], span.start, years)?,
                None => Value::Null,
            };
            map.insert(self.fields[g.field].0.clone(), super::value_json(v));
        }
        Ok(map)
    }

    /// Every field of the spec, for a decoder that reads them all.
    pub fn all_fields(spec: &RegexSpec) -> FieldSet {
        FieldSet::new(spec.fields.iter().map(|(n, _)| n.clone()).collect())
    }
}

/// The text of a tail group whose prefix matched up to `end`.
fn tail_text<'a>(line: &'a str, end: usize, tail: &Tail) -> &'a str {
    if tail.trim {
        line[end..].trim_end()
    } else {
        &line[end..]
    }
}

/// A `'static` copy of `s`, made once per distinct string, so that values can
/// borrow kind names for any lifetime. Kinds come from stream definitions, so
/// the set stays small.
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(s) {
        return n;
    }
    let n: &'static str = Box::leak(s.to_string().into_boxed_str());
    names.insert(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::decode::timefmt::YearRule;

    fn years() -> YearContext {
        YearContext::new(YearRule::Fixed(2005), 0)
    }

    fn spec(patterns: &[(&str, &str)], types: &str) -> RegexSpec {
        RegexSpec::new(
            patterns
                .iter()
                .map(|(k, r)| (k.to_string(), r.to_string()))
                .collect(),
            parse_types(types).unwrap(),
            None,
        )
        .unwrap()
    }

    fn decode<'a>(
        spec: &RegexSpec,
        want: &[&str],
        line: &'a str,
    ) -> Result<Vec<Value<'a>>, DecodeError> {
        let fs = FieldSet::new(want.iter().map(|s| s.to_string()).collect());
        let d = RegexDecoder::new(spec, &fs).unwrap();
        let mut scratch = d.scratch();
        let mut out = vec![Value::Null; fs.len()];
        d.decode(line, &mut scratch, &years(), &mut out)?;
        Ok(out)
    }

    #[test]
    fn types_option() {
        let t = parse_types(
            " pid:int, ts : timestamp(%H:%M:%S,%f %b %d) ,x:FLOAT,ok:bool,t:text,e:timestamp",
        )
        .unwrap();
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["pid", "ts", "x", "ok", "t", "e"]);
        assert_eq!(t[0].1, CaptureType::Int);
        assert!(
            matches!(&t[1].1, CaptureType::Timestamp(Some(f)) if f.as_str() == "%H:%M:%S,%f %b %d")
        );
        assert_eq!(t[5].1, CaptureType::Timestamp(None));
        assert!(parse_types("").unwrap().is_empty());
        for (bad, msg) in [
            ("pid", "expected `name:type`"),
            ("pid:integr", "unknown type `integr`"),
            ("p d:int", "not a field name"),
            ("ts:timestamp(%b %d", "unclosed `(`"),
            ("ts:timestamp(%H)", "needs a month"),
            ("a:int b:int", "expected `,`"),
            ("a:int,a:text", "two types"),
        ] {
            let e = parse_types(bad).unwrap_err();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn captures_typed_and_kind() {
        let s = spec(
            &[
                ("req", r"(?P<ip>\S+) (?P<code>\d+) (?P<bytes>\S+)"),
                ("err", r"ERROR (?P<msg>.*)"),
            ],
            "code:int,bytes:float",
        );
        let cols = s.columns();
        assert_eq!(
            cols,
            vec![
                ("ip".to_string(), DataType::Text),
                ("code".to_string(), DataType::BigInt),
                ("bytes".to_string(), DataType::Double),
                ("msg".to_string(), DataType::Text),
                ("kind".to_string(), DataType::Text),
            ]
        );
        let v = decode(&s, &["kind", "code", "bytes", "msg"], "1.2.3.4 200 5.5").unwrap();
        assert_eq!(v[0].as_str(), Some("req"));
        assert!(matches!(v[1], Value::Int(200)));
        assert!(matches!(v[2], Value::Float(f) if f == 5.5));
        assert!(v[3].is_null());
        // The first pattern that matches wins, even when a later one matches more.
        let v = decode(&s, &["kind", "msg", "ip"], "ERROR 1 2").unwrap();
        assert_eq!(v[0].as_str(), Some("req"));
        assert_eq!(v[2].as_str(), Some("ERROR"));
        let v = decode(&s, &["kind", "msg"], "ERROR disk full").unwrap();
        assert_eq!(v[0].as_str(), Some("err"));
        assert_eq!(v[1].as_str(), Some("disk full"));
        // Anchored at the start.
        let e = decode(&s, &["kind"], "  ERROR x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line matches none of the patterns (req, err)"
        );
        let e = decode(&s, &["bytes"], "1.2.3.4 200 lots").unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `bytes`: \"lots\" is not a finite number"
        );
        // A field no query needs is not converted.
        assert!(decode(&s, &["ip"], "1.2.3.4 200 lots").is_ok());
    }

    #[test]
    fn only_needed_groups_capture() {
        let s = spec(
            &[("a", r"(?P<x>\d+)-(?P<y>(?P<z>\d)\d*)-(\w+)")],
            "x:int,z:int",
        );
        let fs = FieldSet::new(vec!["z".into()]);
        let d = RegexDecoder::new(&s, &fs).unwrap();
        assert_eq!(
            d.re.group_info().group_len(regex_automata::PatternID::ZERO),
            2
        );
        let mut scr = d.scratch();
        let mut out = vec![Value::Null];
        d.decode("12-345-ab", &mut scr, &years(), &mut out).unwrap();
        assert!(matches!(out[0], Value::Int(3)));
        // No capture needed at all: plain matching.
        let d = RegexDecoder::new(&s, &FieldSet::new(vec!["kind".into()])).unwrap();
        assert!(!d.captures);
        let mut scr = d.scratch();
        let mut out = vec![Value::Null];
        d.decode("1-2-c", &mut scr, &years(), &mut out).unwrap();
        assert_eq!(out[0].as_str(), Some("a"));
        assert!(d.decode("1-2-", &mut scr, &years(), &mut out).is_err());
    }

    #[test]
    fn optional_groups_and_empty_text() {
        let s = spec(
            &[("l", r"(?P<prog>[a-z]+)(?:\[(?P<pid>\d*)\])?: (?P<msg>.*)")],
            "pid:int",
        );
        let v = decode(&s, &["pid", "msg"], "cron: hi").unwrap();
        assert!(v[0].is_null());
        let v = decode(&s, &["pid", "msg"], "cron[]: ").unwrap();
        assert!(v[0].is_null());
        assert_eq!(v[1].as_str(), Some(""));
        let v = decode(&s, &["pid"], "cron[77]: x").unwrap();
        assert!(matches!(v[0], Value::Int(77)));
    }

    #[test]
    fn timestamps_and_row_objects() {
        let s = spec(
            &[("l", r"(?P<ts>\w{3} +\d+ [\d:]+) (?P<host>\S+) (?P<n>\d+)")],
            "ts:timestamp(%b %d %H:%M:%S),n:int",
        );
        let v = decode(&s, &["ts"], "Jan  2 03:04:05 h 9").unwrap();
        assert!(matches!(v[0], Value::Int(t) if t == 1_104_635_045_000));
        let e = decode(&s, &["ts"], "Jan 32 03:04:05 h 9").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("field `ts`: \"Jan 32 03:04:05\" does not fit"),
            "{e}"
        );
        let d = RegexDecoder::new(&s, &RegexDecoder::all_fields(&s)).unwrap();
        let mut scr = d.scratch();
        let obj = d
            .row_object("Jan  2 03:04:05 h 9 tail", &mut scr, &years())
            .unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"kind": "l", "ts": 1_104_635_045_000i64, "host": "h", "n": 9})
        );
    }

    #[test]
    fn tails_are_read_without_the_engine() {
        let tail = |p: &str| {
            let h = regex_syntax::ParserBuilder::new().build().parse(p).unwrap();
            split_tail(&h).1
        };
        let t = |name: Option<&str>, trim| {
            Some(Tail {
                name: name.map(String::from),
                trim,
            })
        };
        assert_eq!(tail(r"(?P<a>\w+) (?P<m>.*)"), t(Some("m"), false));
        assert_eq!(tail(r"(?P<a>\w+) (?P<m>.*)$"), t(Some("m"), false));
        assert_eq!(tail(r"(?P<a>\w+) .*"), t(None, false));
        assert_eq!(tail(r"(?P<a>\w+): (?P<m>.*?)\s*$"), t(Some("m"), true));
        assert_eq!(tail(r"x(.*?)\s*$"), t(None, true));
        for none in [
            r"(?P<a>\w+) (?P<m>.+)",
            r"a(?P<m>.*?)\s*",
            r"a(?P<m>.*?)$",
            r"a(?s:.*)",
            r"(?P<m>.*)x",
            r"a|.*",
        ] {
            assert_eq!(tail(none), None, "{none}");
        }
        let s = spec(
            &[
                ("a", r"(?P<n>\d+) (?P<m>.*?)\s*$"),
                ("b", r"(?P<w>\w+)(?P<rest>.*)"),
            ],
            "n:int",
        );
        let v = decode(&s, &["m", "kind", "n"], "12 hello  world \t ").unwrap();
        assert_eq!(v[0].as_str(), Some("hello  world"));
        assert_eq!(v[1].as_str(), Some("a"));
        assert!(matches!(v[2], Value::Int(12)));
        let v = decode(&s, &["rest", "w"], "word, more ").unwrap();
        assert_eq!(v[0].as_str(), Some(", more "));
        assert_eq!(v[1].as_str(), Some("word"));
        let v = decode(&s, &["m"], "7 ").unwrap();
        assert_eq!(v[0].as_str(), Some(""));
        let d = RegexDecoder::new(&s, &RegexDecoder::all_fields(&s)).unwrap();
        let mut scr = d.scratch();
        let obj = d.row_object("3 x y ", &mut scr, &years()).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"kind": "a", "n": 3, "m": "x y"})
        );
    }

    /// The decoder (tails cut off, unneeded groups dropped) captures what
    /// the whole pattern captures when run by regex-automata directly.
    #[test]
    fn decoding_agrees_with_the_whole_pattern() {
        use proptest::prelude::*;
        let patterns = [
            r"(?P<a>[a-c]+?)(?P<b>b*) (?P<m>.*?)\s*$",
            r"(?P<a>\w*)(?:-(?P<b>\d+))? *(?P<m>.*)",
            r"(?P<a>a|ab)(?P<b>b?)(?P<m>.*)$",
        ];
        for p in patterns {
            let s = spec(&[("k", p)], "");
            let oracle = meta::Regex::new(p).unwrap();
            let d = RegexDecoder::new(&s, &RegexDecoder::all_fields(&s)).unwrap();
            let names = ["a", "b", "m"];
            let fs = RegexDecoder::all_fields(&s);
            proptest!(ProptestConfig::with_cases(300), |(line in "[a-c0-9 \t-]{0,12}")| {
                let mut caps = oracle.create_captures();
                oracle.search_captures(&Input::new(&line).anchored(Anchored::Yes), &mut caps);
                let mut scr = d.scratch();
                let mut out = vec![Value::Null; fs.len()];
                let got = d.decode(&line, &mut scr, &years(), &mut out);
                prop_assert_eq!(got.is_ok(), caps.is_match());
                if caps.is_match() {
                    for n in names {
                        let want = caps.get_group_by_name(n).map(|sp| &line[sp.range()]);
                        let slot = fs.slot_of(n.as_bytes()).unwrap();
                        prop_assert_eq!(out[slot].as_str(), want, "{} on {:?}", n, line);
                    }
                }
            });
        }
    }

    #[test]
    fn spec_errors() {
        let new = |p: &[(&str, &str)], t: &str, cols: Option<&[(String, DataType)]>| {
            RegexSpec::new(
                p.iter()
                    .map(|(k, r)| (k.to_string(), r.to_string()))
                    .collect(),
                parse_types(t).unwrap(),
                cols,
            )
        };
        let e = new(&[("a", "x"), ("b", "(?P<n>")], "", None).unwrap_err();
        assert!(
            matches!(&e, RegexSpecError::Pattern { index: 1, message } if message.starts_with("invalid regex")),
            "{e:?}"
        );
        let e = new(&[("a", "(?P<kind>x)")], "", None).unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
        let e = new(&[("a", "(?P<a.b>x)")], "", None).unwrap_err();
        assert!(e.to_string().contains("not a field name"), "{e}");
        let e = new(&[("a", "(?P<n>x)")], "m:int", None).unwrap_err();
        assert_eq!(e.to_string(), "types names `m`, which no pattern captures");
        let cols = [("z".to_string(), DataType::Text)];
        let e = new(&[("a", "(?P<n>x)")], "", Some(&cols)).unwrap_err();
        assert_eq!(e.to_string(), "column `z` is not captured by any pattern");
        let cols = [("n".to_string(), DataType::Text)];
        let e = new(&[("a", "(?P<n>x)")], "n:int", Some(&cols)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `n` is declared TEXT but types makes it BIGINT"
        );
        // A declared type converts an untyped capture; a name may repeat
        // across patterns.
        let cols = [("n".to_string(), DataType::BigInt)];
        let s = new(
            &[("a", r"(?P<n>\d+)"), ("b", r"x(?P<n>\d+)")],
            "",
            Some(&cols),
        )
        .unwrap();
        assert_eq!(s.columns()[0], ("n".to_string(), DataType::BigInt));
        let v = decode(&s, &["n", "kind"], "x42").unwrap();
        assert!(matches!(v[0], Value::Int(42)));
        assert_eq!(v[1].as_str(), Some("b"));
        assert_eq!(s.kinds().collect::<Vec<_>>(), ["a", "b"]);
    }
}
