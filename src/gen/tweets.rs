//! Deterministic, realistic tweets as JSON lines.
//!
//! [`TweetGenerator`] writes one JSON object per call, by hand (no serde on
//! the hot path), and [`write_tweets`] splits a run over numbered files in
//! time order. The same [`TweetConfig`] always gives the same bytes.
//!
//! A line looks like
//! ```text
//! {"ts":1477958400000,"id":793000000000000000,"user":"user_4711","lang":"en","country":"US","text":"RT @user_12: Hillary wins the debate","hashtags":["debate"],"retweets":3,"followers":210}
//! ```
//! - `ts`: epoch ms. Record `i` has nominal time `start_ms + i * 1000 / rate_per_s`
//!   and is stamped up to `max_disorder_ms` earlier, so records arrive out of
//!   order but never more than that late.
//! - `id`: increasing with the record index.
//! - `user`: `user_<n>`, Zipf over 100,000 users.
//! - `lang`: one of 30 language codes, `en` ≈ 45%.
//! - `country`: ISO code, usually one where the language is spoken; `null`
//!   for a small fraction (`null_country_fraction`) like tweets without a place.
//! - `text`: 8–25 Zipf-chosen words from a 3,000-word vocabulary (election
//!   terms near the head), with mixed capitalisation, sometimes a phrase
//!   ("vote for"), a mention, a link, `#tags`, and in about 1 of 50 texts a
//!   character that needs JSON escaping or is not ASCII.
//! - `hashtags`: 0–3 distinct tags, Zipf over 500.
//! - `retweets`, `followers`: heavy-tailed non-negative integers; a user's
//!   follower count is fixed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::rng::{mix64, Rng, Zipf};
use super::vocab;

/// 2016-11-01T00:00:00Z in epoch milliseconds: the default start of event time.
pub const NOV_1_2016_MS: i64 = 1_477_958_400_000;

/// The id of record 0; later records count up from here (Twitter-like ids).
pub const FIRST_ID: i64 = 793_000_000_000_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct TweetConfig {
    /// Number of tweets in total.
    pub records: u64,
    /// Number of files [`write_tweets`] splits them over (at least 1).
    pub files: usize,
    /// The PRNG seed: same seed, same bytes.
    pub seed: u64,
    /// Nominal event time of record 0, epoch ms.
    pub start_ms: i64,
    /// Tweets per second of event time.
    pub rate_per_s: f64,
    /// The most a record's `ts` lies before its nominal time, in ms.
    pub max_disorder_ms: u64,
    /// Fraction of tweets whose `country` is `null`.
    pub null_country_fraction: f64,
}

impl Default for TweetConfig {
    /// 1M tweets in one file, seed 42, from 2016-11-01 at 10,000 tweets/s,
    /// up to 2 s of disorder, 3% without a country.
    fn default() -> TweetConfig {
        TweetConfig {
            records: 1_000_000,
            files: 1,
            seed: 42,
            start_ms: NOV_1_2016_MS,
            rate_per_s: 10_000.0,
            max_disorder_ms: 2_000,
            null_country_fraction: 0.03,
        }
    }
}

impl TweetConfig {
    /// The configuration of the committed sample `examples/data/tweets/tweets-00000.jsonl`:
    /// 2,000 tweets, seed 42, at 20 tweets/s so they span 100 s of event time
    /// (enough for the example windows to close several times).
    pub fn sample() -> TweetConfig {
        TweetConfig {
            records: 2_000,
            files: 1,
            seed: 42,
            rate_per_s: 20.0,
            ..TweetConfig::default()
        }
    }

    /// The nominal (undisordered) event time of record `index`, epoch ms.
    pub fn nominal_ts(&self, index: u64) -> i64 {
        self.start_ms + (index as f64 * 1000.0 / self.rate_per_s) as i64
    }

