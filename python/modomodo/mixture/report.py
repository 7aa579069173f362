"""The study's report: one row per arm, the acceptance comparisons, the compute.

An arm is one mixture trained under one name (a seed mixture, a heuristic, a surrogate
pick, a final run, an adaptive policy), over one or more training seeds. Its row gives the
weights (for an adaptive arm, the policy's step-averaged weights, averaged over its seeds),
the per-benchmark scores averaged over seeds, and In-/Out-Score as mean ± standard error
over seeds (`modomodo.summary.standard_error`: sample standard deviation / √n).

Arms trained on the same seeds are compared by the seed-to-seed paired difference
(`paired_difference`): d_s = a_s - b_s for every seed s both have, reported as
mean(d) ± SE(d) and as how many SE the mean is from zero. Pairing removes what a seed does
to every mixture alike (its draw of the data order, its initial exploration).

The compute table sets the offline method's pilot runs (seeds, heuristics, UCB pilots,
surrogate picks: everything trained before its final runs) against each adaptive policy,
in GRPO steps and wall time (each run's `summary.json` `seconds.total` less its
`warm_start`: the warm start is cached and shared by every run of a seed, so which run
pays it is chance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modomodo.mixture.records import RunRecord
from modomodo.summary import standard_error

# The kinds trained before the offline method's final runs: its pilot cost.
PILOT_KINDS = ("seed", "heuristic", "pilot", "surrogate")


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_and_se(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and standard error of the finite values (NaN and None without any; the error is
    None for fewer than two)."""
    kept = _finite(values)
    if not kept:
        return math.nan, None
    return sum(kept) / len(kept), standard_error(kept)


@dataclass(frozen=True)
class PairedDifference:
    """a - b over the seeds both arms have: the mean of d_s = a_s - b_s, its standard
    error (None for fewer than two seeds) and the seeds."""

    mean: float
    standard_error: float | None
    seeds: tuple[int, ...]
    differences: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def z(self) -> float | None:
        """How many standard errors the mean difference is from zero."""
        if self.standard_error is None or self.standard_error == 0:
            return None
        return self.mean / self.standard_error

    def __str__(self) -> str:
        if not self.seeds:
            return "no common seed"
        head = f"{self.mean:+.4f}"
        if self.standard_error is not None:
            head += f" ± {self.standard_error:.4f}"
        if self.z is not None:
            head += f" ({self.z:+.1f} SE)"
        per_seed = ", ".join(f"s{s} {d:+.4f}" for s, d in zip(self.seeds, self.differences))
        return f"{head} over {self.n} seed{'s' * (self.n != 1)} ({per_seed})"


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> PairedDifference:
    """The seed-to-seed paired difference a - b (scores by seed; seeds where either is
    missing or not finite are left out)."""
    seeds = tuple(sorted(s for s in set(a) & set(b) if math.isfinite(a[s]) and math.isfinite(b[s])))
    diffs = tuple(float(a[s]) - float(b[s]) for s in seeds)
    mean = sum(diffs) / len(diffs) if diffs else math.nan
    return PairedDifference(mean, standard_error(diffs), seeds, diffs)


@dataclass
class Arm:
    """One row of the report: a mixture and its finished seeds."""

    name: str
    kind: str
    weights: dict[str, float]  # for an adaptive arm: the step-averaged weights, mean over seeds
    records: list[RunRecord]
    policy: str | None = None
    predicted: float = math.nan
    spread: float = math.nan
    predicted_when_picked: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.records]

    def by_seed(self, target: str) -> dict[int, float]:
        return {r.seed: r.score(target) for r in self.records}

    def estimate(self, target: str) -> tuple[float, float | None]:
        return mean_and_se([r.score(target) for r in self.records])

    def benchmark_means(self) -> dict[str, float]:
        names = sorted(set().union(*(r.scores for r in self.records))) if self.records else []
        return {b: mean_and_se([r.scores.get(b, math.nan) for r in self.records])[0] for b in names}

    def total(self, key: str) -> float:
        """The sum over seeds of a recorded cost (`steps`, `seconds`); NaN if any run lacks it."""
        vals = [r.meta.get(key) for r in self.records]
        if not vals or any(not isinstance(v, (int, float)) for v in vals):
            return math.nan
        return float(sum(vals))  # type: ignore[arg-type]


