//! `shoal serve --demo`: a generator feeding a `tweets` stream in real time,
//! and a few example queries, so that a newcomer sees live results at once.

use super::hub::{now_ms, HubHandle};
use crate::gen::tweets::{TweetConfig, TweetGenerator};
use crate::watch::Chunk;
use std::sync::Arc;
use std::time::Duration;

/// The demo's stream and queries.
pub const DEMO_SQL: &str = "\
CREATE STREAM tweets (ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT)
  WITH (source = 'http', format = 'json', event_time = 'ts', watermark = '2s');

-- English tweets about Hillary per country, over the last 30 s, every 10 s.
CREATE QUERY en_by_country AS
  SELECT country, count(*) AS n, avg(retweets) AS avg_rt
  FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country
  WINDOW SLIDING 30s EVERY 10s;

-- Trending hashtags: the top 10 every 10 s, with progress every second.
CREATE QUERY trending_tags AS
  SELECT hashtags, count(*) AS n
  FROM tweets
  GROUP BY hashtags
  WINDOW TUMBLING 10s
  ORDER BY n DESC LIMIT 10
  EMIT EVERY 1s;

-- Tweets per language, running totals pushed as they change.
CREATE QUERY by_lang AS
  SELECT lang, count(*) AS n, sum(retweets) AS rts
  FROM tweets
  GROUP BY lang;

-- A filter: popular accounts tweeting about the FBI, as they arrive.
CREATE QUERY fbi_from_big_accounts AS
  SELECT id, user, followers, text
  FROM tweets
  WHERE text CONTAINS 'fbi' AND followers >= 100;
";

/// How often the generator sends a batch.
const PERIOD: Duration = Duration::from_millis(20);

/// Feeds `tweets` with `rate` generated tweets per second, stamped with the
/// current time, until the hub goes away.
pub async fn run(hub: HubHandle, rate: f64) {
    let cfg = TweetConfig {
        records: u64::MAX,
        start_ms: now_ms(),
        rate_per_s: rate,
        max_disorder_ms: 500,
        ..TweetConfig::default()
    };
    let mut gen = TweetGenerator::new(&cfg);
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(PERIOD);
    let stream: Arc<str> = Arc::from("tweets");
    let source: Arc<str> = Arc::from("demo generator");
    let mut line = String::new();
    loop {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        let mut data = Vec::new();
        while gen.index() < due {
            line.clear();
            gen.next_line(&mut line);
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
        }
        if data.is_empty() {
            continue;
        }
        let chunk = Chunk {
            stream: stream.clone(),
            source: source.clone(),
            origin_id: super::hub::DEMO_ORIGIN,
            data,
            reset: false,
            end: false,
            position: None,
            arrival_ms: now_ms(),
        };
        if hub.chunks.send(chunk).await.is_err() {
            return;
        }
    }
}
