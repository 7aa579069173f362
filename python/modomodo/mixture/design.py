"""Pilot designs on the simplex: the paper's 2m + 1 seeds, and space-filling extras.

Every design returns an ordered mapping run name -> mixture (domain -> weight).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

Mixture = dict[str, float]

# Every design point is meant to be a training run: a plan beyond this many is refused
# before any point is made (pass max_points to lift it).
MAX_DESIGN_POINTS = 10_000


def _check_domains(domains: Sequence[str]) -> list[str]:
    if isinstance(domains, str):
        raise ValueError(f"domains {domains!r}: expected a sequence of domain names, not one string")
    doms = [str(d) for d in domains]
    if len(doms) < 2:
        raise ValueError(f"domains {doms}: expected at least two domains to mix")
    if len(set(doms)) != len(doms):
        raise ValueError(f"domains {doms} repeat a name; expected distinct domains")
    return doms


def seed_mixtures(domains: Sequence[str]) -> dict[str, Mixture]:
    """The paper's seeds: each domain alone (`single_<d>`), each domain left out with the
    others uniform (`without_<d>`), and uniform over all (`uniform`): 2m + 1 runs.

    With two domains a left-out run is the other domain alone, so only the 3 distinct
    mixtures are returned.
    """
    doms = _check_domains(domains)
    m = len(doms)
    out: dict[str, Mixture] = {}
    for d in doms:
        out[f"single_{d}"] = {e: (1.0 if e == d else 0.0) for e in doms}
    if m > 2:
        for d in doms:
            out[f"without_{d}"] = {e: (0.0 if e == d else 1.0 / (m - 1)) for e in doms}
    out["uniform"] = {e: 1.0 / m for e in doms}
    return out


def dirichlet_mixtures(
    domains: Sequence[str],
    n: int,
    *,
    alpha: float = 1.0,
    seed: int = 0,
    prefix: str = "dirichlet",
    max_points: int = MAX_DESIGN_POINTS,
) -> dict[str, Mixture]:
    """`n` mixtures drawn from a symmetric Dirichlet(alpha) (alpha = 1: uniform on the simplex)."""
    doms = _check_domains(domains)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r}: expected a non-negative integer")
    if n > max_points:
        raise ValueError(
            f"n={n:,} Dirichlet mixtures: expected at most {max_points:,} (each one is a training run)"
        )
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha={alpha!r}: expected a finite positive concentration")
    W = np.random.default_rng(seed).dirichlet([alpha] * len(doms), size=n)
    width = max(3, len(str(n - 1)))
    return {f"{prefix}_{i:0{width}d}": dict(zip(doms, map(float, w))) for i, w in enumerate(W)}


def lattice_size(m: int, degree: int) -> int:
    """Points of the {m, degree} simplex lattice: C(m + degree - 1, degree)."""
    return math.comb(m + degree - 1, degree)


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to write `total` as `parts` non-negative integers, in descending
    lexicographic order, one at a time."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def simplex_lattice(
    domains: Sequence[str], degree: int, *, prefix: str = "lattice", max_points: int = MAX_DESIGN_POINTS
) -> dict[str, Mixture]:
    """The {m, degree} simplex lattice: every mixture whose weights are multiples of
    1/degree (C(m + degree - 1, degree) points). Its size is counted first: more than
    `max_points` is refused, naming the largest degree that fits."""
    doms = _check_domains(domains)
    m = len(doms)
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree={degree!r}: expected an integer >= 1")
    size = lattice_size(m, degree)
    if size > max_points:
        fits = 0
        while lattice_size(m, fits + 1) <= max_points:
            fits += 1
        raise ValueError(
            f"the simplex lattice of degree {degree} over {m} domains has {size:,} points, more than "
            f"{max_points:,} (each one is a training run); expected a degree of at most {fits} for {m} domains"
        )
    width = max(3, len(str(size - 1)))
    return {
        f"{prefix}_{i:0{width}d}": {d: k / degree for d, k in zip(doms, c)}
        for i, c in enumerate(_compositions(degree, m))
    }


def as_matrix(mixtures: dict[str, Mixture], domains: Sequence[str]) -> np.ndarray:
    """Stack a design into an (n, m) array in the order of `domains`."""
    return np.array([[mix.get(d, 0.0) for d in domains] for mix in mixtures.values()], dtype=float)