    /// The range of record indices that file `file` of [`write_tweets`] holds.
    pub fn file_range(&self, file: usize) -> std::ops::Range<u64> {
        let k = self.files.max(1) as u128;
        let n = self.records as u128;
        let lo = (file as u128 * n / k) as u64;
        let hi = ((file as u128 + 1) * n / k) as u64;
        lo..hi
    }
}

/// What [`write_tweets`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSummary {
    /// Tweets written.
    pub records: u64,
    /// The files, in order (`tweets-00000.jsonl`, …).
    pub files: Vec<PathBuf>,
    /// Bytes written in total.
    pub bytes: u64,
    /// Smallest `ts` written (`i64::MAX` when none).
    pub min_ts: i64,
    /// Largest `ts` written (`i64::MIN` when none).
    pub max_ts: i64,
}

/// The name of file `i` of a run: `tweets-00000.jsonl`, …
pub fn file_name(i: usize) -> String {
    format!("tweets-{i:05}.jsonl")
}

/// Writes `cfg.records` tweets into `cfg.files` files under `out_dir`
/// (created if missing). File `i` holds the `i`-th consecutive slice of the
/// records (see [`TweetConfig::file_range`]), one JSON object per line.
pub fn write_tweets(cfg: &TweetConfig, out_dir: &Path) -> std::io::Result<GenSummary> {
    if cfg.files == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "files must be at least 1",
        ));
    }
    std::fs::create_dir_all(out_dir)?;
    let mut gen = TweetGenerator::new(cfg);
    let mut summary = GenSummary {
        records: 0,
        files: Vec::with_capacity(cfg.files),
        bytes: 0,
        min_ts: i64::MAX,
        max_ts: i64::MIN,
    };
    const CHUNK: usize = 1 << 20;
    let mut buf = String::with_capacity(CHUNK + 4096);
    for i in 0..cfg.files {
        let path = out_dir.join(file_name(i));
        let mut file = File::create(&path)?;
        for _ in cfg.file_range(i) {
            gen.next_line(&mut buf);
            buf.push('\n');
            summary.min_ts = summary.min_ts.min(gen.last_ts());
            summary.max_ts = summary.max_ts.max(gen.last_ts());
            if buf.len() >= CHUNK {
                file.write_all(buf.as_bytes())?;
                summary.bytes += buf.len() as u64;
                buf.clear();
            }
        }
        file.write_all(buf.as_bytes())?;
        summary.bytes += buf.len() as u64;
        buf.clear();
        file.flush()?;
        summary.records += cfg.file_range(i).end - cfg.file_range(i).start;
        summary.files.push(path);
    }
    Ok(summary)
}

/// How a word is capitalised in a text.
#[derive(Clone, Copy)]
enum Case {
    Lower,
    Capital,
    Upper,
}

/// An endless, deterministic stream of tweets as JSON lines.
///
/// Record `i` (counting from 0 at construction) has id [`FIRST_ID`]` + i`.
/// [`write_tweets`] stops after `records`; the generator itself does not.
pub struct TweetGenerator {
    rng: Rng,
    index: u64,
    start_ms: i64,
    ms_per_record: f64,
    max_disorder_ms: u64,
    null_country: f64,
    last_ts: i64,
    langs: Zipf,
    lang_country: Vec<Zipf>,
    countries: Zipf,
    users: Zipf,
    words: Vec<String>,
    is_name: Vec<bool>,
    word_zipf: Zipf,
    tags: Vec<String>,
    tag_zipf: Zipf,
    tag_count: Zipf,
    phrases: Zipf,
    specials: Vec<String>,
    chosen_tags: [usize; 3],
}

