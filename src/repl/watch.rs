//! `\watch`: live results of queries as tables, redrawn in place.
//!
//! A [`View`] folds one query's result messages into what is on screen:
//! - a windowed query shows one window: the open window that closes next
//!   (its partial values, for `EMIT EVERY` queries) or else the last window
//!   that closed (final values); a final result replaces that window's
//!   partials, and older windows are forgotten;
//! - a running total shows every group, updated in place;
//! - a filter query shows the latest rows, newest last.
//!
//! Groups are sorted by the query's `ORDER BY` (by group key when it has
//! none) and cut to its `LIMIT` and to the screen. On a terminal the tables
//! are redrawn in place at most every [`REDRAW`]; elsewhere each update is
//! printed after the previous one.

use super::catalog::Shape;
use super::client::{LiveBody, LiveFeed, LiveMessage, LiveResult};
use super::table::{truncate, Cell, Table};
use super::term::Style;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::time::Duration;

/// How often the screen is redrawn at most.
pub const REDRAW: Duration = Duration::from_millis(100);

/// Filter-query rows kept per view.
const MAX_ROWS: usize = 1000;

/// One group's key and values, by output name.
type GroupRow = (Map<String, Value>, Map<String, Value>);

/// Groups of one window or of the running totals, by group-key JSON text.
type Groups = BTreeMap<String, GroupRow>;

/// One window's groups.
#[derive(Clone, Debug, Default)]
struct Win {
    /// Whether the window has closed (its values are final).
    closed: bool,
    groups: Groups,
}

/// What a view has received so far.
#[derive(Clone, Debug, Default)]
enum Data {
    /// Nothing yet.
    #[default]
    Empty,
    /// Windowed aggregate results, by (start, end).
    Windows {
        wins: BTreeMap<(i64, i64), Win>,
        last_closed: Option<(i64, i64)>,
    },
    /// Running totals.
    Totals(Groups),
    /// Filter rows, oldest first, and how many arrived in all.
    Rows(VecDeque<Map<String, Value>>, u64),
}

/// One watched query.
#[derive(Clone, Debug)]
pub struct View {
    /// The query's name.
    pub name: String,
    /// Its result columns and order, when known.
    pub shape: Option<Shape>,
    data: Data,
    /// Results the feed skipped because this client fell behind.
    pub lagged: u64,
    /// Set when the query's feed ended, with the reason.
    pub closed: Option<String>,
    /// Results received.
    pub received: u64,
}

impl View {
    /// An empty view of `name`.
    pub fn new(name: impl Into<String>, shape: Option<Shape>) -> View {
        View {
            name: name.into(),
            shape,
            data: Data::Empty,
            lagged: 0,
            closed: None,
            received: 0,
        }
    }

    /// Folds one result in.
    pub fn apply(&mut self, r: &LiveResult) {
        self.received += 1;
        match &r.body {
            LiveBody::Aggregate {
                window: Some(w),
                group,
                values,
            } => {
                if !matches!(self.data, Data::Windows { .. }) {
                    self.data = Data::Windows {
                        wins: BTreeMap::new(),
                        last_closed: None,
                    };
                }
                let Data::Windows { wins, last_closed } = &mut self.data else {
                    unreachable!()
                };
                if last_closed.is_some_and(|lc| w.0 < lc.0) {
                    return; // a window already replaced by a later one
                }
                let win = wins.entry(*w).or_default();
                if r.partial && win.closed {
                    return; // a late partial of a closed window
                }
                if !r.partial && !win.closed {
                    win.closed = true;
                    win.groups.clear();
                }
                win.groups.insert(
                    Value::Object(group.clone()).to_string(),
                    (group.clone(), values.clone()),
                );
                if !r.partial {
                    *last_closed = Some(last_closed.map_or(*w, |lc| lc.max(*w)));
                    wins.retain(|k, _| k.0 >= w.0);
                }
            }
            LiveBody::Aggregate {
                window: None,
                group,
                values,
            } => {
                if !matches!(self.data, Data::Totals(_)) {
                    self.data = Data::Totals(Groups::new());
                }
                let Data::Totals(groups) = &mut self.data else {
                    unreachable!()
                };
                groups.insert(
                    Value::Object(group.clone()).to_string(),
                    (group.clone(), values.clone()),
                );
            }
            LiveBody::Row(row) => {
                if !matches!(self.data, Data::Rows(..)) {
                    self.data = Data::Rows(VecDeque::new(), 0);
                }
                let Data::Rows(rows, total) = &mut self.data else {
                    unreachable!()
                };
                rows.push_back(row.clone());
                if rows.len() > MAX_ROWS {
                    rows.pop_front();
                }
                *total += 1;
            }
        }
    }

