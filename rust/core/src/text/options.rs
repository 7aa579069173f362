//! Option letters (A–H) an answer names, and the marked letter an answer opens with. The
//! rule is [`option_letter_at`] asked of every byte; for ASCII text the candidates are first
//! narrowed eight bytes at a time ([`lone_option_bits`], [`has_lone_option_byte`]), and the tests
//! hold the narrowed scan to the byte-by-byte one.

use super::{for_each_word, strip_decorations};

/// The option letters (A–H) an answer names, as a bit set (bit 0 = A), and the first.
/// Scanning stops at the second different letter, so `mask` holds at most two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionLetters {
    pub mask: u8,
    pub first: Option<char>,
}

impl OptionLetters {
    pub fn count(&self) -> u32 {
        self.mask.count_ones()
    }

    /// The letter when exactly one is named.
    pub fn single(&self) -> Option<char> {
        (self.count() == 1).then_some(self.first).flatten()
    }

    fn add(&mut self, c: char) {
        let c = c.to_ascii_uppercase();
        self.mask |= 1 << (c as u8 - b'A');
        self.first.get_or_insert(c);
    }
}

/// Words after which a capital `A` names an option rather than being the article.
const NOT_A_NOUN: [&str; 16] = [
    "and", "or", "nor", "to", "is", "was", "are", "were", "through", "vs", "because", "since", "would", "should",
    "must", "seems",
];

/// Lead-ins after which a lower-case letter names an option (`option b`, `answer is c`).
const LEAD_INS: [&str; 6] = ["option ", "choice ", "answer ", "answer:", "answer: ", "is "];

fn preceded_by_lead_in(s: &str, at: usize) -> bool {
    let before = &s.as_bytes()[at.saturating_sub(10)..at];
    LEAD_INS.iter().any(|lead| {
        before.len() >= lead.len() && before[before.len() - lead.len()..].eq_ignore_ascii_case(lead.as_bytes())
    })
}

/// The option letters named in an answer. A letter names an option when it stands
/// alone (not inside a word): `B`, `(B)`, `B.`, `B) cat`, `Option B`, `The answer is B`.
/// A capital `A` followed by a lower-case word is the article (`A dog`), unless the word
/// joins options (`A and C`, `A or B`, `A is correct`). Lower-case letters count only
/// in option form: `(b)`, `b)`, after `option`/`answer is`, or as the whole answer.
pub fn option_letters(s: &str) -> OptionLetters {
    let mut found = OptionLetters::default();
    let whole = strip_decorations(s);
    let mut whole_chars = whole.chars();
    if let (Some(c), None) = (whole_chars.next(), whole_chars.next()) {
        if c.is_ascii_alphabetic() && ('A'..='H').contains(&c.to_ascii_uppercase()) {
            found.add(c);
        }
        return found;
    }
    let mut see = |i: usize| {
        if let Some(c) = option_letter_at(s, i) {
            found.add(c);
        }
        found.count() < 2 // two different letters already decide every use
    };
    if s.is_ascii() {
        // a letter with a letter or digit beside it names nothing: only one-letter
        // words are candidates. A branch-free (vectorised) pass says whether there is
        // any; then the word scan finds them.
        if s.len() <= 64 {
            let mut lone = lone_option_bits(s.as_bytes());
            while lone != 0 && see(lone.trailing_zeros() as usize) {
                lone &= lone - 1;
            }
            return found;
        }
        if !has_lone_option_byte(s.as_bytes()) {
            return found;
        }
        for_each_word(s, |w| w.len() != 1 || see(w.as_ptr() as usize - s.as_ptr() as usize));
    } else {
        // only ASCII letters A–H / a–h can name options, so scan bytes and decode the
        // neighbours of those alone
        let _ = (0..s.len()).all(|i| !matches!(s.as_bytes()[i], b'A'..=b'H' | b'a'..=b'h') || see(i));
    }
    found
}

