//! The number grammar, as a `regex` (finite automata, no backtracking): the rule every faster
//! reader of numbers must equal ([`regex_token`] is their test oracle), and the checks of what
//! may surround a number (units, prefixes) that all readers share.

use super::Number;
use regex::Regex;
use std::sync::LazyLock;

/// How much text may surround the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surround {
    /// `numeric`/`chart`/`count`: a lead-in without digits or operators (`The answer
    /// is`, `x =`, `≈`) and any trailing unit without digits or operators.
    Lenient,
    /// `math`: a lead-in of words ending in white space, and only word units after
    /// white space (`5 cm`, `30°`), so `2x` or `2\pi` are not read as 2.
    Strict,
}

/// A number: digits with optional thousands separators (`,`, `{,}`, a space, a no-break
/// space U+00A0, a thin space U+2009 or a narrow no-break space U+202F: `1,000`, `1 000`),
/// then an optional decimal part; or a decimal part alone.
const NUM: &str =
    r"(?:(?:[0-9]{1,3}(?:(?:,|\{,\}|[\x20\x{A0}\x{2009}\x{202F}])[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)";

/// One number: optional sign and currency, then a `\frac`, an `a/b` fraction or a
/// decimal with optional exponent (`1e3`, `1 \times 10^{3}`), then an optional `%`.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?x)
        (?P<s1>[-+−])?\s*(?P<cur>[$€£¥])?\s*(?P<s2>[-+−])?\s*
        (?:
            \\frac\s*\{{\s*(?P<fns>[-+−])?\s*(?P<fn>{NUM})\s*\}}\s*\{{\s*(?P<fds>[-+−])?\s*(?P<fd>{NUM})\s*\}}
          | (?P<an>{NUM})\s*/\s*(?P<ad>{NUM})
          | (?P<m>{NUM})
            (?:
                [eE](?P<e1>[-+]?[0-9]+)
              | \s*(?:\\times|\\cdot|×|·|\*|x)\s*10\s*\^\s*\{{?\s*(?P<e2>[-+−]?[0-9]+)\s*\}}?
            )?
        )
        (?P<pct>\s*%)?"
    );
    Regex::new(&pattern).expect("static regex")
});

/// Capture-group indices of `TOKEN`, looked up by name once.
struct Groups {
    sign1: usize,
    sign2: usize,
    frac_num_sign: usize,
    frac_num: usize,
    frac_den_sign: usize,
    frac_den: usize,
    slash_num: usize,
    slash_den: usize,
    mantissa: usize,
    exp_e: usize,
    exp_times: usize,
    percent: usize,
}

/// `TOKEN` has fewer capture groups than this (checked when `GROUPS` is built).
const MAX_GROUPS: usize = 16;

static GROUPS: LazyLock<Groups> = LazyLock::new(|| {
    assert!(TOKEN.captures_len() <= MAX_GROUPS, "static regex has too many groups");
    let index = |name: &str| TOKEN.capture_names().position(|n| n == Some(name)).expect("group of the static regex");
    Groups {
        sign1: index("s1"),
        sign2: index("s2"),
        frac_num_sign: index("fns"),
        frac_num: index("fn"),
        frac_den_sign: index("fds"),
        frac_den: index("fd"),
        slash_num: index("an"),
        slash_den: index("ad"),
        mantissa: index("m"),
        exp_e: index("e1"),
        exp_times: index("e2"),
        percent: index("pct"),
    }
});

thread_local! {
    /// `TOKEN`'s capture slots, reused so that reading a number allocates nothing.
    static TOKEN_LOCATIONS: std::cell::RefCell<regex::CaptureLocations> =
        std::cell::RefCell::new(TOKEN.capture_locations());
}

/// A number written with more characters than this is not read (so the regex's capture
/// pass always runs over a short window, whatever the input length).
pub const MAX_TOKEN_LEN: usize = 256;

/// A trailing unit in `numeric`: anything without digits or math operators (`cm`,
/// `km/h`, `m^2`, `dollars.`, `°C`, ` (approx)`); an exponent 2 or 3 only after a letter.
pub(super) fn is_lenient_unit(rest: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '^' => {
                if !prev.is_some_and(char::is_alphabetic) {
                    return false;
                }
                let after = chars.as_str();
                let tail = after
                    .strip_prefix("{2}")
                    .or_else(|| after.strip_prefix("{3}"))
                    .or_else(|| after.strip_prefix('2'))
                    .or_else(|| after.strip_prefix('3'));
                match tail {
                    Some(t) => chars = t.chars(),
                    None => return false,
                }
            }
            '²' | '³' if !prev.is_some_and(char::is_alphabetic) => return false,
            c if c.is_numeric() && c != '²' && c != '³' => return false,
            '\\' | '{' | '}' | '_' | '=' | '+' | '*' | '×' | '÷' | '√' | '∞' | 'π' | 'Π' | '<' | '>' => {
                return false
            }
            _ => {}
        }
        prev = Some(c);
    }
    true
}