    /// The view as at most `max_lines` lines (at least 4 are used), each cut
    /// to `width` display columns.
    pub fn render(&self, style: &Style, width: usize, max_lines: usize) -> Vec<String> {
        let budget = max_lines.max(4) - 3; // title, header, rule
        let (what, table, more) = match &self.data {
            Data::Empty => ("waiting for results…".to_string(), None, 0),
            Data::Windows { wins, last_closed } => {
                let open = wins
                    .iter()
                    .find(|(k, w)| !w.closed && last_closed.is_none_or(|lc| k.0 > lc.0));
                let shown = open.or_else(|| last_closed.and_then(|lc| wins.get_key_value(&lc)));
                match shown {
                    None => ("waiting for results…".to_string(), None, 0),
                    Some((&(start, end), win)) => {
                        let (table, more) = self.group_table(&win.groups, budget);
                        let state = if win.closed { "final" } else { "partial" };
                        let what = format!(
                            "window {} · {state} · {}",
                            format_window(start, end),
                            plural(win.groups.len(), "group")
                        );
                        (what, Some(table), more)
                    }
                }
            }
            Data::Totals(groups) => {
                let (table, more) = self.group_table(groups, budget);
                let what = format!("running totals · {}", plural(groups.len(), "group"));
                (what, Some(table), more)
            }
            Data::Rows(rows, total) => {
                let (table, shown) = self.row_table(rows, budget);
                let what = format!("last {shown} of {}", plural(*total as usize, "row"));
                (what, Some(table), 0)
            }
        };
        let mut title = format!("{} · {what}", style.bold(&self.name));
        if self.lagged > 0 {
            title.push_str(&format!(
                " · missed {} (too slow)",
                plural(self.lagged as usize, "result")
            ));
        }
        if let Some(reason) = &self.closed {
            title.push_str(&format!(" · {}", style.error(&format!("ended: {reason}"))));
        }
        let mut lines = vec![truncate_styled(&title, width)];
        if let Some(t) = table {
            lines.extend(t.render(style, Some(width)));
        }
        if more > 0 {
            let rows = if more == 1 { "row" } else { "rows" };
            lines.push(style.dim(&format!("… {more} more {rows}")));
        }
        lines
    }

    /// The columns of an aggregate table: from the shape, else from a group.
    fn aggregate_columns(&self, groups: &Groups) -> (Vec<String>, Vec<String>) {
        match &self.shape {
            Some(Shape::Aggregate { keys, values, .. }) => (keys.clone(), values.clone()),
            _ => groups
                .values()
                .next()
                .map(|(g, v)| (g.keys().cloned().collect(), v.keys().cloned().collect()))
                .unwrap_or_default(),
        }
    }

