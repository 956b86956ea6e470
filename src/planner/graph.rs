//! The shared predicate graph of one stream.
//!
//! Every normalized predicate of every query is inserted into one hash-consed
//! DAG: equal sub-predicates become one node, evaluated once per record however
//! many queries use it. Leaves (atoms) are grouped by how they are answered:
//! - all `=`/`IN` atoms on one field by one hash lookup of the field's value
//!   ([`EqIndex`]);
//! - all `CONTAINS` literals on one field by one Aho-Corasick scan, all
//!   `MATCHES` regexes on one field by one multi-pattern regex-automata
//!   search, and `CONTAINS` on arrays by one hash lookup per element
//!   ([`FieldScanner`]);
//! - the rest (`<`, `>=`, field-to-field, `IS NULL`) one by one.
//!
//! Compiled automata are cached by pattern list ([`ScannerCache`]), so adding a
//! query recompiles only the automata whose pattern set changed.

use super::literals::LiteralAutomaton;
use super::predicate::{Atom, Pred, Truth};
use crate::parser::ast::CmpOp;
use crate::value::{OwnedValue, Value};
use crate::value_map::ValueMap;
use regex_automata::meta::Regex;
use std::collections::BTreeMap;

/// Hash maps with the fast foldhash hasher (the keys here are not chosen by input data).
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

/// Index of a node in [`PredGraph::nodes`].
pub type NodeId = u32;

/// A node of the graph. Children always have smaller ids than parents, so
/// evaluating in id order sees every child first.
#[derive(Clone, Debug)]
pub enum Node {
    /// A constant.
    Const(Truth),
    /// A leaf, answered by an index, a scanner or on its own.
    Atom(Atom),
    /// Conjunction.
    And(Vec<NodeId>),
    /// Disjunction.
    Or(Vec<NodeId>),
    /// Negation.
    Not(NodeId),
}

/// Bit for each class of comparable values, to tell "not equal" (false) from
/// "not comparable" (unknown).
pub fn value_class(v: &Value<'_>) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) => 2,
        Value::Str(_) => 4,
        Value::Array(_) => 8,
        Value::Object(_) => 16,
    }
}

/// One `IN` atom served by an [`EqIndex`].
#[derive(Clone, Debug)]
pub struct EqAtom {
    /// The atom's node.
    pub node: NodeId,
    /// Value classes of the atom's literals.
    pub classes: u8,
    /// The literal list contained `NULL`.
    pub has_null: bool,
}

/// All `=`/`IN` atoms on one field, answered by one hash lookup.
#[derive(Clone, Debug)]
pub struct EqIndex {
    /// The field's slot.
    pub slot: usize,
    /// The atoms.
    pub atoms: Vec<EqAtom>,
    /// Literal value → the atoms (indices into `atoms`) it satisfies.
    pub map: ValueMap<Vec<u32>>,
}

/// All `CONTAINS`/`MATCHES` atoms on one field.
#[derive(Clone, Debug)]
pub struct FieldScanner {
    /// The field's slot.
    pub slot: usize,
    /// Every atom node of this scanner (all unknown for a value that is
    /// neither text nor an array).
    pub nodes: Vec<NodeId>,
    /// Distinct `CONTAINS` literals, in pattern-id order.
    pub literals: Vec<String>,
    /// Nodes per literal.
    pub literal_nodes: Vec<Vec<NodeId>>,
    /// Literals that the `MATCHES` patterns need ([`super::prefilter`]):
    /// every regex has some, or this is empty. They follow `literals` in
    /// the automaton, as pattern ids `literals.len()..`.
    pub prefilters: Vec<String>,
    /// For each of `prefilters`, the regexes (indices into `regexes`) that
    /// need it: a text is a candidate for a regex only when the automaton
    /// found one of that regex's literals in it.
    pub prefilter_regexes: Vec<Vec<u32>>,
    /// With prefilters, each regex compiled on its own, run on the texts
    /// that are candidates for it (instead of the whole set).
    pub regex_each: Vec<Arc<Regex>>,
    /// ASCII-case-insensitive automaton over `literals` then `prefilters`.
    pub literal_automaton: Option<Arc<LiteralAutomaton>>,
    /// Exact element → literal index, for `CONTAINS` on arrays.
    pub members: HashMap<String, u32>,
    /// Distinct `MATCHES` patterns, in pattern-id order.
    pub regexes: Vec<String>,
    /// Nodes per regex.
    pub regex_nodes: Vec<Vec<NodeId>>,
    /// One multi-pattern regex over `regexes`.
    pub regex_set: Option<Arc<Regex>>,
}

