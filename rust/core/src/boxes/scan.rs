//! The scan for the plain forms: bare lists `[x1, y1, x2, y2]` and the two tag forms, and the
//! test for a box key that sends a region to the structured reader.
//!
//! A hand-written matcher for what the regex (kept in `super::reference` as the test oracle)
//!
//! ```text
//! (?-u)\[\s*N\s*,\s*N\s*,\s*N\s*,\s*N\s*\]|<box>\s*C\s*</box>|<\|box_start\|>\s*C\s*<\|box_end\|>
//! ```
//!
//! with C = `\(\s*N\s*,\s*N\s*\)\s*,?\s*\(\s*N\s*,\s*N\s*\)` finds (`find_iter`, leftmost
//! first), N being a number `[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?`.
//! Every match starts at a `[` or a `<`, and the pattern has a single way to match from
//! there, so trying each such position in order and resuming after a match gives the same
//! matches. A number is always followed by a byte that cannot be part of one, so it is the
//! maximal run of number bytes.

use super::{BBox, Frame};

pub(super) fn scan_plain(text: &str, frame: &Frame, limit: usize, out: &mut Vec<BBox>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while out.len() < limit {
        let Some(found) = memchr::memchr2(b'[', b'<', &bytes[at..]) else { return };
        let mut cur = Cursor { text, at: at + found };
        match cur.plain_box() {
            Some(numbers) => {
                out.extend(frame.to_pixels(numbers));
                at = cur.at;
            }
            None => at += found + 1,
        }
    }
}

/// `\s` of an ASCII-mode regex: `u8::is_ascii_whitespace` without the vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

pub(super) fn is_number_byte(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
}

/// A position in a text, for the plain-form matcher.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, lit: &[u8]) -> bool {
        let found = self.text.as_bytes()[self.at..].starts_with(lit);
        if found {
            self.at += lit.len();
        }
        found
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
    }

    fn space(&mut self) {
        self.skip_while(is_space);
    }

    /// A number `[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?` that is a
    /// maximal run of number bytes, spaces before it skipped; its value is `str::parse`'s
    /// (which reads every such number), integers of up to 15 digits being read directly.
    fn number(&mut self) -> Option<f64> {
        self.space();
        let bytes = self.text.as_bytes();
        let digits_from = |i: usize| bytes.get(i..).map_or(0, |s| s.iter().take_while(|b| b.is_ascii_digit()).count());
        let start = self.at;
        let negative = bytes.get(start) == Some(&b'-');
        let mut i = start + usize::from(matches!(bytes.get(start), Some(b'+' | b'-')));
        let (mut int, mut int_value) = (0, 0u64);
        while let Some(&d) = bytes.get(i + int).filter(|b| b.is_ascii_digit()) {
            int_value = int_value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            int += 1;
        }
        i += int;
        let mut simple = int <= 15;
        let mut frac = 0;
        if bytes.get(i) == Some(&b'.') {
            simple = false;
            frac = digits_from(i + 1);
            i += 1 + frac;
        }
        if int + frac == 0 {
            return None;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let j = i + 1 + usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
            let exp = digits_from(j);
            if exp > 0 {
                simple = false;
                i = j + exp;
            }
        }
        if bytes.get(i).is_some_and(|&b| is_number_byte(b)) {
            return None;
        }
        self.at = i;
        if simple {
            let v = int_value as f64;
            return Some(if negative { -v } else { v });
        }
        // Never NaN in practice; a NaN would be dropped as a box, like a failed parse.
        Some(self.text.get(start..i).and_then(|t| t.parse().ok()).unwrap_or(f64::NAN))
    }

    /// `N , N` (spaces allowed around each part).
    fn two_numbers(&mut self) -> Option<[f64; 2]> {
        let a = self.number()?;
        self.space();
        if !self.eat(b",") {
            return None;
        }
        Some([a, self.number()?])
    }

    /// `( N , N )`, spaces before it skipped.
    fn corner(&mut self) -> Option<[f64; 2]> {
        self.space();
        if !self.eat(b"(") {
            return None;
        }
        let xy = self.two_numbers()?;
        self.space();
        self.eat(b")").then_some(xy)
    }

    /// The four numbers of a plain form starting at the cursor, which is left after it;
    /// `None` when no form starts here.
    fn plain_box(&mut self) -> Option<[f64; 4]> {
        if self.eat(b"[") {
            let [a, b] = self.two_numbers()?;
            self.space();
            if !self.eat(b",") {
                return None;
            }
            let [c, d] = self.two_numbers()?;
            self.space();
            return self.eat(b"]").then_some([a, b, c, d]);
        }
        let close: &[u8] = if self.eat(b"<box>") {
            b"</box>"
        } else if self.eat(b"<|box_start|>") {
            b"<|box_end|>"
        } else {
            return None;
        };
        let [a, b] = self.corner()?;
        self.space();
        self.eat(b",");
        let [c, d] = self.corner()?;
        self.space();
        self.eat(close).then_some([a, b, c, d])
    }
}

/// Whether `text` holds a box key: what `(?i)["'](?:bbox|bbox_2d|position|box)["']\s*:`
/// matches, with that regex's Unicode case folding (`ſ` is an `s`) and whitespace.
pub(super) fn has_box_key(text: &str) -> bool {
    memchr::memchr2_iter(b'"', b'\'', text.as_bytes()).any(|q| {
        let rest = &text.as_bytes()[q + 1..];
        ["bbox", "bbox_2d", "position", "box"].iter().any(|key| {
            key_len(rest, key.as_bytes()).is_some_and(|n| {
                matches!(rest.get(n), Some(b'"' | b'\''))
                    // After an ASCII quote: a char boundary.
                    && text.get(q + n + 2..).is_some_and(|after| after.trim_start().starts_with(':'))
            })
        })
    })
}

/// The length in `bytes` of a case-insensitive match of the ASCII `key` at their start.
fn key_len(bytes: &[u8], key: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &k in key {
        let b = *bytes.get(at)?;
        if b.eq_ignore_ascii_case(&k) {
            at += 1;
        } else if k == b's' && bytes[at..].starts_with("ſ".as_bytes()) {
            at += "ſ".len();
        } else {
            return None;
        }
    }
    Some(at)
}
