//! Stream definitions: what `CREATE STREAM` declares, checked and typed.

use super::PlanError;
use crate::diagnostic::Diagnostic;
use crate::exec::decode::{ascp, regex, syslog, LogFormat, LogSpec, YearRule};
use crate::parser::ast::{CreateStream, DataType, Span};

/// How a stream's lines are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Comma-separated values; the first line of each source is the header.
    Csv,
    /// Log lines matched by regex patterns (`pattern`, `pattern_<kind>`):
    /// named captures are the fields.
    Regex,
    /// BSD syslog lines: timestamp, host, program, pid, message.
    Syslog,
    /// Aspera `ascp` transfer logs (syslog lines with statistics fields).
    Ascp,
}

impl Format {
    /// The name used in `format = '…'`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Regex => "regex",
            Format::Syslog => "syslog",
            Format::Ascp => "ascp",
        }
    }
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
    /// For the log formats (`regex`, `syslog`, `ascp`): patterns, capture
    /// types and the year rule. Their fields become `columns` (for `regex`
    /// and `syslog`), so queries are checked against them.
    pub log: Option<LogSpec>,
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
            log: None,
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
        // For `format = 'regex'`, `pattern` is the line pattern; otherwise
        // it is the file glob. So the format is read first.
        let is_regex = cs.options.iter().any(|o| {
            o.key.name.eq_ignore_ascii_case("format") && o.value.eq_ignore_ascii_case("regex")
        });
        let mut patterns: Vec<(String, String, Span)> = Vec::new();
        let mut types: Option<(&str, Span)> = None;
        let mut year: Option<(i32, Span)> = None;
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
                        "regex" => Format::Regex,
                        "syslog" => Format::Syslog,
                        "ascp" => Format::Ascp,
                        _ => {
                            return Err(err(
                                format!("unknown format `{value}`: expected 'json', 'csv', 'regex', 'syslog' or 'ascp'"),
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
                "pattern" if is_regex => {
                    patterns.push((regex::DEFAULT_KIND.to_string(), value.to_string(), opt.value_span))
                }
                k if k.starts_with("pattern_") => {
                    if !is_regex {
                        return Err(err(
                            format!("`{}` names a line pattern: it needs format = 'regex'", opt.key.name),
                            opt.key.span,
                        ));
                    }
                    let kind = &opt.key.name["pattern_".len()..];
                    if kind.is_empty() {
                        return Err(err("`pattern_` needs a kind name after the underscore".into(), opt.key.span));
                    }
                    patterns.push((kind.to_string(), value.to_string(), opt.value_span));
                }
                "types" => types = Some((value, opt.value_span)),
                "year" => {
                    let y = value.trim().parse::<i32>().ok().filter(|y| (1..=9999).contains(y)).ok_or_else(|| {
                        err(format!("invalid year `{value}`: expected a year such as '2024'"), opt.value_span)
                    })?;
                    year = Some((y, opt.value_span));
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
                            "unknown stream option `{}`: expected source, format, event_time, watermark, max_line, files, pattern, pattern_<kind>, types or year",
                            opt.key.name
                        ),
                        opt.key.span,
                    ))
                }
            }
        }
        def.log_options(cs, patterns, types, year)?;
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

    /// Checks the log-format options against the format and the declared
    /// columns, and sets `log` (and, for `regex` and `syslog`, `columns`).
    fn log_options(
        &mut self,
        cs: &CreateStream,
        patterns: Vec<(String, String, Span)>,
        types: Option<(&str, Span)>,
        year: Option<(i32, Span)>,
    ) -> Result<(), PlanError> {
        let format_span = cs
            .options
            .iter()
            .find(|o| o.key.name.eq_ignore_ascii_case("format"))
            .map_or(cs.name.span, |o| o.value_span);
        let log_format = match self.format {
            Format::Json | Format::Csv => {
                if let Some((_, span)) = types {
                    return Err(err("`types` needs format = 'regex'".into(), span));
                }
                if let Some((_, span)) = year {
                    return Err(err(
                        "`year` needs format 'regex', 'syslog' or 'ascp'".into(),
                        span,
                    ));
                }
                return Ok(());
            }
            Format::Regex => {
                if patterns.is_empty() {
                    return Err(err(
                        "format 'regex' needs a line pattern: pattern = '…' or pattern_<kind> = '…'".into(),
                        format_span,
                    ));
                }
                let parsed_types = match types {
                    Some((t, span)) => regex::parse_types(t).map_err(|e| err(e, span))?,
                    None => Vec::new(),
                };
                let spans: Vec<Span> = patterns.iter().map(|p| p.2).collect();
                let spec = regex::RegexSpec::new(
                    patterns.into_iter().map(|(k, r, _)| (k, r)).collect(),
                    parsed_types,
                    self.columns.as_deref(),
                )
                .map_err(|e| {
                    let span = match &e {
                        regex::RegexSpecError::Pattern { index, .. } => spans[*index],
                        regex::RegexSpecError::Types(_) => types.map_or(format_span, |t| t.1),
                        regex::RegexSpecError::Column { name, .. } => column_span(cs, name),
                    };
                    err(e.to_string(), span)
                })?;
                self.columns = Some(spec.columns());
                LogFormat::Regex(spec)
            }
            Format::Syslog | Format::Ascp => {
                if let Some((_, span)) = types {
                    return Err(err("`types` needs format = 'regex'".into(), span));
                }
                let fixed: Vec<(String, DataType)> = syslog::SYSLOG_FIELDS
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.clone()))
                    .chain(
                        ascp::ASCP_HEADER_FIELDS[5..]
                            .iter()
                            .filter(|_| self.format == Format::Ascp)
                            .map(|n| (n.to_string(), DataType::Text)),
                    )
                    .collect();
                for (n, ty) in self.columns.iter().flatten() {
                    match fixed.iter().find(|(f, _)| f == n) {
                        Some((_, t)) if t != ty => {
                            return Err(err(
                                format!("column `{n}` is {t} in {} lines, not {ty}", self.format.name()),
                                column_span(cs, n),
                            ))
                        }
                        Some(_) => {}
                        // ascp lines carry any number of other fields.
                        None if self.format == Format::Ascp => {}
                        None => {
                            return Err(err(
                                format!(
                                    "syslog lines have no field `{n}` (they have timestamp, host, program, pid, message)"
                                ),
                                column_span(cs, n),
                            ))
                        }
                    }
                }
                if self.format == Format::Syslog {
                    self.columns = Some(fixed);
                    LogFormat::Syslog
                } else {
                    LogFormat::Ascp
                }
            }
        };
        self.log = Some(LogSpec {
            format: log_format,
            year: year.map_or(YearRule::Recent, |(y, _)| YearRule::Fixed(y)),
        });
        Ok(())
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

