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
//! which takes several walks in one loop, so that the processor overlaps
//! their table reads: the texts of many records in lanes
//! ([`LiteralAutomaton::for_each_match_in_texts`]), or a long text alone
//! as two or four parts.

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
        self.search(text, MOST_WALKS, found);
    }

    /// As [`LiteralAutomaton::for_each_match`], but in at most `walks`
    /// walks at once (1, 2 or 4; see [`MOST_WALKS`]): for benchmarks and
    /// tests, which compare them.
    pub fn for_each_match_in_walks(&self, text: &[u8], walks: usize, found: impl FnMut(usize)) {
        self.search(text, walks, found);
    }

    /// True when [`LiteralAutomaton::for_each_match_in_texts`] scans
    /// several texts at once (our loop); false when it scans them one by
    /// one (few literals, found by `aho-corasick`'s own search).
    pub fn scans_texts_together(&self) -> bool {
        !matches!(self, LiteralAutomaton::Few(_))
    }

    /// Calls `found(i, id)` with the id of every pattern that occurs in
    /// `texts[i]`, for every `i`: at least once each, in no set order.
    /// Several texts are walked at once ([`LANES`]), each from its start to
    /// its end, so that no text is cut and no walk repeats bytes.
    pub fn for_each_match_in_texts(&self, texts: &[&[u8]], mut found: impl FnMut(usize, usize)) {
        match self {
            LiteralAutomaton::Few(_) => {
                for (i, text) in texts.iter().enumerate() {
                    self.for_each_match(text, |p| found(i, p));
                }
            }
            LiteralAutomaton::Dfa(a) => scan_texts(a, texts, found),
            LiteralAutomaton::Nfa(a) => scan_texts(a, texts, found),
        }
    }

    #[inline]
    fn search(&self, text: &[u8], walks: usize, mut found: impl FnMut(usize)) {
        match self {
            LiteralAutomaton::Few(a) => {
                for m in a.find_overlapping_iter(text) {
                    found(m.pattern().as_usize());
                }
            }
            LiteralAutomaton::Dfa(a) => scan(a, text, walks, found),
            LiteralAutomaton::Nfa(a) => scan(a, text, walks, found),
        }
    }
}

/// Walks through the automaton that one text is scanned in at most. Each
/// step of a walk waits for the previous one (the next state is read from
/// the table at the current one), so a text is cut in parts that walks
/// take in one loop, and the processor overlaps their table reads. Measured
/// with `cargo bench --bench literals` (BENCHMARKS.md, nineteenth session).
pub const MOST_WALKS: usize = 4;

/// A text is scanned in `k` walks when each walk has at least this many
/// bytes of its own beyond the longest literal (less one byte) that it
/// shares with the walk before it; otherwise in fewer.
pub const SPLIT_SLACK: usize = 8;

/// The overlapping scan of `text` through `aut`, in up to `most_walks`
/// walks at once.
#[inline]
fn scan<A: Automaton>(aut: &A, text: &[u8], most_walks: usize, mut found: impl FnMut(usize)) {
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
    scan_from(aut, start, text, most_walks, &mut report);
}

/// The scan of `text` from the start state `start` (whose own match is
/// not reported), in up to `most_walks` walks at once.
fn scan_from<A: Automaton>(
    aut: &A,
    start: StateID,
    text: &[u8],
    most_walks: usize,
    report: &mut impl FnMut(StateID),
) {
    let overlap = aut.max_pattern_len().saturating_sub(1);
    let fits = |k: usize| k <= most_walks && text.len() >= k * (overlap + SPLIT_SLACK);
    if fits(4) {
        scan_in_walks::<A, 4>(aut, start, text, overlap, report);
    } else if fits(2) {
        scan_in_walks::<A, 2>(aut, start, text, overlap, report);
    } else {
        walk(aut, start, text, report);
    }
}

