//! Query results, how they are written as JSON, and where they go.

use super::json_text::{self, ObjectTemplate};
use crate::value::{OwnedValue, Value};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;

/// Named values, in output order.
pub type Row = Vec<(Arc<str>, OwnedValue)>;

/// One result of one query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The query that produced it.
    pub query: Arc<str>,
    /// What it says.
    pub body: ResultBody,
}

/// The two kinds of result.
#[derive(Clone, Debug, PartialEq)]
pub enum ResultBody {
    /// One group of an aggregate query, for one window or the running total.
    Aggregate {
        /// `[start, end)` in epoch milliseconds; `None` for running totals.
        window: Option<(i64, i64)>,
        /// The group key, by output name.
        group: Row,
        /// The selected aggregates, by output name.
        values: Row,
    },
    /// A record matched by a filter query: the JSON object of its selected
    /// fields (all of them for `SELECT *`).
    Row(RowJson),
}

/// The JSON object text of one output row, built once per record and row
/// shape and shared by every filter query that emits that shape. Always
/// valid JSON (serializer output, or text that parsed as JSON).
#[derive(Clone)]
pub struct RowJson(Arc<str>);

impl RowJson {
    /// The object of `template`'s member names with `values` (one per
    /// member), in order.
    /// `buf` is scratch space, reused from row to row.
    pub fn from_template<'v, 'a: 'v>(
        template: &json_text::ObjectTemplate,
        values: impl IntoIterator<Item = &'v Value<'a>>,
        buf: &mut String,
    ) -> RowJson {
        buf.clear();
        template.write(buf, values);
        RowJson(Arc::from(buf.as_str()))
    }

    /// A value that serializes as a JSON object, serialized.
    pub fn of(object: &impl Serialize) -> RowJson {
        RowJson(Arc::from(
            serde_json::to_string(object).expect("row serializes"),
        ))
    }

    /// Takes text that should be a JSON object: kept as it is when it is
    /// valid JSON, else carried as a JSON string.
    pub fn from_text(text: &str) -> RowJson {
        RowJson(Arc::from(text_as_json(text).as_ref()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The row, borrowed.
    pub fn as_text(&self) -> RowText<'_> {
        RowText(&self.0)
    }
}

/// `text` when it is valid JSON, else `text` as a JSON string.
fn text_as_json(text: &str) -> std::borrow::Cow<'_, str> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) => raw.get().into(),
        Err(_) => serde_json::to_string(text)
            .expect("a string serializes")
            .into(),
    }
}

/// The JSON object text of one output row, borrowed from where it was built
/// (a [`RowArena`], or a [`RowJson`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowText<'r>(&'r str);

impl<'r> RowText<'r> {
    /// The JSON text.
    pub fn get(&self) -> &'r str {
        self.0
    }

    /// The row, owned.
    pub fn to_row_json(&self) -> RowJson {
        RowJson(Arc::from(self.0))
    }
}

/// Appends `json` to a [`RowArena`]'s text; where it lies there.
fn append(text: &mut String, json: &str) -> RowSpan {
    let start = text.len();
    text.push_str(json);
    RowSpan {
        start,
        end: text.len(),
    }
}

/// Where a row lies in its [`RowArena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowSpan {
    start: usize,
    end: usize,
}

/// The rows of filter queries built for one part of a batch, as one text:
/// a row costs no allocation of its own, and they are all freed (or the
/// text kept for the next part) at once.
#[derive(Debug, Default)]
pub struct RowArena {
    text: String,
}

