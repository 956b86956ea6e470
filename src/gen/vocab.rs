//! The fixed vocabularies shared by the tweet and query generators.
//!
//! Everything here is independent of the seed, so queries generated with any
//! seed talk about the same words, tags, languages and countries that the
//! tweets of any seed contain. Lists are in rank order: the first entry is
//! the most frequent.

use super::rng::{mix64, Rng};

/// Language codes with integer weights (per 10,000 tweets); `en` ≈ 45%.
pub const LANGS: &[(&str, u64)] = &[
    ("en", 4500),
    ("es", 1200),
    ("pt", 700),
    ("ja", 650),
    ("ar", 500),
    ("fr", 300),
    ("tr", 250),
    ("ko", 200),
    ("th", 180),
    ("id", 170),
    ("ru", 150),
    ("de", 140),
    ("it", 120),
    ("tl", 100),
    ("hi", 90),
    ("nl", 80),
    ("pl", 70),
    ("ms", 60),
    ("sv", 50),
    ("zh", 50),
    ("ur", 40),
    ("fa", 40),
    ("el", 30),
    ("uk", 30),
    ("ca", 30),
    ("he", 20),
    ("fi", 20),
    ("da", 20),
    ("no", 20),
    ("cs", 20),
];

/// ISO 3166 country codes in rank order (sampled Zipf-like when a tweet's
/// country does not follow from its language).
pub const COUNTRIES: &[&str] = &[
    "US", "GB", "BR", "JP", "ES", "MX", "AR", "IN", "FR", "CA", "SA", "TR", "ID", "DE", "PH", "KR",
    "TH", "IT", "RU", "AU", "CO", "CL", "VE", "NL", "EG", "PT", "PL", "MY", "NG", "ZA", "AE", "PK",
    "IE", "SE", "PE", "EC", "KW", "UA", "CH", "BE", "NZ", "GR", "IR", "IL", "SG", "KE", "CN", "TW",
    "AT", "DK", "NO", "FI", "CZ", "RO", "HU", "UY", "DO", "GT", "QA", "MA",
];

/// For each language, countries where it is mostly tweeted from (first
/// most likely); a tweet in that language usually comes from one of them.
pub fn lang_countries(lang: &str) -> &'static [&'static str] {
    match lang {
        "en" => &["US", "GB", "CA", "AU", "IN", "NG", "PH", "IE", "ZA", "NZ"],
        "es" => &["ES", "MX", "AR", "CO", "CL", "VE", "PE", "EC", "US", "UY"],
        "pt" => &["BR", "PT"],
        "ja" => &["JP"],
        "ar" => &["SA", "EG", "AE", "KW", "QA", "MA"],
        "fr" => &["FR", "CA", "BE", "CH", "MA"],
        "tr" => &["TR", "DE"],
        "ko" => &["KR"],
        "th" => &["TH"],
        "id" => &["ID"],
        "ru" => &["RU", "UA"],
        "de" => &["DE", "AT", "CH"],
        "it" => &["IT", "CH"],
        "tl" => &["PH"],
        "hi" => &["IN"],
        "nl" => &["NL", "BE"],
        "pl" => &["PL"],
        "ms" => &["MY", "SG"],
        "sv" => &["SE", "FI"],
        "zh" => &["CN", "TW", "SG"],
        "ur" => &["PK"],
        "fa" => &["IR"],
        "el" => &["GR"],
        "uk" => &["UA"],
        "ca" => &["ES"],
        "he" => &["IL"],
        "fi" => &["FI"],
        "da" => &["DK"],
        "no" => &["NO"],
        "cs" => &["CZ"],
        _ => &["US"],
    }
}

