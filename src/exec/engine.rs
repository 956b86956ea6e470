//! The engine: the catalog of streams and queries, and the per-stream runtime
//! that pushes batches of lines through the shared plan.
//!
//! The engine is a library driven batch by batch: `execute` statements,
//! `push_lines` for each batch a source read, `flush` at the end of input.
//! Queries can be added and dropped between any two batches; the plan is
//! rebuilt (cheaply: compiled automata are cached) and no other query's
//! state is touched.

use super::aggregate::{Acc, AccArg};
use super::decode::{self, CsvHeader, FieldSet, LogDecoder, LogScratch, YearContext};
use super::eval::{EvalShape, Evaluator, RUN};
use super::intern::{same_value, Interner, KeyId, KeyInterner, ValueId, NO_ID};
use super::json_text::ObjectTemplate;
use super::limits::Limits;
use super::result::{CountingSink, JsonLinesBuffer, QueryResult, ResultSink, RowArena, RowSpan};
use super::state::{
    pane_start, pane_table, push_distinct_elements, AggState, GroupTable, KeyCombos,
};
use super::window::{close_windows, closes_any, emit_running, AggRuntime};
use crate::diagnostic::Diagnostic;
use crate::parser::ast::DataType;
use crate::parser::{self, ast::Span, Ident, Statement};
use crate::planner::catalog::{Format, StreamDef};
use crate::planner::explain;
use crate::planner::graph::ScannerCache;
use crate::planner::plan::{assign_state, build_plan, RowFields, StateDesc, StateId, StreamPlan};
use crate::planner::query::{resolve, QueryKind, QuerySpec};
use crate::value::Value;
use crate::value_map::{hash_value, hash_values};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// What kind of statement error, so servers can pick a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The text does not parse.
    Syntax,
    /// It parses but is wrong: unknown field, type mismatch, bad regex…
    Invalid,
    /// A name is already in use, or a stream is still read by queries.
    Conflict,
    /// The named stream or query does not exist.
    NotFound,
    /// An engine limit ([`Limits`]) would be exceeded.
    Limit,
}

/// An error in a statement, pointing into its text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .diagnostic.message)]
pub struct StatementError {
    /// The kind of error.
    pub kind: ErrorKind,
    /// Message and span.
    pub diagnostic: Diagnostic,
}

impl StatementError {
    fn new(kind: ErrorKind, message: impl Into<String>, span: Span) -> StatementError {
        StatementError {
            kind,
            diagnostic: Diagnostic::new(message, span),
        }
    }

    /// `line L, column C: message`, the source line and a caret, against the
    /// text that was executed.
    pub fn render(&self, src: &str) -> String {
        self.diagnostic.render(src)
    }
}

/// What a statement did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A stream was created.
    StreamCreated {
        /// Its name.
        name: String,
    },
    /// A query was registered.
    QueryCreated {
        /// Its name.
        name: String,
        /// The stream it reads.
        stream: String,
    },
    /// A query was dropped.
    QueryDropped {
        /// Its name.
        name: String,
    },
    /// A stream was dropped.
    StreamDropped {
        /// Its name.
        name: String,
    },
    /// The shared plan, as text.
    Explain {
        /// The text.
        text: String,
    },
}

/// A record that was not accepted, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reject {
    /// The source it came from (a file path, say).
    pub source: String,
    /// Its line number in that source (1-based).
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The line (cut to 512 bytes).
    pub text: String,
}

/// Counters of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamStats {
    /// Lines taken in (not counting blank lines and CSV headers).
    pub records_in: u64,
    /// Records that passed decoding and were not late.
    pub accepted: u64,
    /// Records rejected (malformed, too long, wrong type, no event time).
    pub rejected: u64,
    /// Records older than the watermark, dropped.
    pub late: u64,
    /// Results emitted.
    pub results_out: u64,
    /// Aggregation-state updates: (accepted record, state whose filter it
    /// passed) pairs. Divided by `accepted`, the states an average record feeds.
    pub state_updates: u64,
}

/// Wall-clock time a stream spent in each phase of its batches (not
/// checkpointed: it describes this process's run, for `--stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseTimes {
    /// Phase 1: decoding, predicates and filter rows.
    pub decode: std::time::Duration,
    /// Phase 2a: counters, lateness, filter output, interning.
    pub apply: std::time::Duration,
    /// Phase 2b: aggregation-state updates.
    pub aggregate: std::time::Duration,
    /// Closing windows and emitting their results.
    pub close: std::time::Duration,
}

impl PhaseTimes {
    /// Adds another stream's (or run's) times to these.
    pub fn add(&mut self, other: &PhaseTimes) {
        self.decode += other.decode;
        self.apply += other.apply;
        self.aggregate += other.aggregate;
        self.close += other.close;
    }
}

/// Where a batch's lines come from, and what is remembered between batches
/// of that source (line number, CSV header).
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// A name for messages, e.g. the file path.
    pub name: String,
    /// Lines read so far.
    pub line_no: u64,
    /// The CSV header line, once seen.
    pub csv_header_line: Option<String>,
    /// The header mapped to the current plan's slots, with the plan version.
    csv_header: Option<(u64, CsvHeader)>,
}

impl Origin {
    /// A new source.
    pub fn new(name: impl Into<String>) -> Origin {
        Origin {
            name: name.into(),
            ..Origin::default()
        }
    }
}

/// Most rejected records kept per stream (the count goes on).
pub const MAX_REJECTS_KEPT: usize = 1000;

/// A stream with its queries, plan, state and counters.
pub struct StreamRuntime {
    def: Arc<StreamDef>,
    pub(super) queries: BTreeMap<Arc<str>, QuerySpec>,
    pub(super) state_descs: BTreeMap<StateId, StateDesc>,
    pub(super) next_state: StateId,
    plan: Arc<StreamPlan>,
    /// Evaluation facts of `plan`, rebuilt with it.
    plan_eval: Arc<PlanEval>,
    plan_version: u64,
    field_set: Arc<FieldSet>,
    pub(super) states: HashMap<StateId, AggState>,
    pub(super) aggs: BTreeMap<Arc<str>, AggRuntime>,
    cache: ScannerCache,
    pub(super) max_ts: Option<i64>,
    pub(super) stats: StreamStats,
    phase_times: PhaseTimes,
    rejects: VecDeque<Reject>,
    /// Ids of `count(DISTINCT)` argument values.
    pub(super) interner: Interner,
    /// Live ids after the last sweep of the interner.
    pub(super) interned_after_sweep: usize,
    /// Ids of group keys: the group tables of `states` are keyed by them.
    pub(super) keys: KeyInterner,
    /// Live key ids after the last sweep of `keys`.
    pub(super) keys_after_sweep: usize,
    /// The plan is stale: queries were registered without rebuilding it.
    dirty: bool,
    /// For the log formats, the line decoder compiled for `plan`.
    log: Option<Arc<LogDecoder>>,
    /// [`Limits::max_groups_per_state`].
    max_groups: usize,
    /// Emptied buffers of decoded batches, for the next ones.
    spare: Arc<SparePool>,
}

/// The log decoder of a stream for a plan: only the plan's fields, and whole
/// rows when a query selects `*`.
fn log_decoder(
    def: &StreamDef,
    plan: &StreamPlan,
    fields: &FieldSet,
) -> Result<Option<Arc<LogDecoder>>, String> {
    let whole_rows = plan.filters.iter().any(|f| f.projection.is_none());
    def.log
        .as_ref()
        .map(|spec| LogDecoder::new(spec, fields, whole_rows).map(Arc::new))
        .transpose()
}

impl StreamRuntime {
    fn new(def: StreamDef, limits: &Limits) -> Result<StreamRuntime, String> {
        let def = Arc::new(def);
        let mut cache = ScannerCache::with_regex_limit(limits.max_regex_bytes);
        let plan = build_plan(def.clone(), &BTreeMap::new(), &BTreeMap::new(), &mut cache)
            .expect("empty plan builds");
        let field_set = Arc::new(FieldSet::new(plan.fields.clone()));
        Ok(StreamRuntime {
            log: log_decoder(&def, &plan, &field_set)?,
            field_set,
            def,
            queries: BTreeMap::new(),
            state_descs: BTreeMap::new(),
            next_state: 0,
            plan_eval: Arc::new(PlanEval::new(&plan)),
            plan: Arc::new(plan),
            plan_version: 0,
            states: HashMap::new(),
            aggs: BTreeMap::new(),
            cache,
            max_ts: None,
            stats: StreamStats::default(),
            phase_times: PhaseTimes::default(),
            rejects: VecDeque::new(),
            interner: Interner::new(),
            interned_after_sweep: 0,
            keys: KeyInterner::new(),
            keys_after_sweep: 0,
            dirty: false,
            max_groups: limits.max_groups_per_state,
            spare: Arc::default(),
        })
    }

    pub(super) fn rebuild(&mut self) -> Result<(), String> {
        let plan = build_plan(
            self.def.clone(),
            &self.queries,
            &self.state_descs,
            &mut self.cache,
        )
        .map_err(|e| e.0.message)?;
        let field_set = Arc::new(FieldSet::new(plan.fields.clone()));
        self.log = log_decoder(&self.def, &plan, &field_set)?;
        self.field_set = field_set;
        self.plan_eval = Arc::new(PlanEval::new(&plan));
        self.plan = Arc::new(plan);
        self.plan_version += 1;
        Ok(())
    }

    /// The stream's definition.
    pub fn def(&self) -> &StreamDef {
        &self.def
    }

    /// The current shared plan.
    pub fn plan(&self) -> &StreamPlan {
        &self.plan
    }

    /// The stream's counters.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Time spent in each phase since this runtime was created.
    pub fn phase_times(&self) -> &PhaseTimes {
        &self.phase_times
    }

    /// The most recent rejected records.
    pub fn rejects(&self) -> impl Iterator<Item = &Reject> {
        self.rejects.iter()
    }

    /// The watermark: largest event time seen minus the allowed lateness.
    pub fn watermark(&self) -> Option<i64> {
        self.max_ts.map(|t| t.saturating_sub(self.def.watermark_ms))
    }

    /// The queries reading this stream.
    pub fn queries(&self) -> impl Iterator<Item = &QuerySpec> {
        self.queries.values()
    }

    /// Counters of one query of this stream: records that passed its `WHERE`
    /// (for aggregate queries, since its shared state was created) and the
    /// groups its state holds; `None` for an unknown query. Filter queries
    /// hold no state, and their matches are their results.
    pub fn query_state(&self, name: &str) -> Option<(Option<u64>, usize)> {
        if !self.queries.contains_key(name) {
            return None;
        }
        Some(
            match self.aggs.get(name).and_then(|q| self.states.get(&q.state)) {
                Some(st) => (Some(st.matched), st.group_count()),
                None => (None, 0),
            },
        )
    }

    /// Updates of query `name`'s aggregation state that were dropped because
    /// the state held [`Limits::max_groups_per_state`] groups and the update
    /// needed a new one. Non-zero means the query's results are incomplete.
    /// 0 for filter queries and unknown names.
    pub fn groups_dropped(&self, name: &str) -> u64 {
        self.aggs
            .get(name)
            .and_then(|q| self.states.get(&q.state))
            .map_or(0, |st| st.dropped)
    }

    /// The group limit of this stream's aggregation states.
    pub fn max_groups(&self) -> usize {
        self.max_groups
    }

