//! Shared proptest strategies: "token soup" built from the pieces the answer parsers react to
//! (tags, braces, LaTeX commands, signs, separators, option letters), mixed with arbitrary text.

use proptest::prelude::*;

pub const PIECES: &[&str] = &[
    "<answer>", "</answer>", "<think>", "</think>", "\\boxed{", "{", "}", "\\frac", "\\dfrac", "\\sqrt", "\\pi",
    "\\text{", "\\left(", "\\right)", "$", "%", "\\%", "1,000", "{,}", "e", "E", "-", "−", "+", "/", "^", "^\\circ",
    "(", ")", "[", "]", ".", ",", "=", "x", "yes", "no", "Yes", "A", "B", "(B)", "b)", "option", "The answer is",
    "three", " ", "\n", "\\", "×10^", "∞", "nan", "inf", "1e999", "0", "π", "√", "**", "\"", "é", "\u{0}",
];

/// Strings made of parser-relevant pieces, digits and arbitrary characters.
pub fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        2 => "[0-9]{1,4}(\\.[0-9]{1,3})?",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

/// The soup or any string at all.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![soup(), any::<String>()]
}