/// Real words at the head of the text vocabulary, in rank order: common
/// English words with the 2016-election terms mixed in. Names are printed
/// with varying capitalisation by the tweet generator.
pub const HEAD_WORDS: &[&str] = &[
    "the",
    "to",
    "a",
    "i",
    "and",
    "is",
    "in",
    "of",
    "you",
    "for",
    "it",
    "on",
    "this",
    "that",
    "rt",
    "my",
    "with",
    "be",
    "are",
    "not",
    "so",
    "just",
    "have",
    "we",
    "at",
    "me",
    "all",
    "trump",
    "your",
    "but",
    "was",
    "like",
    "he",
    "what",
    "do",
    "can",
    "if",
    "they",
    "up",
    "election",
    "no",
    "out",
    "will",
    "about",
    "get",
    "vote",
    "now",
    "one",
    "people",
    "hillary",
    "from",
    "how",
    "when",
    "who",
    "she",
    "his",
    "by",
    "an",
    "new",
    "more",
    "debate",
    "clinton",
    "her",
    "know",
    "good",
    "going",
    "our",
    "love",
    "time",
    "why",
    "don't",
    "today",
    "there",
    "president",
    "think",
    "would",
    "america",
    "see",
    "day",
    "has",
    "obama",
    "want",
    "country",
    "really",
    "right",
    "only",
    "make",
    "been",
    "via",
    "over",
    "great",
    "never",
    "donald",
    "bernie",
    "sanders",
    "voting",
    "polls",
    "win",
    "media",
    "back",
    "news",
    "campaign",
    "emails",
    "fbi",
    "jobs",
    "economy",
    "tax",
    "wall",
    "first",
    "last",
    "night",
    "live",
    "watch",
    "us",
    "states",
    "american",
    "world",
    "life",
    "votes",
    "white",
    "house",
    "pence",
    "kaine",
    "rally",
    "poll",
    "vp",
    "state",
    "florida",
    "ohio",
    "swing",
    "early",
    "nominee",
    "gop",
    "democrats",
    "republicans",
    "congress",
    "senate",
    "health",
    "care",
    "obamacare",
    "immigration",
    "border",
    "rigged",
    "crooked",
    "nasty",
    "deplorables",
    "stronger",
    "together",
    "again",
    "lol",
    "omg",
    "wow",
    "yes",
    "thank",
    "thanks",
    "please",
    "happy",
    "best",
    "better",
    "still",
    "after",
    "before",
    "here",
    "next",
    "every",
    "year",
    "week",
    "tomorrow",
    "tonight",
    "morning",
    "man",
    "woman",
    "women",
    "men",
    "black",
    "lives",
    "matter",
    "police",
    "war",
    "isis",
    "russia",
    "putin",
    "china",
    "mexico",
    "syria",
    "iran",
    "nuclear",
    "military",
    "veterans",
    "guns",
    "nra",
    "supreme",
    "court",
    "justice",
    "law",
    "money",
    "street",
    "bank",
    "trade",
    "deal",
    "nafta",
    "climate",
    "change",
    "energy",
    "coal",
    "oil",
    "school",
    "college",
    "students",
    "debt",
    "free",
    "kids",
    "family",
    "god",
    "church",
    "truth",
    "lie",
    "lies",
    "liar",
    "fact",
    "check",
    "biden",
    "kasich",
    "cruz",
    "rubio",
    "comey",
    "wikileaks",
    "podesta",
    "assange",
    "melania",
    "ivanka",
    "bill",
    "chelsea",
    "michelle",
    "moderator",
    "cnn",
    "fox",
    "msnbc",
    "twitter",
    "facebook",
    "video",
    "photo",
    "story",
    "breaking",
    "update",
    "report",
];

/// Words whose leading capital is the usual spelling (names and places);
/// the generator capitalises them more often than other words.
pub const NAMES: &[&str] = &[
    "trump", "hillary", "clinton", "obama", "donald", "bernie", "sanders", "america", "pence",
    "kaine", "florida", "ohio", "russia", "putin", "china", "mexico", "syria", "iran", "biden",
    "kasich", "cruz", "rubio", "comey", "podesta", "assange", "melania", "ivanka", "bill",
    "chelsea", "michelle", "god", "american",
];

/// Multi-word phrases sometimes inserted into a text, so that multi-word
/// `CONTAINS` and `MATCHES` patterns (e.g. `vote\s+for`) find something.
pub const PHRASES: &[&str] = &[
    "vote for",
    "make america great again",
    "i'm with her",
    "feel the bern",
    "drain the swamp",
    "lock her up",
    "when they go low, we go high",
    "stronger together",
    "crooked hillary",
    "nasty woman",
    "basket of deplorables",
    "bad hombres",
    "election day",
    "early voting",
    "vote early",
    "presidential debate",
];

/// Tokens that need JSON escaping or are non-ASCII; about one text in 50
/// gets one, so decoders see quotes, backslashes, control characters,
/// accented letters and emoji.
pub const SPECIALS: &[&str] = &[
    "\"quoted\"",
    "back\\slash",
    "\\o/",
    "café",
    "José",
    "naïve",
    "señor",
    "🔥",
    "😂",
    "🇺🇸",
    "“smart quotes”",
    "tab\there",
    "line\nbreak",
    "São Paulo",
    "Zürich",
    "日本",
];

