//! Evaluates a stream's shared predicate graph over runs of records.
//!
//! Every atom is answered once per record: by one hash lookup per field for
//! `=`/`IN`, by one multi-pattern scan per field for `CONTAINS`/`MATCHES`,
//! one by one for the rest. Each answer is one bit of the atom's masks.
//!
//! Compound nodes are then evaluated for a whole run of up to [`RUN`]
//! records at once, with word-wide bitwise operations. In three-valued
//! logic a node holds two masks over the run: the records for which it is
//! TRUE and those for which it is FALSE (in neither, it is UNKNOWN). Then
//! AND is the AND of the children's TRUE masks and the OR of their FALSE
//! masks, OR is the dual, and NOT swaps the two. So one pass over the
//! program, a few instructions per child and no branch on the data, answers
//! every node for 64 records; per record that costs less than visiting the
//! few nodes above the atoms that hold (measured at 1,000 queries: see
//! BENCHMARKS.md).

use crate::planner::graph::{value_class, EqIndex, FieldScanner, Node, Op, PredGraph, SingleAtom};
use crate::planner::query::cmp_holds;
use crate::planner::Truth;
use crate::value::Value;
use regex_automata::{Input, PatternID, PatternSet};

/// Records evaluated together: one bit of a `u64` mask each.
pub const RUN: usize = 64;

/// What evaluating a graph needs beyond the graph: the atoms, the
/// constants, the compound nodes as a uniform program. Built once per
/// plan, shared by every batch and thread that evaluates it.
#[derive(Debug)]
pub struct EvalShape {
    /// The atom nodes (their masks are cleared before each run).
    atoms: Vec<u32>,
    /// The constant nodes and their truth.
    consts: Vec<(u32, Truth)>,
    /// The compound nodes in evaluation order (children first).
    program: Vec<DenseInstr>,
    /// Children of `program`'s instructions, concatenated.
    args: Vec<u32>,
    /// Per equality index, per value class ([`class_index`]), the atoms
    /// that are unknown (not false) for a value of that class that matches
    /// none of their literals.
    eq_unknown: Vec<[Vec<u32>; CLASSES]>,
}

/// One compound node: `node = AND(children)`, where each child's masks are
/// read swapped when `flip_in` and the result is stored swapped when
/// `flip_out`. AND is (0, 0); OR, by De Morgan, is (1, 1); NOT is the AND
/// of its one child, stored swapped: (0, 1).
#[derive(Clone, Copy, Debug)]
struct DenseInstr {
    node: u32,
    start: u32,
    len: u32,
    flip_in: u32,
    flip_out: u32,
}

/// How an operation reads its children's masks and stores its own
/// ([`DenseInstr`]): (`flip_in`, `flip_out`).
fn flips(op: Op) -> (u32, u32) {
    match op {
        Op::And => (0, 0),
        Op::Or => (1, 1),
        Op::Not => (0, 1),
    }
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
    /// The shape of `graph`.
    pub fn new(graph: &PredGraph) -> EvalShape {
        let atoms = (0..graph.nodes.len() as u32)
            .filter(|id| matches!(graph.nodes[*id as usize], Node::Atom(_)))
            .collect();
        let mut program = Vec::with_capacity(graph.program.len());
        let mut args = Vec::with_capacity(graph.program_args.len() + graph.program.len());
        for ins in &graph.program {
            let start = args.len() as u32;
            let (flip_in, flip_out) = flips(ins.op);
            match ins.op {
                Op::Not => args.push(ins.start),
                _ => args.extend_from_slice(
                    &graph.program_args[ins.start as usize..(ins.start + ins.len) as usize],
                ),
            }
            program.push(DenseInstr {
                node: ins.node,
                start,
                len: args.len() as u32 - start,
                flip_in,
                flip_out,
            });
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
            atoms,
            consts: graph.consts.clone(),
            program,
            args,
            eq_unknown,
        }
    }
}