    /// Groups held in aggregation state, over all panes.
    pub fn state_groups(&self) -> usize {
        self.states.values().map(AggState::group_count).sum()
    }

    fn reject(&mut self, origin: &Origin, line: &[u8], reason: String) {
        self.stats.rejected += 1;
        if self.rejects.len() == MAX_REJECTS_KEPT {
            self.rejects.pop_front();
        }
        let cut = &line[..line.len().min(512)];
        self.rejects.push_back(Reject {
            source: origin.name.clone(),
            line: origin.line_no,
            reason,
            text: String::from_utf8_lossy(cut).into_owned(),
        });
    }

    /// Pushes a batch of complete lines through the plan.
    fn push(
        &mut self,
        origin: &mut Origin,
        data: &[u8],
        arrival_ms: i64,
        sink: &mut dyn ResultSink,
    ) {
        if let Some((lines, input)) = self.prepare(origin, data, arrival_ms) {
            let started = std::time::Instant::now();
            let decoded = input.decode(&data[lines]);
            let decoded = self.finish(origin, &input, decoded, started.elapsed(), sink);
            self.spare.put(decoded);
        }
    }

    /// Pushes batches of complete lines, read by `next` into a buffer (false
    /// at the end), decoding up to [`DECODE_AHEAD`] batches on the worker
    /// pool while the one before them is applied, aggregated and closed:
    /// the same results, in the same order, as [`StreamRuntime::push`] on
    /// each batch in turn.
    fn push_chunks(
        &mut self,
        origin: &mut Origin,
        next: &mut dyn FnMut(&mut Vec<u8>) -> std::io::Result<bool>,
        arrival_ms: &dyn Fn() -> i64,
        sink: &mut dyn ResultSink,
    ) -> std::io::Result<()> {
        // Batches being decoded, in input order, and buffers to read into.
        let mut ahead: VecDeque<(Arc<BatchInput>, DecodeSlot)> = VecDeque::new();
        // Buffers to read into, handed back as finished batches are
        // emptied, and how many were made.
        let free: Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Arc::default();
        let mut made = 0;
        let mut more = true;
        loop {
            while more && ahead.len() < DECODE_AHEAD {
                let mut buf = reuse_buffer(&free, &mut made);
                buf.clear();
                more = next(&mut buf)?;
                if !more {
                    break;
                }
                let Some((lines, input)) = self.prepare(origin, &buf, arrival_ms()) else {
                    give_back(&free, buf);
                    continue;
                };
                let input = Arc::new(input);
                let slot = DecodeSlot::default();
                let (job_input, job_slot) = (input.clone(), slot.clone());
                rayon::spawn(move || job_slot.decode(&job_input, buf, lines));
                ahead.push_back((input, slot));
            }
            let Some((input, slot)) = ahead.pop_front() else {
                return Ok(());
            };
            let (mut batch, took) = slot.wait();
            let started = std::time::Instant::now();
            batch.with_dependent_mut(|_, parts| {
                *parts = self.finish(origin, &input, std::mem::take(parts), took, sink)
            });
            // Finishing the batch took longer than decoding it did: this
            // thread sets the pace (the pool is ahead), so emptying the
            // batch (dropping its decoded values) is left to the pool.
            // Otherwise this thread has time to spare and empties it.
            let pacing = started.elapsed() > took;
            let (spare, free) = (self.spare.clone(), free.clone());
            let empty = move || {
                batch.with_dependent_mut(|_, parts| spare.put(std::mem::take(parts)));
                give_back(&free, batch.into_owner());
            };
            if pacing {
                rayon::spawn(empty);
            } else {
                empty();
            }
        }
    }

    /// Before decoding a batch: the CSV header (taken from a source's first
    /// line), the range of `batch` that holds the lines to decode, and what
    /// decoding needs, owned. `None` when the batch has no line to decode
    /// (or all of them were rejected here).
    fn prepare(
        &mut self,
        origin: &mut Origin,
        batch: &[u8],
        arrival_ms: i64,
    ) -> Option<(std::ops::Range<usize>, BatchInput)> {
        let plan = self.plan.clone();
        let mut data = batch.strip_suffix(b"\n").unwrap_or(batch);
        // Where `data` starts in `batch`.
        let mut start = 0;
        if data.is_empty() {
            return None;
        }
        // A CSV source's first line is its header.
        if self.def.format == Format::Csv && origin.csv_header_line.is_none() {
            let (first, rest) = match memchr::memchr(b'\n', data) {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &data[data.len()..]),
            };
            start = data.len() - rest.len();
            origin.line_no += 1;
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            origin.csv_header_line = Some(String::from_utf8_lossy(first).into_owned());
            data = rest;
            if data.is_empty() {
                return None;
            }
        }
        let columns: Option<Vec<Option<DataType>>> = self.def.columns.as_ref().map(|_| {
            (0..plan.fields.len())
                .map(|slot| plan.declared_type(slot).cloned())
                .collect()
        });
        if self.def.format == Format::Csv
            && origin
                .csv_header
                .as_ref()
                .is_none_or(|(v, _)| *v != self.plan_version)
        {
            let header_line = origin.csv_header_line.clone().unwrap_or_default();
            match CsvHeader::parse(&header_line, &self.field_set) {
                Ok(h) => {
                    let h = match &columns {
                        Some(types) => h.with_types(types),
                        None => h,
                    };
                    origin.csv_header = Some((self.plan_version, h));
                }
                Err(e) => {
                    // Without a usable header no line of this source decodes.
                    for raw in lines_of(data) {
                        origin.line_no += 1;
                        self.stats.records_in += 1;
                        self.reject(origin, raw, format!("bad CSV header: {e}"));
                    }
                    return None;
                }
            }
        }
        let years = self.log.as_ref().map(|d| d.years(arrival_ms));
        Some((
            start..start + data.len(),
            BatchInput {
                plan,
                eval: self.plan_eval.clone(),
                fields: self.field_set.clone(),
                columns,
                def: self.def.clone(),
                header: origin.csv_header.as_ref().map(|(_, h)| h.clone()),
                log: self.log.clone().zip(years),
                arrival_ms,
                spare: self.spare.clone(),
            },
        ))
    }

    /// Phases 2a and 2b and the closing of windows, for a decoded batch:
    /// apply, aggregation, windows closed by the new watermark. Gives the
    /// decoded parts back, for the caller to empty into the spare pool.
    fn finish<'a>(
        &mut self,
        origin: &mut Origin,
        input: &BatchInput,
        decoded: Vec<Decoded<'a>>,
        decode_time: std::time::Duration,
        sink: &mut dyn ResultSink,
    ) -> Vec<Decoded<'a>> {
        let plan = input.plan.clone();
        let plan_eval = input.eval.clone();
        // Group keys and `count(DISTINCT)` arguments are interned beside
        // phase 2a (as tasks that another thread takes when it is free), in
        // input order, for every decoded record.
        let decoded_at = std::time::Instant::now();
        self.phase_times.decode += decode_time;
        let mut key_interner = std::mem::take(&mut self.keys);
        let mut value_interner = std::mem::take(&mut self.interner);
        let intern_all_keys = |keys: &mut KeyInterner| -> Vec<PartKeys> {
            decoded
                .iter()
                .map(|d| intern_keys(&plan, &plan_eval, d, keys))
                .collect()
        };
        let intern_all_values = |values: &mut Interner| -> Vec<PartValues> {
            decoded
                .iter()
                .map(|d| intern_values(&plan, &plan_eval, d, values))
                .collect()
        };
        let mut apply_all = |rt: &mut StreamRuntime| -> Vec<Accepted> {
            decoded
                .iter()
                .map(|d| rt.apply(&plan, d, origin, sink))
                .collect()
        };
        let (accepted, values, keys) = if decoded.len() > 1 {
            let (mut keys, mut values) = (Vec::new(), Vec::new());
            let accepted = rayon::in_place_scope(|s| {
                // Another thread takes the oldest task first, this one the
                // newest once it has applied the batch.
                s.spawn(|_| keys = intern_all_keys(&mut key_interner));
                s.spawn(|_| values = intern_all_values(&mut value_interner));
                apply_all(self)
            });
            (accepted, values, keys)
        } else {
            let keys = intern_all_keys(&mut key_interner);
            let values = intern_all_values(&mut value_interner);
            (apply_all(self), values, keys)
        };
        self.keys = key_interner;
        self.interner = value_interner;
        let applied_at = std::time::Instant::now();
        self.phase_times.apply += applied_at - decoded_at;
        let total: usize = accepted.iter().map(Accepted::count).sum();
        // Phase 2b: aggregation. States are independent, so they are split
        // into tasks that either thread takes; each state walks its
        // accepted records in input order.
        let mut by_state: HashMap<StateId, &mut AggState> =
            self.states.iter_mut().map(|(k, v)| (*k, v)).collect();
        let mut groups: Vec<Vec<(usize, &mut AggState)>> =
            (0..AGG_TASKS).map(|_| Vec::new()).collect();
        for (i, w) in balance_states(&plan, &plan_eval, &decoded) {
            if let Some(state) = by_state.remove(&plan.states[i].id) {
                groups[w].push((i, state));
            }
        }
        let max_groups = self.max_groups;
        let updates = if total >= PARALLEL_MIN_RECORDS && plan.states.len() > 1 {
            let mut it = groups.into_iter();
            let first = it.next().unwrap_or_default();
            let mut counts: Vec<u64> = Vec::new();
            let n = rayon::in_place_scope(|s| {
                counts.resize(it.len(), 0);
                for (g, count) in it.zip(counts.iter_mut()) {
                    let (plan, pe, decoded, accepted, keys, values) =
                        (&plan, &*plan_eval, &decoded, &accepted, &keys, &values);
                    s.spawn(move |_| {
                        *count =
                            update_states(plan, pe, decoded, accepted, keys, values, g, max_groups)
                    });
                }
                update_states(
                    &plan, &plan_eval, &decoded, &accepted, &keys, &values, first, max_groups,
                )
            });
            n + counts.iter().sum::<u64>()
        } else {
            update_states(
                &plan,
                &plan_eval,
                &decoded,
                &accepted,
                &keys,
                &values,
                groups.into_iter().flatten().collect(),
                max_groups,
            )
        };
        self.stats.state_updates += updates;
        let aggregated_at = std::time::Instant::now();
        self.phase_times.aggregate += aggregated_at - applied_at;
        if let Some(wm) = self.watermark() {
            self.close_windows(wm, sink);
        }
        self.phase_times.close += aggregated_at.elapsed();
        decoded
    }

    /// Phase 2a, in input order: counters, rejects, lateness and the
    /// output of filter queries (whose rows phase 1 built). Returns the
    /// accepted records.
    fn apply(
        &mut self,
        plan: &StreamPlan,
        d: &Decoded<'_>,
        origin: &mut Origin,
        sink: &mut dyn ResultSink,
    ) -> Accepted {
        let mut accepted = Accepted {
            mask: vec![0; d.ts.len().div_ceil(RUN)],
        };
        let delay = self.def.watermark_ms;
        let mut ok_index = 0usize;
        let mut out_count = 0u64;
        for rec in &d.records {
            origin.line_no += 1;
            let ts = match &rec.status {
                RecStatus::Blank => continue,
                RecStatus::Reject(reason) => {
                    self.stats.records_in += 1;
                    self.reject(origin, rec.raw, reason.clone());
                    continue;
                }
                RecStatus::Ok { ts, .. } => *ts,
            };
            self.stats.records_in += 1;
            let rows_from = match ok_index {
                0 => 0,
                i => d.row_ends[i - 1] as usize,
            };
            let rows = &d.rows[rows_from..d.row_ends[ok_index] as usize];
            ok_index += 1;
            if let Some(max) = self.max_ts {
                if ts < max.saturating_sub(delay) {
                    self.stats.late += 1;
                    continue;
                }
                if ts > max {
                    self.max_ts = Some(ts);
                }
            } else {
                self.max_ts = Some(ts);
            }
            self.stats.accepted += 1;
            for (f, row) in rows {
                out_count += 1;
                sink.emit_row(&plan.filters[*f as usize].query, d.row_text.get(*row));
            }
            let ok = ok_index - 1;
            accepted.mask[ok / RUN] |= 1 << (ok % RUN);
        }
        self.stats.results_out += out_count;
        accepted
    }

    /// Emits every window that ends at or before `watermark`, then drops
    /// panes no query needs any more.
    fn close_windows(&mut self, watermark: i64, sink: &mut dyn ResultSink) {
        self.close_and_emit(watermark, false, sink);
    }

    /// Closes the windows that `watermark` ends and, with `running`, emits
    /// the running totals after them (the end of input): every query's
    /// results in query order, windowed queries first. Queries produce
    /// their results independently, so with many of them they are split
    /// into tasks that either thread takes ([`emit_in_tasks`]). Then drops
    /// the panes no query needs any more.
    fn close_and_emit(&mut self, watermark: i64, running: bool, sink: &mut dyn ResultSink) {
        let mut counter = CountingSink {
            inner: sink,
            count: 0,
        };
        let states = &self.states;
        let keys = &self.keys;
        let (windowed, totals): (Vec<&mut AggRuntime>, Vec<&mut AggRuntime>) = self
            .aggs
            .values_mut()
            .partition(|q| q.agg().window.is_some());
        // Most batches move the watermark past no window's end: the queries
        // that have nothing to close are left out, and with none left there
        // are no panes to drop either.
        let mut queries: Vec<&mut AggRuntime> = windowed
            .into_iter()
            .filter(|q| {
                q.agg()
                    .window
                    .is_some_and(|w| closes_any(q.next_start, w, watermark))
            })
            .collect();
        if running {
            queries.extend(totals);
        }
        if queries.is_empty() {
            self.sweep_if_grown();
            return;
        }
        // A query's work, roughly: the groups of the panes that its closing
        // windows can read (each read once per window that holds the pane),
        // or of its running table.
        let work: Vec<u64> = queries
            .iter()
            .map(|q| {
                let state = states.get(&q.state).expect("state exists");
                let groups = match q.agg().window {
                    Some(w) => {
                        let panes: usize =
                            state.panes.range(..watermark).map(|(_, t)| t.len()).sum();
                        panes * (w.size_ms / w.slide_ms.max(1)).max(1) as usize
                    }
                    None => state.running.len(),
                };
                groups as u64 + 1
            })
            .collect();
        emit_in_tasks(&mut queries, &work, &mut counter, |q, sink| {
            let state = states.get(&q.state).expect("state exists");
            match q.agg().window {
                Some(w) => close_windows(q, w, state, keys, watermark, sink),
                None => emit_running(q, state, keys, sink),
            }
        });
        self.stats.results_out += counter.count;
        // A pane is needed while some query of its state may still close a
        // window that contains it, i.e. while it starts at or after that
        // query's earliest open window.
        let mut keep_from: HashMap<StateId, i64> = HashMap::new();
        for q in self.aggs.values() {
            if q.agg().window.is_some() {
                let e = keep_from.entry(q.state).or_insert(i64::MAX);
                *e = (*e).min(q.next_start.max(q.first_start));
            }
        }
        // The panes dropped are freed on the worker pool: freeing large
        // group tables would hold up this thread (which sets the pace when
        // there are many queries) while the others wait for work.
        let mut dropped = Vec::new();
        for (id, from) in keep_from {
            if let Some(st) = self.states.get_mut(&id) {
                let kept = st.panes.split_off(&from);
                let old = std::mem::replace(&mut st.panes, kept);
                if !old.is_empty() {
                    dropped.push(old);
                }
            }
        }
        if !dropped.is_empty() {
            rayon::spawn(move || drop(dropped));
        }
        self.sweep_if_grown();
    }

    /// Sweeps the interners of the ids no state holds any more, once they
    /// have doubled since the last sweep.
    fn sweep_if_grown(&mut self) {
        if self.interner.len() >= (2 * self.interned_after_sweep).max(SWEEP_MIN_IDS) {
            self.sweep_interner();
        }
        if self.keys.len() >= (2 * self.keys_after_sweep).max(SWEEP_MIN_IDS) {
            self.sweep_keys();
        }
    }

    /// Frees the group keys that no group table holds any more.
    fn sweep_keys(&mut self) {
        let mut live = vec![false; self.keys.id_bound()];
        for st in self.states.values() {
            for table in st.panes.values().chain([&st.running]) {
                for g in table.groups() {
                    live[g.key as usize] = true;
                }
            }
        }
        self.keys.retain(&live);
        self.keys_after_sweep = self.keys.len();
    }

    /// Frees the interned values that no distinct set holds any more.
    fn sweep_interner(&mut self) {
        let mut live = vec![false; self.interner.id_bound()];
        for st in self.states.values() {
            for table in st.panes.values().chain([&st.running]) {
                for g in table.groups() {
                    for a in g.accs {
                        if let Acc::Distinct(set) = a {
                            for id in set.iter() {
                                live[id as usize] = true;
                            }
                        }
                    }
                }
            }
        }
        self.interner.retain(&live);
        self.interned_after_sweep = self.interner.len();
    }

    /// The end of input: every window closes and the running totals are
    /// emitted.
    fn flush(&mut self, sink: &mut dyn ResultSink) {
        self.close_and_emit(i64::MAX, true, sink);
    }
}