    /// Groups sorted by the query's order, cut to its limit and to `budget`
    /// rows; also how many were cut for lack of room.
    fn group_table(&self, groups: &Groups, budget: usize) -> (Table, usize) {
        let (keys, values) = self.aggregate_columns(groups);
        let (order, limit) = match &self.shape {
            Some(Shape::Aggregate { order, limit, .. }) => (order.clone(), *limit),
            _ => (Vec::new(), None),
        };
        let cell = |(g, v): &GroupRow, col: &str| g.get(col).or_else(|| v.get(col)).cloned();
        let mut rows: Vec<&GroupRow> = groups.values().collect();
        rows.sort_by(|a, b| {
            for (col, desc) in &order {
                let o = cmp_values(cell(a, col).as_ref(), cell(b, col).as_ref());
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            for k in &keys {
                let o = cmp_values(cell(a, k).as_ref(), cell(b, k).as_ref());
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        if let Some(l) = limit {
            rows.truncate(usize::try_from(l).unwrap_or(usize::MAX));
        }
        let mut more = 0;
        if rows.len() > budget {
            let keep = budget.saturating_sub(1);
            more = rows.len() - keep;
            rows.truncate(keep);
        }
        let mut t = Table::new(keys.iter().chain(values.iter()).cloned());
        for r in rows {
            t.rows.push(
                keys.iter()
                    .map(|k| Cell::value(r.0.get(k)))
                    .chain(values.iter().map(|v| Cell::value(r.1.get(v))))
                    .collect(),
            );
        }
        (t, more)
    }

    /// The latest rows that fit in `budget`, oldest first; and how many.
    fn row_table(&self, rows: &VecDeque<Map<String, Value>>, budget: usize) -> (Table, usize) {
        let skip = rows.len().saturating_sub(budget);
        let shown: Vec<&Map<String, Value>> = rows.iter().skip(skip).collect();
        let columns: Vec<String> = match &self.shape {
            Some(Shape::Filter(Some(cols))) => cols.clone(),
            _ => {
                let mut cols: Vec<String> = Vec::new();
                for r in &shown {
                    for k in r.keys() {
                        if !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
                cols
            }
        };
        let mut t = Table::new(columns.iter().cloned());
        for r in &shown {
            t.rows
                .push(columns.iter().map(|c| Cell::value(r.get(c))).collect());
        }
        (t, shown.len())
    }
}

/// `n thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Cuts a line that may hold colour codes: when it is too wide, its plain
/// text is cut instead (the colour is lost, the width kept).
fn truncate_styled(s: &str, width: usize) -> String {
    let plain = strip_ansi(s);
    if unicode_width::UnicodeWidthStr::width(plain.as_str()) <= width {
        s.to_string()
    } else {
        truncate(&plain, width)
    }
}

/// `s` without ANSI escape sequences.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Orders JSON values as a table sorts them: missing and null first, then
/// booleans, numbers (by value), strings, and anything else by its text.
pub fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                f.total_cmp(&g)
            }
        },
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
            (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
            _ => Ordering::Equal,
        }),
    }
}

/// `[start, end)` as UTC time: `2016-11-01 00:00:00–00:00:10 UTC`, with the
/// end's date only when it differs and milliseconds only when not whole.
pub fn format_window(start: i64, end: i64) -> String {
    let (sd, st) = date_time(start);
    let (ed, et) = date_time(end);
    if sd == ed {
        format!("{sd} {st}–{et} UTC")
    } else {
        format!("{sd} {st}–{ed} {et} UTC")
    }
}

/// Epoch milliseconds as (`YYYY-MM-DD`, `HH:MM:SS[.mmm]`) in UTC.
fn date_time(ms: i64) -> (String, String) {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    let time = if milli == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{milli:03}")
    };
    (format!("{y:04}-{m:02}-{d:02}"), time)
}

/// How a watch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// Ctrl-C.
    Interrupted,
    /// Every watched query's feed ended (they were dropped).
    AllClosed,
    /// The connection ended, with the reason.
    Lost(String),
}

/// Where the tables are drawn.
pub struct Screen<W: Write> {
    out: W,
    /// Redraw in place (a terminal) or print one update after another.
    in_place: bool,
    /// Lines drawn last time, to move back over.
    drawn: usize,
    style: Style,
}

impl<W: Write> Screen<W> {
    /// A screen on `out`.
    pub fn new(out: W, in_place: bool, style: Style) -> Screen<W> {
        Screen {
            out,
            in_place,
            drawn: 0,
            style,
        }
    }

    /// Draws the views (and, in place, a status line), replacing the last
    /// drawing on a terminal.
    pub fn draw(&mut self, views: &[View], status: &str) -> std::io::Result<()> {
        let (width, rows) = if self.in_place {
            super::term::size()
        } else {
            (usize::MAX, usize::MAX)
        };
        // Leave a line for the status and one so the drawing never scrolls.
        let per_view = (rows.saturating_sub(2) / views.len().max(1)).max(4);
        let mut lines = Vec::new();
        for (i, v) in views.iter().enumerate() {
            if i > 0 {
                lines.push(String::new());
            }
            lines.extend(v.render(
                &self.style,
                width,
                per_view.saturating_sub(usize::from(i > 0)),
            ));
        }
        let mut buf = String::new();
        if self.in_place {
            lines.push(truncate_styled(&self.style.dim(status), width));
            if self.drawn > 0 {
                buf.push_str(&format!("\x1b[{}F\x1b[J", self.drawn));
            }
            self.drawn = lines.len();
        }
        for l in &lines {
            buf.push_str(l);
            buf.push('\n');
        }
        if !self.in_place {
            buf.push('\n');
        }
        self.out.write_all(buf.as_bytes())?;
        self.out.flush()
    }
}