impl RowArena {
    /// Adds the object of `template`'s member names with `values` (one per
    /// member), in order (the text of [`RowJson::from_template`]).
    pub fn push_template<'v, 'a: 'v>(
        &mut self,
        template: &json_text::ObjectTemplate,
        values: impl IntoIterator<Item = &'v Value<'a>>,
    ) -> RowSpan {
        let start = self.text.len();
        template.write(&mut self.text, values);
        RowSpan {
            start,
            end: self.text.len(),
        }
    }

    /// Adds text that should be a JSON object (as [`RowJson::from_text`]).
    pub fn push_text(&mut self, text: &str) -> RowSpan {
        append(&mut self.text, &text_as_json(text))
    }

    /// Adds a value that serializes as a JSON object, serialized (as
    /// [`RowJson::of`]).
    pub fn push_object(&mut self, object: &impl Serialize) -> RowSpan {
        let json = serde_json::to_string(object).expect("row serializes");
        append(&mut self.text, &json)
    }

    /// The row at `span`.
    pub fn get(&self, span: RowSpan) -> RowText<'_> {
        RowText(&self.text[span.start..span.end])
    }

    /// Drops every row, keeping the allocation.
    pub fn clear(&mut self) {
        self.text.clear();
    }
}

impl PartialEq for RowJson {
    fn eq(&self, other: &RowJson) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for RowJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for RowJson {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        // The text is valid JSON, so this parse succeeds; it only marks the
        // text as raw for serde (the hot paths write it with
        // [`QueryResult::write_json`] instead).
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(ser),
            Err(_) => ser.serialize_str(&self.0),
        }
    }
}

struct Obj<'a>(&'a Row);

impl Serialize for Obj<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

impl Serialize for QueryResult {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match &self.body {
            ResultBody::Aggregate {
                window,
                group,
                values,
            } => {
                let mut m = ser.serialize_map(Some(5))?;
                m.serialize_entry("query", self.query.as_ref())?;
                m.serialize_entry("window_start", &window.map(|w| w.0))?;
                m.serialize_entry("window_end", &window.map(|w| w.1))?;
                m.serialize_entry("group", &Obj(group))?;
                m.serialize_entry("values", &Obj(values))?;
                m.end()
            }
            ResultBody::Row(row) => {
                let mut m = ser.serialize_map(Some(2))?;
                m.serialize_entry("query", self.query.as_ref())?;
                m.serialize_entry("row", row)?;
                m.end()
            }
        }
    }
}

impl QueryResult {
    /// The result as one line of JSON (without newline).
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// Appends the result as one line of JSON (without newline): the same
    /// text as its `Serialize` implementation gives.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"query\":");
        json_text::push_str(out, &self.query);
        match &self.body {
            ResultBody::Aggregate {
                window,
                group,
                values,
            } => {
                push_window(out, *window);
                out.extend_from_slice(b",\"group\":");
                json_text::push_object(out, group.iter().map(|(k, v)| (k, v)));
                out.extend_from_slice(b",\"values\":");
                json_text::push_object(out, values.iter().map(|(k, v)| (k, v)));
            }
            ResultBody::Row(row) => push_row(out, row.as_text()),
        }
        out.push(b'}');
    }
}

/// Appends the `row` member of a filter query's result.
fn push_row(out: &mut Vec<u8>, row: RowText<'_>) {
    out.extend_from_slice(b",\"row\":");
    out.extend_from_slice(row.get().as_bytes());
}

/// Appends a filter query's result as one line of JSON (without newline):
/// the same text as [`QueryResult::write_json`] of that result.
fn write_row_json(out: &mut Vec<u8>, query: &str, row: RowText<'_>) {
    out.extend_from_slice(b"{\"query\":");
    json_text::push_str(out, query);
    push_row(out, row);
    out.push(b'}');
}

/// One aggregate result, borrowed from the window or running state that
/// produced it: sinks that only write results out need not own them.
#[derive(Clone, Copy, Debug)]
pub struct AggregateRef<'r> {
    /// The query that produced it.
    pub query: &'r Arc<str>,
    /// `[start, end)` in epoch milliseconds; `None` for running totals.
    pub window: Option<(i64, i64)>,
    /// The names of the group key's components.
    pub key_names: &'r [Arc<str>],
    /// The group key, one value per name.
    pub key: &'r [OwnedValue],
    /// The selected aggregates: output name and index into `aggs`.
    pub values: &'r [(Arc<str>, usize)],
    /// The final values of the query's aggregates.
    pub aggs: &'r [OwnedValue],
}

