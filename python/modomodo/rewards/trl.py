"""Rewards with TRL's signature, `f(prompts, completions, **kwargs) -> list[float | None]`.

TRL passes the dataset columns of each row as keyword lists; these functions read
`solution`, `domain` and `image_size` (others are ignored). Completions may be plain
strings or conversational (a list of message dicts). A row a reward does not apply to
(no solution) gets `None`, which TRL turns into NaN and leaves out of its means.

- `format`, `accuracy`, `iou`, `chart`, `bmas`: each reward with default options;
  `reward(name, **options)` makes one with other options (`bmas` needs an `embedder`).
- `routed(spec)`: one function that scores each completion with the rewards of its row's
  `domain`. `spec` maps a domain to a list of `{"name", "weight", "options"}`; the score is
  the weighted sum, and where a domain lists `format`, a failed format check zeroes every
  other reward of that completion (MoDoMoDo's format gate). Example (MoDoMoDo's weights):

      routed({
          "coco": [{"name": "format", "weight": 1.0},
                   {"name": "iou", "weight": 2.0, "options": {"mode": "match"}}],
          "scienceqa": [{"name": "format", "weight": 1.0},
                        {"name": "accuracy", "weight": 2.0, "options": {"kind": "mcq"}}],
      })
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modomodo.rewards import accuracy_reward, chart_reward, format_reward
from modomodo.rewards.bmas import bmas_reward
from modomodo.rewards.geometry import iou_reward

RewardFunc = Callable[..., list[float | None]]

# name -> (public reward function, whether it reads the solution)
_REWARDS: dict[str, tuple[Callable[..., list[float]], bool]] = {
    "format": (format_reward, False),
    "accuracy": (accuracy_reward, True),
    "chart": (chart_reward, True),
    "iou": (iou_reward, True),
    "bmas": (bmas_reward, True),
}


def _option_names(name: str) -> set[str]:
    func = _REWARDS[name][0]
    params = inspect.signature(func).parameters.values()
    names = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return names - {"image_sizes"}  # iou's sizes come from the `image_size` column


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the text content of its messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if not isinstance(completion, Sequence):
        return ""
    parts: list[str] = []
    for message in completion:
        content = message.get("content", "") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, Sequence):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
    return "".join(parts)


def score(
    name: str,
    options: Mapping[str, Any],
    texts: Sequence[str],
    solutions: Sequence[Any] | None,
    image_sizes: Sequence[Any] | None = None,
) -> list[float | None]:
    """Reward `name` of each text; `None` for rows without a solution when it needs one."""
    func, needs_solution = _REWARDS[name]
    if not needs_solution:
        return list(func(list(texts), **options))
    if solutions is None:
        raise ValueError(f"reward {name!r} needs a `solution` column in the dataset")
    rows = [i for i, s in enumerate(solutions) if s is not None]
    out: list[float | None] = [None] * len(texts)
    if not rows:
        return out
    sols = [solutions[i] for i in rows]
    if name in ("accuracy", "chart", "bmas"):
        sols = [s if isinstance(s, str) else str(s) for s in sols]
    kwargs = dict(options)
    if name == "iou" and image_sizes is not None:
        kwargs["image_sizes"] = [image_sizes[i] for i in rows]
    for i, v in zip(rows, func([texts[i] for i in rows], sols, **kwargs)):
        out[i] = v
    return out


def validate(name: Any, weight: Any, options: Any, where: str) -> tuple[str, float, dict[str, Any]]:
    """Check one `{name, weight, options}` entry, options included (by a dry run)."""
    if name not in _REWARDS:
        raise ValueError(f"invalid reward name {name!r} in {where}: expected one of {sorted(_REWARDS)}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ValueError(f"invalid weight {weight!r} in {where}: expected a finite number")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(f"invalid options {options!r} in {where}: expected a mapping")
    unknown = set(options) - _option_names(name)
    if unknown:
        raise ValueError(
            f"invalid options {sorted(unknown)} for reward {name!r} in {where}: "
            f"expected some of {sorted(_option_names(name))}"
        )
    if name == "bmas" and "embedder" not in options:
        raise ValueError(
            f"reward 'bmas' in {where} needs options={{'embedder': TokenEmbedder(model, tokenizer)}}"
        )
    options = dict(options)
    try:
        score(name, options, ["<answer>x</answer>"], ["x"], [(100.0, 100.0)])
    except ValueError as err:
        raise ValueError(f"invalid options for reward {name!r} in {where}: {err}") from None
    return name, float(weight), options


def _named(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    func.__name__ = name
    func.__qualname__ = name
    return func


def reward(name: str, **options: Any) -> RewardFunc:
    """The TRL reward function `name` with `options` (validated now, not at the first call)."""
    name, _, options = validate(name, 1.0, options, f"reward({name!r})")

    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        return score(name, options, texts, kwargs.get("solution"), kwargs.get("image_size"))

    return _named(reward_func, name)


def _default(name: str) -> RewardFunc:
    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        return score(name, {}, texts, kwargs.get("solution"), kwargs.get("image_size"))

    return _named(reward_func, name)


format = _default("format")
accuracy = _default("accuracy")
iou = _default("iou")
chart = _default("chart")


def bmas(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """BMAS needs the policy's embeddings: use `reward("bmas", embedder=TokenEmbedder(model, tokenizer))`."""
    raise ValueError(
        "reward 'bmas' needs an embedder: use reward('bmas', embedder=TokenEmbedder(model, tokenizer))"
    )


