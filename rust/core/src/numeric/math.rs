//! Math forms for the `math` kind: the value side of `x = 5`, the canonical form of an answer
//! (LaTeX cleaned, `$` and `°` dropped) and its value. [`math_form_cow`] avoids the rebuild when
//! the text is already clean; the plain forms in the tests are its oracle.

use super::eval::eval_expression;
use super::grammar::Surround;
use super::latex::{clean_latex, strip_math_delimiters, LAYOUT, WRAPPERS};
use super::read::{read_cleaned, Reading};
use super::Number;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// A lone variable or simple symbol, the only left-hand side [`value_side`] drops: one
/// letter (`x`, `θ`, `π`) or one LaTeX command of letters (`\\theta`), with an optional
/// subscript (`x_1`, `a_{n}`), primes (`y'`) and a list of such arguments (`f(x)`).
/// Two letters (`AB`, `xy`) are a product or a segment, not a lone variable.
static LONE_SYMBOL: LazyLock<Regex> = LazyLock::new(|| {
    let symbol = r"(?:\p{Alphabetic}|\\[A-Za-z]+)";
    let pattern =
        format!(r"^{symbol}(?:_(?:[A-Za-z0-9]|\{{[A-Za-z0-9]+\}}))?'*(?:\(\s*{symbol}(?:\s*,\s*{symbol})*\s*\))?$");
    Regex::new(&pattern).expect("static regex")
});

/// Whether `s` (trimmed) is a lone variable or simple symbol (see [`LONE_SYMBOL`]).
pub fn is_lone_symbol(s: &str) -> bool {
    s.len() <= 64 && LONE_SYMBOL.is_match(s)
}

/// The part of a `math` answer that states its value, trimmed: after the last `=` or `≈`
/// when what stands left of the first one is a lone variable or simple symbol (`x = 5`,
/// `f(x) = 2x`, `\\theta \\approx 0.5`, a chain `x = 2 + 3 = 5`) -> `5`, `2x`, `0.5`, `5`.
/// Anything else is kept whole: an equation (`2x + 1 = 3`, `a + 3z = 0`) is compared as
/// one, never by its right-hand side, and text holding an inequality (`<`, `>`, `≤`, `≥`,
/// `≠`, `!=`) is never split.
pub fn value_side(s: &str) -> &str {
    let b = s.as_bytes();
    // `≈` is E2 89 88 in UTF-8: one scan for `=` and its last byte
    let mut relations =
        memchr::memchr2_iter(b'=', 0x88, b).filter(|&k| b[k] == b'=' || b[..=k].ends_with("≈".as_bytes()));
    let Some(first) = relations.next() else {
        return crate::text::trim(s);
    };
    let last = relations.next_back().unwrap_or(first);
    let lhs_end = if b[first] == b'=' { first } else { first + 1 - "≈".len() };
    // `k` is the last byte of `=` or `≈`: the next byte starts a char
    if is_lone_symbol(crate::text::trim(&s[..lhs_end])) && !has_inequality(s) {
        crate::text::trim(&s[last + 1..])
    } else {
        crate::text::trim(s)
    }
}

/// Whether the text holds an inequality sign: `<`, `>`, `!=`, `≤`, `≥`, `≠`.
fn has_inequality(s: &str) -> bool {
    memchr::memchr2(b'<', b'>', s.as_bytes()).is_some() || s.contains("!=") || s.contains(['≤', '≥', '≠'])
}

/// The cleaned form of a `math` answer: LaTeX cleaned, `$` removed, degrees dropped,
/// the right-hand side of an equation, surrounding quotes and a final period stripped.
pub fn math_form(text: &str) -> String {
    math_form_cow(text).into_owned()
}

/// [`math_form`], borrowing from `text` when the clean-up keeps it as it is (`$…$`
/// delimiters aside, and a final `^\\circ`, whose `°` the form drops); otherwise one
/// copy.
pub fn math_form_cow(text: &str) -> Cow<'_, str> {
    let s = strip_math_delimiters(text);
    let kept = [s, s.strip_suffix("^\\circ").unwrap_or(""), s.strip_suffix("^{\\circ}").unwrap_or("")]
        .into_iter()
        .enumerate()
        .find(|&(k, kept)| (k == 0 || (!kept.is_empty() && !kept.ends_with(['^', '\\']))) && cleans_to_itself(kept));
    if let Some((_, kept)) = kept {
        return Cow::Borrowed(crate::text::strip_quotes(value_side(kept)));
    }
    let mut cleaned = clean_latex(text);
    cleaned.retain(|c| c != '$' && c != '°');
    let form = crate::text::strip_quotes(value_side(&cleaned));
    let start = form.as_ptr() as usize - cleaned.as_ptr() as usize;
    let end = start + form.len();
    cleaned.truncate(end);
    cleaned.drain(..start);
    Cow::Owned(cleaned)
}

