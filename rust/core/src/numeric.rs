//! Numbers in answers: parsing (sign, decimals, thousands separators, scientific notation,
//! percent, `a/b`, `\frac{a}{b}`, currency, a trailing unit), comparison, and a small
//! evaluator of closed-form LaTeX arithmetic (`\frac`, `\sqrt`, `\pi`, `^`) for the
//! `math` kind.
//!
//! Everything here is linear in the input: one `regex` search (finite automata, no
//! backtracking) finds the number, plain character scans check what surrounds it, and
//! the evaluator is a recursive-descent parser with a depth limit that reads each token
//! once.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

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

// ---------------------------------------------------------------------------------------
// LaTeX clean-up

/// Commands whose braces are dropped and content kept (`\text{ cm}` -> ` cm`).
const WRAPPERS: &[&str] = &[
    "boxed",
    "fbox",
    "text",
    "textbf",
    "textit",
    "textrm",
    "texttt",
    "textnormal",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "mbox",
    "hbox",
    "bm",
    "boldsymbol",
];
/// Commands that only affect layout.
const LAYOUT: &[&str] =
    &["left", "right", "displaystyle", "textstyle", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "middle"];

/// Removes whole-string math delimiters (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`).
pub fn strip_math_delimiters(s: &str) -> &str {
    let mut s = crate::text::trim(s);
    loop {
        let inner = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")].iter().find_map(|(open, close)| {
            (s.len() >= open.len() + close.len()).then(|| s.strip_prefix(open)?.strip_suffix(close)).flatten()
        });
        match inner {
            Some(inner) => s = crate::text::trim(inner),
            None => return s,
        }
    }
}

/// [`clean_latex`] without a copy when there is nothing to rewrite: without `\\` there
/// are no commands (braces are copied as they are), without `$` no delimiters, and
/// without `°` (0xC2 is its lead byte) no degrees, so the pass would only trim.
fn clean_latex_cow(text: &str) -> Cow<'_, str> {
    if has_latex(text.as_bytes()) {
        Cow::Owned(clean_latex(text))
    } else {
        Cow::Borrowed(text.trim())
    }
}

