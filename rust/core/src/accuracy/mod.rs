//! Accuracy rewards: the answer kinds of DESIGN.md (`exact`, `mcq`, `yesno`, `numeric`,
//! `count`, `math`, `auto`), ChartQA relaxed accuracy, format rewards, and their batch forms
//! (scored by [`crate::batch`], results in input order).
//!
//! Scores are 1.0 or 0.0. An empty answer scores 0.0 for every kind. When a gold answer
//! is not of its kind's shape (a `numeric` gold without a number), the kind falls back to
//! `exact`, so a badly labelled row is judged by string equality instead of never
//! matching.
//!
//! [`kinds`] holds the rules of the kinds, [`math`] the `math` kind; batches are scored by
//! [`crate::batch`].

mod kinds;
mod math;

pub use kinds::{resolve_auto, score_count, score_exact, score_mcq, score_numeric, score_yesno};
pub use math::{math_answer_of, math_verdict, Verdict};

use crate::batch::{check_lengths, guarded_scores, map_indices, pairwise, prefetch_item, PREFETCH_AHEAD};
use crate::text;
use crate::{Error, Result};
use kinds::{auto_gold, score_against_number, score_against_reading};
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

fn bool_score(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
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
pub(super) mod tests {
    use super::math::Verdict;
    use super::*;

    pub(super) fn acc(c: &str, s: &str, kind: &str) -> f64 {
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

    pub(super) fn is_binary(v: f64) -> bool {
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

#[cfg(test)]
mod props {
    use super::math::math_verdict;
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
