//! The permutation of one epoch of one domain: Fisher–Yates with the partners of several
//! steps drawn from one 64-bit word, seeded from (seed, domain, epoch) alone.

use rand::{RngCore, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};

/// `js[s]` uniform in `0..bound - s` for `s < K`, independent, from one 64-bit word (more only
/// on a rejection): Lemire's multiply-and-reject for the product `P` of the `K` bounds, its
/// result read in mixed radix (Brackett-Rozinsky & Lemire, "Batched ranged random integer
/// generation", 2024). `r × P = J·2^64 + low`, with `J` the mixed-radix number of the `js`;
/// the word is redrawn when `low < 2^64 mod P`, which makes `J` exactly uniform in `0..P`.
#[inline(always)]
fn batched_bounded<const K: usize>(bound: u64, mut next: impl FnMut() -> u64) -> [u64; K] {
    debug_assert!(K >= 1 && bound >= K as u64);
    let mut product = bound;
    for s in 1..K as u64 {
        product *= bound - s;
    }
    loop {
        let mut js = [0u64; K];
        let mut low = next();
        for (s, j) in js.iter_mut().enumerate() {
            let x = low as u128 * (bound - s as u64) as u128;
            *j = (x >> 64) as u64;
            low = x as u64;
        }
        if low >= product || low >= product.wrapping_neg() % product {
            return js;
        }
    }
}

/// Fisher–Yates steps `K` at a time while `bound > stop`; returns the bound reached. A phase
/// takes over from the previous one's `stop`, and the `K` bounds of a batch multiply to less
/// than 2^64: below 2^32 for `K = 2`, 2^21 for 3, 2^16 for 4, 2^12 for 5 and 2^10 for 6.
#[inline(always)]
fn shuffle_phase<const K: usize>(perm: &mut [u32], mut bound: u64, stop: u64, mut next: impl FnMut() -> u64) -> u64 {
    debug_assert!(stop >= K as u64);
    while bound > stop {
        shuffle_steps::<K>(perm, bound, &mut next);
        bound -= K as u64;
    }
    bound
}

/// `K` Fisher–Yates steps, from `bound` down: the element at `bound - 1 - s` swaps with a
/// uniform one at or below it.
#[inline(always)]
fn shuffle_steps<const K: usize>(perm: &mut [u32], bound: u64, next: impl FnMut() -> u64) {
    assert!(K as u64 <= bound);
    let perm = &mut perm[..bound as usize];
    let js = batched_bounded::<K>(bound, next);
    for (s, &j) in js.iter().enumerate() {
        let i = bound as usize - 1 - s;
        debug_assert!(i < perm.len() && (j as usize) < perm.len() - s);
        // SAFETY: s < K <= bound, so i < bound = perm.len(); j < bound - s (the high word of
        // `low × (bound - s)`). Unchecked: the checks were about a sixth of the shuffle's time.
        unsafe {
            let a = *perm.get_unchecked(i);
            *perm.get_unchecked_mut(i) = *perm.get_unchecked(j as usize);
            *perm.get_unchecked_mut(j as usize) = a;
        }
    }
}

/// The generator that shuffles epoch `epoch` of domain `domain`: xoshiro256++ seeded with a
/// SplitMix64 hash of (seed, domain, epoch), so that a permutation depends on those only
/// (each step of the hash is a bijection: two epochs of a domain never share a generator).
fn shuffle_rng(seed: u64, domain: usize, epoch: u64) -> Xoshiro256PlusPlus {
    const SHUFFLE: u64 = 0x5348_5546_464c_4531; // apart from the draw stream, seeded with `seed`
    let mix = |x: u64| SplitMix64::seed_from_u64(x).next_u64();
    Xoshiro256PlusPlus::seed_from_u64(mix(mix(mix(seed ^ SHUFFLE) ^ domain as u64) ^ epoch))
}