/// The engine: streams, queries and their shared plans.
#[derive(Default)]
pub struct Engine {
    pub(super) streams: BTreeMap<String, StreamRuntime>,
    query_stream: BTreeMap<Arc<str>, String>,
    /// While executing a script: registrations leave plans stale and the
    /// plans are rebuilt once at the end (or before the next other statement).
    defer_rebuild: bool,
    /// Queries registered since the last rebuild, while deferring.
    deferred: Vec<Arc<str>>,
    limits: Limits,
}

impl Engine {
    /// An engine with no streams.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// An engine with no streams that enforces `limits`.
    pub fn with_limits(limits: Limits) -> Engine {
        Engine {
            limits,
            ..Engine::default()
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits. Existing streams take the new group limit at
    /// once and the new regex limit for automata compiled from now on; the
    /// query limit applies to the next registration.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        for rt in self.streams.values_mut() {
            rt.max_groups = limits.max_groups_per_state;
            rt.cache.set_regex_limit(limits.max_regex_bytes);
        }
    }

    /// Parses and executes statements in order. Stops at the first error;
    /// statements before it stay executed.
    pub fn execute(&mut self, src: &str) -> Result<Vec<Outcome>, StatementError> {
        let stmts = parser::parse_statements(src).map_err(|e| StatementError {
            kind: ErrorKind::Syntax,
            diagnostic: e.0,
        })?;
        // In a script, consecutive CREATE QUERY statements rebuild each
        // stream's plan once, not once per query.
        self.defer_rebuild = stmts.len() > 1;
        let mut out = Vec::new();
        let mut result = Ok(());
        for s in stmts {
            let text = &src[s.span.start..s.span.end];
            if !matches!(s.statement, Statement::CreateQuery(_)) {
                result = self.rebuild_deferred(s.span);
                if result.is_err() {
                    break;
                }
            }
            match self.execute_statement(&s.statement, text) {
                Ok(o) => out.push(o),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.defer_rebuild = false;
        let end = Span::new(src.len(), src.len());
        let rebuilt = self.rebuild_deferred(end);
        result.and(rebuilt).map(|_| out)
    }

    /// Rebuilds the plans that deferred registrations left stale. Should that
    /// fail (a stream's regexes together exceed a limit), the deferred
    /// queries are dropped again and the error names where it was found.
    fn rebuild_deferred(&mut self, span: Span) -> Result<(), StatementError> {
        let pending = std::mem::take(&mut self.deferred);
        let mut failure = None;
        for rt in self.streams.values_mut().filter(|rt| rt.dirty) {
            rt.dirty = false;
            if let Err(e) = rt.rebuild() {
                failure = Some(e);
            }
        }
        match failure {
            None => Ok(()),
            Some(e) => {
                for q in pending {
                    let _ = self.drop_query(&q);
                }
                Err(StatementError::new(ErrorKind::Invalid, e, span))
            }
        }
    }

    /// Executes one parsed statement; `text` is its source text (kept for
    /// listing). Error spans point into the text the statement was parsed from.
    pub fn execute_statement(
        &mut self,
        stmt: &Statement,
        text: &str,
    ) -> Result<Outcome, StatementError> {
        match stmt {
            Statement::CreateStream(cs) => {
                if self.streams.contains_key(&cs.name.name) {
                    return Err(StatementError::new(
                        ErrorKind::Conflict,
                        format!("stream `{}` already exists", cs.name.name),
                        cs.name.span,
                    ));
                }
                let def = StreamDef::from_ast(cs, text).map_err(invalid)?;
                let rt = StreamRuntime::new(def, &self.limits)
                    .map_err(|e| StatementError::new(ErrorKind::Invalid, e, cs.name.span))?;
                self.streams.insert(rt.def.name.clone(), rt);
                Ok(Outcome::StreamCreated {
                    name: cs.name.name.clone(),
                })
            }
            Statement::CreateQuery(cq) => {
                let stream = self.create_query(&cq.name, &cq.select, text)?;
                Ok(Outcome::QueryCreated {
                    name: cq.name.name.clone(),
                    stream,
                })
            }
            Statement::DropQuery { name } => {
                self.drop_query(&name.name)
                    .map_err(|m| StatementError::new(ErrorKind::NotFound, m, name.span))?;
                Ok(Outcome::QueryDropped {
                    name: name.name.clone(),
                })
            }
            Statement::DropStream { name } => {
                let Some(rt) = self.streams.get(&name.name) else {
                    return Err(StatementError::new(
                        ErrorKind::NotFound,
                        format!("no stream named `{}`", name.name),
                        name.span,
                    ));
                };
                if !rt.queries.is_empty() {
                    let names: Vec<&str> = rt.queries.keys().map(|k| k.as_ref()).collect();
                    return Err(StatementError::new(
                        ErrorKind::Conflict,
                        format!(
                            "stream `{}` is still read by {}; drop them first",
                            name.name,
                            names.join(", ")
                        ),
                        name.span,
                    ));
                }
                self.streams.remove(&name.name);
                Ok(Outcome::StreamDropped {
                    name: name.name.clone(),
                })
            }
            Statement::Explain { stream } => {
                if let Some(s) = stream {
                    if !self.streams.contains_key(&s.name) {
                        return Err(StatementError::new(
                            ErrorKind::NotFound,
                            format!("no stream named `{}`", s.name),
                            s.span,
                        ));
                    }
                }
                Ok(Outcome::Explain {
                    text: self.explain(stream.as_ref().map(|s| s.name.as_str())),
                })
            }
        }
    }

    fn create_query(
        &mut self,
        name: &Ident,
        select: &crate::parser::Select,
        text: &str,
    ) -> Result<String, StatementError> {
        if self.query_stream.contains_key(name.name.as_str()) {
            return Err(StatementError::new(
                ErrorKind::Conflict,
                format!("query `{}` already exists", name.name),
                name.span,
            ));
        }
        if self.query_stream.len() >= self.limits.max_queries {
            return Err(StatementError::new(
                ErrorKind::Limit,
                format!(
                    "cannot register `{}`: {} queries are registered, the limit (max_queries); drop some first",
                    name.name,
                    self.query_stream.len()
                ),
                name.span,
            ));
        }
        let Some(rt) = self.streams.get_mut(&select.from.name) else {
            let known: Vec<&str> = self.streams.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "no streams are defined".to_string()
            } else {
                format!("streams: {}", known.join(", "))
            };
            return Err(StatementError::new(
                ErrorKind::Invalid,
                format!("unknown stream `{}` ({hint})", select.from.name),
                select.from.span,
            ));
        };
        let spec = resolve(name, select, &rt.def, text).map_err(invalid)?;
        let assigned = assign_state(
            &mut rt.state_descs,
            &mut rt.next_state,
            &spec,
            rt.stats.records_in,
        );
        let spec_name = spec.name.clone();
        rt.queries.insert(spec_name.clone(), spec.clone());
        if self.defer_rebuild {
            rt.dirty = true;
            self.deferred.push(spec_name.clone());
        } else if let Err(e) = rt.rebuild() {
            // Undo: the query leaves its state, a state made for it goes.
            rt.queries.remove(&spec_name);
            if let Some((id, new)) = assigned {
                if new {
                    rt.state_descs.remove(&id);
                } else if let Some(d) = rt.state_descs.get_mut(&id) {
                    d.queries.remove(&spec_name);
                }
            }
            return Err(StatementError::new(ErrorKind::Invalid, e, select.from.span));
        }
        if let Some((id, new)) = assigned {
            if new {
                rt.states.insert(id, AggState::default());
            }
            let desc = &rt.state_descs[&id];
            let agg = spec.aggregate().expect("aggregate query");
            let acc_map = agg
                .aggs
                .iter()
                .map(|a| {
                    desc.accs
                        .iter()
                        .position(|x| x == a)
                        .expect("state has the query's aggregates")
                })
                .collect();
            let first_start = match rt.max_ts {
                Some(t) => t.saturating_add(1),
                None => i64::MIN,
            };
            rt.aggs.insert(
                spec_name.clone(),
                AggRuntime {
                    spec: Arc::new(spec),
                    state: id,
                    acc_map,
                    first_start,
                    next_start: i64::MIN,
                },
            );
        }
        let stream = select.from.name.clone();
        self.query_stream.insert(spec_name, stream.clone());
        Ok(stream)
    }

    /// Drops a query; its state goes when no other query reads it.
    pub fn drop_query(&mut self, name: &str) -> Result<(), String> {
        let Some(stream) = self.query_stream.remove(name) else {
            return Err(format!("no query named `{name}`"));
        };
        let rt = self
            .streams
            .get_mut(&stream)
            .expect("query's stream exists");
        rt.queries.remove(name);
        if let Some(q) = rt.aggs.remove(name) {
            let desc = rt.state_descs.get_mut(&q.state).expect("state exists");
            desc.queries.remove(name);
            if desc.queries.is_empty() {
                rt.state_descs.remove(&q.state);
                rt.states.remove(&q.state);
            }
        }
        rt.rebuild()
            .expect("a plan without a query builds when the plan with it did");
        Ok(())
    }

    /// Pushes a batch of complete lines (`\n`-separated) of `stream` read
    /// from `origin`. `arrival_ms` is the event time of streams that have no
    /// event-time field. Results go to `sink`, windows that the watermark
    /// closes included.
    pub fn push_lines(
        &mut self,
        stream: &str,
        origin: &mut Origin,
        data: &[u8],
        arrival_ms: i64,
        sink: &mut dyn ResultSink,
    ) -> Result<(), String> {
        let rt = self
            .streams
            .get_mut(stream)
            .ok_or_else(|| format!("no stream named `{stream}`"))?;
        rt.push(origin, data, arrival_ms, sink);
        Ok(())
    }

    /// Pushes the batches of complete lines of `stream` that `next` reads
    /// (into the buffer it is given; false at the end of the input), each
    /// decoded on the worker pool while the one before it is finished.
    /// Results are those of [`Engine::push_lines`] on each batch in turn.
    /// `arrival_ms` gives the arrival time of each batch.
    pub fn push_chunks(
        &mut self,
        stream: &str,
        origin: &mut Origin,
        mut next: impl FnMut(&mut Vec<u8>) -> std::io::Result<bool>,
        arrival_ms: &dyn Fn() -> i64,
        sink: &mut dyn ResultSink,
    ) -> std::io::Result<()> {
        let rt = self.streams.get_mut(stream).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no stream named `{stream}`"),
            )
        })?;
        rt.push_chunks(origin, &mut next, arrival_ms, sink)
    }

    /// Ends the input: closes every open window and emits running totals.
    pub fn flush(&mut self, sink: &mut dyn ResultSink) {
        for rt in self.streams.values_mut() {
            rt.flush(sink);
        }
    }

    /// Emits the current, not yet final values of aggregate query `name`:
    /// its open windows (windowed queries) or its running totals. Nothing is
    /// closed or changed; this is what `EMIT EVERY` shows between finals.
    pub fn snapshot(&self, name: &str, sink: &mut dyn ResultSink) -> Result<(), String> {
        let stream = self
            .query_stream
            .get(name)
            .ok_or_else(|| format!("no query named `{name}`"))?;
        let rt = &self.streams[stream];
        let Some(q) = rt.aggs.get(name) else {
            return Ok(()); // a filter query has no state to show
        };
        let state = rt.states.get(&q.state).expect("state exists");
        match q.agg().window {
            Some(w) => super::window::emit_open_windows(q, w, state, &rt.keys, sink),
            None => emit_running(q, state, &rt.keys, sink),
        }
        Ok(())
    }

    /// The shared plan of one stream, or of all, as text.
    pub fn explain(&self, stream: Option<&str>) -> String {
        self.streams
            .values()
            .filter(|rt| stream.is_none_or(|s| s == rt.def.name))
            .map(|rt| explain::explain(&rt.plan, &rt.state_descs, &rt.queries))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The shared plan of one stream, or of all, as data.
    pub fn describe(&self, stream: Option<&str>) -> Vec<crate::planner::describe::PlanDescription> {
        self.streams
            .values()
            .filter(|rt| stream.is_none_or(|s| s == rt.def.name))
            .map(|rt| crate::planner::describe::describe(&rt.plan, &rt.state_descs, &rt.queries))
            .collect()
    }

    /// A stream's runtime.
    pub fn stream(&self, name: &str) -> Option<&StreamRuntime> {
        self.streams.get(name)
    }

    /// A stream's runtime, mutably (for periodic emission).
    pub fn stream_mut(&mut self, name: &str) -> Option<&mut StreamRuntime> {
        self.streams.get_mut(name)
    }

    /// All streams.
    pub fn streams(&self) -> impl Iterator<Item = &StreamRuntime> {
        self.streams.values()
    }

    /// A query's definition.
    pub fn query(&self, name: &str) -> Option<&QuerySpec> {
        let stream = self.query_stream.get(name)?;
        self.streams.get(stream)?.queries.get(name)
    }

    /// Names of all queries, sorted.
    pub fn query_names(&self) -> impl Iterator<Item = &str> {
        self.query_stream.keys().map(|k| k.as_ref())
    }

    /// True when the query is a filter (emits records, not groups).
    pub fn is_filter(&self, name: &str) -> bool {
        self.query(name)
            .is_some_and(|q| matches!(q.kind, QueryKind::Filter(_)))
    }
}

