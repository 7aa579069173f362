//! Whole words: yes/no answers, sets of words found in long texts (Teddy SIMD search), word
//! boundaries and word iteration. The plain rule is splitting the text into words at every
//! non-alphanumeric character; the tests hold each fast path to it.

use aho_corasick::{packed, AhoCorasick, MatchKind};
use std::sync::LazyLock;

/// `Some(true)` for an answer saying yes, `Some(false)` for no, `None` for neither or
/// both. Only whole words count: `eyes`, `know`, `nope` are not answers.
pub fn yes_no(s: &str) -> Option<bool> {
    // the usual answers, whole: `yes`, `No.`, `YES!`
    let bare = s.strip_suffix(['.', '!']).unwrap_or(s);
    if bare.eq_ignore_ascii_case("yes") {
        return Some(true);
    }
    if bare.eq_ignore_ascii_case("no") {
        return Some(false);
    }
    let (yes, no) = if s.len() <= 64 {
        says_yes_no_short(s)
    } else {
        let mut seen = [false; 2];
        YES_NO.for_each_in(s, |k| {
            seen[k] = true;
            !(seen[0] && seen[1])
        });
        (seen[0], seen[1])
    };
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Whether a short text says `yes` and whether it says `no` (whole words, any case).
/// Eight bytes at a time: the `y`/`n` bytes in either case are found by word
/// arithmetic, and only those are looked at.
fn says_yes_no_short(s: &str) -> (bool, bool) {
    const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const CASE_BIT: u64 = 0x2020_2020_2020_2020;
    // the 0x80 bit of each zero byte of `v`, exactly (no carries between bytes)
    let zero_bytes = |v: u64| !((((v & LOW_BITS) + LOW_BITS) | v) | LOW_BITS);
    let b = s.as_bytes();
    let (mut yes, mut no) = (false, false);
    let n = b.len();
    // `at + 8 <= n` at every call below; a miss would read as padding, never panic
    let load = |at: usize| b.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes);
    for k in (0..n).step_by(8) {
        // bytes k.. as a word; missing bytes are 0 (0 | 0x20 is neither letter)
        let word = if k + 8 <= n {
            load(k)
        } else if n >= 8 {
            load(n - 8) >> (8 * (k + 8 - n)) // the last 8 bytes, without those already seen
        } else {
            b.iter().rev().fold(0, |w, &c| w << 8 | u64::from(c))
        };
        let folded = word | CASE_BIT;
        let mut hits = zero_bytes(folded ^ (u64::from(b'y') * 0x0101_0101_0101_0101))
            | zero_bytes(folded ^ (u64::from(b'n') * 0x0101_0101_0101_0101));
        while hits != 0 {
            let at = k + (hits.trailing_zeros() / 8) as usize;
            hits &= hits - 1;
            if b[at] | 0x20 == b'y' {
                yes |= is_word_at(s, at, b"yes");
            } else {
                no |= is_word_at(s, at, b"no");
            }
        }
    }
    (yes, no)
}

/// A fixed set of lower-case ASCII words, found as whole words in any ASCII case, for
/// long texts (splitting a text into words costs a mispredicted branch per boundary).
///
/// An ASCII text is copied with letters lower-cased, digits kept and every other byte
/// made a space, behind one leading space; the words are searched as ` word`, so the
/// search itself (Teddy, SIMD, from `aho-corasick`) only stops at word starts, and the
/// byte after a match says whether the word ends there. Any other text is lower-cased
/// (ASCII bytes only: offsets and the UTF-8 of other characters are unchanged), the bare
/// words are searched, and [`is_whole_word`] decides on the original text.
pub struct WordSet {
    spaced: MultiSearch,
    bare: MultiSearch,
}

/// Leftmost-longest search for a few literals: Teddy where the CPU has the SIMD it needs
/// (x86-64 with SSSE3, aarch64), else the Aho–Corasick automaton.
enum MultiSearch {
    Teddy(packed::Searcher),
    Automaton(AhoCorasick),
}

