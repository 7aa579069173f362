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
//!
//! - [`alias`]: the domain draw; [`words`]: the random words; [`shuffle`]: an epoch's
//!   permutation; [`draw`]: the bulk draw loops; [`state`]: saving and restoring the state.

mod alias;
mod draw;
mod shuffle;
mod state;
mod words;

use crate::error::{Error, Result};
use alias::AliasTable;
use draw::{draw_block, draw_with_replacement, Domain};
use serde::{Deserialize, Serialize};
use words::Words;

/// What happens when a domain has no unseen example left (sampling without replacement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// Everything that defines a stream. `weights` need not be normalised. A saved state holds the
/// config without the weights, which are state (they may change as the stream runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub names: Vec<String>,
    pub sizes: Vec<u64>,
    #[serde(skip)]
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
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::{
        any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig, Strategy,
    };
    use std::collections::HashMap;

    pub(super) fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("d{i}")).collect()
    }

    pub(super) fn sampler(sizes: &[u64], weights: &[f64], edit: impl FnOnce(&mut Config)) -> MixtureSampler {
        let mut cfg = Config::new(names(sizes.len()), sizes.to_vec(), weights.to_vec());
        edit(&mut cfg);
        MixtureSampler::new(cfg).unwrap()
    }

    pub(super) fn take(s: &mut MixtureSampler, n: usize) -> Vec<u64> {
        (0..n).map_while(|_| s.next_item()).collect()
    }

    pub(super) fn all(s: &mut MixtureSampler) -> Vec<u64> {
        std::iter::from_fn(|| s.next_item()).collect()
    }

    pub(super) fn config_strategy() -> impl Strategy<Value = Config> {
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

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
