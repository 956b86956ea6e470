//! Literal prefilters for `MATCHES` patterns.
//!
//! Most regexes users write need some literal text to match: every match of
//! `(?i)\bhillary\b` contains `hillary` in some case, every match of
//! `#\w+2016` ends with `2016`. The literals a pattern needs are added to the
//! field's Aho-Corasick automaton, which scans the text anyway for the
//! `CONTAINS` literals; the field's regex set runs only on texts where one of
//! them was seen. Most texts then skip the regex search altogether.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

/// Shortest literal worth filtering on: shorter ones (`#`, `a`) are in
/// nearly every text and cost a match per occurrence.
const MIN_LITERAL_LEN: usize = 3;

/// Literals one of which every match of `pattern` contains, ASCII
/// lowercased (the automaton matches them ASCII-case-insensitively, so each
/// stands for every ASCII casing of itself), or `None` when the pattern has
/// no such set worth filtering on (or does not parse).
pub fn required_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let best = [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| usable(Extractor::new().kind(kind).extract(&hir)))
        .max_by_key(|lits| lits.iter().map(String::len).min().unwrap_or(0))?;
    Some(best)
}

/// The literals of a finite sequence, lowercased and deduplicated, when
/// each is long enough; `None` otherwise.
fn usable(seq: Seq) -> Option<Vec<String>> {
    let lits = seq.literals()?;
    let mut out: Vec<String> = Vec::with_capacity(lits.len());
    for lit in lits {
        if lit.as_bytes().len() < MIN_LITERAL_LEN {
            return None;
        }
        // A literal cut inside a character is not text the automaton can
        // be given as a pattern; give up on the pattern rather than guess.
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        out.push(text.to_ascii_lowercase());
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    #[test]
    fn case_insensitive_words_need_their_lowercase_text() {
        assert_eq!(
            required_literals(r"(?i)\bhillary\b"),
            Some(vec!["hillary".to_string()])
        );
        assert_eq!(
            required_literals(r"(?i)(trump|clinton)\s+\w+"),
            Some(vec!["clinton".to_string(), "trump".to_string()])
        );
    }

    #[test]
    fn a_weak_prefix_gives_way_to_a_strong_suffix() {
        assert_eq!(
            required_literals(r"#\w+2016"),
            Some(vec!["2016".to_string()])
        );
        assert_eq!(
            required_literals(r"^RT @user_\d+:"),
            Some(vec!["rt @user_".to_string()])
        );
    }

    #[test]
    fn patterns_without_needed_text_are_not_filtered() {
        for p in [
            r"\w+",
            r"a*",
            r"(foo)?",
            r"[a-z]{3}",
            r"x|yz",
            r"(?i)k",
            "(",
            "",
        ] {
            assert_eq!(required_literals(p), None, "{p}");
        }
    }

    /// The filter is a necessary condition: whenever the regex matches, the
    /// text contains one of the literals (compared ASCII-case-insensitively).
    #[test]
    fn every_match_contains_a_required_literal() {
        let patterns = [
            r"(?i)\bhillary\b",
            r"(?i)(trump|clinton)\s+\w+",
            r"#\w+2016",
            r"(?i)\b(polls?|rigged)\b",
            r"(?i)lock\s+her\s+up",
            r"https://t\.co/\w+",
            r"(?i)straße|strasse",
            r"(?i)kelvin",
        ];
        let texts = [
            "Hillary!",
            "HILLARY clinton",
            "TRUMP  wins",
            "#Election2016",
            "the Polls are RIGGED",
            "LOCK   HER up",
            "see https://t.co/abc",
            "STRASSE or Straße",
            "\u{212A}elvin scale",
            "nothing here",
        ];
        for p in patterns {
            let re = Regex::new(p).unwrap();
            let lits = required_literals(p);
            for t in texts {
                if re.is_match(t) {
                    let lits = lits.as_ref().unwrap_or_else(|| panic!("{p} has literals"));
                    let lower = t.to_ascii_lowercase();
                    assert!(
                        lits.iter().any(|l| lower.contains(l.as_str())),
                        "{p} matches {t:?} without any of {lits:?}"
                    );
                }
            }
        }
    }
}
