//! Saving and restoring a sampler's state exactly, as JSON through `serde`.
//!
//! The state is small: the config (to refuse restoring into another stream), the current
//! weights, the generator, where each domain's permutation stands, the counts and the current
//! chunk. Permutations are not saved: they are regenerated from `(seed, domain, epoch)`.
//!
//! The format carries a version. Version 3 (hand-written JSON, up to this module) and any
//! other version than [`STATE_VERSION`] are refused with an error naming both; a sampler
//! restarted from scratch, or resumed by replay, gives the same stream.

use super::words::Words;
use super::{check_weights, Config, MixtureSampler, OnExhausted};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of [`SavedState`]'s format.
const STATE_VERSION: u64 = 4;

/// What `state_json` writes.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    version: u64,
    config: Config,
    /// The current normalised weights' exact bits: a decimal round trip may move a float by one
    /// ulp, and the alias table must be rebuilt from identical weights.
    weight_bits: Vec<u64>,
    words: Words,
    domains: Vec<SavedDomain>,
    global_draws: u64,
    halted: bool,
    ended: bool,
    chunk: Vec<u64>,
    chunk_domains: Vec<u32>,
    cursor: u64,
    epoch: u64,
    epoch_pos: u64,
    epoch_len: u64,
}

/// Where one domain stands: its permutation's epoch and position, whether `Drop` removed
/// it, and this rank's draws from it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedDomain {
    epoch: u64,
    pos: u64,
    dropped: bool,
    count: u64,
}

/// The version alone, read first so that a state of another format is refused by its version
/// rather than by whichever field changed.
#[derive(Deserialize)]
struct FormatVersion {
    version: Option<u64>,
}

fn invalid(message: String) -> Error {
    Error::InvalidState(message)
}

/// Parses a state of the current format; another version is refused naming it.
fn parse(text: &str) -> Result<SavedState> {
    let found = serde_json::from_str::<FormatVersion>(text)
        .map_err(|e| invalid(format!("not a sampler state (a JSON object with a version): {e}")))?;
    match found.version {
        Some(STATE_VERSION) => {}
        Some(v) => {
            return Err(invalid(format!(
                "sampler state format version {v}, expected version {STATE_VERSION}: a state saved by another \
                 modomodo version cannot be restored (start the sampler afresh, or resume by replay)"
            )))
        }
        None => return Err(invalid(format!("no version field, expected a sampler state of version {STATE_VERSION}"))),
    }
    serde_json::from_str(text).map_err(|e| invalid(format!("not a sampler state of version {STATE_VERSION}: {e}")))
}

impl MixtureSampler {
    /// The exact state as JSON (config included, to refuse restoring into another stream).
    pub fn state_json(&self) -> String {
        let state = SavedState {
            version: STATE_VERSION,
            config: self.cfg.clone(),
            weight_bits: self.weights.iter().map(|w| w.to_bits()).collect(),
            words: self.words.clone(),
            domains: (self.domains.iter().zip(&self.counts))
                .map(|(d, &count)| SavedDomain { epoch: d.epoch, pos: d.pos, dropped: d.dropped, count })
                .collect(),
            global_draws: self.global_draws,
            halted: self.halted,
            ended: self.ended,
            chunk: self.chunk.clone(),
            chunk_domains: self.chunk_domains.clone(),
            cursor: self.cursor,
            epoch: self.epoch,
            epoch_pos: self.epoch_pos,
            epoch_len: self.epoch_len,
        };
        // Only strings, integers and booleans: serialising cannot fail.
        serde_json::to_string(&state).expect("a sampler state serialises")
    }

    /// Restores a state saved by `state_json` from a sampler with the same config.
    /// On error the sampler is left unchanged.
    pub fn load_state_json(&mut self, text: &str) -> Result<()> {
        let state = parse(text)?;
        self.check_state(&state)?;
        self.weights = state.weight_bits.iter().copied().map(f64::from_bits).collect();
        for ((dom, saved), count) in self.domains.iter_mut().zip(&state.domains).zip(&mut self.counts) {
            dom.epoch = saved.epoch;
            dom.pos = saved.pos;
            dom.dropped = saved.dropped;
            dom.perm_epoch = None;
            dom.perm = Vec::new();
            *count = saved.count;
        }
        self.rebuild_table();
        self.words = state.words;
        self.global_draws = state.global_draws;
        self.halted = state.halted;
        self.ended = state.ended;
        self.chunk = state.chunk;
        self.chunk_domains = state.chunk_domains;
        self.cursor = state.cursor;
        self.epoch = state.epoch;
        self.epoch_pos = state.epoch_pos;
        self.epoch_len = state.epoch_len;
        Ok(())
    }

