//! The `math` kind: the answer (split over boxes or not), and a three-valued verdict, `Equal`
//! or `NotEqual` only when proven, `Unknown` for what math-verify should decide.

use crate::numeric;
use crate::text;
use std::borrow::Cow;

/// The answer a completion (or a solution) gives for the `math` kind: as [`answer_of`],
/// except that an answer split over several boxes (`\\boxed{1}, \\boxed{2}`, see
/// [`text::boxed_run`]) is the list of their contents, `1, 2`.
pub fn math_answer_of(text: &str) -> Cow<'_, str> {
    if let Some(block) = text::answer_block(text) {
        return Cow::Borrowed(text::trim(block));
    }
    match text::boxed_run(text)[..] {
        [] => Cow::Borrowed(text::trim(text)),
        [one] => Cow::Borrowed(one),
        ref several => Cow::Owned(several.join(", ")),
    }
}

/// The outcome of the Rust `math` check: `Equal` only when equality is proven, `NotEqual`
/// only when inequality is proven, `Unknown` otherwise. `Unknown` scores 0.0 here; the
/// Python layer (`math_verify=True`) hands exactly those pairs to math-verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Equal,
    NotEqual,
    Unknown,
}

/// `math`, on answers already extracted ([`math_answer_of`]):
/// - both sides have a value (numbers, `\\frac`, `\\sqrt`, `\\pi`, degrees, LaTeX
///   wrappers, `x = 5` with a lone variable on the left, see [`numeric::value_side`]):
///   `Equal` within `rel_tol`, else `NotEqual`;
/// - else equal canonical forms (white space aside): `Equal`;
/// - else both sides are lists or sets of values (`1, 2, 3`, `\\{3, 2, 1\\}`) with the
///   same values in some order: `Equal`;
/// - else `Unknown`: equations, inequalities, intervals, expressions with variables, and
///   sets that differ are never judged here.
pub fn math_verdict(pred: &str, gold: &str, rel_tol: f64) -> Verdict {
    if text::trim(pred).is_empty() || text::trim(gold).is_empty() {
        return Verdict::NotEqual;
    }
    let (pred, gold) = (numeric::math_form_cow(pred), numeric::math_form_cow(gold));
    // the gold first: when it has no value the prediction's is not needed
    let gold_value = numeric::math_form_value(&gold);
    let pred_value = gold_value.and_then(|_| numeric::math_form_value(&pred));
    if let (Some(g), Some(p)) = (gold_value, pred_value) {
        return if numeric::numbers_match(p, g, rel_tol) { Verdict::Equal } else { Verdict::NotEqual };
    }
    if numeric::math_form_keys_equal(&pred, &gold) {
        return Verdict::Equal;
    }
    if gold_value.is_none() && same_value_sets(&pred, &gold, rel_tol) {
        return Verdict::Equal;
    }
    Verdict::Unknown
}

/// A set or list of values, sorted: `1, 2, 3`, `\\{3, 1, 2\\}` or `{1, 2}` (a math form
/// with at least two elements, each with a value; `None` otherwise, and for a form that
/// is one value itself, such as `1,000`).
fn value_set(form: &str) -> Option<Vec<f64>> {
    let inner = ["\\{", "{"]
        .iter()
        .zip(["\\}", "}"])
        .find_map(|(open, close)| form.strip_prefix(open)?.strip_suffix(close))
        .unwrap_or(form);
    if !inner.contains(',') || numeric::math_form_value(form).is_some() {
        return None;
    }
    let mut values = inner
        .split(',')
        .take(text::MAX_BOXES * 4)
        .map(|element| numeric::math_form_value(text::trim(element)).map(|n| n.value))
        .collect::<Option<Vec<f64>>>()?;
    if values.len() < 2 || inner.split(',').nth(text::MAX_BOXES * 4).is_some() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values)
}

