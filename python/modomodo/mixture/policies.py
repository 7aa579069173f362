"""Adaptive mixtures: policies that change the domain weights during one run.

One small interface, `MixturePolicy.observe(stats) -> weights`: after each generation batch
the trainer hands a policy the statistics of every domain drawn in it (`DomainStats`,
computed from the batch gathered from all processes, so every process sees the same numbers
and gets the same weights) and sets the sampler to the weights it returns. Policies know
nothing of the trainer: they are plain, deterministic under their seed, and resumable
(`state_dict()` is plain JSON, `load_state_dict()` restores it exactly).

Every policy shares the last two steps of an update (`MixturePolicy._publish`):

- floor: `w = floor + (1 - m * floor) * raw` over the m domains, so no domain starves
  (default floor `0.02 / m`; `floor=0` lets a domain go to zero weight);
- smoothing: `w = smoothing * previous + (1 - smoothing) * w` (an EMA; both terms are
  floored, so the result is too).

and each recomputes its raw weights every `update_every` batches (observing every batch):

- `dump`: DUMP (arXiv 2504.09710), a UCB bandit over domains. A domain's score is its mean
  |advantage| over a sliding window of its most recent groups (`window` groups; a batch's
  groups enter together with their mean, and the oldest batches leave while the rest still
  cover `window` groups) plus `c * sqrt(log N / n_d)` (N: groups drawn in all, n_d: of d).
  Raw weights: a softmax of the scores at `temperature`, as DUMP does. A domain not yet
  drawn is scored optimistically (the best window mean of the others, n_d = 1).
- `thompson`: Thompson sampling (after BOTS, arXiv 2510.26374) on learnability: a Beta
  posterior per domain whose successes are the groups with unequal rewards (they carry a
  GRPO gradient) and failures the groups whose rewards are all equal (`zero_std_frac`).
  Before each batch is added the posterior is discounted towards the prior
  (`alpha <- 1 + discount * (alpha - 1)`, same for beta) for non-stationarity. Raw weights:
  the probability that each domain is the most learnable, estimated from `samples` joint
  draws of the posteriors (BOTS's probability of being best).
- `target`: reweights by the reward on a small held-out target set, measured by the
  trainer every `update_every` batches and passed as `observe(..., target_reward=r)`.
  Between two measurements the policy counts the groups drawn per domain; at a measurement
  the gain `g = r - r_previous` is credited to each domain by how much more than its weight
  it was drawn: `credit_d = (g - mean gain) * (share_d - w_d)`, `share_d` its fraction of the groups
  drawn since the previous measurement and `w_d` its weight during that period (the
  weights only change at measurements), and `g` is taken relative to the running mean of
  the previous gains (halved at each measurement; a REINFORCE-style baseline: it removes
  the steady improvement common to every period, so only the surprise is credited). The
  weights then take an exponentiated-gradient step `log w_d += step_size * credit_d`
  (normalised). The first measurement only sets the baseline. The draws scatter around the
  weights, so the credit averages to the covariance of a domain's excess draws with the
  target gain: a domain whose extra draws come with a rising target reward gains weight;
  one that merely had a large weight while the reward rose for other reasons does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

POLICIES = ("dump", "thompson", "target")


@dataclass(frozen=True)
class DomainStats:
    """One domain's statistics in one generation batch (gathered from every process).

    `groups`: prompts of the domain in the batch (each with its group of completions);
    `mean_abs_advantage`: mean |advantage| over its completions; `reward`: mean weighted
    reward of its scorable completions (NaN when none is); `zero_std_frac`: fraction of its
    groups whose rewards are all equal."""

    groups: int
    mean_abs_advantage: float
    reward: float
    zero_std_frac: float

    def __post_init__(self) -> None:
        if self.groups < 1:
            raise ValueError(f"invalid groups {self.groups}: expected a positive number of groups")
        if not (math.isfinite(self.mean_abs_advantage) and self.mean_abs_advantage >= 0):
            raise ValueError(
                f"invalid mean_abs_advantage {self.mean_abs_advantage}: expected a finite number >= 0"
            )
        if not 0.0 <= self.zero_std_frac <= 1.0:
            raise ValueError(f"invalid zero_std_frac {self.zero_std_frac}: expected a fraction in [0, 1]")


class MixturePolicy:
    """The shared part of every policy: domains, floor, smoothing, update period, the current
    weights, and the state. Subclasses define `_record(stats, target_reward)` (every batch)
    and `_raw_weights()` (every `update_every` batches; None keeps the weights)."""

    name: ClassVar[str]
    needs_target: ClassVar[bool] = False

    def __init__(
        self,
        domains: Sequence[str],
        *,
        seed: int = 0,
        floor: float | None = None,
        smoothing: float = 0.0,
        update_every: int = 1,
    ) -> None:
        self.domains = tuple(str(d) for d in domains)
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise ValueError(f"invalid domains {list(domains)}: expected distinct names, at least one")
        m = len(self.domains)
        self.floor = 0.02 / m if floor is None else float(floor)
        if not 0.0 <= self.floor <= 1.0 / m:
            raise ValueError(f"invalid floor {floor}: expected a number in [0, 1/{m}] for {m} domains")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"invalid smoothing {smoothing}: expected a number in [0, 1)")
        if update_every < 1:
            raise ValueError(f"invalid update_every {update_every}: expected a positive integer")
        self.seed = int(seed)
        self.smoothing = float(smoothing)
        self.update_every = int(update_every)
        self.batches = 0
        self.weights: dict[str, float] = dict.fromkeys(self.domains, 1.0 / m)

    def due(self) -> bool:
        """True when the next `observe` updates the weights (the target policy's trainer
        measures the target reward then)."""
        return (self.batches + 1) % self.update_every == 0

    def observe(
        self, stats: Mapping[str, DomainStats], target_reward: float | None = None
    ) -> dict[str, float]:
        """Takes one generation batch's statistics (domains not drawn are absent); returns the
        weights for the next draws, by domain, summing to 1."""
        unknown = sorted(set(stats) - set(self.domains))
        if unknown:
            raise ValueError(
                f"invalid stats for domain(s) {unknown}: expected domains among {list(self.domains)}"
            )
        due = self.due()
        self.batches += 1
        self._record(stats, target_reward if due else None)
        if due:
            raw = self._raw_weights()
            if raw is not None:
                self._publish(raw)
        return dict(self.weights)

    def _publish(self, raw: np.ndarray) -> None:
        raw = np.clip(np.asarray(raw, dtype=np.float64), 0.0, None)
        raw = raw / raw.sum() if raw.sum() > 0 else np.full(len(self.domains), 1.0 / len(self.domains))
        floored = self.floor + (1.0 - len(self.domains) * self.floor) * raw
        previous = np.array([self.weights[d] for d in self.domains])
        new = self.smoothing * previous + (1.0 - self.smoothing) * floored
        self.weights = dict(zip(self.domains, (new / new.sum()).tolist()))

    def _record(self, stats: Mapping[str, DomainStats], target_reward: float | None) -> None:
        raise NotImplementedError

    def _raw_weights(self) -> np.ndarray | None:
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON: the policy's name, domains, batches seen, weights and its own state."""
        return {
            "policy": self.name,
            "domains": list(self.domains),
            "batches": self.batches,
            "weights": dict(self.weights),
            "own": self._own_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("policy") != self.name:
            got = state.get("policy") if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(
                f"invalid policy state {got!r}: expected the state_dict() of a {self.name!r} policy"
            )
        if list(state.get("domains", [])) != list(self.domains):
            raise ValueError(
                f"invalid policy state for domains {state.get('domains')}: expected domains {list(self.domains)}"
            )
        self.batches = int(state["batches"])
        self.weights = {d: float(state["weights"][d]) for d in self.domains}
        self._load_own_state(state["own"])

    def _own_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _load_own_state(self, own: Mapping[str, Any]) -> None:
        raise NotImplementedError


class DumpPolicy(MixturePolicy):
    """DUMP's UCB over domains on mean |advantage| (see the module docstring)."""

    name = "dump"

    def __init__(
        self,
        domains: Sequence[str],
        *,
        window: int = 64,
        c: float = 0.5,
        temperature: float = 0.1,
        **common: Any,
    ) -> None:
        super().__init__(domains, **common)
        if window < 1:
            raise ValueError(f"invalid window {window}: expected a positive number of groups")
        if not (math.isfinite(c) and c >= 0):
            raise ValueError(f"invalid c {c}: expected a finite number >= 0")
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"invalid temperature {temperature}: expected a finite number > 0")
        self.window, self.c, self.temperature = int(window), float(c), float(temperature)
        # Per domain: [mean |advantage|, groups] of its recent batches, oldest first.
        self.recent: dict[str, list[list[float]]] = {d: [] for d in self.domains}
        self.drawn: dict[str, int] = dict.fromkeys(self.domains, 0)

    def _record(self, stats: Mapping[str, DomainStats], target_reward: float | None) -> None:
        for d, s in stats.items():
            entries = self.recent[d]
            entries.append([s.mean_abs_advantage, float(s.groups)])
            while len(entries) > 1 and sum(n for _, n in entries[1:]) >= self.window:
                entries.pop(0)
            self.drawn[d] += s.groups

    def scores(self) -> dict[str, float]:
        """The UCB score of each domain."""
        means = {d: sum(v * n for v, n in e) / sum(n for _, n in e) for d, e in self.recent.items() if e}
        optimistic = max(means.values(), default=0.0)
        total = max(sum(self.drawn.values()), 1)
        return {
            d: means.get(d, optimistic) + self.c * math.sqrt(math.log(total) / max(self.drawn[d], 1))
            for d in self.domains
        }

    def _raw_weights(self) -> np.ndarray:
        s = np.array(list(self.scores().values())) / self.temperature
        e = np.exp(s - s.max())
        return e / e.sum()

    def _own_state(self) -> dict[str, Any]:
        return {"recent": self.recent, "drawn": self.drawn}

    def _load_own_state(self, own: Mapping[str, Any]) -> None:
        self.recent = {d: [[float(v), float(n)] for v, n in own["recent"][d]] for d in self.domains}
        self.drawn = {d: int(own["drawn"][d]) for d in self.domains}


