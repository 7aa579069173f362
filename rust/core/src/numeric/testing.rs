//! Proptest strategies shared by the number readers' tests: answers led by numbers, fractions
//! and their near misses, math answers; and a comparable form of a reading.

use super::Number;
use proptest::prelude::*;

/// Answers built from the pieces the number readers decide on, mostly led by a number.
pub fn number_soup() -> impl Strategy<Value = String> {
    const LEADS: &[&str] = &[
        "", "", "", "-", "+", "−", "- ", " ", "(", "\"", "**", "$", "€", "<", ">", "x = ", "Q", ".", "\\frac{",
        "\\dfrac{", "\\frac {-", "-\\frac{", "\\text{", "\\,", "{", "nan", "inf",
    ];
    const PIECES: &[&str] = &[
        "-", "+", "−", " ", "  ", "\t", "\u{2003}", "\u{a0}", ",", ",000", ",12", ",0000", ".", ".5", "e", "E", "e-3",
        "e+12", "%", " %", "/", " / ", "\\frac", "\\dfrac", "{", "}", "{,}", "}{", "x", " x ", "×", "·", "*", "10^3",
        "10^{-2}", "\\times", "\\cdot", "cm", "km/h", " people", "°", "^°", "^\\circ", "°C", "m^2", "$", "€", "π",
        "\\pi", "<", ">", "(", ")", "\"", "**", "\\text{ cm}", "\\text{", "cm\\%", "m^°", "cm^{°}", "^", "m^", "^x",
        "\\%", "^2", "inf", "nan", "=", "\\,", "\\boxed{", "\\sqrt{", "Q", "_", "0", "00",
    ];
    let piece = prop_oneof![
        4 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        1 => "[0-9]{1,4}(\\.[0-9]{1,3})?",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    // a number-like core: separators, decimals, exponents, fractions, products
    let core = concat!(
        "[0-9]{1,5}((,|\\{,\\})[0-9]{2,4}){0,2}(\\.[0-9]{0,3})?([eE][-+]?[0-9]{0,2})?",
        "([ \\t]?(/|x|\\*|×|·|%|\\\\times|\\\\cdot)[ \\t]?(\\.?[0-9]{0,3}|10\\^\\{?-?[0-9]\\}?))?",
    );
    let lead = proptest::sample::select(LEADS);
    let tail = proptest::collection::vec(piece, 0..4);
    (lead, core, tail).prop_map(|(lead, core, tail)| format!("{lead}{core}{}", tail.concat()))
}

/// `\\frac{a}{b}` and its near misses.
pub fn frac_soup() -> impl Strategy<Value = String> {
    let pick = |options: &'static [&'static str]| proptest::sample::select(options);
    let num = "[0-9]{1,4}(,[0-9]{3})?(\\.[0-9]{1,2})?";
    let command = pick(&["\\frac", "\\dfrac", "\\tfrac", "\\cfrac", "\\fracx", "-\\frac", "+ \\dfrac", "\\sqrt"]);
    let space = pick(&["", "", " ", "\u{2003}"]);
    let sign = pick(&["", "", "-", "+", "−", "- "]);
    let close = pick(&["}", "}", " }", "}}", "", "{,}000}", "e3}", "/2}"]);
    let tail = pick(&["", "", "%", " %", " cm", "cm\\%", "x", ".", "\\pi", "π", "^2", " m^°", "2"]);
    (command, space.clone(), sign.clone(), num, close.clone(), space, sign, num, close, tail)
        .prop_map(|(c, w, s1, a, k1, w2, s2, b, k2, t)| format!("{c}{w}{{{s1}{a}{k1}{w2}{{{s2}{b}{k2}{t}"))
}

/// Math answers: LaTeX numbers, degrees, delimiters, equations, wrappers.
pub fn math_soup() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "\\frac{", "\\dfrac{", "}{", "}", "{", "\\sqrt{", "\\sqrt[3]{", "\\pi", "^\\circ", "^{\\circ}", "^", "°",
        "\\circ", "$", "$$", "\\(", "\\)", "x = ", "=", "≈", "\\approx", "\\text{", "\\boxed{", "\\left(", "\\right)",
        "\\,", "\\\\", "\\%", "\\", " ", "-", "+", "\\cdot", "\\times", "2", "3", "10", "1.5", "x", "\"", "'", ".",
        "cm", "(", ")", "\\degree", "\\foo",
    ];
    proptest::collection::vec(proptest::sample::select(PIECES), 0..8).prop_map(|v| v.concat())
}

/// A comparable form of a token result (NaN equal to itself, the sign of zero kept).
pub fn key(n: Option<Number>) -> Option<(u64, bool)> {
    n.map(|n| (if n.value.is_nan() { u64::MAX } else { n.value.to_bits() }, n.percent))
}