/// Bit `i` is set when byte `i` of an ASCII text of at most 64 bytes is a letter A–H /
/// a–h with no letter or digit on either side (as [`has_lone_option_byte`] asks). Eight
/// bytes at a time: each byte class is a range test done on all eight lanes at once.
fn lone_option_bits(b: &[u8]) -> u64 {
    const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * LANES;
    // the 0x80 bit of each lane whose byte (ASCII) lies in lo..=hi: with the high bit
    // set first, no subtraction borrows from the next lane
    let in_range = |x: u64, lo: u8, hi: u8| {
        let h = x | HIGH;
        h.wrapping_sub(u64::from(lo) * LANES) & !h.wrapping_sub(u64::from(hi + 1) * LANES) & HIGH
    };
    // one bit per lane (lane j -> bit j)
    let bits = |m: u64| (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    debug_assert!(b.len() <= 64 && b.is_ascii());
    let mut padded = [b' '; 64]; // a space has no letter or digit in it
    padded[..b.len()].copy_from_slice(b);
    let (mut option, mut alnum) = (0u64, 0u64);
    for (k, lane) in padded.chunks_exact(8).take(b.len().div_ceil(8)).enumerate() {
        let x = lane.try_into().map_or(0, u64::from_le_bytes); // chunks_exact: always 8 bytes
        let folded = x | (0x20 * LANES); // letters to lower case
        option |= bits(in_range(folded, b'a', b'h')) << (8 * k);
        alnum |= bits(in_range(folded, b'a', b'z') | in_range(x, b'0', b'9')) << (8 * k);
    }
    option & !(alnum << 1) & !(alnum >> 1)
}

/// Whether some byte of ASCII text is a letter A–H / a–h with no letter or digit on
/// either side: the necessary condition for [`option_letter_at`]. No early exit and
/// only arithmetic per byte, so the compiler vectorises the loop.
fn has_lone_option_byte(b: &[u8]) -> bool {
    let alnum = |c: u8| (c.wrapping_sub(b'0') < 10) | ((c | 0x20).wrapping_sub(b'a') < 26);
    let option = |c: u8| (c | 0x20).wrapping_sub(b'a') < 8;
    let n = b.len();
    let lone = |i: usize| option(b[i]) && (i == 0 || !alnum(b[i - 1])) && (i + 1 == n || !alnum(b[i + 1]));
    match n {
        0 => false,
        1 | 2 => (0..n).any(lone),
        _ => {
            let inner = b[..n - 2].iter().zip(&b[1..n - 1]).zip(&b[2..]);
            let found = inner.fold(false, |any, ((&p, &c), &q)| any | (option(c) & !alnum(p) & !alnum(q)));
            found || lone(0) || lone(n - 1)
        }
    }
}

/// The option letter the byte `s[i]` names, if it is one (see [`option_letters`]).
fn option_letter_at(s: &str, i: usize) -> Option<char> {
    let b = s.as_bytes()[i];
    let upper = (b'A'..=b'H').contains(&b);
    if !upper && !(b'a'..=b'h').contains(&b) {
        return None;
    }
    let alnum = |x: Option<char>| x.is_some_and(|x| x.is_alphanumeric());
    let c = b as char;
    let p = s[..i].chars().next_back();
    if alnum(p) {
        return None;
    }
    let mut after = s[i + 1..].chars();
    let next = after.next();
    if alnum(next) || matches!(p, Some('\\' | '_' | '^')) || next == Some('_') {
        return None;
    }
    if upper {
        if c == 'A' && next == Some(' ') && !(p == Some('(') || preceded_by_lead_in(s, i)) {
            let rest = after.as_str();
            let word = &rest[..rest.bytes().position(|x| !x.is_ascii_alphabetic()).unwrap_or(rest.len())];
            if word.starts_with(|x: char| x.is_ascii_lowercase()) && !NOT_A_NOUN.contains(&word) {
                return None;
            }
        }
        return Some(c);
    }
    let names = (p == Some('(') && next == Some(')'))
        || (next == Some(')') && p.filter(|x| !x.is_whitespace()).is_none())
        || preceded_by_lead_in(s, i);
    names.then_some(c)
}

/// Words that join two options: after a leading option letter they make the answer name
/// two (`A. or B`), not explain one.
const JOINERS: [&str; 5] = ["and", "or", "nor", "vs", "versus"];

/// The option letter an answer opens with when the letter is marked as an option —
/// `(A)`, `[A]`, `A)`, `A.` or `A:` — and followed by an explanation: `A. Because B is
/// not valid` -> `A`, `(C) The area doubles` -> `C`. `None` when nothing follows, or when
/// the explanation opens with a single letter, a word that joins options or a sign
/// (`A. B`, `A. or B`, `(A) (B)`, `A: B`), or when the letter is not marked (`A or B`,
/// `A, B`).
pub fn leading_option(s: &str) -> Option<char> {
    let s = s.trim_start();
    let s = s.strip_prefix("**").unwrap_or(s);
    let b = s.as_bytes();
    let is_letter = |c: u8| matches!(c, b'A'..=b'H' | b'a'..=b'h');
    let (letter, marked_len) = match b {
        [b'(', c, b')', ..] | [b'[', c, b']', ..] if is_letter(*c) => (*c, 3),
        [c, b')' | b'.' | b':', ..] if is_letter(*c) => (*c, 2),
        _ => return None,
    };
    let after = &s[marked_len..];
    let after = after.strip_prefix("**").unwrap_or(after);
    let explanation = after.trim_start();
    if explanation.len() == after.len() || explanation.is_empty() {
        return None; // no white space after the mark (`A.B`), or nothing follows
    }
    let word_len = explanation.find(|c: char| !c.is_alphanumeric()).unwrap_or(explanation.len());
    let word = &explanation[..word_len];
    let joins = JOINERS.iter().any(|j| word.eq_ignore_ascii_case(j));
    let single_letter = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    if word.is_empty() || joins || single_letter {
        return None;
    }
    Some(char::from(letter.to_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        let one = |s: &str| option_letters(s).single();
        for s in [
            "B", "b", "(B)", "B.", "B) cat", "Option B", "option b", "The answer is B", "the answer is b.", "(b)",
            "b) cat", "**B**", "B: cat", "[B]", "B) A cat", "Answer: B", "I think B",
        ] {
            assert_eq!(one(s), Some('B'), "{s:?}");
        }
        for s in ["A", "(A) a dog", "A) dog", "A.", "Option A", "A is correct"] {
            assert_eq!(one(s), Some('A'), "{s:?}");
        }
        for s in ["A and C", "A or B", "B, C", "B/C", "(B) (C)", "B or C", "A B C D", "ABCD maybe A, B"] {
            assert!(option_letters(s).count() >= 2, "{s:?}");
        }
        for s in ["", "cat", "A dog", "Because", "BCD", "a b c", "I", "x_B"] {
            assert_eq!(option_letters(s).count(), 0, "{s:?}");
        }
    }

    #[test]
    fn leading_options() {
        for (s, want) in [
            ("A. Because B is not valid", 'A'),
            ("(C) The area doubles", 'C'),
            ("B) cat", 'B'),
            ("[d] 5 cm", 'D'),
            ("**A.** since B fails", 'A'),
            ("  E: both are wrong", 'E'),
            ("A) Because B is wrong, A", 'A'),
        ] {
            assert_eq!(leading_option(s), Some(want), "{s:?}");
        }
        for s in [
            "A",
            "A.",
            "A or B",
            "A, B",
            "A. or B",
            "A. B",
            "(A) (B)",
            "A: B",
            "A.B",
            "A. , B",
            "(A)",
            "A. and C",
            "I. think",
            "The answer is A. Because",
            "AB. c",
        ] {
            assert_eq!(leading_option(s), None, "{s:?}");
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::testing::text;
    use proptest::prelude::*;

    /// The plain form of `option_letters`' scan: every byte is a candidate.
    fn reference_option_letters(s: &str) -> OptionLetters {
        let mut found = OptionLetters::default();
        let whole = strip_decorations(s);
        let mut whole_chars = whole.chars();
        if let (Some(c), None) = (whole_chars.next(), whole_chars.next()) {
            if c.is_ascii_alphabetic() && ('A'..='H').contains(&c.to_ascii_uppercase()) {
                found.add(c);
            }
            return found;
        }
        for i in 0..s.len() {
            if let Some(c) = option_letter_at(s, i) {
                found.add(c);
            }
            if found.count() >= 2 {
                break;
            }
        }
        found
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn option_letters_agree_with_the_byte_by_byte_scan(
            a in text(),
            b in prop_oneof![text(), Just(String::from("yes")), Just(String::from(" (YES.) "))],
            pad in "[ \t\n\u{a0}\u{2003}\u{3000}]{0,3}",
        ) {
            for t in [a.as_str(), &format!("(b) {a}{pad}C."), &format!("A {b} or c) é{a}D")] {
                prop_assert_eq!(option_letters(t), reference_option_letters(t), "{:?}", t);
                let ascii: String = t.chars().filter(char::is_ascii).collect();
                prop_assert_eq!(option_letters(&ascii), reference_option_letters(&ascii), "{:?}", ascii);
                if ascii.len() <= 64 {
                    let b = ascii.as_bytes();
                    let alnum = |i: usize| b[i].is_ascii_alphanumeric();
                    let lone = (0..b.len()).filter(|&i| {
                        matches!(b[i] | 0x20, b'a'..=b'h') && !(i > 0 && alnum(i - 1)) && !(i + 1 < b.len() && alnum(i + 1))
                    });
                    prop_assert_eq!(lone_option_bits(b), lone.fold(0u64, |m, i| m | 1 << i), "{:?}", ascii);
                }
            }
        }
    }
}
