//! Answer extraction and format checks on untrusted model output.
//!
//! Every function here is total and linear in its input: SIMD substring search
//! (`memchr::memmem`, searchers built once) and single forward scans, no backtracking.

use aho_corasick::{packed, AhoCorasick, MatchKind};
use memchr::memmem::Finder;
use std::sync::LazyLock;

const ANSWER_OPEN: &str = "<answer>";
const ANSWER_CLOSE: &str = "</answer>";
const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";
const BOXED_OPEN: &str = "\\boxed{";

static BOXED_FWD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(BOXED_OPEN));

/// The trimmed content of the last `<answer>…</answer>` block (multi-line); else the
/// trimmed content of the last `\boxed{…}` whose braces balance; else `None`.
///
/// "Last block" = the `<answer>` nearest before the last `</answer>`, up to the first
/// `</answer>` after it: a stray closing tag (`<answer>42</answer></answer>`, a common
/// sampling glitch) is not part of the answer.
pub fn extract_answer(text: &str) -> Option<&str> {
    answer_block(text).or_else(|| last_boxed(text)).map(trim)
}

/// Start of the last occurrence of `tag` (which begins with `<`, its only `<`): a SIMD
/// reverse scan over the `<` bytes, which are rare in prose.
fn rfind_tag(bytes: &[u8], tag: &str) -> Option<usize> {
    memchr::memrchr_iter(b'<', bytes).find(|&at| bytes[at..].starts_with(tag.as_bytes()))
}

static ANSWER_CLOSE_FWD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(ANSWER_CLOSE));

/// Content (untrimmed) of the last `<answer>…</answer>` block (see [`extract_answer`]).
pub fn answer_block(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.len() < ANSWER_OPEN.len() + ANSWER_CLOSE.len() {
        return None; // short gold answers: no search set-up at all
    }
    // the common case: the text ends with the closing tag (and perhaps white space)
    let end = text.trim_ascii_end().len();
    let last_close = match bytes[..end].ends_with(ANSWER_CLOSE.as_bytes()) {
        true => end - ANSWER_CLOSE.len(),
        false => rfind_tag(bytes, ANSWER_CLOSE)?,
    };
    let open = rfind_tag(&bytes[..last_close], ANSWER_OPEN)?;
    let start = open + ANSWER_OPEN.len();
    // the block ends at the first closing tag after its opening one (there is one)
    let close = ANSWER_CLOSE_FWD.find(&bytes[start..last_close]).map_or(last_close, |k| start + k);
    // all indices sit at ASCII `<` or just after a tag, so they are char boundaries
    Some(&text[start..close])
}

