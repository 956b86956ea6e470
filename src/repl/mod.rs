//! `shoal repl`: an interactive client of a running `shoal serve`.
//!
//! - [`input`]: cutting text into statements and meta-commands.
//! - [`client`]: the HTTP API and the `/v1/live` websocket.
//! - [`meta`]: the `\` commands.
//! - [`table`], [`report`], [`term`]: text tables, messages with carets,
//!   colours and the terminal.

pub mod client;
pub mod input;
pub mod meta;
pub mod report;
pub mod table;
pub mod term;
