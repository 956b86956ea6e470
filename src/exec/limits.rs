//! Engine-wide limits: bounds that turn hostile or runaway input into clear
//! errors instead of exhausted memory.
//!
//! | Limit | On reaching it |
//! |---|---|
//! | [`Limits::max_queries`] | `CREATE QUERY` fails with an [`ErrorKind::Limit`](super::ErrorKind::Limit) error |
//! | [`Limits::max_regex_bytes`] | `CREATE QUERY` fails: the `MATCHES` patterns of one field would compile to a larger automaton |
//! | [`Limits::max_groups_per_state`] | the state creates no new group; updates that would need one are dropped and counted, and the queries reading the state report an error status |
//!
//! Other limits live where the input is read: a stream's `max_line` option
//! (longest accepted line, [`crate::planner::catalog::DEFAULT_MAX_LINE`]), the
//! JSON nesting depth ([`super::decode::MAX_DEPTH`]) and the parser's
//! expression depth ([`crate::parser::MAX_DEPTH`]); the server adds its own
//! (request body size, websocket subscribers).

/// Default for [`Limits::max_queries`].
pub const DEFAULT_MAX_QUERIES: usize = 10_000;

/// Default for [`Limits::max_groups_per_state`].
pub const DEFAULT_MAX_GROUPS_PER_STATE: usize = 1_000_000;

/// Default for [`Limits::max_regex_bytes`]: regex-automata's own default NFA
/// size limit.
pub const DEFAULT_MAX_REGEX_BYTES: usize = 10 << 20;

/// Bounds the engine enforces. Set them with
/// [`Engine::with_limits`](super::Engine::with_limits) or
/// [`Engine::set_limits`](super::Engine::set_limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Queries registered over all streams.
    pub max_queries: usize,
    /// Groups one aggregation state may hold, over all its panes. A state is
    /// shared by the queries with the same filter, keys and panes.
    pub max_groups_per_state: usize,
    /// Bytes of the compiled automaton (the Thompson NFA, forward and
    /// reverse, each bounded) of all `MATCHES` patterns on one field of a
    /// stream, which are compiled together into one multi-pattern regex.
    pub max_regex_bytes: usize,
}

impl Limits {
    /// Limits for one-shot runs over files the user provides (`shoal run`):
    /// no query or group limit, since results must be complete and the run
    /// ends; the regex limit stays, as compiling beyond it would take too
    /// long to be useful anyway.
    pub fn batch() -> Limits {
        Limits {
            max_queries: usize::MAX,
            max_groups_per_state: usize::MAX,
            ..Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_queries: DEFAULT_MAX_QUERIES,
            max_groups_per_state: DEFAULT_MAX_GROUPS_PER_STATE,
            max_regex_bytes: DEFAULT_MAX_REGEX_BYTES,
        }
    }
}