/// One forward pass that rewrites LaTeX into a plain form the number grammar reads:
/// wrappers (`\boxed`, `\text`, `\mathrm`, …) lose their braces, layout commands and thin
/// spaces vanish, `\dfrac`/`\tfrac` become `\frac`, `\pi` becomes `π`, `\%` `%`, `\$` `$`,
/// `\approx` `≈`, and degrees (`^\circ`, `^{\circ}`, `\degree`) become `°`.
pub fn clean_latex(text: &str) -> String {
    let s = strip_math_delimiters(text);
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    // depths at which a wrapper's `{` was opened: its matching `}` is dropped
    let mut wrapper_depths: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // copy the run of ordinary bytes up to the next special ASCII byte
        let run_end = bytes[i..].iter().position(|b| matches!(b, b'\\' | b'{' | b'}')).map_or(bytes.len(), |k| i + k);
        out.push_str(&s[i..run_end]);
        i = run_end;
        if i >= bytes.len() {
            break;
        }
        match bytes[i] {
            b'{' => {
                depth += 1;
                out.push('{');
                i += 1;
            }
            b'}' => {
                i += 1;
                if depth > 0 {
                    depth -= 1;
                    if wrapper_depths.last() == Some(&depth) {
                        wrapper_depths.pop();
                        continue;
                    }
                }
                out.push('}');
            }
            _ => {
                // a backslash: read the command name
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                    j += 1;
                }
                if j == start {
                    // a one-symbol command such as `\,` or `\{`
                    let Some(c) = s[start..].chars().next() else {
                        out.push('\\');
                        i = start;
                        continue;
                    };
                    match c {
                        ',' | '!' | ';' | ':' => {}
                        ' ' => out.push(' '),
                        '%' => out.push('%'),
                        '$' => out.push('$'),
                        _ => {
                            out.push('\\');
                            out.push(c);
                        }
                    }
                    i = start + c.len_utf8();
                    continue;
                }
                let name = &s[start..j];
                i = j;
                if WRAPPERS.contains(&name) {
                    let mut k = j;
                    while k < bytes.len() && bytes[k] == b' ' {
                        k += 1;
                    }
                    if bytes.get(k) == Some(&b'{') {
                        wrapper_depths.push(depth);
                        depth += 1;
                        i = k + 1;
                        // text wrappers separate a unit from its number: `5\text{cm}` -> `5 cm`
                        if !matches!(name, "boxed" | "bm" | "boldsymbol") {
                            out.push(' ');
                        }
                    }
                    continue;
                }
                if LAYOUT.contains(&name) {
                    continue;
                }
                match name {
                    "dfrac" | "tfrac" | "cfrac" => out.push_str("\\frac"),
                    "pi" => out.push('π'),
                    "approx" | "simeq" => out.push('≈'),
                    "circ" | "degree" => out.push('°'),
                    "quad" | "qquad" => out.push(' '),
                    _ => {
                        out.push('\\');
                        out.push_str(name);
                    }
                }
            }
        }
    }
    if out.contains('°') {
        out = out.replace("^{°}", "°").replace("^°", "°");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Number grammar

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
fn is_lenient_unit(rest: &str) -> bool {
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
fn is_strict_unit(rest: &str) -> bool {
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

/// The single number an answer states, or `None` when it states none, several, or a
/// non-finite one (`1e999`, `1/0`).
pub fn parse_number(text: &str) -> Option<Number> {
    parse_number_with(text, Surround::Lenient)
}

/// [`parse_number`] with an explicit [`Surround`] policy.
pub fn parse_number_with(text: &str, surround: Surround) -> Option<Number> {
    match read_number(text, surround) {
        Reading::Finite(n) => Some(n),
        _ => None,
    }
}

/// What an answer states, telling a non-finite number (`1e999`, `1/0`, `NaN`, `inf`)
/// apart from text that is no number at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    Finite(Number),
    NonFinite,
    NotANumber,
}

const NON_FINITE_WORDS: [&str; 5] = ["nan", "inf", "infinity", "∞", "\\infty"];

/// Reads the single number an answer states (see [`parse_number`]).
pub fn read_number(text: &str, surround: Surround) -> Reading {
    if let Some(reading) = quick_read(text, surround) {
        return reading;
    }
    // `<` and `>` survive the clean-up and are allowed nowhere around a number: a
    // whole completion without answer tags is usually turned away here
    if text.len() > 64 && memchr::memchr2(b'<', b'>', text.as_bytes()).is_some() {
        return Reading::NotANumber;
    }
    read_cleaned(&clean_latex_cow(text), surround)
}

/// Whether the clean-up may rewrite text holding these bytes: `\`, `$` or a character
/// with lead byte 0xC2 (`°` and its neighbours). Without them it only trims.
fn has_latex(bytes: &[u8]) -> bool {
    if bytes.len() < 32 {
        return bytes.iter().any(|&c| matches!(c, b'\\' | b'$' | 0xC2)); // a unit, say
    }
    memchr::memchr3(b'\\', b'$', 0xC2, bytes).is_some()
}

/// [`read_number`] of the raw text for the common answers, without the clean-up:
/// a number [`lead_token`] reads followed by a unit, or a word without digits. `None`
/// = the general path decides.
///
/// [`text::strip_decorations`](crate::text::strip_decorations) of the raw text is the
/// `s` the general path reads whenever the bytes kept are free of [`has_latex`] ones
/// (the stripped ends hold no `\\` or `$`); a leading `\frac` (or `\dfrac`, ...) is
/// the one command allowed, as the clean-up keeps its parts as they are.
fn quick_read(text: &str, surround: Surround) -> Option<Reading> {
    let s = crate::text::strip_decorations(text);
    let b = s.as_bytes();
    match *b.first()? {
        b'<' => Some(Reading::NotANumber),
        b'0'..=b'9' | b'-' | b'+' | b'\\' => {
            let (number, end) = lead_token(s, true)?;
            let rest = &s[end..];
            // the usual unit (` people`, `kg`, or none) is plain ASCII without digits or
            // operators: a lenient unit with nothing to clean
            let plain = |c: u8| c < 0x80 && !c.is_ascii_digit() && !b"^\\{}_=+*<>$".contains(&c);
            if surround == Surround::Lenient && rest.bytes().all(plain) {
                return Some(finite_or_not(number));
            }
            if has_latex(rest.as_bytes()) {
                return None;
            }
            Some(match unit_ok(rest, surround) {
                true => finite_or_not(number),
                false => Reading::NotANumber,
            })
        }
        c if c.is_ascii_alphabetic() => {
            // no digit: no number, unless the word is a non-finite one; only commands
            // (`in\\,f`) could change the word, as `$` could only be a delimiter at the
            // start and a rewritten `^°` still holds `°`
            let stop = |c: u8| c.is_ascii_digit() || c == b'\\';
            if b.chunks(16).any(|chunk| chunk.iter().fold(false, |hit, &c| hit | stop(c))) {
                return None;
            }
            Some(match NON_FINITE_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
                true => Reading::NonFinite,
                false => Reading::NotANumber,
            })
        }
        _ => None,
    }
}

fn finite_or_not(n: Number) -> Reading {
    if n.value.is_finite() {
        Reading::Finite(n)
    } else {
        Reading::NonFinite
    }
}

/// [`read_number`] of text already through [`clean_latex`].
fn read_cleaned(cleaned: &str, surround: Surround) -> Reading {
    let s = crate::text::strip_decorations(cleaned);
    // a plain token starts with a sign, a digit or `\frac`: never a non-finite word
    if let Some(token) = plain_token(s, surround) {
        return token.map_or(Reading::NotANumber, finite_or_not);
    }
    let unsigned = s.trim_start_matches(['-', '+', '−']).trim_start();
    if NON_FINITE_WORDS.iter().any(|w| unsigned.eq_ignore_ascii_case(w)) {
        return Reading::NonFinite;
    }
    match regex_token(s, surround) {
        Some(n) => finite_or_not(n),
        None => Reading::NotANumber,
    }
}

/// The one number token of `s` with its surround checked, by the `TOKEN` regex, for
/// every shape; the value may be non-finite.
fn regex_token(s: &str, surround: Surround) -> Option<Number> {
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

fn digits_end(b: &[u8], mut i: usize) -> usize {
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
fn lead_token(s: &str, frac_variants: bool) -> Option<(Number, usize)> {
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
fn plain_token(s: &str, surround: Surround) -> Option<Option<Number>> {
    let (number, end) = lead_token(s, false)?;
    Some(unit_ok(&s[end..], surround).then_some(number))
}

fn unit_ok(rest: &str, surround: Surround) -> bool {
    match surround {
        Surround::Lenient => is_lenient_unit(rest),
        Surround::Strict => is_strict_unit(rest),
    }
}

/// The integer a `count` answer states: a number that is an exact integer, or — when
/// the answer has no digits — exactly one number word from zero to twenty.
pub fn parse_count(text: &str) -> Option<i64> {
    if has_ascii_digit(text.as_bytes()) {
        let n = parse_number(text)?;
        let integral = !n.percent && n.value.fract() == 0.0 && n.value.abs() < 9.0e15;
        return integral.then_some(n.value as i64);
    }
    let mut found = None;
    let mut seen_twice = false;
    let mut see = |k: usize| {
        seen_twice |= found.is_some();
        found = Some(k as i64);
        !seen_twice
    };
    if text.len() <= 64 {
        // a short answer (`three`, `There are five.`): splitting it into words costs
        // less than setting up the multi-word search
        crate::text::for_each_word(text, |word| number_word(word).is_none_or(&mut see));
    } else {
        NUMBER_WORDS.for_each_in(text, see);
    }
    if seen_twice {
        None
    } else {
        found
    }
}

/// Whether any byte is an ASCII digit: fixed-size blocks with no early exit inside, so
/// the compiler vectorises the test.
fn has_ascii_digit(b: &[u8]) -> bool {
    b.chunks(32).any(|block| block.iter().fold(false, |any, &c| any | (c.wrapping_sub(b'0') < 10)))
}

/// `zero` .. `twenty`, in order (the index is the value).
const NUMBER_WORD_LIST: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

static NUMBER_WORDS: LazyLock<crate::text::WordSet> = LazyLock::new(|| crate::text::WordSet::new(&NUMBER_WORD_LIST));

/// The value of a number word `zero` .. `twenty` (any case). Words of the wrong length
/// or first letter are turned away before any comparison.
fn number_word(word: &[u8]) -> Option<usize> {
    if !(3..=9).contains(&word.len()) || !matches!(word[0] | 0x20, b'z' | b'o' | b't' | b'f' | b's' | b'e' | b'n') {
        return None; // "one" .. "seventeen"
    }
    let mut lower = [0u8; 9];
    for (l, &c) in lower.iter_mut().zip(word) {
        *l = c.to_ascii_lowercase();
    }
    // a match on the lower-cased bytes: a jump on the length, then a few compares
    Some(match &lower[..word.len()] {
        b"zero" => 0,
        b"one" => 1,
        b"two" => 2,
        b"three" => 3,
        b"four" => 4,
        b"five" => 5,
        b"six" => 6,
        b"seven" => 7,
        b"eight" => 8,
        b"nine" => 9,
        b"ten" => 10,
        b"eleven" => 11,
        b"twelve" => 12,
        b"thirteen" => 13,
        b"fourteen" => 14,
        b"fifteen" => 15,
        b"sixteen" => 16,
        b"seventeen" => 17,
        b"eighteen" => 18,
        b"nineteen" => 19,
        b"twenty" => 20,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Closed-form arithmetic for the `math` kind

/// A lone variable or simple symbol, the only left-hand side [`value_side`] drops: one
/// letter (`x`, `θ`, `π`) or one LaTeX command of letters (`\\theta`), with an optional
/// subscript (`x_1`, `a_{n}`), primes (`y'`) and a list of such arguments (`f(x)`).
/// Two letters (`AB`, `xy`) are a product or a segment, not a lone variable.
static LONE_SYMBOL: LazyLock<Regex> = LazyLock::new(|| {
    let symbol = r"(?:\p{Alphabetic}|\\[A-Za-z]+)";
    let pattern =
        format!(r"^{symbol}(?:_(?:[A-Za-z0-9]|\{{[A-Za-z0-9]+\}}))?'*(?:\(\s*{symbol}(?:\s*,\s*{symbol})*\s*\))?$");
    Regex::new(&pattern).expect("static regex")
});

/// Whether `s` (trimmed) is a lone variable or simple symbol (see [`LONE_SYMBOL`]).
pub fn is_lone_symbol(s: &str) -> bool {
    s.len() <= 64 && LONE_SYMBOL.is_match(s)
}

/// The part of a `math` answer that states its value, trimmed: after the last `=` or `≈`
/// when what stands left of the first one is a lone variable or simple symbol (`x = 5`,
/// `f(x) = 2x`, `\\theta \\approx 0.5`, a chain `x = 2 + 3 = 5`) -> `5`, `2x`, `0.5`, `5`.
/// Anything else is kept whole: an equation (`2x + 1 = 3`, `a + 3z = 0`) is compared as
/// one, never by its right-hand side, and text holding an inequality (`<`, `>`, `≤`, `≥`,
/// `≠`, `!=`) is never split.
pub fn value_side(s: &str) -> &str {
    let b = s.as_bytes();
    // `≈` is E2 89 88 in UTF-8: one scan for `=` and its last byte
    let mut relations =
        memchr::memchr2_iter(b'=', 0x88, b).filter(|&k| b[k] == b'=' || b[..=k].ends_with("≈".as_bytes()));
    let Some(first) = relations.next() else {
        return crate::text::trim(s);
    };
    let last = relations.next_back().unwrap_or(first);
    let lhs_end = if b[first] == b'=' { first } else { first + 1 - "≈".len() };
    // `k` is the last byte of `=` or `≈`: the next byte starts a char
    if is_lone_symbol(crate::text::trim(&s[..lhs_end])) && !has_inequality(s) {
        crate::text::trim(&s[last + 1..])
    } else {
        crate::text::trim(s)
    }
}

/// Whether the text holds an inequality sign: `<`, `>`, `!=`, `≤`, `≥`, `≠`.
fn has_inequality(s: &str) -> bool {
    memchr::memchr2(b'<', b'>', s.as_bytes()).is_some() || s.contains("!=") || s.contains(['≤', '≥', '≠'])
}

/// The cleaned form of a `math` answer: LaTeX cleaned, `$` removed, degrees dropped,
/// the right-hand side of an equation, surrounding quotes and a final period stripped.
pub fn math_form(text: &str) -> String {
    math_form_cow(text).into_owned()
}

/// [`math_form`], borrowing from `text` when the clean-up keeps it as it is (`$…$`
/// delimiters aside, and a final `^\\circ`, whose `°` the form drops); otherwise one
/// copy.
pub fn math_form_cow(text: &str) -> Cow<'_, str> {
    let s = strip_math_delimiters(text);
    let kept = [s, s.strip_suffix("^\\circ").unwrap_or(""), s.strip_suffix("^{\\circ}").unwrap_or("")]
        .into_iter()
        .enumerate()
        .find(|&(k, kept)| (k == 0 || (!kept.is_empty() && !kept.ends_with(['^', '\\']))) && cleans_to_itself(kept));
    if let Some((_, kept)) = kept {
        return Cow::Borrowed(crate::text::strip_quotes(value_side(kept)));
    }
    let mut cleaned = clean_latex(text);
    cleaned.retain(|c| c != '$' && c != '°');
    let form = crate::text::strip_quotes(value_side(&cleaned));
    let start = form.as_ptr() as usize - cleaned.as_ptr() as usize;
    let end = start + form.len();
    cleaned.truncate(end);
    cleaned.drain(..start);
    Cow::Owned(cleaned)
}

/// Whether the math form of `s` (delimiters stripped) is `s` itself: no `$`, no `°`
/// (0xC2 is its lead byte), and only commands [`clean_latex`] copies as they are
/// (`\\frac`, `\\sqrt`, `\\cdot`, ...). Braces are copied unless a wrapper opened them.
fn cleans_to_itself(s: &str) -> bool {
    let b = s.as_bytes();
    if memchr::memchr2(b'$', 0xC2, b).is_some() {
        return false;
    }
    memchr::memchr_iter(b'\\', b).all(|at| {
        let name_end = at + 1 + b[at + 1..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        match &s[at + 1..name_end] {
            "" => !matches!(b.get(at + 1), Some(b',' | b'!' | b';' | b':' | b' ' | b'%')), // `\\$`: refused above
            name => {
                !(WRAPPERS.contains(&name)
                    || LAYOUT.contains(&name)
                    || matches!(
                        name,
                        "dfrac" | "tfrac" | "cfrac" | "pi" | "approx" | "simeq" | "circ" | "degree" | "quad" | "qquad"
                    ))
            }
        }
    })
}

/// `math_form_key(a) == math_form_key(b)` and not empty, without building the keys.
pub fn math_form_keys_equal(a: &str, b: &str) -> bool {
    fn non_ws(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars().filter(|c| !c.is_whitespace())
    }
    non_ws(a).next().is_some() && non_ws(a).eq(non_ws(b))
}

/// The value of a [`math_form`]: a number (strict surround), else a closed-form
/// expression of numbers, `+ - * / ^`, `\frac`, `\sqrt`, `\pi`, brackets and implicit
/// products (`2\sqrt{3}`). `None` for anything else (variables, sets, non-finite).
pub fn math_form_value(form: &str) -> Option<Number> {
    if let Reading::Finite(n) = read_cleaned(form, Surround::Strict) {
        return Some(n);
    }
    eval_expression(form).map(|value| Number { value, percent: false })
}

/// The value of a `math` answer (see [`math_form_value`]).
pub fn math_value(text: &str) -> Option<Number> {
    math_form_value(&math_form(text))
}

/// The canonical string of a [`math_form`]: without white space, so `\frac{x}{2}` and
/// `\dfrac{x}{ 2 }` agree.
pub fn math_form_key(form: &str) -> String {
    form.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The canonical string of a `math` answer (see [`math_form_key`]).
pub fn math_key(text: &str) -> String {
    math_form_key(&math_form(text))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Plus,
    Minus,
    Mul,
    Div,
    Pow,
    Open(u8),
    Close(u8),
    Frac,
    Sqrt,
    Pi,
}

/// A closed-form answer longer than this many tokens is not evaluated.
const MAX_TOKENS: usize = 4096;

/// The tokens of a closed-form answer, read one at a time as the evaluator asks.
struct Lexer<'a> {
    s: &'a str,
    i: usize,
    /// tokens read so far
    count: usize,
    /// set when the text holds something that is no token (the whole text is refused)
    failed: bool,
    /// where the last token read starts
    start: usize,
}

impl Lexer<'_> {
    /// The next token; `None` at the end, or on failure (then `failed` is set).
    fn next_token(&mut self) -> Option<Tok> {
        let tok = self.lex();
        if tok.is_none() && self.i < self.s.len() {
            self.failed = true;
        }
        tok
    }

    fn lex(&mut self) -> Option<Tok> {
        let (s, bytes) = (self.s, self.s.as_bytes());
        while self.i < bytes.len() {
            if self.count > MAX_TOKENS {
                return None;
            }
            let i = self.i;
            self.start = i;
            let b = bytes[i];
            if b.is_ascii_digit() || b == b'.' {
                let mut j = digits_end(bytes, i);
                if bytes.get(j) == Some(&b'.') {
                    j = digits_end(bytes, j + 1);
                }
                let v = s[i..j].parse::<f64>().ok()?;
                self.i = j;
                self.count += 1;
                return Some(Tok::Num(v));
            }
            if b == b'\\' {
                let start = i + 1;
                let j = start + bytes[start..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
                let tok = match &s[start..j] {
                    "frac" => Tok::Frac,
                    "sqrt" => Tok::Sqrt,
                    "cdot" | "times" | "ast" => Tok::Mul,
                    "div" => Tok::Div,
                    _ => return None,
                };
                self.i = j;
                self.count += 1;
                return Some(tok);
            }
            let c = s[i..].chars().next()?;
            self.i += c.len_utf8();
            let tok = match c {
                c if c.is_whitespace() => continue,
                '+' => Tok::Plus,
                '-' | '−' => Tok::Minus,
                '*' | '×' | '·' => Tok::Mul,
                '/' | '÷' => Tok::Div,
                '^' => Tok::Pow,
                '(' => Tok::Open(b'('),
                '[' => Tok::Open(b'['),
                '{' => Tok::Open(b'{'),
                ')' => Tok::Close(b'('),
                ']' => Tok::Close(b'['),
                '}' => Tok::Close(b'{'),
                'π' => Tok::Pi,
                '√' => Tok::Sqrt,
                _ => {
                    self.i = i; // not consumed: the lexer failed here
                    return None;
                }
            };
            self.count += 1;
            return Some(tok);
        }
        None
    }
}

/// Deeper nesting than this is not a closed-form answer; the limit also bounds the
/// evaluator's stack.
const MAX_DEPTH: usize = 64;

struct Eval<'a> {
    lexer: Lexer<'a>,
    /// the next token, not yet consumed
    ahead: Option<Tok>,
    depth: usize,
}

impl Eval<'_> {
    fn peek(&self) -> Option<Tok> {
        self.ahead
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.ahead?;
        self.ahead = self.lexer.next_token();
        Some(t)
    }

    fn skip(&mut self) {
        self.ahead = self.lexer.next_token();
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn expr(&mut self) -> Option<f64> {
        self.enter()?;
        let mut acc = self.term()?;
        while let Some(op @ (Tok::Plus | Tok::Minus)) = self.peek() {
            self.skip();
            let rhs = self.term()?;
            acc = if op == Tok::Plus { acc + rhs } else { acc - rhs };
        }
        self.depth -= 1;
        finite(acc)
    }

    fn term(&mut self) -> Option<f64> {
        let mut acc = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::Mul) => {
                    self.skip();
                    acc *= self.unary()?;
                }
                Some(Tok::Div) => {
                    self.skip();
                    acc /= self.unary()?;
                }
                // implicit product: `2\pi`, `3\sqrt{2}`, `2(1+1)`; never two bare numbers
                Some(Tok::Open(_) | Tok::Frac | Tok::Sqrt | Tok::Pi) => acc *= self.power()?,
                _ => return finite(acc),
            }
            finite(acc)?;
        }
    }

    fn unary(&mut self) -> Option<f64> {
        self.enter()?;
        let v = match self.peek()? {
            Tok::Minus => {
                self.skip();
                -self.unary()?
            }
            Tok::Plus => {
                self.skip();
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Some(v)
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.primary()?;
        if self.peek() == Some(Tok::Pow) {
            self.skip();
            let exponent = self.unary()?;
            return finite(base.powf(exponent));
        }
        Some(base)
    }

    /// An argument of `\\frac` or `\\sqrt`: a group, or without braces one character,
    /// as LaTeX reads it (`\\frac94` is 9/4, `\\sqrt23` is √2 then 3).
    fn argument(&mut self) -> Option<f64> {
        if let Some(Tok::Num(_)) = self.ahead {
            let start = self.lexer.start;
            if self.lexer.i - start > 1 {
                let digit = self.lexer.s.as_bytes()[start];
                if !digit.is_ascii_digit() {
                    return None; // `\\frac.5`: not a closed form
                }
                self.lexer.i = start + 1; // read on after the one digit
                self.skip();
                return Some(f64::from(digit - b'0'));
            }
        }
        self.enter()?;
        let v = self.primary()?;
        self.depth -= 1;
        Some(v)
    }

    fn primary(&mut self) -> Option<f64> {
        match self.next()? {
            Tok::Num(v) => Some(v),
            Tok::Pi => Some(std::f64::consts::PI),
            Tok::Open(kind) => {
                let v = self.expr()?;
                (self.next()? == Tok::Close(kind)).then_some(v)
            }
            Tok::Frac => {
                let n = self.argument()?;
                let d = self.argument()?;
                finite(n / d)
            }
            Tok::Sqrt => {
                let index = if self.peek() == Some(Tok::Open(b'[')) {
                    self.skip();
                    let k = self.expr()?;
                    (self.next()? == Tok::Close(b'[')).then_some(k)?
                } else {
                    2.0
                };
                let radicand = self.argument()?;
                let v = if index == 2.0 {
                    radicand.sqrt()
                } else if index == 3.0 {
                    radicand.cbrt()
                } else {
                    radicand.powf(1.0 / index)
                };
                finite(v)
            }
            _ => None,
        }
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Evaluates a closed-form arithmetic expression; `None` unless the whole input is one.
pub fn eval_expression(s: &str) -> Option<f64> {
    let mut lexer = Lexer { s, i: 0, count: 0, failed: false, start: 0 };
    let first = lexer.next_token()?;
    let mut ev = Eval { lexer, ahead: Some(first), depth: 0 };
    let v = ev.expr()?;
    // all of the text read, and read as tokens
    (ev.ahead.is_none() && !ev.lexer.failed).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn number_words_in_any_case() {
        for (k, w) in NUMBER_WORD_LIST.iter().enumerate() {
            assert_eq!(number_word(w.as_bytes()), Some(k));
            assert_eq!(number_word(w.to_uppercase().as_bytes()), Some(k));
            let mixed: String =
                w.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
            assert_eq!(number_word(mixed.as_bytes()), Some(k));
        }
    }

    proptest! {
        #[test]
        fn number_word_is_the_table_lookup(w in "[a-zA-Z]{0,10}|(?i)(seven|eight|nine|four|fif|six|thir)teen|twent[a-z]") {
            let by_table = NUMBER_WORD_LIST.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(w.as_bytes()));
            prop_assert_eq!(number_word(w.as_bytes()), by_table);
        }

        /// Without digits, both the short-answer word scan and the long-text word search
        /// equal the plain form: split into words, look each up, exactly one must hit.
        #[test]
        fn count_words_equal_their_plain_form(pieces in proptest::collection::vec(prop_oneof![
            proptest::sample::select(&[
                "one", "Seven", "SEVENTEEN", "seventeen", "teen", "eight", "eighteen", "height", "sIxTeEn",
                "someone", "ten", "often", "twenty", "Zero", "ninety", "x", "_", " ", "\n", "-", "é", "ß", "ǅ", "…",
            ][..]).prop_map(str::to_owned),
            "[a-zA-Z ]{1,12}",
        ], 0..40)) {
            let t = pieces.concat();
            let hits: Vec<i64> = t
                .split(|c: char| !c.is_alphanumeric())
                .filter_map(|w| NUMBER_WORD_LIST.iter().position(|n| n.eq_ignore_ascii_case(w)))
                .map(|k| k as i64)
                .collect();
            let plain = (hits.len() == 1).then(|| hits[0]);
            prop_assert_eq!(parse_count(&t), plain, "{:?}", t);
            let long = format!("{t} {}", "filler words and no count ".repeat(3));
            prop_assert_eq!(parse_count(&long), plain, "{:?}", long);
        }

        #[test]
        fn digit_test_is_any(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(has_ascii_digit(&b), b.iter().any(u8::is_ascii_digit));
        }
    }

    fn val(s: &str) -> Option<f64> {
        parse_number(s).map(|n| n.value)
    }

    #[test]
    fn number_forms() {
        assert_eq!(val("42"), Some(42.0));
        assert_eq!(val("-3.5"), Some(-3.5));
        assert_eq!(val("+7"), Some(7.0));
        assert_eq!(val("−2"), Some(-2.0));
        assert_eq!(val("1,234,567.5"), Some(1234567.5));
        assert_eq!(val("1{,}000"), Some(1000.0));
        assert_eq!(val("1\\,000"), Some(1000.0));
        // thousands separated by spaces: a space, U+00A0, U+2009 (thin), U+202F
        for sep in [" ", "\u{a0}", "\u{2009}", "\u{202f}"] {
            assert_eq!(val(&format!("1{sep}000")), Some(1000.0), "{sep:?}");
            assert_eq!(val(&format!("12{sep}345{sep}678.5 kg")), Some(12345678.5), "{sep:?}");
            assert_eq!(val(&format!("-1{sep}000%")), Some(-1000.0), "{sep:?}");
        }
        assert_eq!(val("1 00"), None); // a group has three digits
        assert_eq!(val("1 0000"), None);
        assert_eq!(val("1234 567"), None);
        assert_eq!(val("5 10"), None);
        assert_eq!(val("1.5e3"), Some(1500.0));
        assert_eq!(val("2.5E-2"), Some(0.025));
        assert_eq!(val("3 \\times 10^{4}"), Some(30000.0));
        assert_eq!(val("3×10^-2"), Some(0.03));
        assert_eq!(parse_number("45%"), Some(Number { value: 45.0, percent: true }));
        assert_eq!(parse_number("45\\%"), Some(Number { value: 45.0, percent: true }));
        assert_eq!(val("3/4"), Some(0.75));
        assert_eq!(val("\\frac{3}{4}"), Some(0.75));
        assert_eq!(val("\\dfrac{-1}{ 8 }"), Some(-0.125));
        assert_eq!(val("$\\frac{1}{2}$"), Some(0.5));
        assert_eq!(val("12 cm"), Some(12.0));
        assert_eq!(val("5kg"), Some(5.0));
        assert_eq!(val("60 km/h"), Some(60.0));
        assert_eq!(val("9.8 m/s^2"), Some(9.8));
        assert_eq!(val("$1,200"), Some(1200.0));
        assert_eq!(val("-$5"), Some(-5.0));
        assert_eq!(val("5\\text{ dollars}"), Some(5.0));
        assert_eq!(val("The answer is 17."), Some(17.0));
        assert_eq!(val("x = 5"), Some(5.0));
        assert_eq!(val("**42**"), Some(42.0));
        assert_eq!(val("(42)"), Some(42.0));
        assert_eq!(val(".5"), Some(0.5));
        assert_eq!(val("30°"), Some(30.0));
        assert_eq!(val("30^\\circ"), Some(30.0));
    }

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

    #[test]
    fn not_one_number() {
        for s in [
            "",
            "abc",
            "5 or 6",
            "1, 2",
            "1,2345",
            "Q1",
            "x2",
            "1/0",
            "1e999",
            "-1e400",
            "inf",
            "NaN",
            "\\sqrt{2}",
            "2\\pi",
            "\\frac{\\sqrt{2}}{2}",
            "2^3",
            "1+1",
            "3.5.6",
            "between 3 and 4",
            "10^{2}",
        ] {
            assert_eq!(parse_number(s), None, "{s:?}");
        }
    }

    #[test]
    fn non_finite() {
        for s in ["1e999", "-1e400", "1/0", "\\frac{1}{0}", "NaN", "-inf", "Infinity", "\\infty", "∞"] {
            assert_eq!(read_number(s, Surround::Lenient), Reading::NonFinite, "{s:?}");
        }
        assert_eq!(read_number("cat", Surround::Lenient), Reading::NotANumber);
        assert_eq!(read_number("0/0", Surround::Lenient), Reading::NonFinite);
    }

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

    #[test]
    fn counts() {
        assert_eq!(parse_count("3"), Some(3));
        assert_eq!(parse_count("There are 3 dogs."), Some(3));
        assert_eq!(parse_count("three"), Some(3));
        assert_eq!(parse_count("Twenty"), Some(20));
        assert_eq!(parse_count("zero"), Some(0));
        assert_eq!(parse_count("3.5"), None);
        assert_eq!(parse_count("3.0"), Some(3));
        assert_eq!(parse_count("two or three"), None);
        assert_eq!(parse_count("twentyone"), None);
        assert_eq!(parse_count("someone"), None);
        assert_eq!(parse_count("50%"), None);
    }

    #[test]
    fn expressions() {
        let v = |s: &str| math_value(s).map(|n| n.value);
        let approx = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert!(approx(v("\\frac{\\sqrt{2}}{2}"), 2f64.sqrt() / 2.0));
        assert!(approx(v("\\frac{1}{\\sqrt{2}}"), 2f64.sqrt() / 2.0));
        assert!(approx(v("2\\pi"), 2.0 * std::f64::consts::PI));
        assert!(approx(v("\\dfrac{\\pi}{3}"), std::f64::consts::PI / 3.0));
        assert!(approx(v("x = 5"), 5.0));
        assert!(approx(v("\\boxed{3\\sqrt{3}}"), 3.0 * 3f64.sqrt()));
        assert!(approx(v("\\sqrt[3]{27}"), 3.0));
        assert!(approx(v("2^{10}"), 1024.0));
        assert!(approx(v("-2^2"), -4.0));
        assert!(approx(v("\\left(\\frac{1}{2}\\right)^2"), 0.25));
        assert!(approx(v("45^\\circ"), 45.0));
        assert!(approx(v("5 \\text{ cm}"), 5.0));
        assert!(approx(v("1+2\\cdot3"), 7.0));
        for s in ["2x", "x", "2 3", "\\sqrt{-1}", "1/0", "2^{10000}", "(1", "1)", "\\foo{1}", "5 m"] {
            assert_eq!(v(s), None, "{s:?}");
        }
        // nesting beyond MAX_DEPTH is refused, not a stack overflow
        let deep = "(1+".repeat(10_000) + "1" + &")".repeat(10_000);
        assert_eq!(v(&deep), None);
        let ok = "(1+".repeat(10) + "1" + &")".repeat(10);
        assert!(approx(v(&ok), 11.0));
        assert_eq!(eval_expression(&"-".repeat(100_000)), None);
        assert_eq!(eval_expression(&"2^".repeat(100_000)), None);
        assert_eq!(math_key("\\dfrac{x}{ 2 }"), math_key("\\frac{x}{2}"));
        // brace-less arguments are one character each, as in LaTeX
        assert!(approx(v("\\frac94\\pi"), 2.25 * std::f64::consts::PI));
        assert!(approx(v("\\frac 1 2"), 0.5));
        assert!(approx(v("\\frac{9}4"), 2.25));
        assert!(approx(v("\\sqrt2"), 2f64.sqrt()));
        assert_eq!(v("\\sqrt23"), None); // √2 then a bare 3: not a closed form
        assert_eq!(v("\\frac.54"), None);
    }

    #[test]
    fn value_sides() {
        for (s, side) in [
            ("x = 5", "5"),
            ("f(x) = 2x", "2x"),
            ("\\theta ≈ 0.5", "0.5"),
            ("x = 2 + 3 = 5", "5"),
            ("a_{n} = 3", "3"),
            ("y' = 1", "1"),
            ("θ=1", "1"),
            ("2x + 1 = 3", "2x + 1 = 3"),
            ("a + 3z = 0", "a + 3z = 0"),
            ("AB = 5", "AB = 5"),
            ("-x >= -1", "-x >= -1"),
            ("x <= 1", "x <= 1"),
            ("x = 1 <= 2", "x = 1 <= 2"),
            (" 5 ", "5"),
            ("x != 2", "x != 2"),
            ("x ≠ 2", "x ≠ 2"),
            ("= 5", "= 5"),
        ] {
            assert_eq!(value_side(s), side, "{s:?}");
        }
        assert_eq!(math_value("2x+1=3"), None);
        assert!(math_value("\\theta \\approx 0.5").is_some_and(|n| n.value == 0.5));
        assert!(math_value("x = 3").is_some_and(|n| n.value == 3.0));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::accuracy::props::soup;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![soup(), any::<String>()]
    }

    /// Answers built from the pieces the number readers decide on, mostly led by a number.
    fn number_soup() -> impl Strategy<Value = String> {
        const LEADS: &[&str] = &[
            "",
            "",
            "",
            "-",
            "+",
            "−",
            "- ",
            " ",
            "(",
            "\"",
            "**",
            "$",
            "€",
            "<",
            ">",
            "x = ",
            "Q",
            ".",
            "\\frac{",
            "\\dfrac{",
            "\\frac {-",
            "-\\frac{",
            "\\text{",
            "\\,",
            "{",
            "nan",
            "inf",
        ];
        const PIECES: &[&str] = &[
            "-",
            "+",
            "−",
            " ",
            "  ",
            "\t",
            "\u{2003}",
            "\u{a0}",
            ",",
            ",000",
            ",12",
            ",0000",
            ".",
            ".5",
            "e",
            "E",
            "e-3",
            "e+12",
            "%",
            " %",
            "/",
            " / ",
            "\\frac",
            "\\dfrac",
            "{",
            "}",
            "{,}",
            "}{",
            "x",
            " x ",
            "×",
            "·",
            "*",
            "10^3",
            "10^{-2}",
            "\\times",
            "\\cdot",
            "cm",
            "km/h",
            " people",
            "°",
            "^°",
            "^\\circ",
            "°C",
            "m^2",
            "$",
            "€",
            "π",
            "\\pi",
            "<",
            ">",
            "(",
            ")",
            "\"",
            "**",
            "\\text{ cm}",
            "\\text{",
            "cm\\%",
            "m^°",
            "cm^{°}",
            "^",
            "m^",
            "^x",
            "\\%",
            "^2",
            "inf",
            "nan",
            "=",
            "\\,",
            "\\boxed{",
            "\\sqrt{",
            "Q",
            "_",
            "0",
            "00",
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
    fn frac_soup() -> impl Strategy<Value = String> {
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

    /// Prose before a number, long enough for the whole-text checks.
    fn prose_soup() -> impl Strategy<Value = String> {
        let tail = proptest::sample::select(&["", " cm", " (approx)", ")", " <", " >", ".", "\\%"][..]);
        (
            "[a-zA-Z ,:()]{40,90}",
            proptest::sample::select(&["", " ", "<", ">", ")", "= ", "\\text{x} "][..]),
            "[0-9]{1,4}(\\.[0-9]{1,2})?",
            tail,
        )
            .prop_map(|(p, l, n, t)| format!("{p}{l}{n}{t}"))
    }

    /// Words without digits, some of them non-finite once cleaned (`in\\,f`).
    fn word_soup() -> impl Strategy<Value = String> {
        const PIECES: &[&str] = &[
            "in", "f", "inity", "na", "n", "NaN", "Inf", "cat", " ", "-", "\\,", "\\!", "\\text{", "}", "{", "$", "°",
            "^°", "\\infty", "∞", "<", ".", "\"",
        ];
        proptest::collection::vec(proptest::sample::select(PIECES), 1..5).prop_map(|v| v.concat())
    }

    /// The evaluator's tokens as first read: all at once, into a vector.
    fn reference_tokenize(s: &str) -> Option<Vec<Tok>> {
        let bytes = s.as_bytes();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if toks.len() > MAX_TOKENS {
                return None;
            }
            let c = s[i..].chars().next()?;
            let b = bytes[i];
            if b.is_ascii_digit() || b == b'.' {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'.' {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                toks.push(Tok::Num(s[start..i].parse::<f64>().ok()?));
                continue;
            }
            if b == b'\\' {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                    j += 1;
                }
                toks.push(match &s[start..j] {
                    "frac" => Tok::Frac,
                    "sqrt" => Tok::Sqrt,
                    "cdot" | "times" | "ast" => Tok::Mul,
                    "div" => Tok::Div,
                    _ => return None,
                });
                i = j;
                continue;
            }
            i += c.len_utf8();
            toks.push(match c {
                c if c.is_whitespace() => continue,
                '+' => Tok::Plus,
                '-' | '−' => Tok::Minus,
                '*' | '×' | '·' => Tok::Mul,
                '/' | '÷' => Tok::Div,
                '^' => Tok::Pow,
                '(' => Tok::Open(b'('),
                '[' => Tok::Open(b'['),
                '{' => Tok::Open(b'{'),
                ')' => Tok::Close(b'('),
                ']' => Tok::Close(b'['),
                '}' => Tok::Close(b'{'),
                'π' => Tok::Pi,
                '√' => Tok::Sqrt,
                _ => return None,
            });
        }
        Some(toks)
    }

    fn lex_all(s: &str) -> Option<Vec<Tok>> {
        let mut lexer = Lexer { s, i: 0, count: 0, failed: false, start: 0 };
        let mut toks = Vec::new();
        while let Some(t) = lexer.next_token() {
            toks.push(t);
        }
        (!lexer.failed).then_some(toks)
    }

    #[test]
    fn lexer_token_limit_as_reference() {
        for n in [MAX_TOKENS / 2 - 1, MAX_TOKENS / 2, MAX_TOKENS / 2 + 1] {
            for tail in ["", " ", "+", "x"] {
                let s = "1+".repeat(n) + "1" + tail;
                assert_eq!(lex_all(&s), reference_tokenize(&s), "{n} {tail:?}");
                assert_eq!(
                    eval_expression(&s).is_some(),
                    reference_tokenize(&s).is_some() && tail.trim().is_empty(),
                    "{n} {tail:?}"
                );
            }
        }
    }

    /// [`value_side`] as plain string operations: split at every `=` and `≈`; the last
    /// part when the first is a lone symbol and there is no inequality sign.
    fn plain_value_side(s: &str) -> &str {
        let parts: Vec<&str> = s.split(['=', '≈']).collect();
        let inequality = s.contains(['<', '>', '≤', '≥', '≠']) || s.contains("!=");
        match parts[..] {
            [first, .., last] if !inequality && is_lone_symbol(first.trim()) => last.trim(),
            _ => s.trim(),
        }
    }

    /// Equations, inequalities and `symbol = value` answers.
    fn equation_soup() -> impl Strategy<Value = String> {
        let side = proptest::sample::select(
            &[
                "x",
                " x ",
                "y'",
                "x_1",
                "a_{n}",
                "f(x)",
                "g(x, y)",
                "\\theta",
                "θ",
                "π",
                "2x",
                "2x+1",
                "a + 3z",
                "AB",
                "5",
                " 5",
                "-1",
                "",
                "x_",
                "f(x",
                "é",
                "\\frac{1}{2}",
                "1 000",
            ][..],
        );
        let rel = proptest::sample::select(&["=", " = ", "≈", "<=", ">=", "!=", "==", "<", "≥", " =", "= "][..]);
        (side.clone(), rel.clone(), side.clone(), proptest::option::of((rel, side))).prop_map(|(a, r, b, more)| {
            match more {
                Some((r2, c)) => format!("{a}{r}{b}{r2}{c}"),
                None => format!("{a}{r}{b}"),
            }
        })
    }

    /// The math form as first written: clean-up, then `$` and `°` dropped.
    fn reference_math_form(text: &str) -> String {
        let cleaned: String = clean_latex(text).chars().filter(|&c| c != '$' && c != '°').collect();
        crate::text::strip_quotes(plain_value_side(&cleaned)).to_string()
    }

    /// Math answers: LaTeX numbers, degrees, delimiters, equations, wrappers.
    fn math_soup() -> impl Strategy<Value = String> {
        const PIECES: &[&str] = &[
            "\\frac{",
            "\\dfrac{",
            "}{",
            "}",
            "{",
            "\\sqrt{",
            "\\sqrt[3]{",
            "\\pi",
            "^\\circ",
            "^{\\circ}",
            "^",
            "°",
            "\\circ",
            "$",
            "$$",
            "\\(",
            "\\)",
            "x = ",
            "=",
            "≈",
            "\\approx",
            "\\text{",
            "\\boxed{",
            "\\left(",
            "\\right)",
            "\\,",
            "\\\\",
            "\\%",
            "\\",
            " ",
            "-",
            "+",
            "\\cdot",
            "\\times",
            "2",
            "3",
            "10",
            "1.5",
            "x",
            "\"",
            "'",
            ".",
            "cm",
            "(",
            ")",
            "\\degree",
            "\\foo",
        ];
        proptest::collection::vec(proptest::sample::select(PIECES), 0..8).prop_map(|v| v.concat())
    }

    /// A comparable form of a token result (NaN equal to itself, the sign of zero kept).
    fn key(n: Option<Number>) -> Option<(u64, bool)> {
        n.map(|n| (if n.value.is_nan() { u64::MAX } else { n.value.to_bits() }, n.percent))
    }

    fn reading_key(r: Reading) -> (u8, Option<(u64, bool)>) {
        match r {
            Reading::Finite(n) => (0, key(Some(n))),
            Reading::NonFinite => (1, None),
            Reading::NotANumber => (2, None),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn parsed_numbers_are_finite(s in text()) {
            for surround in [Surround::Lenient, Surround::Strict] {
                if let Some(n) = parse_number_with(&s, surround) {
                    prop_assert!(n.value.is_finite());
                }
            }
            if let Some(n) = math_value(&s) {
                prop_assert!(n.value.is_finite());
            }
            if let Some(v) = eval_expression(&s) {
                prop_assert!(v.is_finite());
            }
            let _ = (parse_count(&s), math_key(&s), clean_latex(&s));
        }

        #[test]
        fn plain_fast_path_matches_regex(s in "[-+]?[0-9]{1,5}(\\.[0-9]{0,3})?([eE][-+]?[0-9]{0,3})?%?( ?[a-zA-Z%/,.x]{0,4}[0-9]?)?", strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            if let Some(fast) = plain_token(&s, surround) {
                prop_assert_eq!(fast, regex_token(&s, surround), "{:?}", s);
            }
        }

        #[test]
        fn sci_notation_round_trips(m in 1.0f64..10.0, e in -30i32..30) {
            let x: f64 = format!("{m}e{e}").parse().unwrap();
            for s in [format!("{m}e{e}"), format!("{m}E{e}"), format!("{m} \\times 10^{{{e}}}"), format!("{m}×10^{e}")] {
                let n = parse_number(&s);
                prop_assert!(n.is_some_and(|n| close(n.value, x, 1e-12)), "{} -> {:?}", s, n);
            }
        }
    }

    proptest! {
        // the fast paths against the general ones: cheap cases, many of them
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn value_side_is_the_plain_rule(s in prop_oneof![math_soup(), equation_soup(), text()]) {
            prop_assert_eq!(value_side(&s), plain_value_side(&s));
            prop_assert_eq!(strip_math_delimiters(&s), strip_math_delimiters(s.trim()));
        }

        #[test]
        fn lexer_matches_reference(s in prop_oneof![math_soup(), number_soup(), text()]) {
            let form = math_form(&s);
            prop_assert_eq!(lex_all(&form), reference_tokenize(&form), "{:?}", form);
            prop_assert_eq!(lex_all(&s), reference_tokenize(&s), "{:?}", s);
        }

        #[test]
        fn math_form_matches_reference(s in prop_oneof![math_soup(), number_soup(), text()]) {
            let (fast, reference) = (math_form_cow(&s), reference_math_form(&s));
            prop_assert_eq!(fast.as_ref(), reference.as_str(), "{:?}", s);
        }

        #[test]
        fn lead_token_matches_regex(s in prop_oneof![number_soup(), frac_soup()], strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            if let Some(fast) = plain_token(&s, surround) {
                prop_assert_eq!(key(fast), key(regex_token(&s, surround)), "{:?}", s);
            }
        }

        #[test]
        fn read_number_matches_general_path(s in prop_oneof![number_soup(), frac_soup(), word_soup(), prose_soup(), text()], strict: bool) {
            let surround = if strict { Surround::Strict } else { Surround::Lenient };
            let general = read_cleaned(&clean_latex(&s), surround);
            prop_assert_eq!(reading_key(read_number(&s, surround)), reading_key(general), "{:?}", s);
            prop_assert_eq!(reading_key(read_cleaned(&clean_latex_cow(&s), surround)), reading_key(general), "{:?}", s);
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