fn invalid(e: crate::planner::PlanError) -> StatementError {
    StatementError {
        kind: ErrorKind::Invalid,
        diagnostic: e.0,
    }
}

/// Runs `work` on every item, which writes its results to the sink it is
/// given, so that the results reach `counter` in item order. With at least
/// [`PARALLEL_MIN_QUERIES`] items they are split into up to [`CLOSE_TASKS`]
/// runs of about equal weight (`weights`, one per item) that either thread
/// takes: the first run's results are written to the
/// sink, the others' into buffers it lends (or as results, when it lends
/// none) that are appended after, in order.
fn emit_in_tasks<T: Send>(
    items: &mut [T],
    weights: &[u64],
    counter: &mut CountingSink<'_>,
    work: impl Fn(&mut T, &mut dyn ResultSink) + Sync,
) {
    let run_all = |items: &mut [T], sink: &mut dyn ResultSink| {
        for item in items {
            work(item, sink);
        }
    };
    if items.len() < PARALLEL_MIN_QUERIES {
        run_all(items, counter);
        return;
    }
    let mut runs = cut_by_weight(items, weights, CLOSE_TASKS).into_iter();
    let first = runs.next().expect("some items");
    let rest: Vec<&mut [T]> = runs.collect();
    match counter.buffer() {
        // The sink's own buffer: results written where they are made.
        Some(buffer) => {
            let mut buffers: Vec<JsonLinesBuffer> = vec![buffer];
            buffers.resize_with(rest.len(), || {
                counter.buffer().expect("the sink lends buffers")
            });
            rayon::in_place_scope(|s| {
                for (items, buffer) in rest.into_iter().zip(buffers.iter_mut()) {
                    s.spawn(|_| run_all(items, buffer));
                }
                run_all(first, counter);
            });
            for buffer in buffers {
                counter.append(buffer);
            }
        }
        None => {
            let mut later: Vec<Vec<QueryResult>> = rest.iter().map(|_| Vec::new()).collect();
            rayon::in_place_scope(|s| {
                for (items, results) in rest.into_iter().zip(later.iter_mut()) {
                    s.spawn(|_| run_all(items, results));
                }
                run_all(first, counter);
            });
            for r in later.into_iter().flatten() {
                counter.emit(r);
            }
        }
    }
}

/// `items` cut into up to `n` consecutive, non-empty runs whose `weights`
/// (one per item) add up to about the same.
fn cut_by_weight<'i, T>(items: &'i mut [T], weights: &[u64], n: usize) -> Vec<&'i mut [T]> {
    let total: u64 = weights.iter().sum();
    let mut runs = Vec::with_capacity(n);
    let (mut rest, mut sum, mut len) = (items, 0u64, 0usize);
    for (i, w) in weights.iter().enumerate() {
        sum += w;
        len += 1;
        // Cut once the weight so far reaches the next share of the total.
        let share = total * (runs.len() as u64 + 1) / n as u64;
        if sum >= share && runs.len() + 1 < n && i + 1 < weights.len() {
            let (run, tail) = std::mem::take(&mut rest).split_at_mut(len);
            runs.push(run);
            rest = tail;
            len = 0;
        }
    }
    if !rest.is_empty() {
        runs.push(rest);
    }
    runs
}

/// Interned values (or key ids) below which an interner is not swept.
const SWEEP_MIN_IDS: usize = 1 << 16;

