"""The reward registry: every reward a domain can name, defined once.

For each name: the public function that scores it, what it reads from the `solution`
column, and the options a domain may set (type and allowed values). `DomainSpec`
(`modomodo.data.spec`) checks its rewards against this table, `routed` (`rewards.trl`)
and the verl adapter (`rewards.verl`) check and score through it.

A scored entry is `Entry(name, weight, options)`; `check_entry` builds one, `score` runs
one reward over a batch of texts, `gated_sum` adds the entries of a row with MoDoMoDo's
format gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from modomodo.rewards import accuracy_reward, chart_reward, format_reward
from modomodo.rewards.bmas import bmas_reward
from modomodo.rewards.geometry import iou_reward

# Kinds of `accuracy_reward`, modes and coordinates of `iou_reward` (DESIGN.md). The Rust
# core refuses any other value; tests/test_rewards_trl.py checks that it accepts these.
ACCURACY_KINDS = ("exact", "mcq", "yesno", "numeric", "count", "math", "auto")
IOU_MODES = ("continuous", "threshold", "match")
COORDS = ("absolute", "norm1000", "norm1")


@dataclass(frozen=True)
class Option:
    """An option a domain may set: its type, and the values allowed where narrower."""

    type: type
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def expected(self) -> str:
        if self.type is bool:
            return "true or false"
        if self.choices:
            return f"one of {list(self.choices)}"
        if self.minimum is not None and self.maximum is not None:
            return f"a number in [{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f"a finite number >= {self.minimum:g}"
        return f"a {self.type.__name__}"

    def accepts(self, value: Any) -> bool:
        if self.type is bool:
            return isinstance(value, bool)
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return False
            return (self.minimum is None or value >= self.minimum) and (
                self.maximum is None or value <= self.maximum
            )
        if not isinstance(value, self.type):
            return False
        return not self.choices or value in self.choices


@dataclass(frozen=True)
class Reward:
    """One reward: its function and what it reads.

    `solution`: what the reward reads from the `solution` column: None (nothing),
    "text" (the gold answer as text) or "boxes" (a box, a list of boxes or text that
    `parse_boxes` reads; the `image_size` column is read too). `options`: what a domain may
    set. `needs_embedder`: the run supplies `embedder=` (the policy's token embeddings),
    which no YAML spec can hold. `max_value`: the largest score it gives (its scores lie in
    [0, max_value]).
    """

    name: str
    func: Callable[..., list[float]]
    solution: str | None
    options: Mapping[str, Option] = field(default_factory=dict)
    needs_embedder: bool = False
    max_value: float = 1.0

    @property
    def needs_solution(self) -> bool:
        return self.solution is not None


_FRACTION = Option(float, minimum=0.0, maximum=1.0)

REWARDS: dict[str, Reward] = {
    r.name: r
    for r in (
        Reward("format", format_reward, None, {"strict": Option(bool)}, max_value=1.0),
        Reward(
            "accuracy",
            accuracy_reward,
            "text",
            {
                "kind": Option(str, ACCURACY_KINDS),
                "rel_tol": Option(float, minimum=0.0),
                # kind math: undecided pairs go to math-verify, each within math_timeout seconds
                "math_verify": Option(bool),
                "math_timeout": Option(float, minimum=0.0),
            },
            max_value=1.0,
        ),
        Reward(
            "iou",
            iou_reward,
            "boxes",
            {"mode": Option(str, IOU_MODES), "threshold": _FRACTION, "coords": Option(str, COORDS)},
            max_value=1.0,  # an IoU, a 0/1 hit, or a mean of matched IoUs
        ),
        Reward("chart", chart_reward, "text", {"rel_tol": Option(float, minimum=0.0)}, max_value=1.0),
        Reward("bmas", bmas_reward, "text", needs_embedder=True, max_value=1.0),  # clipped to [0, 1]
    )
}
REWARD_NAMES = tuple(REWARDS)


def max_total(rewards: Iterable[Any]) -> float:
    """The largest total reward of a domain with `rewards` (items with `name` and `weight`,
    as a DomainSpec's or `Entry`s): each reward's `max_value` times its weight, summed
    (weights are > 0; the format gate only ever lowers a total)."""
    return float(sum(REWARDS[r.name].max_value * r.weight for r in rewards))


class Entry(NamedTuple):
    """A checked `{name, weight, options}` entry (options include an embedder where needed)."""

    name: str
    weight: float
    options: dict[str, Any]


def check_entry(name: Any, weight: Any, options: Any, where: str, *, embedder: Any = None) -> Entry:
    """Check one `{name, weight, options}` entry against the registry; `embedder` fills in
    a reward that needs one and names none. Raises `ValueError` naming `where`."""
    if not isinstance(name, str) or name not in REWARDS:
        raise ValueError(f"invalid reward name {name!r} in {where}: expected one of {list(REWARD_NAMES)}")
    reward = REWARDS[name]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ValueError(f"invalid weight {weight!r} in {where}: expected a finite number")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(f"invalid options {options!r} in {where}: expected a mapping")
    options = dict(options)
    allowed = set(reward.options) | ({"embedder"} if reward.needs_embedder else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"invalid options {unknown} for reward {name!r} in {where}: expected some of {sorted(allowed)}"
        )
    for key, value in options.items():
        option = reward.options.get(key)
        if option is not None and not option.accepts(value):
            raise ValueError(
                f"invalid option {key}={value!r} for reward {name!r} in {where}: expected {option.expected()}"
            )
    if reward.needs_embedder:
        if "embedder" not in options and embedder is not None:
            options["embedder"] = embedder
        if not callable(options.get("embedder")):
            raise ValueError(
                f"reward {name!r} in {where} needs an embedder: pass embedder=TokenEmbedder(model, tokenizer) "
                f"(got {options.get('embedder')!r})"
            )
    return Entry(name, float(weight), options)


def score(
    name: str,
    options: Mapping[str, Any],
    texts: Sequence[str],
    solutions: Sequence[Any] | None,
    image_sizes: Sequence[Any] | None = None,
) -> list[float | None]:
    """Reward `name` of each text; `None` for rows without a solution when it reads one."""
    reward = REWARDS[name]
    if not reward.needs_solution:
        return list(reward.func(list(texts), **options))
    if solutions is None:
        raise ValueError(f"reward {name!r} needs a `solution` column in the dataset")
    rows = [i for i, s in enumerate(solutions) if s is not None]
    out: list[float | None] = [None] * len(texts)
    if not rows:
        return out
    sols = [solutions[i] for i in rows]
    kwargs = dict(options)
    if reward.solution == "text":
        sols = [s if isinstance(s, str) else str(s) for s in sols]
    elif image_sizes is not None:
        kwargs["image_sizes"] = [image_sizes[i] for i in rows]
    for i, v in zip(rows, reward.func([texts[i] for i in rows], sols, **kwargs)):
        out[i] = v
    return out


def gated_sum(
    entries: Sequence[Entry], scores: Sequence[Sequence[float | None]], gate: bool = True
) -> list[float | None]:
    """Weighted sum per row of `scores[k][row]` (one list per entry); `None` where no entry
    applies. With `gate`, a row whose `format` score is 0 scores 0 (MoDoMoDo)."""
    n = len(scores[0]) if scores else 0
    out: list[float | None] = []
    for row in range(n):
        values = [(entry, s[row]) for entry, s in zip(entries, scores) if s[row] is not None]
        if not values:
            out.append(None)
        elif gate and any(e.name == "format" and v is not None and v <= 0.0 for e, v in values):
            out.append(0.0)
        else:
            out.append(sum(e.weight * float(v) for e, v in values if v is not None))
    return out