/// Content (untrimmed) of the balanced `\boxed{…}` that starts last.
///
/// One forward scan with a brace depth counter and a stack of the open `\boxed{`
/// groups, so nested or unclosed groups never cause rescans. `\{` and `\}` are
/// LaTeX literal braces and do not count.
///
/// The scan starts at the backslash run holding the first `\boxed{` (nothing before it
/// can change the result: no group is open there, and matching only compares depths
/// relative to a group's own start) and jumps between the bytes it reacts to.
pub fn last_boxed(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.len() <= BOXED_OPEN.len() {
        return None;
    }
    let first = BOXED_FWD.find(bytes)?;
    let mut i = first - bytes[..first].iter().rev().take_while(|&&b| b == b'\\').count();
    let mut depth: usize = 0;
    // (depth before the group's `{`, byte index where its content starts)
    let mut open_boxes: Vec<(usize, usize)> = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    while let Some(k) = memchr::memchr3(b'\\', b'{', b'}', &bytes[i..]) {
        i += k;
        match bytes[i] {
            b'\\' => {
                if bytes[i..].starts_with(BOXED_OPEN.as_bytes()) {
                    open_boxes.push((depth, i + BOXED_OPEN.len()));
                    depth += 1;
                    i += BOXED_OPEN.len();
                    continue;
                }
                if matches!(bytes.get(i + 1), Some(b'{') | Some(b'}') | Some(b'\\')) {
                    i += 2;
                    continue;
                }
            }
            b'{' => depth += 1,
            _ if depth > 0 => {
                depth -= 1;
                if let Some(&(d, start)) = open_boxes.last() {
                    if d == depth {
                        open_boxes.pop();
                        if best.filter(|&(s, _)| s >= start).is_none() {
                            best = Some((start, i));
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    // All indices sit next to ASCII bytes, so they are char boundaries.
    best.map(|(s, e)| &text[s..e])
}

/// At most this many boxes make one split answer (which bounds the work of
/// [`boxed_run`] to a few scans of the text).
pub const MAX_BOXES: usize = 16;

/// Separators allowed between the boxes of one split answer, stripped from the end.
const BOX_SEPARATORS: [&str; 8] = [",", ";", "$", "\\,", "\\quad", "\\text{and}", "\\text{ and }", "and"];

/// The contents of the boxes an answer is split over (`\boxed{1}, \boxed{2} and
/// \boxed{3}` -> `1`, `2`, `3`), in order: the last balanced box ([`last_boxed`]) and the
/// boxes just before it, separated from the next only by white space, `,`, `;`, `$`,
/// `\,`, `\quad` or `and` (at most [`MAX_BOXES`]). Empty when the text has no box.
pub fn boxed_run(text: &str) -> Vec<&str> {
    let mut run = Vec::new();
    let mut rest = text;
    while run.len() < MAX_BOXES {
        let Some(content) = last_boxed(rest) else { break };
        let start = content.as_ptr() as usize - rest.as_ptr() as usize;
        let end = start + content.len();
        // the box must close the text before it (or be the last box of all)
        if !run.is_empty() && end + 1 != rest.len() {
            break;
        }
        run.push(trim(content));
        rest = strip_box_separators(&rest[..start - BOXED_OPEN.len()]);
        if !rest.ends_with('}') {
            break;
        }
    }
    run.reverse();
    run
}

/// `s` without the white space and [`BOX_SEPARATORS`] at its end (`and` only as a word).
fn strip_box_separators(mut s: &str) -> &str {
    loop {
        s = s.trim_end();
        let cut = BOX_SEPARATORS.iter().find_map(|sep| {
            let before = s.strip_suffix(sep)?;
            let word_ok = *sep != "and" || !before.ends_with(|c: char| c.is_alphanumeric());
            word_ok.then_some(before)
        });
        match cut {
            Some(before) => s = before,
            None => return s,
        }
    }
}

/// Which of the four format tags starts at `at` (a `<`), if any.
fn tag_at(bytes: &[u8], at: usize) -> Option<&'static str> {
    let rest = &bytes[at..];
    let candidates: &[&'static str] = match rest.get(1) {
        Some(b't') => &[THINK_OPEN],
        Some(b'a') => &[ANSWER_OPEN],
        Some(b'/') => &[THINK_CLOSE, ANSWER_CLOSE],
        _ => return None,
    };
    candidates.iter().copied().find(|tag| rest.starts_with(tag.as_bytes()))
}

/// The first format tag in `bytes[from..to]` (wholly inside), with its position.
fn first_tag(bytes: &[u8], from: usize, to: usize) -> Option<(usize, &'static str)> {
    let region = &bytes[..to];
    memchr::memchr_iter(b'<', &region[from..]).map(|k| from + k).find_map(|at| tag_at(region, at).map(|tag| (at, tag)))
}

/// Strict format: the whole text is one `<think>…</think>` followed by one
/// `<answer>…</answer>`, with only white space around them (any text inside).
///
/// One pass over the `<` bytes: every tag starts with `<` and holds no other `<` or
/// `>`, so tags never overlap each other and each is seen exactly once.
pub fn format_strict(text: &str) -> bool {
    let s = trim(text);
    let bytes = s.as_bytes();
    let end = bytes.len().wrapping_sub(ANSWER_CLOSE.len());
    if bytes.len() < THINK_OPEN.len() + ANSWER_CLOSE.len()
        || !bytes.starts_with(THINK_OPEN.as_bytes())
        || !bytes.ends_with(ANSWER_CLOSE.as_bytes())
    {
        return false;
    }
    // the first tag after `<think>` must be `</think>`
    let Some((k, THINK_CLOSE)) = first_tag(bytes, THINK_OPEN.len(), end) else {
        return false;
    };
    let after = &s[k + THINK_CLOSE.len()..end];
    let a = end - after.trim_start().len();
    if !bytes[a..end].starts_with(ANSWER_OPEN.as_bytes()) {
        return false;
    }
    // and no tag inside the answer
    first_tag(bytes, a + ANSWER_OPEN.len(), end).is_none()
}

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

/// Lenient format: an `<answer>…</answer>` block is present.
pub fn format_lenient(text: &str) -> bool {
    answer_block(text).is_some()
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

/// `Some(true)` for an answer saying yes, `Some(false)` for no, `None` for neither or
/// both. Only whole words count: `eyes`, `know`, `nope` are not answers.
pub fn yes_no(s: &str) -> Option<bool> {
    // the usual answers, whole: `yes`, `No.`, `YES!`
    let bare = s.strip_suffix(['.', '!']).unwrap_or(s);
    if bare.eq_ignore_ascii_case("yes") {
        return Some(true);
    }
    if bare.eq_ignore_ascii_case("no") {
        return Some(false);
    }
    let (yes, no) = if s.len() <= 64 {
        says_yes_no_short(s)
    } else {
        let mut seen = [false; 2];
        YES_NO.for_each_in(s, |k| {
            seen[k] = true;
            !(seen[0] && seen[1])
        });
        (seen[0], seen[1])
    };
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Whether a short text says `yes` and whether it says `no` (whole words, any case).
/// Eight bytes at a time: the `y`/`n` bytes in either case are found by word
/// arithmetic, and only those are looked at.
fn says_yes_no_short(s: &str) -> (bool, bool) {
    const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const CASE_BIT: u64 = 0x2020_2020_2020_2020;
    // the 0x80 bit of each zero byte of `v`, exactly (no carries between bytes)
    let zero_bytes = |v: u64| !((((v & LOW_BITS) + LOW_BITS) | v) | LOW_BITS);
    let b = s.as_bytes();
    let (mut yes, mut no) = (false, false);
    let n = b.len();
    // `at + 8 <= n` at every call below; a miss would read as padding, never panic
    let load = |at: usize| b.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes);
    for k in (0..n).step_by(8) {
        // bytes k.. as a word; missing bytes are 0 (0 | 0x20 is neither letter)
        let word = if k + 8 <= n {
            load(k)
        } else if n >= 8 {
            load(n - 8) >> (8 * (k + 8 - n)) // the last 8 bytes, without those already seen
        } else {
            b.iter().rev().fold(0, |w, &c| w << 8 | u64::from(c))
        };
        let folded = word | CASE_BIT;
        let mut hits = zero_bytes(folded ^ (u64::from(b'y') * 0x0101_0101_0101_0101))
            | zero_bytes(folded ^ (u64::from(b'n') * 0x0101_0101_0101_0101));
        while hits != 0 {
            let at = k + (hits.trailing_zeros() / 8) as usize;
            hits &= hits - 1;
            if b[at] | 0x20 == b'y' {
                yes |= is_word_at(s, at, b"yes");
            } else {
                no |= is_word_at(s, at, b"no");
            }
        }
    }
    (yes, no)
}

/// A fixed set of lower-case ASCII words, found as whole words in any ASCII case, for
/// long texts (splitting a text into words costs a mispredicted branch per boundary).
///
/// An ASCII text is copied with letters lower-cased, digits kept and every other byte
/// made a space, behind one leading space; the words are searched as ` word`, so the
/// search itself (Teddy, SIMD, from `aho-corasick`) only stops at word starts, and the
/// byte after a match says whether the word ends there. Any other text is lower-cased
/// (ASCII bytes only: offsets and the UTF-8 of other characters are unchanged), the bare
/// words are searched, and [`is_whole_word`] decides on the original text.
pub struct WordSet {
    spaced: MultiSearch,
    bare: MultiSearch,
}

/// Leftmost-longest search for a few literals: Teddy where the CPU has the SIMD it needs
/// (x86-64 with SSSE3, aarch64), else the Aho–Corasick automaton.
enum MultiSearch {
    Teddy(packed::Searcher),
    Automaton(AhoCorasick),
}

impl MultiSearch {
    fn new(patterns: &[String], allow_simd: bool) -> MultiSearch {
        let config =
            packed::Config::new().match_kind(packed::MatchKind::LeftmostLongest).builder().extend(patterns).build();
        match config.filter(|_| allow_simd) {
            Some(teddy) => MultiSearch::Teddy(teddy),
            None => MultiSearch::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(patterns)
                    .expect("a few short literal patterns always build"),
            ),
        }
    }

    /// Calls `visit` on each match in order until it returns false.
    fn each(&self, haystack: &[u8], visit: impl FnMut(aho_corasick::Match) -> bool) {
        let _ = match self {
            MultiSearch::Teddy(searcher) => searcher.find_iter(haystack).all(visit),
            MultiSearch::Automaton(automaton) => automaton.find_iter(haystack).all(visit),
        };
    }
}

impl WordSet {
    /// `words`: non-empty lower-case ASCII letters.
    pub fn new(words: &[&str]) -> WordSet {
        WordSet::build(words, true)
    }

    /// The same set searched by the automata alone (what a CPU without Teddy runs).
    #[cfg(test)]
    pub fn without_simd(words: &[&str]) -> WordSet {
        WordSet::build(words, false)
    }

    fn build(words: &[&str], allow_simd: bool) -> WordSet {
        debug_assert!(words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())));
        // leftmost-longest: at a word's start the whole word wins over a shorter pattern
        // that begins it (`seventeen` over `seven`). Patterns are letters only (after the
        // space), so no candidate spans two words and none hides a whole-word occurrence.
        let spaced: Vec<String> = words.iter().map(|w| format!(" {w}")).collect();
        let bare: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        WordSet { spaced: MultiSearch::new(&spaced, allow_simd), bare: MultiSearch::new(&bare, allow_simd) }
    }

    /// Calls `f` with the index (in `words`) of each whole-word occurrence in `s`, in
    /// order, until `f` returns false.
    pub fn for_each_in(&self, s: &str, mut f: impl FnMut(usize) -> bool) {
        let b = s.as_bytes();
        if s.is_ascii() {
            let mut words_only = Vec::with_capacity(b.len() + 1);
            words_only.push(b' ');
            // branch-free per byte, so the compiler vectorises it
            words_only.extend(b.iter().map(|&c| {
                let letter = (c | 0x20).wrapping_sub(b'a') < 26;
                let digit = c.wrapping_sub(b'0') < 10;
                if letter {
                    c | 0x20
                } else if digit {
                    c
                } else {
                    b' '
                }
            }));
            // a match ` word` at `m.start()` of the copy is `word` at `m.start()` of `s`
            // (the copy leads by one byte), ending at `m.end() - 1`
            self.spaced.each(&words_only, |m| {
                words_only.get(m.end()).is_some_and(|&c| c != b' ') || f(m.pattern().as_usize())
            });
        } else {
            let lower = b.to_ascii_lowercase();
            // a match starts and ends at ASCII letters: char boundaries of `s`
            self.bare.each(&lower, |m| !is_whole_word(s, m.start(), m.end()) || f(m.pattern().as_usize()));
        }
    }
}

static YES_NO: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(&["yes", "no"]));

/// `word` (lower-case ASCII) is at byte `at` of `s` in any ASCII case, as a whole word.
#[inline]
fn is_word_at(s: &str, at: usize, word: &[u8]) -> bool {
    s.as_bytes().get(at..at + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word))
        && is_whole_word(s, at, at + word.len())
}

/// `s[start..end]` is a whole word: no alphanumeric character (Unicode-aware) touches it
/// on either side. `start` and `end` must be char boundaries.
pub fn is_whole_word(s: &str, start: usize, end: usize) -> bool {
    let b = s.as_bytes();
    let alnum_before = match start.checked_sub(1).map(|i| b[i]) {
        None => false,
        Some(c) if c < 0x80 => ASCII_ALNUM[c as usize],
        Some(_) => s[..start].chars().next_back().is_some_and(char::is_alphanumeric),
    };
    let alnum_after = match b.get(end) {
        None => false,
        Some(&c) if c < 0x80 => ASCII_ALNUM[c as usize],
        Some(_) => s[end..].chars().next().is_some_and(char::is_alphanumeric),
    };
    !alnum_before && !alnum_after
}

/// `u8::is_ascii_alphanumeric` as a table (a load instead of range compares and branches).
static ASCII_ALNUM: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// Calls `f` on each word of `s` in order (a maximal run of alphanumeric characters,
/// Unicode-aware), as bytes, until `f` returns false.
pub fn for_each_word<'a>(s: &'a str, mut f: impl FnMut(&'a [u8]) -> bool) {
    if s.is_ascii() {
        let (b, n) = (s.as_bytes(), s.len());
        let mut i = 0;
        while i < n {
            while i < n && !ASCII_ALNUM[b[i] as usize] {
                i += 1;
            }
            let start = i;
            while i < n && ASCII_ALNUM[b[i] as usize] {
                i += 1;
            }
            if start < i && !f(&b[start..i]) {
                return;
            }
        }
    } else {
        // the same with non-ASCII characters decoded where they occur (splitting on a
        // char predicate would decode every character)
        let (b, n) = (s.as_bytes(), s.len());
        let class = |i: usize| -> (bool, usize) {
            match b[i] {
                c if c < 0x80 => (ASCII_ALNUM[c as usize], 1),
                _ => s[i..].chars().next().map_or((false, 1), |ch| (ch.is_alphanumeric(), ch.len_utf8())),
            }
        };
        let mut i = 0;
        while i < n {
            let (is_word, len) = class(i);
            if !is_word {
                i += len;
                continue;
            }
            let start = i;
            i += len;
            while i < n {
                let (is_word, len) = class(i);
                if !is_word {
                    break;
                }
                i += len;
            }
            if !f(&b[start..i]) {
                return;
            }
        }
    }
}

/// The option letters (A–H) an answer names, as a bit set (bit 0 = A), and the first.
/// Scanning stops at the second different letter, so `mask` holds at most two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionLetters {
    pub mask: u8,
    pub first: Option<char>,
}