/// Tasks that closing windows (and emitting running totals) is split into,
/// by query, when there are at least [`PARALLEL_MIN_QUERIES`] queries.
const CLOSE_TASKS: usize = 8;

/// Queries from which closing windows is split over threads.
const PARALLEL_MIN_QUERIES: usize = 64;

/// Accepted records in a batch from which aggregation is split over threads.
const PARALLEL_MIN_RECORDS: usize = 2048;

/// The accepted records of one decoded part (phase 2a): not rejected, not
/// late.
struct Accepted {
    /// Per run of [`RUN`] decoded records, a bit per accepted one.
    mask: Vec<u64>,
}

impl Accepted {
    /// How many records were accepted.
    fn count(&self) -> usize {
        self.mask.iter().map(|m| m.count_ones() as usize).sum()
    }
}

/// The positions of the set bits of `mask`, lowest first.
#[inline]
fn set_bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let bit = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            bit
        })
    })
}

/// Tasks that phase 2b's states are split into: more than threads, so that
/// a thread that is busy decoding ahead leaves more of them to the others.
const AGG_TASKS: usize = 32;

/// Assigns each state of the plan (by plan index) to one of [`AGG_TASKS`]
/// aggregation tasks so that they get about equal work: a state's work in
/// this batch is estimated from the records its root selects (counted by
/// phase 1, [`Decoded::root_hits`]), weighted by its accumulators
/// (`count(DISTINCT)` inserts cost the most).
/// The states of one filter root stay together, one after another in one
/// task; the largest such groups go first, each to the least loaded task.
fn balance_states(
    plan: &StreamPlan,
    pe: &PlanEval,
    decoded: &[Decoded<'_>],
) -> Vec<(usize, usize)> {
    let mut root_hits = vec![0u64; pe.root_nodes.len()];
    for d in decoded {
        for (hits, h) in root_hits.iter_mut().zip(&d.root_hits) {
            *hits += u64::from(*h);
        }
    }
    let weighted: Vec<(u64, usize)> = plan
        .states
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let per_record = 4
                + plan.key_lists[st.key_list].len() as u64
                + st.accs
                    .iter()
                    .map(|a| if a.spec.distinct { 4 } else { 1 })
                    .sum::<u64>();
            (root_hits[pe.state_roots[i]] * per_record, i)
        })
        .collect();
    // The states of one filter go to one task, one after the other: they
    // read the same records' columns, which the first leaves in cache.
    let mut by_root: HashMap<usize, (u64, Vec<usize>)> = HashMap::new();
    for (w, i) in weighted {
        let e = by_root.entry(pe.state_roots[i]).or_default();
        e.0 += w;
        e.1.push(i);
    }
    let mut units: Vec<(u64, usize, Vec<usize>)> = by_root
        .into_iter()
        .map(|(root, (w, states))| (w, root, states))
        .collect();
    units.sort_unstable_by(|a, b| b.cmp(a));
    let mut load = [0u64; AGG_TASKS];
    units
        .into_iter()
        .flat_map(|(w, _, states)| {
            let (t, _) = load
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| **l)
                .expect("at least one worker");
            load[t] += w;
            states.into_iter().map(move |i| (i, t))
        })
        .collect()
}

/// Phase 2b: updates the given states (plan index, state) with the accepted
/// records of every part, in input order.
///
/// The loop is state-major: each state takes the records that passed its
/// filter, read from its root's column of masks, in input order. A state's
/// current tables stay in cache while it is updated, where a record-major
/// loop would touch every matched state's tables for every record.
#[allow(clippy::too_many_arguments)]
fn update_states(
    plan: &StreamPlan,
    pe: &PlanEval,
    decoded: &[Decoded<'_>],
    accepted: &[Accepted],
    keys: &[PartKeys],
    values: &[PartValues],
    mut states: Vec<(usize, &mut AggState)>,
    max_groups: usize,
) -> u64 {
    let width = plan.fields.len();
    let mut updates = 0u64;
    // The pane most of the batch falls in, whose tables are prefetched.
    let first_ts = decoded.iter().find_map(|d| d.ts.first().copied());
    for j in 0..states.len() {
        // The next state's table is brought into cache while this one is
        // updated: a state's tables have left the cache since the last
        // batch, and a probe that waits for memory stalls the loop.
        if let (Some((next, next_state)), Some(ts)) = (states.get(j + 1), first_ts) {
            if let Some(table) = next_state.table_at(plan.states[*next].pane_ms, ts) {
                table.prefetch(PREFETCH_BYTES);
            }
        }
        let (i, state) = &mut states[j];
        let st = &plan.states[*i];
        let root = pe.state_roots[*i];
        // New groups the state may still create (counting costs a look at
        // every pane, skipped when there is no limit).
        let mut room = match max_groups {
            usize::MAX => usize::MAX,
            max => max.saturating_sub(state.group_count()),
        };
        let AggState {
            panes,
            running,
            matched,
            dropped,
        } = &mut **state;
        // The pane of the previous record, which is usually the next one's.
        let mut current: Option<(i64, &mut GroupTable)> = None;
        for (part, d) in decoded.iter().enumerate() {
            let (part_keys, part_values) = (&keys[part], &values[part]);
            let key_starts = &part_keys.starts[st.key_list];
            let key_ids = &part_keys.ids[st.key_list];
            let scalar_keys = pe.key_list_scalar[st.key_list];
            // Where each accumulator reads its input, in this part.
            let inputs: Vec<AccColumn<'_>> = st
                .accs
                .iter()
                .map(|input| match input.slot {
                    None => AccColumn::Star,
                    Some(s) if input.spec.distinct => {
                        AccColumn::Distinct(&part_values.ids[pe.distinct_index[s] as usize])
                    }
                    Some(s) => AccColumn::Arg(&part_keys.args[pe.arg_index[s] as usize], s),
                })
                .collect();
            // The records that passed the state's filter: its root's column
            // of masks, run by run, in input order.
            let column = d.root_column(root);
            for (run, acc) in accepted[part].mask.iter().enumerate() {
                for bit in set_bits(column[run] & acc) {
                    let ok = run * RUN + bit;
                    *matched += 1;
                    updates += 1;
                    let table: &mut GroupTable = match st.pane_ms {
                        None => &mut *running,
                        Some(p) => {
                            let ts = d.ts[ok];
                            // Within the current pane no division is needed
                            // (`ts - start`, taken unsigned, is below `p`).
                            if current
                                .as_ref()
                                .is_none_or(|(s, _)| ts.wrapping_sub(*s) as u64 >= p as u64)
                            {
                                let start = pane_start(ts, p);
                                current = Some((start, pane_table(panes, start)));
                            }
                            &mut *current.as_mut().expect("pane set").1
                        }
                    };
                    let rec_keys = if scalar_keys {
                        std::slice::from_ref(&key_ids[ok])
                    } else {
                        &key_ids[key_starts[ok] as usize..key_starts[ok + 1] as usize]
                    };
                    for &key in rec_keys {
                        // A full state updates only the groups it holds.
                        if room == 0 && !table.contains(key) {
                            *dropped += 1;
                            continue;
                        }
                        let held = table.len();
                        let accs = table.group_mut(key, &st.accs);
                        for (a, input) in accs.iter_mut().zip(&inputs) {
                            match *input {
                                AccColumn::Star => a.update(None),
                                AccColumn::Distinct(ids) => {
                                    if ids[ok] != NO_ID {
                                        a.insert_distinct(ids[ok]);
                                    }
                                }
                                AccColumn::Arg(args, s) => match args[ok] {
                                    AccArg::Other => a.update(Some(&d.slots[ok * width + s])),
                                    arg => a.update_arg(arg),
                                },
                            }
                        }
                        if room != usize::MAX && table.len() > held {
                            room -= 1;
                        }
                    }
                }
            }
        }
    }
    updates
}

/// Bytes of a state's index and of its accumulators prefetched before the
/// state is updated (each): more than most tables of few groups hold.
const PREFETCH_BYTES: usize = 64 << 10;

/// Where one accumulator of a state reads a record's input, in one part of
/// a batch.
#[derive(Clone, Copy)]
enum AccColumn<'c> {
    /// `count(*)`: no input.
    Star,
    /// `count(DISTINCT)`: interned values, by record.
    Distinct(&'c [ValueId]),
    /// Other aggregates: short-form arguments by record, and the slot to
    /// read for [`AccArg::Other`].
    Arg(&'c [AccArg], usize),
}

/// Threads that decode and evaluate a large batch.
const WORKERS: usize = 2;

/// Batches smaller than this are processed on the calling thread.
const PARALLEL_MIN_BYTES: usize = 256 << 10;

/// The `\n`-separated lines of `data` (a final line needs no newline), found
/// with memchr.
fn lines_of(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', data);
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match ends.next() {
            Some(end) => {
                let line = &data[start..end];
                start = end + 1;
                Some(line)
            }
            None => {
                done = true;
                Some(&data[start..])
            }
        }
    })
}

/// Cuts `data` into up to `n` parts of about equal size at line boundaries.
fn split_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for k in (1..n).rev() {
        let target = rest.len() / (k + 1);
        match memchr::memchr(b'\n', &rest[target..]) {
            Some(i) if target + i + 1 < rest.len() => {
                parts.push(&rest[..target + i]);
                rest = &rest[target + i + 1..];
            }
            _ => break,
        }
    }
    parts.push(rest);
    parts
}

/// Per decoded record of one part, in columns: its interned group keys
/// and its aggregate arguments (computed beside phase 2a, read by phase 2b).
struct PartKeys {
    /// Per key list, the offsets into `ids[list]` of each decoded record's
    /// keys (one more than records): the keys of record `r` are
    /// `ids[list][starts[list][r]..starts[list][r + 1]]`. Empty when no
    /// state grouping by the list passed the record, and when an array
    /// grouped on is empty. A scalar list ([`PlanEval::key_list_scalar`])
    /// has no offsets: each record has one key, at its own place.
    starts: Vec<Vec<u32>>,
    /// Per key list, key ids ([`KeyInterner`]); for a scalar list, one
    /// per decoded record, [`NO_ID`] where no state grouping by the list
    /// passed it.
    ids: Vec<Vec<KeyId>>,
    /// Per [`PlanEval::arg_slots`] entry, each record's value in short form.
    args: Vec<Vec<AccArg>>,
}

/// Per decoded record of one part, the interned values ([`Interner`]) of
/// each [`PlanEval::distinct_slots`] entry: [`NO_ID`] for `NULL`, and when
/// no state whose filter the record passed counts that slot.
struct PartValues {
    ids: Vec<Vec<ValueId>>,
}

/// Per run of a part's decoded records, the records that passed one of
/// `roots` ([`Decoded::roots`]).
fn passed_any(d: &Decoded<'_>, roots: &[u32]) -> Vec<u64> {
    let mut passed = vec![0u64; d.runs()];
    for root in roots {
        for (p, m) in passed.iter_mut().zip(d.root_column(*root as usize)) {
            *p |= m;
        }
    }
    passed
}

/// True when bit `ok` (a record's index among a part's decoded records) is
/// set in per-run masks.
#[inline]
fn has_bit(masks: &[u64], ok: usize) -> bool {
    masks[ok / RUN] >> (ok % RUN) & 1 != 0
}