impl TweetGenerator {
    /// A generator at record 0 of `cfg` (only `seed`, `start_ms`,
    /// `rate_per_s`, `max_disorder_ms` and `null_country_fraction` matter).
    pub fn new(cfg: &TweetConfig) -> TweetGenerator {
        let words = vocab::vocabulary();
        let is_name = words
            .iter()
            .map(|w| vocab::NAMES.contains(&w.as_str()))
            .collect();
        TweetGenerator {
            rng: Rng::new(cfg.seed),
            index: 0,
            start_ms: cfg.start_ms,
            ms_per_record: 1000.0 / cfg.rate_per_s,
            max_disorder_ms: cfg.max_disorder_ms,
            null_country: cfg.null_country_fraction,
            last_ts: cfg.start_ms,
            langs: Zipf::from_weights(vocab::LANGS.iter().map(|&(_, w)| w)),
            lang_country: vocab::LANGS
                .iter()
                .map(|(l, _)| Zipf::new(vocab::lang_countries(l).len(), 0))
                .collect(),
            countries: Zipf::new(vocab::COUNTRIES.len(), 1),
            users: Zipf::new(vocab::USER_COUNT as usize, 3),
            word_zipf: Zipf::new(words.len(), 0),
            words,
            is_name,
            tags: vocab::hashtags(),
            tag_zipf: Zipf::new(vocab::HASHTAG_COUNT, 1),
            tag_count: Zipf::from_weights([55, 30, 10, 5]),
            phrases: Zipf::new(vocab::PHRASES.len(), 2),
            specials: vocab::SPECIALS
                .iter()
                .map(|s| {
                    let mut e = String::new();
                    escape_json_into(s, &mut e);
                    e
                })
                .collect(),
            chosen_tags: [0; 3],
        }
    }

    /// Index of the next record (number generated so far).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The `ts` of the record generated last (the start time before any).
    pub fn last_ts(&self) -> i64 {
        self.last_ts
    }

    /// Appends the next tweet to `buf` as one JSON object, without a newline.
    pub fn next_line(&mut self, buf: &mut String) {
        let i = self.index;
        self.index += 1;
        let nominal = self.start_ms + (i as f64 * self.ms_per_record) as i64;
        let ts = nominal - self.rng.below(self.max_disorder_ms + 1) as i64;
        self.last_ts = ts;

        buf.push_str("{\"ts\":");
        push_i64(buf, ts);
        buf.push_str(",\"id\":");
        push_i64(buf, FIRST_ID + i as i64);

        let user = self.user_number();
        buf.push_str(",\"user\":\"user_");
        push_u64(buf, user);

        let lang = self.langs.sample(&mut self.rng);
        buf.push_str("\",\"lang\":\"");
        buf.push_str(vocab::LANGS[lang].0);
        buf.push_str("\",\"country\":");
        if self.rng.chance(self.null_country) {
            buf.push_str("null");
        } else {
            let country = if self.rng.per_mille(750) {
                let list = vocab::lang_countries(vocab::LANGS[lang].0);
                list[self.lang_country[lang].sample(&mut self.rng)]
            } else {
                vocab::COUNTRIES[self.countries.sample(&mut self.rng)]
            };
            buf.push('"');
            buf.push_str(country);
            buf.push('"');
        }

        // Hashtags first: the text may repeat them as #tags.
        let ntags = self.tag_count.sample(&mut self.rng);
        let mut have = 0;
        for _ in 0..ntags {
            let t = self.tag_zipf.sample(&mut self.rng);
            if !self.chosen_tags[..have].contains(&t) {
                self.chosen_tags[have] = t;
                have += 1;
            }
        }

        buf.push_str(",\"text\":\"");
        self.text(buf, have);

        buf.push_str("\",\"hashtags\":[");
        for (k, &t) in self.chosen_tags[..have].iter().enumerate() {
            if k > 0 {
                buf.push(',');
            }
            buf.push('"');
            buf.push_str(&self.tags[t]);
            buf.push('"');
        }
        buf.push_str("],\"retweets\":");
        let retweets = if self.rng.per_mille(550) {
            0
        } else {
            let g = self.rng.geometric(24);
            self.rng.below(3u64 << g)
        };
        push_u64(buf, retweets);
        buf.push_str(",\"followers\":");
        push_u64(buf, followers_of(user));
        buf.push('}');
    }