impl OptionLetters {
    pub fn count(&self) -> u32 {
        self.mask.count_ones()
    }

    /// The letter when exactly one is named.
    pub fn single(&self) -> Option<char> {
        (self.count() == 1).then_some(self.first).flatten()
    }

    fn add(&mut self, c: char) {
        let c = c.to_ascii_uppercase();
        self.mask |= 1 << (c as u8 - b'A');
        self.first.get_or_insert(c);
    }
}

/// Words after which a capital `A` names an option rather than being the article.
const NOT_A_NOUN: [&str; 16] = [
    "and", "or", "nor", "to", "is", "was", "are", "were", "through", "vs", "because", "since", "would", "should",
    "must", "seems",
];

/// Lead-ins after which a lower-case letter names an option (`option b`, `answer is c`).
const LEAD_INS: [&str; 6] = ["option ", "choice ", "answer ", "answer:", "answer: ", "is "];

fn preceded_by_lead_in(s: &str, at: usize) -> bool {
    let before = &s.as_bytes()[at.saturating_sub(10)..at];
    LEAD_INS.iter().any(|lead| {
        before.len() >= lead.len() && before[before.len() - lead.len()..].eq_ignore_ascii_case(lead.as_bytes())
    })
}

/// The option letters named in an answer. A letter names an option when it stands
/// alone (not inside a word): `B`, `(B)`, `B.`, `B) cat`, `Option B`, `The answer is B`.
/// A capital `A` followed by a lower-case word is the article (`A dog`), unless the word
/// joins options (`A and C`, `A or B`, `A is correct`). Lower-case letters count only
/// in option form: `(b)`, `b)`, after `option`/`answer is`, or as the whole answer.
pub fn option_letters(s: &str) -> OptionLetters {
    let mut found = OptionLetters::default();
    let whole = strip_decorations(s);
    let mut whole_chars = whole.chars();
    if let (Some(c), None) = (whole_chars.next(), whole_chars.next()) {
        if c.is_ascii_alphabetic() && ('A'..='H').contains(&c.to_ascii_uppercase()) {
            found.add(c);
        }
        return found;
    }
    let mut see = |i: usize| {
        if let Some(c) = option_letter_at(s, i) {
            found.add(c);
        }
        found.count() < 2 // two different letters already decide every use
    };
    if s.is_ascii() {
        // a letter with a letter or digit beside it names nothing: only one-letter
        // words are candidates. A branch-free (vectorised) pass says whether there is
        // any; then the word scan finds them.
        if s.len() <= 64 {
            let mut lone = lone_option_bits(s.as_bytes());
            while lone != 0 && see(lone.trailing_zeros() as usize) {
                lone &= lone - 1;
            }
            return found;
        }
        if !has_lone_option_byte(s.as_bytes()) {
            return found;
        }
        for_each_word(s, |w| w.len() != 1 || see(w.as_ptr() as usize - s.as_ptr() as usize));
    } else {
        // only ASCII letters A–H / a–h can name options, so scan bytes and decode the
        // neighbours of those alone
        let _ = (0..s.len()).all(|i| !matches!(s.as_bytes()[i], b'A'..=b'H' | b'a'..=b'h') || see(i));
    }
    found
}

