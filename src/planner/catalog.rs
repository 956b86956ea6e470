//! Stream definitions: what `CREATE STREAM` declares, checked and typed.

use super::PlanError;
use crate::diagnostic::Diagnostic;
use crate::parser::ast::{CreateStream, DataType, Span};

/// How a stream's lines are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Comma-separated values; the first line of each source is the header.
    Csv,
}

/// Default longest accepted line, in bytes.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// A declared stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamDef {
    /// The stream's name.
    pub name: String,
    /// Declared columns; `None` when fields are typed dynamically.
    pub columns: Option<Vec<(String, DataType)>>,
    /// Where records come from, e.g. `dir:data/tweets`; `None` when records
    /// are pushed in by the embedding program.
    pub source: Option<String>,
    /// Line format.
    pub format: Format,
    /// The field holding event time; `None` means arrival time.
    pub event_time: Option<String>,
    /// How far the watermark trails the largest event time, in milliseconds.
    pub watermark_ms: i64,
    /// Longest accepted line in bytes.
    pub max_line: usize,
    /// For `dir:` sources, a glob (`*.jsonl`) that file names must match;
    /// `None` reads every file. Given as `files = '…'`, or as `pattern = '…'`
    /// for formats whose lines are not themselves described by a pattern.
    pub files: Option<String>,
    /// The statement text, for listing.
    pub text: String,
}

impl StreamDef {
    /// Checks a `CREATE STREAM` statement and builds the definition.
    pub fn from_ast(cs: &CreateStream, text: &str) -> Result<StreamDef, PlanError> {
        let mut def = StreamDef {
            name: cs.name.name.clone(),
            columns: None,
            source: None,
            format: Format::Json,
            event_time: None,
            watermark_ms: 0,
            max_line: DEFAULT_MAX_LINE,
            files: None,
            text: text.to_string(),
        };
        if let Some(cols) = &cs.columns {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for c in cols {
                if !seen.insert(c.name.name.as_str()) {
                    return Err(err(
                        format!("column `{}` declared twice", c.name.name),
                        c.name.span,
                    ));
                }
                out.push((c.name.name.clone(), c.ty.clone()));
            }
            def.columns = Some(out);
        }
        let mut seen = std::collections::HashSet::new();
        for opt in &cs.options {
            let key = opt.key.name.to_ascii_lowercase();
            if !seen.insert(key.clone()) {
                return Err(err(format!("option `{key}` given twice"), opt.key.span));
            }
            let value = opt.value.as_str();
            match key.as_str() {
                "source" => {
                    if !(value.starts_with("dir:") || value == "stdin" || value == "http" || value.starts_with("tcp:")) {
                        return Err(err(
                            format!("unknown source `{value}`: expected 'dir:PATH', 'tcp:HOST:PORT', 'stdin' or 'http'"),
                            opt.value_span,
                        ));
                    }
                    def.source = Some(value.to_string());
                }
                "format" => {
                    def.format = match value.to_ascii_lowercase().as_str() {
                        "json" => Format::Json,
                        "csv" => Format::Csv,
                        _ => {
                            return Err(err(
                                format!("unknown format `{value}`: expected 'json' or 'csv'"),
                                opt.value_span,
                            ))
                        }
                    }
                }
                "event_time" => def.event_time = Some(value.to_string()),
                "watermark" => {
                    def.watermark_ms = parse_duration_ms(value).ok_or_else(|| {
                        err(
                            format!("invalid watermark `{value}`: expected a duration such as '5s'"),
                            opt.value_span,
                        )
                    })?
                }
                "max_line" => {
                    def.max_line = value.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        err(
                            format!("invalid max_line `{value}`: expected a positive number of bytes"),
                            opt.value_span,
                        )
                    })?
                }
                "files" | "pattern" => {
                    if value.is_empty() || value.contains('/') {
                        return Err(err(
                            format!("invalid file pattern `{value}`: expected a file-name glob such as '*.jsonl'"),
                            opt.value_span,
                        ));
                    }
                    if let Err(e) = globset::Glob::new(value) {
                        return Err(err(format!("invalid file pattern `{value}`: {e}"), opt.value_span));
                    }
                    if def.files.is_some() {
                        return Err(err(
                            "give the file pattern once, as `files` or `pattern`".to_string(),
                            opt.key.span,
                        ));
                    }
                    def.files = Some(value.to_string());
                }
                _ => {
                    return Err(err(
                        format!(
                            "unknown stream option `{}`: expected source, format, event_time, watermark, max_line or files",
                            opt.key.name
                        ),
                        opt.key.span,
                    ))
                }
            }
        }
        if let (Some(et), Some(cols)) = (&def.event_time, &def.columns) {
            let span = cs
                .options
                .iter()
                .find(|o| o.key.name.eq_ignore_ascii_case("event_time"))
                .map(|o| o.value_span)
                .unwrap_or(cs.name.span);
            match cols.iter().find(|(n, _)| n == et) {
                None => {
                    return Err(err(
                        format!("event_time field `{et}` is not a declared column"),
                        span,
                    ))
                }
                Some((_, DataType::Timestamp | DataType::BigInt)) => {}
                Some((_, ty)) => {
                    return Err(err(
                        format!("event_time field `{et}` is {ty}, expected TIMESTAMP or BIGINT"),
                        span,
                    ))
                }
            }
        }
        Ok(def)
    }

    /// The declared type of a column, if columns are declared.
    pub fn column_type(&self, name: &str) -> Option<&DataType> {
        self.columns
            .as_ref()
            .and_then(|cols| cols.iter().find(|(n, _)| n == name).map(|(_, t)| t))
    }

    /// Whether a file named `name` belongs to this stream's `dir:` source.
    pub fn wants_file(&self, name: &str) -> bool {
        match &self.files {
            None => true,
            Some(glob) => globset::Glob::new(glob)
                .map(|g| g.compile_matcher().is_match(name))
                .unwrap_or(false),
        }
    }

    /// The directory of a `dir:` source.
    pub fn source_dir(&self) -> Option<&str> {
        self.source.as_deref().and_then(|s| s.strip_prefix("dir:"))
    }
}

fn err(message: String, span: Span) -> PlanError {
    PlanError(Diagnostic::new(message, span))
}

/// Parses `500ms`, `5s`, `2m`, `1h` (and a bare number of milliseconds).
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def_of(sql: &str) -> Result<StreamDef, PlanError> {
        let stmts = crate::parser::parse_statements(sql).expect("parses");
        match &stmts[0].statement {
            crate::parser::Statement::CreateStream(cs) => StreamDef::from_ast(cs, sql),
            other => panic!("not a CREATE STREAM: {other:?}"),
        }
    }

    #[test]
    fn file_patterns() {
        let d = def_of("CREATE STREAM s WITH (source = 'dir:x', files = '*.jsonl');").unwrap();
        assert!(d.wants_file("a.jsonl"));
        assert!(!d.wants_file("a.jsonl.tmp"));
        let d = def_of("CREATE STREAM s WITH (source = 'dir:x', pattern = 'app-?.log');").unwrap();
        assert!(d.wants_file("app-1.log") && !d.wants_file("app-10.log"));
        let d = def_of("CREATE STREAM s WITH (source = 'dir:x');").unwrap();
        assert!(d.wants_file("anything"));
        assert!(def_of("CREATE STREAM s WITH (files = 'a/*.log');").is_err());
        assert!(def_of("CREATE STREAM s WITH (files = '[a');").is_err());
        assert!(def_of("CREATE STREAM s WITH (files = '*.a', pattern = '*.b');").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("5s"), Some(5000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms("s"), None);
    }
}