/// The scan of `text` in `K` walks at once, each over `len` bytes: walk
/// `j` starts `j * (len - overlap)` bytes in, from the start state, so it
/// starts `overlap` (the longest literal less one byte) before the walk
/// ahead of it ends. Every occurrence then lies within one walk: one that
/// ends inside walk `j`'s last `len - overlap` bytes starts no earlier
/// than walk `j` does. The last walk goes on to the end of the text.
/// Occurrences within an overlap may be reported twice.
fn scan_in_walks<A: Automaton, const K: usize>(
    aut: &A,
    start: StateID,
    text: &[u8],
    overlap: usize,
    report: &mut impl FnMut(StateID),
) {
    let len = (text.len() + (K - 1) * overlap) / K;
    let step = len - overlap;
    let parts: [&[u8]; K] = std::array::from_fn(|j| &text[j * step..j * step + len]);
    let mut states = [start; K];
    let mut seen = [(0u8, start); SPECIAL_SEEN];
    let mut at = 0;
    while at < len {
        let (stop, next, noted) = walk_noting(aut, states, parts.map(|p| &p[at..]), &mut seen);
        states = next;
        at += stop;
        // A dead state (which an unanchored search of every match never
        // reaches) is special but no match.
        for (_, sid) in &seen[..noted] {
            if aut.is_match(*sid) {
                report(*sid);
            }
        }
    }
    walk(aut, states[K - 1], &text[(K - 1) * step + len..], report);
}

/// Texts walked at once by [`LiteralAutomaton::for_each_match_in_texts`].
pub const LANES: usize = 4;

/// The overlapping scan of every text of `texts` through `aut`, in
/// [`LANES`] walks at once: each walk (a lane) takes the next text when
/// its own ends. The lanes advance together by the bytes that all of them
/// have left (less when many matches fill the notes of
/// [`walk_noting`]); when no text is left to take, the texts still in the
/// lanes are finished one by one.
fn scan_texts<A: Automaton>(aut: &A, texts: &[&[u8]], mut found: impl FnMut(usize, usize)) {
    let Ok(start) = aut.start_state(Anchored::No) else {
        return;
    };
    let mut report = |i: usize, sid: StateID| {
        for m in 0..aut.match_len(sid) {
            found(i, aut.match_pattern(sid, m).as_usize());
        }
    };
    // The empty literal matches before the first byte of every text.
    if aut.is_match(start) {
        for i in 0..texts.len() {
            report(i, start);
        }
    }
    let mut pending = texts
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, t)| !t.is_empty());
    // Each lane's text, and the part of it still to walk.
    let mut lanes: [(usize, &[u8]); LANES] = [(usize::MAX, &[]); LANES];
    for lane in lanes.iter_mut() {
        match pending.next() {
            Some((i, text)) => *lane = (i, text),
            None => break,
        }
    }
    let mut states = [start; LANES];
    let mut full = lanes.iter().all(|(i, _)| *i != usize::MAX);
    let mut special = [(0u8, start); SPECIAL_SEEN];
    while full {
        let step = lanes.iter().map(|(_, rest)| rest.len()).min().unwrap_or(0);
        let (stop, next, seen) = walk_noting(
            aut,
            states,
            lanes.map(|(_, rest)| &rest[..step]),
            &mut special,
        );
        states = next;
        for (lane, sid) in &special[..seen] {
            if aut.is_match(*sid) {
                report(lanes[*lane as usize].0, *sid);
            }
        }
        for (lane, sid) in lanes.iter_mut().zip(states.iter_mut()) {
            lane.1 = &lane.1[stop..];
            if lane.1.is_empty() {
                match pending.next() {
                    Some(text) => (*lane, *sid) = (text, start),
                    None => full = false,
                }
            }
        }
    }
    // Fewer texts left than lanes: each finished on its own, one not yet
    // begun cut in parts as a single text is.
    for ((i, rest), sid) in lanes.into_iter().zip(states) {
        if rest.is_empty() {
            continue;
        }
        let report = &mut |s| report(i, s);
        if rest.len() == texts[i].len() {
            scan_from(aut, start, rest, MOST_WALKS, report);
        } else {
            walk(aut, sid, rest, report);
        }
    }
}

/// Special states (matches) that [`walk_noting`] notes before it returns.
const SPECIAL_SEEN: usize = 32;

