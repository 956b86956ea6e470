//! Timestamps written in a strftime-style format (`%b %d %H:%M:%S`), parsed
//! by hand into epoch milliseconds, and the rule that picks the year of
//! timestamps that have none (syslog's `Jan 23 10:47:43`).
//!
//! The supported conversions are the ones log headers use:
//!
//! | conversion | reads |
//! |---|---|
//! | `%Y` | year, up to 4 digits |
//! | `%y` | year in the century, 2 digits: `69`–`99` are 1969–1999, `00`–`68` are 2000–2068 |
//! | `%m` | month, 1–2 digits |
//! | `%b`, `%h`, `%B` | month name, abbreviated (`Jan`) or full (`January`), any case |
//! | `%d`, `%e` | day of the month, 1–2 digits (a leading space is allowed) |
//! | `%H` | hour 0–23, 1–2 digits |
//! | `%M` | minute, 1–2 digits |
//! | `%S` | second 0–60, 1–2 digits (60, a leap second, counts as the next minute's first) |
//! | `%f` | fraction of a second, 1–9 digits, truncated to milliseconds (`.5` is 500 ms) |
//! | `%L` | milliseconds as a number, 1–3 digits (`5` is 5 ms) |
//! | `%a`, `%A` | weekday name (checked to be one, otherwise ignored) |
//! | `%s` | seconds since the epoch (may be negative) |
//! | `%z` | UTC offset: `Z`, `+hh`, `+hhmm` or `+hh:mm` |
//! | `%T` | `%H:%M:%S` |
//! | `%%` | a `%` |
//!
//! A space in the format matches any run of whitespace in the text, including
//! none (as in C's `strptime`); any other character matches itself. The whole
//! text must be consumed. Times without `%z` are UTC. A format must give a
//! month and a day (or be `%s`); one without a year gets it from a
//! [`YearRule`].

/// One element of a parsed format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    /// A byte that must appear as is.
    Lit(u8),
    /// Any run of whitespace, possibly empty.
    Space,
    Year4,
    Year2,
    Month,
    MonthName,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    Millis,
    Weekday,
    Epoch,
    Offset,
}

/// A checked timestamp format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeFormat {
    text: String,
    items: Vec<Item>,
    has_year: bool,
}

/// How a timestamp without a year gets one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YearRule {
    /// Always this year (the stream option `year = '2005'`).
    Fixed(i32),
    /// The most recent year that does not put the time more than a day after
    /// the reference time (the batch's arrival time): a `Dec 31` line read on
    /// January 1st belongs to last year.
    Recent,
}

/// A [`YearRule`] applied relative to one reference time (computed once per
/// batch).
#[derive(Clone, Copy, Debug)]
pub struct YearContext {
    rule: YearRule,
    /// The reference time, epoch ms.
    reference_ms: i64,
    /// The reference time's UTC year.
    reference_year: i64,
}

/// How far after the reference time a yearless timestamp may lie before it
/// is taken to be from the year before (clocks of log writers drift).
const FUTURE_SLACK_MS: i64 = 86_400_000;

impl YearContext {
    /// The rule, with `reference_ms` (epoch ms) as "now".
    pub fn new(rule: YearRule, reference_ms: i64) -> YearContext {
        YearContext {
            rule,
            reference_ms,
            reference_year: civil_from_days(reference_ms.div_euclid(86_400_000)).0,
        }
    }

    /// Epoch milliseconds of a month, day and time of day (ms) in the year
    /// the rule picks, or `None` for a date that does not exist (February
    /// 30th; February 29th in a fixed year that is not a leap year).
    pub fn resolve(&self, month: u32, day: u32, ms_of_day: i64) -> Option<i64> {
        let (m, d) = (month as i64, day as i64);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        match self.rule {
            YearRule::Fixed(y) => {
                let y = y as i64;
                (d <= days_in_month(y, m))
                    .then(|| days_from_civil(y, m, d) * 86_400_000 + ms_of_day)
            }
            YearRule::Recent => {
                // February 29th may need to go back up to eight years.
                (0..9).find_map(|back| {
                    let y = self.reference_year - back;
                    let t = days_from_civil(y, m, d) * 86_400_000 + ms_of_day;
                    (d <= days_in_month(y, m) && t <= self.reference_ms + FUTURE_SLACK_MS)
                        .then_some(t)
                })
            }
        }
    }
}

