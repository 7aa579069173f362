//! Reading the one number an answer gives: [`read_number`] tells a finite number from a
//! non-finite one (`inf`, `1/0`) and from no number at all. The general path cleans the LaTeX
//! and runs the grammar; [`quick_read`] first tries the fast reader on the raw text, and must
//! agree with the general path on every input (tested below).

use super::fast::{lead_token, plain_token, unit_ok};
use super::grammar::{regex_token, Surround};
use super::latex::{clean_latex_cow, has_latex};
use super::Number;

/// The single number an answer states, or `None` when it states none, several, or a
/// non-finite one (`1e999`, `1/0`).
pub fn parse_number(text: &str) -> Option<Number> {
    parse_number_with(text, Surround::Lenient)
}

/// [`parse_number`] with an explicit [`Surround`] policy.
pub fn parse_number_with(text: &str, surround: Surround) -> Option<Number> {
    match read_number(text, surround) {
        Reading::Finite(n) => Some(n),
        _ => None,
    }
}

/// What an answer states, telling a non-finite number (`1e999`, `1/0`, `NaN`, `inf`)
/// apart from text that is no number at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    Finite(Number),
    NonFinite,
    NotANumber,
}

const NON_FINITE_WORDS: [&str; 5] = ["nan", "inf", "infinity", "∞", "\\infty"];

/// Reads the single number an answer states (see [`parse_number`]).
pub fn read_number(text: &str, surround: Surround) -> Reading {
    if let Some(reading) = quick_read(text, surround) {
        return reading;
    }
    // `<` and `>` survive the clean-up and are allowed nowhere around a number: a
    // whole completion without answer tags is usually turned away here
    if text.len() > 64 && memchr::memchr2(b'<', b'>', text.as_bytes()).is_some() {
        return Reading::NotANumber;
    }
    read_cleaned(&clean_latex_cow(text), surround)
}

/// [`read_number`] of the raw text for the common answers, without the clean-up:
/// a number [`lead_token`] reads followed by a unit, or a word without digits. `None`
/// = the general path decides.
///
/// [`text::strip_decorations`](crate::text::strip_decorations) of the raw text is the
/// `s` the general path reads whenever the bytes kept are free of [`has_latex`] ones
/// (the stripped ends hold no `\\` or `$`); a leading `\frac` (or `\dfrac`, ...) is
/// the one command allowed, as the clean-up keeps its parts as they are.
fn quick_read(text: &str, surround: Surround) -> Option<Reading> {
    let s = crate::text::strip_decorations(text);
    let b = s.as_bytes();
    match *b.first()? {
        b'<' => Some(Reading::NotANumber),
        b'0'..=b'9' | b'-' | b'+' | b'\\' => {
            let (number, end) = lead_token(s, true)?;
            let rest = &s[end..];
            // the usual unit (` people`, `kg`, or none) is plain ASCII without digits or
            // operators: a lenient unit with nothing to clean
            let plain = |c: u8| c < 0x80 && !c.is_ascii_digit() && !b"^\\{}_=+*<>$".contains(&c);
            if surround == Surround::Lenient && rest.bytes().all(plain) {
                return Some(finite_or_not(number));
            }
            if has_latex(rest.as_bytes()) {
                return None;
            }
            Some(match unit_ok(rest, surround) {
                true => finite_or_not(number),
                false => Reading::NotANumber,
            })
        }
        c if c.is_ascii_alphabetic() => {
            // no digit: no number, unless the word is a non-finite one; only commands
            // (`in\\,f`) could change the word, as `$` could only be a delimiter at the
            // start and a rewritten `^°` still holds `°`
            let stop = |c: u8| c.is_ascii_digit() || c == b'\\';
            if b.chunks(16).any(|chunk| chunk.iter().fold(false, |hit, &c| hit | stop(c))) {
                return None;
            }
            Some(match NON_FINITE_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
                true => Reading::NonFinite,
                false => Reading::NotANumber,
            })
        }
        _ => None,
    }
}

