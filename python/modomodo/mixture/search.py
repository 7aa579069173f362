"""Search the simplex with a fitted surrogate.

`optimize` returns the predicted best mixtures:
- "exact": the global maximum of the fitted polynomial over the simplex by KKT
  enumeration. Every surrogate here is a Scheffé polynomial q(w) = βᵀw + wᵀQw on an
  increasing link (identity, or floor + exp), so maximising the score is maximising q.
  The maximum lies in the relative interior of some face S of the simplex, where it is
  a stationary point of q restricted to the face: 2 Q_SS w_S - ν·1 = -β_S, 1ᵀw_S = 1.
  Solving that linear system for each of the 2^m - 1 faces and keeping the solutions
  with w_S > 0 lists every candidate; the best is the global maximum. (A singular face
  system means q is constant along a line of that face, and the maximum is then also
  reached on a smaller face, which is enumerated too.) Past 14 domains it falls back
  to "slsqp".
- "slsqp": scipy SLSQP from many starts (vertices, centroid, Dirichlet draws).
- "gaussian": the paper's appendix search: one Gaussian fitted to the observed
  mixtures, sampled, negatives clipped (or the sample discarded), renormalised,
  ranked by the surrogate.
Further results (k > 1) are the best mixtures at least `min_distance` (Euclidean) from
every earlier pick, polished by SLSQP under those distance constraints.

`propose` picks the next pilot mixtures: upper confidence bound, prediction + κ·spread
(the bootstrap standard deviation), greedily, each at least `min_distance` from the
observed mixtures and from the earlier picks, so that each pilot adds information where
the surrogate is both promising and unsure.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from modomodo.mixture.surrogate import MixtureSurrogate

_EXACT_MAX_DOMAINS = 14


@dataclass
class Candidate:
    """A mixture with its predicted score (and bootstrap spread when computed)."""

    weights: dict[str, float]
    predicted: float
    spread: float | None = None
    acquisition: float | None = None

    def __str__(self) -> str:
        mix = ", ".join(f"{d}={w:.3f}" for d, w in self.weights.items())
        sd = "" if self.spread is None else f" ± {self.spread:.4f}"
        return f"{self.predicted:.4f}{sd}  [{mix}]"


def _project(W: np.ndarray) -> np.ndarray:
    """Clip the round-off of an optimiser back onto the simplex."""
    W = np.clip(np.atleast_2d(np.asarray(W, float)), 0.0, None)
    s = W.sum(axis=1, keepdims=True)
    s[s <= 0] = 1.0
    return W / s


def _quadratic_form(s: MixtureSurrogate) -> tuple[np.ndarray, np.ndarray]:
    """β and symmetric Q of the link-scale polynomial βᵀw + wᵀQw."""
    assert s.coef_ is not None and s.domains_ is not None
    m = len(s.domains_)
    beta = np.asarray(s.coef_[:m], float)
    Q = np.zeros((m, m))
    if s.degree == 2:
        i, j = np.triu_indices(m, k=1)
        Q[i, j] = Q[j, i] = s.coef_[m:] / 2.0
    return beta, Q


def kkt_candidates(beta: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Every stationary point of βᵀw + wᵀQw in the relative interior of a face of the
    simplex (always including the m vertices), as rows."""
    m = len(beta)
    out = []
    for size in range(1, m + 1):
        for S in itertools.combinations(range(m), size):
            idx = list(S)
            A = np.zeros((size + 1, size + 1))
            A[:size, :size] = 2.0 * Q[np.ix_(idx, idx)]
            A[:size, size] = -1.0
            A[size, :size] = 1.0
            rhs = np.concatenate([-beta[idx], [1.0]])
            if np.linalg.cond(A) > 1e12:
                continue
            sol = np.linalg.solve(A, rhs)[:size]
            if np.all(sol > 1e-12):
                w = np.zeros(m)
                w[idx] = sol
                out.append(w)
    return np.array(out)


