"""Figures for credible sets and coverage studies: one call each, returning the axes.

* :func:`plot_coverage` — calibration curve: nominal level against empirical coverage with
  Clopper–Pearson intervals, one line per (set kind, functional);
* :func:`plot_bvm` — Bernstein–von Mises check: histogram of posterior draws of ⟨θ, ψ⟩_{L²}
  with the Gaussian N(mean, sd²) superimposed, the posterior mean and the true value marked;
* :func:`plot_band_along_line` — posterior mean, pointwise intervals and the simultaneous band
  of θ along a segment through the domain, with the truth;
* :func:`plot_sbc` — rank histogram with the binomial band of Talts et al. (2018) and ArviZ's
  ECDF-difference plot of the PIT values (Säilynoja, Bürkner & Vehtari 2022).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats

from ..arviz_io import plot_ecdf_difference
from ..errors import InvalidArgumentError
from ..space_record import resolve_space
from .credible import (
    check_level,
    functional_weights,
    point_weights,
    pointwise_intervals,
    posterior_draws,
    require_space,
    simultaneous_band,
)

KIND_LABELS = {"equal_tailed": "equal-tailed", "hdi": "HDI", "band": "sup-norm band",
               "l2_ball": "L² ball"}


def _axes(ax):
    return ax if ax is not None else plt.figure(figsize=(5.5, 4.5), layout="constrained").gca()


def plot_coverage(study, *, kinds=None, functionals=None, ax=None, title=None):
    """Nominal level vs empirical coverage of a study (:func:`run_coverage_study`), with
    Clopper–Pearson intervals; the diagonal is perfect calibration."""
    ax = _axes(ax)
    kinds = list(study["kind"].values) if kinds is None else list(kinds)
    funcs = list(study["functional"].values) if functionals is None else list(functionals)
    levels = study["level"].values
    series = [(k, f) for k in kinds for f in funcs
              if not np.isnan(study["coverage"].sel(kind=k, functional=f)).all()]
    if not series:
        raise InvalidArgumentError(f"no coverage to plot for kinds {kinds} and functionals "
                                   f"{funcs}")
    span = levels.max() - levels.min() if levels.size > 1 else 0.2
    offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * 0.012 * span
    for i, (kind, func) in enumerate(series):
        sel = study.sel(kind=kind, functional=func)
        cov = sel["coverage"].values
        err = np.vstack([cov - sel["coverage_lower"].values, sel["coverage_upper"].values - cov])
        label = f"{KIND_LABELS.get(kind, kind)}, {func}" if func != "field" else \
            KIND_LABELS.get(kind, kind)
        ax.errorbar(levels + offsets[i], cov, yerr=err, marker="o", ms=4, capsize=3, lw=1,
                    label=label)
    lo = min(levels.min(), float(np.nanmin(study["coverage_lower"].values))) - 0.03
    ax.plot([lo, 1], [lo, 1], "k--", lw=0.8, label="nominal")
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(lo, 1.01)
    ax.set_xlabel("nominal level 1 − α")
    ax.set_ylabel("empirical coverage")
    conf = study.attrs.get("confidence", 0.95)
    mode = {"sbc": "truth ~ prior", "frequentist": "fixed truth"}.get(study.attrs.get("mode"), "")
    ax.set_title(title or f"coverage over {int(study['num_valid'])} replicates ({mode}; "
                 f"{int(study['num_flagged'])} flagged)\nbars: {conf:.0%} Clopper–Pearson",
                 fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return ax


def plot_bvm(draws, psi, *, truth=None, space=None, mass_matrix=None, ax=None, bins=50,
             var_name="theta", title=None):
    """Histogram of posterior draws of ⟨θ, ψ⟩_{L²} with the Gaussian N(mean, sd²) of the draws,
    the posterior mean and (if given, as nodal values or a number) the true value."""
    ax = _axes(ax)
    arr = posterior_draws(draws, var_name)
    if mass_matrix is None:
        space = resolve_space(draws, space, arr.shape[-1])
    w = functional_weights(psi, arr.shape[-1], space=space, mass_matrix=mass_matrix)
    values = (arr @ w).ravel()
    mean, sd = values.mean(), values.std(ddof=1)
    ax.hist(values, bins=bins, density=True, color="C0", alpha=0.45,
            label=f"posterior draws (S = {values.size})")
    grid = np.linspace(mean - 4.5 * sd, mean + 4.5 * sd, 300)
    ax.plot(grid, scipy.stats.norm.pdf(grid, mean, sd), "C0", lw=1.8,
            label=f"N(mean, sd²), sd = {sd:.3g}")
    ax.axvline(mean, color="k", lw=1.2, label=f"posterior mean {mean:.4g}")
    text = ""
    if truth is not None:
        value = float(np.asarray(truth, float) @ w) if np.ndim(truth) else float(truth)
        ax.axvline(value, color="C3", lw=2, ls="--", label=f"true value {value:.4g}")
        text = f"; (truth − mean)/sd = {(value - mean) / sd:+.2f}"
    ax.set_xlabel("⟨θ, ψ⟩ (L² inner product)")
    ax.set_ylabel("density")
    ax.set_title(title or f"Bernstein–von Mises check for ⟨θ, ψ⟩{text}", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_band_along_line(draws, space=None, start=None, end=None, *, level=0.95, truth=None,
                         num_points=200, ax=None, var_name="theta", title=None):
    """θ along the segment from ``start`` to ``end``: posterior mean, pointwise equal-tailed
    intervals and the simultaneous band at ``level`` (both over the points of the segment), and
    the truth (nodal values or a callable). ``space`` defaults to the FE space recorded in
    InferenceData ``draws``."""
    level = check_level(level)
    if start is None or end is None:
        raise InvalidArgumentError("plot_band_along_line needs the segment: start= and end=")
    arr = posterior_draws(draws, var_name)
    space = require_space(draws, space, arr.shape[-1], "plot_band_along_line")
    ax = _axes(ax)
    start, end = np.asarray(start, float), np.asarray(end, float)
    t = np.linspace(0.0, 1.0, int(num_points))
    points = start + t[:, None] * (end - start)
    E = point_weights(points, space, arr.shape[-1])
    line = arr @ E.T  # (chain, draw, points)
    band = simultaneous_band(line, level)
    pw = pointwise_intervals(line, level)
    s = t * np.linalg.norm(end - start)
    ax.fill_between(s, band.lower, band.upper, color="C0", alpha=0.2,
                    label=f"{level:.0%} simultaneous band")
    ax.fill_between(s, pw.lower, pw.upper, color="C0", alpha=0.35,
                    label=f"{level:.0%} pointwise intervals")
    ax.plot(s, band.center, "C0", lw=1.5, label="posterior mean")
    if truth is not None:
        values = truth(points.T.copy()) if callable(truth) else E @ np.asarray(truth, float)
        inside = band.contains(np.asarray(values, float))
        ax.plot(s, values, "C3", lw=1.5, ls="--",
                label=f"truth ({'inside' if inside else 'outside'} the band)")
    ax.set_xlabel(f"distance along the line {tuple(start.round(3))} → {tuple(end.round(3))}")
    ax.set_ylabel("θ")
    ax.set_title(title or "posterior of θ along a line", fontsize=10)
    ax.legend(fontsize=8)
    ax.margins(x=0)
    return ax


def plot_sbc(study, *, kind="equal_tailed", functional=None, axes=None, bins=20):
    """Rank histogram of the truth among thinned draws (with the 99% band of a uniform
    histogram) and ArviZ's ECDF-difference plot of the PIT values (rank + ½)/(L + 1)."""
    funcs = [f for f in study["functional"].values
             if not np.isnan(study["rank"].sel(kind=kind, functional=f)).all()]
    if not funcs:
        raise InvalidArgumentError(f"the study has no ranks for kind {kind!r}")
    functional = funcs[0] if functional is None else functional
    if functional not in funcs:
        raise InvalidArgumentError(
            f"functional must be one of {funcs} for kind {kind!r}, got {functional!r}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    ranks = study["rank"].sel(kind=kind, functional=functional).values
    ranks = ranks[~study["flagged"].values]
    ranks = ranks[~np.isnan(ranks)]
    L = int(study.attrs["sbc_draws"])
    n = ranks.size
    edges = np.linspace(-0.5, L + 0.5, bins + 1)
    ax = axes[0]
    ax.hist(ranks, bins=edges, color="C0", alpha=0.6, edgecolor="white")
    p = 1.0 / bins
    lo, hi = scipy.stats.binom.ppf([0.005, 0.995], n, p)
    ax.axhspan(lo, hi, color="0.6", alpha=0.3, zorder=0,
               label="99% range of a bin's count under uniform ranks")
    ax.axhline(n * p, color="0.3", lw=1)
    ax.set_xlabel(f"rank of the truth among {L} thinned draws")
    ax.set_ylabel("replicates")
    pval = float(study["rank_pvalue"].sel(kind=kind, functional=functional))
    what = "SBC ranks" if study.attrs.get("mode") == "sbc" else "ranks of the fixed truth"
    ax.set_title(f"{what}: {KIND_LABELS.get(kind, kind)}, {functional} "
                 f"(uniformity χ² p = {pval:.2g})", fontsize=10)
    ax.legend(fontsize=8)
    pit = (ranks + 0.5) / (L + 1)

    def uniform_pit(size, random_state=None):  # PIT values of uniform ranks on {0..L}
        rng = np.random.default_rng(random_state)
        return (rng.integers(0, L + 1, size) + 0.5) / (L + 1)

    plot_ecdf_difference(pit, scipy.stats.uniform(0, 1).cdf, axes[1], rvs=uniform_pit,
                         eval_points=np.linspace(0.0, 1.0, L + 2))
    axes[1].set_xlabel("PIT value")
    axes[1].set_ylabel("ECDF − uniform CDF")
    axes[1].set_title("ECDF difference with 95% simultaneous band (ArviZ)", fontsize=10)
    return axes