/// Shows the feed's results in `views` until `interrupt` fires, every feed
/// has ended, or the connection is lost.
pub async fn run<W: Write>(
    feed: &mut LiveFeed,
    views: &mut [View],
    screen: &mut Screen<W>,
    interrupt: impl std::future::Future<Output = ()>,
) -> std::io::Result<WatchEnd> {
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    let status_base = format!("watching {} · Ctrl-C to stop", names.join(", "));
    tokio::pin!(interrupt);
    let mut tick = tokio::time::interval(REDRAW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = true;
    let end = loop {
        tokio::select! {
            _ = &mut interrupt => break WatchEnd::Interrupted,
            m = feed.next() => {
                dirty = true;
                match m {
                    None => break WatchEnd::Lost("the connection ended".into()),
                    Some(LiveMessage::End(reason)) => break WatchEnd::Lost(reason),
                    Some(LiveMessage::Result(r)) => {
                        if let Some(v) = views.iter_mut().find(|v| v.name == r.query) {
                            v.apply(&r);
                        }
                    }
                    Some(LiveMessage::Lagged { query, n }) => {
                        for v in views.iter_mut().filter(|v| v.name == query || query.is_empty()) {
                            v.lagged += n;
                        }
                    }
                    Some(LiveMessage::Closed { query, reason }) => {
                        if let Some(v) = views.iter_mut().find(|v| v.name == query) {
                            v.closed = Some(reason);
                        }
                        if views.iter().all(|v| v.closed.is_some()) {
                            break WatchEnd::AllClosed;
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if dirty {
                    screen.draw(views, &status_base)?;
                    dirty = false;
                }
            }
        }
    };
    let status = match &end {
        WatchEnd::Interrupted => "stopped".to_string(),
        WatchEnd::AllClosed => "every watched query ended".to_string(),
        WatchEnd::Lost(r) => format!("connection lost: {r}"),
    };
    screen.draw(views, &status)?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agg(window: Option<(i64, i64)>, partial: bool, country: &str, n: i64) -> LiveResult {
        let Value::Object(group) = json!({ "country": country }) else {
            unreachable!()
        };
        let Value::Object(values) = json!({ "n": n }) else {
            unreachable!()
        };
        LiveResult {
            query: "q".into(),
            partial,
            body: LiveBody::Aggregate {
                window,
                group,
                values,
            },
        }
    }

    fn shape(order: &[(&str, bool)], limit: Option<u64>, windowed: bool) -> Option<Shape> {
        Some(Shape::Aggregate {
            keys: vec!["country".into()],
            values: vec!["n".into()],
            order: order.iter().map(|(c, d)| (c.to_string(), *d)).collect(),
            limit,
            windowed,
        })
    }

    fn lines(v: &View, max: usize) -> Vec<String> {
        v.render(&Style::plain(), 80, max)
    }

    #[test]
    fn a_window_is_shown_sorted_by_the_query_order_and_replaced_by_the_next() {
        let mut v = View::new("q", shape(&[("n", true)], None, true));
        assert_eq!(lines(&v, 10), ["q · waiting for results…"]);
        for (c, n) in [("FR", 1), ("US", 3), ("DE", 2)] {
            v.apply(&agg(Some((0, 10_000)), false, c, n));
        }
        assert_eq!(
            lines(&v, 10),
            [
                "q · window 1970-01-01 00:00:00–00:00:10 UTC · final · 3 groups",
                "country  n",
                "-------  -",
                "US       3",
                "DE       2",
                "FR       1",
            ]
        );
        v.apply(&agg(Some((10_000, 20_000)), false, "FR", 7));
        assert_eq!(
            lines(&v, 10),
            [
                "q · window 1970-01-01 00:00:10–00:00:20 UTC · final · 1 group",
                "country  n",
                "-------  -",
                "FR       7",
            ]
        );
        // A straggler for the replaced window changes nothing.
        v.apply(&agg(Some((0, 10_000)), false, "US", 9));
        assert_eq!(lines(&v, 10)[3], "FR       7");
    }

    #[test]
    fn partials_of_the_open_window_update_in_place_until_it_closes() {
        let mut v = View::new("q", shape(&[], None, true));
        v.apply(&agg(Some((0, 10_000)), true, "US", 1));
        v.apply(&agg(Some((0, 10_000)), true, "FR", 1));
        v.apply(&agg(Some((0, 10_000)), true, "US", 2));
        let l = lines(&v, 10);
        assert!(l[0].contains("· partial · 2 groups"), "{l:?}");
        assert_eq!(&l[3..], ["FR       1", "US       2"]); // by key without ORDER BY
                                                           // The final replaces the partials (HAVING may have dropped FR).
        v.apply(&agg(Some((0, 10_000)), false, "US", 4));
        let l = lines(&v, 10);
        assert!(l[0].contains("· final · 1 group"), "{l:?}");
        assert_eq!(&l[3..], ["US       4"]);
        // A late partial of the closed window is ignored; the next window's shows.
        v.apply(&agg(Some((0, 10_000)), true, "US", 1));
        assert_eq!(&lines(&v, 10)[3..], ["US       4"]);
        v.apply(&agg(Some((10_000, 20_000)), true, "DE", 5));
        let l = lines(&v, 10);
        assert!(l[0].contains("00:00:10–00:00:20 UTC · partial"), "{l:?}");
        assert_eq!(&l[3..], ["DE       5"]);
    }

    #[test]
    fn running_totals_keep_every_group_cut_to_limit_and_screen() {
        let mut v = View::new("q", shape(&[("n", false)], Some(3), false));
        for (i, c) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            v.apply(&agg(None, false, c, 10 - i as i64));
        }
        v.apply(&agg(None, false, "a", 1)); // a updated: now smallest
        let l = lines(&v, 10);
        assert_eq!(l[0], "q · running totals · 5 groups");
        assert_eq!(&l[3..], ["a        1", "e        6", "d        7"]);
        // Less room than the limit: the last row says how many are left out.
        let l = lines(&v, 5);
        assert_eq!(&l[3..], ["a        1", "… 2 more rows"]);
    }

    #[test]
    fn filter_rows_show_the_latest_with_their_columns() {
        let mut v = View::new("f", Some(Shape::Filter(Some(vec!["b".into(), "a".into()]))));
        for i in 0..5 {
            let Value::Object(row) = json!({ "a": i, "b": format!("x{i}") }) else {
                unreachable!()
            };
            v.apply(&LiveResult {
                query: "f".into(),
                partial: false,
                body: LiveBody::Row(row),
            });
        }
        assert_eq!(
            lines(&v, 5),
            ["f · last 2 of 5 rows", "b   a", "--  -", "x3  3", "x4  4"]
        );
        v.lagged = 7;
        v.closed = Some("query dropped".into());
        assert_eq!(
            lines(&v, 5)[0],
            "f · last 2 of 5 rows · missed 7 results (too slow) · ended: query dropped"
        );
    }

    #[test]
    fn values_sort_numbers_by_value_and_nulls_first() {
        let (a, b) = (json!(9), json!(10.5));
        assert_eq!(cmp_values(Some(&a), Some(&b)), Ordering::Less);
        assert_eq!(cmp_values(None, Some(&a)), Ordering::Less);
        assert_eq!(
            cmp_values(Some(&json!("b")), Some(&json!("a"))),
            Ordering::Greater
        );
        assert_eq!(
            cmp_values(Some(&json!(5)), Some(&json!("5"))),
            Ordering::Less
        );
    }

    #[test]
    fn windows_print_in_utc() {
        assert_eq!(
            format_window(1_477_958_400_000, 1_477_958_430_000),
            "2016-11-01 00:00:00–00:00:30 UTC"
        );
        assert_eq!(
            format_window(86_399_500, 86_400_000),
            "1970-01-01 23:59:59.500–1970-01-02 00:00:00 UTC"
        );
        assert_eq!(date_time(-1).0, "1969-12-31");
    }

    #[test]
    fn screens_redraw_in_place_on_a_terminal_only() {
        let mut v = View::new("q", shape(&[], None, false));
        v.apply(&agg(None, false, "US", 1));
        let mut out = Vec::new();
        let mut s = Screen::new(&mut out, false, Style::plain());
        s.draw(&[v.clone()], "status").unwrap();
        s.draw(&[v.clone()], "status").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'));
        assert!(!text.contains("status"));
        assert_eq!(text.matches("running totals").count(), 2);
        let mut out = Vec::new();
        let mut s = Screen::new(&mut out, true, Style::plain());
        s.draw(&[v.clone()], "status").unwrap();
        s.draw(&[v], "status").unwrap();
        let text = String::from_utf8(out).unwrap();
        // The second drawing first moves up over the 5 lines of the first.
        let second = text.find("\x1b[5F\x1b[J").expect("moves back up");
        assert_eq!(text[..second].lines().count(), 5);
        assert!(text[second..].contains("US       1"));
    }

    #[test]
    fn ansi_codes_are_stripped() {
        assert_eq!(strip_ansi("\x1b[1;31m^^\x1b[0m x\x1b[5F\x1b[J"), "^^ x");
    }
}
