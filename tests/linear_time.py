"""Linear time, checked without a wall-time bound: the time of an input 16 times longer
over the time of the short one, each the fastest of several runs, stays far below what
quadratic work gives. Load on the machine only ever adds time, so it barely moves a
fastest run, and neither the machine's speed nor its load sets the ratio.

The two lengths (4 KiB and 64 KiB) sit inside one core's L2 cache, so the ratio is the
growth of the work (16 when linear, 256 when quadratic), not the step from one cache to
the next. The bound, 64 = 16 ** 1.5, is the geometric middle of the two: work growing
faster than length ** 1.5 fails, and timing noise would have to inflate a linear
parser's ratio fourfold to fail it."""

from __future__ import annotations

import time
from collections.abc import Callable

SHORT = 4 << 10
GROWTH = 16
BOUND = GROWTH**1.5


def growth_ratio(
    score: Callable[[str], object], text_of_length: Callable[[int], str], repeats: int = 9
) -> float:
    """The fastest time of `score` on a text of GROWTH * SHORT characters over its fastest
    time on one of SHORT characters. The two are run alternately, so that a busy spell of
    the machine falls on both."""
    short, long = text_of_length(SHORT), text_of_length(GROWTH * SHORT)
    fastest_short = fastest_long = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        score(short)
        middle = time.perf_counter()
        score(long)
        end = time.perf_counter()
        fastest_short, fastest_long = min(fastest_short, middle - start), min(fastest_long, end - middle)
    return fastest_long / fastest_short


def repeat_to(piece: str, length: int) -> str:
    """`piece` repeated to about `length` characters (at least once)."""
    return piece * max(1, length // len(piece))