def _check(s: MixtureSurrogate) -> list[str]:
    if not isinstance(s, MixtureSurrogate):
        raise ValueError(f"surrogate {s!r}: expected a fitted MixtureSurrogate")
    s._check_fitted()
    assert s.domains_ is not None
    return list(s.domains_)


def _slsqp(
    f, start: np.ndarray, avoid: Sequence[np.ndarray] = (), min_distance: float = 0.0
) -> np.ndarray | None:
    """Maximise f from `start` on the simplex, at least `min_distance` from `avoid`."""
    m = len(start)
    cons: list[dict[str, Any]] = [{"type": "eq", "fun": lambda w: np.sum(w) - 1.0}]
    for p in avoid:
        cons.append({"type": "ineq", "fun": lambda w, p=p: float(np.sum((w - p) ** 2) - min_distance**2)})
    res = minimize(
        lambda w: -float(f(_project(w))[0]),
        start,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=cons,
        options={"maxiter": 200, "ftol": 1e-10},
    )
    w = _project(res.x)[0]
    if any(np.linalg.norm(w - p) < min_distance - 1e-6 for p in avoid):
        return None
    return w


def _greedy(
    pool: np.ndarray,
    values: np.ndarray,
    k: int,
    min_distance: float,
    avoid: np.ndarray | None = None,
    polish=None,
) -> list[np.ndarray]:
    """Best-first picks from `pool`, each at least `min_distance` from earlier picks
    (and from `avoid`); `polish(start, picked)` may improve each pick locally."""
    order = np.argsort(-values)
    picks: list[np.ndarray] = []
    blocked = [] if avoid is None else list(np.atleast_2d(avoid))
    for i in order:
        if len(picks) == k:
            break
        w = pool[i]
        if any(np.linalg.norm(w - p) < min_distance for p in picks + blocked):
            continue
        if polish is not None and picks:
            better = polish(w, picks + blocked)
            if better is not None:
                w = better
        picks.append(w)
    return picks


def optimize(
    surrogate: MixtureSurrogate,
    *,
    k: int = 1,
    method: str = "exact",
    min_distance: float = 0.1,
    observed: Any = None,
    n_samples: int = 20000,
    n_starts: int = 16,
    negatives: str = "clip",
    spread: bool = False,
    n_boot: int = 200,
    seed: int = 0,
) -> list[Candidate]:
    """The `k` best mixtures of a fitted surrogate, at least `min_distance` apart.

    method: "exact" (KKT enumeration), "slsqp" (multi-start), or "gaussian" (the
    paper's: a Gaussian fitted to `observed` mixtures, default the surrogate's training
    mixtures; `negatives` "clip" or "discard" the negative draws). `spread=True` adds
    the bootstrap standard deviation of each prediction.
    """
    doms = _check(surrogate)
    m = len(doms)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r}: expected an integer >= 1")
    if not (min_distance >= 0 and math.isfinite(min_distance)):
        raise ValueError(f"min_distance={min_distance!r}: expected a finite distance >= 0")
    rng = np.random.default_rng(seed)
    f = surrogate.predict

    def polish(start, picked):
        return _slsqp(f, start, picked, min_distance)

    if method == "exact" and m > _EXACT_MAX_DOMAINS:
        method = "slsqp"
    if method in ("exact", "slsqp"):
        if method == "exact":
            best = kkt_candidates(*_quadratic_form(surrogate))
        else:
            starts = np.vstack([np.eye(m), np.full((1, m), 1.0 / m), rng.dirichlet(np.ones(m), n_starts)])
            best = np.array([w for w in (_slsqp(f, s) for s in starts) if w is not None])
        pool = np.vstack([best, rng.dirichlet(np.ones(m), n_samples)])
        values = f(pool)
        # The global optimum comes first even if a pool point ties it within round-off.
        values[: len(best)] += 1e-12
        picks = _greedy(pool, values, k, min_distance, polish=polish)
    elif method == "gaussian":
        W_obs = surrogate.W_ if observed is None else surrogate.as_matrix(observed)
        if W_obs is None or len(W_obs) < 2:
            raise ValueError("the gaussian search needs at least two observed mixtures (pass observed=...)")
        pool = gaussian_candidates(W_obs, n_samples, negatives=negatives, rng=rng)
        picks = _greedy(pool, f(pool), k, min_distance)
    else:
        raise ValueError(f"method={method!r}; expected 'exact', 'slsqp' or 'gaussian'")
    if len(picks) < k:
        warnings.warn(
            f"only {len(picks)} mixtures are {min_distance} apart; asked for {k}", UserWarning, stacklevel=2
        )
    W = np.array(picks)
    pred = f(W)
    sd = surrogate.predict_spread(W, n_boot=n_boot, seed=seed)[1] if spread else [None] * len(W)
    return [
        Candidate(dict(zip(doms, map(float, w))), float(p), None if s is None else float(s))
        for w, p, s in zip(W, pred, sd)
    ]


