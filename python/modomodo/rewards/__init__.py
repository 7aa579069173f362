"""Verifiable rewards for multimodal RL, computed in Rust (`modomodo._core`).

Every reward takes one string or a list of strings and returns a list of floats in
[0, 1] (one string in -> a list of one float, as TRL's reward functions return). A list is
scored in one Rust call that releases the GIL and spreads the work over threads; the
result order is the input order. No model output makes a reward raise: unparseable text
scores 0.0. A bad *argument* (unknown kind, lists of different lengths, a negative or
non-finite tolerance) raises `ValueError` naming it.

- `extract_answer(text)`: the trimmed content of the last `<answer>…</answer>` block,
  else of the last balanced `\\boxed{…}`, else None.
- `format_reward(completions, *, strict=True)`: strict = one `<think>…</think>` then one
  `<answer>…</answer>` and only white space around; lenient = an answer block is present.
- `accuracy_reward(completions, solutions, *, kind="auto", rel_tol=1e-6)`: the answer
  (`extract_answer`, else the whole completion) against the solution (which may itself be
  wrapped in `<answer>` tags), by kind: `exact`, `mcq`, `yesno`, `numeric`, `count`,
  `math`, `auto`. With `kind="math"` and `math_verify=True`, the pairs the Rust check
  cannot decide go to math-verify under a hard time bound (`math_timeout` seconds per
  call); see `modomodo.rewards.math_fallback`. The fallback is off by default so that
  rewards are deterministic and fast.
- `chart_reward(completions, solutions, *, rel_tol=0.05)`: ChartQA relaxed accuracy.
- `parse_boxes`, `iou_reward` (`modomodo.rewards.geometry`) and `bmas_reward`,
  `TokenEmbedder` (`modomodo.rewards.bmas`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import overload

from modomodo import _core
from modomodo.rewards.bmas import TokenEmbedder, bmas_reward
from modomodo.rewards.geometry import iou_reward, parse_boxes

__all__ = [
    "extract_answer",
    "format_reward",
    "accuracy_reward",
    "chart_reward",
    "parse_boxes",
    "iou_reward",
    "bmas_reward",
    "TokenEmbedder",
]


def _texts(value: str | Iterable[str]) -> Sequence[str]:
    """One string -> a list of one; lists and tuples pass as they are (Rust reads any
    sequence of str and raises TypeError naming a non-str item)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return value
    return list(value)


@overload
def extract_answer(text: str) -> str | None: ...
@overload
def extract_answer(text: Sequence[str]) -> list[str | None]: ...
def extract_answer(text: str | Sequence[str]) -> str | None | list[str | None]:
    """The trimmed content of the last `<answer>…</answer>` block, else of the last
    balanced `\\boxed{…}`, else None. A list gives a list, in order."""
    if isinstance(text, str):
        return _core.extract_answer(text)
    return _core.extract_answer_batch(_texts(text))


def format_reward(completions: str | Sequence[str], *, strict: bool = True) -> list[float]:
    """1.0 per completion with the format: strict = `<think>…</think><answer>…</answer>` and
    only white space around (multi-line inside); lenient = an answer block is present."""
    return _core.format_reward(_texts(completions), bool(strict))


def _check_timeout(math_timeout: float) -> float:
    try:
        value = float(math_timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"invalid math_timeout {math_timeout!r}: expected a finite number of seconds > 0")
    return value


def accuracy_reward(
    completions: str | Sequence[str],
    solutions: str | Sequence[str],
    *,
    kind: str = "auto",
    rel_tol: float = 1e-6,
    math_verify: bool = False,
    math_timeout: float = 10.0,
) -> list[float]:
    """1.0 per completion whose answer matches its solution under `kind`.

    Kinds: `exact` (case, white space, surrounding quotes/brackets and a final period
    ignored), `mcq` (the single option letter named; naming two letters scores 0), `yesno`
    (saying both scores 0), `numeric` (within `rel_tol` of the gold, or 1e-9 absolute;
    non-finite numbers never match), `count` (integers, number words zero to twenty),
    `math` (numbers and closed-form LaTeX arithmetic, then canonical forms), `auto`
    (mcq / yesno / numeric / exact from the gold's shape).

    `math_verify=True` (kind `math` only; needs `pip install 'modomodo[math]'`) sends the
    pairs the Rust check leaves undecided to math-verify in a worker process; the whole
    fallback finishes within `math_timeout` seconds (first call included, which starts the
    worker), and pairs not decided by then score 0.0.
    """
    comps, sols = _texts(completions), _texts(solutions)
    if not math_verify or kind != "math":
        return _core.accuracy_reward(comps, sols, kind, rel_tol)

    from modomodo.rewards import math_fallback

    timeout = _check_timeout(math_timeout)
    if not math_fallback.available():
        raise ImportError("math_verify=True needs the math-verify package: pip install 'modomodo[math]'")
    verdicts = _core.math_verdicts(comps, sols, rel_tol)
    scores = [1.0 if v == 1 else 0.0 for v in verdicts]
    undecided = [i for i, v in enumerate(verdicts) if v < 0]
    if undecided:
        golds = extract_answer([sols[i] for i in undecided])
        preds = extract_answer([comps[i] for i in undecided])
        pairs = [
            (g if g is not None else sols[i].strip(), p if p is not None else comps[i].strip())
            for i, g, p in zip(undecided, golds, preds)
        ]
        for i, ok in zip(undecided, math_fallback.verify_pairs(pairs, timeout)):
            scores[i] = 1.0 if ok else 0.0
    return scores


def chart_reward(
    completions: str | Sequence[str], solutions: str | Sequence[str], *, rel_tol: float = 0.05
) -> list[float]:
    """ChartQA relaxed accuracy: a numeric gold is matched within `rel_tol` of the gold
    (`45%` may be read as 45 or 0.45); any other gold by `exact`."""
    return _core.chart_reward(_texts(completions), _texts(solutions), rel_tol)
