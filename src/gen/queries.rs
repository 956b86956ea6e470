//! Deterministic sets of overlapping standing queries over the tweet stream.
//!
//! [`generate_queries`] returns SQL text: one `CREATE STREAM` for the tweets
//! written by [`super::tweets`], then `count` `CREATE QUERY` statements named
//! `q0001`, `q0002`, … (zero-padded to at least four digits). Queries are
//! drawn from templates whose parts repeat across queries, the way many
//! users' standing questions overlap:
//!
//! - `WHERE`: a conjunction of a language filter from a small set, a term
//!   filter (`text CONTAINS`, Zipf over election terms so popular ones
//!   repeat, sometimes an `OR` of two), `hashtags CONTAINS`, a few
//!   `text MATCHES` regexes, `retweets`/`followers` thresholds,
//!   `country IN (…)`, `IS NOT NULL`, `NOT …`. About one query in five
//!   reuses an earlier query's whole `WHERE` with a different shape.
//! - Group key from {country, lang, user, hashtags, none}; window from
//!   {TUMBLING 10s, TUMBLING 1m, SLIDING 30s EVERY 10s, SLIDING 1m EVERY 10s,
//!   none}; `count(*) AS n` plus up to two of `count(DISTINCT user)`,
//!   `sum(retweets)`, `avg(followers)`, `max(retweets)`; some `HAVING`, some
//!   `ORDER BY n DESC LIMIT k`.
//! - About 10% are filters: `SELECT id, user, text …` with a selective predicate.
//!
//! Clauses are written in canonical order (`SELECT … FROM … WHERE … GROUP BY
//! … HAVING … WINDOW … ORDER BY … LIMIT …`). No literal contains `;`, so
//! statements can be split on it.

use std::fmt::Write as _;

use super::rng::{Rng, Zipf};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryConfig {
    /// Number of `CREATE QUERY` statements (1 to 10,000 is the intended range).
    pub count: usize,
    /// The PRNG seed: same seed, same text.
    pub seed: u64,
    /// The stream's name, e.g. `tweets`.
    pub stream: String,
    /// The directory the stream reads, written as `source = 'dir:<source_dir>'`.
    pub source_dir: String,
}

impl Default for QueryConfig {
    /// 100 queries, seed 42, over stream `tweets` from `examples/data/tweets`.
    fn default() -> QueryConfig {
        QueryConfig {
            count: 100,
            seed: 42,
            stream: "tweets".to_string(),
            source_dir: "examples/data/tweets".to_string(),
        }
    }
}

/// The tweet stream's columns, as written in `CREATE STREAM`.
pub const TWEET_COLUMNS: &str = "ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, \
     text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT";

/// The `CREATE STREAM` statement (with `;`) for tweets in `source_dir`.
pub fn create_stream_sql(stream: &str, source_dir: &str) -> String {
    format!(
        "CREATE STREAM {stream} ({TWEET_COLUMNS})\n  WITH (source = {}, format = 'json', \
         event_time = 'ts', watermark = '5s');\n",
        quote(&format!("dir:{source_dir}"))
    )
}

/// `s` as a single-quoted SQL literal (`'` doubled; backslashes literal).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Language filters, most popular first.
const LANG_FILTERS: &[&str] = &[
    "lang = 'en'",
    "lang = 'es'",
    "lang IN ('es', 'pt')",
    "lang = 'pt'",
    "lang = 'ja'",
    "lang IN ('en', 'fr', 'de')",
    "lang != 'en'",
    "lang = 'ar'",
    "lang NOT IN ('en', 'es')",
    "lang = 'fr'",
];

/// Terms searched for in `text`, most popular first (all in the tweet
/// vocabulary or phrases, see [`super::vocab`]).
const TERMS: &[&str] = &[
    "hillary",
    "trump",
    "debate",
    "clinton",
    "election",
    "vote",
    "obama",
    "bernie",
    "emails",
    "fbi",
    "economy",
    "president",
    "polls",
    "rigged",
    "wall",
    "jobs",
    "pence",
    "kaine",
    "russia",
    "comey",
    "wikileaks",
    "obamacare",
    "immigration",
    "tax",
    "florida",
    "ohio",
    "deplorables",
    "nasty woman",
    "i'm with her",
    "drain the swamp",
    "make america great again",
    "climate",
    "guns",
    "supreme court",
    "isis",
];

/// Hashtags used in `hashtags CONTAINS`, most popular first.
const TAGS: &[&str] = &[
    "debate",
    "election2016",
    "maga",
    "imwithher",
    "trump",
    "hillary",
    "electionnight",
    "vote",
    "debates2016",
    "nevertrump",
    "crookedhillary",
    "feelthebern",
    "draintheswamp",
    "podestaemails",
    "nastywoman",
];

