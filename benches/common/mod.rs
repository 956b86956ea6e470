//! What several benches share: generated tweets.

use shoal::gen::{TweetConfig, TweetGenerator};

/// The string field `field` (such as `text` or `user`) of the first `n`
/// tweets the generator makes with its default settings.
pub fn tweet_strings(n: u64, field: &str) -> Vec<String> {
    let mut generator = TweetGenerator::new(&TweetConfig {
        records: n,
        ..TweetConfig::default()
    });
    let mut line = String::new();
    (0..n)
        .map(|_| {
            line.clear();
            generator.next_line(&mut line);
            let v: serde_json::Value = serde_json::from_str(&line).expect("a tweet is JSON");
            v[field]
                .as_str()
                .expect("a tweet has the field")
                .to_string()
        })
        .collect()
}
