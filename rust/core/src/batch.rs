//! Batch scoring shared by every reward: `f(0), …, f(n - 1)` in input order over rayon
//! (inline when the batch is small or there is one thread), each score guarded so that a
//! panic scores 0.0 instead of aborting a run, and prefetching of the next items' texts.

use crate::{Error, Result};
use rayon::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Items per rayon task: scoring one item takes microseconds, so tiny tasks would cost
/// more in scheduling than they save.
const MIN_TASK: usize = 64;

/// Last line of defence: the scorers are total (tested by proptest and fuzzing), but if
/// one ever panicked the item would score 0.0 instead of aborting a training run.
fn guarded(f: impl FnOnce() -> f64) -> f64 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) if (0.0..=1.0).contains(&v) => v,
        _ => 0.0,
    }
}

/// `score(0), …, score(n - 1)` in order (see [`map_indices`]), each guarded as by
/// [`guarded`]. One unwind guard covers the batch (a guard per item keeps the scorer
/// from being inlined); only if an item panicked is the batch scored again item by
/// item, so that every other item keeps its score.
pub(crate) fn guarded_scores<F>(n: usize, score: F) -> Vec<f64>
where
    F: Fn(usize) -> f64 + Sync + Send,
{
    let in_range = |v: f64| if (0.0..=1.0).contains(&v) { v } else { 0.0 };
    catch_unwind(AssertUnwindSafe(|| map_indices(n, |i| in_range(score(i)))))
        .unwrap_or_else(|_| map_indices(n, |i| guarded(|| score(i))))
}

pub(crate) fn check_lengths(completions: usize, solutions: usize) -> Result<()> {
    if completions == solutions {
        Ok(())
    } else {
        Err(Error::length_mismatch("completions", completions, "solutions", solutions))
    }
}

/// `f(0), …, f(n - 1)` in order: over rayon when there is more than one thread and
/// enough work, else inline on the calling thread (handing a batch to the pool costs
/// context switches, which on a loaded machine outweigh microseconds of work).
pub fn map_indices<R, F>(n: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize) -> R + Sync + Send,
{
    if n < 2 * MIN_TASK || rayon::current_num_threads() <= 1 {
        (0..n).map(f).collect()
    } else {
        (0..n).into_par_iter().with_min_len(MIN_TASK).map(f).collect()
    }
}

/// How many items ahead [`prefetch_item`] reaches: far enough for the loads to arrive
/// before the item is scored (~0.1–1 µs each), near enough to stay in cache.
pub const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to start loading the start and the end of `texts[i]` (the end is where
/// answers sit), so that in a batch larger than the cache the loads of item
/// `i + PREFETCH_AHEAD` overlap the scoring of item `i` (about 10 % on the 7,500-item
/// benchmark families). A hint only: it never faults and does nothing off x86-64.
#[inline(always)]
pub fn prefetch_item<S: AsRef<str>>(texts: &[S], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = texts.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let s = s.as_ref().as_bytes();
        let last = s.len().saturating_sub(1);
        // SAFETY: both pointers are inside (or one past the start of) `s`; prefetching is
        // a hint that reads nothing into the program and cannot fault.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().cast());
            _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().add(last).cast());
            _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().add(last.saturating_sub(64)).cast());
        }
    }
}

pub(crate) fn pairwise<A, B, F>(completions: &[A], solutions: &[B], f: F) -> Result<Vec<f64>>
where
    A: AsRef<str> + Sync,
    B: AsRef<str> + Sync,
    F: Fn(&str, &str) -> f64 + Sync,
{
    check_lengths(completions.len(), solutions.len())?;
    Ok(guarded_scores(completions.len(), |i| {
        prefetch_item(completions, i + PREFETCH_AHEAD);
        prefetch_item(solutions, i + PREFETCH_AHEAD);
        f(completions[i].as_ref(), solutions[i].as_ref())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_item_scores_zero_and_the_others_keep_their_scores() {
        let score = |i: usize| match i {
            3 => panic!("item 3"),
            5 => 7.0, // out of range
            _ => (i % 2) as f64,
        };
        let got = guarded_scores(500, score);
        let want: Vec<f64> = (0..500).map(|i| if i == 3 || i == 5 { 0.0 } else { (i % 2) as f64 }).collect();
        assert_eq!(got, want);
    }
}