impl FieldScanner {
    /// The automaton's patterns: `literals`, then `prefilters`.
    pub fn automaton_patterns(&self) -> Vec<String> {
        [&self.literals[..], &self.prefilters[..]].concat()
    }

    /// True when the regex set runs only on texts in which the automaton
    /// found a prefilter literal.
    pub fn regexes_prefiltered(&self) -> bool {
        !self.prefilters.is_empty()
    }
}

/// Operation of a compiled compound node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Three-valued AND of the children.
    And,
    /// Three-valued OR of the children.
    Or,
    /// NOT of the child whose id is in `start`.
    Not,
}

/// One compound node in the flat evaluation program: 16 bytes, so the
/// per-record walk over hundreds of nodes stays in cache.
#[derive(Clone, Copy, Debug)]
pub struct Instr {
    /// The node whose truth this computes.
    pub node: NodeId,
    /// What to compute.
    pub op: Op,
    /// For And/Or: offset of the children in `program_args`; for Not: the child.
    pub start: u32,
    /// Number of children.
    pub len: u32,
}

/// An atom evaluated on its own.
#[derive(Clone, Debug)]
pub enum SingleAtom {
    /// `slot op value`.
    Cmp {
        /// The node.
        node: NodeId,
        /// The field's slot.
        slot: usize,
        /// The operator.
        op: CmpOp,
        /// The literal.
        value: OwnedValue,
    },
    /// `left op right`.
    CmpFields {
        /// The node.
        node: NodeId,
        /// Left slot.
        left: usize,
        /// Operator.
        op: CmpOp,
        /// Right slot.
        right: usize,
    },
    /// `slot IS NULL`.
    IsNull {
        /// The node.
        node: NodeId,
        /// The field's slot.
        slot: usize,
    },
}

/// Compiled automata kept across plan rebuilds, keyed by pattern list.
#[derive(Debug, Default)]
pub struct ScannerCache {
    literals: HashMap<Vec<String>, Arc<LiteralAutomaton>>,
    regexes: HashMap<Vec<String>, Arc<Regex>>,
    /// Largest compiled regex automaton in bytes (regex-automata's NFA size
    /// limit); `None` keeps regex-automata's default.
    regex_limit: Option<usize>,
}

impl ScannerCache {
    /// A cache whose regex automata may not exceed `bytes` (see
    /// [`crate::exec::Limits::max_regex_bytes`]).
    pub fn with_regex_limit(bytes: usize) -> ScannerCache {
        ScannerCache {
            regex_limit: Some(bytes),
            ..ScannerCache::default()
        }
    }

    /// Changes the regex size limit for automata compiled from now on.
    pub fn set_regex_limit(&mut self, bytes: usize) {
        self.regex_limit = Some(bytes);
    }

    fn literal_automaton(&mut self, pats: &[String]) -> Result<Arc<LiteralAutomaton>, String> {
        if let Some(a) = self.literals.get(pats) {
            return Ok(a.clone());
        }
        let a = Arc::new(
            LiteralAutomaton::new(pats)
                .map_err(|e| format!("the CONTAINS literals do not fit one automaton: {e}"))?,
        );
        self.literals.insert(pats.to_vec(), a.clone());
        Ok(a)
    }

