//! Answer extraction and format checks on untrusted model output.
//!
//! Every function here is total and linear in its input: plain substring search
//! (`str::find`/`rfind`, two-way search) and single forward scans, no backtracking.

const ANSWER_OPEN: &str = "<answer>";
const ANSWER_CLOSE: &str = "</answer>";
const BOXED_OPEN: &str = "\\boxed{";

/// The trimmed content of the last `<answer>…</answer>` block (multi-line); else the
/// trimmed content of the last `\boxed{…}` whose braces balance; else `None`.
///
/// "Last block" = the last `</answer>` and the nearest `<answer>` before it.
pub fn extract_answer(text: &str) -> Option<&str> {
    answer_block(text).or_else(|| last_boxed(text)).map(str::trim)
}

/// Content (untrimmed) of the last `<answer>…</answer>` block.
pub fn answer_block(text: &str) -> Option<&str> {
    let close = text.rfind(ANSWER_CLOSE)?;
    let open = text[..close].rfind(ANSWER_OPEN)?;
    Some(&text[open + ANSWER_OPEN.len()..close])
}

/// Content (untrimmed) of the balanced `\boxed{…}` that starts last.
///
/// One forward scan with a brace depth counter and a stack of the open `\boxed{`
/// groups, so nested or unclosed groups never cause rescans. `\{` and `\}` are
/// LaTeX literal braces and do not count.
pub fn last_boxed(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut depth: usize = 0;
    // (depth before the group's `{`, byte index where its content starts)
    let mut open_boxes: Vec<(usize, usize)> = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < bytes.len() {
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
            b'}' if depth > 0 => {
                depth -= 1;
                if let Some(&(d, start)) = open_boxes.last() {
                    if d == depth {
                        open_boxes.pop();
                        if best.map_or(true, |(s, _)| start > s) {
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
}
