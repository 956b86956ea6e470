//! The multi-pattern automaton that answers every `CONTAINS` literal (and
//! every regex prefilter literal) of one field in one scan.
//!
//! `aho-corasick` builds it. `CONTAINS` asks only *whether* each literal
//! occurs, so the scan reports each literal that occurs, overlapping ones
//! included (as `aho-corasick`'s overlapping iterator finds them), at least
//! once and in no set order. With a few literals that iterator is used:
//! its prefilter skips to the places where a literal may start (a single
//! literal is found with `memmem`). With more, a prefilter skips little,
//! and the scan is a loop of our own over the automaton's transitions,
//! which does not leave and re-enter a search per match (a common literal,
//! a short word or a single letter, matches many times per text), and
//! which walks a long text as two halves at once.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{dfa, nfa, AhoCorasick, Anchored};

/// Literals up to which `aho-corasick`'s own search (with its prefilter)
/// is used. Measured with callgrind on 100k generated tweets: with one
/// literal the prefilter saves 5% of all instructions; with seven, our
/// loop saves 9%.
pub const PREFILTERED_MAX_PATTERNS: usize = 3;

/// Literals up to which the automaton is a DFA (one table lookup per byte);
/// above, a contiguous NFA, which stays small. The same bound as
/// `aho-corasick`'s own choice.
pub const DFA_MAX_PATTERNS: usize = 100;

/// An ASCII-case-insensitive automaton over a list of literals.
#[derive(Debug)]
pub enum LiteralAutomaton {
    /// For up to [`PREFILTERED_MAX_PATTERNS`] literals.
    Few(AhoCorasick),
    /// For up to [`DFA_MAX_PATTERNS`] literals.
    Dfa(dfa::DFA),
    /// For more.
    Nfa(nfa::contiguous::NFA),
}

impl LiteralAutomaton {
    /// The automaton of `patterns` (pattern ids are their indexes).
    pub fn new(patterns: &[String]) -> Result<LiteralAutomaton, aho_corasick::BuildError> {
        // Our loop runs without prefilters, so start states are not
        // special there: it stops only at matches.
        Ok(if patterns.len() <= PREFILTERED_MAX_PATTERNS {
            LiteralAutomaton::Few(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(patterns)?,
            )
        } else if patterns.len() <= DFA_MAX_PATTERNS {
            LiteralAutomaton::Dfa(
                dfa::Builder::new()
                    .ascii_case_insensitive(true)
                    .prefilter(false)
                    .build(patterns)?,
            )
        } else {
            LiteralAutomaton::Nfa(
                nfa::contiguous::Builder::new()
                    .ascii_case_insensitive(true)
                    .prefilter(false)
                    .build(patterns)?,
            )
        })
    }

    /// Calls `found` with the id of every pattern that occurs in `text`,
    /// at least once each (once per occurrence or more), in no set order.
    #[inline]
    pub fn for_each_match(&self, text: &[u8], found: impl FnMut(usize)) {
        self.search(text, true, found);
    }

    /// As [`LiteralAutomaton::for_each_match`], but a long text too is
    /// scanned in one walk: for benchmarks, which compare the two.
    pub fn for_each_match_in_one_walk(&self, text: &[u8], found: impl FnMut(usize)) {
        self.search(text, false, found);
    }

    #[inline]
    fn search(&self, text: &[u8], split: bool, mut found: impl FnMut(usize)) {
        match self {
            LiteralAutomaton::Few(a) => {
                for m in a.find_overlapping_iter(text) {
                    found(m.pattern().as_usize());
                }
            }
            LiteralAutomaton::Dfa(a) => scan(a, text, split, found),
            LiteralAutomaton::Nfa(a) => scan(a, text, split, found),
        }
    }
}

/// Texts shorter than twice the longest literal plus this are scanned by
/// one walk through the automaton; longer ones by two at once.
pub const SPLIT_SLACK: usize = 16;

/// The overlapping scan of `text` through `aut`, in two walks when `split`
/// and the text is long.
///
/// Each step of a walk waits for the previous one (the next state is read
/// from the table at the current one), so a long text is cut in two halves
/// that two walks take in one loop, and the processor overlaps their table
/// reads. The second walk starts from the start state a longest literal
/// (less one byte) before the middle, so every occurrence lies within one
/// of the two walks: one that ends in the first half in the first, one
/// that ends after it in the second. Occurrences in that overlap may be
/// reported twice.
#[inline]
fn scan<A: Automaton>(aut: &A, text: &[u8], split: bool, mut found: impl FnMut(usize)) {
    let Ok(start) = aut.start_state(Anchored::No) else {
        return;
    };
    let mut report = |sid| {
        for i in 0..aut.match_len(sid) {
            found(aut.match_pattern(sid, i).as_usize());
        }
    };
    // The empty literal matches before the first byte.
    if aut.is_match(start) {
        report(start);
    }
    let overlap = aut.max_pattern_len().saturating_sub(1);
    if !split || text.len() < 2 * overlap + SPLIT_SLACK {
        walk(aut, start, text, &mut report);
        return;
    }
    let mid = text.len() / 2;
    let first = &text[..mid];
    let (second, rest) = text[mid - overlap..].split_at(mid);
    let (mut a, mut b) = (start, start);
    let mut at = 0;
    while at < first.len() {
        let (stop, na, nb) = walk_two(aut, a, b, &first[at..], &second[at..]);
        (a, b) = (na, nb);
        at += stop;
        // A dead state (which an unanchored search of every match never
        // reaches) is special but no match, and a walk stays in it.
        if aut.is_match(a) {
            report(a);
        }
        if aut.is_match(b) {
            report(b);
        }
    }
    walk(aut, b, rest, &mut report);
}

