//! Evaluates a stream's shared predicate graph against one record.
//!
//! Every atom is answered once per record: by one hash lookup per field for
//! `=`/`IN`, by one multi-pattern scan per field for `CONTAINS`/`MATCHES`,
//! one by one for the rest. Results are SQL truth values in a reused buffer.
//!
//! Compound nodes are evaluated sparsely. Each node has a static *default*:
//! its value when every atom is false. A node can differ from its default
//! only if some atom below it is not false, and for a given record almost
//! every atom is false (a tweet is in one language and mentions few terms).
//! So per record only the ancestors of the non-false atoms are evaluated, in
//! id order (children have smaller ids than parents); every other node keeps
//! its default. With a thousand queries this visits tens of nodes instead of
//! hundreds.

use crate::planner::graph::{value_class, EqIndex, FieldScanner, Op, PredGraph, SingleAtom};
use crate::planner::query::cmp_holds;
use crate::planner::Truth;
use crate::value::Value;
use regex_automata::{Input, PatternID, PatternSet};

/// What sparse evaluation needs to know about a graph: each node's default,
/// the activation edges, the atoms. Built once per plan, shared by every
/// batch and thread that evaluates it.
#[derive(Debug)]
pub struct EvalShape {
    /// Each node's value when every atom is false.
    defaults: Vec<Truth>,
    /// Per node, the compound nodes it activates, directly or through
    /// other nodes (the closure of the activation edges), as ranges into
    /// `activates`. Only atoms' ranges are read.
    activates_start: Vec<u32>,
    activates: Vec<u32>,
    /// Index in the graph's program of each compound node.
    instr_of: Vec<u32>,
    /// Per equality index, per value class ([`class_index`]), the atoms
    /// that are unknown (not false) for a value of that class that matches
    /// none of their literals.
    eq_unknown: Vec<[Vec<u32>; CLASSES]>,
}

/// Value classes ([`value_class`]) plus one for null.
const CLASSES: usize = 6;

/// The index of a value class ([`value_class`]): 0 for null, else its bit's
/// position plus one.
fn class_index(class: u8) -> usize {
    match class {
        0 => 0,
        c => c.trailing_zeros() as usize + 1,
    }
}

impl EvalShape {
    /// The shape of `graph`. `rates`, when given, is how often each atom
    /// was seen not false (per node, in `[0, 1]`), to choose guards by
    /// (static guesses otherwise).
    pub fn new(graph: &PredGraph, rates: Option<&[f64]>) -> EvalShape {
        let n = graph.nodes.len();
        let mut truth = vec![Truth::False; n];
        for (id, t) in &graph.consts {
            truth[*id as usize] = *t;
        }
        // Defaults: atoms false, constants as they are, the program on top.
        for ins in &graph.program {
            truth[ins.node as usize] = eval_instr(graph, ins, &truth);
        }
        // Activation edges, child → parent. An AND is activated only through
        // one guard child whose default is false (the one least likely to
        // hold): while the guard stays false the AND is false, its default.
        // OR and NOT are activated through every child. So a node that is not
        // activated always equals its default.
        let likely = likelihoods(graph, rates);
        let mut instr_of = vec![u32::MAX; n];
        let mut children_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (k, ins) in graph.program.iter().enumerate() {
            instr_of[ins.node as usize] = k as u32;
            let kids: &[u32] = match ins.op {
                Op::Not => std::slice::from_ref(&ins.start),
                _ => &graph.program_args[ins.start as usize..(ins.start + ins.len) as usize],
            };
            let guard = (ins.op == Op::And)
                .then(|| {
                    kids.iter()
                        .copied()
                        .filter(|c| truth[*c as usize] == Truth::False)
                        .min_by(|a, b| likely[*a as usize].total_cmp(&likely[*b as usize]))
                })
                .flatten();
            match guard {
                Some(g) => children_of[g as usize].push(ins.node),
                None => kids
                    .iter()
                    .for_each(|c| children_of[*c as usize].push(ins.node)),
            }
        }
        let atom_nodes: Vec<u32> = (0..n as u32)
            .filter(|id| {
                matches!(
                    graph.nodes[*id as usize],
                    crate::planner::graph::Node::Atom(_)
                )
            })
            .collect();
        // The closure of each atom's activation edges, in id order.
        let mut activates_start = vec![0u32; n + 1];
        let mut activates = Vec::new();
        let mut seen = vec![false; n];
        let mut stack = Vec::new();
        let mut reached = Vec::new();
        for a in &atom_nodes {
            reached.clear();
            stack.extend_from_slice(&children_of[*a as usize]);
            while let Some(node) = stack.pop() {
                if !std::mem::replace(&mut seen[node as usize], true) {
                    reached.push(node);
                    stack.extend_from_slice(&children_of[node as usize]);
                }
            }
            reached.sort_unstable();
            for node in &reached {
                seen[*node as usize] = false;
            }
            activates_start[*a as usize] = activates.len() as u32;
            activates.extend_from_slice(&reached);
            activates_start[*a as usize + 1] = activates.len() as u32;
        }
        let eq_unknown = graph
            .eq_indexes
            .iter()
            .map(|idx| {
                std::array::from_fn(|c| {
                    let class = match c {
                        0 => 0,
                        c => 1u8 << (c - 1),
                    };
                    idx.atoms
                        .iter()
                        .filter(|a| class == 0 || a.has_null || a.classes & !class != 0)
                        .map(|a| a.node)
                        .collect()
                })
            })
            .collect();
        EvalShape {
            defaults: truth,
            activates_start,
            activates,
            instr_of,
            eq_unknown,
        }
    }

