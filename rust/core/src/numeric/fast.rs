//! The fast reader of a number that leads a text (`-57945 people`, `19.5`, `3/4`, `45%`): one
//! forward scan of bytes with the decimal value built exactly as `str::parse` would. It decides
//! only what it is sure of and leaves the rest to the regex grammar ([`super::grammar`]), which is
//! its test oracle.

use super::grammar::{is_lenient_unit, is_strict_unit, Surround, MAX_TOKEN_LEN};
use super::Number;

/// White space as the regex's `\s` sees it within ASCII (`\v` included).
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// The index after the ASCII white space at `i`. `None` when a non-ASCII character
/// follows that the regex could read on with (Unicode white space, `×`, `·`).
#[inline]
fn skip_space(s: &str, mut i: usize) -> Option<usize> {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|&c| is_ascii_space(c)) {
        i += 1;
    }
    match b.get(i) {
        Some(&c) if c >= 0x80 => {
            let c = s[i..].chars().next()?;
            (!(c.is_whitespace() || c == '×' || c == '·')).then_some(i)
        }
        _ => Some(i),
    }
}

pub(super) fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// A `NUM` read by hand: its span, and its digits (without separators and point) as an
/// integer while they fit in 53 bits.
struct Num {
    start: usize,
    end: usize,
    digits: u64,
    /// how many digits follow the point
    scale: i64,
    /// `digits` holds all the digits
    exact: bool,
}

impl Num {
    /// The `NUM` that starts with the digit at `i`, as the regex reads it: thousands
    /// groups only after one to three digits, greedily, then `.digits`. `None` when a
    /// `{` follows, which could be a `{,}` separator.
    #[inline]
    fn read(b: &[u8], i: usize) -> Option<Num> {
        let mut num = Num { start: i, end: i, digits: 0, scale: 0, exact: true };
        num.take_digits(b);
        if num.end - i <= 3 {
            while let Some(sep) = thousands_separator(&b[num.end..]) {
                let group = num.end + sep;
                if !b.get(group..group + 3).is_some_and(|g| g.iter().all(u8::is_ascii_digit)) {
                    break;
                }
                for &digit in &b[group..group + 3] {
                    num.push(digit);
                }
                num.end = group + 3;
            }
        }
        if b.get(num.end) == Some(&b'.') && b.get(num.end + 1).is_some_and(u8::is_ascii_digit) {
            num.end += 1;
            let point = num.end;
            num.take_digits(b);
            num.scale = (num.end - point) as i64;
        }
        (b.get(num.end) != Some(&b'{')).then_some(num)
    }

    #[inline]
    fn take_digits(&mut self, b: &[u8]) {
        while let Some(&c) = b.get(self.end).filter(|c| c.is_ascii_digit()) {
            self.push(c);
            self.end += 1;
        }
    }

    #[inline]
    fn push(&mut self, digit: u8) {
        if self.exact {
            self.digits = self.digits * 10 + u64::from(digit - b'0');
            self.exact = self.digits <= 1 << 53;
        }
    }

    /// The value times `10^exp` (`exp` = `[-+]?[0-9]+`), exactly as `str::parse::<f64>`
    /// rounds the plain digits: digits within 53 bits and a power of ten up to 22 give the
    /// correctly rounded result with one multiplication or division (Clinger's fast
    /// path); other numbers are parsed as text.
    #[inline]
    fn value(&self, b: &[u8], exp: Option<&[u8]>) -> Option<f64> {
        let power = match exp {
            None => Some(0),
            Some(e) => small_int(e),
        };
        if let (true, Some(power)) = (self.exact, power) {
            let k = power - self.scale;
            let mantissa = self.digits as f64;
            if let Some(p) = usize::try_from(k).ok().and_then(|k| POW10.get(k)) {
                return Some(mantissa * p);
            }
            if let Some(p) = usize::try_from(-k).ok().and_then(|k| POW10.get(k)) {
                return Some(mantissa / p);
            }
        }
        let num = &b[self.start..self.end];
        let mut text: String =
            num.iter().filter(|c| c.is_ascii_digit() || **c == b'.').map(|&c| char::from(c)).collect();
        if let Some(e) = exp {
            text.push('e');
            text.push_str(std::str::from_utf8(e).ok()?);
        }
        text.parse::<f64>().ok()
    }
}

