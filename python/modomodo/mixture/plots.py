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
) -> Path:
    """Observed score against the fitted prediction of every training record (and the
    out-of-fold prediction when a k-fold `cv` is given), with the y = x line."""
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