    fn regex_set(&mut self, pats: &[String]) -> Result<Arc<Regex>, String> {
        if let Some(r) = self.regexes.get(pats) {
            return Ok(r.clone());
        }
        let mut config = Regex::config().match_kind(regex_automata::MatchKind::All);
        if let Some(limit) = self.regex_limit {
            config = config.nfa_size_limit(Some(limit));
        }
        let r = Arc::new(
            Regex::builder()
                .configure(config)
                .build_many(pats)
                .map_err(|e| match e.size_limit() {
                    Some(limit) => format!(
                        "{} pattern(s) would compile to an automaton larger than the limit of {limit} bytes (max_regex_bytes)",
                        pats.len()
                    ),
                    None => e.to_string(),
                })?,
        );
        self.regexes.insert(pats.to_vec(), r.clone());
        Ok(r)
    }

    /// Drops cached automata not used by `graph`.
    pub fn retain_used(&mut self, graph: &PredGraph) {
        let lits: Vec<Vec<String>> = graph
            .scanners
            .iter()
            .map(FieldScanner::automaton_patterns)
            .collect();
        // Each scanner's set, and the regexes compiled alone beside it.
        let used = |k: &Vec<String>| {
            graph.scanners.iter().any(|s| {
                s.regexes == *k
                    || (!s.regex_each.is_empty() && k.len() == 1 && s.regexes.contains(&k[0]))
            })
        };
        self.literals.retain(|k, _| lits.contains(k));
        self.regexes.retain(|k, _| used(k));
    }
}

/// The shared predicate DAG with its indexes.
#[derive(Clone, Debug, Default)]
pub struct PredGraph {
    /// Nodes in evaluation order.
    pub nodes: Vec<Node>,
    /// Equality indexes, one per field.
    pub eq_indexes: Vec<EqIndex>,
    /// Pattern scanners, one per field.
    pub scanners: Vec<FieldScanner>,
    /// Atoms evaluated one by one.
    pub singles: Vec<SingleAtom>,
    /// The compound nodes compiled to a flat program, in evaluation order.
    pub program: Vec<Instr>,
    /// Children of the program's instructions, concatenated.
    pub program_args: Vec<NodeId>,
    /// Constant nodes.
    pub consts: Vec<(NodeId, Truth)>,
}

/// Builds a [`PredGraph`], hash-consing predicates as they are added.
pub struct GraphBuilder {
    nodes: Vec<Node>,
    ids: HashMap<Pred, NodeId>,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GraphBuilder {
    /// An empty builder.
    pub fn new() -> GraphBuilder {
        GraphBuilder {
            nodes: Vec::new(),
            ids: HashMap::default(),
        }
    }

    /// Adds a predicate (and its sub-predicates) and returns its node.
    pub fn add(&mut self, p: &Pred) -> NodeId {
        if let Some(id) = self.ids.get(p) {
            return *id;
        }
        let node = match p {
            Pred::Const(t) => Node::Const(*t),
            Pred::Atom(a) => Node::Atom(a.clone()),
            Pred::And(ps) => Node::And(ps.iter().map(|c| self.add(c)).collect()),
            Pred::Or(ps) => Node::Or(ps.iter().map(|c| self.add(c)).collect()),
            Pred::Not(c) => Node::Not(self.add(c)),
        };
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node);
        self.ids.insert(p.clone(), id);
        id
    }

