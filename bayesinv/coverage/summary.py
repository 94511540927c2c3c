r"""The summary of a coverage study: coverage with exact intervals and tests, ranks, flags, table.

Over the n unflagged replicates, with k hits of a set at level 1 − α: the empirical coverage
k/n, its Clopper–Pearson interval (Clopper & Pearson 1934, Biometrika 26) and the two-sided
exact binomial test of coverage = 1 − α; for the ranks of the truth among L thinned draws, a
χ² test of uniformity on {0..L} (Talts et al. 2018, arXiv:1804.06788). Flagged replicates
(failing the :class:`~bayesinv.coverage.convergence.ConvergenceCriteria`, or whose sampler
diverged) are counted and explained (:func:`flagged_summary`), never scored.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.stats
import xarray as xr
from numpy.typing import ArrayLike

from ..diagnostics.credible import check_level
from ..errors import BayesinvWarning

if TYPE_CHECKING:
    import pandas as pd


def summarize_coverage(ds: xr.Dataset, confidence: float = 0.95) -> xr.Dataset:
    """Add (or recompute) the summary over the unflagged replicates.

    ``num_valid``: unflagged replicates; ``num_flagged``; ``num_hits``, ``coverage``,
    ``coverage_lower``/``coverage_upper`` (Clopper–Pearson at ``confidence``) and
    ``binom_pvalue`` (two-sided exact binomial test of coverage = level), each (level, kind,
    functional), NaN where a kind does not apply; ``rank_pvalue`` (kind, functional): χ² test
    of uniformity of the ranks over {0..sbc_draws}.
    """
    confidence = check_level(confidence, "confidence")
    valid = ~ds["flagged"].values
    n = int(valid.sum())
    hits = ds["hit"].values[valid]  # (n, level, kind, functional)
    applicable = ~np.isnan(ds["hit"].values).all(axis=0)
    k = np.where(applicable, np.nansum(hits, axis=0), np.nan)
    cov = np.full(k.shape, np.nan)
    lo, hi, pval = cov.copy(), cov.copy(), cov.copy()
    levels = ds["level"].values
    for idx in zip(*np.nonzero(applicable & (n > 0)), strict=True):
        test = scipy.stats.binomtest(int(k[idx]), n, p=float(levels[idx[0]]))
        ci = test.proportion_ci(confidence_level=confidence, method="exact")
        cov[idx], lo[idx], hi[idx], pval[idx] = k[idx] / n, ci.low, ci.high, test.pvalue
    ranks = ds["rank"].values[valid]
    rank_p = np.full(ranks.shape[1:], np.nan)
    L = int(ds.attrs.get("sbc_draws", np.nanmax(ds["rank"].values, initial=0)))
    for idx in zip(*np.nonzero(~np.isnan(ds["rank"].values).all(axis=0)), strict=True):
        r = ranks[(slice(None), *idx)]
        rank_p[idx] = rank_uniformity_pvalue(r[~np.isnan(r)], L)
    dims3 = ("level", "kind", "functional")
    out = ds.assign(
        num_hits=(dims3, k), coverage=(dims3, cov), coverage_lower=(dims3, lo),
        coverage_upper=(dims3, hi), binom_pvalue=(dims3, pval),
        rank_pvalue=(("kind", "functional"), rank_p),
        num_valid=n, num_flagged=int((~valid).sum()))
    out.attrs["confidence"] = confidence
    return out


def rank_uniformity_pvalue(ranks: ArrayLike, num_draws: int) -> float:
    """χ² test that ranks are uniform on {0, …, num_draws} (Talts et al. 2018).

    Ranks are binned into B ≤ 20 bins with at least ~5 expected counts each (B =
    min(20, n/5, num_draws + 1), at least 2); expected counts follow the bins' sizes. Returns
    NaN for fewer than 10 ranks.
    """
    r = np.asarray(ranks, dtype=float)
    n = r.size
    if n < 10:
        return float("nan")
    values = num_draws + 1
    bins = int(max(2, min(20, n // 5, values)))
    edges = np.floor(np.arange(values) * bins / values).astype(int)  # bin of each rank value
    expected = np.bincount(edges, minlength=bins) / values * n
    observed = np.bincount(edges[np.clip(r.astype(int), 0, num_draws)], minlength=bins)
    return float(scipy.stats.chisquare(observed, expected).pvalue)


def _criterion(flag: str) -> str:
    """A flag without its measured value: "R-hat 1.0234 >= 1.01" → "R-hat >= 1.01"."""
    return re.sub(r"-?\d+(\.\d*)?(e[-+]?\d+)?\s*", "", flag.strip(), count=1).strip()


def flagged_summary(ds: xr.Dataset) -> str:
    """A sentence saying how many replicates were flagged (excluded) and why: per criterion
    of :class:`ConvergenceCriteria` (e.g. "R-hat >= 1.01: 5") and per failure (the
    exception's type), counting a replicate once under each criterion it failed."""
    flagged = np.asarray(ds["flagged"].values, bool)
    total = int(flagged.size)
    if not flagged.any():
        return f"0 of {total} replicates flagged."
    counts: dict[str, int] = {}
    for flags, failure in zip(ds["flags"].values[flagged], ds["failure"].values[flagged],
                              strict=True):
        reasons = {_criterion(f) for f in str(flags).split(";") if f.strip()}
        if str(failure):
            reasons.add("failed: " + str(failure).split(":")[0])
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    detail = "; ".join(f"{reason}: {n}" for reason, n in
                       sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return (f"{int(flagged.sum())} of {total} replicates flagged and excluded ({detail}); "
            f"replicates failing the ConvergenceCriteria are not counted: run longer "
            f"chains, use a better-suited method, or loosen the criteria "
            f"(run_coverage_study(..., convergence=ConvergenceCriteria(...))).")


def coverage_table(ds: xr.Dataset) -> pd.DataFrame:
    """A pandas DataFrame: one row per applicable (kind, functional, level).

    With no valid replicate the table is empty; a :class:`~bayesinv.errors.BayesinvWarning`
    then says how many replicates were flagged and by which criterion
    (:func:`flagged_summary`, also in the table's ``attrs["flagged"]``).
    """
    import pandas as pd

    rows = []
    for kind in ds["kind"].values:
        for func in ds["functional"].values:
            for level in ds["level"].values:
                sel = {"kind": kind, "functional": func, "level": level}
                if np.isnan(ds["coverage"].sel(sel)):
                    continue
                rows.append({
                    "kind": kind, "functional": func, "level": float(level),
                    "hits": int(ds["num_hits"].sel(sel)), "valid": int(ds["num_valid"]),
                    "coverage": float(ds["coverage"].sel(sel)),
                    "ci_low": float(ds["coverage_lower"].sel(sel)),
                    "ci_high": float(ds["coverage_upper"].sel(sel)),
                    "binom_p": float(ds["binom_pvalue"].sel(sel)),
                    "rank_p": float(ds["rank_pvalue"].sel(kind=kind, functional=func)),
                })
    table = pd.DataFrame(rows)
    table.attrs["flagged"] = flagged_summary(ds)
    if table.empty:
        warnings.warn(f"the coverage table is empty: {table.attrs['flagged']}",
                      BayesinvWarning, stacklevel=2)
    return table