    /// A Zipf-chosen user number; ranks are scattered over the numbers so the
    /// popular users are not simply `user_0`, `user_1`, …
    fn user_number(&mut self) -> u64 {
        let rank = self.users.sample(&mut self.rng) as u64;
        (rank * 7919 + 4243) % vocab::USER_COUNT
    }

    /// Writes the (already JSON-safe) text of a tweet with `ntags` hashtags.
    fn text(&mut self, buf: &mut String, ntags: usize) {
        let start = buf.len();
        let r = self.rng.below(100);
        if r < 12 {
            buf.push_str("RT @user_");
            let u = self.user_number();
            push_u64(buf, u);
            buf.push_str(": ");
        } else if r < 22 {
            buf.push_str("@user_");
            let u = self.user_number();
            push_u64(buf, u);
            buf.push(' ');
        }
        let nwords = self.rng.range_inclusive(8, 25);
        let phrase_at = if self.rng.per_mille(80) {
            self.rng.below(nwords)
        } else {
            u64::MAX
        };
        let special_at = if self.rng.per_mille(20) {
            self.rng.below(nwords)
        } else {
            u64::MAX
        };
        for w in 0..nwords {
            if w > 0 {
                buf.push(' ');
            }
            if w == phrase_at {
                buf.push_str(vocab::PHRASES[self.phrases.sample(&mut self.rng)]);
                buf.push(' ');
            }
            if w == special_at {
                let s = self.rng.below(self.specials.len() as u64) as usize;
                buf.push_str(&self.specials[s]);
                buf.push(' ');
            }
            let k = self.word_zipf.sample(&mut self.rng);
            let case = if self.is_name[k] {
                match self.rng.below(10) {
                    0..=5 => Case::Capital,
                    6..=8 => Case::Lower,
                    _ => Case::Upper,
                }
            } else if w == 0 && buf.len() == start {
                if self.rng.per_mille(600) {
                    Case::Capital
                } else {
                    Case::Lower
                }
            } else {
                // 240/256 lower, 11/256 capitalised, 5/256 upper case.
                match self.rng.next_u64() >> 56 {
                    0..=239 => Case::Lower,
                    240..=250 => Case::Capital,
                    _ => Case::Upper,
                }
            };
            let word = &self.words[k];
            match case {
                Case::Lower => buf.push_str(word),
                Case::Capital => {
                    let mut chars = word.chars();
                    if let Some(c) = chars.next() {
                        buf.push(c.to_ascii_uppercase());
                    }
                    buf.push_str(chars.as_str());
                }
                Case::Upper => buf.extend(word.chars().map(|c| c.to_ascii_uppercase())),
            }
        }
        if ntags > 0 && self.rng.per_mille(500) {
            for &t in &self.chosen_tags[..ntags] {
                buf.push_str(" #");
                buf.push_str(&self.tags[t]);
            }
        }
        if self.rng.per_mille(100) {
            buf.push_str(" https://t.co/");
            const B62: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
            for _ in 0..10 {
                buf.push(B62[self.rng.below(62) as usize] as char);
            }
        }
    }
}

/// A user's follower count: heavy-tailed, fixed per user (a hash of the number).
pub fn followers_of(user: u64) -> u64 {
    let h = mix64(user ^ 0xF011_0E25);
    let g = (h.trailing_ones()).min(18);
    (h >> 24) % (60u64 << g)
}

/// Appends `s` to `out` as the inside of a JSON string: `"` and `\` are
/// backslash-escaped, control characters become `\n`, `\t`, … or `\u00XX`;
/// everything else (including non-ASCII) is copied as UTF-8.
pub fn escape_json_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// Appends the decimal digits of `n`.
#[inline]
fn push_u64(buf: &mut String, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &tmp[i..] {
        buf.push(d as char);
    }
}