class ThompsonPolicy(MixturePolicy):
    """Thompson sampling on learnability, discounted (see the module docstring)."""

    name = "thompson"

    def __init__(
        self, domains: Sequence[str], *, discount: float = 0.9, samples: int = 256, **common: Any
    ) -> None:
        super().__init__(domains, **common)
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"invalid discount {discount}: expected a number in (0, 1]")
        if samples < 1:
            raise ValueError(f"invalid samples {samples}: expected a positive integer")
        self.discount, self.samples = float(discount), int(samples)
        self.alpha: dict[str, float] = dict.fromkeys(self.domains, 1.0)
        self.beta: dict[str, float] = dict.fromkeys(self.domains, 1.0)
        self.rng = np.random.default_rng(self.seed)

    def _record(self, stats: Mapping[str, DomainStats], target_reward: float | None) -> None:
        for d in self.domains:
            self.alpha[d] = 1.0 + self.discount * (self.alpha[d] - 1.0)
            self.beta[d] = 1.0 + self.discount * (self.beta[d] - 1.0)
        for d, s in stats.items():
            self.alpha[d] += s.groups * (1.0 - s.zero_std_frac)
            self.beta[d] += s.groups * s.zero_std_frac

    def _raw_weights(self) -> np.ndarray:
        a = np.array([self.alpha[d] for d in self.domains])
        b = np.array([self.beta[d] for d in self.domains])
        draws = self.rng.beta(a, b, size=(self.samples, len(self.domains)))
        best = np.bincount(draws.argmax(axis=1), minlength=len(self.domains))
        return best / self.samples

    def _own_state(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "rng": self.rng.bit_generator.state}

    def _load_own_state(self, own: Mapping[str, Any]) -> None:
        self.alpha = {d: float(own["alpha"][d]) for d in self.domains}
        self.beta = {d: float(own["beta"][d]) for d in self.domains}
        self.rng.bit_generator.state = dict(own["rng"])


