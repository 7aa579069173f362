//! IoU rewards for grounding and detection.
//!
//! The predicted boxes are read from `extract_answer(completion)` when the completion has an
//! answer block, else from the whole completion: the same rule as `accuracy_reward`, so a
//! box written while "thinking" never scores when an answer block exists. Gold boxes are
//! absolute pixels (how datasets store them); `coords` describes the model's numbers only.

use crate::boxes::{frames, parse_boxes_upto, BBox, Coords, Frame};
use crate::error::{Error, Result};
use crate::text::extract_answer;

/// Intersection over union of two boxes; 0 for disjoint, degenerate or non-finite boxes.
pub fn iou(a: &BBox, b: &BBox) -> f64 {
    let iw = a[2].min(b[2]) - a[0].max(b[0]);
    let ih = a[3].min(b[3]) - a[1].max(b[1]);
    if !(iw > 0.0 && ih > 0.0) {
        return 0.0;
    }
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    let v = inter / union;
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IouMode {
    /// IoU of the first predicted box with the first gold box.
    Continuous,
    /// 1.0 when that IoU reaches the threshold (and the boxes overlap at all).
    Threshold,
    /// One-to-one greedy matching by descending IoU over pairs reaching the threshold;
    /// sum of matched IoUs / max(#predicted, #gold) (Visual-RFT's COCO reward).
    Match,
}

impl IouMode {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "continuous" => Ok(IouMode::Continuous),
            "threshold" => Ok(IouMode::Threshold),
            "match" => Ok(IouMode::Match),
            _ => Err(Error::invalid("mode", name, "one of \"continuous\", \"threshold\", \"match\"")),
        }
    }
}

/// A gold answer: boxes given as numbers (absolute pixels), or text `parse_boxes` reads
/// (owned, or borrowed from the caller: any `T: AsRef<str>`).
#[derive(Debug, Clone, PartialEq)]
pub enum Solution<T = String> {
    Boxes(Vec<[f64; 4]>),
    Text(T),
}

/// The validated options of [`iou_reward`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IouConfig {
    pub mode: IouMode,
    pub threshold: f64,
    pub coords: Coords,
}

impl IouConfig {
    pub fn new(mode: &str, threshold: f64, coords: &str) -> Result<Self> {
        let mode = IouMode::parse(mode)?;
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::invalid("threshold", threshold, "a number in [0, 1]"));
        }
        Ok(IouConfig { mode, threshold, coords: Coords::parse(coords)? })
    }
}

/// Score predicted boxes against gold boxes (both in pixels) under `cfg`.
pub fn score_boxes(pred: &[BBox], gold: &[BBox], cfg: &IouConfig) -> f64 {
    let (Some(p), Some(g)) = (pred.first(), gold.first()) else { return 0.0 };
    match cfg.mode {
        IouMode::Continuous => iou(p, g),
        IouMode::Threshold => {
            let v = iou(p, g);
            if v > 0.0 && v >= cfg.threshold {
                1.0
            } else {
                0.0
            }
        }
        IouMode::Match => match_score(pred, gold, cfg.threshold),
    }
}

fn match_score(pred: &[BBox], gold: &[BBox], threshold: f64) -> f64 {
    // Pairs with IoU 0 add nothing to the sum, so only overlapping pairs are candidates.
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, p) in pred.iter().enumerate() {
        for (j, g) in gold.iter().enumerate() {
            let v = iou(p, g);
            if v > 0.0 && v >= threshold {
                pairs.push((v, i, j));
            }
        }
    }
    // Descending IoU; ties broken by position so the result is deterministic.
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut pred_used = vec![false; pred.len()];
    let mut gold_used = vec![false; gold.len()];
    let mut total = 0.0;
    for (v, i, j) in pairs {
        if !pred_used[i] && !gold_used[j] {
            pred_used[i] = true;
            gold_used[j] = true;
            total += v;
        }
    }
    (total / pred.len().max(gold.len()) as f64).clamp(0.0, 1.0)
}

/// The gold boxes of a solution in pixels of `frame` (absolute, clipped to the image); the
/// first `limit` of them.
pub fn gold_boxes<T: AsRef<str>>(solution: &Solution<T>, frame: &Frame, limit: usize) -> Vec<BBox> {
    match solution {
        Solution::Boxes(raws) => raws.iter().filter_map(|r| frame.to_pixels(*r)).take(limit).collect(),
        Solution::Text(text) => {
            let text = text.as_ref();
            parse_boxes_upto(extract_answer(text).unwrap_or(text), frame, limit)
        }
    }
}

