//! The plain implementation the hand-written matchers replaced, kept as their test oracle:
//! regexes for the plain forms and the box key, `serde_json` values for every structured
//! region. Also the strategies that generate box texts for the property tests.

use super::scan::is_number_byte;
use super::structured::{collect_structured, outer_regions, parse_literal};
use super::{BBox, Frame};
use proptest::prelude::*;
use regex::Regex;
use std::sync::LazyLock;

const NUM: &str = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?";

static PLAIN: LazyLock<Regex> = LazyLock::new(|| {
    let list = format!(r"\[\s*{NUM}\s*,\s*{NUM}\s*,\s*{NUM}\s*,\s*{NUM}\s*\]");
    let corners = format!(r"\(\s*{NUM}\s*,\s*{NUM}\s*\)\s*,?\s*\(\s*{NUM}\s*,\s*{NUM}\s*\)");
    let tag = format!(r"<box>\s*{corners}\s*</box>");
    let qwen = format!(r"<\|box_start\|>\s*{corners}\s*<\|box_end\|>");
    Regex::new(&format!("(?-u){list}|{tag}|{qwen}")).unwrap()
});

pub static BOX_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)["'](?:bbox|bbox_2d|position|box)["']\s*:"#).unwrap());

fn scan_plain(text: &str, frame: &Frame, limit: usize, out: &mut Vec<BBox>) {
    for m in PLAIN.find_iter(text) {
        if out.len() >= limit {
            return;
        }
        if let Some(b) = four_numbers_in(m.as_str()).and_then(|raw| frame.to_pixels(raw)) {
            out.push(b);
        }
    }
}

fn four_numbers_in(span: &str) -> Option<[f64; 4]> {
    let bytes = span.as_bytes();
    let mut raw = [0.0; 4];
    let (mut k, mut i) = (0, 0);
    while k < 4 && i < bytes.len() {
        if bytes[i].is_ascii_digit() || matches!(bytes[i], b'.' | b'+' | b'-') {
            let start = i;
            while i < bytes.len() && is_number_byte(bytes[i]) {
                i += 1;
            }
            raw[k] = span.get(start..i)?.parse().ok()?;
            k += 1;
        } else {
            i += 1;
        }
    }
    (k == 4).then_some(raw)
}

pub fn structured(src: &str) -> Vec<[f64; 4]> {
    let mut raws = Vec::new();
    if let Some(value) = parse_literal(src) {
        collect_structured(&value, true, &mut raws);
    }
    raws
}

pub fn parse_boxes_upto(text: &str, frame: &Frame, limit: usize) -> Vec<BBox> {
    let mut out = Vec::new();
    if !BOX_KEY.is_match(text) {
        scan_plain(text, frame, limit, &mut out);
        return out;
    }
    let mut cursor = 0;
    for (start, end) in outer_regions(text.as_bytes()) {
        let region = &text[start..end];
        if !BOX_KEY.is_match(region) {
            continue;
        }
        let raws = structured(region);
        if raws.is_empty() {
            continue;
        }
        scan_plain(&text[cursor..start], frame, limit, &mut out);
        for raw in raws {
            if out.len() >= limit {
                return out;
            }
            out.extend(frame.to_pixels(raw));
        }
        cursor = end;
    }
    scan_plain(&text[cursor..], frame, limit, &mut out);
    out
}

const TOKENS: &[&str] = &[
    "[", "[", "]", "]", "{", "}", "(", ")", ",", ",", ", ", ":", ": ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c",
    "\u{a0}", "'", "\"", "\"", "\\", "\\\"", "bbox", "BBox", "bbox_2d", "Position", "poſition", "box", "'bbox': ",
    "\"bbox_2d\": ", "'box'", "label", "cat", "True", "None", "nan", "-inf", "Infinity", "null", "true", "0", "1", "1",
    "12", "-3", "4.5", "0.25", "1e3", "1E+2", ".5", "5.", "+7", "007", "-0", "1e400", "12345678901234567890",
    "0.1234567890123456789", "<box>", "</box>", "<|box_start|>", "<|box_end|>", "x", "é", "_", "-", ".", "e",
];

pub(super) fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

/// The plain forms, with every kind of number and space, and some near misses.
pub(super) fn plain_forms() -> impl Strategy<Value = String> {
    let number = proptest::sample::select(
        &["1", "20", "-3", "4.5", "+.5e-3", "1.e5", "5.", "-.5", "1E+2", "007", "1e", ".", "e5", "1-2", "+", "1..2"][..],
    );
    let space = proptest::sample::select(&["", "", " ", "\x0b", "\x0c", "\t", "\n", "\u{a0}", "x"][..]);
    let one = (0usize..4, proptest::collection::vec(number, 4), proptest::collection::vec(space, 12)).prop_map(
        |(form, n, s)| match form {
            0 => {
                format!("[{}{}{},{}{}{},{}{},{}{}{}]", s[0], n[0], s[1], s[2], n[1], s[3], n[2], s[4], n[3], s[5], s[6])
            }
            1 => format!(
                "<box>{}({},{}{}){}{}({},{}){}</box>",
                s[0],
                n[0],
                s[1],
                n[1],
                s[2],
                [",", ""][s[3].len() % 2],
                n[2],
                n[3],
                s[4]
            ),
            2 => format!(
                "<|box_start|>({}{},{}){}({},{}{}){}<|box_end|>",
                s[0], n[0], n[1], s[1], n[2], s[2], n[3], s[3]
            ),
            _ => format!("[[{},{},{},{}]", n[0], n[1], n[2], n[3]),
        },
    );
    proptest::collection::vec(one, 1..4).prop_map(|forms| forms.join(" ["))
}

/// Python and JSON literals, well-formed or nearly: lists, tuples, dicts (keys repeated
/// and unsorted, box keys among them), odd numbers and words, trailing commas.
pub(super) fn literal() -> impl Strategy<Value = String> {
    let plain = proptest::sample::select(
        &[
            "1", "20", "-3", "4.5", "0.125", "1e2", "2E-1", "0", "-0", "98765432109876543210",
            "3.14159265358979323846", "None", "True", "nan", "'a'", "\"b\"", "\"q'\"", "'a\"b'",
        ][..],
    );
    let odd = proptest::sample::select(
        &["007", "1.", ".5", "+1", "1e400", "-inf", "'it''s'", "'\\n'", "\"\\u0041\"", "x", "\u{1}", "\u{c}"][..],
    );
    let leaf = prop_oneof![4 => plain, 1 => odd].prop_map(str::to_string);
    let number = proptest::sample::select(&["1", "20", "-3", "4.5", "0.125", "1e2", "-0", "1.", "nan", "None"][..]);
    let four = (proptest::collection::vec(number, 4..=4), any::<bool>()).prop_map(|(n, tuple)| {
        if tuple {
            format!("({})", n.join(", "))
        } else {
            format!("[{}]", n.join(","))
        }
    });
    let leaf = prop_oneof![leaf, four];
    leaf.prop_recursive(6, 64, 6, |inner| {
        let key = proptest::sample::select(
            &["'bbox'", "\"bbox\"", "'Position'", "'box'", "\"bbox_2d\"", "'label'", "'a'", "\"z\"", "'BOX'"][..],
        );
        let sep = proptest::sample::select(&[",", ", ", " ,", ",\n", ", ,"][..]);
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 0..6), sep.clone(), any::<bool>(), any::<bool>()).prop_map(
                |(items, sep, tuple, trailing)| {
                    let (open, close) = if tuple { ("(", ")") } else { ("[", "]") };
                    format!("{open}{}{}{close}", items.join(sep), if trailing { "," } else { "" })
                }
            ),
            (proptest::collection::vec((key, inner), 0..5), sep, any::<bool>()).prop_map(|(entries, sep, trailing)| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}{}}}", body.join(sep), if trailing { "," } else { "" })
            }),
        ]
    })
}

pub(super) fn same_boxes(a: &[[f64; 4]], b: &[[f64; 4]]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits()))
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::boxes::scan::has_box_key;
    use crate::boxes::{Coords, Frame};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn same_boxes_as_the_regex_implementation(
            text in prop_oneof![
                soup(),
                ".{0,200}",
                plain_forms(),
                literal().prop_map(|l| format!("a {l} [1, 2, 3, 4] b")),
            ],
            limit in prop_oneof![Just(1usize), Just(2), Just(usize::MAX)],
        ) {
            for frame in [Frame::absolute(None).unwrap(), Frame::new(Coords::Norm1000, Some((640., 480.))).unwrap()] {
                let got = crate::boxes::parse_boxes_upto(&text, &frame, limit);
                let want = parse_boxes_upto(&text, &frame, limit);
                prop_assert!(same_boxes(&got, &want), "{text:?}: {got:?} != {want:?}");
            }
        }

        #[test]
        fn box_key_as_the_regex(text in prop_oneof![soup(), ".{0,100}"]) {
            prop_assert_eq!(has_box_key(&text), BOX_KEY.is_match(&text), "{:?}", text);
        }
    }
}