Entry = tuple[str, float, dict[str, Any]]


def gated_sum(
    entries: Sequence[Entry], scores: Sequence[Sequence[float | None]], gate: bool = True
) -> list[float | None]:
    """Weighted sum per row of `scores[k][row]` (one list per entry); `None` where no entry
    applies. With `gate`, a row whose `format` score is 0 scores 0."""
    n = len(scores[0]) if scores else 0
    out: list[float | None] = []
    for row in range(n):
        values = [(entry, s[row]) for entry, s in zip(entries, scores) if s[row] is not None]
        if not values:
            out.append(None)
        elif gate and any(e[0] == "format" and v is not None and v <= 0.0 for e, v in values):
            out.append(0.0)
        else:
            out.append(sum(e[1] * float(v) for e, v in values if v is not None))
    return out


def routed(
    spec: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    gate: bool = True,
    embedder: Any = None,
    name: str = "routed",
) -> RewardFunc:
    """One TRL reward function scoring each row with the rewards its `domain` lists in `spec`.

    `spec`: domain -> list of `{"name": reward, "weight": w (default 1.0), "options": {...}}`.
    With `gate` (MoDoMoDo), a failed `format` zeroes the other rewards of that completion. A
    domain with an empty list gives `None` (TRL: not applicable); a row whose domain is not
    in `spec` raises `ValueError`. `embedder` is used by `bmas` entries that name none (a
    YAML spec cannot hold one). The spec is validated now, options included. Mean rewards per domain and per reward are logged through
    TRL's `log_metric` as `<name>/<domain>` and `<name>/<domain>/<reward>`.
    """
    if not isinstance(spec, Mapping) or not spec:
        raise ValueError(f"invalid spec {spec!r}: expected a non-empty mapping domain -> list of rewards")
    table: dict[str, list[Entry]] = {}
    for domain, entries in spec.items():
        if not isinstance(domain, str):
            raise ValueError(f"invalid domain {domain!r} in spec: expected a string")
        if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
            raise ValueError(
                f"invalid rewards {entries!r} for domain {domain!r}: expected a list of "
                "{'name', 'weight', 'options'}"
            )
        table[domain] = []
        for k, entry in enumerate(entries):
            where = f"spec[{domain!r}][{k}]"
            if not isinstance(entry, Mapping):
                raise ValueError(f"invalid entry {entry!r} in {where}: expected a mapping")
            extra = set(entry) - {"name", "weight", "options"}
            if extra:
                raise ValueError(f"invalid keys {sorted(extra)} in {where}: expected name, weight, options")
            options = entry.get("options")
            if (
                entry.get("name") == "bmas"
                and embedder is not None
                and isinstance(options, (Mapping, type(None)))
            ):
                options = {"embedder": embedder, **(options or {})}
            table[domain].append(validate(entry.get("name"), entry.get("weight", 1.0), options, where))

    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        domains = kwargs.get("domain")
        if domains is None:
            raise ValueError(f"reward {name!r} needs a `domain` column in the dataset")
        if len(domains) != len(completions):
            raise ValueError(
                f"length mismatch: completions has {len(completions)} items but domain has {len(domains)}"
            )
        missing = sorted({str(d) for d in domains if d not in table})
        if missing:
            raise ValueError(
                f"invalid domain {missing[0]!r}: not in the reward spec (known: {sorted(table)})"
            )
        texts = [completion_text(c) for c in completions]
        solutions = kwargs.get("solution")
        sizes = kwargs.get("image_size")
        out: list[float | None] = [None] * len(texts)
        log_metric = kwargs.get("log_metric")
        for domain, entries in table.items():
            rows = [i for i, d in enumerate(domains) if d == domain]
            if not rows or not entries:
                continue
            pick = lambda column, rows=rows: None if column is None else [column[i] for i in rows]  # noqa: E731
            sub = [texts[i] for i in rows]
            scores = [score(n, o, sub, pick(solutions), pick(sizes)) for n, _, o in entries]
            for i, v in zip(rows, gated_sum(entries, scores, gate)):
                out[i] = v
            if callable(log_metric):
                _log_means(log_metric, f"{name}/{domain}", entries, scores, [out[i] for i in rows])
        return out

    return _named(reward_func, name)


def _log_means(log_metric: Callable[[str, float], None], prefix: str, entries, scores, totals) -> None:
    def mean(values):
        vs = [float(v) for v in values if v is not None]
        return sum(vs) / len(vs) if vs else None

    for key, values in [(prefix, totals)] + [(f"{prefix}/{e[0]}", s) for e, s in zip(entries, scores)]:
        m = mean(values)
        if m is not None:
            log_metric(key, m)