impl TimeFormat {
    /// Checks a format; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<TimeFormat, String> {
        let b = text.as_bytes();
        let mut items = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' => {
                    let Some(&c) = b.get(i + 1) else {
                        return Err("timestamp format ends with a lone `%`".into());
                    };
                    match c {
                        b'Y' => items.push(Item::Year4),
                        b'y' => items.push(Item::Year2),
                        b'm' => items.push(Item::Month),
                        b'b' | b'h' | b'B' => items.push(Item::MonthName),
                        b'd' | b'e' => items.push(Item::Day),
                        b'H' => items.push(Item::Hour),
                        b'M' => items.push(Item::Minute),
                        b'S' => items.push(Item::Second),
                        b'f' => items.push(Item::Fraction),
                        b'L' => items.push(Item::Millis),
                        b'a' | b'A' => items.push(Item::Weekday),
                        b's' => items.push(Item::Epoch),
                        b'z' => items.push(Item::Offset),
                        b'T' => items.extend([
                            Item::Hour,
                            Item::Lit(b':'),
                            Item::Minute,
                            Item::Lit(b':'),
                            Item::Second,
                        ]),
                        b'%' => items.push(Item::Lit(b'%')),
                        _ => {
                            let conv: String = text[i..].chars().take(2).collect();
                            return Err(format!(
                                "unknown conversion `{conv}` in timestamp format (known: %Y %y %m %b %B %h %d %e %H %M %S %f %L %a %A %s %z %T %%)"
                            ));
                        }
                    }
                    i += 2;
                }
                c if c.is_ascii_whitespace() => {
                    if items.last() != Some(&Item::Space) {
                        items.push(Item::Space);
                    }
                    i += 1;
                }
                c => {
                    items.push(Item::Lit(c));
                    i += 1;
                }
            }
        }
        let has = |it: Item| items.contains(&it);
        let epoch = has(Item::Epoch);
        if !epoch && !((has(Item::Month) || has(Item::MonthName)) && has(Item::Day)) {
            return Err(format!(
                "timestamp format `{text}` needs a month (%m or %b) and a day (%d), or %s"
            ));
        }
        Ok(TimeFormat {
            text: text.to_string(),
            has_year: has(Item::Year4) || has(Item::Year2) || epoch,
            items,
        })
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the format gives the year (otherwise a [`YearRule`] does).
    pub fn has_year(&self) -> bool {
        self.has_year
    }

    /// Parses `s` to epoch milliseconds; the error is a short reason.
    pub fn parse_ms(&self, s: &str, years: &YearContext) -> Result<i64, &'static str> {
        let b = s.as_bytes();
        let mut pos = 0;
        let (mut year, mut month, mut day) = (None, None, None);
        let (mut hour, mut minute, mut second, mut ms) = (0i64, 0i64, 0i64, 0i64);
        let mut offset_min = 0i64;
        let mut epoch: Option<i64> = None;
        for item in &self.items {
            match *item {
                Item::Lit(c) => {
                    if b.get(pos) != Some(&c) {
                        return Err("text does not fit the timestamp format");
                    }
                    pos += 1;
                }
                Item::Space => {
                    while b.get(pos).is_some_and(u8::is_ascii_whitespace) {
                        pos += 1;
                    }
                }
                Item::Year4 => year = Some(number(b, &mut pos, 4).ok_or("expected a year")?),
                Item::Year2 => {
                    let y = number(b, &mut pos, 2).ok_or("expected a 2-digit year")?;
                    year = Some(if y >= 69 { 1900 + y } else { 2000 + y });
                }
                Item::Month => month = Some(number(b, &mut pos, 2).ok_or("expected a month")?),
                Item::MonthName => {
                    month =
                        Some(name(b, &mut pos, &MONTHS).ok_or("expected a month name")? as i64 + 1)
                }
                Item::Day => {
                    if b.get(pos) == Some(&b' ') {
                        pos += 1;
                    }
                    day = Some(number(b, &mut pos, 2).ok_or("expected a day")?);
                }
                Item::Hour => hour = number(b, &mut pos, 2).ok_or("expected an hour")?,
                Item::Minute => minute = number(b, &mut pos, 2).ok_or("expected minutes")?,
                Item::Second => second = number(b, &mut pos, 2).ok_or("expected seconds")?,
                Item::Fraction => {
                    let start = pos;
                    while b.get(pos).is_some_and(u8::is_ascii_digit) && pos - start < 9 {
                        if pos - start < 3 {
                            ms = ms * 10 + (b[pos] - b'0') as i64;
                        }
                        pos += 1;
                    }
                    match pos - start {
                        0 => return Err("expected a fraction of a second"),
                        1 => ms *= 100,
                        2 => ms *= 10,
                        _ => {}
                    }
                }
                Item::Millis => ms = number(b, &mut pos, 3).ok_or("expected milliseconds")?,
                Item::Weekday => {
                    name(b, &mut pos, &WEEKDAYS).ok_or("expected a weekday name")?;
                }
                Item::Epoch => {
                    let neg = b.get(pos) == Some(&b'-');
                    if neg {
                        pos += 1;
                    }
                    let v = number(b, &mut pos, 12).ok_or("expected seconds since the epoch")?;
                    epoch = Some(if neg { -v } else { v });
                }
                Item::Offset => offset_min = offset(b, &mut pos).ok_or("expected a UTC offset")?,
            }
        }
        if pos != b.len() {
            return Err("text does not fit the timestamp format");
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err("time of day out of range");
        }
        let tod = (hour * 3600 + minute * 60 + second) * 1000 + ms;
        let t = if let Some(e) = epoch {
            e * 1000 + ms
        } else {
            let (m, d) = (month.unwrap_or(0), day.unwrap_or(0));
            match year {
                Some(y) => {
                    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
                        return Err("no such date");
                    }
                    days_from_civil(y, m, d) * 86_400_000 + tod
                }
                None => years
                    .resolve(m as u32, d as u32, tod)
                    .ok_or("no such date")?,
            }
        };
        Ok(t - offset_min * 60_000)
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Up to `max` digits (at least one) at `pos`.
fn number(b: &[u8], pos: &mut usize, max: usize) -> Option<i64> {
    let start = *pos;
    let mut v = 0i64;
    while *pos - start < max {
        match b.get(*pos) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + (c - b'0') as i64;
                *pos += 1;
            }
            _ => break,
        }
    }
    (*pos > start).then_some(v)
}

