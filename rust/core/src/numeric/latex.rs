//! LaTeX clean-up before numbers are read: math delimiters, wrappers such as `\text{…}` and
//! `\boxed{…}`, layout commands, `\frac`/`\sqrt` shorthand. [`clean_latex`] builds the clean
//! text; [`clean_latex_cow`] skips building it when the text has no LaTeX (the usual case).

use std::borrow::Cow;

/// Commands whose braces are dropped and content kept (`\text{ cm}` -> ` cm`).
pub(super) const WRAPPERS: &[&str] = &[
    "boxed", "fbox", "text", "textbf", "textit", "textrm", "texttt", "textnormal", "mathrm", "mathbf", "mathit",
    "mathsf", "mathtt", "mbox", "hbox", "bm", "boldsymbol",
];

/// Commands that only affect layout.
pub(super) const LAYOUT: &[&str] =
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

/// Whether the clean-up may rewrite text holding these bytes: `\`, `$` or a character
/// with lead byte 0xC2 (`°` and its neighbours). Without them it only trims.
pub(super) fn has_latex(bytes: &[u8]) -> bool {
    if bytes.len() < 32 {
        return bytes.iter().any(|&c| matches!(c, b'\\' | b'$' | 0xC2)); // a unit, say
    }
    memchr::memchr3(b'\\', b'$', 0xC2, bytes).is_some()
}

/// [`clean_latex`] without a copy when there is nothing to rewrite: without `\\` there
/// are no commands (braces are copied as they are), without `$` no delimiters, and
/// without `°` (0xC2 is its lead byte) no degrees, so the pass would only trim.
pub(super) fn clean_latex_cow(text: &str) -> Cow<'_, str> {
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
