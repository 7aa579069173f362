//! The box parser and the IoU and BMAS rewards over arbitrary bytes: no panic, every box
//! finite, ordered, of positive area and inside the image; every reward in [0, 1].
#![no_main]

use libfuzzer_sys::fuzz_target;
use modomodo_core::bmas::{bmas, Embeddings};
use modomodo_core::boxes::{parse_boxes_in, Coords, Frame};
use modomodo_core::iou::{iou_reward, IouConfig, Solution};

fuzz_target!(|data: &[u8]| {
    // first byte: image size and threshold; then completion and solution split at 0xFF
    let (knob, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
    let (w, h) = (1.0 + f64::from(knob), 1.0 + f64::from(knob.rotate_left(4)));
    let threshold = f64::from(knob) / 255.0;
    let (c, s) = match rest.iter().position(|&b| b == 0xFF) {
        Some(k) => (&rest[..k], &rest[k + 1..]),
        None => (rest, &rest[..0]),
    };
    let (c, s) = (String::from_utf8_lossy(c), String::from_utf8_lossy(s));

    for coords in [Coords::Absolute, Coords::Norm1000, Coords::Norm1] {
        let frame = Frame::new(coords, Some((w, h))).unwrap();
        for b in parse_boxes_in(&c, &frame) {
            assert!(b.iter().all(|v| v.is_finite()));
            assert!(0.0 <= b[0] && b[0] < b[2] && b[2] <= w, "{b:?}");
            assert!(0.0 <= b[1] && b[1] < b[3] && b[3] <= h, "{b:?}");
        }
    }
    let unclipped = Frame::new(Coords::Absolute, None).unwrap();
    for b in parse_boxes_in(&c, &unclipped) {
        assert!(b.iter().all(|v| v.is_finite()) && b[0] <= b[2] && b[1] <= b[3]);
    }
    for mode in ["continuous", "threshold", "match"] {
        let cfg = IouConfig::new(mode, threshold, "absolute").unwrap();
        let sols = [Solution::Text(s.to_string())];
        for size in [None, Some((w, h))] {
            let v = iou_reward(&[c.as_ref()], &sols, &cfg, Some(&[size])).unwrap()[0];
            assert!((0.0..=1.0).contains(&v), "{mode}: {v}");
        }
    }
    // The raw bytes as float32 embeddings of dimension 4.
    let floats: Vec<f32> = rest.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let rows = floats.len() / 4;
    let split = rows / 2;
    let r = Embeddings::new(&floats[..split * 4], split, 4).unwrap();
    let g = Embeddings::new(&floats[split * 4..rows * 4], rows - split, 4).unwrap();
    let v = bmas(&r, &g).unwrap();
    assert!((0.0..=1.0).contains(&v));
});