/// Appends the decimal digits of `n`, with a `-` when negative.
#[inline]
fn push_i64(buf: &mut String, n: i64) {
    if n < 0 {
        buf.push('-');
    }
    push_u64(buf, n.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn lines(cfg: &TweetConfig, n: u64) -> String {
        let mut g = TweetGenerator::new(cfg);
        let mut out = String::new();
        for _ in 0..n {
            g.next_line(&mut out);
            out.push('\n');
        }
        out
    }

    fn tmp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("shoal-gen-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn same_seed_same_bytes_other_seed_differs() {
        let cfg = TweetConfig::default();
        let a = lines(&cfg, 2000);
        assert_eq!(a, lines(&cfg, 2000));
        let b = lines(
            &TweetConfig {
                seed: 43,
                ..cfg.clone()
            },
            2000,
        );
        assert_ne!(a, b);
    }

    #[test]
    fn every_line_is_valid_json_with_typed_fields() {
        let cfg = TweetConfig::default();
        let text = lines(&cfg, 20_000);
        let mut escaped = 0;
        let mut null_country = 0;
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let o = v.as_object().unwrap();
            assert_eq!(o.len(), 9, "{line}");
            let ts = o["ts"].as_i64().unwrap();
            let nominal = cfg.nominal_ts(i as u64);
            assert!(ts <= nominal && nominal - ts <= 2000, "{ts} vs {nominal}");
            assert_eq!(o["id"].as_i64().unwrap(), FIRST_ID + i as i64);
            let user = o["user"].as_str().unwrap();
            let n: u64 = user.strip_prefix("user_").unwrap().parse().unwrap();
            assert!(n < vocab::USER_COUNT);
            let lang = o["lang"].as_str().unwrap();
            assert!(vocab::LANGS.iter().any(|(l, _)| *l == lang));
            match &o["country"] {
                Value::Null => null_country += 1,
                Value::String(c) => assert!(vocab::COUNTRIES.contains(&c.as_str())),
                other => panic!("country {other}"),
            }
            let t = o["text"].as_str().unwrap();
            let words = t.split_whitespace().count();
            assert!(words >= 8, "{t}");
            if t.chars()
                .any(|c| !c.is_ascii() || c == '"' || c == '\\' || c.is_ascii_control())
            {
                escaped += 1;
            }
            let tags = o["hashtags"].as_array().unwrap();
            assert!(tags.len() <= 3);
            assert!(tags.iter().all(|t| t.as_str().is_some()));
            assert!(o["retweets"].as_u64().is_some());
            assert!(o["followers"].as_u64().is_some());
        }
        // About 1 in 50 texts need escaping or are non-ASCII.
        assert!((200..=800).contains(&escaped), "escaped {escaped}");
        assert!((300..=900).contains(&null_country), "null {null_country}");
    }

    #[test]
    fn disorder_is_present_and_bounded() {
        let cfg = TweetConfig::default();
        let mut g = TweetGenerator::new(&cfg);
        let mut buf = String::new();
        let mut max_seen = i64::MIN;
        let mut late = 0;
        for i in 0..10_000u64 {
            g.next_line(&mut buf);
            let ts = g.last_ts();
            let nominal = cfg.nominal_ts(i);
            assert!((0..=2000).contains(&(nominal - ts)));
            if ts < max_seen {
                late += 1;
            }
            max_seen = max_seen.max(ts);
        }
        assert!(late > 1000, "records out of order: {late}");
    }

    #[test]
    fn distribution_sanity_100k() {
        let cfg = TweetConfig {
            seed: 7,
            ..TweetConfig::default()
        };
        let text = lines(&cfg, 100_000);
        let (mut en, mut hillary, mut tags_total, mut rt_over_100) = (0u32, 0u32, 0u32, 0u32);
        let mut users = std::collections::HashSet::new();
        let mut case_forms = std::collections::HashSet::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["lang"] == "en" {
                en += 1;
            }
            let t = v["text"].as_str().unwrap();
            if t.to_lowercase().contains("hillary") {
                hillary += 1;
                for w in t.split(|c: char| !c.is_alphanumeric()) {
                    if w.eq_ignore_ascii_case("hillary") {
                        case_forms.insert(w.to_string());
                    }
                }
            }
            let n = v["hashtags"].as_array().unwrap().len();
            assert!(n <= 3);
            tags_total += n as u32;
            if v["retweets"].as_u64().unwrap() > 100 {
                rt_over_100 += 1;
            }
            users.insert(v["user"].as_str().unwrap().to_string());
        }
        let share = |x: u32| x as f64 / 100_000.0;
        assert!((0.35..=0.55).contains(&share(en)), "en {}", share(en));
        assert!(
            (0.01..=0.10).contains(&share(hillary)),
            "hillary {}",
            share(hillary)
        );
        assert!(case_forms.len() >= 3, "{case_forms:?}");
        assert!((0.4..=1.0).contains(&(tags_total as f64 / 100_000.0)));
        assert!(
            share(rt_over_100) < 0.05 && rt_over_100 > 0,
            "{rt_over_100}"
        );
        assert!(
            users.len() > 10_000 && users.len() < 100_000,
            "{}",
            users.len()
        );
    }

    #[test]
    fn files_split_in_time_order() {
        let cfg = TweetConfig {
            records: 10_001,
            files: 3,
            ..TweetConfig::default()
        };
        let dir = tmp_dir("split");
        let summary = write_tweets(&cfg, &dir).unwrap();
        assert_eq!(summary.records, 10_001);
        assert_eq!(summary.files.len(), 3);
        let whole = lines(&cfg, cfg.records);
        let mut joined = String::new();
        let mut bytes = 0;
        for (i, f) in summary.files.iter().enumerate() {
            assert_eq!(f.file_name().unwrap().to_str().unwrap(), file_name(i));
            let s = std::fs::read_to_string(f).unwrap();
            let r = cfg.file_range(i);
            assert_eq!(s.lines().count() as u64, r.end - r.start);
            let first: Value = serde_json::from_str(s.lines().next().unwrap()).unwrap();
            assert_eq!(first["id"].as_i64().unwrap(), FIRST_ID + r.start as i64);
            bytes += s.len() as u64;
            joined.push_str(&s);
        }
        assert_eq!(joined, whole);
        assert_eq!(bytes, summary.bytes);
        assert!(summary.min_ts >= cfg.start_ms - 2000 && summary.max_ts <= cfg.nominal_ts(10_000));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zero_files_is_an_error() {
        let cfg = TweetConfig {
            records: 10,
            files: 0,
            ..TweetConfig::default()
        };
        assert!(write_tweets(&cfg, &tmp_dir("zero")).is_err());
    }

    #[test]
    fn json_escaping_round_trips() {
        for s in vocab::SPECIALS.iter().copied().chain(["\u{1}x\r", "plain"]) {
            let mut e = String::from("\"");
            escape_json_into(s, &mut e);
            e.push('"');
            let back: String = serde_json::from_str(&e).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn integers_print_like_display() {
        for n in [0i64, 7, 10, 99, 1_477_958_400_000, -5, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_i64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    /// The committed sample must be exactly what the generator makes for
    /// [`TweetConfig::sample`]. Set `SHOAL_REGEN_SAMPLE=1` to rewrite it.
    #[test]
    fn committed_sample_is_reproducible() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/tweets");
        let cfg = TweetConfig::sample();
        if std::env::var_os("SHOAL_REGEN_SAMPLE").is_some() {
            write_tweets(&cfg, &dir).unwrap();
        }
        let committed = std::fs::read_to_string(dir.join(file_name(0))).unwrap();
        assert_eq!(committed, lines(&cfg, cfg.records));
    }
}
