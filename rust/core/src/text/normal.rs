//! Normal forms: `trim`, stripped decorations, and the `exact` normal form with its fast
//! comparison. [`normalize_exact`] is the rule; [`exact_equal`] compares two texts' normal forms
//! without building them (ASCII, the usual case) and must equal comparing them.

/// `char::is_whitespace` for one byte of UTF-8 (the ASCII white space: \t \n \v \f \r
/// and space; a byte >= 0x80 is never white space on its own).
#[inline]
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// `str::trim`, faster: ASCII white space is cut byte by byte, and only a non-ASCII
/// character left at an end sends the rest to the Unicode-aware `str::trim`.
#[inline]
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let plain = |c: u8| c > b' ' && c < 0x80; // ASCII, not white space
    if let (Some(&f), Some(&l)) = (b.first(), b.last()) {
        if plain(f) && plain(l) {
            return s; // the usual case: nothing to cut
        }
    }
    let (mut lo, mut hi) = (0, b.len());
    while lo < hi && ascii_space(b[lo]) {
        lo += 1;
    }
    while hi > lo && ascii_space(b[hi - 1]) {
        hi -= 1;
    }
    // lo and hi sit next to ASCII bytes, so they are char boundaries
    let t = &s[lo..hi];
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if f >= 0x80 || l >= 0x80 => t.trim(),
        _ => t,
    }
}

const DECORATION_PAIRS: [(char, char); 10] = [
    ('"', '"'),
    ('\'', '\''),
    ('“', '”'),
    ('‘', '’'),
    ('`', '`'),
    ('*', '*'),
    ('_', '_'),
    ('(', ')'),
    ('[', ']'),
    ('{', '}'),
];

/// Strips surrounding white space, quotes, markdown emphasis, brackets and final
/// periods, repeatedly (`"**(Paris.)**"` -> `Paris`). Each round removes at least one
/// character from an end, so this is linear.
pub fn strip_decorations(s: &str) -> &str {
    strip_pairs(s, &DECORATION_PAIRS)
}

/// [`strip_decorations`] without brackets (for math, where `(1, 2)` is not `[1, 2]`).
pub fn strip_quotes(s: &str) -> &str {
    strip_pairs(s, &DECORATION_PAIRS[..7])
}

fn strip_pairs<'a>(s: &'a str, pairs: &[(char, char)]) -> &'a str {
    let mut s = trim(s);
    loop {
        let (Some(&f), Some(&l)) = (s.as_bytes().first(), s.as_bytes().last()) else {
            return s;
        };
        if l == b'.' {
            s = trim(&s[..s.len() - 1]);
            continue;
        }
        if f.is_ascii_alphanumeric() || l.is_ascii_alphanumeric() {
            return s; // no decoration has a letter or digit at either end
        }
        // ASCII ends (the common case) are compared as bytes; others as chars
        let (first, last) = if f < 0x80 && l < 0x80 {
            (f as char, l as char)
        } else {
            let mut chars = s.chars();
            match (chars.next(), chars.next_back()) {
                (Some(first), Some(last)) => (first, last),
                _ => return s, // one non-ASCII char: no pair
            }
        };
        if s.len() < first.len_utf8() + last.len_utf8() || !pairs.contains(&(first, last)) {
            return s;
        }
        s = trim(&s[first.len_utf8()..s.len() - last.len_utf8()]);
    }
}

/// The `exact` normal form: decorations stripped, case-folded, runs of white space
/// collapsed to one space.
pub fn normalize_exact(s: &str) -> String {
    let stripped = strip_decorations(s);
    let mut out = String::with_capacity(stripped.len());
    let mut space = false;
    for c in stripped.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    match strip_decorations(&out).len() {
        n if n == out.len() => out,
        _ => strip_decorations(&out).to_string(),
    }
}

/// `normalize_exact(a) == normalize_exact(b)` and not empty, without building the
/// strings for ASCII text (the common case): after [`strip_decorations`] the text is
/// trimmed and its ends are no decoration, and lower-casing ASCII keeps it so, so the
/// second strip in [`normalize_exact`] changes nothing and the forms can be compared
/// byte by byte as they are produced.
pub fn exact_equal(a: &str, b: &str) -> bool {
    let (sa, sb) = (strip_decorations(a), strip_decorations(b));
    match ascii_normal_eq(sa.as_bytes(), sb.as_bytes()) {
        Some(equal) => equal && !sa.is_empty(),
        None => {
            let na = normalize_exact(a);
            !na.is_empty() && na == normalize_exact(b)
        }
    }
}