/// Real hashtags at the head of the hashtag set, in rank order (without `#`).
pub const HEAD_HASHTAGS: &[&str] = &[
    "election2016",
    "debate",
    "maga",
    "imwithher",
    "trump",
    "hillary",
    "electionnight",
    "vote",
    "debates2016",
    "nevertrump",
    "trumppence16",
    "crookedhillary",
    "feelthebern",
    "draintheswamp",
    "trump2016",
    "hillaryclinton",
    "electionday",
    "votetrump",
    "strongertogether",
    "imvoting",
    "election",
    "podestaemails",
    "wikileaks",
    "obama",
    "nastywoman",
    "neverhillary",
    "debatenight",
    "america",
    "politics",
    "news",
    "breaking",
    "gop",
    "democrats",
    "usa",
    "earlyvote",
    "rigged",
    "fbi",
    "berniesanders",
    "love",
    "music",
];

/// Number of distinct hashtags (real head plus generated tail).
pub const HASHTAG_COUNT: usize = 500;

/// Number of words in the text vocabulary (real head plus pseudo-words).
pub const VOCAB_SIZE: usize = 3000;

/// Number of distinct users (`user_0` … `user_99999`).
pub const USER_COUNT: u64 = 100_000;

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
    "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ee", "ou", "oo"];
const CODAS: &[&str] = &["", "", "", "", "", "n", "r", "s", "t", "l", "m", "ck", "ng"];

/// A deterministic pronounceable pseudo-word for index `i` (1–3 syllables,
/// mostly 2).
pub fn pseudo_word(i: u64, out: &mut String) {
    let mut r = Rng::new(mix64(i ^ 0x005E_ED0F_0AD5));
    let syllables = [1, 2, 2, 2, 3][r.below(5) as usize];
    for _ in 0..syllables {
        out.push_str(r.pick::<&str>(ONSETS));
        out.push_str(r.pick::<&str>(VOWELS));
        out.push_str(r.pick::<&str>(CODAS));
    }
}

/// The text vocabulary in rank order: [`HEAD_WORDS`] followed by distinct
/// pseudo-words up to [`VOCAB_SIZE`] entries. Every entry is lower-case ASCII.
pub fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = HEAD_WORDS.iter().map(|w| w.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    let mut i = 0u64;
    while words.len() < VOCAB_SIZE {
        let mut w = String::new();
        pseudo_word(i, &mut w);
        i += 1;
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// The hashtag set in rank order: [`HEAD_HASHTAGS`] followed by generated
/// tags up to [`HASHTAG_COUNT`] entries. Every entry is lower-case ASCII.
pub fn hashtags() -> Vec<String> {
    const SUFFIXES: &[&str] = &["", "", "2016", "news", "life", "day", "nation", "tv"];
    let mut tags: Vec<String> = HEAD_HASHTAGS.iter().map(|w| w.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = tags.iter().cloned().collect();
    let mut i = 1u64 << 32;
    while tags.len() < HASHTAG_COUNT {
        let mut w = String::new();
        pseudo_word(i, &mut w);
        w.push_str(SUFFIXES[(mix64(i) % SUFFIXES.len() as u64) as usize]);
        i += 1;
        if seen.insert(w.clone()) {
            tags.push(w);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_distinct_ascii_and_sized() {
        let v = vocabulary();
        assert_eq!(v.len(), VOCAB_SIZE);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), v.len());
        assert!(v.iter().all(|w| w
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b' ' || b == b'\'')));
        assert_eq!(v, vocabulary());
    }

    #[test]
    fn hashtags_distinct_and_sized() {
        let h = hashtags();
        assert_eq!(h.len(), HASHTAG_COUNT);
        let set: std::collections::HashSet<_> = h.iter().collect();
        assert_eq!(set.len(), h.len());
        assert!(h.iter().all(|w| w
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())));
    }

    #[test]
    fn names_are_in_vocabulary() {
        for n in NAMES {
            assert!(HEAD_WORDS.contains(n), "{n}");
        }
        for (l, _) in LANGS {
            for c in lang_countries(l) {
                assert!(COUNTRIES.contains(c), "{l} {c}");
            }
        }
    }
}