/// Regexes for `text MATCHES` (regex-automata syntax, written as-is).
const REGEXES: &[&str] = &[
    r"(?i)vote\s+for",
    r"(?i)\bhillary\b",
    r"(?i)(trump|clinton)\s+\w+",
    r"(?i)lock\s+her\s+up",
    r"#\w+2016",
    r"^RT @user_\d+:",
    r"https://t\.co/\w+",
    r"(?i)\b(polls?|rigged)\b",
];

/// Country lists used in `country IN (…)` / `country = …`.
const COUNTRY_FILTERS: &[&str] = &[
    "country = 'US'",
    "country IN ('US', 'CA')",
    "country IN ('GB', 'IE')",
    "country = 'BR'",
    "country IN ('MX', 'AR', 'CO', 'CL')",
    "country IN ('FR', 'DE', 'IT', 'ES')",
    "country NOT IN ('US')",
    "country = 'JP'",
];

/// Group keys; `None` is a single global group.
const GROUP_KEYS: &[(Option<&str>, u64)] = &[
    (Some("country"), 30),
    (None, 28),
    (Some("hashtags"), 16),
    (Some("lang"), 14),
    (Some("user"), 12),
];

/// Windows; `None` is running totals.
const WINDOWS: &[(Option<&str>, u64)] = &[
    (Some("TUMBLING 10s"), 25),
    (Some("SLIDING 30s EVERY 10s"), 22),
    (Some("TUMBLING 1m"), 20),
    (Some("SLIDING 1m EVERY 10s"), 15),
    (None, 18),
];

/// Extra aggregates beyond `count(*) AS n`, with output names.
const EXTRA_AGGS: &[(&str, &str)] = &[
    ("count(DISTINCT user)", "users"),
    ("sum(retweets)", "rts"),
    ("avg(followers)", "avg_followers"),
    ("max(retweets)", "max_rt"),
];

/// Select lists of filter queries.
const FILTER_COLUMNS: &[&str] = &[
    "id, user, text",
    "id, user, text",
    "id, user, lang, text",
    "ts, user, text, hashtags",
    "id, user, country, retweets",
];

struct QueryGen {
    rng: Rng,
    stream: String,
    langs: Zipf,
    terms: Zipf,
    tags: Zipf,
    group_keys: Zipf,
    windows: Zipf,
    /// Earlier `WHERE` clauses, and whether each filters on a term, tag or regex.
    wheres: Vec<(String, bool)>,
}

impl QueryGen {
    fn new(cfg: &QueryConfig) -> QueryGen {
        QueryGen {
            rng: Rng::new(cfg.seed ^ 0x0051_7E4E_0000_0001),
            stream: cfg.stream.clone(),
            langs: Zipf::new(LANG_FILTERS.len(), 1),
            terms: Zipf::new(TERMS.len(), 1),
            tags: Zipf::new(TAGS.len(), 1),
            group_keys: Zipf::from_weights(GROUP_KEYS.iter().map(|&(_, w)| w)),
            windows: Zipf::from_weights(WINDOWS.iter().map(|&(_, w)| w)),
            wheres: Vec::new(),
        }
    }

    fn term(&mut self) -> String {
        format!(
            "text CONTAINS {}",
            quote(TERMS[self.terms.sample(&mut self.rng)])
        )
    }

    /// A conjunction of filter atoms; `selective` makes sure a term, tag or
    /// regex filter is among them.
    fn predicate(&mut self, selective: bool) -> Option<(String, bool)> {
        let mut atoms: Vec<String> = Vec::new();
        if self.rng.per_mille(600) {
            atoms.push(LANG_FILTERS[self.langs.sample(&mut self.rng)].to_string());
        }
        let mut narrow = false;
        if self.rng.per_mille(750) {
            narrow = true;
            if self.rng.per_mille(120) {
                let (a, b) = (self.term(), self.term());
                if a != b {
                    atoms.push(format!("({a} OR {b})"));
                } else {
                    atoms.push(a);
                }
            } else {
                let t = self.term();
                atoms.push(t);
            }
        }
        if self.rng.per_mille(200) {
            narrow = true;
            let tag = TAGS[self.tags.sample(&mut self.rng)];
            atoms.push(format!("hashtags CONTAINS {}", quote(tag)));
        }
        if self.rng.per_mille(50) || (selective && !narrow) {
            narrow = true;
            let re = *self.rng.pick(REGEXES);
            atoms.push(format!("text MATCHES {}", quote(re)));
        }
        if self.rng.per_mille(150) {
            let t = *self.rng.pick(&[10u32, 50, 100, 100, 1000]);
            atoms.push(format!("retweets > {t}"));
        }
        if self.rng.per_mille(60) {
            let f = *self.rng.pick(&[1000u32, 10_000, 100_000]);
            atoms.push(format!("followers >= {f}"));
        }
        if self.rng.per_mille(200) {
            atoms.push(self.rng.pick(COUNTRY_FILTERS).to_string());
        }
        if self.rng.per_mille(30) {
            atoms.push("country IS NOT NULL".to_string());
        }
        if self.rng.per_mille(40) {
            let tag = TAGS[self.tags.sample(&mut self.rng)];
            atoms.push(format!("NOT hashtags CONTAINS {}", quote(tag)));
        }
        // Most queries are selective: a bare language filter gets a term too.
        if !narrow && !atoms.is_empty() && self.rng.per_mille(700) {
            narrow = true;
            let t = self.term();
            atoms.push(t);
        }
        if atoms.is_empty() {
            None
        } else {
            Some((atoms.join(" AND "), narrow))
        }
    }

