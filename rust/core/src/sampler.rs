//! Weighted multi-domain sampling: the stream behind `modomodo.sampling.MixtureSampler`.
//!
//! The domains are concatenated in the given order; an index is `offset[d] + local index`.
//!
//! There is one *global* stream of draws. A draw picks a domain by weight (an alias table:
//! one random word, O(1)), then an example of it: the next entry of a seeded permutation of
//! that domain's current epoch (without replacement) or a uniform one (with replacement).
//! The draws are cut into chunks of `batch_size × world_size`; rank `r` owns the `r`-th
//! block of `batch_size` draws of every chunk (the layout Accelerate gives a sharded global
//! batch) and yields the block `repeat_count` times, each draw `num_generations` times in a
//! row: TRL's `RepeatSampler` layout, so a GRPO group never straddles two ranks. Every rank
//! replays the whole global stream, so the ranks agree without communicating. Only complete
//! chunks are ever yielded.
//!
//! When a domain's permutation runs out: `Reshuffle` starts a new epoch of it, `Stop` ends
//! the stream right after that draw (MoDoMoDo), `Drop` removes the domain and renormalises
//! the others (the stream ends when none is left). With replacement nothing runs out.
//!
//! Streams that never end (reshuffle, or with replacement) are cut into epochs of a nominal
//! length (one pass over the positive-weight domains); the finite ones are one epoch.
//!
//! The state is small (generator state, per-domain epoch and position, the current chunk)
//! and saves/restores exactly; permutations are regenerated from `(seed, domain, epoch)`.
//!
//! The generator is xoshiro256++ (`rand_xoshiro`): a fixed, published algorithm (so the
//! streams do not change with a library version), seedable, its whole state four words that
//! the state saves, and several times faster than ChaCha8, which was two fifths of the cost
//! of a draw. Nothing here needs a cryptographic generator.

use crate::error::{Error, Result};
use rand::{RngCore, SeedableRng};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};
use serde_json::{json, Value};

const STATE_VERSION: u64 = 3;
const ONE: u64 = 1 << 32; // alias thresholds are probabilities in units of 2^-32

/// What happens when a domain has no unseen example left (sampling without replacement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExhausted {
    Reshuffle,
    Stop,
    Drop,
}

impl OnExhausted {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "reshuffle" => Ok(Self::Reshuffle),
            "stop" => Ok(Self::Stop),
            "drop" => Ok(Self::Drop),
            _ => Err(Error::invalid("on_exhausted", s, "one of 'reshuffle', 'stop', 'drop'")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Reshuffle => "reshuffle",
            Self::Stop => "stop",
            Self::Drop => "drop",
        }
    }
}

/// Everything that defines a stream. `weights` need not be normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub names: Vec<String>,
    pub sizes: Vec<u64>,
    pub weights: Vec<f64>,
    pub seed: u64,
    pub num_generations: u64,
    pub replacement: bool,
    pub on_exhausted: OnExhausted,
    pub rank: u64,
    pub world_size: u64,
    /// Distinct draws per rank in one chunk (TRL: generation batch / num_generations / world).
    pub batch_size: u64,
    /// Times a rank's block of a chunk is yielded (TRL: num_iterations × steps_per_generation).
    pub repeat_count: u64,
}

impl Config {
    /// A config with the defaults of `MixtureSampler` (seed 0, one generation, one rank).
    pub fn new(names: Vec<String>, sizes: Vec<u64>, weights: Vec<f64>) -> Self {
        Config {
            names,
            sizes,
            weights,
            seed: 0,
            num_generations: 1,
            replacement: false,
            on_exhausted: OnExhausted::Reshuffle,
            rank: 0,
            world_size: 1,
            batch_size: 1,
            repeat_count: 1,
        }
    }
}

/// Checks weights against the domains: finite, non-negative, not all zero, and no positive
/// weight on an empty domain.
fn check_weights(names: &[String], sizes: &[u64], weights: &[f64]) -> Result<()> {
    if weights.len() != names.len() {
        return Err(Error::length_mismatch("weights", weights.len(), "domain_sizes", names.len()));
    }
    for ((name, &w), &size) in names.iter().zip(weights).zip(sizes) {
        if !w.is_finite() || w < 0.0 {
            return Err(Error::invalid(&format!("weight of domain {name:?}"), w, "a finite number >= 0"));
        }
        if w > 0.0 && size == 0 {
            return Err(Error::invalid(
                &format!("size of domain {name:?}"),
                size,
                &format!("at least 1, since its weight {w} is positive"),
            ));
        }
    }
    let total: f64 = weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::invalid("weights", weights, "at least one positive weight and a finite sum"));
    }
    Ok(())
}

/// Checked weights normalised to sum 1.
fn normalised_weights(names: &[String], sizes: &[u64], weights: &[f64]) -> Result<Vec<f64>> {
    check_weights(names, sizes, weights)?;
    let total: f64 = weights.iter().sum();
    Ok(weights.iter().map(|w| w / total).collect())
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Probability of `domain` (rather than `alias`) in units of 2^-32; a slot that always
    /// gives its own domain has `alias == domain`.
    threshold: u32,
    domain: u32,
    alias: u32,
}

/// Walker/Vose alias table over the domains with positive weight that are still active.
/// Zero-weight or dropped domains have no slot at all, so they can never be drawn.
#[derive(Clone, Debug, Default)]
struct AliasTable {
    slots: Vec<Slot>,
    /// The domains that can be drawn, in increasing order.
    live: Vec<usize>,
}

