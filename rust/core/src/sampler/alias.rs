//! The alias table (Walker/Vose) that picks a domain by weight from one 32-bit word.

const ONE: u64 = 1 << 32; // alias thresholds are probabilities in units of 2^-32

#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    /// Probability of `domain` (rather than `alias`) in units of 2^-32; a slot that always
    /// gives its own domain has `alias == domain`.
    pub(super) threshold: u32,
    pub(super) domain: u32,
    pub(super) alias: u32,
}

/// Walker/Vose alias table over the domains with positive weight that are still active.
/// Zero-weight or dropped domains have no slot at all, so they can never be drawn.
#[derive(Clone, Debug, Default)]
pub(super) struct AliasTable {
    pub(super) slots: Vec<Slot>,
    /// The domains that can be drawn, in increasing order.
    pub(super) live: Vec<usize>,
}

impl AliasTable {
    pub(super) fn new(weights: &[f64], dropped: &[bool]) -> Self {
        let ids: Vec<u32> = (0..weights.len()).filter(|&d| weights[d] > 0.0 && !dropped[d]).map(|d| d as u32).collect();
        let n = ids.len();
        if n == 0 {
            return AliasTable::default();
        }
        let total: f64 = ids.iter().map(|&d| weights[d as usize]).sum();
        let mut p: Vec<f64> = ids.iter().map(|&d| weights[d as usize] * n as f64 / total).collect();
        let mut slots: Vec<Slot> = ids.iter().map(|&d| Slot { threshold: u32::MAX, domain: d, alias: d }).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| p[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            // `as u64` saturates: a slightly negative p from rounding becomes 0. A p that
            // rounds to 1 keeps the slot's own domain.
            let threshold = (p[s] * ONE as f64).round() as u64;
            if threshold < ONE {
                slots[s].threshold = threshold as u32;
                slots[s].alias = ids[l];
            }
            p[l] = (p[l] + p[s]) - 1.0;
            if p[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left (in either list) is 1 up to rounding: keeps its own domain.
        let live = ids.iter().map(|&d| d as usize).collect();
        AliasTable { slots, live }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// One 32-bit word: `word × n` has the slot in its high half and, in its low half, a
    /// fraction that is uniform to within n·2^-32, which flips the slot's coin.
    #[inline(always)]
    pub(super) fn sample(&self, word: u32) -> usize {
        let x = word as u64 * self.slots.len() as u64;
        let slot = self.slots[(x >> 32) as usize];
        (if (x as u32) < slot.threshold { slot.domain } else { slot.alias }) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn alias_table_realises_the_weights() {
        let w = [0.5, 0.0, 0.3, 0.2];
        let table = AliasTable::new(&w, &[false; 4]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut hits = [0u64; 4];
        let n = 400_000;
        for _ in 0..n {
            hits[table.sample(rng.next_u32())] += 1;
        }
        assert_eq!(hits[1], 0, "a zero-weight domain was drawn");
        for d in [0, 2, 3] {
            let share = hits[d] as f64 / n as f64;
            assert!((share - w[d]).abs() < 0.005, "domain {d}: {share} vs {}", w[d]);
        }
    }
}