/// A key met recently by [`intern_keys`]: its hash, its id, and where it
/// was met: the record (index among the part's decoded records) and, for
/// a key that is one element of an array, the element.
#[derive(Clone, Copy)]
struct RecentKey {
    hash: u64,
    id: KeyId,
    /// `u32::MAX` for an empty entry.
    record: u32,
    /// The element of the record's array that is the key, or
    /// [`WHOLE_VALUE`].
    element: u32,
}

/// [`RecentKey::element`] of a key that is the record's values themselves.
const WHOLE_VALUE: u32 = u32::MAX;

impl RecentKey {
    const EMPTY: RecentKey = RecentKey {
        hash: 0,
        id: 0,
        record: u32::MAX,
        element: WHOLE_VALUE,
    };

    /// The value of slot `slot` of the key this entry remembers, read back
    /// from part `d` (whose records have `width` slots each).
    #[inline]
    fn value<'d>(&self, d: &'d Decoded<'_>, width: usize, slot: usize) -> &'d Value<'d> {
        let v = &d.slots[self.record as usize * width + slot];
        match (self.element, v) {
            (WHOLE_VALUE, _) => v,
            (i, Value::Array(items)) => &items[i as usize],
            // Not reached: an element's entry is made only from an array.
            _ => v,
        }
    }
}

/// The id of the key whose hash is `hash`: the one `entry` remembers when
/// it holds that key (`same`), else the one `intern` gives, which `entry`
/// then remembers with where the key was met (`at`: record and element, as
/// in [`RecentKey`]).
#[inline]
fn recall(
    entry: &mut RecentKey,
    hash: u64,
    same: impl FnOnce(&RecentKey) -> bool,
    intern: impl FnOnce() -> KeyId,
    at: (u32, u32),
) -> KeyId {
    if entry.record != u32::MAX && entry.hash == hash && same(entry) {
        return entry.id;
    }
    let id = intern();
    *entry = RecentKey {
        hash,
        id,
        record: at.0,
        element: at.1,
    };
    id
}

/// Entries per key list of [`intern_keys`]'s recent keys.
const RECENT_KEYS: usize = 64;

/// Where key list `kl`'s recent key of hash `hash` is kept among
/// [`intern_keys`]'s recent keys.
#[inline]
fn recent_entry(kl: usize, hash: u64) -> usize {
    kl * RECENT_KEYS + (hash % RECENT_KEYS as u64) as usize
}

/// Interns the group keys of one part's decoded records, in input order
/// (for each record, the keys of each key list that a state whose filter
/// the record passed groups by), and copies out the aggregate arguments.
/// Late records are included (their ids are swept when no table holds
/// them).
fn intern_keys(
    plan: &StreamPlan,
    pe: &PlanEval,
    d: &Decoded<'_>,
    keys: &mut KeyInterner,
) -> PartKeys {
    let width = plan.fields.len();
    let n = d.ts.len();
    // Per key list, the records that some state grouping by it passed.
    let needed: Vec<Vec<u64>> = pe
        .key_list_roots
        .iter()
        .map(|roots| passed_any(d, roots))
        .collect();
    let mut out = PartKeys {
        starts: pe
            .key_list_scalar
            .iter()
            .map(|scalar| Vec::with_capacity(if *scalar { 0 } else { n + 1 }))
            .collect(),
        ids: plan
            .key_lists
            .iter()
            .map(|_| Vec::with_capacity(n))
            .collect(),
        args: pe
            .arg_slots
            .iter()
            .map(|s| {
                (0..n)
                    .map(|ok| AccArg::of(&d.slots[ok * width + s]))
                    .collect()
            })
            .collect(),
    };
    let mut combos = KeyCombos::default();
    let mut chosen: Vec<u32> = Vec::new();
    // Per key list, the ids of keys recently met in this part, by hash: a
    // key equal to the record that last filled its entry takes that id
    // without a probe of the interner (a low-cardinality key such as a
    // language is met again and again). Ids are not freed while a part is
    // interned, so a remembered id stays valid.
    let mut recent = vec![RecentKey::EMPTY; plan.key_lists.len() * RECENT_KEYS];
    for ok in 0..n {
        let slots = &d.slots[ok * width..(ok + 1) * width];
        for (kl, slot_list) in plan.key_lists.iter().enumerate() {
            let ids = &mut out.ids[kl];
            let scalar = pe.key_list_scalar[kl];
            if !scalar {
                out.starts[kl].push(ids.len() as u32);
            }
            if !has_bit(&needed[kl], ok) {
                if scalar {
                    ids.push(NO_ID);
                }
                continue;
            }
            // An array of a one-field list fans out to a key per distinct
            // element, each remembered like a whole value.
            if let Some((s, Value::Array(items))) = match slot_list[..] {
                [s] => Some((s, &slots[s])),
                _ => None,
            } {
                chosen.clear();
                push_distinct_elements(items, &mut chosen);
                for &i in &chosen {
                    let v = &items[i as usize];
                    let hash = hash_values(std::iter::once(v));
                    ids.push(recall(
                        &mut recent[recent_entry(kl, hash)],
                        hash,
                        |e| same_value(v, e.value(d, width, s)),
                        || keys.intern(hash, || std::iter::once(v)),
                        (ok as u32, i),
                    ));
                }
                continue;
            }
            // Without an array among its values the record has one key, the
            // values themselves (hashed as `KeyCombos` hashes them); an array
            // fans out to a key per combination of its elements. Fields
            // declared with a type that is not an array hold none.
            if !scalar
                && slot_list
                    .iter()
                    .any(|s| matches!(slots[*s], Value::Array(_)))
            {
                combos.compute(slot_list, slots);
                combos.intern_into(slot_list, slots, keys, ids);
                continue;
            }
            let hash = hash_values(slot_list.iter().map(|s| &slots[*s]));
            ids.push(recall(
                &mut recent[recent_entry(kl, hash)],
                hash,
                |e| {
                    slot_list
                        .iter()
                        .all(|s| same_value(&slots[*s], e.value(d, width, *s)))
                },
                || keys.intern(hash, || slot_list.iter().map(|s| &slots[*s])),
                (ok as u32, WHOLE_VALUE),
            ));
        }
    }
    for ((starts, ids), scalar) in out.starts.iter_mut().zip(&out.ids).zip(&pe.key_list_scalar) {
        if !scalar {
            starts.push(ids.len() as u32);
        }
        debug_assert!(!scalar || ids.len() == n, "one key per record");
    }
    out
}

/// Interns the `count(DISTINCT)` arguments of one part's decoded records,
/// in input order, for the records that some state counting them passed.
fn intern_values(
    plan: &StreamPlan,
    pe: &PlanEval,
    d: &Decoded<'_>,
    values: &mut Interner,
) -> PartValues {
    let width = plan.fields.len();
    let n = d.ts.len();
    PartValues {
        ids: pe
            .distinct_slots
            .iter()
            .enumerate()
            .map(|(j, &s)| {
                let needed = passed_any(d, &pe.distinct_roots[j]);
                (0..n)
                    .map(|ok| {
                        let v = &d.slots[ok * width + s];
                        if v.is_null() || !has_bit(&needed, ok) {
                            NO_ID
                        } else {
                            values.intern(hash_value(v), v)
                        }
                    })
                    .collect()
            })
            .collect(),
    }
}

/// What phase 1 found out about one line.
enum RecStatus<'a> {
    /// An empty or all-blank line: skipped, not counted.
    Blank,
    /// Not accepted, and why.
    Reject(String),
    /// Decoded; its slots and root truths are the next in line.
    Ok {
        /// Event time.
        ts: i64,
        /// The line text.
        line: &'a str,
    },
}

struct DecodedLine<'a> {
    raw: &'a [u8],
    status: RecStatus<'a>,
}

/// Phase 1's output for one part of a batch.
#[derive(Default)]
struct Decoded<'a> {
    records: Vec<DecodedLine<'a>>,
    /// Slots of the accepted lines, `fields` values each.
    slots: Vec<Value<'a>>,
    /// Event time of each accepted line.
    ts: Vec<i64>,
    /// Per root predicate ([`PlanEval::root_nodes`]), per run of [`RUN`]
    /// accepted lines (the last one may be shorter), the mask of the run's
    /// lines for which it is TRUE: a column per root,
    /// `roots[root * runs + run]` ([`Decoded::root_column`]).
    roots: Vec<u64>,
    /// Per root, how many decoded lines it is TRUE for (late ones
    /// included): phase 2b's estimate of each state's work.
    root_hits: Vec<u32>,
    /// Phase 1's scratch: the same masks run by run, as they are evaluated.
    run_roots: Vec<u64>,
    /// The output of filter queries, in input order: (index into the
    /// plan's filters, row in `row_text`). Rows of one shape are built
    /// once per line.
    rows: Vec<(u32, RowSpan)>,
    /// The text of the rows.
    row_text: RowArena,
    /// Per accepted line, the end of its rows in `rows`.
    row_ends: Vec<u32>,
}

impl Decoded<'_> {
    /// Runs of [`RUN`] accepted lines (the last one may be shorter).
    fn runs(&self) -> usize {
        self.ts.len().div_ceil(RUN)
    }

    /// The masks of root `root` ([`PlanEval::root_nodes`]), run by run.
    fn root_column(&self, root: usize) -> &[u64] {
        let runs = self.runs();
        &self.roots[root * runs..(root + 1) * runs]
    }
}

/// What evaluating a plan needs beyond the plan itself, computed once when
/// the plan is built rather than per batch. A *root* is a predicate node
/// whose truth phase 2 reads: a state's filter or a filter query's WHERE.
struct PlanEval {
    /// What evaluating the predicate graph needs.
    shape: EvalShape,
    /// Root index of each state's filter, in plan order.
    state_roots: Vec<usize>,
    /// Root index → its node.
    root_nodes: Vec<u32>,
    /// Slots that some `count(DISTINCT)` counts, interned once per record.
    distinct_slots: Vec<usize>,
    /// Slot → its index in `distinct_slots` (`u32::MAX` if not there).
    distinct_index: Vec<u32>,
    /// Slots that some other aggregate reads, copied out per record in
    /// short form ([`AccArg`]) so that phase 2b reads compact columns.
    arg_slots: Vec<usize>,
    /// Slot → its index in `arg_slots` (`u32::MAX` if not there).
    arg_index: Vec<u32>,
    /// Per key list, the roots of the states grouping by it. A record's
    /// keys of a list are interned when one of them holds.
    key_list_roots: Vec<Vec<u32>>,
    /// Per key list, whether its fields are all declared with a type that
    /// is not an array, so that no accepted record holds an array there
    /// (coercion rejects it) and its one key is its values.
    key_list_scalar: Vec<bool>,
    /// Per entry of `distinct_slots`, the roots of the states counting it.
    /// A record's value is interned when one of them holds.
    distinct_roots: Vec<Vec<u32>>,
    /// The roots of the filter queries' predicates, ascending.
    filter_roots: Vec<u32>,
    /// Root index → the filter queries (plan indexes) whose predicate it is.
    filters_of_root: Vec<Vec<u32>>,
    /// The distinct row shapes of the filter queries: the projected fields
    /// (output name, slot), or `None` for the whole record.
    row_shapes: Vec<Option<RowFields>>,
    /// Per row shape, the text of its member names (`None` for the whole
    /// record).
    row_templates: Vec<Option<ObjectTemplate>>,
    /// Per filter query (plan index), its index in `row_shapes`.
    filter_shape: Vec<u32>,
}

