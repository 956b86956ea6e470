//! What the REPL knows of the server's streams and queries, rebuilt from the
//! statement texts the server lists: names to complete, each stream's
//! fields, and each query's result columns and order (for `\watch`). The
//! texts are parsed and resolved with Shoal's own parser and planner, so the
//! REPL reads them exactly as the server does.

use super::client::{QueryInfo, StreamInfo};
use crate::parser::{parse_statements, Statement};
use crate::planner::query::{resolve, OutRef, Projection, QueryKind};
use crate::planner::StreamDef;
use std::collections::{BTreeSet, HashMap};

/// The columns and order of a query's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An aggregate query.
    Aggregate {
        /// Group-key columns, in `GROUP BY` order.
        keys: Vec<String>,
        /// Aggregate columns, in select order.
        values: Vec<String>,
        /// `ORDER BY` as (column, descending); keys on aggregates that are
        /// not selected are left out.
        order: Vec<(String, bool)>,
        /// `LIMIT`.
        limit: Option<u64>,
        /// Whether it has a `WINDOW` (otherwise running totals).
        windowed: bool,
    },
    /// A filter query: the projected columns, or `None` for `SELECT *`.
    Filter(Option<Vec<String>>),
}

/// A stream the server has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its name.
    pub name: String,
    /// Its field names: the declared columns, or, for a stream without
    /// declared columns, the fields its queries read and its event-time field.
    pub fields: Vec<String>,
}

/// A query the server has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryEntry {
    /// Its name.
    pub name: String,
    /// The stream it reads.
    pub stream: String,
    /// Its result shape; `None` when its text could not be read here.
    pub shape: Option<Shape>,
}

/// The server's catalog as the REPL sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Streams, in the server's order.
    pub streams: Vec<StreamEntry>,
    /// Queries, in the server's order.
    pub queries: Vec<QueryEntry>,
}

impl Catalog {
    /// Rebuilds the catalog from the server's listings.
    pub fn from_listing(streams: &[StreamInfo], queries: &[QueryInfo]) -> Catalog {
        let mut defs: HashMap<&str, StreamDef> = HashMap::new();
        for s in streams {
            if let Some(def) = stream_def(&s.text) {
                defs.insert(s.name.as_str(), def);
            }
        }
        let mut used: HashMap<&str, BTreeSet<String>> = HashMap::new();
        let mut out = Catalog::default();
        for q in queries {
            let spec = defs.get(q.stream.as_str()).and_then(|def| {
                let stmts = parse_statements(&q.text).ok()?;
                let Statement::CreateQuery(cq) = &stmts.first()?.statement else {
                    return None;
                };
                resolve(&cq.name, &cq.select, def, &q.text).ok()
            });
            if let Some(spec) = &spec {
                used.entry(q.stream.as_str())
                    .or_default()
                    .extend(spec.fields());
            }
            out.queries.push(QueryEntry {
                name: q.name.clone(),
                stream: q.stream.clone(),
                shape: spec.map(|s| shape_of(&s.kind)),
            });
        }
        for s in streams {
            let def = defs.get(s.name.as_str());
            let fields = match def.and_then(|d| d.columns.as_ref()) {
                Some(cols) => cols.iter().map(|(n, _)| n.clone()).collect(),
                None => {
                    let mut f = used.remove(s.name.as_str()).unwrap_or_default();
                    if let Some(et) = def.and_then(|d| d.event_time.clone()) {
                        f.insert(et);
                    }
                    f.into_iter().collect()
                }
            };
            out.streams.push(StreamEntry {
                name: s.name.clone(),
                fields,
            });
        }
        out
    }

    /// A query by name.
    pub fn query(&self, name: &str) -> Option<&QueryEntry> {
        self.queries.iter().find(|q| q.name == name)
    }

