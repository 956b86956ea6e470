//! Plain-text tables: columns padded to their widest cell (by display
//! width), numbers right-aligned, lines cut to the terminal's width.

use super::term::Style;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Which side a cell's text keeps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Its text (one line).
    pub text: String,
    /// Its alignment.
    pub align: Align,
}

impl Cell {
    /// A left-aligned cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: one_line(&s.into()),
            align: Align::Left,
        }
    }

    /// A right-aligned cell.
    pub fn number(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            align: Align::Right,
        }
    }

    /// A JSON value as a cell: numbers right-aligned (floats with at most
    /// four decimals), strings as they are, `NULL` for null and missing
    /// values, arrays and objects as JSON.
    pub fn value(v: Option<&Value>) -> Cell {
        match v {
            None | Some(Value::Null) => Cell::text("NULL"),
            Some(Value::String(s)) => Cell::text(s.as_str()),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Cell::number(i.to_string()),
                (_, Some(u), _) => Cell::number(u.to_string()),
                (_, _, Some(f)) => Cell::number(format_float(f)),
                _ => Cell::number(n.to_string()),
            },
            Some(Value::Bool(b)) => Cell::text(if *b { "true" } else { "false" }),
            Some(other) => Cell::text(other.to_string()),
        }
    }
}

/// A float with at most four decimals, trailing zeros dropped (`2.5`,
/// `0.3333`, `3`).
pub fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let s = format!("{f:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Newlines and tabs would break the grid: shown as spaces.
fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r', '\t']) {
        s.replace(['\n', '\r', '\t'], " ")
    } else {
        s.to_string()
    }
}

/// A table: a header row and rows of cells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// Rows, each with one cell per column (missing cells are blank).
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column names and no rows.
    pub fn new(headers: impl IntoIterator<Item = impl Into<String>>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// The table as lines: header, a rule, the rows. Columns are separated
    /// by two spaces; each line is cut to `width` display columns (with `…`).
    pub fn render(&self, style: &Style, width: Option<usize>) -> Vec<String> {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.text.width());
            }
        }
        // A column is right-aligned when all its cells are.
        let right: Vec<bool> = (0..n)
            .map(|i| {
                !self.rows.is_empty()
                    && self
                        .rows
                        .iter()
                        .all(|r| r.get(i).is_none_or(|c| c.align == Align::Right))
            })
            .collect();
        let line = |cells: Vec<(&str, bool)>| -> String {
            let mut out = String::new();
            for (i, (text, right)) in cells.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = widths[i].saturating_sub(text.width());
                if *right {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(text);
                } else {
                    out.push_str(text);
                    if i + 1 < cells.len() {
                        out.push_str(&" ".repeat(pad));
                    }
                }
            }
            out
        };
        let cut = |s: String| match width {
            Some(w) => truncate(&s, w),
            None => s,
        };
        let mut out = Vec::with_capacity(self.rows.len() + 2);
        let header = line(
            self.headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.as_str(), right[i]))
                .collect(),
        );
        out.push(style.bold(&cut(header)));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push(style.dim(&cut(line(
            rule.iter().map(|r| (r.as_str(), false)).collect(),
        ))));
        for row in &self.rows {
            let cells = (0..n)
                .map(|i| (row.get(i).map_or("", |c| c.text.as_str()), right[i]))
                .collect();
            out.push(cut(line(cells)));
        }
        out
    }
}

/// `s` cut to at most `width` display columns, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_pad_to_the_widest_cell_and_numbers_align_right() {
        let mut t = Table::new(["country", "n", "avg"]);
        t.rows.push(vec![
            Cell::value(Some(&json!("US"))),
            Cell::value(Some(&json!(12))),
            Cell::value(Some(&json!(2.5))),
        ]);
        t.rows.push(vec![
            Cell::value(Some(&json!("Ελλάδα"))),
            Cell::value(Some(&json!(3))),
            Cell::value(None),
        ]);
        let lines = t.render(&Style::plain(), None);
        assert_eq!(
            lines,
            [
                "country   n  avg",
                "-------  --  ----",
                "US       12  2.5",
                "Ελλάδα    3  NULL",
            ]
        );
    }

    #[test]
    fn wide_characters_count_double_and_long_lines_are_cut() {
        let mut t = Table::new(["k", "v"]);
        t.rows.push(vec![Cell::text("日本"), Cell::number("1")]);
        t.rows.push(vec![Cell::text("a\tb"), Cell::number("22")]);
        let lines = t.render(&Style::plain(), Some(7));
        assert_eq!(lines, ["k     …", "----  …", "日本  …", "a b   …"]);
        let lines = t.render(&Style::plain(), Some(8));
        assert_eq!(lines, ["k      v", "----  --", "日本   1", "a b   22"]);
        assert_eq!(truncate("日本語", 5), "日本…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn values_format_for_reading() {
        assert_eq!(Cell::value(Some(&json!(1.0 / 3.0))).text, "0.3333");
        assert_eq!(Cell::value(Some(&json!(3.0))).text, "3");
        assert_eq!(Cell::value(Some(&json!(-0.00001))).text, "0");
        assert_eq!(
            Cell::value(Some(&json!(u64::MAX))).text,
            u64::MAX.to_string()
        );
        assert_eq!(Cell::value(Some(&json!(["a", 1]))).text, r#"["a",1]"#);
        assert_eq!(Cell::value(Some(&json!(true))).text, "true");
        assert_eq!(Cell::value(Some(&Value::Null)).text, "NULL");
    }
}
