//! Counts: an integer answer, or one of the number words zero to twenty. Short answers are
//! scanned word by word; long texts search the number words at once ([`crate::text::WordSet`]).
//! The plain rule, split into words and look each up, is the tests' oracle.

use super::read::parse_number;
use std::sync::LazyLock;

/// The integer a `count` answer states: a number that is an exact integer, or — when
/// the answer has no digits — exactly one number word from zero to twenty.
pub fn parse_count(text: &str) -> Option<i64> {
    if has_ascii_digit(text.as_bytes()) {
        let n = parse_number(text)?;
        let integral = !n.percent && n.value.fract() == 0.0 && n.value.abs() < 9.0e15;
        return integral.then_some(n.value as i64);
    }
    let mut found = None;
    let mut seen_twice = false;
    let mut see = |k: usize| {
        seen_twice |= found.is_some();
        found = Some(k as i64);
        !seen_twice
    };
    if text.len() <= 64 {
        // a short answer (`three`, `There are five.`): splitting it into words costs
        // less than setting up the multi-word search
        crate::text::for_each_word(text, |word| number_word(word).is_none_or(&mut see));
    } else {
        NUMBER_WORDS.for_each_in(text, see);
    }
    if seen_twice {
        None
    } else {
        found
    }
}

/// Whether any byte is an ASCII digit: fixed-size blocks with no early exit inside, so
/// the compiler vectorises the test.
fn has_ascii_digit(b: &[u8]) -> bool {
    b.chunks(32).any(|block| block.iter().fold(false, |any, &c| any | (c.wrapping_sub(b'0') < 10)))
}

/// `zero` .. `twenty`, in order (the index is the value).
const NUMBER_WORD_LIST: [&str; 21] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
];

static NUMBER_WORDS: LazyLock<crate::text::WordSet> = LazyLock::new(|| crate::text::WordSet::new(&NUMBER_WORD_LIST));

/// The value of a number word `zero` .. `twenty` (any case). Words of the wrong length
/// or first letter are turned away before any comparison.
fn number_word(word: &[u8]) -> Option<usize> {
    if !(3..=9).contains(&word.len()) || !matches!(word[0] | 0x20, b'z' | b'o' | b't' | b'f' | b's' | b'e' | b'n') {
        return None; // "one" .. "seventeen"
    }
    let mut lower = [0u8; 9];
    for (l, &c) in lower.iter_mut().zip(word) {
        *l = c.to_ascii_lowercase();
    }
    // a match on the lower-cased bytes: a jump on the length, then a few compares
    Some(match &lower[..word.len()] {
        b"zero" => 0,
        b"one" => 1,
        b"two" => 2,
        b"three" => 3,
        b"four" => 4,
        b"five" => 5,
        b"six" => 6,
        b"seven" => 7,
        b"eight" => 8,
        b"nine" => 9,
        b"ten" => 10,
        b"eleven" => 11,
        b"twelve" => 12,
        b"thirteen" => 13,
        b"fourteen" => 14,
        b"fifteen" => 15,
        b"sixteen" => 16,
        b"seventeen" => 17,
        b"eighteen" => 18,
        b"nineteen" => 19,
        b"twenty" => 20,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_words_in_any_case() {
        for (k, w) in NUMBER_WORD_LIST.iter().enumerate() {
            assert_eq!(number_word(w.as_bytes()), Some(k));
            assert_eq!(number_word(w.to_uppercase().as_bytes()), Some(k));
            let mixed: String =
                w.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
            assert_eq!(number_word(mixed.as_bytes()), Some(k));
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("3"), Some(3));
        assert_eq!(parse_count("There are 3 dogs."), Some(3));
        assert_eq!(parse_count("three"), Some(3));
        assert_eq!(parse_count("Twenty"), Some(20));
        assert_eq!(parse_count("zero"), Some(0));
        assert_eq!(parse_count("3.5"), None);
        assert_eq!(parse_count("3.0"), Some(3));
        assert_eq!(parse_count("two or three"), None);
        assert_eq!(parse_count("twentyone"), None);
        assert_eq!(parse_count("someone"), None);
        assert_eq!(parse_count("50%"), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn number_word_is_the_table_lookup(w in "[a-zA-Z]{0,10}|(?i)(seven|eight|nine|four|fif|six|thir)teen|twent[a-z]") {
            let by_table = NUMBER_WORD_LIST.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(w.as_bytes()));
            prop_assert_eq!(number_word(w.as_bytes()), by_table);
        }

        /// Without digits, both the short-answer word scan and the long-text word search
        /// equal the plain form: split into words, look each up, exactly one must hit.
        #[test]
        fn count_words_equal_their_plain_form(pieces in proptest::collection::vec(prop_oneof![
            proptest::sample::select(&[
                "one", "Seven", "SEVENTEEN", "seventeen", "teen", "eight", "eighteen", "height", "sIxTeEn",
                "someone", "ten", "often", "twenty", "Zero", "ninety", "x", "_", " ", "\n", "-", "é", "ß", "ǅ", "…",
            ][..]).prop_map(str::to_owned),
            "[a-zA-Z ]{1,12}",
        ], 0..40)) {
            let t = pieces.concat();
            let hits: Vec<i64> = t
                .split(|c: char| !c.is_alphanumeric())
                .filter_map(|w| NUMBER_WORD_LIST.iter().position(|n| n.eq_ignore_ascii_case(w)))
                .map(|k| k as i64)
                .collect();
            let plain = (hits.len() == 1).then(|| hits[0]);
            prop_assert_eq!(parse_count(&t), plain, "{:?}", t);
            let long = format!("{t} {}", "filler words and no count ".repeat(3));
            prop_assert_eq!(parse_count(&long), plain, "{:?}", long);
        }

        #[test]
        fn digit_test_is_any(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(has_ascii_digit(&b), b.iter().any(u8::is_ascii_digit));
        }
    }
}