/// Whether the math form of `s` (delimiters stripped) is `s` itself: no `$`, no `°`
/// (0xC2 is its lead byte), and only commands [`clean_latex`] copies as they are
/// (`\\frac`, `\\sqrt`, `\\cdot`, ...). Braces are copied unless a wrapper opened them.
fn cleans_to_itself(s: &str) -> bool {
    let b = s.as_bytes();
    if memchr::memchr2(b'$', 0xC2, b).is_some() {
        return false;
    }
    memchr::memchr_iter(b'\\', b).all(|at| {
        let name_end = at + 1 + b[at + 1..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        match &s[at + 1..name_end] {
            "" => !matches!(b.get(at + 1), Some(b',' | b'!' | b';' | b':' | b' ' | b'%')), // `\\$`: refused above
            name => {
                !(WRAPPERS.contains(&name)
                    || LAYOUT.contains(&name)
                    || matches!(
                        name,
                        "dfrac" | "tfrac" | "cfrac" | "pi" | "approx" | "simeq" | "circ" | "degree" | "quad" | "qquad"
                    ))
            }
        }
    })
}

/// `math_form_key(a) == math_form_key(b)` and not empty, without building the keys.
pub fn math_form_keys_equal(a: &str, b: &str) -> bool {
    fn non_ws(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars().filter(|c| !c.is_whitespace())
    }
    non_ws(a).next().is_some() && non_ws(a).eq(non_ws(b))
}

/// The value of a [`math_form`]: a number (strict surround), else a closed-form
/// expression of numbers, `+ - * / ^`, `\frac`, `\sqrt`, `\pi`, brackets and implicit
/// products (`2\sqrt{3}`). `None` for anything else (variables, sets, non-finite).
pub fn math_form_value(form: &str) -> Option<Number> {
    if let Reading::Finite(n) = read_cleaned(form, Surround::Strict) {
        return Some(n);
    }
    eval_expression(form).map(|value| Number { value, percent: false })
}

/// The value of a `math` answer (see [`math_form_value`]).
pub fn math_value(text: &str) -> Option<Number> {
    math_form_value(&math_form(text))
}

/// The canonical string of a [`math_form`]: without white space, so `\frac{x}{2}` and
/// `\dfrac{x}{ 2 }` agree.
pub fn math_form_key(form: &str) -> String {
    form.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The canonical string of a `math` answer (see [`math_form_key`]).
pub fn math_key(text: &str) -> String {
    math_form_key(&math_form(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_sides() {
        for (s, side) in [
            ("x = 5", "5"),
            ("f(x) = 2x", "2x"),
            ("\\theta ≈ 0.5", "0.5"),
            ("x = 2 + 3 = 5", "5"),
            ("a_{n} = 3", "3"),
            ("y' = 1", "1"),
            ("θ=1", "1"),
            ("2x + 1 = 3", "2x + 1 = 3"),
            ("a + 3z = 0", "a + 3z = 0"),
            ("AB = 5", "AB = 5"),
            ("-x >= -1", "-x >= -1"),
            ("x <= 1", "x <= 1"),
            ("x = 1 <= 2", "x = 1 <= 2"),
            (" 5 ", "5"),
            ("x != 2", "x != 2"),
            ("x ≠ 2", "x ≠ 2"),
            ("= 5", "= 5"),
        ] {
            assert_eq!(value_side(s), side, "{s:?}");
        }
        assert_eq!(math_value("2x+1=3"), None);
        assert!(math_value("\\theta \\approx 0.5").is_some_and(|n| n.value == 0.5));
        assert!(math_value("x = 3").is_some_and(|n| n.value == 3.0));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::numeric::latex::{clean_latex, strip_math_delimiters};
    use crate::numeric::testing::{math_soup, number_soup};
    use crate::testing::text;
    use proptest::prelude::*;

    /// [`value_side`] as plain string operations: split at every `=` and `≈`; the last
    /// part when the first is a lone symbol and there is no inequality sign.
    fn plain_value_side(s: &str) -> &str {
        let parts: Vec<&str> = s.split(['=', '≈']).collect();
        let inequality = s.contains(['<', '>', '≤', '≥', '≠']) || s.contains("!=");
        match parts[..] {
            [first, .., last] if !inequality && is_lone_symbol(first.trim()) => last.trim(),
            _ => s.trim(),
        }
    }

    /// Equations, inequalities and `symbol = value` answers.
    fn equation_soup() -> impl Strategy<Value = String> {
        let side = proptest::sample::select(
            &[
                "x", " x ", "y'", "x_1", "a_{n}", "f(x)", "g(x, y)", "\\theta", "θ", "π", "2x", "2x+1", "a + 3z", "AB",
                "5", " 5", "-1", "", "x_", "f(x", "é", "\\frac{1}{2}", "1 000",
            ][..],
        );
        let rel = proptest::sample::select(&["=", " = ", "≈", "<=", ">=", "!=", "==", "<", "≥", " =", "= "][..]);
        (side.clone(), rel.clone(), side.clone(), proptest::option::of((rel, side))).prop_map(|(a, r, b, more)| {
            match more {
                Some((r2, c)) => format!("{a}{r}{b}{r2}{c}"),
                None => format!("{a}{r}{b}"),
            }
        })
    }

    /// The math form as first written: clean-up, then `$` and `°` dropped.
    fn reference_math_form(text: &str) -> String {
        let cleaned: String = clean_latex(text).chars().filter(|&c| c != '$' && c != '°').collect();
        crate::text::strip_quotes(plain_value_side(&cleaned)).to_string()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn value_side_is_the_plain_rule(s in prop_oneof![math_soup(), equation_soup(), text()]) {
            prop_assert_eq!(value_side(&s), plain_value_side(&s));
            prop_assert_eq!(strip_math_delimiters(&s), strip_math_delimiters(s.trim()));
        }

        #[test]
        fn math_form_matches_reference(s in prop_oneof![math_soup(), number_soup(), text()]) {
            let (fast, reference) = (math_form_cow(&s), reference_math_form(&s));
            prop_assert_eq!(fast.as_ref(), reference.as_str(), "{:?}", s);
        }
    }
}