/// Words that join two options: after a leading option letter they make the answer name
/// two (`A. or B`), not explain one.
const JOINERS: [&str; 5] = ["and", "or", "nor", "vs", "versus"];

/// The option letter an answer opens with when the letter is marked as an option —
/// `(A)`, `[A]`, `A)`, `A.` or `A:` — and followed by an explanation: `A. Because B is
/// not valid` -> `A`, `(C) The area doubles` -> `C`. `None` when nothing follows, or when
/// the explanation opens with a single letter, a word that joins options or a sign
/// (`A. B`, `A. or B`, `(A) (B)`, `A: B`), or when the letter is not marked (`A or B`,
/// `A, B`).
pub fn leading_option(s: &str) -> Option<char> {
    let s = s.trim_start();
    let s = s.strip_prefix("**").unwrap_or(s);
    let b = s.as_bytes();
    let is_letter = |c: u8| matches!(c, b'A'..=b'H' | b'a'..=b'h');
    let (letter, marked_len) = match b {
        [b'(', c, b')', ..] | [b'[', c, b']', ..] if is_letter(*c) => (*c, 3),
        [c, b')' | b'.' | b':', ..] if is_letter(*c) => (*c, 2),
        _ => return None,
    };
    let after = &s[marked_len..];
    let after = after.strip_prefix("**").unwrap_or(after);
    let explanation = after.trim_start();
    if explanation.len() == after.len() || explanation.is_empty() {
        return None; // no white space after the mark (`A.B`), or nothing follows
    }
    let word_len = explanation.find(|c: char| !c.is_alphanumeric()).unwrap_or(explanation.len());
    let word = &explanation[..word_len];
    let joins = JOINERS.iter().any(|j| word.eq_ignore_ascii_case(j));
    let single_letter = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    if word.is_empty() || joins || single_letter {
        return None;
    }
    Some(char::from(letter.to_ascii_uppercase()))
}

