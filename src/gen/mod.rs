//! Deterministic generators of realistic data and standing queries, for
//! examples, tests and benchmarks.
//!
//! - [`tweets`]: election-season tweets as JSON lines ([`TweetGenerator`],
//!   [`write_tweets`]).
//! - [`queries`]: a `CREATE STREAM` plus many overlapping `CREATE QUERY`
//!   statements over those tweets ([`generate_queries`]).
//! - [`ascp`]: Aspera `ascp` transfer logs (sessions whose statistics
//!   evolve) and standing queries over them ([`write_ascp`],
//!   [`generate_ascp_queries`]).
//! - [`rng`]: the PRNG and Zipf sampler both use.
//! - [`vocab`]: the fixed word, hashtag, language and country lists both use.
//!
//! # Determinism
//! Output depends only on the configuration. The PRNG is a hand-written
//! xoshiro256** seeded through SplitMix64 (no `rand` dependency), and every
//! sample is decided by integer arithmetic (Lemire's bounded integers, Zipf
//! by binary search over cumulative integer weights), so a seed gives the
//! same bytes on every platform, build and run.
//!
//! The vocabularies do not depend on the seed, so queries from any seed
//! refer to terms that tweets from any seed contain.
//!
//! # The committed sample
//! `examples/data/tweets/tweets-00000.jsonl` holds [`TweetConfig::sample`]
//! (2,000 tweets, seed 42, 20 tweets/s). A unit test checks it byte for byte;
//! `SHOAL_REGEN_SAMPLE=1 cargo test committed_sample` rewrites it.

pub mod ascp;
pub mod queries;
pub mod rng;
pub mod tweets;
pub mod vocab;

pub use ascp::{generate_ascp_queries, write_ascp, AscpConfig, AscpGenerator, AscpSummary};
pub use queries::{generate_queries, QueryConfig};
pub use rng::{Rng, Zipf};
pub use tweets::{write_tweets, GenSummary, TweetConfig, TweetGenerator};
