//! Execution: turning input records into values and running the shared plan
//! over them.
//!
//! - [`decode`]: JSON-lines and CSV record decoders, and typing of declared
//!   columns.

pub mod decode;
