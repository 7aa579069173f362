//! Numbers in answers: parsing (sign, decimals, thousands separators, scientific notation,
//! percent, `a/b`, `\frac{a}{b}`, currency, a trailing unit), comparison, and a small
//! evaluator of closed-form LaTeX arithmetic (`\frac`, `\sqrt`, `\pi`, `^`) for the
//! `math` kind.
//!
//! Everything here is linear in the input: one `regex` search (finite automata, no
//! backtracking) finds the number, plain character scans check what surrounds it, and
//! the evaluator is a recursive-descent parser with a depth limit that reads each token
//! once.
//!
//! - [`latex`]: LaTeX clean-up; [`grammar`]: the number grammar (the rule); [`fast`]: the fast
//!   reader checked against it; [`read`]: reading an answer's number; [`count`]: counts;
//!   [`math`]: math forms and values; [`eval`]: the closed-form evaluator.

mod count;
mod eval;
mod fast;
mod grammar;
mod latex;
mod math;
mod read;
#[cfg(test)]
mod testing;

pub use count::parse_count;
pub use eval::eval_expression;
pub use grammar::{Surround, MAX_TOKEN_LEN};
pub use latex::{clean_latex, strip_math_delimiters};
pub use math::{
    is_lone_symbol, math_form, math_form_cow, math_form_key, math_form_keys_equal, math_form_value, math_key,
    math_value, value_side,
};
pub use read::{parse_number, parse_number_with, read_number, Reading};

/// A number read from an answer. `percent` records a trailing `%`: such a number may be
/// read either as `value` or as `value / 100` when compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    pub value: f64,
    pub percent: bool,
}

/// Absolute tolerance below which two numbers are always equal.
pub const ABS_TOL: f64 = 1e-9;

/// `|pred - gold| <= rel_tol * |gold|` or `<= 1e-9`; relative to the *gold* value so a
/// prediction cannot widen its own tolerance. Non-finite values never match.
pub fn close(pred: f64, gold: f64, rel_tol: f64) -> bool {
    if !pred.is_finite() || !gold.is_finite() {
        return false;
    }
    let diff = (pred - gold).abs();
    diff <= ABS_TOL || diff <= rel_tol * gold.abs()
}

/// Whether two parsed numbers agree within `rel_tol`, reading `45%` as 45 or 0.45.
pub fn numbers_match(pred: Number, gold: Number, rel_tol: f64) -> bool {
    let matches_gold =
        |p: f64| close(p, gold.value, rel_tol) || (gold.percent && close(p, gold.value / 100.0, rel_tol));
    matches_gold(pred.value) || (pred.percent && matches_gold(pred.value / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let n = |v, percent| Number { value: v, percent };
        assert!(numbers_match(n(45.0, true), n(45.0, false), 1e-6));
        assert!(numbers_match(n(45.0, true), n(0.45, false), 1e-6));
        assert!(numbers_match(n(0.45, false), n(45.0, true), 1e-6));
        assert!(!numbers_match(n(0.45, false), n(45.0, false), 1e-6));
        assert!(numbers_match(n(104.0, false), n(100.0, false), 0.05));
        assert!(!numbers_match(n(106.0, false), n(100.0, false), 0.05));
        assert!(numbers_match(n(1e-10, false), n(0.0, false), 0.0));
        assert!(!close(f64::NAN, f64::NAN, 1.0));
        assert!(!close(f64::INFINITY, f64::INFINITY, 1.0));
    }
}
