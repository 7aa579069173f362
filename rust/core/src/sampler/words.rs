//! The draw stream's random words, and exactly unbiased bounded integers drawn from them.

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Uniform integer in `0..bound` (bound >= 1) from the 32-bit words `next` gives, exactly
/// unbiased (Lemire's multiply-and-reject): almost always one word.
#[inline(always)]
pub(super) fn bounded(bound: u32, mut next: impl FnMut() -> u32) -> u32 {
    let mut m = next() as u64 * bound as u64;
    if (m as u32) < bound {
        let reject = bound.wrapping_neg() % bound;
        while (m as u32) < reject {
            m = next() as u64 * bound as u64;
        }
    }
    (m >> 32) as u32
}

/// Uniform integer in `0..bound` (bound >= 1) from the 64-bit words `next` gives, exactly
/// unbiased (Lemire's multiply-and-reject).
#[inline]
pub(super) fn bounded64(bound: u64, mut next: impl FnMut() -> u64) -> u64 {
    let mut m = next() as u128 * bound as u128;
    if (m as u64) < bound {
        let reject = bound.wrapping_neg() % bound;
        while (m as u64) < reject {
            m = next() as u128 * bound as u128;
        }
    }
    (m >> 64) as u64
}

/// The draw stream: 32-bit words, the low then the high half of each 64-bit output of
/// xoshiro256++ seeded with the seed. Its exact position is the generator's state and the
/// high half not used yet, which is what a saved state holds (the generator saves as its four
/// state words, `{"s": [..]}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Words {
    pub(super) rng: Xoshiro256PlusPlus,
    pub(super) pending: Option<u32>,
}

impl Words {
    pub(super) fn new(seed: u64) -> Self {
        Words { rng: Xoshiro256PlusPlus::seed_from_u64(seed), pending: None }
    }

    #[inline(always)]
    pub(super) fn next(&mut self) -> u32 {
        match self.pending.take() {
            Some(high) => high,
            None => {
                let w = self.rng.next_u64();
                self.pending = Some((w >> 32) as u32);
                w as u32
            }
        }
    }

    /// Whether the generator is in the all-zero state, from which xoshiro yields only zeros:
    /// seeding never gives it, so only a corrupt saved state can.
    pub(super) fn is_degenerate(&self) -> bool {
        serde_json::from_str::<Xoshiro256PlusPlus>(r#"{"s":[0,0,0,0]}"#).is_ok_and(|zero| zero == self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_the_halves_of_the_generator_outputs_and_resume_mid_pair() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let halves: Vec<u32> = (0..50)
            .flat_map(|_| {
                let w = rng.next_u64();
                [w as u32, (w >> 32) as u32]
            })
            .collect();
        let mut words = Words::new(3);
        let mut got: Vec<u32> = (0..41).map(|_| words.next()).collect();
        // Saved after an odd number of words, with the high half pending.
        assert!(words.pending.is_some());
        let mut resumed: Words = serde_json::from_str(&serde_json::to_string(&words).unwrap()).unwrap();
        assert_eq!(resumed.rng, words.rng);
        assert!(!resumed.is_degenerate());
        got.extend((41..100).map(|_| resumed.next()));
        assert_eq!(got, halves);
        assert_ne!(Words::new(4).next(), Words::new(3).next());
    }

    #[test]
    fn bounded_is_uniform_and_rejects_the_biased_zone() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut seen = [0u32; 7];
        for _ in 0..70_000 {
            seen[bounded(7, || rng.next_u32()) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (9_500..10_500).contains(&c)), "{seen:?}");
        assert_eq!(bounded(1, || rng.next_u32()), 0);
        // 2^32 mod 3 = 1: the word 0 falls in the zone that would favour 0, and is redrawn.
        let mut words = [0u32, u32::MAX].into_iter();
        assert_eq!(bounded(3, || words.next().unwrap()), 2);
        assert_eq!(words.next(), None);
    }
}