/// A full or three-letter name from `names` (lower case), any case in `b`;
/// its index.
fn name(b: &[u8], pos: &mut usize, names: &[&str]) -> Option<usize> {
    let rest = &b[*pos..];
    let word = rest
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let w = &rest[..word];
    let i = names.iter().position(|n| {
        let n = n.as_bytes();
        (w.len() == 3 || w.len() == n.len())
            && w.len() <= n.len()
            && w.eq_ignore_ascii_case(&n[..w.len()])
    })?;
    *pos += word;
    Some(i)
}

/// `Z`, `+hh`, `+hhmm` or `+hh:mm` (or `-`), in minutes east of UTC.
fn offset(b: &[u8], pos: &mut usize) -> Option<i64> {
    match b.get(*pos)? {
        b'Z' | b'z' => {
            *pos += 1;
            Some(0)
        }
        &sign @ (b'+' | b'-') => {
            let two = |at: usize| -> Option<i64> {
                let d = b.get(at..at + 2)?;
                d.iter()
                    .all(u8::is_ascii_digit)
                    .then(|| ((d[0] - b'0') * 10 + (d[1] - b'0')) as i64)
            };
            let h = two(*pos + 1)?;
            let mut p = *pos + 3;
            if b.get(p) == Some(&b':') {
                p += 1;
            }
            let m = match two(p) {
                Some(m) => {
                    p += 2;
                    m
                }
                None if p == *pos + 3 => 0,
                None => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            *pos = p;
            Some(if sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            })
        }
        _ => None,
    }
}

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1–12) of year `y`.
pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    /// Epoch ms of a UTC date-time, computed by chrono (the oracle).
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_milli_opt(h, mi, s, ms)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn fixed(y: i32) -> YearContext {
        YearContext::new(YearRule::Fixed(y), 0)
    }

    #[test]
    fn log_header_formats() {
        let cases: &[(&str, &str, i64)] = &[
            (
                "%b %d %H:%M:%S",
                "Jun 14 15:16:01",
                utc(2005, 6, 14, 15, 16, 1, 0),
            ),
            (
                "%b %d %H:%M:%S",
                "Jul  1 09:00:55",
                utc(2005, 7, 1, 9, 0, 55, 0),
            ),
            (
                "%a %b %d %H:%M:%S %Y",
                "Sun Dec 04 04:47:44 2005",
                utc(2005, 12, 4, 4, 47, 44, 0),
            ),
            (
                "%y%m%d %H%M%S",
                "081109 203615",
                utc(2008, 11, 9, 20, 36, 15, 0),
            ),
            (
                "%Y-%m-%d %H:%M:%S,%f",
                "2015-07-29 17:41:44,747",
                utc(2015, 7, 29, 17, 41, 44, 747),
            ),
            (
                "%y/%m/%d %T",
                "17/06/09 20:10:40",
                utc(2017, 6, 9, 20, 10, 40, 0),
            ),
            (
                "%m-%d %H:%M:%S.%f",
                "03-17 16:13:38.811",
                utc(2005, 3, 17, 16, 13, 38, 811),
            ),
            (
                "%Y%m%d-%H:%M:%S:%f",
                "20171223-22:16:0:119",
                utc(2017, 12, 23, 22, 16, 0, 119),
            ),
            (
                "%Y%m%d-%H:%M:%S:%L",
                "20171223-22:16:0:5",
                utc(2017, 12, 23, 22, 16, 0, 5),
            ),
            (
                "%Y%m%d-%H:%M:%S:%f",
                "20171223-22:16:0:5",
                utc(2017, 12, 23, 22, 16, 0, 500),
            ),
            (
                "%m.%d %H:%M:%S",
                "10.30 16:49:06",
                utc(2005, 10, 30, 16, 49, 6, 0),
            ),
            (
                "%Y-%m-%d-%H.%M.%S.%f",
                "2005-06-03-15.42.50.675872",
                utc(2005, 6, 3, 15, 42, 50, 675),
            ),
            ("%s", "1117838570", 1_117_838_570_000),
            ("%s", "-5", -5000),
            (
                "%Y-%m-%dT%H:%M:%S%z",
                "2020-01-01T10:00:00+01:30",
                utc(2020, 1, 1, 8, 30, 0, 0),
            ),
            (
                "%Y-%m-%dT%H:%M:%S%z",
                "2020-01-01T10:00:00-0100",
                utc(2020, 1, 1, 11, 0, 0, 0),
            ),
            (
                "%Y-%m-%dT%H:%M:%S%z",
                "2020-01-01T10:00:00Z",
                utc(2020, 1, 1, 10, 0, 0, 0),
            ),
            ("%B %e %Y", "february 9 2024", utc(2024, 2, 9, 0, 0, 0, 0)),
            (
                "%d/%b/%Y:%H:%M:%S %z",
                "10/Oct/2000:13:55:36 -0700",
                utc(2000, 10, 10, 20, 55, 36, 0),
            ),
            (
                "100%% %Y-%m-%d",
                "100% 1999-12-31",
                utc(1999, 12, 31, 0, 0, 0, 0),
            ),
            (
                "%Y-%m-%d %H:%M:%S",
                "2016-12-31 23:59:60",
                utc(2017, 1, 1, 0, 0, 0, 0),
            ),
        ];
        for (fmt, text, want) in cases {
            let f = TimeFormat::parse(fmt).unwrap();
            assert_eq!(f.parse_ms(text, &fixed(2005)), Ok(*want), "{fmt} on {text}");
        }
    }

    #[test]
    fn mismatches_are_errors() {
        let f = TimeFormat::parse("%b %d %H:%M:%S").unwrap();
        let y = fixed(2005);
        for bad in [
            "",
            "Jun 14 15:16",
            "Jun 14 15:16:01x",
            "Jux 14 15:16:01",
            "Jun 31 15:16:01",
            "Jun 14 24:00:00",
            "Jun 14 23:60:00",
            "Jun 14 23:00:61",
            "Jun 1a 23:00:00",
            "Feb 29 00:00:00",
        ] {
            assert!(f.parse_ms(bad, &y).is_err(), "{bad:?}");
        }
        assert!(f.parse_ms("Feb 29 00:00:00", &fixed(2004)).is_ok());
        let f = TimeFormat::parse("%Y-%m-%dT%H:%M:%S%z").unwrap();
        for bad in [
            "2020-01-01T10:00:00+2400",
            "2020-01-01T10:00:00+01:6",
            "2020-13-01T10:00:00Z",
        ] {
            assert!(f.parse_ms(bad, &y).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_formats_are_rejected() {
        assert!(TimeFormat::parse("%H:%M:%S")
            .unwrap_err()
            .contains("needs a month"));
        assert!(TimeFormat::parse("%Q %d")
            .unwrap_err()
            .contains("unknown conversion `%Q`"));
        assert!(TimeFormat::parse("%b %d %")
            .unwrap_err()
            .contains("lone `%`"));
        assert!(!TimeFormat::parse("%b %d").unwrap().has_year());
        assert!(TimeFormat::parse("%s").unwrap().has_year());
        assert_eq!(TimeFormat::parse("%b %d").unwrap().as_str(), "%b %d");
    }

    #[test]
    fn recent_year_rule() {
        // Reference: 2024-01-01 00:30 UTC.
        let now = utc(2024, 1, 1, 0, 30, 0, 0);
        let y = YearContext::new(YearRule::Recent, now);
        let tod = (23 * 3600 + 59 * 60) * 1000;
        // December 31st is last year's; January 1st this year's; January 2nd
        // (within a day of slack) too; a date further ahead is last year's.
        assert_eq!(
            y.resolve(12, 31, tod),
            Some(utc(2023, 12, 31, 23, 59, 0, 0))
        );
        assert_eq!(y.resolve(1, 1, 0), Some(utc(2024, 1, 1, 0, 0, 0, 0)));
        assert_eq!(y.resolve(1, 2, 0), Some(utc(2024, 1, 2, 0, 0, 0, 0)));
        assert_eq!(y.resolve(3, 1, 0), Some(utc(2023, 3, 1, 0, 0, 0, 0)));
        // February 29th: the latest leap year not in the future.
        assert_eq!(y.resolve(2, 29, 0), Some(utc(2020, 2, 29, 0, 0, 0, 0)));
        assert_eq!(y.resolve(2, 30, 0), None);
        assert_eq!(y.resolve(13, 1, 0), None);
        assert_eq!(fixed(2023).resolve(2, 29, 0), None);
    }

    #[test]
    fn civil_round_trip() {
        let epoch_ce = NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .num_days_from_ce();
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let want = NaiveDate::from_num_days_from_ce_opt(epoch_ce + days as i32).unwrap();
            assert_eq!(
                (y, m, d),
                (want.year() as i64, want.month() as i64, want.day() as i64)
            );
        }
        let (y, m, d) = civil_from_days(utc(2024, 2, 29, 0, 0, 0, 0) / 86_400_000);
        assert_eq!((y, m, d), (2024, 2, 29));
    }
}