/// Where a declared column's name was written (else the stream's name).
fn column_span(cs: &CreateStream, name: &str) -> Span {
    cs.columns
        .iter()
        .flatten()
        .find(|c| c.name.name == name)
        .map_or(cs.name.span, |c| c.name.span)
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
    fn log_format_options() {
        // For regex, `pattern` is the line pattern and `files` the glob.
        let d = def_of(
            r"CREATE STREAM s WITH (source = 'dir:x', files = '*.log', format = 'regex',
               pattern = '(?P<n>\d+) (?P<w>\w+)', types = 'n:int', year = '2005');",
        )
        .unwrap();
        assert_eq!(d.format, Format::Regex);
        assert!(d.wants_file("a.log") && !d.wants_file("a.csv"));
        let cols = d.columns.clone().unwrap();
        assert_eq!(
            cols,
            vec![
                ("n".to_string(), DataType::BigInt),
                ("w".to_string(), DataType::Text),
                ("kind".to_string(), DataType::Text),
            ]
        );
        assert_eq!(d.log.as_ref().unwrap().year, YearRule::Fixed(2005));
        let d = def_of(
            "CREATE STREAM s WITH (pattern_Req = 'GET (?P<path>\\S+)', format = 'regex', pattern_err = 'E')",
        )
        .unwrap();
        match &d.log.as_ref().unwrap().format {
            LogFormat::Regex(r) => assert_eq!(r.kinds().collect::<Vec<_>>(), ["Req", "err"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.log.as_ref().unwrap().year, YearRule::Recent);
        // Syslog: `pattern` stays the glob; columns are the header's.
        let d = def_of("CREATE STREAM s WITH (format = 'syslog', pattern = '*.log')").unwrap();
        assert!(d.wants_file("x.log"));
        assert_eq!(d.column_type("pid"), Some(&DataType::BigInt));
        assert_eq!(d.column_type("timestamp"), Some(&DataType::Timestamp));
        assert!(def_of("CREATE STREAM s WITH (format = 'ascp')")
            .unwrap()
            .columns
            .is_none());
        let e = |sql: &str| def_of(sql).unwrap_err().0.message;
        assert_eq!(
            e("CREATE STREAM s WITH (format = 'regex')"),
            "format 'regex' needs a line pattern: pattern = '…' or pattern_<kind> = '…'"
        );
        assert!(
            e("CREATE STREAM s WITH (format = 'regex', pattern = '(?P<a')")
                .starts_with("invalid regex")
        );
        assert!(e("CREATE STREAM s WITH (format = 'json', pattern_a = 'x')")
            .contains("needs format = 'regex'"));
        assert!(e("CREATE STREAM s WITH (format = 'csv', types = 'a:int')")
            .contains("needs format = 'regex'"));
        assert!(e("CREATE STREAM s WITH (format = 'json', year = '2000')").contains("`year` needs"));
        assert!(e("CREATE STREAM s WITH (format = 'syslog', year = 'soon')")
            .starts_with("invalid year"));
        assert_eq!(
            e("CREATE STREAM s WITH (format = 'regex', pattern = '(?P<a>x)', types = 'b:int')"),
            "types names `b`, which no pattern captures"
        );
        assert_eq!(
            e("CREATE STREAM s (a TEXT, z BIGINT) WITH (format = 'regex', pattern = '(?P<a>x)')"),
            "column `z` is not captured by any pattern"
        );
        assert_eq!(
            e("CREATE STREAM s (pid TEXT) WITH (format = 'syslog')"),
            "column `pid` is BIGINT in syslog lines, not TEXT"
        );
        assert!(
            e("CREATE STREAM s (rate_c BIGINT, x TEXT) WITH (format = 'syslog')")
                .starts_with("syslog lines have no field `rate_c`")
        );
        assert!(
            def_of("CREATE STREAM s (rate_c BIGINT, kind TEXT) WITH (format = 'ascp')").is_ok()
        );
        assert!(e("CREATE STREAM s (kind BIGINT) WITH (format = 'ascp')")
            .contains("is TEXT in ascp lines"));
        // Event time must be a timestamp field of the format.
        assert!(
            def_of("CREATE STREAM s WITH (format = 'syslog', event_time = 'timestamp')").is_ok()
        );
        assert!(
            e("CREATE STREAM s WITH (format = 'syslog', event_time = 'host')").contains("is TEXT")
        );
        assert!(e("CREATE STREAM s WITH (format = 'yaml')").contains("'regex', 'syslog' or 'ascp'"));
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