impl AggregateRef<'_> {
    /// The result, owned.
    pub fn to_result(&self) -> QueryResult {
        QueryResult {
            query: self.query.clone(),
            body: ResultBody::Aggregate {
                window: self.window,
                group: self
                    .key_names
                    .iter()
                    .cloned()
                    .zip(self.key.iter().cloned())
                    .collect(),
                values: self
                    .values
                    .iter()
                    .map(|(name, i)| (name.clone(), self.aggs[*i].clone()))
                    .collect(),
            },
        }
    }

    /// Appends the result as one line of JSON (without newline): the same
    /// text as [`QueryResult::write_json`] of [`AggregateRef::to_result`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_head(out);
        self.write_body(out);
    }

    /// Appends the start of the line, which names the query and window:
    /// `{"query":…,"window_start":…,"window_end":…`.
    fn write_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"query\":");
        json_text::push_str(out, self.query);
        push_window(out, self.window);
    }

    /// Appends the rest of the line after [`AggregateRef::write_head`]:
    /// the group, the values and the closing brace.
    fn write_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"group\":");
        json_text::push_object(out, self.key_names.iter().zip(self.key));
        out.extend_from_slice(b",\"values\":");
        json_text::push_object(
            out,
            self.values.iter().map(|(name, i)| (name, &self.aggs[*i])),
        );
        out.push(b'}');
    }
}

/// The fixed text of the last aggregate result lines a sink wrote, kept
/// for the next lines instead of being written again: the start of the
/// last line (its query and window, [`AggregateRef::write_head`]), copied
/// whole into the next line of the same query and window (the rows of one
/// window come one after another), and the member names of the last
/// query's group and values, escaped once for all its lines.
#[derive(Debug, Default)]
struct HeadText {
    /// The query of `text` (held, so that its address stays its own).
    query: Option<Arc<str>>,
    /// The window of `text`.
    window: Option<(i64, i64)>,
    /// The text.
    text: Vec<u8>,
    /// The rest of the last query's lines, its member names escaped once.
    body: Option<LineBody>,
}

/// The group object and the values object of one query's aggregate lines,
/// as [`ObjectTemplate`]s, with what they were made for: the query, and
/// the addresses and lengths of its key names and values.
#[derive(Debug)]
struct LineBody {
    query: Arc<str>,
    made_for: [usize; 4],
    group: ObjectTemplate,
    values: ObjectTemplate,
}

impl HeadText {
    /// Appends `r`'s line (without newline) to `out`: the start kept or
    /// written anew, then the rest.
    fn write_line(&mut self, out: &mut Vec<u8>, r: &AggregateRef<'_>) {
        self.put(out, r);
        debug_assert_eq!(r.key.len(), r.key_names.len(), "one key value per name");
        let made_for = [
            r.key_names.as_ptr() as usize,
            r.key_names.len(),
            r.values.as_ptr() as usize,
            r.values.len(),
        ];
        let same = self
            .body
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(&b.query, r.query) && b.made_for == made_for);
        if !same {
            self.body = Some(LineBody {
                query: r.query.clone(),
                made_for,
                group: ObjectTemplate::new(r.key_names.iter()),
                values: ObjectTemplate::new(r.values.iter().map(|(name, _)| name)),
            });
        }
        let LineBody { group, values, .. } = self.body.as_ref().expect("body made");
        out.extend_from_slice(b",\"group\":");
        group.write(out, r.key);
        out.extend_from_slice(b",\"values\":");
        values.write(out, r.values.iter().map(|(_, i)| &r.aggs[*i]));
        out.push(b'}');
    }

    /// Appends the start of `r`'s line to `out`.
    fn put(&mut self, out: &mut Vec<u8>, r: &AggregateRef<'_>) {
        let same =
            self.window == r.window && self.query.as_ref().is_some_and(|q| Arc::ptr_eq(q, r.query));
        if !same {
            self.text.clear();
            r.write_head(&mut self.text);
            self.query = Some(r.query.clone());
            self.window = r.window;
        }
        out.extend_from_slice(&self.text);
    }
}

