"""Rewards with TRL's signature, `f(prompts, completions, **kwargs) -> list[float | None]`.

TRL passes the dataset columns of each row as keyword lists; these functions read
`solution`, `domain` and `image_size` (others are ignored). Completions may be plain
strings or conversational (a list of message dicts). A row a reward does not apply to
(no solution) gets `None`, which TRL turns into NaN and leaves out of its means.

- `format`, `accuracy`, `iou`, `chart`, `bmas`: each reward with default options;
  `reward(name, **options)` makes one with other options (`bmas` needs an `embedder`);
  names and options are those of the reward registry (`modomodo.rewards.registry`).
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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modomodo.rewards.registry import Entry, check_entry, gated_sum, score

RewardFunc = Callable[..., list[float | None]]


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


def _column(kwargs: Mapping[str, Any], key: str, n: int, reward: str) -> Sequence[Any] | None:
    """Dataset column `key` from TRL's keyword arguments, checked to hold one value per
    completion (None when absent)."""
    column = kwargs.get(key)
    if column is not None and len(column) != n:
        raise ValueError(
            f"length mismatch in reward {reward!r}: completions has {n} items but {key} has {len(column)}"
        )
    return column


def _scorer(name: str, options: Mapping[str, Any]) -> RewardFunc:
    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        texts = [completion_text(c) for c in completions]
        solutions = _column(kwargs, "solution", n, name)
        return score(name, options, texts, solutions, _column(kwargs, "image_size", n, name))

    return _named(reward_func, name)


def _named(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    func.__name__ = name
    func.__qualname__ = name
    return func


def reward(name: str, **options: Any) -> RewardFunc:
    """The TRL reward function `name` with `options` (validated now, not at the first call)."""
    name, _, options = check_entry(name, 1.0, options, f"reward({name!r})")
    return _scorer(name, options)


format = _scorer("format", {})
accuracy = _scorer("accuracy", {})
iou = _scorer("iou", {})
chart = _scorer("chart", {})


def bmas(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """BMAS needs the policy's embeddings: use `reward("bmas", embedder=TokenEmbedder(model, tokenizer))`."""
    raise ValueError(
        "reward 'bmas' needs an embedder: use reward('bmas', embedder=TokenEmbedder(model, tokenizer))"
    )


def reward_table(
    spec: Mapping[str, Sequence[Mapping[str, Any]]], *, embedder: Any = None
) -> dict[str, list[Entry]]:
    """`spec` checked against the reward registry: domain -> its entries."""
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
            table[domain].append(
                check_entry(
                    entry.get("name"),
                    entry.get("weight", 1.0),
                    entry.get("options"),
                    where,
                    embedder=embedder,
                )
            )
    return table


def routed(
    spec: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    gate: bool = True,
    embedder: Any = None,
    name: str = "routed",
    log_totals: bool = True,
) -> RewardFunc:
    """One TRL reward function scoring each row with the rewards its `domain` lists in `spec`.

    `spec`: domain -> list of `{"name": reward, "weight": w (default 1.0), "options": {...}}`.
    With `gate` (MoDoMoDo), a failed `format` zeroes the other rewards of that completion. A
    domain with an empty list gives `None` (TRL: not applicable); a row whose domain is not
    in `spec` raises `ValueError`. `embedder` is used by `bmas` entries that name none (a
    YAML spec cannot hold one). The spec is checked now against the reward registry. Mean
    rewards per domain and per reward are logged through TRL's `log_metric` as
    `<name>/<domain>` and `<name>/<domain>/<reward>`; `log_totals=False` leaves out the first
    (for a trainer that logs the per-domain reward itself, as `ModomodoGRPOTrainer` does).
    """
    table = reward_table(spec, embedder=embedder)

    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        domains = _column(kwargs, "domain", n, name)
        if domains is None:
            raise ValueError(f"reward {name!r} needs a `domain` column in the dataset")
        missing = sorted({str(d) for d in domains if d not in table})
        if missing:
            raise ValueError(
                f"invalid domain {missing[0]!r}: not in the reward spec (known: {sorted(table)})"
            )
        texts = [completion_text(c) for c in completions]
        solutions = _column(kwargs, "solution", n, name)
        sizes = _column(kwargs, "image_size", n, name)
        log_metric = kwargs.get("log_metric")
        out: list[float | None] = [None] * n
        for domain, entries in table.items():
            rows = [i for i, d in enumerate(domains) if d == domain]
            if not rows or not entries:
                continue
            scores = [
                score(e.name, e.options, [texts[i] for i in rows], _pick(solutions, rows), _pick(sizes, rows))
                for e in entries
            ]
            for i, v in zip(rows, gated_sum(entries, scores, gate)):
                out[i] = v
            if callable(log_metric):
                totals = [out[i] for i in rows] if log_totals else None
                _log_means(log_metric, f"{name}/{domain}", entries, scores, totals)
        return out

    return _named(reward_func, name)


def _pick(column: Sequence[Any] | None, rows: Sequence[int]) -> list[Any] | None:
    return None if column is None else [column[i] for i in rows]


def _log_means(
    log_metric: Callable[[str, float], None],
    prefix: str,
    entries: Sequence[Entry],
    scores: Sequence[Sequence[float | None]],
    totals: Sequence[float | None] | None,
) -> None:
    means = [] if totals is None else [(prefix, totals)]
    for key, values in means + [(f"{prefix}/{e.name}", s) for e, s in zip(entries, scores)]:
        finite = [float(v) for v in values if v is not None]
        if finite:
            log_metric(key, sum(finite) / len(finite))