    fn where_clause(&mut self, selective: bool) -> Option<String> {
        if !self.wheres.is_empty() && self.rng.per_mille(200) {
            let (w, narrow) = self.rng.pick(&self.wheres).clone();
            if !selective || narrow {
                return Some(w);
            }
        }
        let (w, narrow) = self.predicate(selective)?;
        self.wheres.push((w.clone(), narrow));
        Some(w)
    }

    fn query(&mut self, name: &str, out: &mut String) {
        let filter = self.rng.per_mille(100);
        let _ = writeln!(out, "CREATE QUERY {name} AS");
        if filter {
            let cols = *self.rng.pick(FILTER_COLUMNS);
            let w = self.where_clause(true).expect("selective predicate");
            let _ = write!(out, "  SELECT {cols}\n  FROM {}\n  WHERE {w}", self.stream);
            out.push_str(";\n");
            return;
        }
        let key = GROUP_KEYS[self.group_keys.sample(&mut self.rng)].0;
        let window = WINDOWS[self.windows.sample(&mut self.rng)].0;
        let mut items: Vec<String> = Vec::new();
        if let Some(k) = key {
            items.push(k.to_string());
        }
        items.push("count(*) AS n".to_string());
        let extras = self.rng.below(3);
        let mut used: Vec<usize> = Vec::new();
        for _ in 0..extras {
            let e = self.rng.below(EXTRA_AGGS.len() as u64) as usize;
            if !used.contains(&e) {
                used.push(e);
                let (agg, alias) = EXTRA_AGGS[e];
                items.push(format!("{agg} AS {alias}"));
            }
        }
        let _ = write!(out, "  SELECT {}\n  FROM {}", items.join(", "), self.stream);
        if let Some(w) = self.where_clause(false) {
            let _ = write!(out, "\n  WHERE {w}");
        }
        if let Some(k) = key {
            let _ = write!(out, "\n  GROUP BY {k}");
            if self.rng.per_mille(180) {
                let h = if used.contains(&0) && self.rng.per_mille(400) {
                    format!("users >= {}", self.rng.pick(&[2u32, 3, 5]))
                } else {
                    format!("n >= {}", self.rng.pick(&[2u32, 5, 10, 50, 100]))
                };
                let _ = write!(out, "\n  HAVING {h}");
            }
        }
        if let Some(w) = window {
            let _ = write!(out, "\n  WINDOW {w}");
        }
        if key.is_some() && self.rng.per_mille(350) {
            let k = *self.rng.pick(&[10u32, 10, 10, 5, 20]);
            let _ = write!(out, "\n  ORDER BY n DESC LIMIT {k}");
        }
        out.push_str(";\n");
    }
}