/// Bit `i` is set when byte `i` of an ASCII text of at most 64 bytes is a letter A–H /
/// a–h with no letter or digit on either side (as [`has_lone_option_byte`] asks). Eight
/// bytes at a time: each byte class is a range test done on all eight lanes at once.
fn lone_option_bits(b: &[u8]) -> u64 {
    const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * LANES;
    // the 0x80 bit of each lane whose byte (ASCII) lies in lo..=hi: with the high bit
    // set first, no subtraction borrows from the next lane
    let in_range = |x: u64, lo: u8, hi: u8| {
        let h = x | HIGH;
        h.wrapping_sub(u64::from(lo) * LANES) & !h.wrapping_sub(u64::from(hi + 1) * LANES) & HIGH
    };
    // one bit per lane (lane j -> bit j)
    let bits = |m: u64| (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    debug_assert!(b.len() <= 64 && b.is_ascii());
    let mut padded = [b' '; 64]; // a space has no letter or digit in it
    padded[..b.len()].copy_from_slice(b);
    let (mut option, mut alnum) = (0u64, 0u64);
    for (k, lane) in padded.chunks_exact(8).take(b.len().div_ceil(8)).enumerate() {
        let x = lane.try_into().map_or(0, u64::from_le_bytes); // chunks_exact: always 8 bytes
        let folded = x | (0x20 * LANES); // letters to lower case
        option |= bits(in_range(folded, b'a', b'h')) << (8 * k);
        alnum |= bits(in_range(folded, b'a', b'z') | in_range(x, b'0', b'9')) << (8 * k);
    }
    option & !(alnum << 1) & !(alnum >> 1)
}

/// Whether some byte of ASCII text is a letter A–H / a–h with no letter or digit on
/// either side: the necessary condition for [`option_letter_at`]. No early exit and
/// only arithmetic per byte, so the compiler vectorises the loop.
fn has_lone_option_byte(b: &[u8]) -> bool {
    let alnum = |c: u8| (c.wrapping_sub(b'0') < 10) | ((c | 0x20).wrapping_sub(b'a') < 26);
    let option = |c: u8| (c | 0x20).wrapping_sub(b'a') < 8;
    let n = b.len();
    let lone = |i: usize| option(b[i]) && (i == 0 || !alnum(b[i - 1])) && (i + 1 == n || !alnum(b[i + 1]));
    match n {
        0 => false,
        1 | 2 => (0..n).any(lone),
        _ => {
            let inner = b[..n - 2].iter().zip(&b[1..n - 1]).zip(&b[2..]);
            let found = inner.fold(false, |any, ((&p, &c), &q)| any | (option(c) & !alnum(p) & !alnum(q)));
            found || lone(0) || lone(n - 1)
        }
    }
}

/// The option letter the byte `s[i]` names, if it is one (see [`option_letters`]).
fn option_letter_at(s: &str, i: usize) -> Option<char> {
    let b = s.as_bytes()[i];
    let upper = (b'A'..=b'H').contains(&b);
    if !upper && !(b'a'..=b'h').contains(&b) {
        return None;
    }
    let alnum = |x: Option<char>| x.is_some_and(|x| x.is_alphanumeric());
    let c = b as char;
    let p = s[..i].chars().next_back();
    if alnum(p) {
        return None;
    }
    let mut after = s[i + 1..].chars();
    let next = after.next();
    if alnum(next) || matches!(p, Some('\\' | '_' | '^')) || next == Some('_') {
        return None;
    }
    if upper {
        if c == 'A' && next == Some(' ') && !(p == Some('(') || preceded_by_lead_in(s, i)) {
            let rest = after.as_str();
            let word = &rest[..rest.bytes().position(|x| !x.is_ascii_alphabetic()).unwrap_or(rest.len())];
            if word.starts_with(|x: char| x.is_ascii_lowercase()) && !NOT_A_NOUN.contains(&word) {
                return None;
            }
        }
        return Some(c);
    }
    let names = (p == Some('(') && next == Some(')'))
        || (next == Some(')') && p.filter(|x| !x.is_whitespace()).is_none())
        || preceded_by_lead_in(s, i);
    names.then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_tags() {
        assert_eq!(extract_answer("<think>x</think><answer> 42 </answer>"), Some("42"));
        assert_eq!(extract_answer("<answer>a</answer> then <answer>\n b\n c \n</answer>"), Some("b\n c"));
        assert_eq!(extract_answer("<answer>a</answer><answer>unclosed"), Some("a"));
        assert_eq!(extract_answer("<answer></answer>"), Some(""));
        assert_eq!(extract_answer("no tags"), None);
        assert_eq!(extract_answer("</answer><answer>"), None);
        // answer block wins over a later \boxed
        assert_eq!(extract_answer("<answer>7</answer> \\boxed{8}"), Some("7"));
        // a stray closing tag is no part of the answer
        assert_eq!(extract_answer("<answer>42</answer></answer>"), Some("42"));
        assert_eq!(extract_answer("<answer>1</answer> <answer>42</answer>\n</answer> \n"), Some("42"));
        assert_eq!(extract_answer("<answer>42</answer>x</answer>"), Some("42"));
    }

    #[test]
    fn boxed() {
        assert_eq!(extract_answer("so \\boxed{1} or \\boxed{ \\frac{1}{2} }"), Some("\\frac{1}{2}"));
        assert_eq!(extract_answer("\\boxed{\\{1,2\\}}"), Some("\\{1,2\\}"));
        assert_eq!(extract_answer("\\boxed{5} then \\boxed{unclosed"), Some("5"));
        assert_eq!(extract_answer("\\boxed{\\boxed{5}}"), Some("5"));
        assert_eq!(extract_answer("}}} \\boxed{x}"), Some("x"));
        assert_eq!(extract_answer("\\boxed{"), None);
        assert_eq!(extract_answer("é\\boxed{ü}ñ"), Some("ü"));
    }

    #[test]
    fn formats() {
        assert!(format_strict("<think>a\nb</think><answer>c\nd</answer>"));
        assert!(format_strict("  \n<think></think>\n\n <answer> 5 </answer>\n"));
        assert!(!format_strict("<think>a</think> text <answer>5</answer>"));
        assert!(!format_strict("x <think>a</think><answer>5</answer>"));
        assert!(!format_strict("<think>a</think><answer>5</answer> x"));
        assert!(!format_strict("<think>a</think><answer>5</answer><answer>6</answer>"));
        assert!(!format_strict("<think>a<think>b</think><answer>5</answer>"));
        assert!(!format_strict("<think>a</think></think><answer>5</answer>"));
        assert!(!format_strict("<answer>5</answer><think>a</think>"));
        assert!(!format_strict("<think>a</answer><answer>5</answer>"));
        assert!(!format_strict("<think>a <answer>5</answer>"));
        assert!(!format_strict("<think><answer>5</answer>"));
        assert!(format_lenient("blah <answer>5</answer> blah"));
        assert!(format_lenient("<answer>\n</answer>"));
        assert!(!format_lenient("<answer>5"));
        assert!(!format_lenient("</answer>5<answer>"));
    }

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

    #[test]
    fn yes_and_no() {
        assert_eq!(yes_no("Yes"), Some(true));
        assert_eq!(yes_no("yes."), Some(true));
        assert_eq!(yes_no("YES, it is"), Some(true));
        assert_eq!(yes_no("No"), Some(false));
        assert_eq!(yes_no("no, there isn't"), Some(false));
        assert_eq!(yes_no("yes and no"), None);
        assert_eq!(yes_no("Yes/No"), None);
        assert_eq!(yes_no("eyes"), None);
        assert_eq!(yes_no("I know"), None);
        assert_eq!(yes_no("nope, yesterday"), None);
        assert_eq!(yes_no("eyes: no"), Some(false));
        assert_eq!(yes_no(""), None);
    }

    #[test]
    fn letters() {
        let one = |s: &str| option_letters(s).single();
        for s in [
            "B",
            "b",
            "(B)",
            "B.",
            "B) cat",
            "Option B",
            "option b",
            "The answer is B",
            "the answer is b.",
            "(b)",
            "b) cat",
            "**B**",
            "B: cat",
            "[B]",
            "B) A cat",
            "Answer: B",
            "I think B",
        ] {
            assert_eq!(one(s), Some('B'), "{s:?}");
        }
        for s in ["A", "(A) a dog", "A) dog", "A.", "Option A", "A is correct"] {
            assert_eq!(one(s), Some('A'), "{s:?}");
        }
        for s in ["A and C", "A or B", "B, C", "B/C", "(B) (C)", "B or C", "A B C D", "ABCD maybe A, B"] {
            assert!(option_letters(s).count() >= 2, "{s:?}");
        }
        for s in ["", "cat", "A dog", "Because", "BCD", "a b c", "I", "x_B"] {
            assert_eq!(option_letters(s).count(), 0, "{s:?}");
        }
    }

    #[test]
    fn leading_options() {
        for (s, want) in [
            ("A. Because B is not valid", 'A'),
            ("(C) The area doubles", 'C'),
            ("B) cat", 'B'),
            ("[d] 5 cm", 'D'),
            ("**A.** since B fails", 'A'),
            ("  E: both are wrong", 'E'),
            ("A) Because B is wrong, A", 'A'),
        ] {
            assert_eq!(leading_option(s), Some(want), "{s:?}");
        }
        for s in [
            "A",
            "A.",
            "A or B",
            "A, B",
            "A. or B",
            "A. B",
            "(A) (B)",
            "A: B",
            "A.B",
            "A. , B",
            "(A)",
            "A. and C",
            "I. think",
            "The answer is A. Because",
            "AB. c",
        ] {
            assert_eq!(leading_option(s), None, "{s:?}");
        }
    }

    #[test]
    fn boxed_runs() {
        assert_eq!(boxed_run("so \\boxed{1},\\boxed{2},\\boxed{3}"), vec!["1", "2", "3"]);
        assert_eq!(boxed_run("$\\boxed{1}$ and $\\boxed{ 2 }$."), vec!["1", "2"]);
        assert_eq!(boxed_run("\\boxed{a}; \\boxed{b} \\quad \\boxed{c}"), vec!["a", "b", "c"]);
        assert_eq!(boxed_run("\\boxed{1} so x = \\boxed{2}"), vec!["2"]);
        assert_eq!(boxed_run("\\boxed{1} band \\boxed{2}"), vec!["2"]);
        assert_eq!(boxed_run("\\boxed{\\boxed{5}}"), vec!["5"]);
        assert_eq!(boxed_run("\\boxed{x}"), vec!["x"]);
        assert!(boxed_run("no box").is_empty());
        let many = "\\boxed{1},".repeat(100) + "\\boxed{2}";
        assert_eq!(boxed_run(&many).len(), MAX_BOXES);
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

    /// `inner` is a sub-slice of `outer` (same memory), so the result borrows the input.
    fn within(outer: &str, inner: &str) -> bool {
        let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
        i >= o && i + inner.len() <= o + outer.len()
    }

    /// The plain form of `yes_no`: split into words, compare each.
    fn reference_yes_no(s: &str) -> Option<bool> {
        let words: Vec<&str> = s.split(|c: char| !c.is_alphanumeric()).collect();
        let yes = words.iter().any(|w| w.eq_ignore_ascii_case("yes"));
        let no = words.iter().any(|w| w.eq_ignore_ascii_case("no"));
        match (yes, no) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    }

    /// The plain form of `option_letters`' scan: every byte is a candidate.
    fn reference_option_letters(s: &str) -> OptionLetters {
        let mut found = OptionLetters::default();
        let whole = strip_decorations(s);
        let mut whole_chars = whole.chars();
        if let (Some(c), None) = (whole_chars.next(), whole_chars.next()) {
            if c.is_ascii_alphabetic() && ('A'..='H').contains(&c.to_ascii_uppercase()) {
                found.add(c);
            }
            return found;
        }
        for i in 0..s.len() {
            if let Some(c) = option_letter_at(s, i) {
                found.add(c);
            }
            if found.count() >= 2 {
                break;
            }
        }
        found
    }

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

    /// The straightforward forms of the scans above (byte loop from the start; four
    /// counting passes): the fast versions must agree with them on every input.
    fn reference_last_boxed(text: &str) -> Option<&str> {
        let bytes = text.as_bytes();
        let (mut depth, mut open_boxes, mut best) = (0usize, Vec::<(usize, usize)>::new(), None::<(usize, usize)>);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if bytes[i..].starts_with(BOXED_OPEN.as_bytes()) => {
                    open_boxes.push((depth, i + BOXED_OPEN.len()));
                    depth += 1;
                    i += BOXED_OPEN.len();
                    continue;
                }
                b'\\' if matches!(bytes.get(i + 1), Some(b'{' | b'}' | b'\\')) => {
                    i += 2;
                    continue;
                }
                b'{' => depth += 1,
                b'}' if depth > 0 => {
                    depth -= 1;
                    if let Some(&(d, start)) = open_boxes.last() {
                        if d == depth {
                            open_boxes.pop();
                            if best.filter(|&(s, _)| s >= start).is_none() {
                                best = Some((start, i));
                            }
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        best.map(|(s, e)| &text[s..e])
    }

    fn reference_format_strict(text: &str) -> bool {
        let s = text.trim();
        let Some(body) = s.strip_prefix(THINK_OPEN).and_then(|r| r.strip_suffix(ANSWER_CLOSE)) else {
            return false;
        };
        let once = |tag: &str| s.matches(tag).count() == 1;
        if !(once(THINK_OPEN) && once(THINK_CLOSE) && once(ANSWER_OPEN) && once(ANSWER_CLOSE)) {
            return false;
        }
        match body.find(THINK_CLOSE) {
            Some(k) => body[k + THINK_CLOSE.len()..].trim_start().starts_with(ANSWER_OPEN),
            None => false,
        }
    }

    fn tagged() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => proptest::sample::select(&["<think>", "</think>", "<answer>", "</answer>", "<", ">", "/",
                "\\boxed{", "\\", "{", "}", "\\{", "\\}", " ", "\n", "a", "5", "é", "<thin", "</answe"][..])
                .prop_map(str::to_owned),
            1 => any::<char>().prop_map(|c| c.to_string()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn fast_trim_and_exact_agree_with_their_plain_forms(
            a in text(),
            b in prop_oneof![text(), Just(String::from("yes")), Just(String::from(" (YES.) "))],
            pad in "[ \t\n\u{a0}\u{2003}\u{3000}]{0,3}",
        ) {
            let padded = format!("{pad}{a}{pad}");
            prop_assert_eq!(trim(&padded), padded.trim());
            prop_assert_eq!(trim(&a), a.trim());
            prop_assert_eq!(strip_decorations(&padded), reference_strip_pairs(&padded, &DECORATION_PAIRS));
            for t in [a.as_str(), &format!("{a}é{b}…ß2x"), &format!("{pad}{a} {b}")] {
                let mut words = Vec::new();
                for_each_word(t, |w| {
                    words.push(w);
                    true
                });
                let plain: Vec<&[u8]> =
                    t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::as_bytes).collect();
                prop_assert_eq!(words, plain);
            }
            for t in [a.as_str(), &format!("(b) {a}{pad}C."), &format!("A {b} or c) é{a}D")] {
                prop_assert_eq!(option_letters(t), reference_option_letters(t), "{:?}", t);
                let ascii: String = t.chars().filter(char::is_ascii).collect();
                prop_assert_eq!(option_letters(&ascii), reference_option_letters(&ascii), "{:?}", ascii);
                if ascii.len() <= 64 {
                    let b = ascii.as_bytes();
                    let alnum = |i: usize| b[i].is_ascii_alphanumeric();
                    let lone = (0..b.len()).filter(|&i| {
                        matches!(b[i] | 0x20, b'a'..=b'h') && !(i > 0 && alnum(i - 1)) && !(i + 1 < b.len() && alnum(i + 1))
                    });
                    prop_assert_eq!(lone_option_bits(b), lone.fold(0u64, |m, i| m | 1 << i), "{:?}", ascii);
                }
            }
            for t in [a.as_str(), &format!("{a} yes{pad}"), &format!("{pad}No.{a}"), &format!("{a}{b}"), &format!("é{a}yes {b} ényes Nob nO")] {
                prop_assert_eq!(yes_no(t), reference_yes_no(t), "{:?}", t);
            }
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
        fn extraction_is_a_trimmed_slice(s in text()) {
            if let Some(a) = extract_answer(&s) {
                prop_assert!(within(&s, a));
                prop_assert_eq!(a, a.trim());
            }
            if let Some(b) = last_boxed(&s) {
                prop_assert!(within(&s, b));
            }
            let _ = (option_letters(&s), yes_no(&s), normalize_exact(&s), strip_quotes(&s));
        }

        /// Both searchers of a word set (Teddy and the automaton) find exactly the words
        /// that splitting the text into words finds, in order.
        #[test]
        fn word_sets_find_the_whole_words(a in text(), b in text(), pad in "[ .]{0,2}") {
            const WORDS: [&str; 6] = ["no", "yes", "seven", "seventeen", "teen", "a"];
            let t = format!("{a}{pad}Seventeen yes{b}NO seventeenth{pad}{a}");
            let ascii: String = t.chars().filter(char::is_ascii).collect();
            for t in [t, ascii] {
                let plain: Vec<usize> = t
                    .split(|c: char| !c.is_alphanumeric())
                    .filter_map(|w| WORDS.iter().position(|p| p.eq_ignore_ascii_case(w)))
                    .collect();
                for set in [WordSet::new(&WORDS), WordSet::without_simd(&WORDS)] {
                    let mut found = Vec::new();
                    set.for_each_in(&t, |k| {
                        found.push(k);
                        true
                    });
                    prop_assert_eq!(&found, &plain, "{:?}", t);
                }
            }
        }

        #[test]
        fn fast_scans_match_reference(s in prop_oneof![tagged(), text()]) {
            prop_assert_eq!(last_boxed(&s), reference_last_boxed(&s));
            prop_assert_eq!(format_strict(&s), reference_format_strict(&s));
            let framed = format!("<think>{s}</think><answer>{s}</answer>");
            prop_assert_eq!(format_strict(&framed), reference_format_strict(&framed));
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

        #[test]
        fn last_answer_block_wins(a in "[^<>]{0,20}", b in "[^<>]{0,20}", noise in "[^<>]{0,20}") {
            let s = format!("<answer>{a}</answer>{noise}<answer>{b}</answer>{noise}");
            prop_assert_eq!(extract_answer(&s), Some(b.trim()));
            // stray closing tags after the block are not part of it
            let stray = format!("<answer>{a}</answer>{noise}</answer>{noise}</answer>");
            prop_assert_eq!(extract_answer(&stray), Some(a.trim()));
        }

        #[test]
        fn boxed_content_round_trips(inner in "[a-z0-9+ ]{0,10}", depth in 0usize..5) {
            let nested = format!("{}{inner}{}", "{".repeat(depth), "}".repeat(depth));
            let s = format!("so \\boxed{{{nested}}} done");
            prop_assert_eq!(extract_answer(&s), Some(nested.trim()));
        }
    }
}
