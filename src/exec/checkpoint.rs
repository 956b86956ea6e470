//! Engine checkpoints: everything dynamic in an [`Engine`], as plain
//! serializable data, and its restoration.
//!
//! A checkpoint holds, per stream, what records have changed since the
//! statements ran: the largest event time seen, the counters, and the
//! aggregation states with their descriptors (which queries share them,
//! their accumulator lists, when they were created) and their data (panes
//! and running groups with their partial aggregates), and per aggregate
//! query its window bookkeeping (first reportable window, next window to
//! close, the state it reads). What statements alone determine (stream
//! definitions, query specs, the shared plan, compiled automata) is not in
//! it: a checkpoint is restored into an engine on which the same catalog
//! statements were executed again, and the plans are rebuilt from the
//! restored descriptors.
//!
//! Groups are read through [`GroupTable::groups`] and put back through
//! [`GroupTable::merge_group`], and partial aggregates ([`Acc`]) keep their
//! own serde form, so a checkpoint does not depend on how tables are laid
//! out in memory. Group keys are saved as their values, not as the ids of
//! the stream's [`KeyInterner`], which is rebuilt on restore. The recent-rejects list is not part of a checkpoint (its
//! counter is).
//!
//! Values go through their JSON form: nested-object values held in state
//! (grouped on, or a `min`/`max` of an object) come back in serde_json's
//! compact formatting, and non-finite floats come back as `null`.

use super::aggregate::Acc;
use super::engine::{Engine, StreamStats};
use super::intern::{Interner, KeyInterner, ValueId};
use super::state::{AggState, GroupTable};
use super::window::AggRuntime;
use crate::planner::plan::{StateDesc, StateId};
use crate::planner::AggSpec;
use crate::value::OwnedValue;
use crate::value_map::{hash_value, hash_values};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Format version written into every checkpoint; restore refuses others.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Everything dynamic in an engine.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EngineCheckpoint {
    /// [`CHECKPOINT_VERSION`] when written.
    pub version: u32,
    /// One entry per stream, by name.
    pub streams: Vec<StreamCheckpoint>,
}

/// The dynamic part of one stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    /// The stream's name.
    pub name: String,
    /// Largest accepted event time (the watermark follows from it).
    pub max_ts: Option<i64>,
    /// The stream's counters.
    pub stats: StreamStats,
    /// The id the next new aggregation state gets.
    pub next_state: StateId,
    /// Aggregation states, descriptors and data.
    pub states: Vec<StateCheckpoint>,
    /// Window bookkeeping of each aggregate query.
    pub queries: Vec<QueryCheckpoint>,
    /// The stream's interned `count(DISTINCT)` values with their ids:
    /// distinct sets in `states` hold these ids.
    #[serde(default)]
    pub interned: Vec<(ValueId, OwnedValue)>,
}

/// One aggregation state: what it computes and what it holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StateCheckpoint {
    /// The state's id.
    pub id: StateId,
    /// Group key fields.
    pub keys: Vec<String>,
    /// Pane length; `None` for running totals.
    pub pane_ms: Option<i64>,
    /// Accumulators in storage order (only ever appended to, so entries of
    /// queries dropped since may remain).
    pub accs: Vec<AggSpec>,
    /// Names of the queries that read it.
    pub queries: Vec<String>,
    /// Records the stream had taken in when it was created.
    pub created_at_record: u64,
    /// Records that passed its filter.
    pub matched: u64,
    /// Updates refused at the group limit.
    #[serde(default)]
    pub dropped: u64,
    /// Groups of a running state.
    pub running: Vec<GroupCheckpoint>,
    /// Panes of a windowed state, by start.
    pub panes: Vec<PaneCheckpoint>,
}

/// One pane's groups.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PaneCheckpoint {
    /// Pane start, epoch milliseconds.
    pub start: i64,
    /// Its groups.
    pub groups: Vec<GroupCheckpoint>,
}

/// One group: its key values and its partial aggregates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupCheckpoint {
    /// The key values, in the state's key order.
    pub key: Box<[OwnedValue]>,
    /// The accumulators, in the state's accumulator order (possibly fewer).
    pub accs: Vec<Acc>,
}

/// Window bookkeeping of one aggregate query.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueryCheckpoint {
    /// The query's name.
    pub name: String,
    /// The state it reads.
    pub state: StateId,
    /// Windows starting before this are not reported.
    pub first_start: i64,
    /// Earliest window start not yet closed.
    pub next_start: i64,
}