impl AliasTable {
    fn new(weights: &[f64], dropped: &[bool]) -> Self {
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

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// One 32-bit word: `word × n` has the slot in its high half and, in its low half, a
    /// fraction that is uniform to within n·2^-32, which flips the slot's coin.
    #[inline(always)]
    fn sample(&self, word: u32) -> usize {
        let x = word as u64 * self.slots.len() as u64;
        let slot = self.slots[(x >> 32) as usize];
        (if (x as u32) < slot.threshold { slot.domain } else { slot.alias }) as usize
    }
}

/// Uniform integer in `0..bound` (bound >= 1) from the 32-bit words `next` gives, exactly
/// unbiased (Lemire's multiply-and-reject): almost always one word.
#[inline(always)]
fn bounded(bound: u32, mut next: impl FnMut() -> u32) -> u32 {
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
fn bounded64(bound: u64, mut next: impl FnMut() -> u64) -> u64 {
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
/// high half not used yet.
#[derive(Clone, Debug)]
struct Words {
    rng: Xoshiro256PlusPlus,
    pending: Option<u32>,
}

impl Words {
    fn new(seed: u64) -> Self {
        Words { rng: Xoshiro256PlusPlus::seed_from_u64(seed), pending: None }
    }

    #[inline(always)]
    fn next(&mut self) -> u32 {
        match self.pending.take() {
            Some(high) => high,
            None => {
                let w = self.rng.next_u64();
                self.pending = Some((w >> 32) as u32);
                w as u32
            }
        }
    }

    /// The generator's four state words.
    fn state(&self) -> [u64; 4] {
        // rand_xoshiro shows its state only through serde: `{"s": [..4 words]}`.
        let v = serde_json::to_value(&self.rng).unwrap_or(Value::Null);
        let mut s = [0u64; 4];
        for (i, w) in s.iter_mut().enumerate() {
            *w = v["s"][i].as_u64().unwrap_or(0);
        }
        s
    }

    /// The stream at a saved state (`from_seed` takes the state words, little-endian).
    fn from_state(s: [u64; 4], pending: Option<u32>) -> Self {
        let mut bytes = [0u8; 32];
        for (chunk, w) in bytes.chunks_exact_mut(8).zip(s) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Words { rng: Xoshiro256PlusPlus::from_seed(bytes), pending }
    }
}

#[derive(Clone, Debug, Default)]
struct Domain {
    size: u64,
    offset: u64,
    epoch: u64,
    pos: u64,
    dropped: bool,
    /// Permutation of this domain for `perm_epoch`, regenerated on demand.
    perm: Vec<u32>,
    perm_epoch: Option<u64>,
    /// Epochs completed during the current `draw_run` (for the counts).
    rolled: u64,
}

impl Domain {
    fn ensure_perm(&mut self, seed: u64, d: usize) {
        self.rolled = 0;
        if self.perm_epoch != Some(self.epoch) {
            shuffle_into(seed, d, self.epoch, self.size, &mut self.perm);
            self.perm_epoch = Some(self.epoch);
        }
    }

    /// The permutation ran out: on to the next epoch's.
    #[cold]
    #[inline(never)]
    fn next_epoch(&mut self, seed: u64, d: usize) {
        self.epoch += 1;
        self.pos = 0;
        self.rolled += 1;
        shuffle_into(seed, d, self.epoch, self.size, &mut self.perm);
        self.perm_epoch = Some(self.epoch);
    }
}

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
fn shuffle_into(seed: u64, domain: usize, epoch: u64, size: u64, perm: &mut Vec<u32>) {
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

/// Draws into `out`, each the next example of its domain's permutation, until `out` is full
/// or (unless `reshuffle`) a domain gives its last unseen example. Returns the draws made and
/// that domain. A function of its own, so that the compiler sees that the table, domains,
/// stream and output cannot alias; the draws go in pairs, one generator output each, so that
/// the generator stays in registers.
#[inline(never)]
fn draw_block(
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
fn draw_with_replacement(
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

/// The sampler: a deterministic state machine yielding this rank's indices.
#[derive(Debug)]
pub struct MixtureSampler {
    cfg: Config,
    offsets: Vec<u64>,
    weights: Vec<f64>,
    table: AliasTable,
    words: Words,
    domains: Vec<Domain>,
    counts: Vec<u64>,
    global_draws: u64,
    /// Stop mode: a domain ran out; no further draw is made.
    halted: bool,
    /// No further chunk can be completed: the output stream has ended.
    ended: bool,
    /// This rank's draws in the current chunk, and how many items of it were yielded.
    chunk: Vec<u64>,
    cursor: u64,
    chunk_domains: Vec<u32>,
    epoch: u64,
    epoch_pos: u64,
    epoch_len: u64,
}

impl MixtureSampler {
    pub fn new(cfg: Config) -> Result<Self> {
        let k = cfg.names.len();
        if k == 0 {
            return Err(Error::invalid("domain_sizes", "[]", "at least one domain"));
        }
        if cfg.sizes.len() != k {
            return Err(Error::length_mismatch("domain_sizes", cfg.sizes.len(), "domain names", k));
        }
        for (i, name) in cfg.names.iter().enumerate() {
            if cfg.names[..i].contains(name) {
                return Err(Error::invalid("domain name", name, "names that are all different"));
            }
        }
        let weights = normalised_weights(&cfg.names, &cfg.sizes, &cfg.weights)?;
        if !cfg.replacement {
            for (name, &size) in cfg.names.iter().zip(&cfg.sizes) {
                if size > u32::MAX as u64 {
                    return Err(Error::invalid(
                        &format!("size of domain {name:?}"),
                        size,
                        "at most 2^32 - 1 when sampling without replacement",
                    ));
                }
            }
        }
        for (name, value) in [
            ("num_generations", cfg.num_generations),
            ("world_size", cfg.world_size),
            ("batch_size", cfg.batch_size),
            ("repeat_count", cfg.repeat_count),
        ] {
            if value < 1 {
                return Err(Error::invalid(name, value, "an integer >= 1"));
            }
        }
        if cfg.rank >= cfg.world_size {
            return Err(Error::invalid(
                "rank",
                cfg.rank,
                &format!("an integer in 0..world_size (world_size is {})", cfg.world_size),
            ));
        }
        let chunk_items = cfg.batch_size.checked_mul(cfg.num_generations).and_then(|x| x.checked_mul(cfg.repeat_count));
        if chunk_items.is_none() || cfg.batch_size.checked_mul(cfg.world_size).is_none() {
            return Err(Error::invalid(
                "batch_size",
                cfg.batch_size,
                "batch_size × num_generations × repeat_count and batch_size × world_size below 2^64",
            ));
        }
        let mut offsets = Vec::with_capacity(k);
        let mut total: u64 = 0;
        for &size in &cfg.sizes {
            offsets.push(total);
            total = total
                .checked_add(size)
                .ok_or_else(|| Error::invalid("domain_sizes", &cfg.sizes, "a total below 2^64"))?;
        }
        let domains = (0..k).map(|d| Domain { size: cfg.sizes[d], offset: offsets[d], ..Domain::default() }).collect();
        let dropped = vec![false; k];
        let mut sampler = MixtureSampler {
            table: AliasTable::new(&weights, &dropped),
            words: Words::new(cfg.seed),
            offsets,
            weights,
            domains,
            counts: vec![0; k],
            global_draws: 0,
            halted: false,
            ended: false,
            chunk: Vec::new(),
            cursor: 0,
            chunk_domains: Vec::new(),
            epoch: 0,
            epoch_pos: 0,
            epoch_len: 0,
            cfg,
        };
        sampler.epoch_len = sampler.nominal_epoch_len();
        Ok(sampler)
    }

    // ---- read-only views -------------------------------------------------------------

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current weights, normalised to sum 1 (before any domain was dropped).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Draws made for this rank per domain (each draw once, not per repetition).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Domains removed by `Drop` mode.
    pub fn dropped(&self) -> Vec<bool> {
        self.domains.iter().map(|d| d.dropped).collect()
    }

    /// Draws of the global stream made so far (all ranks' shares).
    pub fn global_draws(&self) -> u64 {
        self.global_draws
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The domain whose block of the concatenation holds `index`.
    pub fn domain_of(&self, index: u64) -> Result<usize> {
        let total = self.offsets.last().copied().unwrap_or(0) + self.cfg.sizes.last().copied().unwrap_or(0);
        if index >= total {
            return Err(Error::invalid("index", index, &format!("an index in 0..{total}")));
        }
        // The last domain whose offset is <= index and that is not empty.
        let d = self.offsets.partition_point(|&o| o <= index) - 1;
        Ok(d)
    }

    /// True when the stream never ends (with replacement, or `Reshuffle`).
    pub fn is_infinite(&self) -> bool {
        self.cfg.replacement || self.cfg.on_exhausted == OnExhausted::Reshuffle
    }

    fn chunk_items(&self) -> u64 {
        self.cfg.batch_size * self.cfg.num_generations * self.cfg.repeat_count
    }

    fn global_chunk(&self) -> u64 {
        self.cfg.batch_size * self.cfg.world_size
    }

    fn items_left_in_chunk(&self) -> u64 {
        (self.chunk.len() as u64 * self.cfg.num_generations * self.cfg.repeat_count).saturating_sub(self.cursor)
    }

    /// Items of an epoch of an infinite stream: one pass over the positive-weight domains
    /// rounded down to whole chunks (at least one chunk).
    fn nominal_epoch_len(&self) -> u64 {
        let draws: u64 = (0..self.weights.len()).filter(|&d| self.weights[d] > 0.0).map(|d| self.cfg.sizes[d]).sum();
        (draws / self.global_chunk()).max(1).saturating_mul(self.chunk_items())
    }

    /// Items still to come in a finite stream, exactly (simulates `Stop` mode's domain
    /// choices, which are the only use of the draw RNG without replacement).
    pub fn remaining_items(&self) -> Option<u64> {
        if self.is_infinite() {
            return None;
        }
        let future_draws = if self.halted || self.table.is_empty() {
            0
        } else {
            let mut left: Vec<u64> = (0..self.domains.len()).map(|d| self.cfg.sizes[d] - self.domains[d].pos).collect();
            match self.cfg.on_exhausted {
                OnExhausted::Drop => (0..left.len())
                    .filter(|&d| self.weights[d] > 0.0 && !self.domains[d].dropped)
                    .map(|d| left[d])
                    .sum(),
                _ => {
                    let mut words = self.words.clone();
                    let mut n = 0u64;
                    loop {
                        let d = self.table.sample(words.next());
                        n += 1;
                        if left[d] <= 1 {
                            break n;
                        }
                        left[d] -= 1;
                    }
                }
            }
        };
        let chunks = if self.ended { 0 } else { future_draws / self.global_chunk() };
        Some(self.items_left_in_chunk() + chunks * self.chunk_items())
    }

    /// Length of the current epoch in items: for an infinite stream its nominal length (the
    /// next epoch's once the current one is complete); for a finite one, everything yielded
    /// so far plus everything still to come.
    pub fn epoch_len(&self) -> u64 {
        match self.remaining_items() {
            Some(rest) => self.epoch_pos + rest,
            None if self.epoch_pos >= self.epoch_len => self.nominal_epoch_len(),
            None => self.epoch_len,
        }
    }

    /// Items of the current epoch already yielded.
    pub fn epoch_pos(&self) -> u64 {
        self.epoch_pos
    }

    // ---- drawing ---------------------------------------------------------------------

    /// The hot loop: global draws into `out` until it is full or a draw takes the last
    /// unseen example of a domain under `Stop`/`Drop`. Returns how many draws were made and
    /// that domain. `count`: the draws are all this rank's, count them.
    #[inline]
    fn draw_run(&mut self, out: &mut [i64], count: bool) -> (usize, Option<usize>) {
        let MixtureSampler { table, words, domains, counts, cfg, .. } = self;
        if cfg.replacement {
            draw_with_replacement(table, domains, words, counts, count, out);
            return (out.len(), None);
        }
        // The per-domain counts are the advances of the positions.
        for &d in &table.live {
            domains[d].ensure_perm(cfg.seed, d);
            if count {
                counts[d] = counts[d].wrapping_sub(domains[d].pos);
            }
        }
        let reshuffle = cfg.on_exhausted == OnExhausted::Reshuffle;
        let (n, exhausted) = draw_block(table, domains, cfg.seed, reshuffle, words, out);
        if count {
            for &d in &table.live {
                let dom = &domains[d];
                // A reshuffled domain went through whole epochs since `pos` was subtracted.
                counts[d] = counts[d].wrapping_add(dom.pos).wrapping_add(dom.rolled * dom.size);
            }
        }
        (n, exhausted)
    }

    /// Domain `d` has just given its last unseen example.
    fn exhaust(&mut self, d: usize) {
        let dom = &mut self.domains[d];
        match self.cfg.on_exhausted {
            // Handled in `draw_run` itself.
            OnExhausted::Reshuffle => {}
            OnExhausted::Stop => self.halted = true,
            OnExhausted::Drop => {
                dom.dropped = true;
                dom.perm = Vec::new();
                dom.perm_epoch = None;
                self.rebuild_table();
            }
        }
    }

    /// Up to `out.len()` global draws; fewer only when the global stream has ended.
    /// `count`: the draws are all this rank's, count them.
    fn draw_into(&mut self, out: &mut [i64], count: bool) -> usize {
        let mut n = 0;
        while n < out.len() && !(self.halted || self.table.is_empty()) {
            let (done, exhausted) = self.draw_run(&mut out[n..], count);
            n += done;
            if let Some(d) = exhausted {
                self.exhaust(d);
            }
        }
        self.global_draws += n as u64;
        n
    }

    fn rebuild_table(&mut self) {
        self.table = AliasTable::new(&self.weights, &self.dropped());
    }

    /// Draws the next global chunk and keeps this rank's block; false if the stream ended.
    fn next_chunk(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let (b, first) = (self.cfg.batch_size as usize, (self.cfg.rank * self.cfg.batch_size) as usize);
        let mut global = vec![0i64; self.global_chunk() as usize];
        self.chunk.clear();
        self.chunk_domains.clear();
        self.cursor = 0;
        if self.draw_into(&mut global, false) < global.len() {
            // An incomplete chunk is never yielded, on any rank.
            self.ended = true;
            return false;
        }
        for &index in &global[first..first + b] {
            let d = self.domain_of(index as u64).unwrap_or(0);
            self.chunk.push(index as u64);
            self.chunk_domains.push(d as u32);
            self.counts[d] += 1;
        }
        true
    }

    /// The next item, ignoring epoch boundaries (an infinite stream rolls into the next
    /// epoch); `None` once a finite stream has ended.
    pub fn next_item(&mut self) -> Option<u64> {
        if self.is_infinite() && self.epoch_pos >= self.epoch_len {
            self.roll_epoch();
        }
        self.produce()
    }

    /// The next item of the current epoch; `None` at the end of the epoch.
    pub fn next_in_epoch(&mut self) -> Option<u64> {
        if self.is_infinite() && self.epoch_pos >= self.epoch_len {
            return None;
        }
        self.produce()
    }

    /// Called when an iteration begins: a complete epoch gives way to the next one; an
    /// epoch in progress (e.g. restored from a state) is continued.
    pub fn begin_epoch(&mut self) {
        if self.is_infinite() && self.epoch_pos >= self.epoch_len {
            self.roll_epoch();
        }
    }

    fn roll_epoch(&mut self) {
        self.epoch += 1;
        self.epoch_pos = 0;
        self.epoch_len = self.nominal_epoch_len();
    }

    #[inline]
    fn produce(&mut self) -> Option<u64> {
        let (g, r) = (self.cfg.num_generations, self.cfg.repeat_count);
        if self.cursor >= self.chunk.len() as u64 * g * r && !self.next_chunk() {
            return None;
        }
        let j = if g == 1 && r == 1 { self.cursor } else { (self.cursor % (self.chunk.len() as u64 * g)) / g };
        self.cursor += 1;
        self.epoch_pos += 1;
        Some(self.chunk[j as usize])
    }

    /// Fills `out` with the next items (across epochs); returns how many were written,
    /// fewer than `out.len()` only when a finite stream ended.
    pub fn fill(&mut self, out: &mut [i64]) -> usize {
        let c = &self.cfg;
        let simple = c.batch_size == 1 && c.world_size == 1 && c.num_generations == 1 && c.repeat_count == 1;
        let mut n = 0;
        while n < out.len() {
            if !simple || self.cursor < self.chunk.len() as u64 {
                // The general path, or an item restored from a state and not yet yielded.
                match self.next_item() {
                    Some(i) => out[n] = i as i64,
                    None => return n,
                }
                n += 1;
                continue;
            }
            // One draw per item: the same stream and state as `next_item`, minus the
            // per-item chunk bookkeeping.
            if self.ended {
                return n;
            }
            if self.is_infinite() && self.epoch_pos >= self.epoch_len {
                self.roll_epoch();
            }
            let room = (out.len() - n) as u64;
            let budget = if self.is_infinite() { room.min(self.epoch_len - self.epoch_pos) } else { room };
            let want = budget as usize;
            let done = self.draw_into(&mut out[n..n + want], true);
            self.epoch_pos += done as u64;
            if done > 0 {
                let last = out[n + done - 1] as u64;
                self.chunk.clear();
                self.chunk.push(last);
                self.chunk_domains.clear();
                self.chunk_domains.push(self.domain_of(last).unwrap_or(0) as u32);
                self.cursor = 1;
            }
            n += done;
            if done < want {
                self.ended = true;
                self.chunk.clear();
                self.chunk_domains.clear();
                self.cursor = 0;
                return n;
            }
        }
        n
    }

    /// Skips `n` items (across epochs); returns how many were skipped.
    pub fn skip(&mut self, n: u64) -> u64 {
        for done in 0..n {
            if self.next_item().is_none() {
                return done;
            }
        }
        n
    }

    /// Moves forward to the start of epoch `epoch` (no-op if already there or past it).
    /// A finite stream has one epoch: any later epoch is its end.
    pub fn set_epoch(&mut self, epoch: u64) {
        if self.is_infinite() {
            while self.epoch < epoch {
                let rest = self.epoch_len.saturating_sub(self.epoch_pos);
                self.skip(rest);
                self.roll_epoch();
            }
        } else if epoch > self.epoch {
            while self.next_item().is_some() {}
            self.epoch = epoch;
            self.epoch_pos = 0;
        }
    }

    /// New weights (same domains, need not be normalised), used from the next draw on.
    /// Dropped domains stay dropped.
    pub fn set_weights(&mut self, weights: &[f64]) -> Result<()> {
        self.weights = normalised_weights(&self.cfg.names, &self.cfg.sizes, weights)?;
        self.rebuild_table();
        Ok(())
    }

    // ---- state -----------------------------------------------------------------------

    /// The exact state as JSON (config included, to refuse restoring into another stream).
    pub fn state_json(&self) -> String {
        let c = &self.cfg;
        json!({
            "version": STATE_VERSION,
            "config": {
                "names": c.names,
                "sizes": c.sizes,
                "seed": c.seed,
                "num_generations": c.num_generations,
                "replacement": c.replacement,
                "on_exhausted": c.on_exhausted.name(),
                "rank": c.rank,
                "world_size": c.world_size,
                "batch_size": c.batch_size,
                "repeat_count": c.repeat_count,
            },
            "weights": self.weights,
            // The exact bits: a decimal round trip may move a float by one ulp (serde_json's
            // default parser), and the alias table must be rebuilt from identical weights.
            "weight_bits": self.weights.iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
            "rng": self.words.state(),
            "rng_pending": self.words.pending,
            "domain_epoch": self.domains.iter().map(|d| d.epoch).collect::<Vec<_>>(),
            "domain_pos": self.domains.iter().map(|d| d.pos).collect::<Vec<_>>(),
            "dropped": self.dropped(),
            "counts": self.counts,
            "global_draws": self.global_draws,
            "halted": self.halted,
            "ended": self.ended,
            "chunk": self.chunk,
            "chunk_domains": self.chunk_domains,
            "cursor": self.cursor,
            "epoch": self.epoch,
            "epoch_pos": self.epoch_pos,
            "epoch_len": self.epoch_len,
        })
        .to_string()
    }

    /// Restores a state saved by `state_json` from a sampler with the same config.
    /// On error the sampler is left unchanged.
    pub fn load_state_json(&mut self, text: &str) -> Result<()> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::InvalidState(format!("not valid JSON: {e}")))?;
        let version = get_u64(&v, "version")?;
        if version != STATE_VERSION {
            return Err(Error::InvalidState(format!("version {version}, expected {STATE_VERSION}")));
        }
        let c = &self.cfg;
        let conf = field(&v, "config")?;
        let saved = Config {
            names: get_vec(conf, "names", |x| x.as_str().map(str::to_string))?,
            sizes: get_vec(conf, "sizes", Value::as_u64)?,
            weights: c.weights.clone(),
            seed: get_u64(conf, "seed")?,
            num_generations: get_u64(conf, "num_generations")?,
            replacement: get_bool(conf, "replacement")?,
            on_exhausted: OnExhausted::parse(field(conf, "on_exhausted")?.as_str().unwrap_or(""))
                .map_err(|e| Error::InvalidState(e.to_string()))?,
            rank: get_u64(conf, "rank")?,
            world_size: get_u64(conf, "world_size")?,
            batch_size: get_u64(conf, "batch_size")?,
            repeat_count: get_u64(conf, "repeat_count")?,
        };
        let mismatch = |what: &str, saved: String, ours: String| {
            Error::InvalidState(format!("the state was saved with {what} {saved} but this sampler has {ours}"))
        };
        macro_rules! same {
            ($f:ident) => {
                if saved.$f != c.$f {
                    return Err(mismatch(stringify!($f), format!("{:?}", saved.$f), format!("{:?}", c.$f)));
                }
            };
        }
        same!(names);
        same!(sizes);
        same!(seed);
        same!(num_generations);
        same!(replacement);
        same!(on_exhausted);
        same!(rank);
        same!(world_size);
        same!(batch_size);
        same!(repeat_count);

        let k = c.names.len();
        let weights: Vec<f64> = get_vec(&v, "weight_bits", Value::as_u64)?.into_iter().map(f64::from_bits).collect();
        check_weights(&c.names, &c.sizes, &weights).map_err(|e| Error::InvalidState(e.to_string()))?;
        let rng: [u64; 4] = get_vec(&v, "rng", Value::as_u64)?
            .try_into()
            .ok()
            .filter(|s: &[u64; 4]| s.iter().any(|&w| w != 0))
            .ok_or_else(|| Error::InvalidState("rng is not four words, not all zero".into()))?;
        let pending = match field(&v, "rng_pending")? {
            Value::Null => None,
            p => Some(
                p.as_u64()
                    .and_then(|p| u32::try_from(p).ok())
                    .ok_or_else(|| Error::InvalidState("rng_pending is neither null nor a 32-bit word".into()))?,
            ),
        };
        let domain_epoch = get_vec(&v, "domain_epoch", Value::as_u64)?;
        let domain_pos = get_vec(&v, "domain_pos", Value::as_u64)?;
        let dropped = get_vec(&v, "dropped", Value::as_bool)?;
        let counts = get_vec(&v, "counts", Value::as_u64)?;
        for (name, len) in [
            ("domain_epoch", domain_epoch.len()),
            ("domain_pos", domain_pos.len()),
            ("dropped", dropped.len()),
            ("counts", counts.len()),
        ] {
            if len != k {
                return Err(Error::InvalidState(format!("{name} has {len} entries for {k} domains")));
            }
        }
        let halted = get_bool(&v, "halted")?;
        for d in 0..k {
            // A position may equal the size only for a domain that ran out and was then
            // dropped (Drop) or ended the stream (Stop); otherwise the next draw would read
            // past the permutation.
            let (pos, size) = (domain_pos[d], c.sizes[d]);
            let ran_out = size > 0 && pos == size;
            let accounted = match c.on_exhausted {
                OnExhausted::Stop => halted,
                OnExhausted::Drop => dropped[d],
                OnExhausted::Reshuffle => false,
            };
            if pos > size || (ran_out && !accounted) || (c.replacement && pos != 0) {
                return Err(Error::InvalidState(format!(
                    "domain_pos {pos} of domain {:?} (size {size}) is inconsistent with the rest of the state",
                    c.names[d]
                )));
            }
        }
        let chunk = get_vec(&v, "chunk", Value::as_u64)?;
        let chunk_domains = get_vec(&v, "chunk_domains", |x| x.as_u64().and_then(|d| u32::try_from(d).ok()))?;
        let cursor = get_u64(&v, "cursor")?;
        let total: u64 = c.sizes.iter().sum();
        if !(chunk.is_empty() || chunk.len() as u64 == c.batch_size)
            || chunk_domains.len() != chunk.len()
            || chunk.iter().any(|&i| i >= total)
            || chunk_domains.iter().any(|&d| d as usize >= k)
            || cursor > chunk.len() as u64 * c.num_generations * c.repeat_count
        {
            return Err(Error::InvalidState("chunk, chunk_domains or cursor out of range".into()));
        }

        self.weights = weights;
        for d in 0..k {
            let dom = &mut self.domains[d];
            dom.epoch = domain_epoch[d];
            dom.pos = domain_pos[d];
            dom.dropped = dropped[d];
            dom.perm_epoch = None;
            dom.perm = Vec::new();
        }
        self.rebuild_table();
        self.words = Words::from_state(rng, pending);
        self.counts = counts;
        self.global_draws = get_u64(&v, "global_draws")?;
        self.halted = halted;
        self.ended = get_bool(&v, "ended")?;
        self.chunk = chunk;
        self.chunk_domains = chunk_domains;
        self.cursor = cursor;
        self.epoch = get_u64(&v, "epoch")?;
        self.epoch_pos = get_u64(&v, "epoch_pos")?;
        self.epoch_len = get_u64(&v, "epoch_len")?;
        Ok(())
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name).ok_or_else(|| Error::InvalidState(format!("missing field {name:?}")))
}

fn get_u64(v: &Value, name: &str) -> Result<u64> {
    field(v, name)?.as_u64().ok_or_else(|| Error::InvalidState(format!("{name} is not a non-negative integer")))
}

fn get_bool(v: &Value, name: &str) -> Result<bool> {
    field(v, name)?.as_bool().ok_or_else(|| Error::InvalidState(format!("{name} is not a boolean")))
}

fn get_vec<T>(v: &Value, name: &str, conv: impl Fn(&Value) -> Option<T>) -> Result<Vec<T>> {
    field(v, name)?
        .as_array()
        .and_then(|a| a.iter().map(conv).collect::<Option<Vec<T>>>())
        .ok_or_else(|| Error::InvalidState(format!("{name} is not a list of the expected type")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{
        any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig, Strategy,
    };
    use std::collections::HashMap;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("d{i}")).collect()
    }

    fn sampler(sizes: &[u64], weights: &[f64], edit: impl FnOnce(&mut Config)) -> MixtureSampler {
        let mut cfg = Config::new(names(sizes.len()), sizes.to_vec(), weights.to_vec());
        edit(&mut cfg);
        MixtureSampler::new(cfg).unwrap()
    }

    fn take(s: &mut MixtureSampler, n: usize) -> Vec<u64> {
        (0..n).map_while(|_| s.next_item()).collect()
    }

    fn all(s: &mut MixtureSampler) -> Vec<u64> {
        std::iter::from_fn(|| s.next_item()).collect()
    }

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
        let mut resumed = Words::from_state(words.state(), words.pending);
        assert_eq!(resumed.state(), words.state());
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

    #[test]
    fn without_replacement_each_domain_epoch_is_a_permutation() {
        let sizes = [5u64, 17, 3];
        let mut s = sampler(&sizes, &[1.0, 2.0, 1.0], |_| {});
        let out = take(&mut s, 2000);
        let mut per: Vec<Vec<u64>> = vec![Vec::new(); 3];
        for &i in &out {
            per[s.domain_of(i).unwrap()].push(i);
        }
        for (d, seq) in per.iter().enumerate() {
            let size = sizes[d] as usize;
            for epoch in seq.chunks(size).filter(|c| c.len() == size) {
                let mut e = epoch.to_vec();
                e.sort();
                let off: u64 = sizes[..d].iter().sum();
                assert_eq!(e, (off..off + sizes[d]).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn stop_ends_right_after_the_first_domain_runs_out() {
        let sizes = [10u64, 40, 30];
        let mut s = sampler(&sizes, &[0.5, 0.3, 0.2], |c| c.on_exhausted = OnExhausted::Stop);
        let expected = s.epoch_len();
        let out = all(&mut s);
        assert_eq!(out.len() as u64, expected);
        let last = s.domain_of(*out.last().unwrap()).unwrap();
        assert_eq!(s.counts()[last], sizes[last]);
        for (d, (&count, &size)) in s.counts().iter().zip(&sizes).enumerate() {
            assert!(count <= size);
            if d != last {
                assert!(count < size);
            }
        }
        assert_eq!(s.next_item(), None);
    }

    #[test]
    fn drop_draws_every_example_once_then_ends() {
        let sizes = [10u64, 40, 0, 30];
        let mut s = sampler(&sizes, &[0.5, 0.3, 0.0, 0.2], |c| c.on_exhausted = OnExhausted::Drop);
        assert_eq!(s.epoch_len(), 80);
        let mut out = all(&mut s);
        out.sort();
        assert_eq!(out, (0..80).collect::<Vec<_>>());
    }

    #[test]
    fn groups_and_repeats_follow_trl_layout() {
        let mut s = sampler(&[100], &[1.0], |c| {
            c.num_generations = 3;
            c.batch_size = 2;
            c.repeat_count = 2;
        });
        let out = take(&mut s, 12);
        let (a, b) = (out[0], out[3]);
        assert_eq!(out, vec![a, a, a, b, b, b, a, a, a, b, b, b]);
        assert_ne!(a, b);
        assert_eq!(s.counts(), &[2]);
    }

    #[test]
    fn ranks_share_one_global_stream() {
        let base = |c: &mut Config| {
            c.batch_size = 2;
            c.num_generations = 2;
        };
        let mut single = sampler(&[7, 9], &[1.0, 1.0], |c| {
            base(c);
            c.batch_size = 6;
        });
        let global = take(&mut single, 6 * 2 * 5);
        let mut ranks: Vec<Vec<u64>> = (0..3)
            .map(|r| {
                let mut s = sampler(&[7, 9], &[1.0, 1.0], |c| {
                    base(c);
                    c.rank = r;
                    c.world_size = 3;
                });
                take(&mut s, 4 * 5)
            })
            .collect();
        for step in 0..5 {
            let mut union: Vec<u64> = ranks.iter_mut().flat_map(|r| r[step * 4..step * 4 + 4].to_vec()).collect();
            let mut want = global[step * 12..step * 12 + 12].to_vec();
            union.sort();
            want.sort();
            assert_eq!(union, want, "step {step}");
        }
    }

    #[test]
    fn set_weights_applies_from_the_next_draw() {
        let mut s = sampler(&[50, 50], &[1.0, 0.0], |_| {});
        assert!(take(&mut s, 20).iter().all(|&i| i < 50));
        s.set_weights(&[0.0, 3.0]).unwrap();
        assert!(take(&mut s, 20).iter().all(|&i| i >= 50));
        assert_eq!(s.weights(), &[0.0, 1.0]);
        assert_eq!(s.counts(), &[20, 20]);
    }

    #[test]
    fn bad_arguments_name_the_value() {
        let err = |sizes: &[u64], weights: &[f64], edit: &dyn Fn(&mut Config)| {
            let mut cfg = Config::new(names(sizes.len()), sizes.to_vec(), weights.to_vec());
            edit(&mut cfg);
            MixtureSampler::new(cfg).unwrap_err().to_string()
        };
        assert!(err(&[3, 4], &[1.0, -0.5], &|_| {}).contains("\"d1\" -0.5"));
        assert!(err(&[3, 4], &[1.0, f64::NAN], &|_| {}).contains("NaN"));
        assert!(err(&[3, 4], &[0.0, 0.0], &|_| {}).contains("positive"));
        assert!(err(&[3, 0], &[1.0, 0.5], &|_| {}).contains("size of domain \"d1\" 0"));
        assert!(err(&[3], &[1.0], &|c| c.num_generations = 0).contains("num_generations 0"));
        assert!(err(&[3], &[1.0], &|c| c.rank = 2).contains("rank 2"));
        assert!(err(&[3], &[1.0, 1.0], &|_| {}).contains("length mismatch"));
        assert!(OnExhausted::parse("loop").unwrap_err().to_string().contains("\"loop\""));
        // Zero size with zero weight is fine.
        let _ = sampler(&[3, 0], &[1.0, 0.0], |_| {});
    }

    #[test]
    fn corrupt_states_are_refused_and_leave_the_sampler_alone() {
        let mut s = sampler(&[5, 5], &[1.0, 1.0], |c| c.on_exhausted = OnExhausted::Stop);
        take(&mut s, 3);
        let good = s.state_json();
        let mut v: Value = serde_json::from_str(&good).unwrap();
        v["domain_pos"] = json!([5, 0]);
        assert!(s.load_state_json(&v.to_string()).is_err());
        for (field, bad) in
            [("rng", json!([0, 0, 0, 0])), ("rng", json!([1, 2, 3])), ("rng_pending", json!(1u64 << 32))]
        {
            let mut v: Value = serde_json::from_str(&good).unwrap();
            v[field] = bad;
            assert!(s.load_state_json(&v.to_string()).unwrap_err().to_string().contains(field));
        }
        let mut other = sampler(&[5, 5], &[1.0, 1.0], |c| c.seed = 1);
        assert!(other.load_state_json(&good).unwrap_err().to_string().contains("seed"));
        assert!(s.load_state_json("{").is_err());
        assert_eq!(s.state_json(), good);
    }

    fn config_strategy() -> impl Strategy<Value = Config> {
        (1usize..5)
            .prop_flat_map(|k| {
                (
                    prop::collection::vec(0u64..40, k),
                    prop::collection::vec(prop_oneof![Just(0.0), 0.01f64..10.0], k),
                    any::<u64>(),
                    1u64..4,
                    any::<bool>(),
                    0usize..3,
                    (1u64..4, 1u64..3, 1u64..3),
                )
            })
            .prop_filter_map(
                "needs a positive weight on a non-empty domain",
                |(sizes, mut weights, seed, g, rep, mode, (b, r, w))| {
                    for (w, &s) in weights.iter_mut().zip(&sizes) {
                        if s == 0 {
                            *w = 0.0;
                        }
                    }
                    if !weights.iter().any(|&w| w > 0.0) {
                        return None;
                    }
                    let mut c = Config::new(names(sizes.len()), sizes, weights);
                    c.seed = seed;
                    c.num_generations = g;
                    c.replacement = rep;
                    c.on_exhausted = [OnExhausted::Reshuffle, OnExhausted::Stop, OnExhausted::Drop][mode];
                    c.batch_size = b;
                    c.repeat_count = r;
                    c.world_size = w;
                    Some(c)
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn resume_after_k_items_gives_the_same_stream(cfg in config_strategy(), k in 0usize..300) {
            let mut a = MixtureSampler::new(cfg.clone()).unwrap();
            let whole = take(&mut a, k + 200);
            let mut b = MixtureSampler::new(cfg.clone()).unwrap();
            let head = take(&mut b, k);
            let state = b.state_json();
            let mut c = MixtureSampler::new(cfg).unwrap();
            c.load_state_json(&state).unwrap();
            prop_assert_eq!(c.state_json(), state);
            let mut resumed = head;
            resumed.extend(take(&mut c, 200));
            prop_assert_eq!(resumed, whole);
        }

        #[test]
        fn bulk_fill_equals_item_by_item(cfg in config_strategy(), k in 0usize..50, n in 0usize..400) {
            let mut a = MixtureSampler::new(cfg.clone()).unwrap();
            let mut b = MixtureSampler::new(cfg).unwrap();
            take(&mut a, k);
            take(&mut b, k);
            let one = take(&mut a, n);
            let mut buf = vec![-1i64; n];
            let got = b.fill(&mut buf);
            prop_assert_eq!(got, one.len());
            prop_assert_eq!(buf[..got].iter().map(|&i| i as u64).collect::<Vec<_>>(), one);
            prop_assert_eq!(a.state_json(), b.state_json());
        }

        #[test]
        fn invariants_hold(cfg in config_strategy()) {
            let mut s = MixtureSampler::new(cfg.clone()).unwrap();
            let len = s.epoch_len();
            let g = cfg.num_generations as usize;
            let mut items = Vec::new();
            s.begin_epoch();
            while let Some(i) = s.next_in_epoch() {
                items.push(i);
                if items.len() > 100_000 { break; }
            }
            // An iteration yields exactly len() items, in whole groups.
            prop_assert_eq!(items.len() as u64, len);
            prop_assert_eq!(items.len() % g, 0);
            let mut by_domain: HashMap<usize, u64> = HashMap::new();
            for group in items.chunks(g) {
                prop_assert!(group.iter().all(|&i| i == group[0]));
                *by_domain.entry(s.domain_of(group[0]).unwrap()).or_default() += 1;
            }
            for &d in by_domain.keys() {
                prop_assert!(cfg.weights[d] > 0.0, "zero-weight domain {} drawn", d);
            }
            // Counts are this rank's draws: the groups divided by the repeats.
            let draws: u64 = s.counts().iter().sum();
            prop_assert_eq!(draws * cfg.repeat_count * cfg.num_generations, items.len() as u64);
            if !cfg.replacement && cfg.on_exhausted != OnExhausted::Reshuffle {
                prop_assert_eq!(s.next_item(), None);
                for d in 0..cfg.sizes.len() {
                    prop_assert!(s.counts()[d] <= cfg.sizes[d]);
                }
            }
        }

        #[test]
        fn set_epoch_fast_forwards_like_iterating(cfg in config_strategy(), e in 0u64..3) {
            let mut a = MixtureSampler::new(cfg.clone()).unwrap();
            for _ in 0..e {
                a.begin_epoch();
                while a.next_in_epoch().is_some() {}
            }
            a.begin_epoch();
            let mut b = MixtureSampler::new(cfg).unwrap();
            b.set_epoch(e);
            b.begin_epoch();
            if a.is_infinite() {
                prop_assert_eq!(a.epoch(), b.epoch());
            }
            prop_assert_eq!(take(&mut a, 50), take(&mut b, 50));
        }
    }
}