impl MultiSearch {
    fn new(patterns: &[String], allow_simd: bool) -> MultiSearch {
        let config =
            packed::Config::new().match_kind(packed::MatchKind::LeftmostLongest).builder().extend(patterns).build();
        match config.filter(|_| allow_simd) {
            Some(teddy) => MultiSearch::Teddy(teddy),
            None => MultiSearch::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(patterns)
                    .expect("a few short literal patterns always build"),
            ),
        }
    }

    /// Calls `visit` on each match in order until it returns false.
    fn each(&self, haystack: &[u8], visit: impl FnMut(aho_corasick::Match) -> bool) {
        let _ = match self {
            MultiSearch::Teddy(searcher) => searcher.find_iter(haystack).all(visit),
            MultiSearch::Automaton(automaton) => automaton.find_iter(haystack).all(visit),
        };
    }
}

impl WordSet {
    /// `words`: non-empty lower-case ASCII letters.
    pub fn new(words: &[&str]) -> WordSet {
        WordSet::build(words, true)
    }

    /// The same set searched by the automata alone (what a CPU without Teddy runs).
    #[cfg(test)]
    pub fn without_simd(words: &[&str]) -> WordSet {
        WordSet::build(words, false)
    }

    fn build(words: &[&str], allow_simd: bool) -> WordSet {
        debug_assert!(words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())));
        // leftmost-longest: at a word's start the whole word wins over a shorter pattern
        // that begins it (`seventeen` over `seven`). Patterns are letters only (after the
        // space), so no candidate spans two words and none hides a whole-word occurrence.
        let spaced: Vec<String> = words.iter().map(|w| format!(" {w}")).collect();
        let bare: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        WordSet { spaced: MultiSearch::new(&spaced, allow_simd), bare: MultiSearch::new(&bare, allow_simd) }
    }

    /// Calls `f` with the index (in `words`) of each whole-word occurrence in `s`, in
    /// order, until `f` returns false.
    pub fn for_each_in(&self, s: &str, mut f: impl FnMut(usize) -> bool) {
        let b = s.as_bytes();
        if s.is_ascii() {
            let mut words_only = Vec::with_capacity(b.len() + 1);
            words_only.push(b' ');
            // branch-free per byte, so the compiler vectorises it
            words_only.extend(b.iter().map(|&c| {
                let letter = (c | 0x20).wrapping_sub(b'a') < 26;
                let digit = c.wrapping_sub(b'0') < 10;
                if letter {
                    c | 0x20
                } else if digit {
                    c
                } else {
                    b' '
                }
            }));
            // a match ` word` at `m.start()` of the copy is `word` at `m.start()` of `s`
            // (the copy leads by one byte), ending at `m.end() - 1`
            self.spaced.each(&words_only, |m| {
                words_only.get(m.end()).is_some_and(|&c| c != b' ') || f(m.pattern().as_usize())
            });
        } else {
            let lower = b.to_ascii_lowercase();
            // a match starts and ends at ASCII letters: char boundaries of `s`
            self.bare.each(&lower, |m| !is_whole_word(s, m.start(), m.end()) || f(m.pattern().as_usize()));
        }
    }
}

static YES_NO: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(&["yes", "no"]));

/// `word` (lower-case ASCII) is at byte `at` of `s` in any ASCII case, as a whole word.
#[inline]
fn is_word_at(s: &str, at: usize, word: &[u8]) -> bool {
    s.as_bytes().get(at..at + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word))
        && is_whole_word(s, at, at + word.len())
}

/// `s[start..end]` is a whole word: no alphanumeric character (Unicode-aware) touches it
/// on either side. `start` and `end` must be char boundaries.
pub fn is_whole_word(s: &str, start: usize, end: usize) -> bool {
    let b = s.as_bytes();
    let alnum_before = match start.checked_sub(1).map(|i| b[i]) {
        None => false,
        Some(c) if c < 0x80 => ASCII_ALNUM[c as usize],
        Some(_) => s[..start].chars().next_back().is_some_and(char::is_alphanumeric),
    };
    let alnum_after = match b.get(end) {
        None => false,
        Some(&c) if c < 0x80 => ASCII_ALNUM[c as usize],
        Some(_) => s[end..].chars().next().is_some_and(char::is_alphanumeric),
    };
    !alnum_before && !alnum_after
}

