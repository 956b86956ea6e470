//! Query results, how they are written as JSON, and where they go.

use crate::value::OwnedValue;
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
/// shape and shared by every filter query that emits that shape.
#[derive(Clone)]
pub struct RowJson(Arc<RawValue>);

impl RowJson {
    /// Takes JSON text that is known to be valid (serializer output).
    pub fn from_raw(raw: Box<RawValue>) -> RowJson {
        RowJson(Arc::from(raw))
    }

    /// The object of `fields`, serialized.
    pub fn from_fields<'a, V: Serialize + 'a>(
        fields: impl Iterator<Item = (&'a str, &'a V)> + Clone,
    ) -> RowJson {
        struct Fields<I>(I);
        impl<'a, V: Serialize + 'a, I: Iterator<Item = (&'a str, &'a V)> + Clone> Serialize for Fields<I> {
            fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let mut m = ser.serialize_map(None)?;
                for (k, v) in self.0.clone() {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        RowJson::of(&Fields(fields))
    }

    /// A value that serializes as a JSON object, serialized.
    pub fn of(object: &impl Serialize) -> RowJson {
        RowJson::from_raw(serde_json::value::to_raw_value(object).expect("row serializes"))
    }

    /// Takes text that should be a JSON object: kept as it is when it is
    /// valid JSON, else carried as a JSON string.
    pub fn from_text(text: &str) -> RowJson {
        match RawValue::from_string(text.to_owned()) {
            Ok(raw) => RowJson::from_raw(raw),
            Err(_) => RowJson::from_raw(
                serde_json::value::to_raw_value(text).expect("a string serializes"),
            ),
        }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
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
        self.0.serialize(ser)
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
        serde_json::to_string(self).expect("results serialize")
    }
}

/// Where results go.
pub trait ResultSink {
    /// Takes one result.
    fn emit(&mut self, result: QueryResult);
}

impl ResultSink for Vec<QueryResult> {
    fn emit(&mut self, result: QueryResult) {
        self.push(result);
    }
}

/// A sink that writes JSON lines to a writer and counts them.
pub struct JsonLinesSink<W: std::io::Write> {
    out: W,
    /// Results written.
    pub count: u64,
    /// The first write error, if any (later results are dropped).
    pub error: Option<std::io::Error>,
}

impl<W: std::io::Write> JsonLinesSink<W> {
    /// A sink over `out`.
    pub fn new(out: W) -> Self {
        JsonLinesSink {
            out,
            count: 0,
            error: None,
        }
    }

    /// Flushes and returns the writer, or the first error.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: std::io::Write> ResultSink for JsonLinesSink<W> {
    fn emit(&mut self, result: QueryResult) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, &result).map_err(std::io::Error::from);
        let r = r.and_then(|_| self.out.write_all(b"\n"));
        match r {
            Ok(()) => self.count += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

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
        let projected = RowJson::from_fields(
            [("n", &Value::Int(1)), ("s", &Value::Str("x\"y".into()))].into_iter(),
        );
        assert_eq!(projected.get(), r#"{"n":1,"s":"x\"y"}"#);
    }
}
