//! BMAS, Bidirectional Max-Average Similarity (Mixed-R1's open-ended reward).
//!
//! With E_r, E_g the token embeddings of response and gold (rows) and S their cosine
//! similarity matrix: P = mean over response tokens of the row max of S, R = mean over gold
//! tokens of the column max; BMAS = (P + R) / 2 clipped to [0, 1]. An empty side scores 0.
//! A zero-norm (or non-finite) row has similarity 0 with everything, never NaN.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// A row-major `[rows, dim]` float32 matrix borrowed from its owner (a NumPy array).
#[derive(Debug, Clone, Copy)]
pub struct Embeddings<'a> {
    data: &'a [f32],
    rows: usize,
    dim: usize,
}

impl<'a> Embeddings<'a> {
    pub fn new(data: &'a [f32], rows: usize, dim: usize) -> Result<Self> {
        if rows.checked_mul(dim) != Some(data.len()) {
            return Err(Error::invalid("embeddings", (rows, dim, data.len()), "rows * dim values"));
        }
        Ok(Embeddings { data, rows, dim })
    }

    fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// 1 / norm of each row; 0 for a zero or non-finite norm.
    fn inverse_norms(&self) -> Vec<f64> {
        (0..self.rows)
            .map(|i| {
                let n = (dot(self.row(i), self.row(i)) as f64).sqrt();
                if n > 0.0 && n.is_finite() {
                    1.0 / n
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Eight independent accumulators so the compiler vectorises the loop.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// BMAS of one response against one gold answer.
pub fn bmas(response: &Embeddings, gold: &Embeddings) -> Result<f64> {
    if response.rows == 0 || gold.rows == 0 {
        return Ok(0.0);
    }
    if response.dim != gold.dim {
        return Err(Error::invalid(
            "gold embedding dim",
            gold.dim,
            &format!("the response embedding dim {}", response.dim),
        ));
    }
    let (inv_r, inv_g) = (response.inverse_norms(), gold.inverse_norms());
    let mut col_max = vec![f64::NEG_INFINITY; gold.rows];
    let mut row_sum = 0.0;
    for (i, &ir) in inv_r.iter().enumerate() {
        let r = response.row(i);
        let mut row_max = f64::NEG_INFINITY;
        for (j, &ig) in inv_g.iter().enumerate() {
            let mut s = dot(r, gold.row(j)) as f64 * ir * ig;
            if !s.is_finite() {
                s = 0.0;
            }
            row_max = row_max.max(s);
            col_max[j] = col_max[j].max(s);
        }
        row_sum += row_max;
    }
    let p = row_sum / response.rows as f64;
    let r = col_max.iter().sum::<f64>() / gold.rows as f64;
    let v = (p + r) / 2.0;
    Ok(if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 })
}

/// BMAS of each (response, gold) pair, in order, over threads.
pub fn bmas_batch(responses: &[Embeddings], golds: &[Embeddings]) -> Result<Vec<f64>> {
    if responses.len() != golds.len() {
        return Err(Error::length_mismatch("responses", responses.len(), "golds", golds.len()));
    }
    // Check dims up front so the error does not depend on thread timing.
    for (i, (r, g)) in responses.iter().zip(golds).enumerate() {
        if r.rows > 0 && g.rows > 0 && r.dim != g.dim {
            return Err(Error::invalid(
                &format!("golds[{i}] embedding dim"),
                g.dim,
                &format!("the response embedding dim {}", r.dim),
            ));
        }
    }
    responses.par_iter().zip(golds.par_iter()).map(|(r, g)| bmas(r, g)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn emb(data: &[f32], dim: usize) -> Embeddings<'_> {
        Embeddings::new(data, data.len() / dim, dim).unwrap()
    }

    /// Direct reference: normalise, build S, take maxima.
    fn reference(r: &[Vec<f64>], g: &[Vec<f64>]) -> f64 {
        if r.is_empty() || g.is_empty() {
            return 0.0;
        }
        let cos = |a: &Vec<f64>, b: &Vec<f64>| {
            let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            if na == 0.0 || nb == 0.0 {
                0.0
            } else {
                a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / (na * nb)
            }
        };
        let s: Vec<Vec<f64>> = r.iter().map(|a| g.iter().map(|b| cos(a, b)).collect()).collect();
        let p = s.iter().map(|row| row.iter().cloned().fold(f64::MIN, f64::max)).sum::<f64>() / r.len() as f64;
        let rr =
            (0..g.len()).map(|j| s.iter().map(|row| row[j]).fold(f64::MIN, f64::max)).sum::<f64>() / g.len() as f64;
        ((p + rr) / 2.0).clamp(0.0, 1.0)
    }

    #[test]
    fn identical_is_one_and_orthogonal_is_zero() {
        let a = [1.0, 2.0, 3.0, 0.5, -1.0, 4.0];
        assert!((bmas(&emb(&a, 3), &emb(&a, 3)).unwrap() - 1.0).abs() < 1e-6);
        let x = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let y = [0.0, 0.0, 1.0];
        assert_eq!(bmas(&emb(&x, 3), &emb(&y, 3)).unwrap(), 0.0);
    }

    #[test]
    fn asymmetric_sizes() {
        // Response [e1, e2], gold [e1]: P = (1 + 0) / 2, R = 1 → 0.75.
        let r = [1.0, 0.0, 0.0, 1.0];
        let g = [1.0, 0.0];
        assert!((bmas(&emb(&r, 2), &emb(&g, 2)).unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn empty_zero_norm_and_nan() {
        let a = [1.0f32, 2.0];
        assert_eq!(bmas(&emb(&[], 2), &emb(&a, 2)).unwrap(), 0.0);
        assert_eq!(bmas(&emb(&a, 2), &emb(&[], 2)).unwrap(), 0.0);
        let z = [0.0f32, 0.0];
        assert_eq!(bmas(&emb(&z, 2), &emb(&z, 2)).unwrap(), 0.0);
        let with_zero = [1.0, 2.0, 0.0, 0.0];
        assert!((bmas(&emb(&with_zero, 2), &emb(&a, 2)).unwrap() - 0.75).abs() < 1e-6);
        let nan = [f32::NAN, 1.0];
        assert_eq!(bmas(&emb(&nan, 2), &emb(&a, 2)).unwrap(), 0.0);
        let inf = [f32::INFINITY, 1.0];
        assert_eq!(bmas(&emb(&inf, 2), &emb(&a, 2)).unwrap(), 0.0);
    }

    #[test]
    fn negative_similarity_clips_to_zero() {
        assert_eq!(bmas(&emb(&[1.0, 0.0], 2), &emb(&[-1.0, 0.0], 2)).unwrap(), 0.0);
    }

    #[test]
    fn bad_shapes() {
        assert!(Embeddings::new(&[1.0, 2.0, 3.0], 2, 2).is_err());
        assert!(bmas(&emb(&[1.0, 2.0], 2), &emb(&[1.0, 2.0, 3.0], 3)).is_err());
        assert!(bmas_batch(&[emb(&[1.0], 1)], &[]).is_err());
        let err = bmas_batch(&[emb(&[1.0], 1), emb(&[1.0], 1)], &[emb(&[1.0], 1), emb(&[1.0, 2.0], 2)]).unwrap_err();
        assert!(err.to_string().contains("golds[1]"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn matches_the_reference(
            dim in 1usize..20,
            nr in 0usize..12,
            ng in 0usize..12,
            seed in proptest::collection::vec(-3.0f32..3.0, 480),
        ) {
            let r: Vec<f32> = seed.iter().cycle().take(nr * dim).cloned().collect();
            let g: Vec<f32> = seed.iter().rev().cycle().take(ng * dim).cloned().collect();
            let rows = |d: &[f32]| d.chunks(dim).map(|c| c.iter().map(|&x| x as f64).collect()).collect::<Vec<Vec<f64>>>();
            let got = bmas(&emb(&r, dim), &emb(&g, dim)).unwrap();
            let want = reference(&rows(&r), &rows(&g));
            prop_assert!((got - want).abs() < 1e-5, "{} vs {}", got, want);
            prop_assert!((0.0..=1.0).contains(&got));
        }

        #[test]
        fn any_floats_stay_in_unit_interval(data in proptest::collection::vec(proptest::num::f32::ANY, 0..64)) {
            let half = data.len() / 2 / 4 * 4;
            let v = bmas(&emb(&data[..half], 4), &emb(&data[half..half * 2], 4)).unwrap();
            prop_assert!((0.0..=1.0).contains(&v));
        }
    }
}
