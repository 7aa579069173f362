"""Figures of a fitted surrogate (matplotlib, PNG)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from modomodo.mixture.surrogate import CVResult, MixtureSurrogate


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_observed_vs_predicted(
    surrogate: MixtureSurrogate,
    path: str | Path,
    *,
    cv: CVResult | None = None,
    labels: Sequence[str] | None = None,
    target: str = "out_score",
    held_out: Sequence[tuple[str, float, float]] = (),
) -> Path:
    """Observed score against the fitted prediction of every training record (and the
    out-of-fold prediction when a k-fold `cv` is given), with the y = x line; `held_out`
    (name, observed, predicted) are runs the fit never saw (its picks, the final runs),
    marked and named."""
    W, y = surrogate._training()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    fitted = surrogate.predict(W)
    ax.scatter(y, fitted, label="fitted", color="tab:blue", zorder=3)
    pts = [y, fitted]
    if cv is not None and cv.predictions is not None:
        ax.scatter(
            y,
            cv.predictions,
            label=f"out-of-fold ({cv.method}, R²={cv.r2:.3f})",
            marker="x",
            color="tab:red",
            zorder=3,
        )
        pts.append(cv.predictions)
    held = [(n, o, p) for n, o, p in held_out if np.isfinite(o) and np.isfinite(p)]
    if held:
        ho, hp = np.array([h[1] for h in held]), np.array([h[2] for h in held])
        ax.scatter(ho, hp, label="held out (picks, finals)", marker="D", color="tab:green", zorder=4)
        for name, xi, yi in held:
            ax.annotate(
                name, (xi, yi), fontsize=6, color="tab:green", xytext=(3, -8), textcoords="offset points"
            )
        pts += [ho, hp]
    if labels is not None:
        for xi, yi, name in zip(y, fitted, labels):
            ax.annotate(name, (xi, yi), fontsize=6, alpha=0.7, xytext=(3, 3), textcoords="offset points")
    lo = float(min(p.min() for p in pts))
    hi = float(max(p.max() for p in pts))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="gray", lw=1, ls="--")
    ax.set_xlabel(f"observed {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title(f"{surrogate.name} surrogate, {len(y)} runs")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_pair_surfaces(
    surrogate: MixtureSurrogate,
    path: str | Path,
    *,
    base: Mapping[str, float] | None = None,
    resolution: int = 41,
    target: str = "out_score",
) -> Path:
    """For every pair of domains (i, j), the predicted score over w_i + w_j ≤ 1, the
    rest 1 - w_i - w_j shared among the other domains in proportion to `base`
    (default uniform). Observed mixtures are drawn at their (w_i, w_j)."""
    W, _ = surrogate._training()
    doms = surrogate.domains_
    assert doms is not None
    m = len(doms)
    b = np.ones(m) if base is None else surrogate.as_matrix(base)[0]
    pairs = list(itertools.combinations(range(m), 2))
    cols = min(5, len(pairs))
    rows = -(-len(pairs) // cols)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    t = np.linspace(0.0, 1.0, resolution)
    for ax, (i, j) in zip(axes.flat, pairs):
        rest = np.delete(np.arange(m), [i, j])
        if rest.size == 0:
            # Two domains: the simplex is the segment w_i + w_j = 1.
            line = np.stack([t, 1.0 - t], axis=1)
            ax.plot(t, surrogate.predict(line), color="tab:blue")
            ax.scatter(W[:, i], surrogate.predict(W), s=10, color="black")
            ax.set_xlabel(f"{doms[i]} (rest {doms[j]})")
            ax.set_ylabel(f"predicted {target}")
            continue
        xi, xj = np.meshgrid(t, t)
        ok = xi + xj <= 1.0 + 1e-12
        grid = np.zeros((ok.sum(), m))
        grid[:, i], grid[:, j] = xi[ok], xj[ok]
        share = b[rest] / b[rest].sum() if b[rest].sum() > 0 else np.full(rest.size, 1.0 / rest.size)
        grid[:, rest] = (1.0 - grid[:, i] - grid[:, j])[:, None] * share[None, :]
        z = np.full(xi.shape, np.nan)
        z[ok] = surrogate.predict(grid)
        cs = ax.contourf(xi, xj, z, levels=15, cmap="viridis")
        fig.colorbar(cs, ax=ax, fraction=0.046, pad=0.04)
        ax.scatter(W[:, i], W[:, j], s=10, c="white", edgecolors="black", linewidths=0.5)
        ax.set_xlabel(doms[i])
        ax.set_ylabel(doms[j])
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle(f"predicted {target} along pairs of domains ({surrogate.name})")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_simplex_slice(
    surrogate: MixtureSurrogate,
    path: str | Path,
    *,
    centre: Mapping[str, float],
    points: Sequence[tuple[Mapping[str, float], float, str]] = (),
    resolution: int = 60,
    target: str = "out_score",
) -> Path:
    """The predicted score over a 2-D barycentric slice of the simplex: the three domains of
    largest weight in `centre` vary over the triangle, every other domain stays at its
    weight in `centre` (so `centre` lies on the slice). `points` (weights, observed score,
    name) are drawn at their three-domain shares, coloured by the observed score on the
    same scale: filled when the run lies on the slice, hollow when it is only projected."""
    doms = surrogate.domains_
    assert doms is not None
    if len(doms) < 3:
        raise ValueError(f"a simplex slice needs at least three domains; the surrogate has {doms}")
    c = surrogate.as_matrix(centre)[0]
    corners = sorted(np.argsort(-c, kind="stable")[:3].tolist())
    others = [i for i in range(len(doms)) if i not in corners]
    mass = 1.0 - float(c[others].sum())
    # Barycentric grid (a, b, 1 - a - b) over the three corners, scaled to the free mass.
    t = np.linspace(0.0, 1.0, resolution)
    a, b = np.meshgrid(t, t)
    ok = a + b <= 1.0 + 1e-12
    bary = np.stack([a[ok], b[ok], np.clip(1.0 - a[ok] - b[ok], 0.0, None)], axis=1)
    grid = np.tile(c, (len(bary), 1))
    grid[:, corners] = mass * bary
    z = surrogate.predict(grid)
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])

    def to_xy(w3: np.ndarray) -> np.ndarray:
        return w3 @ xy

    plt = _pyplot()
    import matplotlib.tri as mtri

    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    g = to_xy(bary)
    observed = [o for _, o, _ in points if np.isfinite(o)]
    lo, hi = float(min([z.min(), *observed])), float(max([z.max(), *observed]))
    cs = ax.tricontourf(mtri.Triangulation(g[:, 0], g[:, 1]), z, levels=15, cmap="viridis", vmin=lo, vmax=hi)
    fig.colorbar(cs, ax=ax, label=f"predicted {target}")
    for weights, obs, name in points:
        w = surrogate.as_matrix(weights)[0]
        share = w[corners].sum()
        if share <= 0 or not np.isfinite(obs):
            continue
        p = to_xy(w[corners] / share)
        on_slice = bool(np.allclose(w[others], c[others], atol=0.02))
        colour = plt.get_cmap("viridis")((obs - lo) / (hi - lo) if hi > lo else 0.5)
        ax.scatter(
            p[0],
            p[1],
            s=40,
            color=colour if on_slice else "none",
            edgecolors=colour if not on_slice else "black",
            linewidths=1.2,
            zorder=3,
        )
        ax.annotate(name, tuple(p), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for k, i in enumerate(corners):
        ax.annotate(
            doms[i],
            tuple(xy[k]),
            fontsize=9,
            ha="center",
            xytext=(0, -12 if k < 2 else 6),
            textcoords="offset points",
        )
    ax.plot(*np.vstack([xy, xy[:1]]).T, color="black", lw=0.8)
    fixed = ", ".join(f"{doms[i]} {c[i]:.2f}" for i in others) or "none"
    ax.set_title(
        f"predicted {target} over {', '.join(doms[i] for i in corners)}\n(fixed: {fixed}; hollow: projected runs)",
        fontsize=9,
        pad=16,
    )
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
