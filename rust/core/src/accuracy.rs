//! Accuracy rewards: the answer kinds of DESIGN.md (`exact`, `mcq`, `yesno`, `numeric`,
//! `count`, `math`, `auto`), ChartQA relaxed accuracy, format rewards, and their batch forms
//! (scored by [`crate::batch`], results in input order).
//!
//! Scores are 1.0 or 0.0. An empty answer scores 0.0 for every kind. When a gold answer
//! is not of its kind's shape (a `numeric` gold without a number), the kind falls back to
//! `exact`, so a badly labelled row is judged by string equality instead of never
//! matching.

use crate::batch::{check_lengths, guarded_scores, map_indices, pairwise, prefetch_item, PREFETCH_AHEAD};
use crate::numeric::{self, Number, Reading, Surround};
use crate::text;
use crate::{Error, Result};
use std::borrow::Cow;
use std::panic::catch_unwind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Exact,
    Mcq,
    YesNo,
    Numeric,
    Count,
    Math,
    Auto,
}

impl Kind {
    pub const NAMES: [&'static str; 7] = ["exact", "mcq", "yesno", "numeric", "count", "math", "auto"];

    pub fn parse(name: &str) -> Result<Kind> {
        Ok(match name {
            "exact" => Kind::Exact,
            "mcq" => Kind::Mcq,
            "yesno" => Kind::YesNo,
            "numeric" => Kind::Numeric,
            "count" => Kind::Count,
            "math" => Kind::Math,
            "auto" => Kind::Auto,
            _ => {
                return Err(Error::invalid(
                    "kind",
                    name,
                    "one of \"exact\", \"mcq\", \"yesno\", \"numeric\", \"count\", \"math\", \"auto\"",
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        Kind::NAMES[self as usize]
    }
}

/// A tolerance must be a finite number >= 0.
pub fn check_rel_tol(rel_tol: f64) -> Result<()> {
    if rel_tol.is_finite() && rel_tol >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("rel_tol", rel_tol, "a finite number >= 0"))
    }
}

/// The answer a completion (or a solution) gives: [`text::extract_answer`], or the
/// whole trimmed text when it has no answer block.
pub fn answer_of(text: &str) -> &str {
    text::extract_answer(text).unwrap_or_else(|| text::trim(text))
}

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

/// The kind `auto` picks from the gold answer: a single option letter A–H -> `mcq`;
/// yes/no -> `yesno`; a number -> `numeric`; otherwise `exact`.
pub fn resolve_auto(gold: &str) -> Kind {
    auto_gold(gold).0
}

/// [`resolve_auto`], with the gold's number reading when it read one (so `numeric`
/// need not read it again).
fn auto_gold(gold: &str) -> (Kind, Option<Reading>) {
    let stripped = text::strip_decorations(gold);
    let mut chars = stripped.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if ('A'..='H').contains(&c.to_ascii_uppercase()) {
            return (Kind::Mcq, None);
        }
    }
    // `normalize_exact(gold)` is `yes` or `no`: for ASCII that is the stripped text
    // itself in some case (neither word holds white space to collapse)
    let yes_or_no = if stripped.is_ascii() {
        stripped.eq_ignore_ascii_case("yes") || stripped.eq_ignore_ascii_case("no")
    } else {
        text::exact_equal(gold, "yes") || text::exact_equal(gold, "no")
    };
    if yes_or_no {
        return (Kind::YesNo, None);
    }
    match numeric::read_number(gold, Surround::Lenient) {
        Reading::NotANumber => (Kind::Exact, None),
        reading => (Kind::Numeric, Some(reading)),
    }
}

fn bool_score(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

pub fn score_exact(pred: &str, gold: &str) -> f64 {
    bool_score(text::exact_equal(pred, gold))
}

/// The gold option: its letter, and its option text when given as `(B) cat`.
fn gold_option(gold: &str) -> Option<(char, &str)> {
    let letter = text::option_letters(gold).first?;
    // the option text follows a leading `(B)`, `[B]`, `B)`, `B.` or `B:`
    let s = gold.trim_start();
    let rest = ["(", "[", ""].iter().find_map(|open| {
        let r = s.strip_prefix(open)?;
        let mut cs = r.chars();
        let c = cs.next()?;
        (c.to_ascii_uppercase() == letter).then_some(())?;
        let r = cs.as_str();
        r.strip_prefix([')', ']', '.', ':'])
    });
    Some((letter, rest.map_or("", str::trim)))
}

/// `mcq`: the option letter the answer names equals the gold letter. An answer that
/// opens with a marked option letter and an explanation (`A. Because B is not valid`,
/// see [`text::leading_option`]) names that letter; any other answer names the letters
/// standing alone in it, and naming two or more different letters (`A or B`, `A, B`)
/// scores 0. Either way one letter at most can score. An answer naming no letter scores
/// 1 only if it equals the gold's option text (`cat` for gold `(B) cat`).
pub fn score_mcq(pred: &str, gold: &str) -> f64 {
    let Some((gold_letter, gold_text)) = gold_option(gold) else {
        return score_exact(pred, gold);
    };
    if let Some(letter) = text::leading_option(pred) {
        return bool_score(letter == gold_letter);
    }
    let named = text::option_letters(pred);
    match named.count() {
        1 => bool_score(named.first == Some(gold_letter)),
        0 if !gold_text.is_empty() => score_exact(pred, gold_text),
        _ => 0.0,
    }
}

/// `yesno`: both say yes or both say no; an answer saying both (or neither) scores 0.
pub fn score_yesno(pred: &str, gold: &str) -> f64 {
    match text::yes_no(gold) {
        Some(g) => bool_score(text::yes_no(pred) == Some(g)),
        None => score_exact(pred, gold),
    }
}

fn numbers_score(pred: Option<Number>, gold: Number, rel_tol: f64) -> f64 {
    bool_score(pred.is_some_and(|p| numeric::numbers_match(p, gold, rel_tol)))
}

/// A numeric gold against a prediction: within `rel_tol`; a non-finite gold never
/// matches; a gold that is no number at all falls back to `exact`.
fn score_against_number(pred: &str, gold: &str, rel_tol: f64) -> f64 {
    score_against_reading(pred, gold, numeric::read_number(gold, Surround::Lenient), rel_tol)
}

/// [`score_against_number`] with the gold already read.
fn score_against_reading(pred: &str, gold: &str, reading: Reading, rel_tol: f64) -> f64 {
    match reading {
        Reading::Finite(g) => numbers_score(numeric::parse_number(pred), g, rel_tol),
        Reading::NonFinite => 0.0,
        Reading::NotANumber => score_exact(pred, gold),
    }
}

/// `numeric`: one number each, equal within `rel_tol` of the gold or 1e-9 absolute.
pub fn score_numeric(pred: &str, gold: &str, rel_tol: f64) -> f64 {
    score_against_number(pred, gold, rel_tol)
}

/// `count`: integer equality; number words zero to twenty accepted.
pub fn score_count(pred: &str, gold: &str) -> f64 {
    match count_of(gold) {
        Some(g) => bool_score(count_of(pred) == Some(g)),
        None if numeric::read_number(gold, Surround::Lenient) == Reading::NotANumber => score_exact(pred, gold),
        None => 0.0,
    }
}

/// [`numeric::parse_count`], with the usual answer (up to 15 plain digits) read at once.
fn count_of(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if (1..=15).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        return Some(b.iter().fold(0, |v, &d| v * 10 + i64::from(d - b'0')));
    }
    numeric::parse_count(s)
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

/// Scores an extracted answer against an extracted gold answer.
pub fn score(kind: Kind, pred: &str, gold: &str, rel_tol: f64) -> f64 {
    if text::trim(pred).is_empty() || text::trim(gold).is_empty() {
        return 0.0;
    }
    match kind {
        Kind::Exact => score_exact(pred, gold),
        Kind::Mcq => score_mcq(pred, gold),
        Kind::YesNo => score_yesno(pred, gold),
        Kind::Numeric => score_numeric(pred, gold, rel_tol),
        Kind::Count => score_count(pred, gold),
        Kind::Math => bool_score(math_verdict(pred, gold, rel_tol) == Verdict::Equal),
        Kind::Auto => match auto_gold(gold) {
            (Kind::Numeric, Some(reading)) => score_against_reading(pred, gold, reading, rel_tol),
            (kind, _) => score(kind, pred, gold, rel_tol),
        },
    }
}

/// Accuracy of one completion against one solution (both may hold answer blocks).
pub fn accuracy(completion: &str, solution: &str, kind: Kind, rel_tol: f64) -> f64 {
    if kind == Kind::Math {
        return score(kind, &math_answer_of(completion), &math_answer_of(solution), rel_tol);
    }
    score(kind, answer_of(completion), answer_of(solution), rel_tol)
}

/// ChartQA relaxed accuracy: a numeric gold is matched within `rel_tol` relative to the
/// gold (a `%` may be read either way); any other gold by `exact`.
pub fn chart(completion: &str, solution: &str, rel_tol: f64) -> f64 {
    let (pred, gold) = (answer_of(completion), answer_of(solution));
    if pred.is_empty() || gold.is_empty() {
        return 0.0;
    }
    score_against_number(pred, gold, rel_tol)
}

/// Format reward of one completion: `strict` or lenient (see [`text::format_strict`]).
pub fn format(completion: &str, strict: bool) -> f64 {
    bool_score(if strict { text::format_strict(completion) } else { text::format_lenient(completion) })
}

// ---------------------------------------------------------------------------------------
// Batches (see [`crate::batch`])

/// [`format`] over a batch, in input order.
pub fn format_rewards<A: AsRef<str> + Sync>(completions: &[A], strict: bool) -> Vec<f64> {
    guarded_scores(completions.len(), |i| {
        prefetch_item(completions, i + PREFETCH_AHEAD);
        format(completions[i].as_ref(), strict)
    })
}

/// [`accuracy`] over a batch, in input order.
pub fn accuracy_rewards<A, B>(completions: &[A], solutions: &[B], kind: Kind, rel_tol: f64) -> Result<Vec<f64>>
where
    A: AsRef<str> + Sync,
    B: AsRef<str> + Sync,
{
    check_rel_tol(rel_tol)?;
    pairwise(completions, solutions, |c, s| accuracy(c, s, kind, rel_tol))
}

/// [`chart`] over a batch, in input order.
pub fn chart_rewards<A, B>(completions: &[A], solutions: &[B], rel_tol: f64) -> Result<Vec<f64>>
where
    A: AsRef<str> + Sync,
    B: AsRef<str> + Sync,
{
    check_rel_tol(rel_tol)?;
    pairwise(completions, solutions, |c, s| chart(c, s, rel_tol))
}

/// [`math_verdict`] of each completion's answer against its solution's, in input order.
pub fn math_verdicts<A, B>(completions: &[A], solutions: &[B], rel_tol: f64) -> Result<Vec<Verdict>>
where
    A: AsRef<str> + Sync,
    B: AsRef<str> + Sync,
{
    check_rel_tol(rel_tol)?;
    check_lengths(completions.len(), solutions.len())?;
    Ok(map_indices(completions.len(), |i| {
        let (c, s) = (completions[i].as_ref(), solutions[i].as_ref());
        catch_unwind(|| math_verdict(&math_answer_of(c), &math_answer_of(s), rel_tol)).unwrap_or(Verdict::NotEqual)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(c: &str, s: &str, kind: &str) -> f64 {
        accuracy(c, s, Kind::parse(kind).unwrap(), 1e-6)
    }

    #[test]
    fn kinds_parse() {
        for name in Kind::NAMES {
            assert_eq!(Kind::parse(name).unwrap().name(), name);
        }
        assert!(
            matches!(Kind::parse("fuzzy"), Err(Error::InvalidArgument { name, value, .. }) if name == "kind" && value.contains("fuzzy"))
        );
        assert!(check_rel_tol(-0.1).is_err());
        assert!(check_rel_tol(f64::NAN).is_err());
        assert!(check_rel_tol(0.0).is_ok());
        assert!(matches!(accuracy_rewards(&["a"], &["a", "b"], Kind::Exact, 0.0), Err(Error::LengthMismatch { .. })));
        assert!(
            matches!(chart_rewards(&["a"], &["a"], -1.0), Err(Error::InvalidArgument { name, .. }) if name == "rel_tol")
        );
    }

    #[test]
    fn exact() {
        assert_eq!(acc("<answer> New  York. </answer>", "new york", "exact"), 1.0);
        assert_eq!(acc("\"Paris\"", "<answer>paris</answer>", "exact"), 1.0);
        assert_eq!(acc("<answer>Paris, France</answer>", "Paris", "exact"), 0.0);
        assert_eq!(acc("<answer></answer>", "", "exact"), 0.0);
        assert_eq!(acc("", "", "exact"), 0.0);
    }

    #[test]
    fn mcq() {
        for pred in ["B", "(B)", "B.", "B) cat", "Option B", "The answer is B", "<answer>b</answer>", "cat"] {
            assert_eq!(acc(pred, "(B) cat", "mcq"), 1.0, "{pred:?}");
            assert_eq!(acc(pred, "B", "auto"), if pred == "cat" { 0.0 } else { 1.0 }, "{pred:?}");
        }
        for pred in ["A", "B or C", "A, B, C, D", "(B) (C)", "B and C", "", "<answer></answer>", "dog"] {
            assert_eq!(acc(pred, "(B) cat", "mcq"), 0.0, "{pred:?}");
        }
    }

    #[test]
    fn yesno() {
        for (pred, want) in [
            ("Yes", 1.0),
            ("yes.", 1.0),
            ("<answer>YES</answer>", 1.0),
            ("No", 0.0),
            ("yes and no", 0.0),
            ("eyes", 0.0),
            ("I know", 0.0),
            ("", 0.0),
        ] {
            assert_eq!(acc(pred, "yes", "yesno"), want, "{pred:?}");
            assert_eq!(acc(pred, "Yes", "auto"), want, "{pred:?}");
        }
        assert_eq!(acc("no", "No.", "auto"), 1.0);
    }

    #[test]
    fn numeric_kind() {
        for pred in ["1234.5", "1,234.5", "1.2345e3", "$1,234.50", "1234.5 kg", "<answer>1234.5</answer>"] {
            assert_eq!(acc(pred, "1234.5", "numeric"), 1.0, "{pred:?}");
            assert_eq!(acc(pred, "1234.5", "auto"), 1.0, "{pred:?}");
        }
        assert_eq!(acc("0.75", "\\frac{3}{4}", "numeric"), 1.0);
        assert_eq!(acc("3/4", "0.75", "numeric"), 1.0);
        assert_eq!(acc("50%", "0.5", "numeric"), 1.0);
        assert_eq!(acc("1234.6", "1234.5", "numeric"), 0.0);
        assert_eq!(accuracy("1234.6", "1234.5", Kind::Numeric, 1e-3), 1.0);
        assert_eq!(acc("5 or 6", "5", "numeric"), 0.0);
        assert_eq!(acc("1e999", "1e999", "numeric"), 0.0);
        assert_eq!(acc("1/0", "1/0", "numeric"), 0.0);
        for (pred, gold) in [("NaN", "NaN"), ("inf", "inf"), ("1e999", "1e999"), ("∞", "∞")] {
            for kind in ["numeric", "auto"] {
                assert_eq!(acc(pred, gold, kind), 0.0, "{pred:?} {kind}");
            }
            assert_eq!(chart(pred, gold, 0.05), 0.0);
        }
        assert_eq!(acc("nan", "1", "numeric"), 0.0);
        assert_eq!(acc("1e999", "1", "numeric"), 0.0);
    }

    #[test]
    fn count_kind() {
        assert_eq!(acc("three", "3", "count"), 1.0);
        assert_eq!(acc("There are 3 dogs.", "three", "count"), 1.0);
        assert_eq!(acc("3.5", "3", "count"), 0.0);
        assert_eq!(acc("two or three", "3", "count"), 0.0);
        assert_eq!(acc("4", "3", "count"), 0.0);
    }

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

    #[test]
    fn mcq_leading_letter_and_explanation() {
        assert_eq!(acc("A. Because B is not valid", "A", "mcq"), 1.0);
        assert_eq!(acc("A. Because B is not valid", "B", "mcq"), 0.0);
        assert_eq!(acc("(C) since A fails", "(C) dog", "mcq"), 1.0);
        for pred in ["A or B", "A, B", "A. or B", "A. B", "(A) (B)"] {
            for gold in ["A", "B"] {
                assert_eq!(acc(pred, gold, "mcq"), 0.0, "{pred:?} {gold}");
            }
        }
    }

    #[test]
    fn chart_kind() {
        assert_eq!(chart("<answer>104</answer>", "100", 0.05), 1.0);
        assert_eq!(chart("106", "100", 0.05), 0.0);
        assert_eq!(chart("45%", "45", 0.05), 1.0);
        assert_eq!(chart("Paris.", "paris", 0.05), 1.0);
        assert_eq!(chart("", "100", 0.05), 0.0);
        assert_eq!(chart("0", "0", 0.05), 1.0);
    }

    /// Pathological inputs of 1 MB (128 KB in unoptimised builds) finish: a quadratic
    /// step would take hours here. The timings are printed, not asserted.
    #[test]
    fn megabyte_inputs_finish() {
        let size: usize = if cfg!(debug_assertions) { 1 << 17 } else { 1 << 20 };
        let unit = |piece: &str| piece.repeat(size / piece.len());
        let inputs = [
            unit("<answer>"),
            unit("</answer>"),
            unit("<answer></answer>"),
            unit("\\boxed{"),
            unit("{"),
            unit("}"),
            unit("\\frac{1}{"),
            unit("(1+"),
            unit("2^"),
            unit("-"),
            unit("1"),
            unit("1,000"),
            unit("A "),
            unit("(B) "),
            unit("yes "),
            unit("a"),
            unit(" "),
            unit("$"),
            unit("\\text{"),
            unit("é"),
            format!("<think>{}</think><answer>{}</answer>", unit("x"), unit("7")),
        ];
        for c in &inputs {
            let start = std::time::Instant::now();
            for name in Kind::NAMES {
                assert!(is_binary(accuracy(c, c, Kind::parse(name).unwrap(), 1e-6)));
                assert!(is_binary(accuracy(c, "42", Kind::parse(name).unwrap(), 1e-6)));
            }
            assert!(is_binary(chart(c, c, 0.05)));
            assert!(is_binary(format(c, true)) && is_binary(format(c, false)));
            println!("{:>12?} {:?}…", start.elapsed(), &c[..16.min(c.len())]);
        }
    }

    fn is_binary(v: f64) -> bool {
        v == 0.0 || v == 1.0
    }

    #[test]
    fn batches_keep_order() {
        let comps: Vec<String> = (0..1000).map(|i| format!("<answer>{i}</answer>")).collect();
        let sols: Vec<String> = (0..1000).map(|i| if i % 3 == 0 { i.to_string() } else { "x".into() }).collect();
        let got = accuracy_rewards(&comps, &sols, Kind::Auto, 1e-6).unwrap();
        let want: Vec<f64> = (0..1000).map(|i| if i % 3 == 0 { 1.0 } else { 0.0 }).collect();
        assert_eq!(got, want);
        let f = format_rewards(&["<think>a</think><answer>b</answer>", "<answer>b</answer>", "x"], true);
        assert_eq!(f, vec![1.0, 0.0, 0.0]);
        let verdicts = math_verdicts(&["1/2", "x", ""], &["0.5", "y", "1"], 1e-6).unwrap();
        assert_eq!(verdicts, vec![Verdict::Equal, Verdict::Unknown, Verdict::NotEqual]);
    }
}

/// Property tests over arbitrary text and over "token soup" ([`crate::testing`]).
#[cfg(test)]
mod props {
    use super::*;
    use crate::testing::text;
    use proptest::prelude::*;

    fn is_binary(v: f64) -> bool {
        v == 0.0 || v == 1.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn every_kind_scores_zero_or_one(c in text(), s in text(), tol in 0.0f64..1.0) {
            for name in Kind::NAMES {
                let kind = Kind::parse(name).unwrap();
                prop_assert!(is_binary(accuracy(&c, &s, kind, tol)), "{name}");
            }
            prop_assert!(is_binary(chart(&c, &s, tol)));
            prop_assert!(is_binary(format(&c, true)));
            prop_assert!(is_binary(format(&c, false)));
            let _ = math_verdict(&c, &s, tol);
        }

        #[test]
        fn auto_is_the_kind_its_gold_decides(
            c in text(),
            g in prop_oneof![text(), r#"[ (\"*]{0,2}(yes|No|YES|nO|B|c|42|4\.5%|cat)[ .)\"*]{0,2}"#.prop_map(String::from)],
        ) {
            // the plain definition of `auto`, with the gold read once per kind
            let plain_kind = |g: &str| {
                let stripped = text::strip_decorations(g);
                let mut chars = stripped.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) if ('A'..='H').contains(&ch.to_ascii_uppercase()) => Kind::Mcq,
                    _ if ["yes", "no"].contains(&text::normalize_exact(g).as_str()) => Kind::YesNo,
                    _ if numeric::read_number(g, Surround::Lenient) != Reading::NotANumber => Kind::Numeric,
                    _ => Kind::Exact,
                }
            };
            prop_assert_eq!(resolve_auto(&g), plain_kind(&g));
            // accuracy decides the kind from the gold's answer
            let kind = plain_kind(answer_of(&g));
            let tagged = format!("<answer>{g}</answer>");
            prop_assert_eq!(accuracy(&c, &g, Kind::Auto, 1e-6), accuracy(&c, &g, kind, 1e-6));
            prop_assert_eq!(accuracy(&tagged, &g, Kind::Auto, 1e-6), accuracy(&tagged, &g, kind, 1e-6));
        }

        #[test]
        fn plain_counts_read_as_parse_count_reads_them(d in "[0-9]{1,16}") {
            prop_assert_eq!(count_of(&d), numeric::parse_count(&d));
        }

        #[test]
        fn strict_format_implies_lenient(c in text()) {
            if format(&c, true) == 1.0 {
                prop_assert_eq!(format(&c, false), 1.0);
                prop_assert!(text::extract_answer(&c).is_some());
            }
        }

        #[test]
        fn empty_answer_scores_zero(s in text(), ws in "[ \t\n]{0,3}") {
            let c = format!("<think>x</think><answer>{ws}</answer>");
            for name in Kind::NAMES {
                prop_assert_eq!(accuracy(&c, &s, Kind::parse(name).unwrap(), 1e-6), 0.0);
            }
            prop_assert_eq!(chart(&c, &s, 0.05), 0.0);
        }

        #[test]
        fn two_letters_never_score(a in 0u8..8, b in 0u8..8, sep in prop::sample::select(&[", ", " or ", " and ", "/", ") (", " ", "\n"][..]), tail in "[.;!?]?( [0-9]+)?") {
            prop_assume!(a != b);
            let (x, y) = ((b'A' + a) as char, (b'A' + b) as char);
            let pred = format!("<answer>{x}{sep}{y}{tail}</answer>");
            prop_assert_eq!(accuracy(&pred, &x.to_string(), Kind::Mcq, 0.0), 0.0);
            prop_assert_eq!(accuracy(&pred, &y.to_string(), Kind::Auto, 0.0), 0.0);
            let single = format!("<answer>({x}){tail}</answer>");
            prop_assert_eq!(accuracy(&single, &x.to_string(), Kind::Mcq, 0.0), 1.0);
        }

        #[test]
        fn a_leading_marked_letter_alone_can_score(
            a in 0u8..8, b in 0u8..8,
            mark in prop::sample::select(&["(X)", "X)", "X.", "X:", "[X]"][..]),
            why in prop::sample::select(&["Because", "since", "The", "Only", "It is", "5 cm"][..]),
            tail in "[a-z ,.]{0,12}",
            joiner in prop::sample::select(&["", "or ", "and ", ", ", "/"][..]),
        ) {
            let (x, y) = ((b'A' + a) as char, (b'A' + b) as char);
            let lead = mark.replace('X', &x.to_string());
            // an explanation, naming other letters or not: the leading letter alone scores
            let pred = format!("{lead} {why} {y}{tail}");
            prop_assert_eq!(accuracy(&pred, &x.to_string(), Kind::Mcq, 0.0), 1.0, "{}", pred);
            if x != y {
                prop_assert_eq!(accuracy(&pred, &y.to_string(), Kind::Mcq, 0.0), 0.0, "{}", pred);
                // a second letter right after the mark (or after a joiner) names two: 0
                let two = format!("{lead} {joiner}{y}.");
                prop_assert_eq!(accuracy(&two, &x.to_string(), Kind::Mcq, 0.0), 0.0, "{}", two);
                prop_assert_eq!(accuracy(&two, &y.to_string(), Kind::Mcq, 0.0), 0.0, "{}", two);
            }
        }

        #[test]
        fn equations_are_not_their_right_hand_side(a in 2i64..9, b in -9i64..9, c in -9i64..9, var in "[a-z]") {
            let gold = format!("{a}{var} + {b} = {c}");
            prop_assert_eq!(math_verdict(&c.to_string(), &gold, 1e-6), Verdict::Unknown);
            prop_assert_eq!(math_verdict(&format!("{var} = {c}"), &c.to_string(), 1e-6), Verdict::Equal);
            prop_assert_eq!(math_verdict(&format!("{var} <= {c}"), &c.to_string(), 1e-6), Verdict::Unknown);
        }

        #[test]
        fn yes_and_no_never_score(pre in "[a-z ,.]{0,10}", mid in "[a-z ,.]{0,10}", first_yes: bool) {
            let (w1, w2) = if first_yes { ("Yes", "no") } else { ("No", "yes") };
            let pred = format!("{pre} {w1} {mid} {w2}.");
            prop_assert_eq!(accuracy(&pred, "yes", Kind::YesNo, 0.0), 0.0);
            prop_assert_eq!(accuracy(&pred, "no", Kind::Auto, 0.0), 0.0);
        }

        #[test]
        fn numbers_round_trip(x in -1.0e12f64..1.0e12, style in 0usize..6) {
            let gold = format!("{x}");
            let pred = match style {
                0 => format!("{x}"),
                1 => format!("{x:e}"),
                2 => format!("<answer>{x} cm</answer>"),
                3 => format!("The answer is ${x}$."),
                4 => format!("\\boxed{{{x}}}"),
                _ => format!("{:.3}%", x * 100.0),
            };
            let tol = if style == 5 { 1e-4 } else { 1e-9 };
            prop_assert_eq!(accuracy(&pred, &gold, Kind::Numeric, tol), 1.0, "{} vs {}", pred, gold);
            prop_assert_eq!(accuracy(&pred, &gold, Kind::Auto, tol), 1.0);
            prop_assert_eq!(chart(&pred, &gold, tol.max(1e-4)), 1.0);
        }

        #[test]
        fn thousands_and_fractions(n in 0u64..10_000_000_000, a in -500i64..500, b in 1i64..500) {
            let grouped = {
                let digits = n.to_string();
                let mut out = String::new();
                for (i, ch) in digits.chars().enumerate() {
                    if i > 0 && (digits.len() - i) % 3 == 0 { out.push(','); }
                    out.push(ch);
                }
                out
            };
            prop_assert_eq!(accuracy(&grouped, &n.to_string(), Kind::Numeric, 0.0), 1.0, "{}", grouped);
            prop_assert_eq!(accuracy(&grouped, &n.to_string(), Kind::Count, 0.0), 1.0);
            let value = a as f64 / b as f64;
            for pred in [format!("{a}/{b}"), format!("\\frac{{{a}}}{{{b}}}"), format!("\\dfrac{{{a}}}{{{b}}}")] {
                prop_assert_eq!(accuracy(&pred, &format!("{value}"), Kind::Numeric, 1e-9), 1.0, "{}", pred);
                prop_assert_eq!(accuracy(&pred, &format!("{value}"), Kind::Math, 1e-9), 1.0, "{}", pred);
            }
        }

        #[test]
        fn exact_ignores_case_space_quotes(words in proptest::collection::vec("[A-Za-z]{1,8}", 1..5), q in prop::sample::select(&["", "\"", "'", "*"][..])) {
            let gold = words.join(" ");
            let pred = format!("{q}  {}.{q}", words.iter().map(|w| w.to_uppercase()).collect::<Vec<_>>().join("\n "));
            prop_assert_eq!(accuracy(&pred, &gold, Kind::Exact, 0.0), 1.0, "{}", pred);
        }
    }
}