/// The predicted boxes of a completion (answer block, else the whole text) in pixels; the
/// first `limit` of them.
pub fn predicted_boxes(completion: &str, frame: &Frame, limit: usize) -> Vec<BBox> {
    parse_boxes_upto(extract_answer(completion).unwrap_or(completion), frame, limit)
}

/// The IoU reward of each completion against its solution, in input order. `image_sizes`
/// (one `(w, h)` or `None` per completion) scales normalised coords and clips boxes.
pub fn iou_reward<S: AsRef<str> + Sync, T: AsRef<str> + Sync>(
    completions: &[S],
    solutions: &[Solution<T>],
    cfg: &IouConfig,
    image_sizes: Option<&[Option<(f64, f64)>]>,
) -> Result<Vec<f64>> {
    let n = completions.len();
    if solutions.len() != n {
        return Err(Error::length_mismatch("completions", n, "solutions", solutions.len()));
    }
    // Validate every argument before any work, so errors do not depend on thread timing.
    let pred_frames = frames(cfg.coords, image_sizes, "completions", n)?;
    let gold_frames = frames(Coords::Absolute, image_sizes, "completions", n)?;
    // Only `match` looks past the first box of each side.
    let limit = if cfg.mode == IouMode::Match { usize::MAX } else { 1 };
    Ok(crate::batch::map_indices(n, |i| {
        let pred = predicted_boxes(completions[i].as_ref(), &pred_frames[i], limit);
        score_boxes(&pred, &gold_boxes(&solutions[i], &gold_frames[i], limit), cfg)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(mode: &str, threshold: f64) -> IouConfig {
        IouConfig::new(mode, threshold, "absolute").unwrap()
    }

    fn one(completion: &str, solution: Solution, c: &IouConfig, size: Option<(f64, f64)>) -> f64 {
        iou_reward(&[completion], &[solution], c, Some(&[size])).unwrap()[0]
    }

    fn text(s: &str) -> Solution {
        Solution::Text(s.to_string())
    }

    #[test]
    fn iou_values() {
        assert_eq!(iou(&[0., 0., 10., 10.], &[0., 0., 10., 10.]), 1.0);
        assert_eq!(iou(&[0., 0., 10., 10.], &[10., 0., 20., 10.]), 0.0);
        assert!((iou(&[0., 0., 10., 10.], &[5., 0., 15., 10.]) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(iou(&[0., 0., 1e300, 1e300], &[0., 0., 1e300, 1e300]), 0.0); // overflow → 0, not NaN
    }

    #[test]
    fn continuous_and_threshold_use_the_first_boxes() {
        let gold = Solution::Boxes(vec![[0., 0., 10., 10.], [50., 50., 60., 60.]]);
        let c = cfg("continuous", 0.5);
        let got = one("<answer>[5, 0, 15, 10] [0, 0, 10, 10]</answer>", gold.clone(), &c, None);
        assert!((got - 1.0 / 3.0).abs() < 1e-12);
        let t = cfg("threshold", 0.3);
        assert_eq!(one("<answer>[5, 0, 15, 10]</answer>", gold.clone(), &t, None), 1.0);
        let t = cfg("threshold", 0.5);
        assert_eq!(one("<answer>[5, 0, 15, 10]</answer>", gold.clone(), &t, None), 0.0);
        // threshold 0 still needs an overlap.
        let t = cfg("threshold", 0.0);
        assert_eq!(one("<answer>[20, 20, 30, 30]</answer>", gold, &t, None), 0.0);
    }

    #[test]
    fn boxes_outside_the_answer_block_do_not_count() {
        let gold = text("[0, 0, 10, 10]");
        let c = cfg("continuous", 0.5);
        assert_eq!(one("<think>[0, 0, 10, 10]</think><answer>none</answer>", gold.clone(), &c, None), 0.0);
        assert_eq!(one("no block: [0, 0, 10, 10]", gold.clone(), &c, None), 1.0);
        // A gold wrapped in answer tags.
        assert_eq!(one("[0,0,10,10]", text("<answer>[0,0,10,10]</answer>"), &c, None), 1.0);
    }

    #[test]
    fn match_mode_is_one_to_one() {
        let gold = text("[{'Position': [0, 0, 10, 10]}, {'Position': [20, 20, 30, 30]}]");
        let m = cfg("match", 0.5);
        let perfect = "<answer>[{'Position': [20, 20, 30, 30], 'Confidence': 1}, {'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>";
        assert_eq!(one(perfect, gold.clone(), &m, None), 1.0);
        // The same box twice matches one gold box only.
        assert_eq!(one("<answer>[0,0,10,10] [0,0,10,10]</answer>", gold.clone(), &m, None), 0.5);
        // Three predictions for two gold boxes: divided by 3.
        let three = "<answer>[0,0,10,10] [20,20,30,30] [40,40,50,50]</answer>";
        assert!((one(three, gold.clone(), &m, None) - 2.0 / 3.0).abs() < 1e-12);
        // Below threshold pairs do not match.
        assert_eq!(one("<answer>[5, 0, 15, 10]</answer>", gold, &m, None), 0.0);
    }

    #[test]
    fn whole_image_box_scores_low_in_match() {
        let gold = text("[{'Position': [100, 100, 120, 120]}]");
        let m = cfg("match", 0.5);
        let whole = "<answer>[{'Position': [0, 0, 640, 480]}]</answer>";
        assert_eq!(one(whole, gold.clone(), &m, Some((640., 480.))), 0.0);
        let c = cfg("continuous", 0.5);
        assert!(one(whole, gold, &c, Some((640., 480.))) < 0.01);
    }

    #[test]
    fn greedy_prefers_the_best_pair() {
        // Pred 0 overlaps both golds; gold 0 is better served by pred 1.
        let gold = Solution::Boxes(vec![[0., 0., 10., 10.], [8., 0., 18., 10.]]);
        let m = cfg("match", 0.1);
        let got = one("[0, 0, 10, 10] [9, 0, 19, 10]", gold, &m, None);
        let expect = (1.0 + iou(&[9., 0., 19., 10.], &[8., 0., 18., 10.])) / 2.0;
        assert!((got - expect).abs() < 1e-12);
    }

    #[test]
    fn norm_coords_scale_predictions_only() {
        let c = IouConfig::new("continuous", 0.5, "norm1000").unwrap();
        let got = one("<answer>[0, 0, 500, 500]</answer>", text("[0, 0, 320, 240]"), &c, Some((640., 480.)));
        assert_eq!(got, 1.0);
    }

    #[test]
    fn bad_arguments() {
        assert!(
            matches!(IouConfig::new("best", 0.5, "absolute"), Err(Error::InvalidArgument { name, .. }) if name == "mode")
        );
        assert!(IouConfig::new("match", 1.5, "absolute").is_err());
        assert!(IouConfig::new("match", f64::NAN, "absolute").is_err());
        assert!(IouConfig::new("match", 0.5, "pixels").is_err());
        let c = cfg("match", 0.5);
        assert!(matches!(iou_reward(&["a", "b"], &[text("")], &c, None), Err(Error::LengthMismatch { .. })));
        assert!(iou_reward(&["a"], &[text("")], &c, Some(&[])).is_err());
        let n = IouConfig::new("match", 0.5, "norm1").unwrap();
        let err = iou_reward(&["a", "b"], &[text(""), text("")], &n, Some(&[Some((1., 1.)), None])).unwrap_err();
        assert!(err.to_string().contains("image_sizes[1]"), "{err}");
    }

    #[test]
    fn batch_order_is_deterministic() {
        let comps: Vec<String> = (0..500).map(|i| format!("<answer>[0, 0, {}, 10]</answer>", i + 1)).collect();
        let sols: Vec<Solution> = (0..500).map(|_| text("[0, 0, 10, 10]")).collect();
        let c = cfg("continuous", 0.5);
        let got = iou_reward(&comps, &sols, &c, None).unwrap();
        for (i, v) in got.iter().enumerate() {
            let w = (i + 1) as f64;
            assert!((v - w.min(10.0) / w.max(10.0)).abs() < 1e-12);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn rewards_are_in_unit_interval(completion in ".{0,300}", mode in 0usize..3, thr in 0.0f64..=1.0) {
            let c = IouConfig::new(["continuous", "threshold", "match"][mode], thr, "absolute").unwrap();
            let gold = text("[10, 10, 50, 50] [0, 0, 5, 5]");
            let v = one(&completion, gold, &c, Some((100., 100.)));
            prop_assert!((0.0..=1.0).contains(&v));
        }

        #[test]
        fn match_is_bounded_by_best_possible(
            boxes in proptest::collection::vec((0u32..90, 0u32..90, 1u32..40, 1u32..40), 0..8),
            thr in 0.0f64..=1.0,
        ) {
            let text_boxes: String = boxes.iter().map(|(x, y, w, h)| format!("[{x},{y},{},{}] ", x + w, y + h)).collect();
            let gold = Solution::Boxes(vec![[10., 10., 30., 30.], [50., 50., 80., 90.]]);
            let v = one(&text_boxes, gold, &cfg("match", thr), None);
            prop_assert!((0.0..=1.0).contains(&v));
            // At most min(#pred, #gold) pairs can match, each with IoU <= 1.
            let n = boxes.len();
            if n > 0 {
                prop_assert!(v <= (n.min(2) as f64) / (n.max(2) as f64) + 1e-12);
            }
        }
    }
}