    /// Refuses a state of another stream, or one this sampler could not continue from.
    fn check_state(&self, state: &SavedState) -> Result<()> {
        let c = &self.cfg;
        // The config field by field, naming the first that differs.
        let as_json = |config: &Config| serde_json::to_value(config).unwrap_or(Value::Null);
        if let (Value::Object(saved), Value::Object(ours)) = (as_json(&state.config), as_json(c)) {
            for (key, value) in &saved {
                let mine = ours.get(key).unwrap_or(&Value::Null);
                if value != mine {
                    return Err(invalid(format!("the state was saved with {key} {value} but this sampler has {mine}")));
                }
            }
        }
        let weights: Vec<f64> = state.weight_bits.iter().copied().map(f64::from_bits).collect();
        check_weights(&c.names, &c.sizes, &weights).map_err(|e| invalid(e.to_string()))?;
        if state.words.is_degenerate() {
            return Err(invalid("words.rng is the all-zero generator state, which no seed gives".into()));
        }
        let k = c.names.len();
        if state.domains.len() != k {
            return Err(invalid(format!("domains has {} entries for {k} domains", state.domains.len())));
        }
        for ((saved, name), &size) in state.domains.iter().zip(&c.names).zip(&c.sizes) {
            // A position may equal the size only for a domain that ran out and was then
            // dropped (Drop) or ended the stream (Stop); otherwise the next draw would read
            // past the permutation.
            let pos = saved.pos;
            let ran_out = size > 0 && pos == size;
            let accounted = match c.on_exhausted {
                OnExhausted::Stop => state.halted,
                OnExhausted::Drop => saved.dropped,
                OnExhausted::Reshuffle => false,
            };
            if pos > size || (ran_out && !accounted) || (c.replacement && pos != 0) {
                return Err(invalid(format!(
                    "domain position {pos} of domain {name:?} (size {size}) is inconsistent with the rest of the state"
                )));
            }
        }
        let total: u64 = c.sizes.iter().sum();
        let chunk = &state.chunk;
        if !(chunk.is_empty() || chunk.len() as u64 == c.batch_size)
            || state.chunk_domains.len() != chunk.len()
            || chunk.iter().any(|&i| i >= total)
            || state.chunk_domains.iter().any(|&d| d as usize >= k)
            || state.cursor > chunk.len() as u64 * c.num_generations * c.repeat_count
        {
            return Err(invalid("chunk, chunk_domains or cursor out of range".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::tests::{config_strategy, sampler, take};
    use proptest::prelude::{prop_assert_eq, proptest, ProptestConfig};
    use serde_json::json;

    /// A state written by the hand-written format (version 3) before this module: a sampler of
    /// three domains (40, 25, 60; weights 0.5, 0.2, 0.3; seed 21; 3 generations; batch 2;
    /// repeat 2) after 13 items.
    const STATE_V3: &str = include_str!("state_v3.json");

    #[test]
    fn a_version_3_state_is_refused_naming_both_versions() {
        let names = ["chart", "count", "math"].map(String::from).to_vec();
        let mut cfg = Config::new(names, vec![40, 25, 60], vec![0.5, 0.2, 0.3]);
        cfg.seed = 21;
        cfg.num_generations = 3;
        cfg.batch_size = 2;
        cfg.repeat_count = 2;
        let mut s = MixtureSampler::new(cfg).unwrap();
        let before = s.state_json();
        let err = s.load_state_json(STATE_V3).unwrap_err().to_string();
        assert!(err.contains("version 3") && err.contains("expected version 4"), "{err}");
        assert_eq!(s.state_json(), before);
        // What the old state recorded, replaying its 13 items reaches: the stream is unchanged.
        take(&mut s, 13);
        let (old, now): (Value, Value) =
            (serde_json::from_str(STATE_V3).unwrap(), serde_json::from_str(&s.state_json()).unwrap());
        assert_eq!(now["words"]["rng"]["s"], old["rng"]);
        assert_eq!(now["words"]["pending"], old["rng_pending"]);
        let per_domain = |key: &str| now["domains"].as_array().unwrap().iter().map(|d| d[key].clone()).collect();
        assert_eq!(Value::Array(per_domain("count")), old["counts"]);
        assert_eq!(Value::Array(per_domain("pos")), old["domain_pos"]);
        for key in ["chunk", "chunk_domains", "cursor", "global_draws", "epoch_pos", "epoch_len", "weight_bits"] {
            assert_eq!(now[key], old[key], "{key}");
        }
        let state = s.state_json();
        s.load_state_json(&state).unwrap();
        assert_eq!(s.state_json(), state);
    }

    #[test]
    fn corrupt_states_are_refused_and_leave_the_sampler_alone() {
        let mut s = sampler(&[5, 5], &[1.0, 1.0], |c| c.on_exhausted = OnExhausted::Stop);
        take(&mut s, 3);
        let good = s.state_json();
        let edited = |edit: &dyn Fn(&mut Value)| {
            let mut v: Value = serde_json::from_str(&good).unwrap();
            edit(&mut v);
            v.to_string()
        };
        for (edit, message) in [
            (&(|v: &mut Value| v["domains"][0]["pos"] = json!(5)) as &dyn Fn(&mut Value), "domain position 5"),
            (&|v| v["words"]["rng"]["s"] = json!([0, 0, 0, 0]), "all-zero"),
            (&|v| v["words"]["rng"]["s"] = json!([1, 2, 3]), "length 3"),
            (&|v| v["words"]["pending"] = json!(1u64 << 32), "u32"),
            (&|v| v["extra"] = json!(1), "unknown field `extra`"),
            (&|v| v["domains"] = json!([]), "0 entries for 2 domains"),
            (&|v| v["chunk"] = json!([99]), "chunk"),
            (&|v| v["version"] = json!(5), "version 5, expected version 4"),
            (&|v| v.as_object_mut().unwrap().retain(|k, _| k != "version"), "no version field"),
        ] {
            let err = s.load_state_json(&edited(edit)).unwrap_err().to_string();
            assert!(err.contains(message), "{message:?} not in {err:?}");
        }
        let mut other = sampler(&[5, 5], &[1.0, 1.0], |c| {
            c.on_exhausted = OnExhausted::Stop;
            c.seed = 1;
        });
        let err = other.load_state_json(&good).unwrap_err().to_string();
        assert!(err.contains("seed 0 but this sampler has 1"), "{err}");
        assert!(s.load_state_json("{").unwrap_err().to_string().contains("not a sampler state"));
        assert!(s.load_state_json(&edited(&|v| v["chunk"] = json!([99]))).is_err());
        assert_eq!(s.state_json(), good);
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
    }
}
