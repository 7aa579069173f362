//! The fast reader of structured regions: the boxes of the common subset of JSON and Python
//! literals in one pass, without building values; anything else is left to `serde_json`
//! ([`super::structured`]), which is its test oracle.

use super::structured::is_box_key;

/// The fast reader met syntax it leaves to `serde_json` (escapes, unusual numbers or
/// literals, odd commas, deep nesting, maps needing reordering, and every error).
pub(super) struct Unsure;

pub(super) enum Item {
    Number(f64),
    Other,
}

/// The boxes of a structured region read in one pass over its text, without building
/// values: the same result as `collect_structured(parse_literal(src))` on the common
/// subset of JSON and Python literals (strings without escapes or control characters,
/// numbers of JSON's grammar, `True`/`None`/`nan`-like words, tuples, trailing commas),
/// `Unsure` on anything else.
pub(super) struct Reader<'a> {
    src: &'a str,
    at: usize,
    depth: usize,
}

/// Nesting the fast reader takes on (serde_json refuses more than 127 levels).
const MAX_DEPTH: usize = 100;

/// Keys per dict the fast reader takes on (it checks them pairwise for duplicates).
const MAX_KEYS: usize = 8;

impl<'a> Reader<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Reader { src, at: 0, depth: 0 }
    }

    pub(super) fn read(mut self, out: &mut Vec<[f64; 4]>) -> std::result::Result<(), Unsure> {
        self.value(true, out)?;
        self.space();
        if self.at == self.src.len() {
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.at).copied()
    }

    /// JSON's whitespace.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat_any(&mut self, bytes: &[u8]) -> bool {
        let found = self.peek().is_some_and(|b| bytes.contains(&b));
        if found {
            self.at += 1;
        }
        found
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn value(&mut self, bare_ok: bool, out: &mut Vec<[f64; 4]>) -> std::result::Result<Item, Unsure> {
        self.space();
        match self.peek().ok_or(Unsure)? {
            b'[' | b'(' => self.list(bare_ok, out),
            b'{' => self.dict(out),
            q @ (b'"' | b'\'') => self.string(q).map(|_| Item::Other),
            b'-' | b'0'..=b'9' => self.number().map(Item::Number),
            b if b.is_ascii_alphabetic() => self.word(),
            _ => Err(Unsure),
        }
    }

    fn enter(&mut self) -> std::result::Result<(), Unsure> {
        self.depth += 1;
        self.at += 1; // the opener
        if self.depth > MAX_DEPTH {
            return Err(Unsure);
        }
        self.space();
        Ok(())
    }

    /// After an item: `true` at the container's end (which is eaten, a trailing comma
    /// before it allowed as in Python), `false` after a comma.
    fn end_of_items(&mut self, closers: &[u8]) -> std::result::Result<bool, Unsure> {
        self.space();
        if self.eat_any(b",") {
            self.space();
            Ok(self.eat_any(closers))
        } else if self.eat_any(closers) {
            Ok(true)
        } else {
            Err(Unsure)
        }
    }

    /// A list or tuple (`python_to_json` turns both brackets into JSON's).
    fn list(&mut self, bare_ok: bool, out: &mut Vec<[f64; 4]>) -> std::result::Result<Item, Unsure> {
        const CLOSERS: &[u8] = b"])";
        self.enter()?;
        let mut numbers = [0.0; 4];
        let (mut len, mut all_numbers) = (0, true);
        if !self.eat_any(CLOSERS) {
            loop {
                match self.value(bare_ok, out)? {
                    Item::Number(v) => {
                        if let Some(slot) = numbers.get_mut(len) {
                            *slot = v;
                        }
                    }
                    Item::Other => all_numbers = false,
                }
                len += 1;
                if self.end_of_items(CLOSERS)? {
                    break;
                }
            }
        }
        self.depth -= 1;
        // Four numbers are a box, and their items pushed nothing.
        if len == 4 && all_numbers && bare_ok {
            out.push(numbers);
        }
        Ok(Item::Other)
    }

    fn dict(&mut self, out: &mut Vec<[f64; 4]>) -> std::result::Result<Item, Unsure> {
        self.enter()?;
        // Each key, and whether its value pushed boxes.
        let mut entries = [("", false); MAX_KEYS];
        let mut len = 0;
        if !self.eat_any(b"}") {
            loop {
                self.space();
                let key = match self.peek() {
                    Some(q @ (b'"' | b'\'')) => self.string(q)?,
                    _ => return Err(Unsure),
                };
                self.space();
                if !self.eat_any(b":") {
                    return Err(Unsure);
                }
                let before = out.len();
                self.value(is_box_key(key), out)?;
                *entries.get_mut(len).ok_or(Unsure)? = (key, out.len() > before);
                len += 1;
                if self.end_of_items(b"}")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        // serde_json's map visits keys in sorted order and keeps the last of equal keys;
        // the boxes pushed in text order agree when the keys with boxes are in that order
        // and unique.
        let entries = &entries[..len];
        let mut last: Option<&str> = None;
        for (i, &(key, has_boxes)) in entries.iter().enumerate() {
            if !has_boxes {
                continue;
            }
            let repeated = entries.iter().enumerate().any(|(j, &(k, _))| j != i && k == key);
            if repeated || last.is_some_and(|l| l >= key) {
                return Err(Unsure);
            }
            last = Some(key);
        }
        Ok(Item::Other)
    }

    /// A quoted string without escapes or control characters; its text.
    fn string(&mut self, quote: u8) -> std::result::Result<&'a str, Unsure> {
        let start = self.at + 1;
        let rest = &self.src.as_bytes()[start..];
        let len = rest.iter().position(|&b| b == quote || b == b'\\' || b < 0x20).ok_or(Unsure)?;
        if rest[len] != quote {
            return Err(Unsure);
        }
        self.at = start + len + 1;
        // Between ASCII quotes: on char boundaries.
        self.src.get(start..start + len).ok_or(Unsure)
    }

    /// A number of JSON's grammar, with the value serde_json gives it.
    fn number(&mut self) -> std::result::Result<f64, Unsure> {
        let start = self.at;
        let negative = self.eat_any(b"-");
        let int_start = self.at;
        let int = self.digits();
        if int == 0 || (int > 1 && self.src.as_bytes()[int_start] == b'0') {
            return Err(Unsure);
        }
        let mut frac = 0;
        if self.eat_any(b".") {
            frac = self.digits();
            if frac == 0 {
                return Err(Unsure);
            }
        }
        let exponent = self.eat_any(b"eE");
        if exponent {
            self.eat_any(b"+-");
            if self.digits() == 0 {
                return Err(Unsure);
            }
        }
        if !exponent && int + frac <= 18 {
            // No u64 overflow; serde_json computes `significand as f64 / 10^frac`, where
            // both are exact, then applies the sign.
            let significand = self.src.as_bytes()[int_start..self.at]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            let v = significand as f64 / POW10[frac];
            return Ok(if negative { -v } else { v });
        }
        let tok = self.src.get(start..self.at).ok_or(Unsure)?;
        serde_json::from_str(tok).map_err(|_| Unsure)
    }

    /// Python's and JSON's constants (`nan` and `inf` are null); other words are names.
    fn word(&mut self) -> std::result::Result<Item, Unsure> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.at += 1;
        }
        match self.src.get(start..self.at).ok_or(Unsure)? {
            "True" | "true" | "False" | "false" | "None" | "null" | "nan" | "NaN" | "inf" | "Infinity" => {
                Ok(Item::Other)
            }
            _ => Err(Unsure),
        }
    }
}

/// Powers of ten up to 10^18, each exact in f64.
const POW10: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::reference;
    use crate::boxes::reference::{literal, same_boxes};
    use crate::boxes::structured::structured_boxes;
    use proptest::prelude::*;

    #[test]
    fn fast_reader_reads_the_common_forms() {
        for src in [
            r#"[{"bbox_2d": [606, 282.00, 1018, 609.00], "label": "cup"}, {"bbox_2d": [21, 288, 1016.0, 619.00]}]"#,
            "[{'bbox': [nan, 10, 50, 90], 'label': 'dog'}, {'bbox': (241, 120.45, 522, 431),},]",
            "{'Position': [254, 303, 291, 365], 'Confidence': 1, 'ok': True, 'n': None}",
        ] {
            let mut raws = Vec::new();
            assert!(Reader::new(src).read(&mut raws).is_ok(), "{src}");
            assert_eq!(raws, reference::structured(src), "{src}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn fast_reader_agrees_with_serde(src in literal()) {
            let mut got = Vec::new();
            structured_boxes(&src, &mut got);
            let want = reference::structured(&src);
            prop_assert!(same_boxes(&got, &want), "{src:?}: {got:?} != {want:?}");
        }
    }
}