/// The length of the thousands separator `NUM` reads at the start of `b` (`{,}` is left to
/// the regex: [`Num::read`] refuses a following `{`).
#[inline]
fn thousands_separator(b: &[u8]) -> Option<usize> {
    match b {
        [b',' | b' ', ..] => Some(1),
        [0xC2, 0xA0, ..] => Some(2),                                // U+00A0 no-break space
        [0xE2, 0x80, 0x89, ..] | [0xE2, 0x80, 0xAF, ..] => Some(3), // U+2009, U+202F
        _ => None,
    }
}

/// `[-+]?[0-9]{1,9}` as an integer; `None` for longer digit strings.
fn small_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(if negative { -v } else { v })
}

/// Powers of ten that `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The number `TOKEN` matches at the start of `s`, read by hand, and where it ends, for
/// the common shapes: an optional ASCII sign, then `\frac{a}{b}` (signed parts),
/// `a/b` or `a` with an optional exponent `e±n`, then an optional `%`, with ASCII white
/// space wherever the regex takes `\s`. `None` for other shapes and wherever the regex
/// could read further (`{,}`, `\times 10^3`, `x 10^3`, a non-ASCII space), so that a
/// `Some` is exactly the regex's match. `frac_variants` also takes `\dfrac`, `\tfrac`,
/// `\cfrac` (in raw text, where the clean-up would make them `\frac`). The value may be
/// non-finite.
pub(super) fn lead_token(s: &str, frac_variants: bool) -> Option<(Number, usize)> {
    let b = s.as_bytes();
    let (negative, mut i) = match b.first()? {
        b'-' => (true, skip_space(s, 1)?),
        b'+' => (false, skip_space(s, 1)?),
        _ => (false, 0),
    };
    let (value, mut end) = match *b.get(i)? {
        b'0'..=b'9' => {
            let a = Num::read(b, i)?;
            let a_end = a.end;
            let j = skip_space(s, a_end)?;
            if b.get(j) == Some(&b'/') {
                let k = skip_space(s, j + 1)?;
                match b.get(k) {
                    Some(c) if c.is_ascii_digit() => {
                        let d = Num::read(b, k)?;
                        (a.value(b, None)? / d.value(b, None)?, d.end)
                    }
                    Some(b'.') => return None, // `.5` is a NUM too
                    // no fraction: the number alone, before `/` (a unit such as `km/h`)
                    _ => (a.value(b, None)?, a_end),
                }
            } else if matches!(b.get(a_end), Some(b'e' | b'E')) {
                let sign = usize::from(matches!(b.get(a_end + 1), Some(b'-' | b'+')));
                let e_end = digits_end(b, a_end + 1 + sign);
                if e_end > a_end + 1 + sign {
                    (a.value(b, Some(&b[a_end + 1..e_end]))?, e_end)
                } else {
                    (a.value(b, None)?, a_end) // `5eggs`: a unit
                }
            } else if matches!(b.get(j), Some(b'\\' | b'*' | b'x')) {
                return None; // perhaps `\times 10^3`, `* 10^3`, `x 10^3`
            } else {
                (a.value(b, None)?, a_end)
            }
        }
        b'\\' => {
            let name_len = if s[i..].starts_with("\\frac") {
                5
            } else if frac_variants && ["\\dfrac", "\\tfrac", "\\cfrac"].iter().any(|v| s[i..].starts_with(v)) {
                6
            } else {
                return None;
            };
            i += name_len;
            let mut part = || -> Option<f64> {
                i = skip_space(s, i)?;
                (b.get(i) == Some(&b'{')).then_some(())?;
                i = skip_space(s, i + 1)?;
                let minus = match b.get(i) {
                    Some(b'-') => true,
                    Some(b'+') => false,
                    _ => false,
                };
                if matches!(b.get(i), Some(b'-' | b'+')) {
                    i = skip_space(s, i + 1)?;
                }
                if !b.get(i)?.is_ascii_digit() {
                    return None;
                }
                let n = Num::read(b, i)?;
                let v = n.value(b, None)?;
                i = skip_space(s, n.end)?;
                (b.get(i) == Some(&b'}')).then_some(())?;
                i += 1;
                Some(if minus { -v } else { v })
            };
            let numerator = part()?;
            let denominator = part()?;
            (numerator / denominator, i)
        }
        _ => return None,
    };
    let j = skip_space(s, end)?;
    let percent = b.get(j) == Some(&b'%');
    if percent {
        end = j + 1;
    }
    if end >= MAX_TOKEN_LEN {
        return None; // the regex path refuses tokens this long
    }
    Some((Number { value: if negative { -value } else { value }, percent }, end))
}

