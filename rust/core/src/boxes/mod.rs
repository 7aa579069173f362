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
//!
//! - [`scan`]: the plain forms; [`structured`]: structured values through `serde_json`;
//!   [`reader`]: the fast reader of structured values. The plain implementation they must
//!   equal, regexes and `serde_json` alone, is `reference` (compiled for tests).

mod reader;
#[cfg(test)]
mod reference;
mod scan;
mod structured;

use crate::error::{Error, Result};
use scan::{has_box_key, scan_plain};
use structured::{outer_regions, structured_boxes};

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