/// Whether both forms are sets of values ([`value_set`]) holding the same values.
fn same_value_sets(pred: &str, gold: &str, rel_tol: f64) -> bool {
    let (Some(g), Some(p)) = (value_set(gold), value_set(pred)) else {
        return false;
    };
    g.len() == p.len() && g.iter().zip(&p).all(|(&g, &p)| numeric::close(p, g, rel_tol))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::tests::acc;
    use crate::accuracy::{accuracy, Kind};

    #[test]
    fn math_kind() {
        for (pred, gold) in [
            ("\\frac{1}{2}", "0.5"),
            ("\\dfrac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
            ("x = 5", "5"),
            ("$\\boxed{2\\pi}$", "2\\pi"),
            ("90^\\circ", "90"),
            ("\\frac{x}{2}", "\\dfrac{x}{ 2 }"),
            ("6.2832", "2\\pi"),
        ] {
            let want = if pred == "6.2832" { 0.0 } else { 1.0 };
            assert_eq!(acc(pred, gold, "math"), want, "{pred:?} vs {gold:?}");
        }
        assert_eq!(accuracy("6.2832", "2\\pi", Kind::Math, 1e-4), 1.0);
        assert_eq!(math_verdict("x+1", "1+x", 1e-6), Verdict::Unknown);
        assert_eq!(math_verdict("3", "4", 1e-6), Verdict::NotEqual);
        assert_eq!(math_verdict("2x", "2", 1e-6), Verdict::Unknown);
    }

    #[test]
    fn math_is_three_valued() {
        let v = |p: &str, g: &str| math_verdict(&math_answer_of(p), &math_answer_of(g), 1e-6);
        // equations are compared whole: only a lone symbol on the left is dropped
        assert_eq!(v("3", "2x + 1 = 3"), Verdict::Unknown);
        assert_eq!(v("0", "a + 3z = 0"), Verdict::Unknown);
        assert_eq!(v("2x+1=3", "3"), Verdict::Unknown);
        assert_eq!(v("2x + 1 = 3", "2x+1=3"), Verdict::Equal);
        assert_eq!(v("x = 3", "3"), Verdict::Equal);
        assert_eq!(v("x = 4", "3"), Verdict::NotEqual);
        // inequalities, intervals: undecided, never a definite 0
        assert_eq!(v("-x >= -1", "x <= 1"), Verdict::Unknown);
        assert_eq!(v("x \\geq 1", "x > 1"), Verdict::Unknown);
        assert_eq!(v("(1, 2)", "[1, 2]"), Verdict::Unknown);
        assert_eq!(v("[1,2)", "[1, 2)"), Verdict::Equal);
        // a box with text around it; LaTeX shorthand arguments
        assert_eq!(v("Therefore $\\boxed{\\frac94\\pi}$.", "$\\frac{9}{4}\\pi$"), Verdict::Equal);
        // answers split over boxes, sets of values
        assert_eq!(v("\\boxed{1},\\boxed{2},\\boxed{3}", "{1,2,3}"), Verdict::Equal);
        assert_eq!(v("\\boxed{3}, \\boxed{1} and \\boxed{2}", "\\{1, 2, 3\\}"), Verdict::Equal);
        assert_eq!(v("\\boxed{1},\\boxed{2},\\boxed{4}", "{1,2,3}"), Verdict::Unknown);
        assert_eq!(v("\\boxed{1},\\boxed{2}", "{1,2,3}"), Verdict::Unknown);
        assert_eq!(v("1,000", "{1, 0}"), Verdict::Unknown); // one number, not a list
        assert_eq!(v("\\{x, 1\\}", "\\{1, x\\}"), Verdict::Unknown);
        assert_eq!(math_answer_of("\\boxed{1}, \\boxed{2}"), "1, 2");
        assert_eq!(math_answer_of("<answer>\\boxed{1}</answer> \\boxed{2}, \\boxed{3}"), "\\boxed{1}");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn equations_are_not_their_right_hand_side(a in 2i64..9, b in -9i64..9, c in -9i64..9, var in "[a-z]") {
            let gold = format!("{a}{var} + {b} = {c}");
            prop_assert_eq!(math_verdict(&c.to_string(), &gold, 1e-6), Verdict::Unknown);
            prop_assert_eq!(math_verdict(&format!("{var} = {c}"), &c.to_string(), 1e-6), Verdict::Equal);
            prop_assert_eq!(math_verdict(&format!("{var} <= {c}"), &c.to_string(), 1e-6), Verdict::Unknown);
        }
    }
}
