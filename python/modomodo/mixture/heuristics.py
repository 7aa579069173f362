"""The paper's heuristic mixtures, computed from the seed runs (MoDoMoDo, Appendix
Algorithms 1-3, as summarised in shared/data/modomodo_paper.md).

Each takes the seed results (run records, or mappings in the record JSON form) and
returns a mixture: domain -> weight, summing to one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modomodo.mixture.records import RunRecord, record_from_dict, targets, weight_matrix

# The paper scales the single-domain runs' scores by a factor it does not give. The
# default 1.0 counts every seed run containing the domain once, whatever its share.
SINGLE_RUN_SCALE = 1.0
_TOL = 1e-6


def _records(results: Sequence[RunRecord | Mapping[str, Any]]) -> list[RunRecord]:
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or not results:
        raise ValueError(f"results {results!r}: expected a non-empty sequence of run records")
    return [
        r if isinstance(r, RunRecord) else record_from_dict(r, where=f"results[{i}]")
        for i, r in enumerate(results)
    ]


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= 1e-12:
        # All equal: every domain is as good as the best.
        return np.ones_like(x)
    return (x - lo) / (hi - lo)


def _normalise(c: np.ndarray, domains: list[str], what: str) -> dict[str, float]:
    total = float(c.sum())
    if not total > 0:
        raise ValueError(
            f"{what}: every domain's score is {c.tolist()}; expected at least one positive score to weight by"
        )
    return {d: float(v / total) for d, v in zip(domains, c)}


def alpha(
    results: Sequence[RunRecord | Mapping[str, Any]],
    a: float,
    *,
    single_scale: float = SINGLE_RUN_SCALE,
    domains: Sequence[str] | None = None,
) -> dict[str, float]:
    """Alpha family: a = 1 is A_in, a = 0 is A_out, a = 0.5 is A_bal.

    For each domain, sum the In-Scores (and separately the Out-Scores) of the runs that
    contain it (weight > 0); a run of that domain alone counts `single_scale` times.
    Min-max normalise both sums across domains, take C = a·In + (1 - a)·Out, and
    return C / sum(C). The worst domain on both criteria gets weight 0.
    """
    if not (isinstance(a, (int, float)) and 0.0 <= a <= 1.0):
        raise ValueError(f"a={a!r}: expected a number in [0, 1] (1 = A_in, 0 = A_out, 0.5 = A_bal)")
    if not (math.isfinite(single_scale) and single_scale >= 0):
        raise ValueError(f"single_scale={single_scale!r}: expected a finite number >= 0")
    recs = _records(results)
    W, doms = weight_matrix(recs, domains)
    y_in = targets(recs, "in_score")
    y_out = targets(recs, "out_score")
    contains = W > _TOL
    single = np.abs(W - 1.0) <= _TOL  # run i is domain j alone
    scale = np.where(single, single_scale, 1.0) * contains
    s_in, s_out = scale.T @ y_in, scale.T @ y_out
    c = a * _minmax(s_in) + (1.0 - a) * _minmax(s_out)
    return _normalise(c, doms, f"alpha(a={a})")


def coli(
    results: Sequence[RunRecord | Mapping[str, Any]],
    lam: float = 1e-3,
    *,
    domains: Sequence[str] | None = None,
) -> dict[str, float]:
    """Coli: ridge regression (no intercept) of Out-Score on 0/1 inclusion indicators,
    beta = (XᵀX + λI)⁻¹ Xᵀy; each coefficient divided by its variance-inflation term
    diag((XᵀX + λI)⁻¹); clipped at 0; normalised."""
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam={lam!r}: expected a finite ridge strength >= 0")
    recs = _records(results)
    W, doms = weight_matrix(recs, domains)
    y = targets(recs, "out_score")
    X = (W > _TOL).astype(float)
    A = X.T @ X + lam * np.eye(len(doms))
    try:
        A_inv = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"coli: the inclusion design of {len(recs)} runs over {doms} is singular with lam={lam}; "
            "expected runs that separate the domains (the 2m + 1 seeds do) or lam > 0"
        ) from None
    beta = A_inv @ X.T @ y
    c = np.clip(beta / np.diag(A_inv), 0.0, None)
    return _normalise(c, doms, "coli")


def norm(
    results: Sequence[RunRecord | Mapping[str, Any]],
    *,
    domains: Sequence[str] | None = None,
) -> dict[str, float]:
    """Norm: min-max normalise the Out-Scores of the leave-one-out runs to ŝ, take
    s' = 0.2 - 0.1·ŝ, give each domain the s' of the run that leaves it out, normalise.
    A domain whose removal helped most gets the least weight. Repeated leave-one-out
    runs of the same domain (several seeds) are averaged."""
    recs = _records(results)
    W, doms = weight_matrix(recs, domains)
    y = targets(recs, "out_score")
    m = len(doms)
    if m < 3:
        raise ValueError(f"norm needs at least three domains (leave-one-out runs), got {doms}")
    loo = np.zeros(m)
    missing = []
    for j, d in enumerate(doms):
        others = np.delete(W, j, axis=1)
        rows = (np.abs(W[:, j]) <= _TOL) & np.all(np.abs(others - 1.0 / (m - 1)) <= _TOL, axis=1)
        if not rows.any():
            missing.append(d)
        else:
            loo[j] = float(y[rows].mean())
    if missing:
        raise ValueError(
            f"norm: no leave-one-out run for {missing}; expected for each domain a run with it at 0 "
            f"and the others at 1/{m - 1} (the seed 'without_<domain>')"
        )
    s = _minmax(loo) if loo.max() - loo.min() > 1e-12 else np.zeros(m)
    return _normalise(0.2 - 0.1 * s, doms, "norm")


def heuristic_mixtures(
    results: Sequence[RunRecord | Mapping[str, Any]],
    *,
    single_scale: float = SINGLE_RUN_SCALE,
    lam: float = 1e-3,
    domains: Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """All five heuristics by the paper's names: A_in, A_out, A_bal, Coli, Norm."""
    return {
        "A_in": alpha(results, 1.0, single_scale=single_scale, domains=domains),
        "A_out": alpha(results, 0.0, single_scale=single_scale, domains=domains),
        "A_bal": alpha(results, 0.5, single_scale=single_scale, domains=domains),
        "Coli": coli(results, lam, domains=domains),
        "Norm": norm(results, domains=domains),
    }