fn finite_or_not(n: Number) -> Reading {
    if n.value.is_finite() {
        Reading::Finite(n)
    } else {
        Reading::NonFinite
    }
}

/// [`read_number`] of text already through [`clean_latex`].
pub(super) fn read_cleaned(cleaned: &str, surround: Surround) -> Reading {
    let s = crate::text::strip_decorations(cleaned);
    // a plain token starts with a sign, a digit or `\frac`: never a non-finite word
    if let Some(token) = plain_token(s, surround) {
        return token.map_or(Reading::NotANumber, finite_or_not);
    }
    let unsigned = s.trim_start_matches(['-', '+', '−']).trim_start();
    if NON_FINITE_WORDS.iter().any(|w| unsigned.eq_ignore_ascii_case(w)) {
        return Reading::NonFinite;
    }
    match regex_token(s, surround) {
        Some(n) => finite_or_not(n),
        None => Reading::NotANumber,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::grammar::Surround;
    use crate::numeric::Number;

    fn val(s: &str) -> Option<f64> {
        parse_number(s).map(|n| n.value)
    }

    #[test]
    fn number_forms() {
        assert_eq!(val("42"), Some(42.0));
        assert_eq!(val("-3.5"), Some(-3.5));
        assert_eq!(val("+7"), Some(7.0));
        assert_eq!(val("−2"), Some(-2.0));
        assert_eq!(val("1,234,567.5"), Some(1234567.5));
        assert_eq!(val("1{,}000"), Some(1000.0));
        assert_eq!(val("1\\,000"), Some(1000.0));
        // thousands separated by spaces: a space, U+00A0, U+2009 (thin), U+202F
        for sep in [" ", "\u{a0}", "\u{2009}", "\u{202f}"] {
            assert_eq!(val(&format!("1{sep}000")), Some(1000.0), "{sep:?}");
            assert_eq!(val(&format!("12{sep}345{sep}678.5 kg")), Some(12345678.5), "{sep:?}");
            assert_eq!(val(&format!("-1{sep}000%")), Some(-1000.0), "{sep:?}");
        }
        assert_eq!(val("1 00"), None); // a group has three digits
        assert_eq!(val("1 0000"), None);
        assert_eq!(val("1234 567"), None);
        assert_eq!(val("5 10"), None);
        assert_eq!(val("1.5e3"), Some(1500.0));
        assert_eq!(val("2.5E-2"), Some(0.025));
        assert_eq!(val("3 \\times 10^{4}"), Some(30000.0));
        assert_eq!(val("3×10^-2"), Some(0.03));
        assert_eq!(parse_number("45%"), Some(Number { value: 45.0, percent: true }));
        assert_eq!(parse_number("45\\%"), Some(Number { value: 45.0, percent: true }));
        assert_eq!(val("3/4"), Some(0.75));
        assert_eq!(val("\\frac{3}{4}"), Some(0.75));
        assert_eq!(val("\\dfrac{-1}{ 8 }"), Some(-0.125));
        assert_eq!(val("$\\frac{1}{2}$"), Some(0.5));
        assert_eq!(val("12 cm"), Some(12.0));
        assert_eq!(val("5kg"), Some(5.0));
        assert_eq!(val("60 km/h"), Some(60.0));
        assert_eq!(val("9.8 m/s^2"), Some(9.8));
        assert_eq!(val("$1,200"), Some(1200.0));
        assert_eq!(val("-$5"), Some(-5.0));
        assert_eq!(val("5\\text{ dollars}"), Some(5.0));
        assert_eq!(val("The answer is 17."), Some(17.0));
        assert_eq!(val("x = 5"), Some(5.0));
        assert_eq!(val("**42**"), Some(42.0));
        assert_eq!(val("(42)"), Some(42.0));
        assert_eq!(val(".5"), Some(0.5));
        assert_eq!(val("30°"), Some(30.0));
        assert_eq!(val("30^\\circ"), Some(30.0));
    }

    #[test]
    fn not_one_number() {
        for s in [
            "", "abc", "5 or 6", "1, 2", "1,2345", "Q1", "x2", "1/0", "1e999", "-1e400", "inf", "NaN", "\\sqrt{2}",
            "2\\pi", "\\frac{\\sqrt{2}}{2}", "2^3", "1+1", "3.5.6", "between 3 and 4", "10^{2}",
        ] {
            assert_eq!(parse_number(s), None, "{s:?}");
        }
    }

    #[test]
    fn non_finite() {
        for s in ["1e999", "-1e400", "1/0", "\\frac{1}{0}", "NaN", "-inf", "Infinity", "\\infty", "∞"] {
            assert_eq!(read_number(s, Surround::Lenient), Reading::NonFinite, "{s:?}");
        }
        assert_eq!(read_number("cat", Surround::Lenient), Reading::NotANumber);
        assert_eq!(read_number("0/0", Surround::Lenient), Reading::NonFinite);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::numeric::close;
    use crate::numeric::count::parse_count;
    use crate::numeric::eval::eval_expression;
    use crate::numeric::grammar::Surround;
    use crate::numeric::latex::{clean_latex, clean_latex_cow};
    use crate::numeric::math::{math_key, math_value};
    use crate::numeric::testing::{frac_soup, key, number_soup};
    use crate::testing::text;
    use proptest::prelude::*;

    /// Prose before a number, long enough for the whole-text checks.
    fn prose_soup() -> impl Strategy<Value = String> {
        let tail = proptest::sample::select(&["", " cm", " (approx)", ")", " <", " >", ".", "\\%"][..]);
        (
            "[a-zA-Z ,:()]{40,90}",
            proptest::sample::select(&["", " ", "<", ">", ")", "= ", "\\text{x} "][..]),
            "[0-9]{1,4}(\\.[0-9]{1,2})?",
            tail,
        )
            .prop_map(|(p, l, n, t)| format!("{p}{l}{n}{t}"))
    }

    /// Words without digits, some of them non-finite once cleaned (`in\\,f`).
    fn word_soup() -> impl Strategy<Value = String> {
        const PIECES: &[&str] = &[
            "in", "f", "inity", "na", "n", "NaN", "Inf", "cat", " ", "-", "\\,", "\\!", "\\text{", "}", "{", "$", "°",
            "^°", "\\infty", "∞", "<", ".", "\"",
        ];
        proptest::collection::vec(proptest::sample::select(PIECES), 1..5).prop_map(|v| v.concat())
    }

    fn reading_key(r: Reading) -> (u8, Option<(u64, bool)>) {
        match r {
            Reading::Finite(n) => (0, key(Some(n))),
            Reading::NonFinite => (1, None),
            Reading::NotANumber => (2, None),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn parsed_numbers_are_finite(s in text()) {
            for surround in [Surround::Lenient, Surround::Strict] {
                if let Some(n) = parse_number_with(&s, surround) {
                    prop_assert!(n.value.is_finite());
                }
            }
            if let Some(n) = math_value(&s) {
                prop_assert!(n.value.is_finite());
            }
            if let Some(v) = eval_expression(&s) {
                prop_assert!(v.is_finite());
            }
            let _ = (parse_count(&s), math_key(&s), clean_latex(&s));
        }

        #[test]
        fn sci_notation_round_trips(m in 1.0f64..10.0, e in -30i32..30) {
            let x: f64 = format!("{m}e{e}").parse().unwrap();
            for s in [format!("{m}e{e}"), format!("{m}E{e}"), format!("{m} \\times 10^{{{e}}}"), format!("{m}×10^{e}")] {
                let n = parse_number(&s);
                prop_assert!(n.is_some_and(|n| close(n.value, x, 1e-12)), "{} -> {:?}", s, n);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn read_number_matches_general_path(s in prop_oneof![number_soup(), frac_soup(), word_soup(), prose_soup(), text()], strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            let general = read_cleaned(&clean_latex(&s), surround);
            prop_assert_eq!(reading_key(read_number(&s, surround)), reading_key(general), "{:?}", s);
            prop_assert_eq!(reading_key(read_cleaned(&clean_latex_cow(&s), surround)), reading_key(general), "{:?}", s);
        }
    }
}