impl PlanEval {
    /// What evaluating `plan` needs.
    fn new(plan: &StreamPlan) -> PlanEval {
        let shape = EvalShape::new(&plan.graph);
        let mut root_index = vec![u32::MAX; plan.graph.nodes.len()];
        let mut root_nodes = Vec::new();
        let mut root = |node: u32| {
            if root_index[node as usize] == u32::MAX {
                root_index[node as usize] = root_nodes.len() as u32;
                root_nodes.push(node);
            }
            root_index[node as usize] as usize
        };
        let state_roots: Vec<usize> = plan.states.iter().map(|s| root(s.filter)).collect();
        let filter_roots: Vec<usize> = plan.filters.iter().map(|f| root(f.filter)).collect();
        let n_roots = root_nodes.len();
        let mut distinct_slots: Vec<usize> = plan
            .states
            .iter()
            .flat_map(|s| &s.accs)
            .filter(|a| a.spec.distinct)
            .filter_map(|a| a.slot)
            .collect();
        distinct_slots.sort_unstable();
        distinct_slots.dedup();
        let mut distinct_index = vec![u32::MAX; plan.fields.len()];
        for (j, s) in distinct_slots.iter().enumerate() {
            distinct_index[*s] = j as u32;
        }
        let mut arg_slots: Vec<usize> = plan
            .states
            .iter()
            .flat_map(|s| &s.accs)
            .filter(|a| !a.spec.distinct)
            .filter_map(|a| a.slot)
            .collect();
        arg_slots.sort_unstable();
        arg_slots.dedup();
        let mut arg_index = vec![u32::MAX; plan.fields.len()];
        for (j, s) in arg_slots.iter().enumerate() {
            arg_index[*s] = j as u32;
        }
        let mut key_list_roots = vec![Vec::new(); plan.key_lists.len()];
        let mut distinct_roots = vec![Vec::new(); distinct_slots.len()];
        for (st, root) in plan.states.iter().zip(&state_roots) {
            key_list_roots[st.key_list].push(*root as u32);
            for a in st.accs.iter().filter(|a| a.spec.distinct) {
                if let Some(s) = a.slot {
                    distinct_roots[distinct_index[s] as usize].push(*root as u32);
                }
            }
        }
        let key_list_scalar = plan
            .key_lists
            .iter()
            .map(|slots| {
                slots.iter().all(|s| {
                    plan.declared_type(*s)
                        .is_some_and(|ty| !matches!(ty, DataType::Array(_)))
                })
            })
            .collect();
        for roots in key_list_roots.iter_mut().chain(distinct_roots.iter_mut()) {
            roots.sort_unstable();
            roots.dedup();
        }
        let mut filters_of_root = vec![Vec::new(); n_roots];
        let mut row_shapes: Vec<Option<RowFields>> = Vec::new();
        let mut filter_shape = Vec::with_capacity(plan.filters.len());
        for (f, (filter, root)) in plan.filters.iter().zip(&filter_roots).enumerate() {
            filters_of_root[*root].push(f as u32);
            let shape = match row_shapes.iter().position(|s| *s == filter.projection) {
                Some(i) => i,
                None => {
                    row_shapes.push(filter.projection.clone());
                    row_shapes.len() - 1
                }
            };
            filter_shape.push(shape as u32);
        }
        let mut filter_roots: Vec<u32> = filter_roots.iter().map(|r| *r as u32).collect();
        filter_roots.sort_unstable();
        filter_roots.dedup();
        let row_templates = row_shapes
            .iter()
            .map(|s| {
                s.as_ref()
                    .map(|fields| ObjectTemplate::new(fields.iter().map(|(name, _)| name)))
            })
            .collect();
        PlanEval {
            row_templates,
            key_list_roots,
            distinct_roots,
            filter_roots,
            filters_of_root,
            row_shapes,
            filter_shape,
            shape,
            state_roots,
            root_nodes,
            distinct_slots,
            distinct_index,
            arg_slots,
            arg_index,
            key_list_scalar,
        }
    }
}

/// A read buffer handed back by an emptied batch, or a new one while
/// fewer than [`READ_BUFFERS`] exist (`made` counts them); with that many
/// out, one is waited for (running pool work meanwhile, which may be the
/// emptying that hands it back): fresh buffers are paid for in page faults.
fn reuse_buffer(free: &std::sync::Mutex<Vec<Vec<u8>>>, made: &mut usize) -> Vec<u8> {
    loop {
        if let Some(buf) = free.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return buf;
        }
        if *made < READ_BUFFERS {
            *made += 1;
            return Vec::new();
        }
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::thread::yield_now();
        }
    }
}

/// Puts a read buffer back for the next batches.
fn give_back(free: &std::sync::Mutex<Vec<Vec<u8>>>, buf: Vec<u8>) {
    // A poisoned list is still a list of buffers: the buffer must come
    // back, or the reader would wait for it forever.
    free.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
}

/// Read buffers of [`StreamRuntime::push_chunks`]: one per batch decoded
/// ahead, one for the batch being finished and one for the batch being
/// emptied on the worker pool.
const READ_BUFFERS: usize = DECODE_AHEAD + 2;

/// Emptied vectors of decoded parts, kept for later batches: a batch's
/// vectors take megabytes, and fresh ones are paid for in page faults.
#[derive(Default)]
struct SparePool(std::sync::Mutex<Vec<Decoded<'static>>>);

/// Most sets of vectors kept: the batches in flight (one per read buffer:
/// those decoded ahead, the one being finished and one being emptied) of
/// [`WORKERS`] parts.
const SPARE_KEPT: usize = READ_BUFFERS * WORKERS;

/// Batches that [`StreamRuntime::push_chunks`] decodes ahead of the one it
/// finishes, so that a batch that takes long to finish (many windows
/// closing) does not leave the other threads without work.
const DECODE_AHEAD: usize = 3;

/// The decoded parts of one batch.
type DecodedParts<'a> = Vec<Decoded<'a>>;

self_cell::self_cell!(
    /// A batch's buffer and its decoded parts, which borrow its lines: a
    /// batch decoded ahead is owned by no stack frame while it waits.
    struct DecodedBatch {
        owner: Vec<u8>,
        #[covariant]
        dependent: DecodedParts,
    }
);

/// A batch decoded on the worker pool, with its decoding time, or the
/// panic that decoding it raised.
type DecodeOutcome = std::thread::Result<(DecodedBatch, std::time::Duration)>;

/// Where a batch decoded on the worker pool is left for the thread that
/// finishes batches in order.
#[derive(Clone, Default)]
struct DecodeSlot(Arc<(std::sync::Mutex<Option<DecodeOutcome>>, std::sync::Condvar)>);

impl DecodeSlot {
    /// Decodes `lines` of `buf` for `input` and leaves the outcome; a panic
    /// is kept for [`DecodeSlot::wait`] to raise again.
    fn decode(&self, input: &BatchInput, buf: Vec<u8>, lines: std::ops::Range<usize>) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let started = std::time::Instant::now();
            let batch = DecodedBatch::new(buf, |buf| input.decode(&buf[lines]));
            (batch, started.elapsed())
        }));
        let (slot, filled) = &*self.0;
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        filled.notify_one();
    }

    /// Waits for the decoded batch. A thread of the worker pool runs other
    /// pending work of the pool meanwhile (the decoding itself, when it is
    /// still queued); another thread sleeps until the batch is left.
    fn wait(&self) -> (DecodedBatch, std::time::Duration) {
        let (slot, filled) = &*self.0;
        loop {
            let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            match guard.take() {
                Some(Ok(done)) => return done,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None if rayon::current_thread_index().is_none() => {
                    drop(filled.wait(guard).unwrap_or_else(|e| e.into_inner()));
                }
                None => {
                    // Not holding the slot: the pending work may be this
                    // very decoding, which fills it.
                    drop(guard);
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }
}

impl SparePool {
    /// Empty vectors for one decoded part, reused when some are kept.
    fn take<'a>(&self) -> Decoded<'a> {
        let kept = self.0.lock().map(|mut v| v.pop()).unwrap_or(None);
        kept.unwrap_or_default()
    }

    /// Empties the parts of a finished batch and keeps their vectors.
    fn put(&self, parts: Vec<Decoded<'_>>) {
        let Ok(mut kept) = self.0.lock() else { return };
        for d in parts {
            if kept.len() >= SPARE_KEPT {
                break;
            }
            kept.push(Decoded {
                records: emptied(d.records),
                slots: emptied(d.slots),
                ts: emptied(d.ts),
                roots: emptied(d.roots),
                root_hits: emptied(d.root_hits),
                run_roots: emptied(d.run_roots),
                rows: emptied(d.rows),
                row_text: {
                    let mut text = d.row_text;
                    text.clear();
                    text
                },
                row_ends: emptied(d.row_ends),
            });
        }
    }
}

/// `v` emptied, its allocation kept for elements of another lifetime (the
/// standard library collects a mapped `into_iter` in place when the
/// element layouts agree, as they do here).
fn emptied<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// What decoding one batch needs, owned (so that a batch can be decoded on
/// the worker pool while the engine finishes the ones before it).
struct BatchInput {
    plan: Arc<StreamPlan>,
    eval: Arc<PlanEval>,
    fields: Arc<FieldSet>,
    columns: Option<Vec<Option<DataType>>>,
    def: Arc<StreamDef>,
    header: Option<CsvHeader>,
    /// For the log formats: the decoder and the batch's year context.
    log: Option<(Arc<LogDecoder>, YearContext)>,
    arrival_ms: i64,
    spare: Arc<SparePool>,
}

impl BatchInput {
    /// Phase 1: the lines `data` decoded and evaluated, in parts (in
    /// parallel when they are many).
    fn decode<'a>(&self, data: &'a [u8]) -> Vec<Decoded<'a>> {
        let ctx = DecodeCtx {
            log: self.log.as_ref().map(|(d, y)| (&**d, y)),
            plan: &self.plan,
            eval: &self.eval,
            fields: &self.fields,
            columns: self.columns.as_deref(),
            format: self.def.format,
            header: self.header.as_ref(),
            max_line: self.def.max_line,
            event_time: self.def.event_time.as_deref(),
            arrival_ms: self.arrival_ms,
            spare: &self.spare,
        };
        let parts = split_lines(
            data,
            if data.len() >= PARALLEL_MIN_BYTES {
                WORKERS
            } else {
                1
            },
        );
        if parts.len() == 1 {
            vec![ctx.decode(parts[0])]
        } else {
            let mut rest: Vec<Option<Decoded<'a>>> = parts[1..].iter().map(|_| None).collect();
            let first = rayon::in_place_scope(|s| {
                for (p, slot) in parts[1..].iter().zip(rest.iter_mut()) {
                    let ctx = &ctx;
                    s.spawn(move |_| *slot = Some(ctx.decode(p)));
                }
                ctx.decode(parts[0])
            });
            std::iter::once(first)
                .chain(rest.into_iter().map(|d| d.expect("decode worker ran")))
                .collect()
        }
    }
}

