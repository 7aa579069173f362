"""Surrogates that predict a score (by default the Out-Score) from the mixture weights.

Why Scheffé. The paper's model is score ≈ a + bᵀw + wᵀCw with features [1, w, w⊗w].
On the simplex Σw = 1, so these features are linearly dependent (1 = Σ w_i, and
w_i² = w_i - Σ_{j≠i} w_i w_j): infinitely many (a, b, C) give the same predictions and
least squares on them has no unique answer. Scheffé's quadratic mixture model keeps
only an identifiable basis,

    score ≈ Σ_i β_i w_i + Σ_{i<j} β_ij w_i w_j        (m + m(m-1)/2 coefficients),

which spans exactly the same functions on the simplex. It maps to the paper's form as

    a = 0,  b = β,  C_ij = C_ji = β_ij / 2,  C_ii = 0           (`to_abc`)

and any (a, b, C) maps back to the unique Scheffé coefficients

    β_i = a + b_i + C_ii,   β_ij = C_ij + C_ji - C_ii - C_jj   (`scheffe_from_abc`).

β_i is the predicted score of domain i alone; β_ij > 0 means i and j help each other.

Ridge. With `ridge` > 0 the coefficients are shrunk toward the constant predictor ȳ
(the mean target is subtracted first and added back to every β_i, which adds it to
every prediction because Σ w_i = 1), so a heavy ridge predicts ȳ rather than 0.

The three models share this machinery: `LinearSurrogate` (Scheffé linear, the same as
a + bᵀw), `QuadraticSurrogate` (the paper's), and `MixingLawSurrogate`, the log-linear
form of data mixing laws, score ≈ floor + exp(Scheffé polynomial), interactions on by
default, fitted by least squares on log(score - floor).

Uncertainty: `bootstrap(n)` refits on records resampled with replacement (pairs
bootstrap); `predict_spread` returns the point prediction and the standard deviation of
the refits' predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modomodo.mixture.records import RunRecord, records_to_arrays

_SIMPLEX_TOL = 1e-6


@dataclass
class CVResult:
    """Cross-validated fit quality.

    method "kfold": r2 and rmse of the pooled out-of-fold predictions (`predictions`
    holds one per record, in record order). method "paper": the paper's selection, best
    held-out R² over random 80/20 splits (an optimistic figure: the best of several);
    `split_r2` lists every split's held-out R² so the spread can be seen.
    """

    method: str
    r2: float
    rmse: float
    n_records: int
    folds: int
    predictions: np.ndarray | None = None
    split_r2: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        extra = ""
        if self.split_r2:
            extra = " (splits: " + ", ".join(f"{v:.3f}" for v in self.split_r2) + ")"
        return f"{self.method} CV over {self.n_records} records, {self.folds} folds: R² = {self.r2:.4f}, RMSE = {self.rmse:.4f}{extra}"


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """1 - SSE/SST (NaN when the targets do not vary)."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    sst = float(((y - y.mean()) ** 2).sum())
    if sst <= 1e-300:
        return math.nan
    return 1.0 - float(((y - pred) ** 2).sum()) / sst


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(pred, float)) ** 2)))


def scheffe_features(W: np.ndarray, degree: int) -> np.ndarray:
    """[w_1..w_m] for degree 1; [w_1..w_m, w_i w_j for i < j] for degree 2."""
    W = np.atleast_2d(np.asarray(W, float))
    if degree == 1:
        return W
    i, j = np.triu_indices(W.shape[1], k=1)
    return np.hstack([W, W[:, i] * W[:, j]])