/// A trailing unit in `math`: words of two or more letters after white space (a single
/// letter is a variable there: `2x` is not `2`), each with an optional exponent 2 or 3,
/// or degrees; a final period.
pub(super) fn is_strict_unit(rest: &str) -> bool {
    let trimmed = rest.trim_end();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let words = match trimmed.trim_start().strip_prefix('°') {
        Some(after) => after,
        None if trimmed.is_empty() || trimmed.starts_with(char::is_whitespace) => trimmed,
        None => return false,
    };
    words.split_whitespace().all(|word| {
        let base = ["^{2}", "^{3}", "^2", "^3", "²", "³"].iter().find_map(|e| word.strip_suffix(e)).unwrap_or(word);
        base.chars().count() >= 2 && base.chars().all(|c| c.is_alphabetic() && c != 'π' && c != 'Π')
    })
}

fn is_lenient_prefix_char(c: char) -> bool {
    !(c.is_numeric() || "\\^{}_+*/×÷√∞πΠ<>".contains(c))
}

fn is_strict_prefix_char(c: char) -> bool {
    (c.is_alphabetic() && c != 'π' && c != 'Π') || c.is_whitespace() || c == ':' || c == ','
}

fn parse_decimal(digits: &str) -> Option<f64> {
    let plain: String = digits.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
    plain.parse::<f64>().ok()
}

fn is_minus(sign: Option<&str>) -> bool {
    sign.is_some_and(|m| m != "+")
}

/// The one number token of `s` with its surround checked, by the `TOKEN` regex, for
/// every shape; the value may be non-finite.
pub(super) fn regex_token(s: &str, surround: Surround) -> Option<Number> {
    // No lead-in may hold a digit, so the token holds the first digit, and its own lead
    // (sign, currency, `\frac{`, white space) lies just before it.
    let first_digit = s.bytes().position(|b| b.is_ascii_digit())?;
    let mut start = first_digit;
    loop {
        let before = &s[..start];
        match before.chars().next_back() {
            Some(c) if c.is_whitespace() || "-+−$€£¥{.".contains(c) => start -= c.len_utf8(),
            _ if before.ends_with("\\frac") => start -= "\\frac".len(),
            _ => break,
        }
    }
    // the lead-in is at least `s[..start]`: when that already breaks the surround rule,
    // no token can be an answer and the regex need not run (garbage, whole completions)
    let lead_ok = match surround {
        Surround::Lenient => s[..start].chars().all(is_lenient_prefix_char),
        Surround::Strict => s[..start].chars().all(is_strict_prefix_char),
    };
    if !lead_ok {
        return None;
    }
    let mut end = (start + MAX_TOKEN_LEN).min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let window = &s[start..end];
    let spans = TOKEN_LOCATIONS.with(|cell| {
        let mut locs = cell.borrow_mut();
        TOKEN.captures_read(&mut locs, window)?;
        let mut spans = [None; MAX_GROUPS];
        for (i, span) in spans.iter_mut().enumerate().take(locs.len()) {
            *span = locs.get(i);
        }
        Some(spans)
    })?;
    let group = |i: usize| spans[i].map(|(a, b)| &window[a..b]);
    let g = &*GROUPS;
    let (ws, we) = spans[0]?;
    let whole = &window[ws..we];
    if (we == end - start && end < s.len()) || start + ws > first_digit {
        return None; // longer than MAX_TOKEN_LEN, or a digit outside the token
    }
    let (prefix, rest) = (&s[..start + ws], &s[start + we..]);
    // a number glued to a preceding word (`Q1`, `x2`) is an identifier, not an answer
    let glued = !whole.starts_with(char::is_whitespace)
        && prefix.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
    if glued {
        return None;
    }
    let surround_ok = match surround {
        Surround::Lenient => prefix.chars().all(is_lenient_prefix_char) && is_lenient_unit(rest),
        Surround::Strict => {
            prefix.chars().all(is_strict_prefix_char)
                && (prefix.is_empty() || prefix.ends_with(char::is_whitespace))
                && is_strict_unit(rest)
        }
    };
    if !surround_ok {
        return None;
    }
    let value = if let (Some(n), Some(d)) = (group(g.frac_num), group(g.frac_den)) {
        let n = parse_decimal(n)? * if is_minus(group(g.frac_num_sign)) { -1.0 } else { 1.0 };
        let d = parse_decimal(d)? * if is_minus(group(g.frac_den_sign)) { -1.0 } else { 1.0 };
        n / d
    } else if let (Some(a), Some(b)) = (group(g.slash_num), group(g.slash_den)) {
        parse_decimal(a)? / parse_decimal(b)?
    } else {
        let m = group(g.mantissa)?;
        let mantissa: String = m.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
        let exponent = group(g.exp_e).or(group(g.exp_times)).map(|e| e.replace('−', "-"));
        match exponent {
            Some(e) => format!("{mantissa}e{e}").parse::<f64>().ok()?,
            None => mantissa.parse::<f64>().ok()?,
        }
    };
    let negative = is_minus(group(g.sign1)) != is_minus(group(g.sign2));
    let value = if negative { -value } else { value };
    Some(Number { value, percent: group(g.percent).is_some() })
}