/// Appends the `window_start` and `window_end` members of a result.
fn push_window(out: &mut Vec<u8>, window: Option<(i64, i64)>) {
    let (start, end) = match window {
        Some((s, e)) => (Value::Int(s), Value::Int(e)),
        None => (Value::Null, Value::Null),
    };
    out.extend_from_slice(b",\"window_start\":");
    json_text::push_value(out, &start);
    out.extend_from_slice(b",\"window_end\":");
    json_text::push_value(out, &end);
}

/// Where results go.
pub trait ResultSink {
    /// Takes one result.
    fn emit(&mut self, result: QueryResult);

    /// Takes one aggregate result by reference (by default, owned through
    /// [`ResultSink::emit`]).
    fn emit_aggregate(&mut self, result: &AggregateRef<'_>) {
        self.emit(result.to_result());
    }

    /// Takes the row of a filter query by reference (by default, owned
    /// through [`ResultSink::emit`]).
    fn emit_row(&mut self, query: &Arc<str>, row: RowText<'_>) {
        self.emit(QueryResult {
            query: query.clone(),
            body: ResultBody::Row(row.to_row_json()),
        });
    }

    /// A buffer that takes results on another thread, for
    /// [`ResultSink::append`] to add after those emitted here; `None` (the
    /// default) when this sink has no such buffer, and results made
    /// elsewhere come back as [`QueryResult`]s.
    fn buffer(&mut self) -> Option<JsonLinesBuffer> {
        None
    }

    /// Adds the results of a buffer from [`ResultSink::buffer`], in order.
    fn append(&mut self, buffer: JsonLinesBuffer) {
        debug_assert!(buffer.count == 0, "a sink without buffers got one");
    }
}

/// A sink that counts the results it passes on to another.
pub struct CountingSink<'s> {
    /// Where results go.
    pub inner: &'s mut dyn ResultSink,
    /// Results passed on.
    pub count: u64,
}

impl ResultSink for CountingSink<'_> {
    fn emit(&mut self, result: QueryResult) {
        self.count += 1;
        self.inner.emit(result);
    }

    fn emit_aggregate(&mut self, result: &AggregateRef<'_>) {
        self.count += 1;
        self.inner.emit_aggregate(result);
    }

    fn emit_row(&mut self, query: &Arc<str>, row: RowText<'_>) {
        self.count += 1;
        self.inner.emit_row(query, row);
    }

    fn buffer(&mut self) -> Option<JsonLinesBuffer> {
        self.inner.buffer()
    }

    fn append(&mut self, buffer: JsonLinesBuffer) {
        self.count += buffer.count();
        self.inner.append(buffer);
    }
}

/// Results written as JSON lines into memory, to be appended to a
/// [`JsonLinesSink`] later (results made on another thread).
///
/// The lines go into chunks of about [`WRITE_BYTES`], taken from the
/// lending sink's spares: a buffer never grows by copying itself into a
/// larger allocation, and the chunks' memory, once touched, is written
/// again by later buffers instead of being faulted in anew.
#[derive(Debug, Default)]
pub struct JsonLinesBuffer {
    /// Filled chunks, in order.
    full: Vec<Vec<u8>>,
    /// The chunk being written.
    bytes: Vec<u8>,
    /// Results held.
    count: u64,
    /// Where the next chunks come from (none: allocated).
    spare: Option<Arc<SpareChunks>>,
    /// The start of the last aggregate line.
    head: HeadText,
}

/// Emptied chunks of [`JsonLinesBuffer`]s, shared by the buffers a
/// [`JsonLinesSink`] lends, which take them on their own threads.
#[derive(Debug, Default)]
struct SpareChunks(std::sync::Mutex<Vec<Vec<u8>>>);

/// Chunks that [`SpareChunks`] keeps at most (32 MiB).
const SPARE_CHUNKS: usize = 512;