def scheffe_from_abc(a: float, b: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unique Scheffé coefficients (β linear, β_ij for i<j in `np.triu_indices`
    order) of a + bᵀw + wᵀCw restricted to the simplex."""
    b = np.asarray(b, float)
    C = np.asarray(C, float)
    m = b.shape[0]
    if C.shape != (m, m):
        raise ValueError(f"C has shape {C.shape}; expected ({m}, {m}) to match b")
    d = np.diag(C)
    lin = a + b + d
    i, j = np.triu_indices(m, k=1)
    cross = C[i, j] + C[j, i] - d[i] - d[j]
    return lin, cross


class MixtureSurrogate:
    """Shared machinery: a Scheffé polynomial (degree 1 or 2) on an identity or log link."""

    degree = 2
    link = "identity"
    name = "surrogate"

    def __init__(self, *, ridge: float = 0.0, floor: float = 0.0) -> None:
        if not (isinstance(ridge, (int, float)) and math.isfinite(ridge) and ridge >= 0):
            raise ValueError(f"ridge={ridge!r}: expected a finite number >= 0")
        self.ridge = float(ridge)
        self.floor = float(floor)
        self.domains_: list[str] | None = None
        self.coef_: np.ndarray | None = None
        self.W_: np.ndarray | None = None
        self.y_: np.ndarray | None = None
        self.names_: list[str] = []
        self.selection_: dict[str, Any] = {}
        self.boot_coefs_: np.ndarray | None = None

    # -- shape -----------------------------------------------------------------

    def n_params(self, m: int) -> int:
        return m if self.degree == 1 else m + m * (m - 1) // 2

    def min_records(self, m: int) -> int:
        """Records needed for a fit: one per coefficient by least squares; with a ridge
        any two distinct records give an answer (whether it is any good is what the
        cross-validation says)."""
        return self.n_params(m) if self.ridge == 0 else 2

    def _need(self, n: int, m: int, what: str) -> None:
        need = self.min_records(m)
        if n < need:
            hint = " or pass a ridge > 0 (--ridge)" if self.ridge == 0 else ""
            raise ValueError(
                f"{what}: {n} records are too few for the {self.name} surrogate over {m} domains; "
                f"it needs at least {need} ({self.n_params(m)} coefficients"
                f"{'' if self.ridge == 0 else ', ridge ' + format(self.ridge, 'g')}); add pilot runs{hint}"
            )

    # -- data ------------------------------------------------------------------

    def _data(self, data: Any, y: Any, domains: Sequence[str] | None, target: str, missing: str, nan: str):
        if y is None:
            if not isinstance(data, Sequence) or not data or not all(isinstance(r, RunRecord) for r in data):
                raise ValueError("fit: expected a list of RunRecord, or a weight matrix W with targets y")
            return records_to_arrays(data, target, domains, missing=missing, nan=nan)
        W = np.atleast_2d(np.asarray(data, float))
        y = np.asarray(y, float).ravel()
        if W.shape[0] != y.shape[0]:
            raise ValueError(
                f"W has {W.shape[0]} rows but y has {y.shape[0]} values; expected one target per mixture"
            )
        doms = list(domains) if domains is not None else [f"w{i}" for i in range(W.shape[1])]
        if len(doms) != W.shape[1]:
            raise ValueError(f"domains {doms} do not match the {W.shape[1]} columns of W")
        _check_simplex(W, "W")
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise ValueError(f"y has NaN or infinite values at rows {bad.tolist()}; expected finite scores")
        return W, y, doms

    def _link(self, y: np.ndarray) -> np.ndarray:
        if self.link == "identity":
            return y
        bad = np.flatnonzero(y <= self.floor)
        if bad.size:
            raise ValueError(
                f"the {self.name} surrogate takes log(score - floor) with floor={self.floor}; "
                f"scores {y[bad].tolist()} (rows {bad.tolist()}) are not above it; lower the floor"
            )
        return np.log(y - self.floor)

    def _unlink(self, z: np.ndarray) -> np.ndarray:
        return z if self.link == "identity" else self.floor + np.exp(z)

    def _solve(self, W: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Coefficients for link-scale targets z; a rank-deficient least-squares design
        is an error naming the rank."""
        coef = self._try_solve(W, z)
        if coef is None:
            F = scheffe_features(W, self.degree)
            raise ValueError(
                f"the {F.shape[0]} mixtures do not determine the {F.shape[1]} coefficients of the "
                f"{self.name} surrogate (design rank {np.linalg.matrix_rank(F)}); add pilots that vary "
                "the domains jointly, or pass a ridge > 0"
            )
        return coef

    def _try_solve(self, W: np.ndarray, z: np.ndarray) -> np.ndarray | None:
        F = scheffe_features(W, self.degree)
        m = W.shape[1]
        if self.ridge > 0:
            mu = float(z.mean())
            A = F.T @ F + self.ridge * np.eye(F.shape[1])
            coef = np.linalg.solve(A, F.T @ (z - mu))
            coef[:m] += mu
            return coef
        if np.linalg.matrix_rank(F) < F.shape[1]:
            return None
        coef, *_ = np.linalg.lstsq(F, z, rcond=None)
        return coef

    # -- public API ------------------------------------------------------------

    def fit(
        self,
        data: Sequence[RunRecord] | np.ndarray,
        y: Sequence[float] | np.ndarray | None = None,
        *,
        domains: Sequence[str] | None = None,
        target: str = "out_score",
        selection: str = "all",
        n_splits: int = 5,
        test_fraction: float = 0.2,
        seed: int = 0,
        missing: str = "error",
        nan: str = "error",
    ) -> MixtureSurrogate:
        """Fit on run records (or on a weight matrix W and targets y).

        selection "all" fits every record; "paper" is the paper's rule: `n_splits`
        random train/test splits (test share `test_fraction`), keep the fit with the best
        held-out R² (the records left out of that split do not inform the model).
        """
        W, yv, doms = self._data(data, y, domains, target, missing, nan)
        self.domains_ = list(doms)
        self.W_, self.y_ = W, yv
        self.boot_coefs_ = None
        n, m = W.shape
        self._need(n, m, "fit")
        z = self._link(yv)
        if selection == "all":
            self.coef_ = self._solve(W, z)
            self.selection_ = {"method": "all", "train": list(range(n))}
        elif selection == "paper":
            splits = self._paper_splits(n, m, n_splits, test_fraction, seed)
            best = None
            for train, test in splits:
                coef = self._solve(W[train], z[train])
                r2 = r2_score(yv[test], self._predict_coef(coef, W[test]))
                if best is None or (math.isfinite(r2) and (not math.isfinite(best[0]) or r2 > best[0])):
                    best = (r2, coef, train, test)
            assert best is not None
            self.coef_ = best[1]
            self.selection_ = {
                "method": "paper",
                "held_out_r2": best[0],
                "train": best[2].tolist(),
                "test": best[3].tolist(),
            }
        else:
            raise ValueError(f"selection={selection!r}; expected 'all' or 'paper'")
        self.names_ = _coef_names(self.domains_, self.degree)
        return self

    def _check_fitted(self) -> None:
        if self.coef_ is None or self.domains_ is None:
            raise ValueError(f"this {self.name} surrogate is not fitted; call fit(records) first")

    def _training(self) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        if self.W_ is None or self.y_ is None:
            raise ValueError(f"this {self.name} surrogate was built from coefficients, not fitted to records")
        return self.W_, self.y_

    def _predict_coef(self, coef: np.ndarray, W: np.ndarray) -> np.ndarray:
        return self._unlink(scheffe_features(W, self.degree) @ coef)

    def as_matrix(self, mixtures: Any) -> np.ndarray:
        """Mixtures (array (n, m) or (m,), one mapping, or a list of mappings; an absent
        domain reads as 0) as an (n, m) array on the simplex in the fitted domain order."""
        self._check_fitted()
        doms = self.domains_
        assert doms is not None
        if isinstance(mixtures, Mapping):
            mixtures = [mixtures]
        if isinstance(mixtures, Sequence) and mixtures and all(isinstance(x, Mapping) for x in mixtures):
            rows = []
            for mix in mixtures:
                extra = [d for d in mix if d not in doms]
                if extra:
                    raise ValueError(f"mixture {dict(mix)} names domains {extra}; expected only {doms}")
                rows.append([float(mix.get(d, 0.0)) for d in doms])
            W = np.array(rows, float)
        else:
            W = np.atleast_2d(np.asarray(mixtures, float))
        if W.shape[1] != len(doms):
            raise ValueError(f"mixtures have {W.shape[1]} weights; expected {len(doms)} for domains {doms}")
        _check_simplex(W, "mixtures")
        return W

    def predict(self, mixtures: Any) -> np.ndarray:
        """Predicted score of each mixture."""
        W = self.as_matrix(mixtures)
        assert self.coef_ is not None
        return self._predict_coef(self.coef_, W)

    def cross_validate(
        self,
        method: str = "kfold",
        *,
        k: int = 5,
        n_splits: int = 5,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> CVResult:
        """Cross-validate on the records the model was fitted to (same hyperparameters).

        "kfold": shuffled k folds (k > n means leave-one-out). "paper": best held-out R²
        of `n_splits` random splits.
        """
        W, y = self._training()
        n, m = W.shape
        z = self._link(y)
        if method == "kfold":
            if not isinstance(k, int) or k < 2:
                raise ValueError(f"k={k!r}: expected an integer >= 2 folds")
            k = min(k, n)
            folds = np.array_split(np.random.default_rng(seed).permutation(n), k)
            smallest_train = n - max(len(f) for f in folds)
            self._need(smallest_train, m, f"{k}-fold CV trains on {smallest_train} of {n} records, but")
            pred = np.empty(n)
            for test in folds:
                train = np.setdiff1d(np.arange(n), test)
                pred[test] = self._predict_coef(self._solve(W[train], z[train]), W[test])
            return CVResult("kfold", r2_score(y, pred), rmse(y, pred), n, k, predictions=pred)
        if method == "paper":
            splits = self._paper_splits(n, m, n_splits, test_fraction, seed)
            r2s, rmses = [], []
            for train, test in splits:
                p = self._predict_coef(self._solve(W[train], z[train]), W[test])
                r2s.append(r2_score(y[test], p))
                rmses.append(rmse(y[test], p))
            finite = [i for i, v in enumerate(r2s) if math.isfinite(v)]
            best = max(finite, key=lambda i: r2s[i]) if finite else 0
            return CVResult("paper", r2s[best], rmses[best], n, len(splits), split_r2=r2s)
        raise ValueError(f"method={method!r}; expected 'kfold' or 'paper'")

    def _paper_splits(self, n: int, m: int, n_splits: int, test_fraction: float, seed: int):
        if not (0 < test_fraction < 1):
            raise ValueError(f"test_fraction={test_fraction!r}: expected a share in (0, 1)")
        if not isinstance(n_splits, int) or n_splits < 1:
            raise ValueError(f"n_splits={n_splits!r}: expected an integer >= 1")
        n_test = max(1, int(round(test_fraction * n)))
        self._need(
            n - n_test,
            m,
            f"a {1 - test_fraction:.0%}/{test_fraction:.0%} split trains on {n - n_test} of {n} records, but",
        )
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n_splits):
            perm = rng.permutation(n)
            out.append((np.sort(perm[n_test:]), np.sort(perm[:n_test])))
        return out

    def bootstrap(self, n: int = 200, *, seed: int = 0) -> MixtureSurrogate:
        """Refit on `n` resamples of the records (with replacement). Resamples whose
        mixtures do not determine a least-squares fit are drawn again."""
        W, y = self._training()
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"n={n!r}: expected an integer >= 2 bootstrap refits")
        z = self._link(y)
        rng = np.random.default_rng(seed)
        rows = len(y)
        coefs: list[np.ndarray] = []
        attempts = 0
        while len(coefs) < n:
            attempts += 1
            if attempts > 50 * n:
                raise ValueError(
                    f"bootstrap: only {len(coefs)} of {attempts} resamples of the {rows} records determine the "
                    f"{self.name} surrogate; add records or pass a ridge > 0"
                )
            idx = rng.integers(0, rows, rows)
            coef = self._try_solve(W[idx], z[idx])
            if coef is not None:
                coefs.append(coef)
        self.boot_coefs_ = np.array(coefs)
        return self

    def predict_spread(
        self, mixtures: Any, *, n_boot: int = 200, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, bootstrap standard deviation) for each mixture; runs
        `bootstrap(n_boot, seed=seed)` first if it has not been run."""
        W = self.as_matrix(mixtures)
        if self.boot_coefs_ is None:
            self.bootstrap(n_boot, seed=seed)
        assert self.boot_coefs_ is not None and self.coef_ is not None
        F = scheffe_features(W, self.degree)
        boot = self._unlink(F @ self.boot_coefs_.T)  # (n, B)
        return self._unlink(F @ self.coef_), boot.std(axis=1, ddof=1)

    def coefficients(self) -> dict[str, float]:
        """Named Scheffé coefficients: a domain name is β_i (the predicted link-scale
        score of that domain alone), "A*B" is β_AB."""
        self._check_fitted()
        assert self.coef_ is not None
        return dict(zip(self.names_, map(float, self.coef_)))


def _coef_names(domains: Sequence[str], degree: int) -> list[str]:
    names = list(domains)
    if degree == 2:
        i, j = np.triu_indices(len(domains), k=1)
        names += [f"{domains[int(a)]}*{domains[int(b)]}" for a, b in zip(i, j)]
    return names


def _check_simplex(W: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{what} contain NaN or infinite weights; expected mixtures on the simplex")
    bad = np.flatnonzero((W.min(axis=1) < -_SIMPLEX_TOL) | (np.abs(W.sum(axis=1) - 1.0) > _SIMPLEX_TOL))
    if bad.size:
        r = int(bad[0])
        raise ValueError(
            f"{what} row {r} is {W[r].tolist()} (sum {W[r].sum():.6g}); expected non-negative weights summing to 1"
        )


class LinearSurrogate(MixtureSurrogate):
    """score ≈ Σ β_i w_i (equivalently a + bᵀw): the baseline."""

    degree = 1
    name = "linear"


class QuadraticSurrogate(MixtureSurrogate):
    """The paper's score ≈ a + bᵀw + wᵀCw, fitted as Scheffé's quadratic mixture model."""

    degree = 2
    name = "quadratic"

    def to_abc(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The paper's (a, b, C), in the representative a = 0, C symmetric with zero diagonal."""
        self._check_fitted()
        assert self.coef_ is not None and self.domains_ is not None
        m = len(self.domains_)
        b = self.coef_[:m].copy()
        C = np.zeros((m, m))
        i, j = np.triu_indices(m, k=1)
        C[i, j] = C[j, i] = self.coef_[m:] / 2.0
        return 0.0, b, C

    @classmethod
    def from_abc(cls, a: float, b: Sequence[float], C: Any, domains: Sequence[str]) -> QuadraticSurrogate:
        """A surrogate that predicts a + bᵀw + wᵀCw (e.g. a known function, for tests)."""
        lin, cross = scheffe_from_abc(a, np.asarray(b, float), np.asarray(C, float))
        if len(domains) != len(lin):
            raise ValueError(f"domains {list(domains)} do not match the {len(lin)} entries of b")
        s = cls()
        s.domains_ = list(domains)
        s.coef_ = np.concatenate([lin, cross])
        s.names_ = _coef_names(s.domains_, 2)
        return s


class MixingLawSurrogate(MixtureSurrogate):
    """Log-linear mixing law with interactions: score ≈ floor + exp(Σ β_i w_i + Σ β_ij w_i w_j)
    (`interactions=False` keeps only the linear part, the data-mixing-laws form
    c + k·exp(tᵀw) with c = floor)."""

    link = "log"
    name = "mixing-law"

    def __init__(self, *, interactions: bool = True, ridge: float = 0.0, floor: float = 0.0) -> None:
        super().__init__(ridge=ridge, floor=floor)
        self.degree = 2 if interactions else 1


SURROGATES: dict[str, type[MixtureSurrogate]] = {
    "quadratic": QuadraticSurrogate,
    "linear": LinearSurrogate,
    "mixing-law": MixingLawSurrogate,
}


def make_surrogate(kind: str, *, ridge: float = 0.0, **kwargs: Any) -> MixtureSurrogate:
    if kind not in SURROGATES:
        raise ValueError(f"surrogate {kind!r}: expected one of {sorted(SURROGATES)}")
    return SURROGATES[kind](ridge=ridge, **kwargs)