/// `u8::is_ascii_alphanumeric` as a table (a load instead of range compares and branches).
static ASCII_ALNUM: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// Calls `f` on each word of `s` in order (a maximal run of alphanumeric characters,
/// Unicode-aware), as bytes, until `f` returns false.
pub fn for_each_word<'a>(s: &'a str, mut f: impl FnMut(&'a [u8]) -> bool) {
    if s.is_ascii() {
        let (b, n) = (s.as_bytes(), s.len());
        let mut i = 0;
        while i < n {
            while i < n && !ASCII_ALNUM[b[i] as usize] {
                i += 1;
            }
            let start = i;
            while i < n && ASCII_ALNUM[b[i] as usize] {
                i += 1;
            }
            if start < i && !f(&b[start..i]) {
                return;
            }
        }
    } else {
        // the same with non-ASCII characters decoded where they occur (splitting on a
        // char predicate would decode every character)
        let (b, n) = (s.as_bytes(), s.len());
        let class = |i: usize| -> (bool, usize) {
            match b[i] {
                c if c < 0x80 => (ASCII_ALNUM[c as usize], 1),
                _ => s[i..].chars().next().map_or((false, 1), |ch| (ch.is_alphanumeric(), ch.len_utf8())),
            }
        };
        let mut i = 0;
        while i < n {
            let (is_word, len) = class(i);
            if !is_word {
                i += len;
                continue;
            }
            let start = i;
            i += len;
            while i < n {
                let (is_word, len) = class(i);
                if !is_word {
                    break;
                }
                i += len;
            }
            if !f(&b[start..i]) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_and_no() {
        assert_eq!(yes_no("Yes"), Some(true));
        assert_eq!(yes_no("yes."), Some(true));
        assert_eq!(yes_no("YES, it is"), Some(true));
        assert_eq!(yes_no("No"), Some(false));
        assert_eq!(yes_no("no, there isn't"), Some(false));
        assert_eq!(yes_no("yes and no"), None);
        assert_eq!(yes_no("Yes/No"), None);
        assert_eq!(yes_no("eyes"), None);
        assert_eq!(yes_no("I know"), None);
        assert_eq!(yes_no("nope, yesterday"), None);
        assert_eq!(yes_no("eyes: no"), Some(false));
        assert_eq!(yes_no(""), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::testing::text;
    use proptest::prelude::*;

    /// The plain form of `yes_no`: split into words, compare each.
    fn reference_yes_no(s: &str) -> Option<bool> {
        let words: Vec<&str> = s.split(|c: char| !c.is_alphanumeric()).collect();
        let yes = words.iter().any(|w| w.eq_ignore_ascii_case("yes"));
        let no = words.iter().any(|w| w.eq_ignore_ascii_case("no"));
        match (yes, no) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn word_scans_and_yes_no_agree_with_splitting_into_words(
            a in text(),
            b in prop_oneof![text(), Just(String::from("yes")), Just(String::from(" (YES.) "))],
            pad in "[ \t\n\u{a0}\u{2003}\u{3000}]{0,3}",
        ) {
            for t in [a.as_str(), &format!("{a}é{b}…ß2x"), &format!("{pad}{a} {b}")] {
                let mut words = Vec::new();
                for_each_word(t, |w| {
                    words.push(w);
                    true
                });
                let plain: Vec<&[u8]> =
                    t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::as_bytes).collect();
                prop_assert_eq!(words, plain);
            }
            for t in [a.as_str(), &format!("{a} yes{pad}"), &format!("{pad}No.{a}"), &format!("{a}{b}"), &format!("é{a}yes {b} ényes Nob nO")] {
                prop_assert_eq!(yes_no(t), reference_yes_no(t), "{:?}", t);
            }
        }

        /// Both searchers of a word set (Teddy and the automaton) find exactly the words
        /// that splitting the text into words finds, in order.
        #[test]
        fn word_sets_find_the_whole_words(a in text(), b in text(), pad in "[ .]{0,2}") {
            const WORDS: [&str; 6] = ["no", "yes", "seven", "seventeen", "teen", "a"];
            let t = format!("{a}{pad}Seventeen yes{b}NO seventeenth{pad}{a}");
            let ascii: String = t.chars().filter(char::is_ascii).collect();
            for t in [t, ascii] {
                let plain: Vec<usize> = t
                    .split(|c: char| !c.is_alphanumeric())
                    .filter_map(|w| WORDS.iter().position(|p| p.eq_ignore_ascii_case(w)))
                    .collect();
                for set in [WordSet::new(&WORDS), WordSet::without_simd(&WORDS)] {
                    let mut found = Vec::new();
                    set.for_each_in(&t, |k| {
                        found.push(k);
                        true
                    });
                    prop_assert_eq!(&found, &plain, "{:?}", t);
                }
            }
        }
    }
}
