"""Pilot designs on the simplex: the paper's 2m + 1 seeds, and space-filling extras.

Every design returns an ordered mapping run name -> mixture (domain -> weight).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Mixture = dict[str, float]


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
    domains: Sequence[str], n: int, *, alpha: float = 1.0, seed: int = 0, prefix: str = "dirichlet"
) -> dict[str, Mixture]:
    """`n` mixtures drawn from a symmetric Dirichlet(alpha) (alpha = 1: uniform on the simplex)."""
    doms = _check_domains(domains)
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r}: expected a non-negative integer")
    if not alpha > 0:
        raise ValueError(f"alpha={alpha!r}: expected a positive concentration")
    W = np.random.default_rng(seed).dirichlet([alpha] * len(doms), size=n)
    width = max(3, len(str(n - 1)))
    return {f"{prefix}_{i:0{width}d}": dict(zip(doms, map(float, w))) for i, w in enumerate(W)}


def simplex_lattice(domains: Sequence[str], degree: int, *, prefix: str = "lattice") -> dict[str, Mixture]:
    """The {m, degree} simplex lattice: every mixture whose weights are multiples of
    1/degree (C(m + degree - 1, degree) points)."""
    doms = _check_domains(domains)
    if not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree={degree!r}: expected an integer >= 1")
    points = [c for c in itertools.product(range(degree + 1), repeat=len(doms)) if sum(c) == degree]
    points.sort(reverse=True)
    width = max(3, len(str(len(points) - 1)))
    return {f"{prefix}_{i:0{width}d}": {d: k / degree for d, k in zip(doms, c)} for i, c in enumerate(points)}


def as_matrix(mixtures: dict[str, Mixture], domains: Sequence[str]) -> np.ndarray:
    """Stack a design into an (n, m) array in the order of `domains`."""
    return np.array([[mix.get(d, 0.0) for d in domains] for mix in mixtures.values()], dtype=float)