/// Reusable buffers for evaluating one graph, run after run: per node, a
/// TRUE mask and a FALSE mask over the records of the current run.
///
/// A run is [`Evaluator::start_run`], optionally [`Evaluator::scan_run`],
/// [`Evaluator::atoms`] for each of its records in order, then
/// [`Evaluator::finish_run`]; then [`Evaluator::true_mask`] reads any node.
#[derive(Debug)]
pub struct Evaluator<'s> {
    shape: &'s EvalShape,
    /// `masks[2 * node]`: TRUE; `masks[2 * node + 1]`: FALSE (while atoms
    /// are set, an atom's second mask is UNKNOWN instead).
    masks: Vec<u64>,
    patsets: Vec<PatternSet>,
    /// Per scanner: its automaton scans the texts of a run together.
    together: Vec<bool>,
    /// True when [`Evaluator::scan_run`] scanned this run's texts.
    scanned: bool,
    /// Per scanner scanned together, per record of the run: the
    /// prefilter literals (indexes into [`FieldScanner::prefilters`])
    /// found in its text.
    prefilter_hits: Vec<Vec<Vec<u32>>>,
}

impl<'s> Evaluator<'s> {
    /// Buffers for `graph`, whose shape is `shape`.
    pub fn new(shape: &'s EvalShape, graph: &PredGraph) -> Evaluator<'s> {
        let mut masks = vec![0; 2 * graph.nodes.len()];
        for (node, t) in &shape.consts {
            let i = 2 * *node as usize;
            masks[i] = if *t == Truth::True { !0 } else { 0 };
            masks[i + 1] = if *t == Truth::False { !0 } else { 0 };
        }
        Evaluator {
            shape,
            masks,
            patsets: graph
                .scanners
                .iter()
                .map(|s| PatternSet::new(s.regexes.len()))
                .collect(),
            together: graph
                .scanners
                .iter()
                .map(|s| {
                    s.literal_automaton
                        .as_ref()
                        .is_some_and(|a| a.scans_texts_together())
                })
                .collect(),
            scanned: false,
            prefilter_hits: vec![vec![Vec::new(); RUN]; graph.scanners.len()],
        }
    }

    /// Starts a run: every atom false for every record.
    #[inline]
    pub fn start_run(&mut self) {
        for a in &self.shape.atoms {
            let i = 2 * *a as usize;
            self.masks[i] = 0;
            self.masks[i + 1] = 0;
        }
        self.scanned = false;
    }

    /// Scans the texts of the run's records (`slots`, `width` values per
    /// record, at most [`RUN`] records) for the literals of every scanner
    /// whose automaton scans texts together: one pass over all of them,
    /// several texts walked at once, instead of one scan per record in
    /// [`Evaluator::atoms`]. Call after [`Evaluator::start_run`], before
    /// the run's atoms.
    pub fn scan_run(&mut self, graph: &PredGraph, slots: &[Value<'_>], width: usize) {
        let Evaluator {
            masks,
            together,
            prefilter_hits,
            scanned,
            ..
        } = self;
        let records = slots.len() / width.max(1);
        debug_assert!(records <= RUN);
        let mut texts: Vec<&[u8]> = Vec::with_capacity(records);
        let mut of_text: Vec<u32> = Vec::with_capacity(records);
        for ((sc, together), hits) in graph
            .scanners
            .iter()
            .zip(together.iter())
            .zip(prefilter_hits.iter_mut())
        {
            let Some(ac) = sc.literal_automaton.as_ref().filter(|_| *together) else {
                continue;
            };
            if !sc.prefilters.is_empty() {
                hits.iter_mut().for_each(Vec::clear);
            }
            texts.clear();
            of_text.clear();
            for k in 0..records {
                if let Value::Str(s) = &slots[k * width + sc.slot] {
                    texts.push(s.as_bytes());
                    of_text.push(k as u32);
                }
            }
            ac.for_each_match_in_texts(&texts, |t, p| {
                let k = of_text[t];
                match sc.literal_nodes.get(p) {
                    Some(nodes) => {
                        let mut set = Setter { masks, bit: 1 << k };
                        for n in nodes {
                            set.to(*n, Truth::True);
                        }
                    }
                    None => hits[k as usize].push((p - sc.literals.len()) as u32),
                }
            });
        }
        *scanned = true;
    }

    /// Answers every atom for record `k` of the run (below [`RUN`]), whose
    /// fields are `record`.
    #[inline]
    pub fn atoms(&mut self, graph: &PredGraph, k: usize, record: &[Value<'_>]) {
        let mut set = Setter {
            masks: &mut self.masks,
            bit: 1 << k,
        };
        for (idx, unknown) in graph.eq_indexes.iter().zip(&self.shape.eq_unknown) {
            eval_eq(idx, unknown, &record[idx.slot], &mut set);
        }
        for (((sc, ps), together), hits) in graph
            .scanners
            .iter()
            .zip(self.patsets.iter_mut())
            .zip(&self.together)
            .zip(&self.prefilter_hits)
        {
            // Literals scanned with the run's other texts: only this
            // record's prefilter literals are left to take.
            let scanned = (self.scanned && *together).then(|| &hits[k][..]);
            eval_scanner(sc, &record[sc.slot], &mut set, ps, scanned);
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
    }

    /// Finishes a run whose records are the bits of `valid`: the atoms'
    /// FALSE masks, then every compound node, children first.
    #[inline]
    pub fn finish_run(&mut self, valid: u64) {
        let m = &mut self.masks;
        for a in &self.shape.atoms {
            let i = 2 * *a as usize;
            m[i + 1] = valid & !(m[i] | m[i + 1]);
        }
        for ins in &self.shape.program {
            let (mut all, mut any) = (!0u64, 0u64);
            for c in &self.shape.args[ins.start as usize..(ins.start + ins.len) as usize] {
                let c = 2 * *c as usize;
                all &= m[c + ins.flip_in as usize];
                any |= m[c + 1 - ins.flip_in as usize];
            }
            let n = 2 * ins.node as usize;
            m[n + ins.flip_out as usize] = all;
            m[n + 1 - ins.flip_out as usize] = any;
        }
    }

    /// The records of the run for which `node` is TRUE (bits outside the
    /// run's records may be set: mask them).
    #[inline]
    pub fn true_mask(&self, node: u32) -> u64 {
        self.masks[2 * node as usize]
    }
}

/// Sets atoms to values other than false for one record (one bit).
struct Setter<'e> {
    masks: &'e mut [u64],
    bit: u64,
}

impl Setter<'_> {
    /// Sets atom `node` to `t` (true or unknown) for the record; a later
    /// value replaces an earlier one.
    #[inline]
    fn to(&mut self, node: u32, t: Truth) {
        let i = 2 * node as usize;
        let (set, clear) = match t {
            Truth::Unknown => (i + 1, i),
            _ => (i, i + 1),
        };
        self.masks[set] |= self.bit;
        self.masks[clear] &= !self.bit;
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
/// value that is neither, else false. `scanned`: a text's literals were
/// already found ([`Evaluator::scan_run`]), and these are its prefilter
/// literals (indexes into [`FieldScanner::prefilters`]).
#[inline]
fn eval_scanner(
    sc: &FieldScanner,
    v: &Value<'_>,
    set: &mut Setter<'_>,
    patset: &mut PatternSet,
    scanned: Option<&[u32]>,
) {
    match v {
        Value::Str(s) => {
            // Without prefilters the regex set runs on every text; with
            // them, each regex runs only where the automaton found one of
            // the literals it needs.
            let prefiltered = sc.regexes_prefiltered();
            patset.clear();
            if let Some(hits) = scanned {
                for f in hits {
                    for r in &sc.prefilter_regexes[*f as usize] {
                        patset.insert(PatternID::new_unchecked(*r as usize));
                    }
                }
            } else if let Some(ac) = &sc.literal_automaton {
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
    use proptest::prelude::*;

    /// One compound node of a random program: its op and its children
    /// (indexes of earlier nodes).
    #[derive(Clone, Debug)]
    struct RandomNode {
        op: Op,
        children: Vec<usize>,
    }

    fn truth_strategy() -> impl Strategy<Value = Truth> {
        prop_oneof![Just(Truth::False), Just(Truth::True), Just(Truth::Unknown)]
    }

    /// `leaves` leaf nodes, then compound nodes over earlier ones.
    fn program_strategy(leaves: usize) -> impl Strategy<Value = Vec<RandomNode>> {
        prop::collection::vec(
            (
                0..3u8,
                prop::collection::vec(any::<prop::sample::Index>(), 0..5),
            ),
            1..30,
        )
        .prop_map(move |raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (op, kids))| {
                    let below = leaves + i;
                    let op = [Op::And, Op::Or, Op::Not][op as usize];
                    let mut children: Vec<usize> = kids.iter().map(|k| k.index(below)).collect();
                    if op == Op::Not {
                        children.truncate(1);
                        if children.is_empty() {
                            children.push(below - 1);
                        }
                    }
                    RandomNode { op, children }
                })
                .collect()
        })
    }

    proptest! {
        /// The run-wide pass gives, for every record of the run, what
        /// three-valued logic gives record by record.
        #[test]
        fn run_masks_follow_three_valued_logic(
            program in program_strategy(4),
            leaf_truths in prop::collection::vec(prop::collection::vec(truth_strategy(), 4), 1..=RUN),
        ) {
            let leaves = 4;
            let n = leaves + program.len();
            let mut args = Vec::new();
            let dense: Vec<DenseInstr> = program
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let start = args.len() as u32;
                    args.extend(node.children.iter().map(|c| *c as u32));
                    let (flip_in, flip_out) = flips(node.op);
                    DenseInstr { node: (leaves + i) as u32, start, len: node.children.len() as u32, flip_in, flip_out }
                })
                .collect();
            let shape = EvalShape {
                atoms: (0..leaves as u32).collect(),
                consts: Vec::new(),
                program: dense,
                args,
                eq_unknown: Vec::new(),
            };
            let mut ev = Evaluator { shape: &shape, masks: vec![0; 2 * n], patsets: Vec::new(), together: Vec::new(), scanned: false, prefilter_hits: Vec::new() };
            ev.start_run();
            for (k, truths) in leaf_truths.iter().enumerate() {
                let mut set = Setter { masks: &mut ev.masks, bit: 1 << k };
                for (leaf, t) in truths.iter().enumerate() {
                    if *t != Truth::False {
                        set.to(leaf as u32, *t);
                    }
                }
            }
            let records = leaf_truths.len();
            let valid = if records == RUN { !0 } else { (1u64 << records) - 1 };
            ev.finish_run(valid);
            for (k, truths) in leaf_truths.iter().enumerate() {
                let mut expect: Vec<Truth> = truths.clone();
                for node in &program {
                    let kids = node.children.iter().map(|c| expect[*c]);
                    let t = match node.op {
                        Op::And => kids.fold(Truth::True, Truth::and),
                        Op::Or => kids.fold(Truth::False, Truth::or),
                        Op::Not => !expect[node.children[0]],
                    };
                    expect.push(t);
                }
                for (node, t) in expect.iter().enumerate() {
                    let bit = 1u64 << k;
                    let is_true = ev.masks[2 * node] & bit != 0;
                    let is_false = ev.masks[2 * node + 1] & bit != 0;
                    let got = match (is_true, is_false) {
                        (true, false) => Truth::True,
                        (false, true) => Truth::False,
                        (false, false) => Truth::Unknown,
                        (true, true) => panic!("node {node} both true and false"),
                    };
                    prop_assert_eq!(got, *t, "node {} of record {}", node, k);
                }
            }
        }
    }

    #[test]
    fn a_later_atom_value_replaces_an_earlier_one() {
        let mut masks = vec![0u64; 2];
        let mut set = Setter {
            masks: &mut masks,
            bit: 1 << 3,
        };
        set.to(0, Truth::Unknown);
        set.to(0, Truth::True);
        assert_eq!(masks, vec![1 << 3, 0]);
        let mut set = Setter {
            masks: &mut masks,
            bit: 1 << 3,
        };
        set.to(0, Truth::Unknown);
        assert_eq!(masks, vec![0, 1 << 3]);
    }
}