/// `K` walks through `aut` at once, walk `j` over `parts[j]` (all of one
/// length) from `states[j]`, noting in `seen` each special state a walk
/// enters (with the walk's number) without stopping, up to the end of the
/// parts or until `seen` may not hold another step's: how many bytes were
/// taken, the states then, and how many special states were noted. Kept
/// out of line, so that the loop's few values stay in registers.
#[inline(never)]
fn walk_noting<A: Automaton, const K: usize>(
    aut: &A,
    mut states: [StateID; K],
    parts: [&[u8]; K],
    seen: &mut [(u8, StateID); SPECIAL_SEEN],
) -> (usize, [StateID; K], usize) {
    let n = parts[0].len();
    let parts = parts.map(|p| &p[..n]);
    let mut noted = 0;
    for i in 0..n {
        for (j, (sid, part)) in states.iter_mut().zip(&parts).enumerate() {
            *sid = aut.next_state(Anchored::No, *sid, part[i]);
            if aut.is_special(*sid) {
                seen[noted] = (j as u8, *sid);
                noted += 1;
            }
        }
        if noted > SPECIAL_SEEN - K {
            return (i + 1, states, noted);
        }
    }
    (n, states, noted)
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
/// and the state then. Kept out of line, as [`walk_noting`].
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
        ours_in(patterns, text, MOST_WALKS)
    }

    fn ours_in(patterns: &[String], text: &str, walks: usize) -> BTreeSet<usize> {
        let mut got = BTreeSet::new();
        LiteralAutomaton::new(patterns)
            .unwrap()
            .for_each_match_in_walks(text.as_bytes(), walks, |p| {
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
    fn long_texts_are_scanned_in_parts_that_miss_nothing() {
        // Four or more literals take our loop. With a longest literal of
        // 12, a text of 38 bytes or more is cut in two, one of 76 or more
        // in four. Each literal is put at every place in 40 and in 100
        // bytes of filler: at the very start, across every cut, at the
        // very end.
        let pats: Vec<String> = ["needle", "haystack", "ab", "middle term!"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for filler in ["x".repeat(40), "x".repeat(100)] {
            for (i, p) in pats.iter().enumerate() {
                for at in 0..=filler.len() {
                    let text = format!("{}{}{}", &filler[..at], p, &filler[at..]);
                    for walks in [1, 2, 4] {
                        assert_eq!(
                            ours_in(&pats, &text, walks),
                            BTreeSet::from([i]),
                            "{walks} walks: {text:?}"
                        );
                    }
                }
            }
        }
    }

    /// The patterns found in each text by scanning them together.
    fn ours_together(patterns: &[String], texts: &[String]) -> Vec<BTreeSet<usize>> {
        let mut got = vec![BTreeSet::new(); texts.len()];
        let bytes: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        LiteralAutomaton::new(patterns)
            .unwrap()
            .for_each_match_in_texts(&bytes, |i, p| {
                got[i].insert(p);
            });
        got
    }

    #[test]
    fn texts_scanned_together_keep_their_own_matches() {
        let pats: Vec<String> = ["needle", "haystack", "ab", "middle term!", "ba"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let texts: Vec<String> = [
            "a needle",
            "",
            "no",
            "HAYSTACK and a needle, much longer than the others around it",
            "x",
            "middle term! ab",
            "aba",
            "b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let expect: Vec<BTreeSet<usize>> = texts.iter().map(|t| reference(&pats, t)).collect();
        assert_eq!(ours_together(&pats, &texts), expect);
        assert_eq!(expect[3], BTreeSet::from([0, 1]));
        assert_eq!(expect[6], BTreeSet::from([2, 4]));
    }

    proptest! {
        /// Texts scanned together, in lanes that take the next text as
        /// their own ends, find in each text what a scan of it alone finds.
        #[test]
        fn texts_scanned_together_agree_with_aho_corasick(
            pats in prop::collection::vec("[abAB ]{0,6}", 1..8),
            texts in prop::collection::vec("[abcAB ]{0,40}", 0..12),
            many in any::<bool>(),
        ) {
            let mut pats = pats;
            if many {
                pats.extend((0..DFA_MAX_PATTERNS).map(|i| format!("z{i}z")));
            }
            let expect: Vec<BTreeSet<usize>> = texts.iter().map(|t| reference(&pats, t)).collect();
            prop_assert_eq!(ours_together(&pats, &texts), expect);
        }

        /// Every kind of automaton (few literals, up to 8, past
        /// DFA_MAX_PATTERNS) finds the literals that aho-corasick's
        /// overlapping iterator finds, in texts scanned whole, in halves
        /// and in quarters.
        #[test]
        fn scans_agree_with_aho_corasick(
            pats in prop::collection::vec("[abAB ]{0,6}", 1..8),
            text in "[abcAB ]{0,120}",
            many in any::<bool>(),
            walks in prop::sample::select(vec![1usize, 2, 4]),
        ) {
            // Past DFA_MAX_PATTERNS literals the automaton is an NFA: pad
            // with literals that never occur.
            let mut pats = pats;
            if many {
                pats.extend((0..DFA_MAX_PATTERNS).map(|i| format!("z{i}z")));
            }
            prop_assert_eq!(ours_in(&pats, &text, walks), reference(&pats, &text));
        }
    }
}