class TargetPolicy(MixturePolicy):
    """Exponentiated gradient on the held-out target reward (see the module docstring)."""

    name = "target"
    needs_target = True

    def __init__(self, domains: Sequence[str], *, step_size: float = 10.0, **common: Any) -> None:
        super().__init__(domains, **common)
        if not (math.isfinite(step_size) and step_size > 0):
            raise ValueError(f"invalid step_size {step_size}: expected a finite number > 0")
        self.step_size = float(step_size)
        self.log_weights: dict[str, float] = dict.fromkeys(self.domains, 0.0)
        self.since: dict[str, int] = dict.fromkeys(self.domains, 0)
        self.baseline: float | None = None
        self.mean_gain: float | None = None
        self.gain: float | None = None

    def _record(self, stats: Mapping[str, DomainStats], target_reward: float | None) -> None:
        for d, s in stats.items():
            self.since[d] += s.groups
        self.gain = None
        if target_reward is None:
            return
        if not math.isfinite(target_reward):
            raise ValueError(f"invalid target_reward {target_reward}: expected a finite number")
        total = sum(self.since.values())
        if self.baseline is not None and total > 0:
            self.gain = target_reward - self.baseline
            surprise = self.gain - (self.mean_gain if self.mean_gain is not None else 0.0)
            for d in self.domains:
                excess = self.since[d] / total - self.weights[d]
                self.log_weights[d] += self.step_size * surprise * excess
            self.mean_gain = self.gain if self.mean_gain is None else 0.5 * (self.mean_gain + self.gain)
        self.baseline = target_reward
        self.since = dict.fromkeys(self.domains, 0)

    def _raw_weights(self) -> np.ndarray | None:
        if self.gain is None:
            return None
        lw = np.array([self.log_weights[d] for d in self.domains])
        e = np.exp(lw - lw.max())
        return e / e.sum()

    def _own_state(self) -> dict[str, Any]:
        return {
            "log_weights": self.log_weights,
            "since": self.since,
            "baseline": self.baseline,
            "mean_gain": self.mean_gain,
        }

    def _load_own_state(self, own: Mapping[str, Any]) -> None:
        self.log_weights = {d: float(own["log_weights"][d]) for d in self.domains}
        self.since = {d: int(own["since"][d]) for d in self.domains}
        self.baseline = None if own["baseline"] is None else float(own["baseline"])
        self.mean_gain = None if own["mean_gain"] is None else float(own["mean_gain"])


def make_policy(name: str, domains: Sequence[str], **options: Any) -> MixturePolicy:
    """The policy called `name` (one of `POLICIES`) over `domains`, with its options."""
    classes: dict[str, type[MixturePolicy]] = {
        "dump": DumpPolicy,
        "thompson": ThompsonPolicy,
        "target": TargetPolicy,
    }
    if name not in classes:
        raise ValueError(f"invalid mixture policy {name!r}: expected one of {list(POLICIES)}")
    return classes[name](domains, **options)
