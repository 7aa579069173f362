"""Surrogates, search and proposals on known functions of the mixture weights."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from modomodo.mixture import (
    LinearSurrogate,
    MixingLawSurrogate,
    QuadraticSurrogate,
    RunRecord,
    optimize,
    propose,
    seed_mixtures,
)
from modomodo.mixture.design import as_matrix
from modomodo.mixture.search import kkt_candidates
from modomodo.mixture.surrogate import scheffe_features

DOMS = ["a", "b", "c", "d"]
# A known concave quadratic with its maximum 0.6 at W_STAR (inside the simplex):
# f(w) = 0.6 - ½ (w - w*)ᵀ A (w - w*) = a0 + bᵀw + wᵀCw.
A = np.array([[2, 0.5, 0, 0], [0.5, 1.5, 0.3, 0], [0, 0.3, 1, 0.2], [0, 0, 0.2, 2.5]])
W_STAR = np.array([0.55, 0.05, 0.3, 0.1])
A0 = 0.6 - 0.5 * W_STAR @ A @ W_STAR
B = A @ W_STAR
C = -0.5 * A


def f_true(W: np.ndarray) -> np.ndarray:
    W = np.atleast_2d(W)
    return A0 + W @ B + np.einsum("ni,ij,nj->n", W, C, W)


def _w(cand) -> np.ndarray:
    return np.array([cand.weights[d] for d in DOMS])


def test_quadratic_fit_on_noisy_samples_recovers_the_optimum():
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(4), 60)
    y = f_true(W) + rng.normal(0, 0.005, len(W))
    s = QuadraticSurrogate().fit(W, y, domains=DOMS)
    (best,) = optimize(s, k=1)
    assert np.linalg.norm(_w(best) - W_STAR) < 0.05
    assert f_true(_w(best))[0] > 0.6 - 1e-3
    assert best.predicted == pytest.approx(0.6, abs=0.01)
    cv = s.cross_validate("kfold", k=5)
    assert cv.r2 > 0.95 and cv.rmse < 0.01
    assert cv.predictions is not None and cv.predictions.shape == (60,)
    # The linear baseline cannot bend: worse out of fold on the same data.
    lin = LinearSurrogate().fit(W, y, domains=DOMS).cross_validate("kfold", k=5)
    assert lin.rmse > 5 * cv.rmse and lin.r2 < cv.r2 - 0.1


def test_scheffe_and_abc_round_trip_give_the_same_predictions():
    rng = np.random.default_rng(1)
    a0, b, Cm = 0.3, rng.normal(size=4), rng.normal(size=(4, 4))  # C need not be symmetric
    Wt = rng.dirichlet(np.ones(4), 50)
    direct = a0 + Wt @ b + np.einsum("ni,ij,nj->n", Wt, Cm, Wt)
    s = QuadraticSurrogate.from_abc(a0, b, Cm, DOMS)
    assert s.predict(Wt) == pytest.approx(direct, abs=1e-12)
    a2, b2, C2 = s.to_abc()
    assert a2 == 0 and np.allclose(C2, C2.T) and np.allclose(np.diag(C2), 0)
    assert a2 + Wt @ b2 + np.einsum("ni,ij,nj->n", Wt, C2, Wt) == pytest.approx(direct, abs=1e-12)
    # Least squares on exact data finds the same unique Scheffé coefficients.
    fit = QuadraticSurrogate().fit(Wt, direct, domains=DOMS)
    assert fit.coef_ == pytest.approx(s.coef_, abs=1e-8)
    # Why Scheffé: the paper's plain [1, w, w⊗w] features are rank-deficient on the simplex.
    i, j = np.triu_indices(4)
    plain = np.hstack([np.ones((50, 1)), Wt, Wt[:, i] * Wt[:, j]])
    assert np.linalg.matrix_rank(plain) < plain.shape[1]
    assert np.linalg.matrix_rank(scheffe_features(Wt, 2)) == 10


def test_exact_optimiser_matches_a_dense_grid_on_indefinite_quadratics():
    rng = np.random.default_rng(2)
    doms = ["x", "y", "z"]
    n = 120
    grid = np.array([(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)], float) / n
    for trial in range(6):
        s = QuadraticSurrogate.from_abc(0.0, rng.normal(size=3), rng.normal(size=(3, 3)), doms)
        (best,) = optimize(s, k=1, method="exact")
        w = np.array([best.weights[d] for d in doms])
        grid_best = s.predict(grid).max()
        assert best.predicted >= grid_best - 1e-12
        assert best.predicted == pytest.approx(grid_best, abs=2e-3)
        (slsqp,) = optimize(s, k=1, method="slsqp", seed=trial)
        assert slsqp.predicted <= best.predicted + 1e-9
        assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    # A linear surrogate peaks at a vertex, and the vertices are always candidates.
    lin = QuadraticSurrogate.from_abc(0.0, [0.1, 0.5, 0.2], np.zeros((3, 3)), doms)
    assert optimize(lin)[0].weights == pytest.approx({"x": 0, "y": 1, "z": 0})
    assert len(kkt_candidates(np.array([0.1, 0.5, 0.2]), np.zeros((3, 3)))) == 3


def test_top_k_are_kept_apart_and_ranked():
    s = QuadraticSurrogate.from_abc(A0, B, C, DOMS)
    for method in ("exact", "gaussian"):
        picks = optimize(
            s, k=4, method=method, min_distance=0.15, observed=as_matrix(seed_mixtures(DOMS), DOMS), seed=0
        )
        assert len(picks) == 4
        P = np.array([_w(p) for p in picks])
        for i, j in itertools.combinations(range(4), 2):
            assert np.linalg.norm(P[i] - P[j]) >= 0.15 - 1e-6
        assert [p.predicted for p in picks] == sorted((p.predicted for p in picks), reverse=True)
        assert np.allclose(P.sum(1), 1) and np.all(P >= 0)
    exact = optimize(s, k=1)[0]
    gauss = optimize(
        s, k=1, method="gaussian", observed=as_matrix(seed_mixtures(DOMS), DOMS), n_samples=20000
    )[0]
    assert exact.predicted == pytest.approx(0.6, abs=1e-12)
    assert 0.6 - 5e-3 < gauss.predicted <= 0.6  # sampling gets close, never beyond the optimum


def test_paper_selection_and_cv_variants():
    rng = np.random.default_rng(3)
    W = rng.dirichlet(np.ones(4), 30)
    y = f_true(W) + rng.normal(0, 0.01, 30)
    s = QuadraticSurrogate().fit(W, y, domains=DOMS, selection="paper", seed=1)
    assert s.selection_["method"] == "paper" and len(s.selection_["test"]) == 6
    paper = s.cross_validate("paper", seed=1)
    assert len(paper.split_r2) == 5 and paper.r2 == max(paper.split_r2)
    # The kept fit is the one with that best held-out R², trained on 24 records only.
    assert s.selection_["held_out_r2"] == pytest.approx(paper.r2)
    loo = s.cross_validate("kfold", k=100)
    assert loo.folds == 30  # k > n is leave-one-out


def test_too_few_records_says_how_many_are_needed():
    W = as_matrix(seed_mixtures(DOMS), DOMS)  # 9 seeds, 10 coefficients
    y = f_true(W)
    with pytest.raises(
        ValueError,
        match=r"9 records are too few for the quadratic surrogate over 4 domains; it needs at least 10.*ridge",
    ):
        QuadraticSurrogate().fit(W, y, domains=DOMS)
    s = LinearSurrogate().fit(W, y, domains=DOMS)  # 4 coefficients: fine
    # The seeds span only 2m = 8 dimensions of the 10 (uniform is a combination of the
    # others' features), so two generic extra mixtures make 11 records of full rank.
    assert np.linalg.matrix_rank(scheffe_features(W, 2)) == 8
    W11 = np.vstack([W, np.random.default_rng(0).dirichlet(np.ones(4), 2)])
    s11 = QuadraticSurrogate().fit(W11, f_true(W11), domains=DOMS)  # 11 >= 10: fits
    with pytest.raises(
        ValueError, match=r"5-fold CV trains on 8 of 11 records, but: 8 records are too few.*at least 10"
    ):
        s11.cross_validate("kfold", k=5)
    assert s.predict(W).shape == (9,)
    # Enough records but all on one line of the simplex: rank-deficient, said so.
    line = np.array([[t, 1 - t, 0, 0] for t in np.linspace(0, 1, 12)])
    with pytest.raises(ValueError, match=r"12 mixtures do not determine the 10 coefficients.*rank 3"):
        QuadraticSurrogate().fit(line, np.ones(12), domains=DOMS)
    # With a ridge the seeds alone can be fitted.
    assert QuadraticSurrogate(ridge=1e-3).fit(W, y, domains=DOMS).predict(W) == pytest.approx(y, abs=0.05)


def test_ridge_shrinks_toward_the_mean_not_zero():
    rng = np.random.default_rng(4)
    W = rng.dirichlet(np.ones(4), 20)
    y = f_true(W)
    heavy = QuadraticSurrogate(ridge=1e6).fit(W, y, domains=DOMS)
    assert heavy.predict(W) == pytest.approx(np.full(20, y.mean()), abs=1e-4)


def test_bad_inputs_for_predict_and_fit():
    s = QuadraticSurrogate.from_abc(A0, B, C, DOMS)
    with pytest.raises(
        ValueError,
        match=r"row 0 is \[0.5, 0.6, 0.0, 0.0\] \(sum 1.1\); expected non-negative weights summing to 1",
    ):
        s.predict([[0.5, 0.6, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"names domains \['e'\]"):
        s.predict({"a": 0.5, "e": 0.5})
    assert s.predict({"a": 1.0})[0] == pytest.approx(f_true(np.array([1.0, 0, 0, 0]))[0])  # absent = 0
    with pytest.raises(ValueError, match="built from coefficients"):
        s.cross_validate()
    with pytest.raises(ValueError, match="not fitted"):
        QuadraticSurrogate().predict([[1, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"ridge=-1: expected a finite number >= 0"):
        QuadraticSurrogate(ridge=-1)
    with pytest.raises(ValueError, match=r"y has NaN or infinite values at rows \[1\]"):
        LinearSurrogate().fit(np.eye(4)[[0, 1, 2, 3, 0]], [0.1, np.nan, 0.2, 0.3, 0.1], domains=DOMS)
    recs = [
        RunRecord(f"r{i}", dict(zip(DOMS, w)), out_score=v)
        for i, (w, v) in enumerate(zip(np.eye(4), [0.1, float("nan"), 0.2, 0.3]))
    ]
    with pytest.raises(ValueError, match=r"out_score is NaN or missing for records \['r1'\]"):
        LinearSurrogate().fit(recs)
    with pytest.raises(
        ValueError, match=r"mixing-law surrogate takes log\(score - floor\) with floor=0.0; scores \[-0.5\]"
    ):
        MixingLawSurrogate(interactions=False).fit(np.eye(4), [0.1, -0.5, 0.2, 0.3], domains=DOMS)


def test_mixing_law_recovers_a_log_linear_law():
    rng = np.random.default_rng(5)
    W = rng.dirichlet(np.ones(4), 40)
    beta, inter = np.array([-1.0, -0.5, -0.8, -1.2]), 0.9
    y = 0.1 + np.exp(W @ beta + inter * W[:, 0] * W[:, 1])
    s = MixingLawSurrogate(floor=0.1).fit(W, y, domains=DOMS)
    assert s.coefficients()["a"] == pytest.approx(-1.0, abs=1e-8)
    assert s.coefficients()["a*b"] == pytest.approx(0.9, abs=1e-8)
    assert s.coefficients()["c*d"] == pytest.approx(0.0, abs=1e-8)
    (best,) = optimize(s)
    # exp is monotone, so the optimum is q's: on the a-b edge q = -0.5 + 0.4a - 0.9a², a = 2/9.
    assert best.weights == pytest.approx({"a": 2 / 9, "b": 7 / 9, "c": 0.0, "d": 0.0}, abs=1e-9)
    assert s.cross_validate().r2 > 0.999


def test_bootstrap_spread_grows_away_from_the_data():
    rng = np.random.default_rng(6)
    W = rng.dirichlet(np.full(4, 8.0), 40)  # clustered around the centre
    y = f_true(W) + rng.normal(0, 0.01, 40)
    s = QuadraticSurrogate(ridge=1e-4).fit(W, y, domains=DOMS)
    mean, sd = s.predict_spread(np.vstack([np.full(4, 0.25), np.eye(4)]), n_boot=100)
    assert mean == pytest.approx(s.predict(np.vstack([np.full(4, 0.25), np.eye(4)])))
    assert np.all(sd > 0)
    assert sd[0] < 0.2 * sd[1:].min()  # the centre is known, the vertices are not
    cands = optimize(s, k=2, spread=True)
    assert all(c.spread is not None and c.spread > 0 for c in cands)


def test_propose_beats_random_pilots_on_a_known_function():
    """Same budget: the 9 seeds + 3 rounds of 3 pilots, chosen by UCB (each round refits)
    or drawn at random. Measured: how close the best trained pilot gets to the optimum."""
    S0 = as_matrix(seed_mixtures(DOMS), DOMS)
    regret_ucb, regret_rand = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for rep in range(6):
            rng = np.random.default_rng(100 + rep)

            def noisy(W):
                return f_true(W) + rng.normal(0, 0.02, len(W))

            W, y = S0.copy(), noisy(S0)
            for r in range(3):
                s = QuadraticSurrogate(ridge=1e-3).fit(W, y, domains=DOMS)
                P = np.array(
                    [
                        _w(c)
                        for c in propose(s, 3, kappa=1.0, seed=10 * rep + r, n_boot=100, n_candidates=5000)
                    ]
                )
                W, y = np.vstack([W, P]), np.concatenate([y, noisy(P)])
            regret_ucb.append(0.6 - f_true(W).max())
            W2 = np.vstack([S0, rng.dirichlet(np.ones(4), 9)])
            regret_rand.append(0.6 - f_true(W2).max())
    assert np.mean(regret_ucb) < 0.5 * np.mean(regret_rand), (regret_ucb, regret_rand)
    assert sum(u < r for u, r in zip(regret_ucb, regret_rand)) >= 5


def test_propose_keeps_away_from_observed_mixtures():
    rng = np.random.default_rng(7)
    W = rng.dirichlet(np.ones(4), 25)
    s = QuadraticSurrogate(ridge=1e-3).fit(W, f_true(W) + rng.normal(0, 0.01, 25), domains=DOMS)
    picks = propose(s, 4, kappa=2.0, min_distance=0.12, n_boot=50, n_candidates=3000)
    P = np.array([_w(p) for p in picks])
    assert len(picks) == 4
    assert np.min(np.linalg.norm(P[:, None, :] - W[None, :, :], axis=2)) >= 0.12
    for i, j in itertools.combinations(range(4), 2):
        assert np.linalg.norm(P[i] - P[j]) >= 0.12
    assert all(p.acquisition == pytest.approx(p.predicted + 2.0 * p.spread) for p in picks)
    with pytest.raises(ValueError, match=r"kappa=-1: expected a finite number >= 0"):
        propose(s, 2, kappa=-1)
