//! Answer blocks and format: the last `<answer>…</answer>` block, the last balanced
//! `\boxed{…}` and the boxes an answer is split over, and the strict and lenient format checks.
//! Each fast scan (SIMD search for `<` or `\`, jumps between the bytes that matter) has its
//! plain byte-by-byte form in the tests below, which it must equal on every input.

use super::trim;
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

/// Lenient format: an `<answer>…</answer>` block is present.
pub fn format_lenient(text: &str) -> bool {
    answer_block(text).is_some()
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
    use crate::testing::text;
    use crate::text::{normalize_exact, option_letters, strip_quotes, yes_no};
    use proptest::prelude::*;

    /// `inner` is a sub-slice of `outer` (same memory), so the result borrows the input.
    fn within(outer: &str, inner: &str) -> bool {
        let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
        i >= o && i + inner.len() <= o + outer.len()
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
        fn fast_scans_match_reference(s in prop_oneof![tagged(), text()]) {
            prop_assert_eq!(last_boxed(&s), reference_last_boxed(&s));
            prop_assert_eq!(format_strict(&s), reference_format_strict(&s));
            let framed = format!("<think>{s}</think><answer>{s}</answer>");
            prop_assert_eq!(format_strict(&framed), reference_format_strict(&framed));
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