impl SpareChunks {
    /// An emptied chunk, or a new one.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_CAPACITY))
    }

    /// Keeps `chunk` (emptied) for later buffers, unless enough are kept.
    fn put(&self, mut chunk: Vec<u8>) {
        let mut spare = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_CHUNKS {
            chunk.clear();
            spare.push(chunk);
        }
    }
}

/// Room of a chunk (and of the sink's pending lines): [`WRITE_BYTES`] and
/// the longest usual line past it.
const CHUNK_CAPACITY: usize = WRITE_BYTES + (WRITE_BYTES >> 2);

impl JsonLinesBuffer {
    /// Results held.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Ends the line just written, and starts a new chunk when this one
    /// is full.
    fn end_line(&mut self) {
        self.bytes.push(b'\n');
        self.count += 1;
        if self.bytes.len() >= WRITE_BYTES {
            let next = match &self.spare {
                Some(spare) => spare.take(),
                None => Vec::with_capacity(CHUNK_CAPACITY),
            };
            self.full.push(std::mem::replace(&mut self.bytes, next));
        }
    }
}

impl ResultSink for JsonLinesBuffer {
    fn emit(&mut self, result: QueryResult) {
        result.write_json(&mut self.bytes);
        self.end_line();
    }

    fn emit_aggregate(&mut self, result: &AggregateRef<'_>) {
        self.head.write_line(&mut self.bytes, result);
        self.end_line();
    }

    fn emit_row(&mut self, query: &Arc<str>, row: RowText<'_>) {
        write_row_json(&mut self.bytes, query, row);
        self.end_line();
    }
}

impl ResultSink for Vec<QueryResult> {
    fn emit(&mut self, result: QueryResult) {
        self.push(result);
    }
}

/// A sink that writes JSON lines to a writer and counts them.
///
/// Lines are written straight into the sink's own buffer, which goes to the
/// writer in pieces of about [`WRITE_BYTES`] (so the writer needs no buffer
/// of its own), and the buffers it lends for results made on other threads
/// ([`ResultSink::buffer`]) come back to it when appended and are lent
/// again, so their memory is not grown and touched anew each time.
pub struct JsonLinesSink<W: std::io::Write> {
    /// The writer; `None` once [`JsonLinesSink::finish`] took it.
    out: Option<W>,
    /// Lines not yet written to `out`.
    pending: Vec<u8>,
    /// Emptied chunks of appended [`JsonLinesBuffer`]s, lent again.
    spare: Arc<SpareChunks>,
    /// The start of the last aggregate line.
    head: HeadText,
    /// Results taken (written, or pending).
    pub count: u64,
    /// The first write error, if any (later results are dropped).
    pub error: Option<std::io::Error>,
}

/// Bytes of lines that [`JsonLinesSink`] gathers before writing them.
pub const WRITE_BYTES: usize = 64 << 10;

impl<W: std::io::Write> JsonLinesSink<W> {
    /// A sink over `out`.
    pub fn new(out: W) -> Self {
        JsonLinesSink {
            out: Some(out),
            pending: Vec::with_capacity(CHUNK_CAPACITY),
            spare: Arc::default(),
            head: HeadText::default(),
            count: 0,
            error: None,
        }
    }

    /// Writes what is pending, flushes and returns the writer, or the first
    /// error.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.write_pending();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut out = self.out.take().expect("the writer is taken only here");
        out.flush()?;
        Ok(out)
    }

    /// Writes one result, which `render` appends to the pending lines
    /// (with the start of the last aggregate line at hand).
    fn write_line(&mut self, render: impl FnOnce(&mut Vec<u8>, &mut HeadText)) {
        if self.error.is_some() {
            return;
        }
        render(&mut self.pending, &mut self.head);
        self.pending.push(b'\n');
        self.count += 1;
        if self.pending.len() >= WRITE_BYTES {
            self.write_pending();
        }
    }

    /// Writes the pending lines, unless an earlier write failed.
    fn write_pending(&mut self) {
        if !self.pending.is_empty() {
            let bytes = std::mem::take(&mut self.pending);
            self.write_bytes(&bytes);
            self.pending = bytes;
            self.pending.clear();
        }
    }

    /// Writes `bytes` to the writer, unless an earlier write failed.
    fn write_bytes(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let out = self
            .out
            .as_mut()
            .expect("the writer is taken only by finish");
        if let Err(e) = out.write_all(bytes) {
            self.error = Some(e);
        }
    }
}

