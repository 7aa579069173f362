//! The hot loops: draws in bulk into an output slice, with and without replacement. They
//! make exactly the draws that drawing item by item (`MixtureSampler::next_item`) makes,
//! which is their test oracle.

use super::alias::AliasTable;
use super::shuffle::shuffle_into;
use super::words::{bounded, bounded64, Words};
use rand::RngCore;

/// One domain: its block of the concatenation, and where its current permutation stands.
#[derive(Clone, Debug, Default)]
pub(super) struct Domain {
    pub(super) size: u64,
    pub(super) offset: u64,
    pub(super) epoch: u64,
    pub(super) pos: u64,
    pub(super) dropped: bool,
    /// Permutation of this domain for `perm_epoch`, regenerated on demand.
    pub(super) perm: Vec<u32>,
    pub(super) perm_epoch: Option<u64>,
    /// Epochs completed during the current `draw_run` (for the counts).
    pub(super) rolled: u64,
}

impl Domain {
    pub(super) fn ensure_perm(&mut self, seed: u64, d: usize) {
        self.rolled = 0;
        if self.perm_epoch != Some(self.epoch) {
            shuffle_into(seed, d, self.epoch, self.size, &mut self.perm);
            self.perm_epoch = Some(self.epoch);
        }
    }

    /// The permutation ran out: on to the next epoch's.
    #[cold]
    #[inline(never)]
    pub(super) fn next_epoch(&mut self, seed: u64, d: usize) {
        self.epoch += 1;
        self.pos = 0;
        self.rolled += 1;
        shuffle_into(seed, d, self.epoch, self.size, &mut self.perm);
        self.perm_epoch = Some(self.epoch);
    }
}

/// Draws into `out`, each the next example of its domain's permutation, until `out` is full
/// or (unless `reshuffle`) a domain gives its last unseen example. Returns the draws made and
/// that domain. A function of its own, so that the compiler sees that the table, domains,
/// stream and output cannot alias; the draws go in pairs, one generator output each, so that
/// the generator stays in registers.
#[inline(never)]
pub(super) fn draw_block(
    table: &AliasTable,
    domains: &mut [Domain],
    seed: u64,
    reshuffle: bool,
    stream: &mut Words,
    out: &mut [i64],
) -> (usize, Option<usize>) {
    // The loop below indexes without bounds checks (they were a sixth of its time). It may:
    // the table has a slot and names only live domains, each of which has its permutation
    // and an example left (checked here), and a draw that takes a domain's last example
    // either ends the run or starts the domain's next permutation.
    let slots = &table.slots[..];
    assert!(!slots.is_empty() && table.live.last().is_some_and(|&d| d < domains.len()));
    for &d in &table.live {
        let dom = &domains[d];
        assert!(dom.perm.len() as u64 == dom.size && dom.pos < dom.size);
    }
    // One draw (the domain as `AliasTable::sample` picks it); `Some(domain)` if it ended the run.
    let mut draw = |w: u32, slot: &mut i64| {
        let x = w as u64 * slots.len() as u64;
        // SAFETY: x >> 32 < slots.len() since w < 2^32, and a slot's domains are live.
        let s = unsafe { slots.get_unchecked((x >> 32) as usize) };
        let d = (if (x as u32) < s.threshold { s.domain } else { s.alias }) as usize;
        let dom = unsafe { domains.get_unchecked_mut(d) };
        // SAFETY: pos < size = perm.len() for a live domain (see above).
        *slot = (dom.offset + unsafe { *dom.perm.get_unchecked(dom.pos as usize) } as u64) as i64;
        dom.pos += 1;
        if dom.pos == dom.size {
            if !reshuffle {
                return Some(d);
            }
            dom.next_epoch(seed, d);
        }
        None
    };
    let mut n = 0;
    if let (Some(high), Some(slot)) = (stream.pending, out.first_mut()) {
        stream.pending = None;
        n = 1;
        if let Some(d) = draw(high, slot) {
            return (n, Some(d));
        }
    }
    let mut rng = stream.rng.clone();
    let mut pairs = out[n..].chunks_exact_mut(2);
    for pair in &mut pairs {
        let w = rng.next_u64();
        if let Some(d) = draw(w as u32, &mut pair[0]) {
            stream.rng = rng;
            stream.pending = Some((w >> 32) as u32);
            return (n + 1, Some(d));
        }
        let exhausted = draw((w >> 32) as u32, &mut pair[1]);
        n += 2;
        if exhausted.is_some() {
            stream.rng = rng;
            return (n, exhausted);
        }
    }
    if let Some(slot) = pairs.into_remainder().first_mut() {
        let w = rng.next_u64();
        stream.pending = Some((w >> 32) as u32);
        n += 1;
        if let Some(d) = draw(w as u32, slot) {
            stream.rng = rng;
            return (n, Some(d));
        }
    }
    stream.rng = rng;
    (n, None)
}

/// Draws with replacement into `out`: a word for the domain, one for the example (two if the
/// domain is larger than 2^32, more on a rejection). `count`: count them.
#[inline(never)]
pub(super) fn draw_with_replacement(
    table: &AliasTable,
    domains: &[Domain],
    stream: &mut Words,
    counts: &mut [u64],
    count: bool,
    out: &mut [i64],
) {
    let mut words = stream.clone();
    for slot in out.iter_mut() {
        let d = table.sample(words.next());
        let dom = &domains[d];
        let j = match u32::try_from(dom.size) {
            Ok(size) => bounded(size, || words.next()) as u64,
            Err(_) => bounded64(dom.size, || {
                let low = words.next() as u64;
                low | (words.next() as u64) << 32
            }),
        };
        *slot = (dom.offset + j) as i64;
        if count {
            counts[d] += 1;
        }
    }
    *stream = words;
}

#[cfg(test)]
mod tests {
    use crate::sampler::tests::{sampler, take};
    use crate::sampler::Config;

    #[test]
    fn with_replacement_bulk_and_one_by_one_agree_through_rejections() {
        // 2^32 mod (3·2^30) = 2^30: a quarter of the words for the first domain are redrawn;
        // the second needs two words per example. Bulk draws must take exactly the words that
        // draws one at a time take.
        let sizes = [3u64 << 30, 1 << 40, 5];
        let edit = |c: &mut Config| {
            c.replacement = true;
            c.seed = 9;
        };
        let mut a = sampler(&sizes, &[1.0, 1.0, 1.0], edit);
        let mut b = sampler(&sizes, &[1.0, 1.0, 1.0], edit);
        let one = take(&mut a, 3000);
        let mut bulk = vec![0i64; 3000];
        assert_eq!(b.fill(&mut bulk), 3000);
        assert_eq!(bulk.iter().map(|&i| i as u64).collect::<Vec<_>>(), one);
        assert_eq!(a.state_json(), b.state_json());
        let first: Vec<u64> = one.iter().copied().filter(|&i| i < sizes[0]).collect();
        let second: Vec<u64> = one.iter().map(|&i| i.wrapping_sub(sizes[0])).filter(|&i| i < sizes[1]).collect();
        assert!(first.len() > 900 && second.len() > 900);
        // Both halves of each domain are hit about equally (a biased or truncated draw is not).
        let upper = first.iter().filter(|&&i| i >= sizes[0] / 2).count() as f64 / first.len() as f64;
        assert!((upper - 0.5).abs() < 0.06, "{upper}");
        let upper = second.iter().filter(|&&i| i >= sizes[1] / 2).count() as f64 / second.len() as f64;
        assert!((upper - 0.5).abs() < 0.06, "{upper}");
    }
}