    /// A stream by name.
    pub fn stream(&self, name: &str) -> Option<&StreamEntry> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// The definition in a `CREATE STREAM` text.
fn stream_def(text: &str) -> Option<StreamDef> {
    let stmts = parse_statements(text).ok()?;
    match &stmts.first()?.statement {
        Statement::CreateStream(cs) => StreamDef::from_ast(cs, text).ok(),
        _ => None,
    }
}

/// The result shape of a resolved query.
fn shape_of(kind: &QueryKind) -> Shape {
    match kind {
        QueryKind::Filter(Projection::Star) => Shape::Filter(None),
        QueryKind::Filter(Projection::Fields(fs)) => {
            Shape::Filter(Some(fs.iter().map(|(n, _)| n.to_string()).collect()))
        }
        QueryKind::Aggregate(a) => {
            let name_of = |r: &OutRef| -> Option<String> {
                match *r {
                    OutRef::Key(i) => a.key_names.get(i).map(|n| n.to_string()),
                    OutRef::Agg(i) => a
                        .values
                        .iter()
                        .find(|(_, idx)| *idx == i)
                        .map(|(n, _)| n.to_string()),
                }
            };
            Shape::Aggregate {
                keys: a.key_names.iter().map(|n| n.to_string()).collect(),
                values: a.values.iter().map(|(n, _)| n.to_string()).collect(),
                order: a
                    .order_by
                    .iter()
                    .filter_map(|(r, desc)| name_of(r).map(|n| (n, *desc)))
                    .collect(),
                limit: a.limit,
                windowed: a.window.is_some(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str, text: &str) -> StreamInfo {
        StreamInfo {
            name: name.into(),
            text: text.into(),
            ..StreamInfo::default()
        }
    }

    fn query(name: &str, stream: &str, text: &str) -> QueryInfo {
        QueryInfo {
            name: name.into(),
            stream: stream.into(),
            text: text.into(),
            ..QueryInfo::default()
        }
    }

    #[test]
    fn fields_come_from_columns_or_from_queries() {
        let c = Catalog::from_listing(
            &[
                stream(
                    "t",
                    "CREATE STREAM t (ts BIGINT, country TEXT) WITH (source = 'http')",
                ),
                stream("u", "CREATE STREAM u WITH (event_time = 'at')"),
            ],
            &[query(
                "q",
                "u",
                "CREATE QUERY q AS SELECT host, count(*) FROM u WHERE level = 'E' GROUP BY host",
            )],
        );
        assert_eq!(c.stream("t").unwrap().fields, ["ts", "country"]);
        assert_eq!(c.stream("u").unwrap().fields, ["at", "host", "level"]);
    }

    #[test]
    fn shapes_name_columns_and_order_by_output_name() {
        let c = Catalog::from_listing(
            &[stream("t", "CREATE STREAM t (c TEXT, x BIGINT)")],
            &[
                query(
                    "a",
                    "t",
                    "CREATE QUERY a AS SELECT c AS country, count(*) AS n, max(x) FROM t \
                     GROUP BY c WINDOW TUMBLING 10s ORDER BY n DESC, c LIMIT 5",
                ),
                query("f", "t", "CREATE QUERY f AS SELECT x AS y, c FROM t"),
                query("s", "t", "CREATE QUERY s AS SELECT * FROM t"),
                query("bad", "nope", "CREATE QUERY bad AS SELECT * FROM nope"),
            ],
        );
        assert_eq!(
            c.query("a").unwrap().shape,
            Some(Shape::Aggregate {
                keys: vec!["country".into()],
                values: vec!["n".into(), "max(x)".into()],
                order: vec![("n".into(), true), ("country".into(), false)],
                limit: Some(5),
                windowed: true,
            })
        );
        assert_eq!(
            c.query("f").unwrap().shape,
            Some(Shape::Filter(Some(vec!["y".into(), "c".into()])))
        );
        assert_eq!(c.query("s").unwrap().shape, Some(Shape::Filter(None)));
        assert_eq!(c.query("bad").unwrap().shape, None);
    }
}