    /// The value every node has when every atom is false.
    pub fn defaults(&self) -> &[Truth] {
        &self.defaults
    }
}

/// How often each node holds, roughly: for atoms the observed `rates` when
/// given, else a guess from the kind of test (a pattern or a null test is
/// rarer than a range test, which is rarer than a list of values); an AND
/// holds at most as often as its rarest child, an OR at most as often as
/// all its children together. Only used to pick rarely true guards; any
/// choice evaluates correctly.
fn likelihoods(graph: &PredGraph, rates: Option<&[f64]>) -> Vec<f64> {
    use crate::planner::graph::Node;
    use crate::planner::Atom;
    let mut p = Vec::with_capacity(graph.nodes.len());
    for (id, node) in graph.nodes.iter().enumerate() {
        let here = match node {
            Node::Atom(_) if rates.is_some_and(|r| id < r.len()) => rates.expect("checked")[id],
            Node::Const(t) => f64::from(u8::from(*t == Truth::True)),
            Node::Atom(Atom::Contains { .. } | Atom::Matches { .. }) => 0.02,
            Node::Atom(Atom::IsNull { .. }) => 0.05,
            Node::Atom(Atom::Cmp { .. } | Atom::CmpFields { .. }) => 0.1,
            Node::Atom(Atom::In { values, .. }) => (0.15 * values.len() as f64).min(0.9),
            Node::And(kids) => kids.iter().map(|k| p[*k as usize]).fold(1.0, f64::min),
            Node::Or(kids) => kids.iter().map(|k| p[*k as usize]).sum::<f64>().min(1.0),
            Node::Not(k) => 1.0 - p[*k as usize],
        };
        p.push(here);
    }
    p
}

/// Reusable buffers for evaluating one graph, record after record.
///
/// Between records every atom is false and every compound node holds its
/// default; the atoms and nodes a record changed are listed, and put back
/// when the next record is evaluated.
#[derive(Debug)]
pub struct Evaluator<'s> {
    shape: &'s EvalShape,
    /// Truth value per node, valid after [`Evaluator::evaluate`].
    pub truth: Vec<Truth>,
    patsets: Vec<PatternSet>,
    /// Bit per node: activated for the current record (cleared as read).
    activated: Vec<u64>,
    /// Atoms that are not false for the current record, in the order they
    /// were set.
    active_atoms: Vec<u32>,
    /// Compound nodes evaluated for the current record, in id order.
    active_nodes: Vec<u32>,
    /// Per node, the records for which it was an atom that was not false.
    pub atom_hits: Vec<u32>,
}

impl<'s> Evaluator<'s> {
    /// Buffers for `graph`, whose shape is `shape`.
    pub fn new(shape: &'s EvalShape, graph: &PredGraph) -> Evaluator<'s> {
        Evaluator {
            shape,
            truth: shape.defaults.clone(),
            patsets: graph
                .scanners
                .iter()
                .map(|s| PatternSet::new(s.regexes.len()))
                .collect(),
            activated: vec![0; shape.defaults.len().div_ceil(64)],
            active_atoms: Vec::new(),
            active_nodes: Vec::new(),
            atom_hits: vec![0; shape.defaults.len()],
        }
    }

    /// The nodes that may differ from their default for the current record:
    /// its non-false atoms and the compound nodes above them.
    pub fn changed(&self) -> impl Iterator<Item = u32> + '_ {
        self.active_atoms
            .iter()
            .chain(self.active_nodes.iter())
            .copied()
    }

