//! The planner: checks statements against the catalog and merges every
//! standing query of a stream into one shared plan.
//!
//! - [`catalog`]: stream definitions.
//! - [`query`]: a parsed query resolved and type-checked into a [`QuerySpec`].
//! - [`predicate`]: normalized predicates, so equal meanings hash equal.
//! - [`graph`]: the hash-consed predicate DAG with per-field hash indexes and
//!   multi-pattern scanners.
//! - [`prefilter`]: the literals a regex needs, which let most texts skip
//!   the regex search.
//! - [`plan`]: the shared plan (fields, predicates, group keys, aggregation
//!   states) and the rule for sharing state.
//! - [`explain`]: the plan as text.

pub mod catalog;
pub mod describe;
pub mod explain;
pub mod graph;
pub mod literals;
pub mod plan;
pub mod predicate;
pub mod prefilter;
pub mod query;

pub use catalog::{Format, StreamDef};
pub use plan::{AccInput, PlanState, StateDesc, StateId, StreamPlan};
pub use predicate::{Atom, Pred, Truth};
pub use query::{AggSpec, QueryKind, QuerySpec};

use crate::diagnostic::Diagnostic;

/// A statement that parses but is wrong: unknown stream or field, type
/// mismatch, invalid regex, bad option.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.message)]
pub struct PlanError(pub Diagnostic);