/// Two walks through `aut` at once, over `x` from state `a` and over `y`
/// (as long as `x`) from `b`, up to the first byte after which either is in
/// a special state: how many bytes were taken, and the two states then.
/// Kept out of line, so that the loop's few values stay in registers.
#[inline(never)]
fn walk_two<A: Automaton>(
    aut: &A,
    mut a: StateID,
    mut b: StateID,
    x: &[u8],
    y: &[u8],
) -> (usize, StateID, StateID) {
    for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
        a = aut.next_state(Anchored::No, a, p);
        b = aut.next_state(Anchored::No, b, q);
        if aut.is_special(a) | aut.is_special(b) {
            return (i + 1, a, b);
        }
    }
    (x.len(), a, b)
}

/// One walk through `aut` over `text` from state `sid`, reporting the
/// match states it reaches.
#[inline]
fn walk<A: Automaton>(aut: &A, mut sid: StateID, text: &[u8], report: &mut impl FnMut(StateID)) {
    let mut at = 0;
    while at < text.len() {
        let (stop, next) = walk_one(aut, sid, &text[at..]);
        (sid, at) = (next, at + stop);
        if aut.is_dead(sid) {
            return;
        }
        if aut.is_match(sid) {
            report(sid);
        }
    }
}

/// One walk through `aut` over `text` from state `sid`, up to the first
/// byte after which it is in a special state: how many bytes were taken,
/// and the state then. Kept out of line, as [`walk_two`].
#[inline(never)]
fn walk_one<A: Automaton>(aut: &A, mut sid: StateID, text: &[u8]) -> (usize, StateID) {
    for (i, &b) in text.iter().enumerate() {
        sid = aut.next_state(Anchored::No, sid, b);
        if aut.is_special(sid) {
            return (i + 1, sid);
        }
    }
    (text.len(), sid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The patterns that occur, as `aho-corasick`'s overlapping iterator
    /// finds them.
    fn reference(patterns: &[String], text: &str) -> BTreeSet<usize> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .unwrap();
        ac.find_overlapping_iter(text)
            .map(|m| m.pattern().as_usize())
            .collect()
    }

    fn ours(patterns: &[String], text: &str) -> BTreeSet<usize> {
        let mut got = BTreeSet::new();
        LiteralAutomaton::new(patterns)
            .unwrap()
            .for_each_match(text.as_bytes(), |p| {
                got.insert(p);
            });
        got
    }

    #[test]
    fn overlapping_and_nested_literals_are_all_reported() {
        let pats: Vec<String> = ["obama", "obamacare", "i", "care", "", "Ma"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = "OBAMACARE is it";
        assert_eq!(ours(&pats, text), reference(&pats, text));
        assert_eq!(ours(&pats, text), BTreeSet::from([0, 1, 2, 3, 4, 5]));
    }

    #[test]
    fn long_texts_are_scanned_in_two_halves_that_miss_nothing() {
        // Four or more literals take our loop; a text of 40 bytes or more,
        // with a longest literal of 12, is cut in two. Each literal is put
        // at every place in 40 bytes of filler: at the very start, across
        // the middle, at the very end.
        let pats: Vec<String> = ["needle", "haystack", "ab", "middle term!"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let filler = "x".repeat(40);
        for (i, p) in pats.iter().enumerate() {
            for at in 0..=filler.len() {
                let text = format!("{}{}{}", &filler[..at], p, &filler[at..]);
                assert_eq!(ours(&pats, &text), BTreeSet::from([i]), "{text:?}");
            }
        }
    }

    proptest! {
        /// Every kind of automaton (few literals, up to 8, past
        /// DFA_MAX_PATTERNS) finds the literals that aho-corasick's
        /// overlapping iterator finds, in texts scanned whole and in halves.
        #[test]
        fn scans_agree_with_aho_corasick(
            pats in prop::collection::vec("[abAB ]{0,4}", 1..8),
            text in "[abcAB ]{0,80}",
            many in any::<bool>(),
        ) {
            // Past DFA_MAX_PATTERNS literals the automaton is an NFA: pad
            // with literals that never occur.
            let mut pats = pats;
            if many {
                pats.extend((0..DFA_MAX_PATTERNS).map(|i| format!("z{i}z")));
            }
            prop_assert_eq!(ours(&pats, &text), reference(&pats, &text));
        }
    }
}
