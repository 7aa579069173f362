"""Verifiable rewards for multimodal RL, computed in Rust (`modomodo._core`).

Every reward takes one string or a list of strings and returns a list of floats in
[0, 1] (one string in -> a list of one float, as TRL's reward functions return). A list is
scored in one Rust call that releases the GIL and spreads the work over threads; the
result order is the input order. No model output makes a reward raise: unparseable text
scores 0.0. A bad *argument* (unknown kind, lists of different lengths, a negative or
non-finite tolerance) raises `ValueError` naming it; `None`, `bytes`, a `dict` or a `set`
where a list of strings is expected raises `TypeError` naming what was given.

- `extract_answer(text)`: the trimmed content of the last `<answer>…</answer>` block
  (up to the first closing tag after its opening one, so a stray `</answer>` is left
  out), else of the last balanced `\\boxed{…}`, else None.
- `format_reward(completions, *, strict=True)`: strict = one `<think>…</think>` then one
  `<answer>…</answer>` and only white space around; lenient = an answer block is present.
- `accuracy_reward(completions, solutions, *, kind="auto", rel_tol=1e-6)`: the answer
  (`extract_answer`, else the whole completion) against the solution (which may itself be
  wrapped in `<answer>` tags), by kind: `exact`, `mcq`, `yesno`, `numeric`, `count`,
  `math`, `auto`. `math` is three-valued inside (proven equal, proven unequal,
  undecided); with `kind="math"` and `math_verify=True`, the pairs the Rust check
  cannot decide go to math-verify under a hard time bound (`math_timeout` seconds per
  call); see `modomodo.rewards.math_fallback`. The fallback is off by default so that
  rewards are deterministic and fast.
- `chart_reward(completions, solutions, *, rel_tol=0.05)`: ChartQA relaxed accuracy.
- `parse_boxes`, `iou_reward` (`modomodo.rewards.geometry`) and `bmas_reward`,
  `TokenEmbedder` (`modomodo.rewards.bmas`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
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


def _texts(value: str | Sequence[str]) -> Sequence[str]:
    """One string -> a list of one; an iterator -> a list (it is read once and may be read
    again); anything else goes to Rust as it is, which reads any sequence of str and
    raises TypeError naming what it got instead (`None`, `bytes`, a `dict`, a `set`, a
    non-str item and its index)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterator):
        return list(value)
    return value


# A str is itself a Sequence[str]; it matches the first overload, which is listed first.
@overload
def extract_answer(text: str) -> str | None: ...  # type: ignore[overload-overlap]
@overload
def extract_answer(text: Sequence[str]) -> list[str | None]: ...
def extract_answer(text: str | Sequence[str]) -> str | None | list[str | None]:
    """The trimmed content of the last `<answer>…</answer>` block (a stray closing tag
    after it is left out: `<answer>42</answer></answer>` gives `42`), else of the last
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
    ignored), `mcq`, `yesno` (saying both scores 0), `numeric` (within `rel_tol` of the
    gold, or 1e-9 absolute; non-finite numbers never match; thousands may be separated by
    `,`, a space or a thin space: `1,000`, `1 000`), `count` (integers, number words zero
    to twenty), `math`, `auto` (mcq / yesno / numeric / exact from the gold's shape).

    `mcq`: the option letter the answer names equals the gold letter. An answer that opens
    with a marked option letter — `(A)`, `[A]`, `A)`, `A.`, `A:` — followed by an
    explanation names that letter (`A. Because B is not valid` names A), unless the
    explanation opens with a single letter or a joining word (`A. B`, `A. or B`). Any
    other answer names the option letters standing alone in it, and naming two or more
    different letters (`A or B`, `A, B`) scores 0. So at most one letter can ever score.

    `math` is three-valued inside: proven equal (1.0), proven unequal (0.0), undecided
    (0.0 unless `math_verify=True` decides it); a wrong answer is never rewarded. The
    answer is the answer block, else the boxes it is split over (`\\boxed{1},
    \\boxed{2}` reads as `1, 2`), else the whole text. Proven: both sides evaluate to
    numbers (closed-form LaTeX arithmetic: `\\frac`, `\\sqrt`, `\\pi`, degrees) and are
    equal within `rel_tol` or not; equal canonical forms; the same set of values
    (`1, 2, 3` and `\\{3, 2, 1\\}`). `x = 5` reads as `5` only when a lone variable or
    simple symbol stands on the left (`x`, `θ`, `a_n`, `f(x)`): `2x + 1 = 3` is an
    equation, so `3` does not match it. Equations, inequalities, intervals and
    expressions with variables are undecided.

    `math_verify=True` (kind `math` only; needs `pip install 'modomodo[math]'`) sends every
    pair the Rust check leaves undecided to math-verify in a worker process; the whole
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
        # the answers as the `math` kind reads them (an answer split over several boxes
        # is the list of their contents)
        golds = _core.math_answer_batch([sols[i] for i in undecided])
        preds = _core.math_answer_batch([comps[i] for i in undecided])
        for i, ok in zip(undecided, math_fallback.verify_pairs(list(zip(golds, preds)), timeout)):
            scores[i] = 1.0 if ok else 0.0
    return scores


def chart_reward(
    completions: str | Sequence[str], solutions: str | Sequence[str], *, rel_tol: float = 0.05
) -> list[float]:
    """ChartQA relaxed accuracy: a numeric gold is matched within `rel_tol` of the gold
    (`45%` may be read as 45 or 0.45); any other gold by `exact`."""
    return _core.chart_reward(_texts(completions), _texts(solutions), rel_tol)