/// Fast path of [`regex_token`]: `s` starting with a number of a shape [`lead_token`]
/// reads. `None` = not this shape, so the regex decides; `Some(result)` is exactly what
/// [`regex_token`] returns.
pub(super) fn plain_token(s: &str, surround: Surround) -> Option<Option<Number>> {
    let (number, end) = lead_token(s, false)?;
    Some(unit_ok(&s[end..], surround).then_some(number))
}

pub(super) fn unit_ok(rest: &str, surround: Surround) -> bool {
    match surround {
        Surround::Lenient => is_lenient_unit(rest),
        Surround::Strict => is_strict_unit(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::grammar::{regex_token, Surround, MAX_TOKEN_LEN};
    use crate::numeric::read::parse_number;

    #[test]
    fn plain_fast_path_is_taken_and_agrees() {
        for s in ["42", "-57945 people", "19.5", "-2.432400000e+04", "45%", "5kg", "3 dogs", "7 x"] {
            for surround in [Surround::Lenient, Surround::Strict] {
                let fast = plain_token(s, surround);
                let want = regex_token(s, surround);
                if s == "7 x" {
                    assert_eq!(fast, None, "{s:?} must go to the regex (`7 x 10^3`)");
                } else {
                    assert_eq!(fast, Some(want), "{s:?} {surround:?}");
                }
            }
        }
        // a token reaching MAX_TOKEN_LEN is left to the regex path, which refuses it
        let long = format!("1.{}", "5".repeat(MAX_TOKEN_LEN));
        assert_eq!(plain_token(&long, Surround::Lenient), None);
        assert_eq!(parse_number(&long), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::numeric::grammar::{regex_token, Surround};
    use crate::numeric::testing::{frac_soup, key, number_soup};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn plain_fast_path_matches_regex(s in "[-+]?[0-9]{1,5}(\\.[0-9]{0,3})?([eE][-+]?[0-9]{0,3})?%?( ?[a-zA-Z%/,.x]{0,4}[0-9]?)?", strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            if let Some(fast) = plain_token(&s, surround) {
                prop_assert_eq!(fast, regex_token(&s, surround), "{:?}", s);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn lead_token_matches_regex(s in prop_oneof![number_soup(), frac_soup()], strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            if let Some(fast) = plain_token(&s, surround) {
                prop_assert_eq!(key(fast), key(regex_token(&s, surround)), "{:?}", s);
            }
        }

        #[test]
        fn decimal_rounds_as_parse(int in "[0-9]{1,20}", frac in "(\\.[0-9]{1,20})?", exp in "([-+]?[0-9]{1,3})?") {
            let num = format!("{int}{frac}");
            let exp = (!exp.is_empty()).then_some(exp);
            let text = match &exp {
                Some(e) => format!("{num}e{e}"),
                None => num.clone(),
            };
            let want = text.parse::<f64>().unwrap();
            let parsed = Num::read(num.as_bytes(), 0).unwrap();
            prop_assert_eq!(parsed.end, num.len());
            let got = parsed.value(num.as_bytes(), exp.as_deref().map(str::as_bytes)).unwrap();
            prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", text);
        }
    }
}
