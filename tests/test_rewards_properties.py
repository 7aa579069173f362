"""Properties of the text rewards over arbitrary text (hypothesis): they never raise,
always return one score in [0, 1] per completion, and take time linear in the input."""

from __future__ import annotations

import time
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linear_time import BOUND, GROWTH, growth_ratio, repeat_to

from modomodo.rewards import accuracy_reward, chart_reward, extract_answer, format_reward

KINDS = ("exact", "mcq", "yesno", "numeric", "count", "math", "auto")

# Pieces the parsers react to: tags, braces, LaTeX, signs, separators, letters, words.
PIECES = [
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
    "\\boxed{",
    "{",
    "}",
    "\\frac",
    "\\dfrac",
    "\\sqrt",
    "\\pi",
    "\\text{",
    "\\left(",
    "\\right)",
    "$",
    "%",
    "\\%",
    "1,000",
    "{,}",
    "e",
    "-",
    "−",
    "+",
    "/",
    "^",
    "^\\circ",
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    "=",
    "x",
    "yes",
    "no",
    "A",
    "(B)",
    "b)",
    "Option",
    "The answer is",
    "three",
    " ",
    "\n",
    "\\",
    "×10^",
    "∞",
    "nan",
    "inf",
    "1e999",
    "0",
    "7",
    "3.25",
    "π",
    "√",
    "**",
    '"',
    "é",
    "\x00",
    "\ud7ff",
]

soup = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=40).map("".join)
texts = st.one_of(st.text(max_size=200), soup)
pairs = st.lists(st.tuples(texts, texts), min_size=1, max_size=8)

# Unicode White_Space, which the Rust side trims (Python's str.strip also drops \x1c-\x1f).
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _valid(scores: list[float], n: int) -> bool:
    return len(scores) == n and all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs, st.floats(min_value=0.0, max_value=1.0))
def test_every_text_reward_is_total_and_bounded(batch: list[tuple[str, str]], rel_tol: float) -> None:
    completions = [c for c, _ in batch]
    solutions = [s for _, s in batch]
    n = len(batch)
    for kind in KINDS:
        assert _valid(accuracy_reward(completions, solutions, kind=kind, rel_tol=rel_tol), n)
    assert _valid(chart_reward(completions, solutions, rel_tol=rel_tol), n)
    strict, lenient = format_reward(completions), format_reward(completions, strict=False)
    assert _valid(strict, n) and _valid(lenient, n)
    assert all(s <= l for s, l in zip(strict, lenient))  # strict format implies lenient


@settings(max_examples=400, deadline=None)
@given(texts)
def test_single_strings_and_extraction(text: str) -> None:
    assert _valid(format_reward(text), 1)
    assert _valid(accuracy_reward(text, text), 1)
    assert _valid(chart_reward(text, text), 1)
    answer = extract_answer(text)
    if answer is not None:
        assert answer in text and answer == answer.strip(WHITE_SPACE)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=50), st.text(max_size=50))
def test_answer_tags_hold_any_text(inner: str, noise: str) -> None:
    completion = f"{noise}<answer>{inner}</answer>"
    if "</answer>" not in inner and "<answer>" not in inner:
        assert extract_answer(completion) == inner.strip(WHITE_SPACE)


PATHOLOGICAL = [
    "<answer>",
    "</answer>",
    "{",
    "}",
    "\\boxed{",
    "\\frac{1}{",
    "(1+",
    "2^",
    "-",
    "1",
    "1,000",
    "A ",
    "(B) ",
    "yes ",
    "a",
    " ",
    "$",
    "\\text{",
    "é",
]


def _score_all(completion: str) -> None:
    """Every text reward on one completion."""
    for kind in KINDS:
        assert _valid(accuracy_reward([completion], ["42"], kind=kind), 1)
    assert _valid(chart_reward([completion], [completion]), 1)
    assert _valid(format_reward([completion]), 1)


def test_megabyte_completions_score_in_linear_time() -> None:
    """1 MB of each pathological piece scores (no hang; the time is printed), and the time
    on 64 KiB over the time on 4 KiB stays far below quadratic growth (`linear_time`)."""
    for piece in PATHOLOGICAL:
        start = time.perf_counter()
        _score_all(repeat_to(piece, 1 << 20))
        megabyte = time.perf_counter() - start
        ratio = growth_ratio(_score_all, partial(repeat_to, piece))
        print(f"{piece!r:>14}: 1 MB {megabyte * 1e3:7.1f} ms (all 9 rewards), 64 KiB / 4 KiB {ratio:5.1f}")
        assert ratio < BOUND, f"{piece!r}: {ratio:.1f} times the time for {GROWTH} times the text"
