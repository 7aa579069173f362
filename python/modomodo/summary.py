"""What a training run reports: `summary.json`, its evaluation block, and the In/Out score.

`modomodo-train` writes DIR/summary.json as a `RunSummary`; `modomodo-eval` writes one
`EvalScores` to its output file; `modomodo-mix` reads both back through these classes and
refuses any other shape with a message naming the file, the key and what was expected.

In-Score and Out-Score are the means of the per-benchmark scores over the `in` and the
`out` benchmarks, weighted by test-set size, as in the paper (`weighted_score`).

This module needs nothing beyond the standard library, so `modomodo.mixture` can read runs
without TRL or torch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
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
    and optionally the first few completions (kept by `modomodo-eval` for a look)."""

    score: float
    n: int
    role: str
    examples: list[dict[str, Any]] | None = None

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
        return cls(_number(data, "score", where), n, role, examples)

    def to_json(self) -> dict[str, Any]:
        return _without_none(dataclasses.asdict(self))


@dataclass(frozen=True)
class EvalScores:
    """An evaluation: per-benchmark scores and the In/Out scores (None without benchmarks
    of that role); `before` is the evaluation before RL, `seconds` and `model` are what
    `modomodo-eval` adds."""

    benchmarks: dict[str, BenchmarkScore]
    in_score: float | None
    out_score: float | None
    before: EvalScores | None = None
    seconds: float | None = None
    model: str | None = None

    @classmethod
    def of(cls, benchmarks: Mapping[str, BenchmarkScore], **extra: Any) -> EvalScores:
        """The evaluation of `benchmarks`, with its In/Out scores computed."""
        return cls(dict(benchmarks), *in_out_scores(benchmarks), **extra)

    def scores(self) -> dict[str, float]:
        """Score by benchmark name."""
        return {name: b.score for name, b in self.benchmarks.items()}

    def brief(self) -> EvalScores:
        """The scores alone (no completions, timing or model path), as summary.json holds them."""
        return EvalScores(
            {k: dataclasses.replace(b, examples=None) for k, b in self.benchmarks.items()},
            self.in_score,
            self.out_score,
            before=None if self.before is None else self.before.brief(),
        )

    @classmethod
    def from_json(cls, data: Any, where: str) -> EvalScores:
        _check_keys(cls, data, where, ("benchmarks", "in_score", "out_score"))
        benchmarks = data["benchmarks"]
        if not isinstance(benchmarks, Mapping):
            raise ValueError(
                f"{where}: benchmarks is {_short(benchmarks)}; expected a mapping name -> {{score, n, role}}"
            )
        before, model = data.get("before"), data.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError(f"{where}: model is {_short(model)}; expected a path")
        return cls(
            {
                str(k): BenchmarkScore.from_json(v, f"{where}: benchmarks[{k!r}]")
                for k, v in benchmarks.items()
            },
            _number_or_none(data, "in_score", where),
            _number_or_none(data, "out_score", where),
            before=None if before is None else cls.from_json(before, f"{where}: before"),
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
        if self.before is not None:
            out["before"] = self.before.to_json()
        return out | _without_none({"seconds": self.seconds, "model": self.model})


def in_out_scores(benchmarks: Mapping[str, BenchmarkScore]) -> tuple[float | None, float | None]:
    """(In-Score, Out-Score): `weighted_score` over the `in` / `out` benchmarks with rows;
    None for a role without any."""
    out: list[float | None] = []
    for role in ("in", "out"):
        chosen = {k: b for k, b in benchmarks.items() if b.role == role and b.n > 0}
        sizes = {k: b.n for k, b in chosen.items()}
        out.append(weighted_score({k: b.score for k, b in chosen.items()}, sizes) if chosen else None)
    return out[0], out[1]


# -- the run ------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """DIR/summary.json of one `modomodo-train` run.

    `steps` trained; `interrupted` (Ctrl-C: a checkpoint was saved, the run is not done);
    the mixture `weights`; the `loss_backend`; the training `reward` overall (`start`,
    `end` window means, `delta`, noise) and `per_domain`; `eval` after RL (with `before`),
    or `eval_before` alone when the run stopped before its final evaluation; `warm_start`
    and `data_engine` statistics; `seconds` per phase; the reward-curve `plot` file name.
    """

    steps: int
    interrupted: bool = False
    weights: dict[str, float] = field(default_factory=dict)
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

    def write(self, path: str | Path) -> Path:
        """Write atomically: a reader sees the old summary or the new one, never a part."""
        return atomic_write_text(path, json.dumps(self.to_json(), indent=1, default=str) + "\n")