/// Fisher–Yates over this domain epoch's permutation. Written out rather than
/// `SliceRandom::shuffle`: it takes the partners of 2 to 6 steps from one 64-bit word (rand's
/// takes a word per step), and it keeps the streams fixed should rand change its shuffle.
#[cold]
#[inline(never)]
pub(super) fn shuffle_into(seed: u64, domain: usize, epoch: u64, size: u64, perm: &mut Vec<u32>) {
    let mut rng = shuffle_rng(seed, domain, epoch);
    let mut next = || rng.next_u64();
    perm.clear();
    perm.extend(0..size as u32);
    // Step `bound` swaps the element at `bound - 1` with a uniform one at or below it. The
    // steps are batched as `shuffle_phase` says; the last (at most 5) form one batch.
    let mut bound = size;
    bound = shuffle_phase::<2>(perm, bound, 1 << 21, &mut next);
    bound = shuffle_phase::<3>(perm, bound, 1 << 16, &mut next);
    bound = shuffle_phase::<4>(perm, bound, 1 << 12, &mut next);
    bound = shuffle_phase::<5>(perm, bound, 1 << 10, &mut next);
    bound = shuffle_phase::<6>(perm, bound, 6, &mut next);
    match bound {
        6 => shuffle_steps::<5>(perm, bound, &mut next),
        5 => shuffle_steps::<4>(perm, bound, &mut next),
        4 => shuffle_steps::<3>(perm, bound, &mut next),
        3 => shuffle_steps::<2>(perm, bound, &mut next),
        2 => shuffle_steps::<1>(perm, bound, &mut next),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn batched_bounded_is_uniform_and_rejects_the_biased_zone() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        // Three steps of bounds 5, 4, 3 from one word: all 60 triples equally often.
        let mut seen: HashMap<[u64; 3], u32> = HashMap::new();
        for _ in 0..60_000 {
            let js = batched_bounded::<3>(5, || rng.next_u64());
            assert!(js[0] < 5 && js[1] < 4 && js[2] < 3);
            *seen.entry(js).or_default() += 1;
        }
        assert_eq!(seen.len(), 60);
        assert!(seen.values().all(|&c| (850..1150).contains(&c)), "{seen:?}");
        // Bounds 3 and 2: P = 6 and 2^64 mod 6 = 4. The word 0 leaves 0 < 4 (the zone that
        // would favour the smallest results) and is redrawn; u64::MAX gives J = 5 = 2·2 + 1.
        let mut words = [0u64, u64::MAX].into_iter();
        assert_eq!(batched_bounded::<2>(3, || words.next().unwrap()), [2, 1]);
        assert_eq!(words.next(), None);
        // The largest batch of each phase of `shuffle_into` stays below 2^64.
        for (k, top) in [(2u64, u32::MAX as u64), (3, 1 << 21), (4, 1 << 16), (5, 1 << 12), (6, 1 << 10)] {
            let product = (0..k).try_fold(1u64, |p, s| p.checked_mul(top - s));
            assert!(product.is_some(), "{k} steps from {top}");
            let mut next = || rng.next_u64();
            let ok = match k {
                6 => batched_bounded::<6>(top, &mut next).iter().enumerate().all(|(s, &j)| j < top - s as u64),
                5 => batched_bounded::<5>(top, &mut next).iter().enumerate().all(|(s, &j)| j < top - s as u64),
                4 => batched_bounded::<4>(top, &mut next).iter().enumerate().all(|(s, &j)| j < top - s as u64),
                3 => batched_bounded::<3>(top, &mut next).iter().enumerate().all(|(s, &j)| j < top - s as u64),
                _ => batched_bounded::<2>(top, &mut next).iter().enumerate().all(|(s, &j)| j < top - s as u64),
            };
            assert!(ok, "{k} steps from {top}");
        }
    }

    #[test]
    fn permutations_are_uniform() {
        let mut counts: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut perm = Vec::new();
        for epoch in 0..24_000 {
            shuffle_into(7, 0, epoch, 4, &mut perm);
            *counts.entry(perm.clone()).or_default() += 1;
        }
        assert_eq!(counts.len(), 24);
        assert!(counts.values().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }

    #[test]
    fn permutations_across_batches_are_uniform() {
        // Size 9: bounds 9..4 share a word, then 3 and 2. Every element is at every position
        // equally often, and the partner of each step is independent of the next step's.
        let (size, runs) = (9usize, 9_000);
        let mut at = vec![[0u32; 9]; size];
        let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
        let mut perm = Vec::new();
        for epoch in 0..runs as u64 {
            shuffle_into(3, 1, epoch, size as u64, &mut perm);
            for (pos, &v) in perm.iter().enumerate() {
                at[pos][v as usize] += 1;
            }
            *pairs.entry((perm[3], perm[2])).or_default() += 1;
        }
        assert!(at.iter().flatten().all(|&c| (850..1150).contains(&c)), "{at:?}");
        assert_eq!(pairs.len(), 72);
        assert!(pairs.values().all(|&c| (70..190).contains(&c)), "{pairs:?}");
    }
}