/// SQL text: the `CREATE STREAM` for `cfg.stream` reading
/// `dir:<cfg.source_dir>`, then `cfg.count` `CREATE QUERY` statements
/// separated by blank lines. Same config, same text.
pub fn generate_queries(cfg: &QueryConfig) -> String {
    let mut out = create_stream_sql(&cfg.stream, &cfg.source_dir);
    let width = cfg.count.to_string().len().max(4);
    let mut g = QueryGen::new(cfg);
    for i in 1..=cfg.count {
        out.push('\n');
        g.query(&format!("q{i:0width$}"), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(count: usize, seed: u64) -> QueryConfig {
        QueryConfig {
            count,
            seed,
            ..QueryConfig::default()
        }
    }

    /// The statements, split on `;` (no literal contains one).
    fn statements(sql: &str) -> Vec<&str> {
        let trimmed = sql.trim_end();
        assert!(trimmed.ends_with(';'), "text must end with ;");
        trimmed[..trimmed.len() - 1]
            .split(';')
            .map(str::trim)
            .collect()
    }

    #[test]
    fn deterministic_per_seed() {
        let a = generate_queries(&cfg(300, 1));
        assert_eq!(a, generate_queries(&cfg(300, 1)));
        assert_ne!(a, generate_queries(&cfg(300, 2)));
    }

    #[test]
    fn shape_count_and_unique_names() {
        for n in [1usize, 7, 1000, 10_000] {
            let sql = generate_queries(&cfg(n, 42));
            assert!(sql.starts_with("CREATE STREAM tweets ("));
            assert!(sql.contains("source = 'dir:examples/data/tweets'"));
            let stmts = statements(&sql);
            assert_eq!(stmts.len(), n + 1);
            assert!(stmts[0].starts_with("CREATE STREAM"));
            let mut names = std::collections::HashSet::new();
            for s in &stmts[1..] {
                assert!(s.starts_with("CREATE QUERY q"), "{s}");
                assert!(
                    s.contains("\n  SELECT ") && s.contains("\n  FROM tweets"),
                    "{s}"
                );
                let name = s.split_whitespace().nth(2).unwrap();
                assert!(names.insert(name.to_string()), "duplicate {name}");
            }
            assert_eq!(sql.matches("CREATE QUERY ").count(), n);
            assert!(names.contains(&format!("q{:0w$}", n, w = n.to_string().len().max(4))));
        }
    }

    #[test]
    fn first_name_is_q0001() {
        let sql = generate_queries(&cfg(3, 0));
        assert!(sql.contains("CREATE QUERY q0001 AS"));
        assert!(sql.contains("CREATE QUERY q0003 AS"));
    }

    #[test]
    fn mix_of_features_and_overlap() {
        let sql = generate_queries(&cfg(2000, 42));
        let stmts = statements(&sql);
        let queries = &stmts[1..];
        let filters = queries.iter().filter(|q| !q.contains("count(")).count();
        assert!((100..=320).contains(&filters), "filters {filters}");
        for needle in [
            "WINDOW TUMBLING 10s",
            "WINDOW TUMBLING 1m",
            "WINDOW SLIDING 30s EVERY 10s",
            "WINDOW SLIDING 1m EVERY 10s",
            "GROUP BY country",
            "GROUP BY lang",
            "GROUP BY user",
            "GROUP BY hashtags",
            "count(DISTINCT user)",
            "sum(retweets)",
            "avg(followers)",
            "max(retweets)",
            "HAVING ",
            "ORDER BY n DESC LIMIT 10",
            "text MATCHES '(?i)vote\\s+for'",
            "hashtags CONTAINS 'debate'",
            "country IN (",
            "retweets > 100",
            "text CONTAINS 'i''m with her'",
            " OR ",
        ] {
            assert!(sql.contains(needle), "missing {needle}");
        }
        // Running totals: aggregates without a window.
        assert!(queries
            .iter()
            .any(|q| q.contains("count(") && !q.contains("WINDOW")));
        // Popular terms repeat across many queries.
        let hillary = sql.matches("text CONTAINS 'hillary'").count();
        assert!(hillary > 100, "hillary {hillary}");
        // Most queries are selective: they filter on a term, tag or regex.
        let selective = queries
            .iter()
            .filter(|q| q.contains("CONTAINS") || q.contains("MATCHES"))
            .count();
        assert!(selective * 10 > queries.len() * 7, "selective {selective}");
        // Whole WHERE clauses are shared between queries.
        let mut wheres = std::collections::HashMap::new();
        for q in queries {
            if let Some(w) = q.split("\n  WHERE ").nth(1) {
                let w = w.split("\n  ").next().unwrap();
                *wheres.entry(w).or_insert(0) += 1;
            }
        }
        assert!(wheres.values().filter(|&&c| c > 1).count() > 50);
    }

    #[test]
    fn filter_queries_are_selective() {
        let sql = generate_queries(&cfg(1000, 5));
        for q in &statements(&sql)[1..] {
            if !q.contains("count(") {
                assert!(q.contains("WHERE"), "{q}");
                assert!(q.contains("CONTAINS") || q.contains("MATCHES"), "{q}");
                assert!(!q.contains("GROUP BY") && !q.contains("WINDOW"), "{q}");
            }
        }
    }

    #[test]
    fn quote_doubles_single_quotes() {
        assert_eq!(quote("i'm"), "'i''m'");
        assert_eq!(quote(r"a\b"), r"'a\b'");
    }

    #[test]
    fn example_files_are_well_formed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for (file, n) in [("tweets.sql", 6), ("overlap.sql", 20)] {
            let sql = std::fs::read_to_string(dir.join(file)).unwrap();
            let code: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            let stmts = statements(&code);
            assert_eq!(stmts.len(), n + 1, "{file}");
            assert!(stmts[0].starts_with("CREATE STREAM tweets"), "{file}");
            assert!(stmts[0].contains("'dir:examples/data/tweets'"), "{file}");
            assert!(
                stmts[1..].iter().all(|s| s.starts_with("CREATE QUERY ")),
                "{file}"
            );
        }
    }
}
