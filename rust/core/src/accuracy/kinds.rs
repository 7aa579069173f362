//! The scoring rule of each answer kind but `math`: `exact`, `mcq`, `yesno`, `numeric`,
//! `count`, and the kind `auto` picks from the gold. Where a rule has a fast path (a plain
//! count read at once, ASCII yes/no), the plain form is beside it and the tests hold them equal.

use super::{bool_score, Kind};
use crate::numeric::{self, Number, Reading, Surround};
use crate::text;

/// The kind `auto` picks from the gold answer: a single option letter A–H -> `mcq`;
/// yes/no -> `yesno`; a number -> `numeric`; otherwise `exact`.
pub fn resolve_auto(gold: &str) -> Kind {
    auto_gold(gold).0
}

/// [`resolve_auto`], with the gold's number reading when it read one (so `numeric`
/// need not read it again).
pub(super) fn auto_gold(gold: &str) -> (Kind, Option<Reading>) {
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
pub(super) fn score_against_number(pred: &str, gold: &str, rel_tol: f64) -> f64 {
    score_against_reading(pred, gold, numeric::read_number(gold, Surround::Lenient), rel_tol)
}

/// [`score_against_number`] with the gold already read.
pub(super) fn score_against_reading(pred: &str, gold: &str, reading: Reading, rel_tol: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use crate::accuracy::tests::acc;
    use crate::accuracy::{accuracy, chart, Kind};

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
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::accuracy::{accuracy, answer_of, Kind};
    use crate::testing::text;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

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
        fn yes_and_no_never_score(pre in "[a-z ,.]{0,10}", mid in "[a-z ,.]{0,10}", first_yes: bool) {
            let (w1, w2) = if first_yes { ("Yes", "no") } else { ("No", "yes") };
            let pred = format!("{pre} {w1} {mid} {w2}.");
            prop_assert_eq!(accuracy(&pred, "yes", Kind::YesNo, 0.0), 0.0);
            prop_assert_eq!(accuracy(&pred, "no", Kind::Auto, 0.0), 0.0);
        }
    }
}