/// Why a checkpoint cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Written by another format version.
    #[error("checkpoint format {found} is not supported (expected {CHECKPOINT_VERSION})")]
    Version {
        /// The version found.
        found: u32,
    },
    /// The checkpoint and the engine's catalog disagree.
    #[error("checkpoint does not match the catalog: {0}")]
    Mismatch(String),
    /// The plan cannot be rebuilt from the restored descriptors.
    #[error("cannot rebuild the plan of stream `{stream}`: {message}")]
    Plan {
        /// The stream.
        stream: String,
        /// Why.
        message: String,
    },
}

fn groups_of(t: &GroupTable, keys: &KeyInterner) -> Vec<GroupCheckpoint> {
    t.groups()
        .map(|g| GroupCheckpoint {
            key: keys.key(g.key).into(),
            accs: g.accs.to_vec(),
        })
        .collect()
}

fn table_of(groups: &[GroupCheckpoint], keys: &mut KeyInterner) -> GroupTable {
    let mut t = GroupTable::default();
    for g in groups {
        let id = keys.intern(hash_values(g.key.iter()), || g.key.iter());
        t.merge_group(id, &g.accs);
    }
    t
}

impl Engine {
    /// A snapshot of everything dynamic in the engine. Cheap relative to
    /// processing (one copy of every group), and consistent: it is taken
    /// between two batches, on the thread that owns the engine.
    pub fn checkpoint(&self) -> EngineCheckpoint {
        let streams = self
            .streams
            .values()
            .map(|rt| {
                let states = rt
                    .state_descs
                    .iter()
                    .map(|(id, desc)| {
                        let data = rt.states.get(id);
                        StateCheckpoint {
                            id: *id,
                            keys: desc.keys.clone(),
                            pane_ms: desc.pane_ms,
                            accs: desc.accs.clone(),
                            queries: desc.queries.iter().map(|q| q.to_string()).collect(),
                            created_at_record: desc.created_at_record,
                            matched: data.map_or(0, |d| d.matched),
                            dropped: data.map_or(0, |d| d.dropped),
                            running: data
                                .map_or_else(Vec::new, |d| groups_of(&d.running, &rt.keys)),
                            panes: data.map_or_else(Vec::new, |d| {
                                d.panes
                                    .iter()
                                    .map(|(start, t)| PaneCheckpoint {
                                        start: *start,
                                        groups: groups_of(t, &rt.keys),
                                    })
                                    .collect()
                            }),
                        }
                    })
                    .collect();
                let queries = rt
                    .aggs
                    .iter()
                    .map(|(name, q)| QueryCheckpoint {
                        name: name.to_string(),
                        state: q.state,
                        first_start: q.first_start,
                        next_start: q.next_start,
                    })
                    .collect();
                StreamCheckpoint {
                    name: rt.def().name.clone(),
                    max_ts: rt.max_ts,
                    stats: rt.stats.clone(),
                    next_state: rt.next_state,
                    states,
                    queries,
                    interned: rt
                        .interner
                        .entries()
                        .map(|(id, v)| (id, v.clone()))
                        .collect(),
                }
            })
            .collect();
        EngineCheckpoint {
            version: CHECKPOINT_VERSION,
            streams,
        }
    }