    /// Groups the atoms into indexes and scanners. `slot_of` maps field names
    /// to record slots.
    pub fn finish(
        self,
        slot_of: &dyn Fn(&str) -> usize,
        cache: &mut ScannerCache,
    ) -> Result<PredGraph, String> {
        let mut g = PredGraph {
            nodes: self.nodes,
            ..Default::default()
        };
        // Field name → index into eq_indexes / scanners (BTreeMap: stable order).
        let mut eq_by_field: BTreeMap<String, Vec<(NodeId, &Atom)>> = BTreeMap::new();
        let mut scan_by_field: BTreeMap<String, Vec<(NodeId, &Atom)>> = BTreeMap::new();
        let nodes = g.nodes.clone();
        for (id, node) in nodes.iter().enumerate() {
            let id = id as NodeId;
            match node {
                Node::Const(t) => g.consts.push((id, *t)),
                Node::And(cs) | Node::Or(cs) => {
                    let start = g.program_args.len() as u32;
                    g.program_args.extend_from_slice(cs);
                    g.program.push(Instr {
                        node: id,
                        op: if matches!(node, Node::And(_)) {
                            Op::And
                        } else {
                            Op::Or
                        },
                        start,
                        len: cs.len() as u32,
                    });
                }
                Node::Not(c) => {
                    g.program.push(Instr {
                        node: id,
                        op: Op::Not,
                        start: *c,
                        len: 1,
                    });
                }
                Node::Atom(a) => match a {
                    Atom::In { field, .. } => {
                        eq_by_field.entry(field.clone()).or_default().push((id, a))
                    }
                    Atom::Contains { field, .. } | Atom::Matches { field, .. } => scan_by_field
                        .entry(field.clone())
                        .or_default()
                        .push((id, a)),
                    Atom::Cmp { field, op, value } => g.singles.push(SingleAtom::Cmp {
                        node: id,
                        slot: slot_of(field),
                        op: *op,
                        value: value.clone(),
                    }),
                    Atom::CmpFields { left, op, right } => g.singles.push(SingleAtom::CmpFields {
                        node: id,
                        left: slot_of(left),
                        op: *op,
                        right: slot_of(right),
                    }),
                    Atom::IsNull { field } => g.singles.push(SingleAtom::IsNull {
                        node: id,
                        slot: slot_of(field),
                    }),
                },
            }
        }
        for (field, atoms) in eq_by_field {
            let mut idx = EqIndex {
                slot: slot_of(&field),
                atoms: Vec::new(),
                map: ValueMap::new(),
            };
            for (node, atom) in atoms {
                let Atom::In {
                    values, has_null, ..
                } = atom
                else {
                    unreachable!("grouped as In")
                };
                let ai = idx.atoms.len() as u32;
                idx.atoms.push(EqAtom {
                    node,
                    classes: values.iter().fold(0, |m, v| m | value_class(v)),
                    has_null: *has_null,
                });
                for v in values {
                    idx.map.entry_or_insert_with(v, Vec::new).push(ai);
                }
            }
            g.eq_indexes.push(idx);
        }
        for (field, atoms) in scan_by_field {
            let mut sc = FieldScanner {
                slot: slot_of(&field),
                nodes: Vec::new(),
                literals: Vec::new(),
                literal_nodes: Vec::new(),
                prefilters: Vec::new(),
                prefilter_regexes: Vec::new(),
                regex_each: Vec::new(),
                literal_automaton: None,
                members: HashMap::default(),
                regexes: Vec::new(),
                regex_nodes: Vec::new(),
                regex_set: None,
            };
            for (node, atom) in atoms {
                sc.nodes.push(node);
                let (list, lnodes, pat) = match atom {
                    Atom::Contains { literal, .. } => {
                        (&mut sc.literals, &mut sc.literal_nodes, literal)
                    }
                    Atom::Matches { regex, .. } => (&mut sc.regexes, &mut sc.regex_nodes, regex),
                    _ => unreachable!("grouped as pattern atom"),
                };
                match list.iter().position(|p| p == pat) {
                    Some(i) => lnodes[i].push(node),
                    None => {
                        list.push(pat.clone());
                        lnodes.push(vec![node]);
                    }
                }
            }
            for (i, lit) in sc.literals.iter().enumerate() {
                sc.members.insert(lit.clone(), i as u32);
            }
            // Prefilter literals only when every regex has some: one
            // unfiltered regex runs the set on every text anyway.
            let needed: Option<Vec<Vec<String>>> = sc
                .regexes
                .iter()
                .map(|r| super::prefilter::required_literals(r))
                .collect();
            if let Some(needed) = needed {
                sc.prefilters = needed.concat();
                sc.prefilters.sort_unstable();
                sc.prefilters.dedup();
                sc.prefilter_regexes = sc
                    .prefilters
                    .iter()
                    .map(|lit| {
                        (0..needed.len() as u32)
                            .filter(|r| needed[*r as usize].contains(lit))
                            .collect()
                    })
                    .collect();
                for r in &sc.regexes {
                    let one = cache.regex_set(std::slice::from_ref(r));
                    sc.regex_each
                        .push(one.map_err(|e| format!("MATCHES on `{field}`: {e}"))?);
                }
            }
            if !sc.literals.is_empty() || !sc.prefilters.is_empty() {
                let a = cache.literal_automaton(&sc.automaton_patterns());
                sc.literal_automaton = Some(a.map_err(|e| format!("on `{field}`: {e}"))?);
            }
            if !sc.regexes.is_empty() {
                let r = cache.regex_set(&sc.regexes);
                sc.regex_set = Some(r.map_err(|e| format!("MATCHES on `{field}`: {e}"))?);
            }
            g.scanners.push(sc);
        }
        Ok(g)
    }
}

