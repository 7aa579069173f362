"""What a training run reports: `summary.json`, its evaluation block, and the In/Out score.

`modomodo-train` writes DIR/summary.json as a `RunSummary`; `modomodo-eval` writes one
`EvalScores` to its output file; `modomodo-mix` reads both back through these classes and
refuses any other shape with a message naming the file, the key and what was expected.

In-Score and Out-Score are the means of the per-benchmark scores over the `in` and the
`out` benchmarks, weighted by test-set size, as in the paper (`weighted_score`). Each score
carries its standard error over rows; a run's change before -> after carries the standard
error of a paired bootstrap over rows (`paired_change`).

This module needs nothing beyond the standard library and numpy, so `modomodo.mixture` can
read runs without TRL or torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modomodo._io import atomic_write_text


def weighted_score(scores: Mapping[str, float], sizes: Mapping[str, float]) -> float:
    """Mean of `scores` over the benchmarks in `sizes`, weighted by test-set size.

    Benchmarks missing from `scores` are an error; a NaN score gives NaN.
    """
    missing = [b for b in sizes if b not in scores]
    if missing:
        raise ValueError(f"scores lack benchmarks {missing}; expected all of {list(sizes)}")
    total = float(sum(sizes.values()))
    if total <= 0:
        raise ValueError(f"test-set sizes {dict(sizes)}: expected a positive total")
    return float(sum(float(scores[b]) * float(n) for b, n in sizes.items()) / total)


def standard_error(values: Sequence[float]) -> float | None:
    """The standard error of the mean of `values` (sample standard deviation / sqrt(n));
    None for fewer than two values."""
    if len(values) < 2:
        return None
    return statistics.stdev(values) / math.sqrt(len(values))


def weighted_standard_error(errors: Mapping[str, float | None], sizes: Mapping[str, float]) -> float | None:
    """The standard error of `weighted_score` from the benchmarks' own (independent rows):
    sqrt(sum (n_b / N)^2 se_b^2); None when a benchmark has none."""
    if any(errors.get(b) is None for b in sizes):
        return None
    total = float(sum(sizes.values()))
    return math.sqrt(sum((float(n) / total * float(errors[b] or 0.0)) ** 2 for b, n in sizes.items()))


# -- reading JSON strictly ---------------------------------------------------------------------


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key} is {_short(value)}; expected a number")
    return float(value)


def _number_or_none(data: Mapping[str, Any], key: str, where: str) -> float | None:
    if data.get(key) is None:
        return None
    try:
        return _number(data, key, where)
    except ValueError:
        raise ValueError(f"{where}: {key} is {_short(data[key])}; expected a number or null") from None


def _mapping(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise ValueError(f"{where}: {key} is {_short(value)}; expected a mapping")
    return None if value is None else dict(value)


def _check_keys(cls: type, data: Any, where: str, required: tuple[str, ...]) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(known))
    missing = [k for k in required if k not in data]
    if unknown or missing:
        problems = ([f"unknown keys {unknown}"] if unknown else []) + ([f"no {missing}"] if missing else [])
        raise ValueError(
            f"{where}: {' and '.join(problems)}; expected the {cls.__name__} that modomodo-train writes, "
            f"with keys among {known} ({', '.join(required)} required)"
        )


def _read(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc})") from None


def _without_none(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


# -- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkScore:
    """One benchmark: its mean score in [0, 1], its number of rows, its role (`in`, `out`),
    the `standard_error` of the mean over its rows, and optionally the first few completions
    (kept by `modomodo-eval` for a look)."""

    score: float
    n: int
    role: str
    standard_error: float | None = None
    examples: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, scores: Sequence[float], role: str, **extra: Any) -> BenchmarkScore:
        """The benchmark whose rows scored `scores`."""
        mean = sum(scores) / len(scores) if scores else 0.0
        return cls(mean, len(scores), role, standard_error(scores), **extra)

    @classmethod
    def from_json(cls, data: Any, where: str) -> BenchmarkScore:
        _check_keys(cls, data, where, ("score", "n", "role"))
        n, role, examples = data["n"], data["role"], data.get("examples")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{where}: n is {_short(n)}; expected the number of rows, an integer >= 0")
        if not isinstance(role, str):
            raise ValueError(f"{where}: role is {_short(role)}; expected 'in' or 'out'")
        if examples is not None and not isinstance(examples, list):
            raise ValueError(f"{where}: examples is {_short(examples)}; expected a list")
        se = _number_or_none(data, "standard_error", where)
        return cls(_number(data, "score", where), n, role, se, examples)

    def to_json(self) -> dict[str, Any]:
        return _without_none(dataclasses.asdict(self))


@dataclass(frozen=True)
class ScoreChange:
    """A score's change after - before (`delta`) and its `standard_error`."""

    delta: float
    standard_error: float

    @classmethod
    def from_json(cls, data: Any, where: str) -> ScoreChange:
        _check_keys(cls, data, where, ("delta", "standard_error"))
        return cls(_number(data, "delta", where), _number(data, "standard_error", where))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvalChange:
    """The change of every score from the evaluation before RL to the one after, on the same
    rows: per benchmark, In-Score and Out-Score (None without benchmarks of that role), each
    with the standard error of a paired bootstrap over rows (`resamples`, `seed`)."""

    benchmarks: dict[str, ScoreChange]
    in_score: ScoreChange | None
    out_score: ScoreChange | None
    resamples: int
    seed: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> EvalChange:
        _check_keys(cls, data, where, tuple(f.name for f in dataclasses.fields(cls)))
        benchmarks = data["benchmarks"]
        if not isinstance(benchmarks, Mapping):
            raise ValueError(
                f"{where}: benchmarks is {_short(benchmarks)}; expected a mapping name -> change"
            )
        for key in ("resamples", "seed"):
            if isinstance(data[key], bool) or not isinstance(data[key], int):
                raise ValueError(f"{where}: {key} is {_short(data[key])}; expected an integer")
        in_score, out_score = (
            None if data[key] is None else ScoreChange.from_json(data[key], f"{where}: {key}")
            for key in ("in_score", "out_score")
        )
        return cls(
            {str(k): ScoreChange.from_json(v, f"{where}: benchmarks[{k!r}]") for k, v in benchmarks.items()},
            in_score,
            out_score,
            resamples=data["resamples"],
            seed=data["seed"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmarks": {k: c.to_json() for k, c in self.benchmarks.items()},
            "in_score": None if self.in_score is None else self.in_score.to_json(),
            "out_score": None if self.out_score is None else self.out_score.to_json(),
            "resamples": self.resamples,
            "seed": self.seed,
        }


def paired_change(
    before: Mapping[str, Sequence[float]],
    after: Mapping[str, Sequence[float]],
    roles: Mapping[str, str],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> EvalChange:
    """The change after - before of each benchmark's score and of In/Out-Score, with standard
    errors from a paired bootstrap over rows: `before[b][i]` and `after[b][i]` score the same
    row i of benchmark b; each resample draws rows with replacement within each benchmark,
    and the In/Out change of a resample is the size-weighted mean of its benchmark changes,
    as `weighted_score` averages scores. The standard error is the resamples' standard
    deviation."""
    import numpy as np

    if set(before) != set(after) or set(before) - set(roles):
        raise ValueError(
            f"benchmarks before {sorted(before)}, after {sorted(after)}, roles {sorted(roles)}: "
            "expected the same benchmarks, each with a role"
        )
    rng = np.random.default_rng(seed)
    deltas: dict[str, np.ndarray] = {}  # benchmark -> its change in each resample
    changes: dict[str, ScoreChange] = {}
    for b in before:
        if len(before[b]) != len(after[b]):
            raise ValueError(
                f"benchmark {b!r}: {len(before[b])} rows before, {len(after[b])} after; expected the same rows"
            )
        d = np.asarray(after[b], dtype=float) - np.asarray(before[b], dtype=float)
        if d.size == 0:
            continue
        deltas[b] = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
        changes[b] = ScoreChange(float(d.mean()), float(deltas[b].std(ddof=1)))
    by_role: list[ScoreChange | None] = []
    for role in ("in", "out"):
        chosen = [b for b in deltas if roles[b] == role]
        if not chosen:
            by_role.append(None)
            continue
        sizes = np.array([len(before[b]) for b in chosen], dtype=float)
        weights = sizes / sizes.sum()
        point = float(sum(w * changes[b].delta for w, b in zip(weights, chosen)))
        boot = sum(w * deltas[b] for w, b in zip(weights, chosen))
        by_role.append(ScoreChange(point, float(np.std(boot, ddof=1))))
    return EvalChange(changes, by_role[0], by_role[1], resamples=resamples, seed=seed)


@dataclass(frozen=True)
class EvalScores:
    """An evaluation: per-benchmark scores and the In/Out scores (None without benchmarks
    of that role) with their standard errors; `before` is the evaluation before RL and
    `change` the change from it (a run's final evaluation); `seconds` and `model` are what
    `modomodo-eval` adds."""

    benchmarks: dict[str, BenchmarkScore]
    in_score: float | None
    out_score: float | None
    in_standard_error: float | None = None
    out_standard_error: float | None = None
    before: EvalScores | None = None
    change: EvalChange | None = None
    seconds: float | None = None
    model: str | None = None

    @classmethod
    def of(cls, benchmarks: Mapping[str, BenchmarkScore], **extra: Any) -> EvalScores:
        """The evaluation of `benchmarks`, with its In/Out scores and their errors computed."""
        ins, outs = in_out_scores(benchmarks)
        ins_se, outs_se = in_out_standard_errors(benchmarks)
        return cls(dict(benchmarks), ins, outs, ins_se, outs_se, **extra)

    def scores(self) -> dict[str, float]:
        """Score by benchmark name."""
        return {name: b.score for name, b in self.benchmarks.items()}

    def brief(self) -> EvalScores:
        """The scores alone (no completions, timing or model path), as summary.json holds them."""
        return dataclasses.replace(
            self,
            benchmarks={k: dataclasses.replace(b, examples=None) for k, b in self.benchmarks.items()},
            before=None if self.before is None else self.before.brief(),
            seconds=None,
            model=None,
        )

    @classmethod
    def from_json(cls, data: Any, where: str) -> EvalScores:
        _check_keys(cls, data, where, ("benchmarks", "in_score", "out_score"))
        benchmarks = data["benchmarks"]
        if not isinstance(benchmarks, Mapping):
            raise ValueError(
                f"{where}: benchmarks is {_short(benchmarks)}; expected a mapping name -> {{score, n, role}}"
            )
        before, change, model = data.get("before"), data.get("change"), data.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError(f"{where}: model is {_short(model)}; expected a path")
        return cls(
            {
                str(k): BenchmarkScore.from_json(v, f"{where}: benchmarks[{k!r}]")
                for k, v in benchmarks.items()
            },
            _number_or_none(data, "in_score", where),
            _number_or_none(data, "out_score", where),
            _number_or_none(data, "in_standard_error", where),
            _number_or_none(data, "out_standard_error", where),
            before=None if before is None else cls.from_json(before, f"{where}: before"),
            change=None if change is None else EvalChange.from_json(change, f"{where}: change"),
            seconds=_number_or_none(data, "seconds", where),
            model=model,
        )

    @classmethod
    def read(cls, path: str | Path) -> EvalScores:
        return cls.from_json(_read(path), str(path))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "benchmarks": {k: b.to_json() for k, b in self.benchmarks.items()},
            "in_score": self.in_score,
            "out_score": self.out_score,
        }
        extra = {
            "in_standard_error": self.in_standard_error,
            "out_standard_error": self.out_standard_error,
            "before": None if self.before is None else self.before.to_json(),
            "change": None if self.change is None else self.change.to_json(),
            "seconds": self.seconds,
            "model": self.model,
        }
        return out | _without_none(extra)


def in_out_scores(benchmarks: Mapping[str, BenchmarkScore]) -> tuple[float | None, float | None]:
    """(In-Score, Out-Score): `weighted_score` over the `in` / `out` benchmarks with rows;
    None for a role without any."""
    out: list[float | None] = []
    for role in ("in", "out"):
        chosen = {k: b for k, b in benchmarks.items() if b.role == role and b.n > 0}
        sizes = {k: b.n for k, b in chosen.items()}
        out.append(weighted_score({k: b.score for k, b in chosen.items()}, sizes) if chosen else None)
    return out[0], out[1]


def in_out_standard_errors(benchmarks: Mapping[str, BenchmarkScore]) -> tuple[float | None, float | None]:
    """The standard errors of `in_out_scores` (`weighted_standard_error`)."""
    out: list[float | None] = []
    for role in ("in", "out"):
        chosen = {k: b for k, b in benchmarks.items() if b.role == role and b.n > 0}
        sizes = {k: b.n for k, b in chosen.items()}
        errors = {k: b.standard_error for k, b in chosen.items()}
        out.append(weighted_standard_error(errors, sizes) if chosen else None)
    return out[0], out[1]


# -- the run ------------------------------------------------------------------------------------


def adaptive_weights(
    records: Sequence[Mapping[str, Any]], domains: Sequence[str]
) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """(final, mean) weights of an adaptive run from its `metrics.jsonl` records, which log
    `mixture/weight/<domain>` at each step: the last step's weights, and the mean over the
    steps (a step logged twice counts once, with its last record); (None, None) when no
    record logs them (a fixed mixture)."""
    by_step: dict[Any, dict[str, float]] = {}
    for r in records:
        if all(f"mixture/weight/{d}" in r for d in domains):
            by_step[r.get("step")] = {d: float(r[f"mixture/weight/{d}"]) for d in domains}
    if not by_step or not domains:
        return None, None
    steps = list(by_step.values())
    mean = {d: sum(w[d] for w in steps) / len(steps) for d in domains}
    return steps[-1], mean


@dataclass
class RunSummary:
    """DIR/summary.json of one `modomodo-train` run.

    `steps` trained; `interrupted` (Ctrl-C: a checkpoint was saved, the run is not done);
    the mixture `weights` as configured (where an adaptive run starts), and for an adaptive
    run `weights_final` and `weights_mean`, the policy's last weights and their mean over the
    logged steps (`adaptive_weights`); the `loss_backend`; the training `reward` overall (`start`,
    `end` window means, `delta`, noise) and `per_domain`; `eval` after RL (with `before`),
    or `eval_before` alone when the run stopped before its final evaluation; `warm_start`
    and `data_engine` statistics; `seconds` per phase; the reward-curve `plot` file name.
    """

    steps: int
    interrupted: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    weights_final: dict[str, float] | None = None
    weights_mean: dict[str, float] | None = None
    loss_backend: str | None = None
    reward: dict[str, Any] | None = None
    per_domain: dict[str, dict[str, Any]] = field(default_factory=dict)
    eval: EvalScores | None = None
    eval_before: EvalScores | None = None
    warm_start: dict[str, Any] | None = None
    data_engine: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    plot: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> RunSummary:
        _check_keys(cls, data, where, ("steps",))
        steps, interrupted = data["steps"], data.get("interrupted", False)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"{where}: steps is {_short(steps)}; expected an integer >= 0")
        if not isinstance(interrupted, bool):
            raise ValueError(f"{where}: interrupted is {_short(interrupted)}; expected true or false")
        for key in ("loss_backend", "plot"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"{where}: {key} is {_short(data[key])}; expected a string")
        evals = {
            key: None if data.get(key) is None else EvalScores.from_json(data[key], f"{where}: {key}")
            for key in ("eval", "eval_before")
        }
        return cls(
            steps=steps,
            interrupted=interrupted,
            weights=_mapping(data, "weights", where) or {},
            weights_final=_mapping(data, "weights_final", where),
            weights_mean=_mapping(data, "weights_mean", where),
            loss_backend=data.get("loss_backend"),
            reward=_mapping(data, "reward", where),
            per_domain=_mapping(data, "per_domain", where) or {},
            warm_start=_mapping(data, "warm_start", where),
            data_engine=_mapping(data, "data_engine", where),
            seconds=_mapping(data, "seconds", where) or {},
            plot=data.get("plot"),
            **evals,
        )

    @classmethod
    def read(cls, path: str | Path) -> RunSummary:
        return cls.from_json(_read(path), str(path))

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("eval", "eval_before"):
            if out[key] is not None:
                out[key] = out[key].to_json()
        return _without_none(out)

    def describe(self, output_dir: str | Path) -> str:
        """A few lines for a person: where the results and the plot are, the training reward,
        and each score before -> after RL with its standard error and the paired change."""
        out = Path(output_dir)
        total = self.seconds.get("total")
        took = "" if total is None else f" in {total / 60:.1f} min"
        lines = [
            f"{self.steps} GRPO steps{' (interrupted)' if self.interrupted else ''}{took}; results in {out}"
        ]
        if self.plot:
            lines.append(f"plot: {out / self.plot}")
        if self.reward:
            lines.append(
                f"training reward {self.reward['start']:.3f} -> {self.reward['end']:.3f} (window means)"
            )
        ev = self.eval
        before = self.eval_before if ev is None else ev.before
        head = ev if ev is not None else before
        if head is None:
            return "\n".join(lines)
        rows: list[tuple[str, str, str, str]] = [("", "before RL", "after RL", "change (paired bootstrap)")]

        def pm(value: float | None, error: float | None, sign: str = "") -> str:
            if value is None:
                return "-"
            return f"{value:{sign}.3f}" + ("" if error is None else f" ± {error:.3f}")

        def change(c: ScoreChange | None) -> str:
            if c is None:
                return "-"
            ratio = f" ({c.delta / c.standard_error:+.1f} SE)" if c.standard_error > 0 else ""
            return pm(c.delta, c.standard_error, "+") + ratio

        def score_of(e: EvalScores | None, key: str) -> str:
            if e is None:
                return "-"
            return pm(getattr(e, key), getattr(e, key.replace("score", "standard_error")))

        delta = None if ev is None else ev.change
        for label, key in (("In-Score", "in_score"), ("Out-Score", "out_score")):
            rows.append(
                (
                    label,
                    score_of(before, key),
                    score_of(ev, key),
                    change(None if delta is None else getattr(delta, key)),
                )
            )
        for name, b in head.benchmarks.items():
            old = None if before is None else before.benchmarks.get(name)
            new = None if ev is None else ev.benchmarks.get(name)
            rows.append(
                (
                    f"  {name} ({b.role})",
                    "-" if old is None else pm(old.score, old.standard_error),
                    "-" if new is None else pm(new.score, new.standard_error),
                    change(None if delta is None else delta.benchmarks.get(name)),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines += ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write atomically: a reader sees the old summary or the new one, never a part."""
        return atomic_write_text(path, json.dumps(self.to_json(), indent=1, default=str) + "\n")
