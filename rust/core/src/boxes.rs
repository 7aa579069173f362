//! Bounding boxes in model output: every box in a text, in order, as absolute pixels.
//!
//! Forms read (all may appear in one text, any number of times):
//! - a bare list `[x1, y1, x2, y2]`;
//! - JSON or Python-literal values whose dicts carry a `bbox`, `bbox_2d`, `Position` or `box`
//!   key (e.g. Visual-RFT's `[{'Position': [x1, y1, x2, y2], 'Confidence': 0.9}, ...]`);
//! - `<box>(x1,y1),(x2,y2)</box>` and Qwen's `<|box_start|>(x1,y1),(x2,y2)<|box_end|>`.
//!
//! Parsing is linear in the text: one pass pairs brackets, each outermost bracketed region
//! that names a box key is read once (directly, or with `serde_json` after a linear rewrite
//! of Python literals to JSON; nothing is ever evaluated), and the rest is scanned once for
//! the plain forms.

use serde_json::Value;

use crate::error::{Error, Result};

/// An axis-aligned box `[x1, y1, x2, y2]` in absolute pixels, `x1 <= x2`, `y1 <= y2`.
pub type BBox = [f64; 4];

/// The coordinate convention of the numbers a model writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coords {
    /// Pixels.
    Absolute,
    /// Thousandths of the image size (Qwen2-VL).
    Norm1000,
    /// Fractions of the image size.
    Norm1,
}

impl Coords {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "absolute" => Ok(Coords::Absolute),
            "norm1000" => Ok(Coords::Norm1000),
            "norm1" => Ok(Coords::Norm1),
            _ => Err(Error::invalid("coords", name, "one of \"absolute\", \"norm1000\", \"norm1\"")),
        }
    }

    fn scale(self) -> Option<f64> {
        match self {
            Coords::Absolute => None,
            Coords::Norm1000 => Some(1000.0),
            Coords::Norm1 => Some(1.0),
        }
    }
}

/// A validated coordinate frame: how to turn the numbers of one text into pixel boxes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    coords: Coords,
    image_size: Option<(f64, f64)>,
}

impl Frame {
    /// Normalised coordinates need the image size `(w, h)`; a given size must be finite and > 0.
    pub fn new(coords: Coords, image_size: Option<(f64, f64)>) -> Result<Self> {
        if let Some((w, h)) = image_size {
            if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
                return Err(Error::invalid("image_size", (w, h), "a finite (width, height) > 0"));
            }
        } else if coords != Coords::Absolute {
            return Err(Error::invalid(
                "image_size",
                "None",
                "an image size (width, height) for normalised coords (norm1000 or norm1)",
            ));
        }
        Ok(Frame { coords, image_size })
    }

    pub fn absolute(image_size: Option<(f64, f64)>) -> Result<Self> {
        Frame::new(Coords::Absolute, image_size)
    }

    /// The pixel box of four raw numbers: scaled, corners ordered, clipped to the image;
    /// `None` when a number is not finite or the box has no area.
    pub fn to_pixels(&self, raw: [f64; 4]) -> Option<BBox> {
        let [mut x1, mut y1, mut x2, mut y2] = raw;
        if let (Some(unit), Some((w, h))) = (self.coords.scale(), self.image_size) {
            x1 = x1 / unit * w;
            x2 = x2 / unit * w;
            y1 = y1 / unit * h;
            y2 = y2 / unit * h;
        }
        if !(x1.is_finite() && y1.is_finite() && x2.is_finite() && y2.is_finite()) {
            return None;
        }
        let (mut x1, mut x2) = (x1.min(x2), x1.max(x2));
        let (mut y1, mut y2) = (y1.min(y2), y1.max(y2));
        if let Some((w, h)) = self.image_size {
            x1 = x1.clamp(0.0, w);
            x2 = x2.clamp(0.0, w);
            y1 = y1.clamp(0.0, h);
            y2 = y2.clamp(0.0, h);
        }
        // Area test on the product, so slivers whose area underflows to 0 are dropped too.
        if (x2 - x1) * (y2 - y1) > 0.0 {
            Some([x1, y1, x2, y2])
        } else {
            None
        }
    }
}

