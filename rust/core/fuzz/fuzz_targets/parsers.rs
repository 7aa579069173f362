//! Every text parser and reward over arbitrary bytes: no panic, scores 0.0 or 1.0,
//! extracted answers (and boxes, value sides) are slices of the input, parsed numbers
//! are finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modomodo_core::accuracy::{self, Kind};
use modomodo_core::{numeric, text};

fn binary(v: f64) -> bool {
    v == 0.0 || v == 1.0
}

fuzz_target!(|data: &[u8]| {
    // first byte: tolerance; then completion and solution split at the first 0xFF byte
    let (tol_byte, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
    let rel_tol = f64::from(tol_byte) / 255.0;
    let (c, s) = match rest.iter().position(|&b| b == 0xFF) {
        Some(k) => (&rest[..k], &rest[k + 1..]),
        None => (rest, &rest[..0]),
    };
    let (c, s) = (String::from_utf8_lossy(c), String::from_utf8_lossy(s));

    if let Some(a) = text::extract_answer(&c) {
        let (o, i) = (c.as_ptr() as usize, a.as_ptr() as usize);
        assert!(i >= o && i + a.len() <= o + c.len());
        assert_eq!(a, a.trim());
    }
    let strict = accuracy::format(&c, true);
    let lenient = accuracy::format(&c, false);
    assert!(binary(strict) && binary(lenient) && strict <= lenient);
    for name in Kind::NAMES {
        let kind = Kind::parse(name).unwrap();
        assert!(binary(accuracy::accuracy(&c, &s, kind, rel_tol)), "{name}");
    }
    assert!(binary(accuracy::chart(&c, &s, rel_tol)));
    let _ = accuracy::math_verdict(&c, &s, rel_tol);
    for surround in [numeric::Surround::Lenient, numeric::Surround::Strict] {
        if let Some(n) = numeric::parse_number_with(&c, surround) {
            assert!(n.value.is_finite());
        }
    }
    if let Some(n) = numeric::math_value(&c) {
        assert!(n.value.is_finite());
    }
    if let Some(v) = numeric::eval_expression(&c) {
        assert!(v.is_finite());
    }
    let within = |part: &str| {
        let (o, i) = (c.as_ptr() as usize, part.as_ptr() as usize);
        i >= o && i + part.len() <= o + c.len()
    };
    let run = text::boxed_run(&c);
    assert!(run.len() <= text::MAX_BOXES && run.iter().all(|b| within(b)));
    assert!(within(numeric::value_side(&c)));
    let _ = (accuracy::math_answer_of(&c), text::leading_option(&c));
    let letters = text::option_letters(&c);
    assert!(letters.count() <= 2);
    let _ = (numeric::parse_count(&c), text::yes_no(&c), text::normalize_exact(&c));
});
