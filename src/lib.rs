//! Shoal: a continuous-query engine that runs many standing SQL queries over
//! live data as one shared plan per stream.
//!
//! # Layout
//! - [`parser`]: statement text → syntax tree (nom), with spans for errors.
//! - [`diagnostic`]: errors that point at a line, column and token.
//! - [`value`]: field values, borrowed from input where possible.
//! - [`planner`]: the catalog, type checks, and the shared plan per stream.
//! - [`exec`]: decoding, predicate evaluation, aggregation state, windows.
//! - [`watch`]: sources that feed records in.
//! - [`server`]: `shoal serve`: HTTP API, websocket feeds, live sources.
//! - [`repl`]: `shoal repl`: an interactive client of the server.
//! - [`store`]: the embedded SQLite store: catalog, result history, checkpoints.
//! - [`gen`]: deterministic generators of realistic data and queries.

#![warn(missing_docs)]

pub mod bench;
pub mod bench_live;
pub mod diagnostic;
pub mod exec;
pub mod gen;
pub mod parser;
pub mod planner;
pub mod repl;
pub mod run;
pub mod server;
pub mod store;
pub mod value;
pub mod value_map;
pub mod watch;