impl PredGraph {
    /// Number of atoms answered by hash lookups, scanners, and one by one.
    pub fn atom_counts(&self) -> (usize, usize, usize) {
        (
            self.eq_indexes.iter().map(|i| i.atoms.len()).sum(),
            self.scanners.iter().map(|s| s.nodes.len()).sum(),
            self.singles.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest limit under which `pats` compile.
    fn needed(pats: &[String]) -> usize {
        let (mut lo, mut hi) = (1usize, 1 << 24);
        assert!(ScannerCache::with_regex_limit(hi).regex_set(pats).is_ok());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match ScannerCache::with_regex_limit(mid).regex_set(pats) {
                Ok(_) => hi = mid,
                Err(_) => lo = mid + 1,
            }
        }
        lo
    }

    #[test]
    fn regexes_compiled_alone_stay_cached_while_their_scanner_uses_them() {
        let pats = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let mut cache = ScannerCache::default();
        let set = cache.regex_set(&pats(&["ab+", "cd+"])).unwrap();
        let each: Vec<Arc<Regex>> = ["ab+", "cd+"]
            .iter()
            .map(|p| cache.regex_set(&pats(&[p])).unwrap())
            .collect();
        cache.regex_set(&pats(&["unused"])).unwrap();
        let graph = PredGraph {
            scanners: vec![FieldScanner {
                slot: 0,
                nodes: Vec::new(),
                literals: Vec::new(),
                literal_nodes: Vec::new(),
                prefilters: pats(&["ab", "cd"]),
                prefilter_regexes: vec![vec![0], vec![1]],
                regex_each: each.clone(),
                literal_automaton: None,
                members: HashMap::default(),
                regexes: pats(&["ab+", "cd+"]),
                regex_nodes: vec![Vec::new(), Vec::new()],
                regex_set: Some(set.clone()),
            }],
            ..PredGraph::default()
        };
        cache.retain_used(&graph);
        let mut kept: Vec<Vec<String>> = cache.regexes.keys().cloned().collect();
        kept.sort();
        assert_eq!(
            kept,
            [pats(&["ab+"]), pats(&["ab+", "cd+"]), pats(&["cd+"])]
        );
        assert!(Arc::ptr_eq(
            &cache.regex_set(&pats(&["ab+"])).unwrap(),
            &each[0]
        ));
    }

    #[test]
    fn the_patterns_of_a_field_share_one_size_limit() {
        let a = vec!["[a-z]{40}error".to_string()];
        let b = vec!["[0-9]{40}warning".to_string()];
        let limit = needed(&a).max(needed(&b));
        let mut cache = ScannerCache::with_regex_limit(limit);
        assert!(cache.regex_set(&a).is_ok());
        assert!(cache.regex_set(&b).is_ok());
        let both = [a[0].clone(), b[0].clone()];
        let e = cache.regex_set(&both).unwrap_err();
        assert_eq!(
            e,
            format!("2 pattern(s) would compile to an automaton larger than the limit of {limit} bytes (max_regex_bytes)")
        );
        // A pathological pattern fails fast under the default limit.
        let e = ScannerCache::default()
            .regex_set(&[r"(\w{100}){100}".to_string()])
            .unwrap_err();
        assert!(e.contains("larger than the limit"), "{e}");
    }
}