/// Every box of `text`, in order, in pixels of `frame`. Never panics; garbage gives `[]`.
pub fn parse_boxes_in(text: &str, frame: &Frame) -> Vec<BBox> {
    parse_boxes_upto(text, frame, usize::MAX)
}

/// The first `limit` boxes of `text` (all of [`parse_boxes_in`] when `limit` is large);
/// reading stops once they are found.
pub fn parse_boxes_upto(text: &str, frame: &Frame, limit: usize) -> Vec<BBox> {
    let mut out = Vec::new();
    if !has_box_key(text) {
        // No dict names a box: only the plain forms can be present.
        scan_plain(text, frame, limit, &mut out);
        return out;
    }
    let mut cursor = 0;
    let mut raws = Vec::new();
    for (start, end) in outer_regions(text.as_bytes()) {
        let region = &text[start..end];
        if !has_box_key(region) {
            continue;
        }
        raws.clear();
        structured_boxes(region, &mut raws);
        if raws.is_empty() {
            // Unparsable, or no box under a box key: let the plain scan read the region.
            continue;
        }
        scan_plain(&text[cursor..start], frame, limit, &mut out);
        for &raw in &raws {
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

/// [`parse_boxes_in`] with the frame given by name: `coords` is `absolute`, `norm1000` or
/// `norm1`; normalised coords need `image_size = (w, h)`.
pub fn parse_boxes(text: &str, coords: &str, image_size: Option<(f64, f64)>) -> Result<Vec<BBox>> {
    let frame = Frame::new(Coords::parse(coords)?, image_size)?;
    Ok(parse_boxes_in(text, &frame))
}

/// One frame per item (`image_sizes`: one size or `None` per item, `items` names the
/// items in errors); an invalid size is reported as `image_sizes[i]`.
pub fn frames(coords: Coords, image_sizes: Option<&[Option<(f64, f64)>]>, items: &str, n: usize) -> Result<Vec<Frame>> {
    if let Some(sizes) = image_sizes {
        if sizes.len() != n {
            return Err(Error::length_mismatch(items, n, "image_sizes", sizes.len()));
        }
    }
    (0..n)
        .map(|i| {
            Frame::new(coords, image_sizes.and_then(|s| s[i])).map_err(|e| match e {
                Error::InvalidArgument { value, expected, .. } => {
                    Error::InvalidArgument { name: format!("image_sizes[{i}]"), value, expected }
                }
                other => other,
            })
        })
        .collect()
}

/// [`parse_boxes_in`] of each text, in order, over threads.
pub fn parse_boxes_batch<S: AsRef<str> + Sync>(
    texts: &[S],
    coords: &str,
    image_sizes: Option<&[Option<(f64, f64)>]>,
) -> Result<Vec<Vec<BBox>>> {
    let frames = frames(Coords::parse(coords)?, image_sizes, "texts", texts.len())?;
    Ok(crate::batch::map_indices(texts.len(), |i| parse_boxes_in(texts[i].as_ref(), &frames[i])))
}

// ---------------------------------------------------------------------------------------
// The plain scan: bare lists and the two tag forms.
//
// A hand-written matcher for what the regex
//     (?-u)\[\s*N\s*,\s*N\s*,\s*N\s*,\s*N\s*\]|<box>\s*C\s*</box>|<\|box_start\|>\s*C\s*<\|box_end\|>
// with C = `\(\s*N\s*,\s*N\s*\)\s*,?\s*\(\s*N\s*,\s*N\s*\)` finds (`find_iter`, leftmost
// first), N being a number `[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?`.
// Every match starts at a `[` or a `<`, and the pattern has a single way to match from
// there, so trying each such position in order and resuming after a match gives the same
// matches. A number is always followed by a byte that cannot be part of one, so it is the
// maximal run of number bytes.

fn scan_plain(text: &str, frame: &Frame, limit: usize, out: &mut Vec<BBox>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while out.len() < limit {
        let Some(found) = memchr::memchr2(b'[', b'<', &bytes[at..]) else { return };
        let mut cur = Cursor { text, at: at + found };
        match cur.plain_box() {
            Some(numbers) => {
                out.extend(frame.to_pixels(numbers));
                at = cur.at;
            }
            None => at += found + 1,
        }
    }
}

/// `\s` of an ASCII-mode regex: `u8::is_ascii_whitespace` without the vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

fn is_number_byte(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
}

/// A position in a text, for the plain-form matcher.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, lit: &[u8]) -> bool {
        let found = self.text.as_bytes()[self.at..].starts_with(lit);
        if found {
            self.at += lit.len();
        }
        found
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
    }

    fn space(&mut self) {
        self.skip_while(is_space);
    }

    /// A number `[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?` that is a
    /// maximal run of number bytes, spaces before it skipped; its value is `str::parse`'s
    /// (which reads every such number), integers of up to 15 digits being read directly.
    fn number(&mut self) -> Option<f64> {
        self.space();
        let bytes = self.text.as_bytes();
        let digits_from = |i: usize| bytes.get(i..).map_or(0, |s| s.iter().take_while(|b| b.is_ascii_digit()).count());
        let start = self.at;
        let negative = bytes.get(start) == Some(&b'-');
        let mut i = start + usize::from(matches!(bytes.get(start), Some(b'+' | b'-')));
        let (mut int, mut int_value) = (0, 0u64);
        while let Some(&d) = bytes.get(i + int).filter(|b| b.is_ascii_digit()) {
            int_value = int_value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            int += 1;
        }
        i += int;
        let mut simple = int <= 15;
        let mut frac = 0;
        if bytes.get(i) == Some(&b'.') {
            simple = false;
            frac = digits_from(i + 1);
            i += 1 + frac;
        }
        if int + frac == 0 {
            return None;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let j = i + 1 + usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
            let exp = digits_from(j);
            if exp > 0 {
                simple = false;
                i = j + exp;
            }
        }
        if bytes.get(i).is_some_and(|&b| is_number_byte(b)) {
            return None;
        }
        self.at = i;
        if simple {
            let v = int_value as f64;
            return Some(if negative { -v } else { v });
        }
        // Never NaN in practice; a NaN would be dropped as a box, like a failed parse.
        Some(self.text.get(start..i).and_then(|t| t.parse().ok()).unwrap_or(f64::NAN))
    }

    /// `N , N` (spaces allowed around each part).
    fn two_numbers(&mut self) -> Option<[f64; 2]> {
        let a = self.number()?;
        self.space();
        if !self.eat(b",") {
            return None;
        }
        Some([a, self.number()?])
    }

    /// `( N , N )`, spaces before it skipped.
    fn corner(&mut self) -> Option<[f64; 2]> {
        self.space();
        if !self.eat(b"(") {
            return None;
        }
        let xy = self.two_numbers()?;
        self.space();
        self.eat(b")").then_some(xy)
    }

    /// The four numbers of a plain form starting at the cursor, which is left after it;
    /// `None` when no form starts here.
    fn plain_box(&mut self) -> Option<[f64; 4]> {
        if self.eat(b"[") {
            let [a, b] = self.two_numbers()?;
            self.space();
            if !self.eat(b",") {
                return None;
            }
            let [c, d] = self.two_numbers()?;
            self.space();
            return self.eat(b"]").then_some([a, b, c, d]);
        }
        let close: &[u8] = if self.eat(b"<box>") {
            b"</box>"
        } else if self.eat(b"<|box_start|>") {
            b"<|box_end|>"
        } else {
            return None;
        };
        let [a, b] = self.corner()?;
        self.space();
        self.eat(b",");
        let [c, d] = self.corner()?;
        self.space();
        self.eat(close).then_some([a, b, c, d])
    }
}

/// Whether `text` holds a box key: what `(?i)["'](?:bbox|bbox_2d|position|box)["']\s*:`
/// matches, with that regex's Unicode case folding (`ſ` is an `s`) and whitespace.
fn has_box_key(text: &str) -> bool {
    memchr::memchr2_iter(b'"', b'\'', text.as_bytes()).any(|q| {
        let rest = &text.as_bytes()[q + 1..];
        ["bbox", "bbox_2d", "position", "box"].iter().any(|key| {
            key_len(rest, key.as_bytes()).is_some_and(|n| {
                matches!(rest.get(n), Some(b'"' | b'\''))
                    // After an ASCII quote: a char boundary.
                    && text.get(q + n + 2..).is_some_and(|after| after.trim_start().starts_with(':'))
            })
        })
    })
}

/// The length in `bytes` of a case-insensitive match of the ASCII `key` at their start.
fn key_len(bytes: &[u8], key: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &k in key {
        let b = *bytes.get(at)?;
        if b.eq_ignore_ascii_case(&k) {
            at += 1;
        } else if k == b's' && bytes[at..].starts_with("ſ".as_bytes()) {
            at += "ſ".len();
        } else {
            return None;
        }
    }
    Some(at)
}

// ---------------------------------------------------------------------------------------
// Structured values: outermost bracket regions, Python literals rewritten to JSON.

/// The outermost `[...]` / `{...}` regions of `bytes`, in order, as byte ranges. One pass
/// with a stack; a closer that does not match the innermost opener is ignored, so an
/// unclosed opener does not hide the well-formed regions inside it.
fn outer_regions(bytes: &[u8]) -> Vec<(usize, usize)> {
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
fn structured_boxes(src: &str, out: &mut Vec<[f64; 4]>) {
    if Reader::new(src).read(out).is_err() {
        out.clear();
        if let Some(value) = parse_literal(src) {
            collect_structured(&value, true, out);
        }
    }
}

/// The fast reader met syntax it leaves to `serde_json` (escapes, unusual numbers or
/// literals, odd commas, deep nesting, maps needing reordering, and every error).
struct Unsure;

enum Item {
    Number(f64),
    Other,
}

/// The boxes of a structured region read in one pass over its text, without building
/// values: the same result as `collect_structured(parse_literal(src))` on the common
/// subset of JSON and Python literals (strings without escapes or control characters,
/// numbers of JSON's grammar, `True`/`None`/`nan`-like words, tuples, trailing commas),
/// `Unsure` on anything else.
struct Reader<'a> {
    src: &'a str,
    at: usize,
    depth: usize,
}

/// Nesting the fast reader takes on (serde_json refuses more than 127 levels).
const MAX_DEPTH: usize = 100;
/// Keys per dict the fast reader takes on (it checks them pairwise for duplicates).
const MAX_KEYS: usize = 8;

impl<'a> Reader<'a> {
    fn new(src: &'a str) -> Self {
        Reader { src, at: 0, depth: 0 }
    }

    fn read(mut self, out: &mut Vec<[f64; 4]>) -> std::result::Result<(), Unsure> {
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

/// Parse a JSON or Python-literal value. Python's quotes, `True`/`False`/`None`, tuples and
/// trailing commas are rewritten to JSON in one pass; `nan`/`inf` become `null` (and so
/// never a box). `None` when the result is not valid JSON.
fn parse_literal(src: &str) -> Option<Value> {
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

fn is_box_key(key: &str) -> bool {
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
fn collect_structured(value: &Value, bare_ok: bool, out: &mut Vec<[f64; 4]>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abs(text: &str) -> Vec<BBox> {
        parse_boxes(text, "absolute", None).unwrap()
    }

    #[test]
    fn bare_lists_in_order() {
        let t = "first [10, 20, 30, 40] then [1.5,2.5,3.5,4.5] and [-1, 0, 5e1, 6]";
        assert_eq!(abs(t), vec![[10., 20., 30., 40.], [1.5, 2.5, 3.5, 4.5], [-1., 0., 50., 6.]]);
    }

    #[test]
    fn corners_are_ordered() {
        assert_eq!(abs("[30, 40, 10, 20]"), vec![[10., 20., 30., 40.]]);
    }

    #[test]
    fn json_dicts_with_each_key() {
        for key in ["bbox", "bbox_2d", "Position", "box"] {
            let t = format!(
                r#"```json
[{{"{key}": [1, 2, 3, 4], "label": "cat"}}, {{"{key}": [5, 6, 7, 8], "label": "dog"}}]
```"#
            );
            assert_eq!(abs(&t), vec![[1., 2., 3., 4.], [5., 6., 7., 8.]], "{key}");
        }
    }

    #[test]
    fn python_literal_dicts() {
        let t = "[{'Position': [254, 303, 291, 365], 'Confidence': 1}, \
                 {'Position': (10, 10, 20, 20), 'Confidence': 0.5, 'ok': True, 'n': None,},]";
        assert_eq!(abs(t), vec![[254., 303., 291., 365.], [10., 10., 20., 20.]]);
    }

    #[test]
    fn other_keys_of_a_box_dict_are_not_boxes() {
        let t = r#"{"bbox": [1, 2, 3, 4], "keypoints": [5, 6, 7, 8]}"#;
        assert_eq!(abs(t), vec![[1., 2., 3., 4.]]);
        // Without a box key, a four-number list is a bare box.
        assert_eq!(abs(r#"{"keypoints": [5, 6, 7, 8]}"#), vec![[5., 6., 7., 8.]]);
    }

    #[test]
    fn box_key_with_a_list_of_boxes() {
        assert_eq!(abs(r#"{"bbox": [[1,2,3,4],[5,6,7,8]]}"#), vec![[1., 2., 3., 4.], [5., 6., 7., 8.]]);
    }

    #[test]
    fn quotes_and_apostrophes_inside_strings() {
        let t = r#"[{'bbox_2d': [1, 2, 3, 4], 'label': "dog's \"toy\" ]"}]"#;
        assert_eq!(abs(t), vec![[1., 2., 3., 4.]]);
    }

    #[test]
    fn malformed_structures_fall_back_to_the_plain_scan() {
        // Unclosed dict, an eval-bait call: the list is still read, nothing is evaluated.
        let t = "{'bbox': [1, 2, 3, 4], 'x': __import__('os').system('true')";
        assert_eq!(abs(t), vec![[1., 2., 3., 4.]]);
        let t = "{'bbox': [1, 2, 3, 4], 'x': os.system('true')}";
        assert_eq!(abs(t), vec![[1., 2., 3., 4.]]);
    }

    #[test]
    fn tag_forms() {
        assert_eq!(abs("<box>(10,20),(30,40)</box>"), vec![[10., 20., 30., 40.]]);
        assert_eq!(abs("<box>( 10 , 20 ) , ( 30 , 40 )</box>"), vec![[10., 20., 30., 40.]]);
        assert_eq!(
            abs("<|object_ref_start|>cat<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|>"),
            vec![[1., 2., 3., 4.]]
        );
    }

    #[test]
    fn mixed_forms_keep_text_order() {
        let t = "<box>(1,1),(2,2)</box> [{\"bbox\": [3,3,4,4]}] [5,5,6,6] <|box_start|>(7,7),(8,8)<|box_end|>";
        let got = abs(t);
        assert_eq!(got, vec![[1., 1., 2., 2.], [3., 3., 4., 4.], [5., 5., 6., 6.], [7., 7., 8., 8.]]);
    }

    #[test]
    fn coords_scale_and_clip() {
        let b = parse_boxes("[100, 200, 500, 1000]", "norm1000", Some((640., 480.))).unwrap();
        assert_eq!(b, vec![[64., 96., 320., 480.]]);
        let b = parse_boxes("[0.1, 0.25, 0.5, 1.0]", "norm1", Some((200., 100.))).unwrap();
        assert_eq!(b, vec![[20., 25., 100., 100.]]);
        let b = parse_boxes("[-10, -10, 900, 50]", "absolute", Some((100., 100.))).unwrap();
        assert_eq!(b, vec![[0., 0., 100., 50.]]);
    }

    #[test]
    fn degenerate_boxes_are_dropped() {
        assert!(abs("[1, 1, 1, 5] [1, 1, 5, 1] [1e400, 0, 1, 1]").is_empty());
        assert!(abs("{'bbox': [nan, 0, 1, 1]} {'bbox': [-inf, 0, 1, 1]}").is_empty());
        // Entirely outside the image: zero area after clipping.
        assert!(parse_boxes("[200, 200, 300, 300]", "absolute", Some((100., 100.))).unwrap().is_empty());
    }

    #[test]
    fn bad_arguments() {
        assert!(
            matches!(parse_boxes("", "pixels", None), Err(Error::InvalidArgument { name, .. }) if name == "coords")
        );
        assert!(
            matches!(parse_boxes("", "norm1000", None), Err(Error::InvalidArgument { name, .. }) if name == "image_size")
        );
        assert!(parse_boxes("", "absolute", Some((0., 10.))).is_err());
        assert!(parse_boxes("", "absolute", Some((f64::NAN, 10.))).is_err());
    }

    #[test]
    fn batch_in_order_with_sizes_per_text() {
        let got = parse_boxes_batch(
            &["[0, 0, 500, 500]", "x", "[0, 0, 1000, 1000]"],
            "norm1000",
            Some(&[Some((100., 100.)), Some((1., 1.)), Some((10., 20.))]),
        )
        .unwrap();
        assert_eq!(got, vec![vec![[0., 0., 50., 50.]], vec![], vec![[0., 0., 10., 20.]]]);
        let err = parse_boxes_batch(&["a", "b"], "norm1", Some(&[Some((1., 1.)), None])).unwrap_err();
        assert!(err.to_string().contains("image_sizes[1]"), "{err}");
        assert!(parse_boxes_batch(&["a"], "absolute", Some(&[])).is_err());
    }

    #[test]
    fn garbage_and_deep_nesting() {
        assert!(abs("").is_empty());
        assert!(abs("[[[[{{{{(((( ]]]] }}}}").is_empty());
        let deep = format!("{}'bbox': [1,2,3,4]{}", "[{".repeat(5000), "}]".repeat(5000));
        assert_eq!(abs(&deep), vec![[1., 2., 3., 4.]]);
    }

    #[test]
    fn long_input_is_linear() {
        // 1 MB of half-open structures: must finish quickly (quadratic would take minutes).
        let t = "{'bbox': [1, 2, 3, ".repeat(55_000);
        let start = std::time::Instant::now();
        assert!(abs(&t).is_empty());
        let t = "[1,2,3,4] ".repeat(100_000);
        assert_eq!(abs(&t).len(), 100_000);
        assert!(start.elapsed().as_secs_f64() < 20.0);
    }

    /// The implementation the hand-written matchers replaced: regexes for the plain forms
    /// and the box key, `serde_json` values for every structured region.
    mod reference {
        use super::super::*;
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
    }

    const TOKENS: &[&str] = &[
        "[",
        "[",
        "]",
        "]",
        "{",
        "}",
        "(",
        ")",
        ",",
        ",",
        ", ",
        ":",
        ": ",
        " ",
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\x0c",
        "\u{a0}",
        "'",
        "\"",
        "\"",
        "\\",
        "\\\"",
        "bbox",
        "BBox",
        "bbox_2d",
        "Position",
        "poſition",
        "box",
        "'bbox': ",
        "\"bbox_2d\": ",
        "'box'",
        "label",
        "cat",
        "True",
        "None",
        "nan",
        "-inf",
        "Infinity",
        "null",
        "true",
        "0",
        "1",
        "1",
        "12",
        "-3",
        "4.5",
        "0.25",
        "1e3",
        "1E+2",
        ".5",
        "5.",
        "+7",
        "007",
        "-0",
        "1e400",
        "12345678901234567890",
        "0.1234567890123456789",
        "<box>",
        "</box>",
        "<|box_start|>",
        "<|box_end|>",
        "x",
        "é",
        "_",
        "-",
        ".",
        "e",
    ];

    fn soup() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
    }

    /// The plain forms, with every kind of number and space, and some near misses.
    fn plain_forms() -> impl Strategy<Value = String> {
        let number = proptest::sample::select(
            &[
                "1", "20", "-3", "4.5", "+.5e-3", "1.e5", "5.", "-.5", "1E+2", "007", "1e", ".", "e5", "1-2", "+",
                "1..2",
            ][..],
        );
        let space = proptest::sample::select(&["", "", " ", "\x0b", "\x0c", "\t", "\n", "\u{a0}", "x"][..]);
        let one = (0usize..4, proptest::collection::vec(number, 4), proptest::collection::vec(space, 12)).prop_map(
            |(form, n, s)| match form {
                0 => format!(
                    "[{}{}{},{}{}{},{}{},{}{}{}]",
                    s[0], n[0], s[1], s[2], n[1], s[3], n[2], s[4], n[3], s[5], s[6]
                ),
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
    fn literal() -> impl Strategy<Value = String> {
        let plain = proptest::sample::select(
            &[
                "1",
                "20",
                "-3",
                "4.5",
                "0.125",
                "1e2",
                "2E-1",
                "0",
                "-0",
                "98765432109876543210",
                "3.14159265358979323846",
                "None",
                "True",
                "nan",
                "'a'",
                "\"b\"",
                "\"q'\"",
                "'a\"b'",
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
                (proptest::collection::vec((key, inner), 0..5), sep, any::<bool>()).prop_map(
                    |(entries, sep, trailing)| {
                        let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                        format!("{{{}{}}}", body.join(sep), if trailing { "," } else { "" })
                    }
                ),
            ]
        })
    }

    fn same_boxes(a: &[[f64; 4]], b: &[[f64; 4]]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits()))
    }

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
                let got = parse_boxes_upto(&text, &frame, limit);
                let want = reference::parse_boxes_upto(&text, &frame, limit);
                prop_assert!(same_boxes(&got, &want), "{text:?}: {got:?} != {want:?}");
            }
        }

        #[test]
        fn box_key_as_the_regex(text in prop_oneof![soup(), ".{0,100}"]) {
            prop_assert_eq!(has_box_key(&text), reference::BOX_KEY.is_match(&text), "{:?}", text);
        }

        #[test]
        fn fast_reader_agrees_with_serde(src in literal()) {
            let mut got = Vec::new();
            structured_boxes(&src, &mut got);
            let want = reference::structured(&src);
            prop_assert!(same_boxes(&got, &want), "{src:?}: {got:?} != {want:?}");
        }
    }

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
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn never_panics_and_boxes_are_well_formed(text in ".{0,400}", w in 1.0f64..2000.0, h in 1.0f64..2000.0) {
            for coords in ["absolute", "norm1000", "norm1"] {
                for b in parse_boxes(&text, coords, Some((w, h))).unwrap() {
                    prop_assert!(b.iter().all(|v| v.is_finite()));
                    prop_assert!(b[0] < b[2] && b[1] < b[3]);
                    prop_assert!(b[0] >= 0.0 && b[2] <= w && b[1] >= 0.0 && b[3] <= h);
                }
            }
            let _ = abs(&text);
        }

        #[test]
        fn structured_noise_never_panics(text in r#"[\[\]{}()'",: 0-9.eE+\-a-zA-Z<>|_/\\]{0,300}"#) {
            for b in abs(&text) {
                prop_assert!(b[0] < b[2] && b[1] < b[3]);
            }
        }

        #[test]
        fn every_form_round_trips(
            x1 in 0u32..500, y1 in 0u32..500, dw in 1u32..500, dh in 1u32..500,
            form in 0usize..7, noise in "[a-z ]{0,20}",
        ) {
            let (x2, y2) = (x1 + dw, y1 + dh);
            let text = match form {
                0 => format!("[{x1}, {y1}, {x2}, {y2}]"),
                1 => format!(r#"[{{"bbox": [{x1}, {y1}, {x2}, {y2}], "label": "{noise}"}}]"#),
                2 => format!(r#"{{"bbox_2d": [{x1}, {y1}, {x2}, {y2}]}}"#),
                3 => format!("[{{'Position': [{x1}, {y1}, {x2}, {y2}], 'Confidence': 0.5, 'x': None}}]"),
                4 => format!("{{'box': ({x1}, {y1}, {x2}, {y2}), 'ok': True}}"),
                5 => format!("<box>({x1},{y1}),({x2},{y2})</box>"),
                _ => format!("<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"),
            };
            let text = format!("{noise} {text} {noise}");
            prop_assert_eq!(abs(&text), vec![[x1 as f64, y1 as f64, x2 as f64, y2 as f64]]);
        }
    }
}