    /// Restores a checkpoint into this engine, on which the statements that
    /// made the checkpointed catalog have been executed again (in the same
    /// order) and no record has been pushed. The catalog must match: the
    /// same streams, and the same aggregate queries on each. On error the
    /// engine may be partly restored and should be discarded.
    pub fn restore(&mut self, cp: &EngineCheckpoint) -> Result<(), RestoreError> {
        if cp.version != CHECKPOINT_VERSION {
            return Err(RestoreError::Version { found: cp.version });
        }
        let mismatch = |m: String| RestoreError::Mismatch(m);
        let names: BTreeSet<&str> = cp.streams.iter().map(|s| s.name.as_str()).collect();
        if let Some(extra) = self.streams.keys().find(|n| !names.contains(n.as_str())) {
            return Err(mismatch(format!(
                "stream `{extra}` is not in the checkpoint"
            )));
        }
        for s in &cp.streams {
            let rt = self
                .streams
                .get_mut(&s.name)
                .ok_or_else(|| mismatch(format!("no stream `{}` in the catalog", s.name)))?;
            let saved: BTreeSet<&str> = s.queries.iter().map(|q| q.name.as_str()).collect();
            let live: BTreeSet<&str> = rt.aggs.keys().map(|k| k.as_ref()).collect();
            if saved != live {
                return Err(mismatch(format!(
                    "stream `{}`: aggregate queries {:?} in the checkpoint, {:?} in the catalog",
                    s.name, saved, live
                )));
            }
            let mut descs = BTreeMap::new();
            let mut states = std::collections::HashMap::new();
            let mut keys = KeyInterner::new();
            for st in &s.states {
                // Every query of a state has the state's filter.
                let filter = st
                    .queries
                    .iter()
                    .find_map(|q| rt.queries.get(q.as_str()))
                    .map(|q| q.filter.clone())
                    .ok_or_else(|| {
                        mismatch(format!(
                            "state {} of stream `{}` is read by no known query",
                            st.id, s.name
                        ))
                    })?;
                descs.insert(
                    st.id,
                    StateDesc {
                        filter,
                        keys: st.keys.clone(),
                        pane_ms: st.pane_ms,
                        accs: st.accs.clone(),
                        queries: st.queries.iter().map(|q| Arc::from(q.as_str())).collect(),
                        created_at_record: st.created_at_record,
                    },
                );
                states.insert(
                    st.id,
                    AggState {
                        panes: st
                            .panes
                            .iter()
                            .map(|p| (p.start, table_of(&p.groups, &mut keys)))
                            .collect(),
                        running: table_of(&st.running, &mut keys),
                        matched: st.matched,
                        dropped: st.dropped,
                    },
                );
            }
            let mut aggs = BTreeMap::new();
            for q in &s.queries {
                let (key, old) = rt
                    .aggs
                    .get_key_value(q.name.as_str())
                    .expect("checked above");
                let desc = descs.get(&q.state).ok_or_else(|| {
                    mismatch(format!(
                        "query `{}` reads unknown state {}",
                        q.name, q.state
                    ))
                })?;
                let acc_map = old
                    .agg()
                    .aggs
                    .iter()
                    .map(|a| desc.accs.iter().position(|x| x == a))
                    .collect::<Option<Vec<usize>>>()
                    .ok_or_else(|| {
                        mismatch(format!(
                            "state {} lacks an aggregate of query `{}`",
                            q.state, q.name
                        ))
                    })?;
                aggs.insert(
                    key.clone(),
                    AggRuntime {
                        spec: old.spec.clone(),
                        state: q.state,
                        acc_map,
                        first_start: q.first_start,
                        next_start: q.next_start,
                    },
                );
            }
            let interner = Interner::from_entries(s.interned.iter().cloned(), |v| hash_value(v))
                .map_err(|m| mismatch(format!("stream `{}`: {m}", s.name)))?;
            rt.interned_after_sweep = interner.len();
            rt.interner = interner;
            rt.keys_after_sweep = keys.len();
            rt.keys = keys;
            rt.state_descs = descs;
            rt.states = states;
            rt.aggs = aggs;
            rt.next_state = s.next_state;
            rt.max_ts = s.max_ts;
            rt.stats = s.stats.clone();
            rt.rebuild().map_err(|message| RestoreError::Plan {
                stream: s.name.clone(),
                message,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Origin, QueryResult};

    const SQL: &str = "CREATE STREAM s WITH (format = 'json', event_time = 'ts', watermark = '100ms');
        CREATE QUERY w AS SELECT k, count(*) AS c, count(DISTINCT n) AS d, min(n) AS lo FROM s GROUP BY k WINDOW SLIDING 300ms EVERY 100ms;
        CREATE QUERY t AS SELECT k, sum(n) AS total, avg(n) AS mean FROM s GROUP BY k;";

    fn lines(from: i64, to: i64) -> Vec<u8> {
        let mut out = String::new();
        for i in from..to {
            let n = if i % 3 == 0 {
                format!("{}.25", i % 7)
            } else {
                (i % 5).to_string()
            };
            out.push_str(&format!(
                "{{\"ts\": {}, \"k\": \"{}\", \"n\": {n}}}\n",
                1000 + i * 37,
                ["a", "b", "c"][(i % 3) as usize]
            ));
        }
        out.into_bytes()
    }

    #[test]
    fn restored_engine_continues_like_the_original() {
        let mut whole = Engine::new();
        whole.execute(SQL).unwrap();
        let mut expected: Vec<QueryResult> = Vec::new();
        let mut o = Origin::new("f");
        whole
            .push_lines("s", &mut o, &lines(0, 60), 0, &mut expected)
            .unwrap();
        whole
            .push_lines("s", &mut o, &lines(60, 130), 0, &mut expected)
            .unwrap();
        whole.flush(&mut expected);

        let mut first = Engine::new();
        first.execute(SQL).unwrap();
        let mut got: Vec<QueryResult> = Vec::new();
        first
            .push_lines("s", &mut Origin::new("f"), &lines(0, 60), 0, &mut got)
            .unwrap();
        let json = serde_json::to_string(&first.checkpoint()).unwrap();
        drop(first);
        let mut second = Engine::new();
        second.execute(SQL).unwrap();
        second
            .restore(&serde_json::from_str(&json).unwrap())
            .unwrap();
        second
            .push_lines("s", &mut Origin::new("f"), &lines(60, 130), 0, &mut got)
            .unwrap();
        second.flush(&mut got);
        assert!(expected.len() > 20);
        assert_eq!(got, expected);
        assert_eq!(
            second.stream("s").unwrap().stats(),
            whole.stream("s").unwrap().stats()
        );
    }

    /// Runs `sql` over records whose `field` takes the values `before`,
    /// checkpoints (through JSON) and restores into a fresh engine, runs the
    /// values `after`, flushes, and returns the checkpoint text and the
    /// flushed results as JSON.
    fn across_a_restore(
        sql: &str,
        field: &str,
        before: &[&str],
        after: &[&str],
    ) -> (String, serde_json::Value) {
        let rows = |vs: &[&str]| -> Vec<u8> {
            vs.iter()
                .map(|v| format!("{{\"{field}\": \"{v}\"}}\n"))
                .collect::<String>()
                .into_bytes()
        };
        let mut sink: Vec<QueryResult> = Vec::new();
        let mut first = Engine::new();
        first.execute(sql).unwrap();
        first
            .push_lines("s", &mut Origin::new("f"), &rows(before), 0, &mut sink)
            .unwrap();
        let saved = serde_json::to_string(&first.checkpoint()).unwrap();
        let mut second = Engine::new();
        second.execute(sql).unwrap();
        second
            .restore(&serde_json::from_str(&saved).unwrap())
            .unwrap();
        second
            .push_lines("s", &mut Origin::new("f"), &rows(after), 0, &mut sink)
            .unwrap();
        let mut got: Vec<QueryResult> = Vec::new();
        second.flush(&mut got);
        (saved, serde_json::to_value(&got).unwrap())
    }

    #[test]
    fn distinct_values_keep_their_identity_across_a_restore() {
        // The restored engine meets new values before old ones, so fresh ids
        // would collide with the ids held in the restored sets.
        let (_, json) = across_a_restore(
            "CREATE STREAM s WITH (format = 'json');
             CREATE QUERY d AS SELECT count(DISTINCT v) AS n FROM s;",
            "v",
            &["x", "y"],
            &["z", "x", "w"],
        );
        assert_eq!(json[0]["values"]["n"], 4, "{json}");
    }

    #[test]
    fn group_keys_keep_their_identity_across_a_restore() {
        // Keys are saved as values: after a restore, new keys get fresh ids
        // and old keys find their restored groups.
        let (saved, json) = across_a_restore(
            "CREATE STREAM s WITH (format = 'json');
             CREATE QUERY g AS SELECT k, count(*) AS n FROM s GROUP BY k;",
            "k",
            &["x", "y"],
            &["z", "x", "w", "y", "x"],
        );
        assert!(saved.contains("\"key\":[\"x\"]"), "{saved}");
        let counts: Vec<(String, i64)> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["group"]["k"].as_str().unwrap().to_string(),
                    r["values"]["n"].as_i64().unwrap(),
                )
            })
            .collect();
        let expect = [("w", 1), ("x", 3), ("y", 2), ("z", 1)];
        assert_eq!(
            counts,
            expect.map(|(k, n)| (k.to_string(), n)).to_vec(),
            "{json}"
        );
    }

    #[test]
    fn a_catalog_that_differs_is_refused() {
        let mut first = Engine::new();
        first.execute(SQL).unwrap();
        let cp = first.checkpoint();
        let mut other = Engine::new();
        other
            .execute("CREATE STREAM s WITH (format = 'json', event_time = 'ts');")
            .unwrap();
        assert!(matches!(other.restore(&cp), Err(RestoreError::Mismatch(_))));
        let mut old = cp.clone();
        old.version = 0;
        assert!(matches!(
            first.restore(&old),
            Err(RestoreError::Version { found: 0 })
        ));
    }
}