def gaussian_candidates(
    W_obs: np.ndarray, n: int, *, negatives: str = "clip", rng: np.random.Generator | None = None
) -> np.ndarray:
    """Draws from one Gaussian fitted to the observed mixtures, brought onto the simplex."""
    if negatives not in ("clip", "discard"):
        raise ValueError(f"negatives={negatives!r}; expected 'clip' or 'discard'")
    rng = rng or np.random.default_rng(0)
    mean = W_obs.mean(axis=0)
    cov = np.cov(W_obs.T)
    X = rng.multivariate_normal(mean, cov, size=n, check_valid="ignore", method="eigh")
    if negatives == "discard":
        X = X[np.all(X >= 0, axis=1)]
    else:
        X = np.clip(X, 0.0, None)
    X = X[X.sum(axis=1) > 1e-12]
    if len(X) == 0:
        raise ValueError("no Gaussian draw landed on the simplex; use negatives='clip' or more samples")
    return X / X.sum(axis=1, keepdims=True)


def propose(
    surrogate: MixtureSurrogate,
    k: int,
    *,
    kappa: float = 1.0,
    min_distance: float = 0.1,
    observed: Any = None,
    n_candidates: int = 20000,
    n_boot: int = 200,
    seed: int = 0,
) -> list[Candidate]:
    """The next `k` pilot mixtures: maximise prediction + `kappa`·spread, each at
    least `min_distance` from the observed mixtures (default: the training records)
    and from each other."""
    doms = _check(surrogate)
    m = len(doms)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r}: expected an integer >= 1")
    if not (math.isfinite(kappa) and kappa >= 0):
        raise ValueError(f"kappa={kappa!r}: expected a finite number >= 0")
    rng = np.random.default_rng(seed)
    W_obs = surrogate.W_ if observed is None else surrogate.as_matrix(observed)
    pool = np.vstack(
        [
            np.eye(m),
            rng.dirichlet(np.ones(m), n_candidates),
            rng.dirichlet(np.full(m, 0.3), n_candidates // 4),
        ]
    )
    mean, sd = surrogate.predict_spread(pool, n_boot=n_boot, seed=seed)
    acq = mean + kappa * sd
    chosen: list[Candidate] = []
    blocked = [] if W_obs is None else list(np.atleast_2d(W_obs))
    for i in np.argsort(-acq):
        if len(chosen) == k:
            break
        if any(np.linalg.norm(pool[i] - p) < min_distance for p in blocked):
            continue
        blocked.append(pool[i])
        chosen.append(
            Candidate(dict(zip(doms, map(float, pool[i]))), float(mean[i]), float(sd[i]), float(acq[i]))
        )
    if len(chosen) < k:
        warnings.warn(
            f"only {len(chosen)} candidates are {min_distance} from the observed mixtures; asked for {k}",
            UserWarning,
            stacklevel=2,
        )
    return chosen