/// Everything phase 1 reads; shared by the worker threads.
struct DecodeCtx<'p> {
    plan: &'p StreamPlan,
    eval: &'p PlanEval,
    fields: &'p FieldSet,
    columns: Option<&'p [Option<DataType>]>,
    format: Format,
    header: Option<&'p CsvHeader>,
    /// For the log formats: the decoder and the batch's year context.
    log: Option<(&'p LogDecoder, &'p YearContext)>,
    max_line: usize,
    event_time: Option<&'p str>,
    arrival_ms: i64,
    spare: &'p SparePool,
}

impl DecodeCtx<'_> {
    /// Phase 1, for one part of a batch: decode, type, read event time, and
    /// evaluate the shared predicates.
    fn decode<'a>(&self, part: &'a [u8]) -> Decoded<'a> {
        let plan = self.plan;
        let pe = self.eval;
        let width = plan.fields.len();
        let n_roots = pe.root_nodes.len();
        let mut out = self.spare.take();
        let mut eval = Evaluator::new(&pe.shape, &plan.graph);
        let mut scratch = self.log.map(|(d, _)| d.scratch());
        // The filter queries that a run's lines matched, as (line in the
        // run) << 32 | (filter), and a line's rows by shape.
        let mut matched: Vec<u64> = Vec::new();
        let mut built: Vec<Option<Option<RowSpan>>> = vec![None; pe.row_shapes.len()];
        let mut key_order = decode::KeyOrder::default();
        // Lines are taken in runs of `RUN` decoded ones: all of a run
        // decoded, then all of it evaluated at once, so that each step's
        // tables (the decoder's, the scan automata, the predicate graph)
        // stay in cache across the run.
        let mut lines = lines_of(part).peekable();
        let mut run_lines: Vec<&'a str> = Vec::with_capacity(RUN);
        while lines.peek().is_some() {
            let first = out.ts.len();
            run_lines.clear();
            while run_lines.len() < RUN {
                let Some(raw) = lines.next() else { break };
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                // Decoded in place, into the next record's slots (all
                // `NULL`), which a line that is not accepted gives back.
                let at = out.slots.len();
                out.slots.resize_with(at + width, || Value::Null);
                let status =
                    self.decode_line(raw, &mut out.slots[at..], &mut scratch, &mut key_order);
                if let RecStatus::Ok { ts, line } = &status {
                    out.ts.push(*ts);
                    run_lines.push(line);
                } else {
                    out.slots.truncate(at);
                }
                out.records.push(DecodedLine { raw, status });
            }
            if run_lines.is_empty() {
                continue;
            }
            eval.start_run();
            eval.scan_run(
                &plan.graph,
                &out.slots[first * width..(first + run_lines.len()) * width],
                width,
            );
            for k in 0..run_lines.len() {
                let rec = &out.slots[(first + k) * width..(first + k + 1) * width];
                eval.atoms(&plan.graph, k, rec);
            }
            let valid = match run_lines.len() {
                RUN => !0,
                n => (1u64 << n) - 1,
            };
            eval.finish_run(valid);
            let base = out.run_roots.len();
            out.run_roots.extend(
                pe.root_nodes
                    .iter()
                    .map(|node| eval.true_mask(*node) & valid),
            );
            // Filter rows, line by line, each line's in filter order.
            matched.clear();
            for &r in &pe.filter_roots {
                for k in set_bits(out.run_roots[base + r as usize]) {
                    matched.extend(
                        pe.filters_of_root[r as usize]
                            .iter()
                            .map(|f| (k as u64) << 32 | u64::from(*f)),
                    );
                }
            }
            matched.sort_unstable();
            let mut next = matched.iter().peekable();
            for (k, line) in run_lines.iter().enumerate() {
                let rec = &out.slots[(first + k) * width..(first + k + 1) * width];
                let mut any = false;
                while let Some(m) = next.next_if(|m| (**m >> 32) as usize == k) {
                    let f = *m as u32;
                    any = true;
                    let shape = pe.filter_shape[f as usize] as usize;
                    let row = *built[shape].get_or_insert_with(|| {
                        self.build_row(shape, line, rec, &mut scratch, &mut out.row_text)
                    });
                    if let Some(row) = row {
                        out.rows.push((f, row));
                    }
                }
                if any {
                    built.iter_mut().for_each(|b| *b = None);
                }
                out.row_ends.push(out.rows.len() as u32);
            }
        }
        // The masks by root, so that phase 2 reads a root's column in a
        // row.
        let runs = out.runs();
        debug_assert_eq!(out.run_roots.len(), runs * n_roots);
        out.roots.resize(runs * n_roots, 0);
        out.root_hits.resize(n_roots, 0);
        for (run, masks) in out.run_roots.chunks_exact(n_roots.max(1)).enumerate() {
            for ((root, m), hits) in masks.iter().enumerate().zip(out.root_hits.iter_mut()) {
                out.roots[root * runs + run] = *m;
                *hits += m.count_ones();
            }
        }
        out.run_roots.clear();
        out
    }

    /// The row of shape `shape` ([`PlanEval::row_shapes`]) of a decoded
    /// line, added to `rows`, or `None` when the whole record cannot be
    /// rebuilt.
    fn build_row(
        &self,
        shape: usize,
        line: &str,
        slots: &[Value<'_>],
        scratch: &mut Option<LogScratch>,
        rows: &mut RowArena,
    ) -> Option<RowSpan> {
        match &self.eval.row_shapes[shape] {
            Some(fields) => Some(
                rows.push_template(
                    self.eval.row_templates[shape]
                        .as_ref()
                        .expect("a projected shape has a template"),
                    fields.iter().map(|(_, slot)| &slots[*slot]),
                ),
            ),
            None => match self.format {
                Format::Json => Some(rows.push_text(line.trim())),
                Format::Csv => {
                    let obj = decode::csv_row_object(line, self.header?).ok()?;
                    Some(rows.push_object(&obj))
                }
                Format::Regex | Format::Syslog | Format::Ascp => {
                    let (log, years) = self.log?;
                    let scratch = scratch.get_or_insert_with(|| log.scratch());
                    let obj = log.row_object(line, years, scratch).ok()?;
                    Some(rows.push_object(&obj))
                }
            },
        }
    }

    /// Decodes one line into `slots` (one per field, all `NULL`).
    fn decode_line<'a>(
        &self,
        raw: &'a [u8],
        slots: &mut [Value<'a>],
        scratch: &mut Option<LogScratch>,
        key_order: &mut decode::KeyOrder,
    ) -> RecStatus<'a> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return RecStatus::Blank;
        }
        if raw.len() > self.max_line {
            return RecStatus::Reject(format!(
                "line of {} bytes is longer than max_line ({})",
                raw.len(),
                self.max_line
            ));
        }
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l,
            Err(e) => {
                return RecStatus::Reject(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
            }
        };
        let decoded = match (self.format, self.header) {
            (Format::Json, _) => decode::decode_json_in_order(line, self.fields, slots, key_order),
            (Format::Csv, Some(h)) => decode::decode_csv(line, h, slots),
            (Format::Csv, None) => return RecStatus::Reject("CSV line before any header".into()),
            (Format::Regex | Format::Syslog | Format::Ascp, _) => match (self.log, scratch) {
                (Some((d, years)), Some(scratch)) => d.decode(line, years, scratch, slots),
                _ => return RecStatus::Reject("no decoder for the stream's format".into()),
            },
        };
        if let Err(e) = decoded {
            return RecStatus::Reject(e.to_string());
        }
        if let Some(types) = self.columns {
            for (i, ty) in types.iter().enumerate() {
                if let Some(Err(e)) = ty
                    .as_ref()
                    .map(|ty| decode::coerce_in_place(&mut slots[i], ty))
                {
                    return RecStatus::Reject(format!("field `{}`: {e}", self.plan.fields[i]));
                }
            }
        }
        let ts = match self.plan.event_time_slot {
            None => self.arrival_ms,
            Some(slot) => match decode::event_time_ms(&slots[slot]) {
                Some(t) => t,
                None => {
                    return RecStatus::Reject(format!(
                        "missing or invalid event time `{}`",
                        self.event_time.unwrap_or("")
                    ))
                }
            },
        };
        RecStatus::Ok { ts, line }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_by_weight_keeps_order_and_balances_the_runs() {
        let cases: Vec<(Vec<u64>, usize)> = vec![
            (vec![1; 100], 8),
            (vec![5, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2),
            (vec![100, 1, 1, 1], 8),
            (vec![1, 1, 1, 100], 2),
            (vec![3], 8),
            ((1..=64).collect(), 4),
        ];
        for (weights, n) in cases {
            let mut items: Vec<usize> = (0..weights.len()).collect();
            let runs = cut_by_weight(&mut items, &weights, n);
            assert!(!runs.is_empty() && runs.len() <= n, "{weights:?}: {runs:?}");
            assert!(runs.iter().all(|r| !r.is_empty()), "{weights:?}: {runs:?}");
            let flat: Vec<usize> = runs.iter().flat_map(|r| r.iter().copied()).collect();
            assert_eq!(flat, (0..weights.len()).collect::<Vec<_>>());
            // No run is heavier than a share of the total plus its last
            // item (which it took to reach the share).
            let total: u64 = weights.iter().sum();
            for r in &runs {
                let w: u64 = r.iter().map(|i| weights[*i]).sum();
                let last = weights[*r.last().expect("non-empty")];
                assert!(w <= total / n as u64 + last + 1, "{weights:?}: {runs:?}");
            }
        }
        // Equal weights give equal runs.
        let mut items: Vec<usize> = (0..100).collect();
        let lens: Vec<usize> = cut_by_weight(&mut items, &[1; 100], 4)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(lens, vec![25, 25, 25, 25]);
    }

    #[test]
    fn emptied_vectors_keep_their_allocation_across_lifetimes() {
        let text = String::from("borrowed");
        let mut v: Vec<Value<'_>> = Vec::with_capacity(1000);
        v.push(Value::Str(text.as_str().into()));
        v.push(Value::Array(vec![Value::Int(1)]));
        let at = v.as_ptr() as usize;
        let kept: Vec<Value<'static>> = emptied(v);
        assert!(kept.is_empty());
        assert_eq!(kept.capacity(), 1000);
        assert_eq!(kept.as_ptr() as usize, at);
    }

    #[test]
    fn spare_pool_hands_back_emptied_parts() {
        let pool = SparePool::default();
        let text = String::from("{}");
        let mut d = pool.take();
        d.records.reserve(500);
        d.records.push(DecodedLine {
            raw: text.as_bytes(),
            status: RecStatus::Blank,
        });
        d.ts.extend([1, 2, 3]);
        pool.put(vec![d]);
        let again = pool.take();
        assert!(again.records.is_empty() && again.ts.is_empty());
        assert!(again.records.capacity() >= 500);
    }

    #[test]
    fn read_buffers_are_waited_for_once_all_are_out() {
        let free: Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Arc::default();
        let mut made = 0;
        let mut out: Vec<Vec<u8>> = (0..READ_BUFFERS)
            .map(|_| reuse_buffer(&free, &mut made))
            .collect();
        assert_eq!(made, READ_BUFFERS);
        let mut back = out.pop().expect("some buffer");
        back.reserve(1234);
        let at = back.as_ptr() as usize;
        let handing = free.clone();
        let giver = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            give_back(&handing, back);
        });
        let again = reuse_buffer(&free, &mut made);
        assert_eq!(again.as_ptr() as usize, at);
        assert_eq!(made, READ_BUFFERS);
        giver.join().expect("the giver ran");
    }
}