/// Whether the [`ascii_normal`] forms of two stripped texts are equal, read in step:
/// `Some(false)` at the first ASCII difference (the forms agree up to there and differ
/// at that byte, whatever follows), `Some(true)` when both end together, and `None`
/// (undecided: use the Unicode path) when a non-ASCII byte comes first.
fn ascii_normal_eq(a: &[u8], b: &[u8]) -> Option<bool> {
    let (mut x, mut y) = (ascii_normal(a), ascii_normal(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Some(true),
            (Some(p), Some(q)) if p == q && p < 0x80 => continue,
            (Some(p), Some(q)) if p >= 0x80 || q >= 0x80 => return None,
            (Some(p), None) | (None, Some(p)) if p >= 0x80 => return None,
            _ => return Some(false),
        }
    }
}

/// The bytes of [`normalize_exact`] of trimmed ASCII text: each white space run as one
/// space, lower-cased.
fn ascii_normal(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut in_space = false;
    s.iter().filter_map(move |&b| {
        // the ASCII characters with `char::is_whitespace`: \t \n \v \f \r and space
        if matches!(b, b'\t'..=b'\r' | b' ') {
            (!std::mem::replace(&mut in_space, true)).then_some(b' ')
        } else {
            in_space = false;
            Some(b.to_ascii_lowercase())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        assert_eq!(normalize_exact("  \"**Paris.**\" "), "paris");
        assert_eq!(normalize_exact("New   York\n City."), "new york city");
        assert_eq!(normalize_exact("[(B)]"), "b");
        assert_eq!(normalize_exact("“Hello”"), "hello");
        assert_eq!(normalize_exact(""), "");
        assert_eq!(normalize_exact("((((("), "(((((");
        assert_eq!(strip_quotes("(1, 2)."), "(1, 2)");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::testing::text;
    use proptest::prelude::*;

    /// The plain form of `strip_pairs` (char by char, `str::trim`).
    fn reference_strip_pairs<'a>(s: &'a str, pairs: &[(char, char)]) -> &'a str {
        let mut s = s.trim();
        loop {
            if let Some(t) = s.strip_suffix('.') {
                s = t.trim_end();
                continue;
            }
            let mut chars = s.chars();
            let (Some(first), Some(last)) = (chars.next(), chars.next_back()) else {
                return s;
            };
            if !pairs.contains(&(first, last)) {
                return s;
            }
            s = s[first.len_utf8()..s.len() - last.len_utf8()].trim();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn fast_trim_strip_and_exact_agree_with_their_plain_forms(
            a in text(),
            b in prop_oneof![text(), Just(String::from("yes")), Just(String::from(" (YES.) "))],
            pad in "[ \t\n\u{a0}\u{2003}\u{3000}]{0,3}",
        ) {
            let padded = format!("{pad}{a}{pad}");
            prop_assert_eq!(trim(&padded), padded.trim());
            prop_assert_eq!(trim(&a), a.trim());
            prop_assert_eq!(strip_decorations(&padded), reference_strip_pairs(&padded, &DECORATION_PAIRS));
            let wrapped = format!("{pad}“*({a}.)*”{pad}");
            prop_assert_eq!(strip_decorations(&wrapped), reference_strip_pairs(&wrapped, &DECORATION_PAIRS));
            prop_assert_eq!(strip_quotes(&wrapped), reference_strip_pairs(&wrapped, &DECORATION_PAIRS[..7]));
            let plain = {
                let na = normalize_exact(&a);
                !na.is_empty() && na == normalize_exact(&b)
            };
            prop_assert_eq!(exact_equal(&a, &b), plain);
            prop_assert_eq!(exact_equal(&a, &a), !normalize_exact(&a).is_empty());
        }

        #[test]
        fn exact_equal_matches_normal_forms(
            a in prop_oneof![text(), "[ \t\x0b\x0c\r\n\x1c\u{85}\u{a0}aAbB.\"*()\\[\\]]{0,12}"],
            b in prop_oneof![text(), "[ \t\x0b\x0c\r\n\x1c\u{85}\u{a0}aAbB.\"*()\\[\\]]{0,12}"],
            same: bool,
        ) {
            let b = if same { a.to_uppercase() } else { b };
            let na = normalize_exact(&a);
            prop_assert_eq!(exact_equal(&a, &b), !na.is_empty() && na == normalize_exact(&b));
        }
    }
}