def build_arms(plan: Mapping[str, Mapping[str, Any]], records: Sequence[RunRecord], target: str) -> list[Arm]:
    """The arms in plan order, each with its records whose target is finite (arms with
    none are left out)."""
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        if math.isfinite(r.score(target)):
            groups.setdefault(r.name, []).append(r)
    arms = []
    for name, entry in plan.items():
        recs = sorted(groups.get(name, []), key=lambda r: r.seed)
        if not recs:
            continue
        weights = dict(entry["weights"])
        means = [r.meta.get("weights_mean") for r in recs]
        if entry["kind"] == "adaptive" and all(isinstance(m, Mapping) for m in means):
            weights = {d: float(np.mean([m[d] for m in means])) for d in weights}  # type: ignore[index]
        arms.append(
            Arm(
                name=name,
                kind=entry["kind"],
                weights=weights,
                records=recs,
                policy=entry.get("policy"),
                predicted_when_picked=entry.get("predicted"),
            )
        )
    return arms


def best(arms: Sequence[Arm], target: str) -> Arm | None:
    """The arm with the highest mean target (None without arms)."""
    return max(arms, key=lambda a: a.estimate(target)[0], default=None)


# -- formatting ----------------------------------------------------------------------------


def fmt(x: Any, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def fmt_estimate(mean: float, se: float | None) -> str:
    return fmt(mean) + ("" if se is None else f" ± {se:.4f}")


def fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "n/a"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def runs_table(arms: Sequence[Arm], domains: Sequence[str], benchmarks: Sequence[str]) -> list[str]:
    """The Table-2/3-style Markdown table: weights, per-benchmark scores, In/Out mean ± SE."""
    head = ["arm", "kind", *domains, *benchmarks, "In-Score", "Out-Score", "seeds", "surrogate"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for a in arms:
        bench = a.benchmark_means()
        weights = [f"{a.weights[d]:.3f}" for d in domains]
        if a.kind == "adaptive":
            weights = [f"~{w}" for w in weights]  # the policy's mean weights, not a fixed mixture
        cells = [
            a.name,
            a.kind if a.policy is None else f"adaptive ({a.policy})",
            *weights,
            *(fmt(bench.get(b, math.nan)) for b in benchmarks),
            fmt_estimate(*a.estimate("in_score")),
            fmt_estimate(*a.estimate("out_score")),
            ",".join(map(str, a.seeds)),
            fmt(a.predicted),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def compute_rows(arms: Sequence[Arm]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(offline pilots' total, one entry per adaptive policy): runs, GRPO steps and wall
    seconds, and an adaptive run's share of the offline total (its mean per run / total)."""
    pilots = [a for a in arms if a.kind in PILOT_KINDS]
    offline = {
        "runs": sum(len(a.records) for a in pilots),
        "steps": sum(a.total("steps") for a in pilots),
        "seconds": sum(a.total("seconds") for a in pilots),
    }
    rows = []
    for a in arms:
        if a.kind != "adaptive":
            continue
        n = len(a.records)
        steps, seconds = a.total("steps"), a.total("seconds")
        rows.append(
            {
                "name": a.name,
                "policy": a.policy,
                "runs": n,
                "steps": steps,
                "seconds": seconds,
                "steps_ratio": steps / n / offline["steps"] if offline["steps"] else math.nan,
                "seconds_ratio": seconds / n / offline["seconds"] if offline["seconds"] else math.nan,
            }
        )
    return offline, rows


def compute_table(offline: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| method | runs | GRPO steps | wall time | one run / offline total (steps) | one run / offline total (time) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| offline: pilot runs (seeds, heuristics, picks) | {offline['runs']} | {fmt(offline['steps'], 0)} | "
        f"{fmt_seconds(offline['seconds'])} | 1 | 1 |",
    ]
    for r in rows:
        lines.append(
            f"| adaptive {r['policy']} ({r['runs']} seeds) | {r['runs']} | {fmt(r['steps'], 0)} | "
            f"{fmt_seconds(r['seconds'])} | {fmt(r['steps_ratio'], 3)} | {fmt(r['seconds_ratio'], 3)} |"
        )
    return lines