    /// Evaluates every node for the record whose fields are `record`, after
    /// putting back what the previous record changed: the atoms first,
    /// then the compound nodes above the non-false ones.
    #[inline]
    pub fn evaluate(&mut self, graph: &PredGraph, record: &[Value<'_>]) {
        for a in &self.active_atoms {
            self.truth[*a as usize] = Truth::False;
        }
        for node in &self.active_nodes {
            self.truth[*node as usize] = self.shape.defaults[*node as usize];
        }
        self.active_atoms.clear();
        self.active_nodes.clear();
        let mut set = Setter {
            truth: &mut self.truth,
            active: &mut self.active_atoms,
        };
        for (idx, unknown) in graph.eq_indexes.iter().zip(&self.shape.eq_unknown) {
            eval_eq(idx, unknown, &record[idx.slot], &mut set);
        }
        for (sc, ps) in graph.scanners.iter().zip(self.patsets.iter_mut()) {
            eval_scanner(sc, &record[sc.slot], &mut set, ps);
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
            if t != Truth::False {
                set.to(node, t);
            }
        }
        for a in &self.active_atoms {
            self.atom_hits[*a as usize] += 1;
        }
        // Sparse pass over the compound nodes: only those above a non-false
        // atom, marked in a bitmap and read back in id order; every other
        // node keeps its default.
        let mut any = false;
        for a in &self.active_atoms {
            let (s, e) = (
                self.shape.activates_start[*a as usize],
                self.shape.activates_start[*a as usize + 1],
            );
            for node in &self.shape.activates[s as usize..e as usize] {
                self.activated[*node as usize / 64] |= 1 << (node % 64);
                any = true;
            }
        }
        if any {
            for (w, word) in self.activated.iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    self.active_nodes
                        .push((w * 64) as u32 + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        }
        for node in &self.active_nodes {
            let ins = &graph.program[self.shape.instr_of[*node as usize] as usize];
            self.truth[*node as usize] = eval_instr(graph, ins, &self.truth);
        }
    }
}

/// Sets atoms to values other than false, listing each atom the first time
/// it leaves false.
struct Setter<'e> {
    truth: &'e mut [Truth],
    active: &'e mut Vec<u32>,
}

impl Setter<'_> {
    /// Sets atom `node` to `t` (true or unknown).
    #[inline]
    fn to(&mut self, node: u32, t: Truth) {
        let slot = &mut self.truth[node as usize];
        if *slot == Truth::False {
            self.active.push(node);
        }
        *slot = t;
    }
}

/// The value of one compound node from its children's current values.
#[inline]
fn eval_instr(graph: &PredGraph, ins: &crate::planner::graph::Instr, truth: &[Truth]) -> Truth {
    let (start, end) = (ins.start as usize, (ins.start + ins.len) as usize);
    match ins.op {
        Op::Not => !truth[ins.start as usize],
        Op::And => and_all(&graph.program_args[start..end], truth),
        Op::Or => or_any(&graph.program_args[start..end], truth),
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
fn mark_regex_matches(
    sc: &FieldScanner,
    text: &str,
    set: &mut Setter<'_>,
    patset: &mut PatternSet,
) {
    if let Some(re) = &sc.regex_set {
        patset.clear();
        re.which_overlapping_matches(&Input::new(text), patset);
        for p in patset.iter() {
            for n in &sc.regex_nodes[p.as_usize()] {
                set.to(*n, Truth::True);
            }
        }
    }
}

/// The atoms of one equality index for value `v`: true where a literal
/// equals it, unknown where `unknown` (by `v`'s class) says so, else false.
#[inline]
fn eval_eq(idx: &EqIndex, unknown: &[Vec<u32>; CLASSES], v: &Value<'_>, set: &mut Setter<'_>) {
    // Not equal to any literal: false, unless some literal is of another
    // class (not comparable: unknown) or the list had a NULL; every atom is
    // unknown for a null value.
    for n in &unknown[class_index(value_class(v))] {
        set.to(*n, Truth::Unknown);
    }
    if v.is_null() {
        return;
    }
    if let Some(hits) = idx.map.get(v) {
        for ai in hits {
            set.to(idx.atoms[*ai as usize].node, Truth::True);
        }
    }
}

/// The atoms of one field's scanner for value `v`: true for the literals and
/// regexes found in a text (or the members of an array), unknown for a
/// value that is neither, else false.
#[inline]
fn eval_scanner(sc: &FieldScanner, v: &Value<'_>, set: &mut Setter<'_>, patset: &mut PatternSet) {
    match v {
        Value::Str(s) => {
            // Without prefilters the regex set runs on every text; with
            // them, each regex runs only where the automaton found one of
            // the literals it needs.
            let prefiltered = sc.regexes_prefiltered();
            patset.clear();
            if let Some(ac) = &sc.literal_automaton {
                ac.for_each_match(s.as_bytes(), |p| match sc.literal_nodes.get(p) {
                    Some(nodes) => {
                        for n in nodes {
                            set.to(*n, Truth::True);
                        }
                    }
                    None => {
                        for r in &sc.prefilter_regexes[p - sc.literals.len()] {
                            patset.insert(PatternID::new_unchecked(*r as usize));
                        }
                    }
                });
            }
            if !prefiltered {
                mark_regex_matches(sc, s, set, patset);
            } else {
                for r in patset.iter() {
                    if sc.regex_each[r.as_usize()].is_match(s.as_ref()) {
                        for n in &sc.regex_nodes[r.as_usize()] {
                            set.to(*n, Truth::True);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let Value::Str(s) = item else { continue };
                if let Some(i) = sc.members.get(s.as_ref()) {
                    for n in &sc.literal_nodes[*i as usize] {
                        set.to(*n, Truth::True);
                    }
                }
                mark_regex_matches(sc, s, set, patset);
            }
        }
        _ => {
            for n in &sc.nodes {
                set.to(*n, Truth::Unknown);
            }
        }
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