impl<W: std::io::Write> Drop for JsonLinesSink<W> {
    /// Writes what is pending when the sink is dropped without
    /// [`JsonLinesSink::finish`] (errors are then lost).
    fn drop(&mut self) {
        if self.out.is_some() {
            self.write_pending();
            if let Some(out) = self.out.as_mut() {
                let _ = out.flush();
            }
        }
    }
}

impl<W: std::io::Write> ResultSink for JsonLinesSink<W> {
    fn emit(&mut self, result: QueryResult) {
        self.write_line(|line, _| result.write_json(line));
    }

    fn emit_aggregate(&mut self, result: &AggregateRef<'_>) {
        self.write_line(|line, head| head.write_line(line, result));
    }

    fn emit_row(&mut self, query: &Arc<str>, row: RowText<'_>) {
        self.write_line(|line, _| write_row_json(line, query, row));
    }

    fn buffer(&mut self) -> Option<JsonLinesBuffer> {
        Some(JsonLinesBuffer {
            full: Vec::new(),
            bytes: self.spare.take(),
            count: 0,
            spare: Some(self.spare.clone()),
            head: HeadText::default(),
        })
    }

    fn append(&mut self, buffer: JsonLinesBuffer) {
        let JsonLinesBuffer {
            full, bytes, count, ..
        } = buffer;
        if self.error.is_none() {
            self.count += count;
        }
        for chunk in full.into_iter().chain(std::iter::once(bytes)) {
            if self.error.is_none() {
                if self.pending.len() + chunk.len() <= WRITE_BYTES {
                    self.pending.extend_from_slice(&chunk);
                } else {
                    self.write_pending();
                    self.write_bytes(&chunk);
                }
            }
            self.spare.put(chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    /// A line's start is copied from the last one only while the query and
    /// the window stay the same, and the member names of its group and
    /// values only while the query and its lists of names do: lines that
    /// alternate queries (two of them with the same name), windows and
    /// lists of names (none, several, names that need escaping) come out as
    /// each result's own text, through the sink and through a buffer it
    /// lends.
    #[test]
    fn aggregate_lines_reuse_their_fixed_text_only_for_the_same_query_window_and_names() {
        let (a, b, a_again): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "a".into());
        struct Shape {
            names: Vec<Arc<str>>,
            values: Vec<(Arc<str>, usize)>,
            key: Vec<OwnedValue>,
        }
        let shapes = [
            Shape {
                names: vec!["k".into()],
                values: vec![("n".into(), 0)],
                key: vec![Value::Str("x".into())],
            },
            Shape {
                names: vec!["c\"ountry".into(), "lang".into()],
                values: vec![("avg\\".into(), 1), ("n".into(), 0)],
                key: vec![Value::Str("U\"S".into()), Value::Null],
            },
            Shape {
                names: vec![],
                values: vec![("n".into(), 0)],
                key: vec![],
            },
            Shape {
                names: vec!["k".into()],
                values: vec![],
                key: vec![Value::Int(7)],
            },
            Shape {
                names: vec![],
                values: vec![],
                key: vec![],
            },
        ];
        let aggs = [Value::Int(1), Value::Float(0.5)];
        let lines = [
            (&a, Some((0, 10)), 0),
            (&a, Some((0, 10)), 0),
            (&b, Some((0, 10)), 1),
            (&b, Some((0, 10)), 1),
            (&a_again, Some((0, 10)), 0),
            (&a_again, Some((10, 20)), 2),
            (&a_again, None, 2),
            (&a, None, 3),
            (&a, None, 4),
            (&b, None, 4),
            (&b, None, 1),
        ];
        let mut sink = JsonLinesSink::new(Vec::new());
        let mut buffered = JsonLinesSink::new(Vec::new());
        let mut buffer = buffered.buffer().expect("a JSON sink has buffers");
        let mut expected = String::new();
        for (query, window, shape) in lines {
            let shape = &shapes[shape];
            let r = AggregateRef {
                query,
                window,
                key_names: &shape.names,
                key: &shape.key,
                values: &shape.values,
                aggs: &aggs,
            };
            sink.emit_aggregate(&r);
            buffer.emit_aggregate(&r);
            expected.push_str(&r.to_result().to_json());
            expected.push('\n');
        }
        buffered.append(buffer);
        assert_eq!(String::from_utf8(sink.finish().unwrap()).unwrap(), expected);
        assert_eq!(
            String::from_utf8(buffered.finish().unwrap()).unwrap(),
            expected
        );
    }

    #[test]
    fn aggregate_json_shape() {
        let r = QueryResult {
            query: "en_by_country".into(),
            body: ResultBody::Aggregate {
                window: Some((1_700_000_000_000, 1_700_000_030_000)),
                group: vec![("country".into(), Value::Str("US".into()))],
                values: vec![
                    ("n".into(), Value::Int(12)),
                    ("avg_rt".into(), Value::Float(3.5)),
                ],
            },
        };
        assert_eq!(
            r.to_json(),
            r#"{"query":"en_by_country","window_start":1700000000000,"window_end":1700000030000,"group":{"country":"US"},"values":{"n":12,"avg_rt":3.5}}"#
        );
        let f = QueryResult {
            query: "q".into(),
            body: ResultBody::Row(RowJson::from_text(r#"{"a": 1}"#)),
        };
        assert_eq!(f.to_json(), r#"{"query":"q","row":{"a": 1}}"#);
        let bad = QueryResult {
            query: "q".into(),
            body: ResultBody::Row(RowJson::from_text("{oops")),
        };
        assert_eq!(bad.to_json(), r#"{"query":"q","row":"{oops"}"#);
        let projected = RowJson::from_template(
            &json_text::ObjectTemplate::new(["n", "s"]),
            [&Value::Int(1), &Value::Str("x\"y".into())],
            &mut String::new(),
        );
        assert_eq!(projected.get(), r#"{"n":1,"s":"x\"y"}"#);
        // The hand-written lines are serde's.
        for r in [&r, &f, &bad] {
            assert_eq!(r.to_json(), serde_json::to_string(r).unwrap());
        }
        let running = QueryResult {
            query: "q\u{1}".into(),
            body: ResultBody::Aggregate {
                window: None,
                group: vec![],
                values: vec![("avg".into(), Value::Float(0.1)), ("e".into(), Value::Null)],
            },
        };
        assert_eq!(running.to_json(), serde_json::to_string(&running).unwrap());
    }

    #[test]
    fn rows_in_an_arena_read_back_as_built_alone() {
        let template = json_text::ObjectTemplate::new(["n", "s"]);
        let values = [Value::Int(1), Value::Str("x\"y".into())];
        let object: Row = vec![("k".into(), Value::Str("v".into()))];
        let alone = [
            RowJson::from_template(&template, &values, &mut String::new()),
            RowJson::from_text(r#"{"a": [1, "\n"]}"#),
            RowJson::from_text("{oops"),
            RowJson::of(&Obj(&object)),
        ];
        let mut arena = RowArena::default();
        for round in 0..2 {
            let spans = [
                arena.push_template(&template, &values),
                arena.push_text(r#"{"a": [1, "\n"]}"#),
                arena.push_text("{oops"),
                arena.push_object(&Obj(&object)),
            ];
            for (span, row) in spans.iter().zip(&alone) {
                assert_eq!(arena.get(*span), row.as_text(), "round {round}");
                assert_eq!(&arena.get(*span).to_row_json(), row);
            }
            arena.clear();
        }
        assert_eq!(alone[2].get(), r#""{oops""#);
    }

    #[test]
    fn lent_buffers_of_many_chunks_append_their_lines_in_order() {
        // Lines written direct, and the same lines through lent buffers
        // of several chunks each (and an empty one), appended between
        // direct ones: the same text. The second round reuses the chunks
        // the first one gave back.
        let query: Arc<str> = "q".into();
        let rows: Vec<RowJson> = (0..3000)
            .map(|i| RowJson::from_text(&format!(r#"{{"i":{i},"pad":"{}"}}"#, "x".repeat(i % 197))))
            .collect();
        let mut direct = JsonLinesSink::new(Vec::new());
        let mut lent = JsonLinesSink::new(Vec::new());
        for _round in 0..2 {
            for part in rows.chunks(1500) {
                let mut buffers = [lent.buffer().unwrap(), lent.buffer().unwrap()];
                for row in part {
                    direct.emit_row(&query, row.as_text());
                    buffers[0].emit_row(&query, row.as_text());
                }
                assert!(buffers[0].full.len() >= 2, "several chunks");
                for b in buffers {
                    lent.append(b);
                }
                direct.emit_row(&query, rows[0].as_text());
                lent.emit_row(&query, rows[0].as_text());
            }
        }
        assert_eq!((direct.count, lent.count), (6004, 6004));
        let (direct, lent) = (direct.finish().unwrap(), lent.finish().unwrap());
        assert!(direct == lent, "{} and {} bytes", direct.len(), lent.len());
    }

    #[test]
    fn borrowed_results_write_the_lines_of_owned_ones() {
        let (query, names): (Arc<str>, Vec<Arc<str>>) =
            ("q\"1".into(), vec!["country".into(), "lang".into()]);
        let values: Vec<(Arc<str>, usize)> = vec![("avg".into(), 1), ("n".into(), 0)];
        let key = [Value::Str("U\\S".into()), Value::Null];
        let aggs = [Value::Int(3), Value::Float(0.5)];
        let row = RowJson::from_text(r#"{"a":[1,"\n"]}"#);
        let owned_row = QueryResult {
            query: query.clone(),
            body: ResultBody::Row(row.clone()),
        };
        // Each window (and the running total), written through each kind
        // of sink: direct, buffered and appended, and owned.
        let mut direct = JsonLinesSink::new(Vec::new());
        let mut buffered = JsonLinesSink::new(Vec::new());
        let mut buffer = buffered.buffer().expect("a JSON sink has buffers");
        let mut owned: Vec<QueryResult> = Vec::new();
        for window in [Some((-10, 20)), None] {
            let r = AggregateRef {
                query: &query,
                window,
                key_names: &names,
                key: &key,
                values: &values,
                aggs: &aggs,
            };
            let result = r.to_result();
            assert_eq!(
                result.body,
                ResultBody::Aggregate {
                    window,
                    group: vec![
                        (names[0].clone(), key[0].clone()),
                        (names[1].clone(), Value::Null)
                    ],
                    values: vec![
                        ("avg".into(), Value::Float(0.5)),
                        ("n".into(), Value::Int(3))
                    ],
                }
            );
            let mut text = Vec::new();
            r.write_json(&mut text);
            assert_eq!(
                String::from_utf8(text).unwrap(),
                serde_json::to_string(&result).unwrap()
            );
            for sink in [&mut direct as &mut dyn ResultSink, &mut buffer, &mut owned] {
                sink.emit_aggregate(&r);
                sink.emit_row(&query, row.as_text());
            }
        }
        buffered.append(buffer);
        let expected: String = owned
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        assert_eq!(owned[1], owned_row);
        assert_eq!((direct.count, buffered.count), (4, 4));
        assert_eq!(
            String::from_utf8(direct.finish().unwrap()).unwrap(),
            expected
        );
        assert_eq!(
            String::from_utf8(buffered.finish().unwrap()).unwrap(),
            expected
        );
    }
}
