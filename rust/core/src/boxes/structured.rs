//! Structured values: the outermost bracketed regions of a text, each read as a JSON or
//! Python-literal value (Python rewritten to JSON in one linear pass, never evaluated) and
//! searched for dicts with a box key. `serde_json` is the rule; most regions are read by the
//! fast reader ([`super::reader`]) instead, which must give the same boxes.

use super::reader::Reader;
use serde_json::Value;

/// The outermost `[...]` / `{...}` regions of `bytes`, in order, as byte ranges. One pass
/// with a stack; a closer that does not match the innermost opener is ignored, so an
/// unclosed opener does not hide the well-formed regions inside it.
pub(super) fn outer_regions(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut stack: Vec<(u8, usize)> = Vec::new();
    // Closed pairs not (yet) inside a later one, in order of their start: a pair closing
    // now contains exactly the kept pairs that start after it.
    let mut outer: Vec<(usize, usize)> = Vec::new();
    for i in brackets(bytes) {
        let b = bytes[i];
        let want = match b {
            b'[' | b'{' => {
                stack.push((b, i));
                continue;
            }
            b']' => b'[',
            b'}' => b'{',
            _ => continue,
        };
        if let Some(&(open, start)) = stack.last() {
            if open == want {
                stack.pop();
                while outer.last().is_some_and(|&(s, _)| s > start) {
                    outer.pop();
                }
                outer.push((start, i + 1));
            }
        }
    }
    outer
}

/// The positions of `[`, `]`, `{` and `}` in `bytes`, in order (two vectorised searches
/// merged, much faster than a byte loop over text that is mostly prose).
fn brackets(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut square = memchr::memchr2_iter(b'[', b']', bytes).peekable();
    let mut curly = memchr::memchr2_iter(b'{', b'}', bytes).peekable();
    std::iter::from_fn(move || match (square.peek(), curly.peek()) {
        (Some(s), Some(c)) if c < s => curly.next(),
        (Some(_), _) => square.next(),
        (None, _) => curly.next(),
    })
}

/// The boxes of one structured region (see [`collect_structured`]); `[]` when it does not
/// parse. Most regions are read directly; the rest go through `serde_json`.
pub(super) fn structured_boxes(src: &str, out: &mut Vec<[f64; 4]>) {
    if Reader::new(src).read(out).is_err() {
        out.clear();
        if let Some(value) = parse_literal(src) {
            collect_structured(&value, true, out);
        }
    }
}

/// Parse a JSON or Python-literal value. Python's quotes, `True`/`False`/`None`, tuples and
/// trailing commas are rewritten to JSON in one pass; `nan`/`inf` become `null` (and so
/// never a box). `None` when the result is not valid JSON.
pub(super) fn parse_literal(src: &str) -> Option<Value> {
    // Most model JSON has no single quote: try it as it is first.
    if !src.as_bytes().contains(&b'\'') {
        if let Ok(v) = serde_json::from_str(src) {
            return Some(v);
        }
    }
    serde_json::from_slice(&python_to_json(src.as_bytes())?).ok()
}

/// Byte-wise: every syntax character is ASCII and UTF-8 continuation bytes never are, so
/// multi-byte characters are copied through untouched. Valid JSON comes out unchanged.
fn python_to_json(src: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(src.len() + 8);
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        match c {
            b'\'' | b'"' => {
                // A string literal: copy it as a double-quoted JSON string.
                out.push(b'"');
                i += 1;
                let mut closed = false;
                while i < src.len() {
                    let d = src[i];
                    if d == b'\\' {
                        let e = *src.get(i + 1)?;
                        match e {
                            b'\'' => out.push(b'\''),
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u' => {
                                out.push(b'\\');
                                out.push(e);
                            }
                            // Python escapes JSON lacks: keep the character itself.
                            _ => out.push(e),
                        }
                        i += 2;
                        continue;
                    }
                    if d == c {
                        closed = true;
                        i += 1;
                        break;
                    }
                    if d == b'"' {
                        out.extend_from_slice(b"\\\"");
                    } else {
                        out.push(d);
                    }
                    i += 1;
                }
                if !closed {
                    return None;
                }
                out.push(b'"');
                continue;
            }
            b'(' => out.push(b'['),
            b')' => out.push(b']'),
            b',' => {
                // Python allows a trailing comma before a closer; JSON does not.
                let mut j = i + 1;
                while j < src.len() && src[j].is_ascii_whitespace() {
                    j += 1;
                }
                if !matches!(src.get(j), Some(b']' | b'}' | b')')) {
                    out.push(b',');
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < src.len() && (src[i].is_ascii_alphanumeric() || src[i] == b'_') {
                    i += 1;
                }
                match &src[start..i] {
                    b"True" | b"true" => out.extend_from_slice(b"true"),
                    b"False" | b"false" => out.extend_from_slice(b"false"),
                    b"None" | b"null" | b"nan" | b"NaN" | b"inf" | b"Infinity" => {
                        // `-inf` would leave a stray sign: drop it.
                        if out.last() == Some(&b'-') {
                            out.pop();
                        }
                        out.extend_from_slice(b"null")
                    }
                    word => out.extend_from_slice(word),
                }
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

pub(super) fn is_box_key(key: &str) -> bool {
    ["bbox", "bbox_2d", "position", "box"].iter().any(|k| key.eq_ignore_ascii_case(k))
}

/// Four numbers, when `value` is a list of exactly four numbers.
fn four_numbers(value: &Value) -> Option<[f64; 4]> {
    match value.as_array()?.as_slice() {
        [a, b, c, d] => Some([a.as_f64()?, b.as_f64()?, c.as_f64()?, d.as_f64()?]),
        _ => None,
    }
}

/// Boxes of a structured value, in order: the value of a box key (one box, or a list of
/// boxes), and bare four-number lists standing as list items or as the whole value. A
/// four-number list under another key (`"keypoints": [...]`) is not a box.
pub(super) fn collect_structured(value: &Value, bare_ok: bool, out: &mut Vec<[f64; 4]>) {
    match value {
        Value::Array(items) => {
            if let Some(raw) = four_numbers(value) {
                if bare_ok {
                    out.push(raw);
                }
                return;
            }
            for item in items {
                collect_structured(item, bare_ok, out);
            }
        }
        Value::Object(map) => {
            for (key, v) in map {
                if is_box_key(key) {
                    collect_structured(v, true, out);
                } else {
                    collect_structured(v, false, out);
                }
            }
        }
        _ => {}
    }
}
