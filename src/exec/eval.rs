//! Evaluates a stream's shared predicate graph against one record.
//!
//! Every atom is answered once per record: by one hash lookup per field for
//! `=`/`IN`, by one multi-pattern scan per field for `CONTAINS`/`MATCHES`,
//! one by one for the rest. Compound nodes follow in id order, which is a
//! topological order. Results are SQL truth values in a reused buffer.

use crate::planner::graph::{value_class, EqIndex, FieldScanner, Op, PredGraph, SingleAtom};
use crate::planner::query::cmp_holds;
use crate::planner::Truth;
use crate::value::Value;
use regex_automata::{Input, PatternSet};

/// Reusable buffers for evaluation.
#[derive(Debug)]
pub struct Evaluator {
    /// Truth value per node, valid after [`Evaluator::evaluate`].
    pub truth: Vec<Truth>,
    patsets: Vec<PatternSet>,
}

impl Evaluator {
    /// Buffers sized for `graph`.
    pub fn new(graph: &PredGraph) -> Evaluator {
        let mut truth = vec![Truth::Unknown; graph.nodes.len()];
        for (id, t) in &graph.consts {
            truth[*id as usize] = *t;
        }
        let patsets = graph
            .scanners
            .iter()
            .map(|s| PatternSet::new(s.regexes.len()))
            .collect();
        Evaluator { truth, patsets }
    }

    /// Evaluates every node for the record whose fields are `record`.
    #[inline]
    pub fn evaluate(&mut self, graph: &PredGraph, record: &[Value<'_>]) {
        for idx in &graph.eq_indexes {
            eval_eq(idx, &record[idx.slot], &mut self.truth);
        }
        for (sc, ps) in graph.scanners.iter().zip(self.patsets.iter_mut()) {
            eval_scanner(sc, &record[sc.slot], &mut self.truth, ps);
        }
        for s in &graph.singles {
            let (node, t) = match s {
                SingleAtom::Cmp {
                    node,
                    slot,
                    op,
                    value,
                } => (
                    *node,
                    Truth::from_option(record[*slot].sql_cmp(value).map(|o| cmp_holds(*op, o))),
                ),
                SingleAtom::CmpFields {
                    node,
                    left,
                    op,
                    right,
                } => (
                    *node,
                    Truth::from_option(
                        record[*left]
                            .sql_cmp(&record[*right])
                            .map(|o| cmp_holds(*op, o)),
                    ),
                ),
                SingleAtom::IsNull { node, slot } => (
                    *node,
                    if record[*slot].is_null() {
                        Truth::True
                    } else {
                        Truth::False
                    },
                ),
            };
            self.truth[node as usize] = t;
        }
        let truth = &mut self.truth;
        for ins in &graph.program {
            let (start, end) = (ins.start as usize, (ins.start + ins.len) as usize);
            let t = match ins.op {
                Op::Not => !truth[ins.start as usize],
                Op::And => and_all(&graph.program_args[start..end], truth),
                Op::Or => or_any(&graph.program_args[start..end], truth),
            };
            truth[ins.node as usize] = t;
        }
    }
}

/// Three-valued AND over the children, without data-dependent branches
/// (which branch predictors miss on predicate data): false if any child is
/// false, else unknown if any is unknown, else true.
#[inline]
fn and_all(children: &[u32], truth: &[Truth]) -> Truth {
    let (mut any_false, mut any_unknown) = (0u8, 0u8);
    for c in children {
        let t = truth[*c as usize] as u8;
        any_false |= (t == Truth::False as u8) as u8;
        any_unknown |= (t == Truth::Unknown as u8) as u8;
    }
    match (1 - any_false) * (1 + any_unknown) {
        0 => Truth::False,
        1 => Truth::True,
        _ => Truth::Unknown,
    }
}

/// Three-valued OR over the children, without data-dependent branches: true
/// if any child is true, else unknown if any is unknown, else false.
#[inline]
fn or_any(children: &[u32], truth: &[Truth]) -> Truth {
    let (mut any_true, mut any_unknown) = (0u8, 0u8);
    for c in children {
        let t = truth[*c as usize] as u8;
        any_true |= (t == Truth::True as u8) as u8;
        any_unknown |= (t == Truth::Unknown as u8) as u8;
    }
    match any_true + (1 - any_true) * 2 * any_unknown {
        0 => Truth::False,
        1 => Truth::True,
        _ => Truth::Unknown,
    }
}

/// Sets to true the nodes of every regex of `sc` that matches `text`.
#[inline]
fn mark_regex_matches(sc: &FieldScanner, text: &str, truth: &mut [Truth], patset: &mut PatternSet) {
    if let Some(re) = &sc.regex_set {
        patset.clear();
        re.which_overlapping_matches(&Input::new(text), patset);
        for p in patset.iter() {
            for n in &sc.regex_nodes[p.as_usize()] {
                truth[*n as usize] = Truth::True;
            }
        }
    }
}

#[inline]
fn eval_eq(idx: &EqIndex, v: &Value<'_>, truth: &mut [Truth]) {
    if v.is_null() {
        for a in &idx.atoms {
            truth[a.node as usize] = Truth::Unknown;
        }
        return;
    }
    // Not equal to any literal: false, unless some literal is of another
    // class (not comparable: unknown) or the list had a NULL.
    let class = value_class(v);
    for a in &idx.atoms {
        truth[a.node as usize] = if a.has_null || a.classes & !class != 0 {
            Truth::Unknown
        } else {
            Truth::False
        };
    }
    if let Some(hits) = idx.map.get(v) {
        for ai in hits {
            truth[idx.atoms[*ai as usize].node as usize] = Truth::True;
        }
    }
}

#[inline]
fn eval_scanner(sc: &FieldScanner, v: &Value<'_>, truth: &mut [Truth], patset: &mut PatternSet) {
    let fill = match v {
        Value::Str(_) | Value::Array(_) => Truth::False,
        _ => Truth::Unknown,
    };
    for n in &sc.nodes {
        truth[*n as usize] = fill;
    }
    match v {
        Value::Str(s) => {
            if let Some(ac) = &sc.literal_automaton {
                for m in ac.find_overlapping_iter(s.as_ref()) {
                    for n in &sc.literal_nodes[m.pattern().as_usize()] {
                        truth[*n as usize] = Truth::True;
                    }
                }
            }
            mark_regex_matches(sc, s, truth, patset);
        }
        Value::Array(items) => {
            for item in items {
                let Value::Str(s) = item else { continue };
                if let Some(i) = sc.members.get(s.as_ref()) {
                    for n in &sc.literal_nodes[*i as usize] {
                        truth[*n as usize] = Truth::True;
                    }
                }
                mark_regex_matches(sc, s, truth, patset);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Truth::*;

    #[test]
    fn branchless_junctions_follow_three_valued_logic() {
        let truth = [False, True, Unknown];
        for a in 0..3u32 {
            for b in 0..3u32 {
                let (x, y) = (truth[a as usize], truth[b as usize]);
                assert_eq!(and_all(&[a, b], &truth), x.and(y), "{x:?} AND {y:?}");
                assert_eq!(or_any(&[a, b], &truth), x.or(y), "{x:?} OR {y:?}");
            }
        }
        assert_eq!(and_all(&[], &truth), True);
        assert_eq!(or_any(&[], &truth), False);
    }
}
