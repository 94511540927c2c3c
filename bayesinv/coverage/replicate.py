r"""One replicate of a coverage study: realise, sample, diagnose, score (runs in a worker).

Replicate r with seed s_r = ``SeedSequence(seed).spawn(R)[r]`` goes through the one
synthetic-experiment path (:func:`bayesinv.synthetic.realise`: truth from child 0, data from
child 1, draws from child 2), then scores its draws: for each credible level 1 − α and kind
of set, whether the set contains the truth (a *hit*), built by the set builders of
:mod:`bayesinv.diagnostics.credible` for all levels at once
(:func:`~bayesinv.diagnostics.credible.interval_bounds`,
:func:`~bayesinv.diagnostics.credible.set_radii`); the rank of the truth among ``sbc_draws``
evenly thinned draws (Talts et al. 2018); and the convergence diagnostics that decide whether
the replicate counts (:mod:`bayesinv.coverage.convergence`).

The result is a dict of arrays and two strings (``flags``, ``failure``) — what the results
store writes per replicate and :func:`bayesinv.coverage.study.assemble_study` stacks.

References
----------
S. Talts, M. Betancourt, D. Simpson, A. Vehtari & A. Gelman (2018), Validating Bayesian
inference algorithms with simulation-based calibration, arXiv:1804.06788.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ..diagnostics.credible import (
    ball_statistics,
    band_statistics,
    interval_bounds,
    l2_norm,
    posterior_draws,
    set_radii,
    sup_statistic,
)
from ..errors import ForwardSolveError, InvalidArgumentError, SamplerDivergenceError
from ..synthetic import InferenceSpec, realise
from .convergence import ConvergenceCriteria, replicate_diagnostics
from .functionals import Functional, Hyperparameter, cached_functional_matrix
from .spec import SCALAR_KINDS, ProblemSpec

if TYPE_CHECKING:
    import scipy.sparse as sp

#: per kind of field set, (the statistic of each pooled draw, shape (S,), that of the truth)
FieldStatistics = dict[str, tuple[NDArray[np.float64], float]]


@dataclass(frozen=True, eq=False)
class ReplicateTask:
    """Everything one replicate needs, picklable (sent to a worker process)."""

    problem: ProblemSpec
    inference: InferenceSpec
    functionals: tuple[Functional, ...]
    levels: tuple[float, ...]
    kinds: tuple[str, ...]
    truth: NDArray[np.float64] | None  # None: draw from the prior
    criteria: ConvergenceCriteria | None
    sbc_draws: int
    pointwise_field: bool
    seed: np.random.SeedSequence
    replicate: int


def run_replicate(task: ReplicateTask) -> dict[str, Any]:
    """Simulate, infer and score one replicate. A sampler divergence or a failed forward
    solve while sampling is a *result* (recorded in ``failure``, flagged in the study)."""
    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        model = task.problem.build()
        W = cached_functional_matrix(task.problem, task.functionals, model)
        experiment = realise(model, task.seed, task.truth)
        out = empty_result(task, W.shape[0])
        try:
            idata = experiment.sample(task.inference)
        except (SamplerDivergenceError, ForwardSolveError) as exc:
            return failed_result(task, exc, start)
        truth = experiment.truth
        theta = posterior_draws(idata, "theta")
        fdraws = theta @ W.T
        ftruth = W @ truth
        for j, f in enumerate(task.functionals):
            if isinstance(f, Hyperparameter):
                fdraws[..., j] = idata.posterior[f.name].values
                ftruth[j] = experiment.hyper[f.name]
        field = field_statistics(theta, truth, task.kinds, model.mass_matrix)
        if task.criteria is not None:
            monitored = np.concatenate(
                [fdraws, *(stat.reshape(*theta.shape[:2], 1) for stat, _ in field.values())],
                axis=-1)
            diag = replicate_diagnostics(idata, monitored, latent=task.criteria.latent,
                                         rhat_required=task.criteria.rhat_max is not None)
            out.update(diag)
            out["flags"] = "; ".join(task.criteria.failures(diag))
        score(out, task, theta, fdraws, ftruth, truth, model.mass_matrix, field)
    out["wall_time"] = time.perf_counter() - start
    return out


def failed_result(task: ReplicateTask, exc: BaseException, start: float) -> dict[str, Any]:
    """The record of a replicate whose inference raised ``exc`` (started at ``start``)."""
    out = empty_result(task, len(task.functionals))
    out["failure"] = f"{type(exc).__name__}: {exc}"
    out["wall_time"] = time.perf_counter() - start
    return out


def empty_result(task: ReplicateTask, num_functionals: int) -> dict[str, Any]:
    """A replicate's record before scoring: NaN everywhere (``divergences`` −1)."""
    nl, nk, nf = len(task.levels), len(task.kinds), num_functionals + 1
    nan = np.nan
    return {
        "hit": np.full((nl, nk, nf), nan), "rank": np.full((nk, nf), nan),
        "pointwise_fraction": np.full((nl, nk), nan),
        "truth_value": np.full(num_functionals, nan),
        "posterior_mean": np.full(num_functionals, nan),
        "posterior_sd": np.full(num_functionals, nan),
        "l2_error": nan, "relative_l2_error": nan,
        "rhat_max": nan, "ess_bulk_min": nan, "ess_tail_min": nan, "acceptance_rate": nan,
        "divergences": -1, "flags": "", "failure": "", "wall_time": nan,
    }


def field_statistics(theta: NDArray[np.float64], truth: NDArray[np.float64],
                     kinds: Sequence[str], M: sp.spmatrix | NDArray[np.float64] | None
                     ) -> FieldStatistics:
    """Per kind of field set, the statistic of each draw (S,) and of the truth: the
    standardised sup-norm deviation from the mean (band) and the L² distance (ball)."""
    pooled = theta.reshape(-1, theta.shape[-1])
    out: FieldStatistics = {}
    if "band" in kinds:
        mean, scale, tol, stat = band_statistics(pooled)
        out["band"] = (stat, float(sup_statistic(truth, mean, scale, tol)))
    if "l2_ball" in kinds:
        mean, distances = ball_statistics(pooled, M)
        out["l2_ball"] = (distances, float(l2_norm(truth - mean, M)))
    return out


def score(out: dict[str, Any], task: ReplicateTask, theta: NDArray[np.float64],
          fdraws: NDArray[np.float64], ftruth: NDArray[np.float64], truth: NDArray[np.float64],
          M: sp.spmatrix | NDArray[np.float64] | None, field: FieldStatistics) -> None:
    """Hits, ranks and summaries of one replicate's draws (fills ``out`` in place), at all
    levels at once."""
    chains, draws, n = theta.shape
    S = chains * draws
    pooled = theta.reshape(S, n)
    fpooled = fdraws.reshape(S, fdraws.shape[-1])
    if task.sbc_draws > S:
        raise InvalidArgumentError(
            f"sbc_draws={task.sbc_draws} exceeds the {S} posterior draws of a replicate; "
            f"lower sbc_draws or draw more")
    thin = np.linspace(0, S - 1, task.sbc_draws).round().astype(int)
    levels = np.asarray(task.levels)
    F = fpooled.shape[1]
    out["truth_value"], out["posterior_mean"] = ftruth, fpooled.mean(axis=0)
    out["posterior_sd"] = fpooled.std(axis=0, ddof=1)
    out["l2_error"] = float(l2_norm(pooled.mean(axis=0) - truth, M))
    norm0 = float(l2_norm(truth, M))
    out["relative_l2_error"] = out["l2_error"] / norm0 if norm0 > 0 else np.nan
    for k, kind in enumerate(task.kinds):
        if kind in SCALAR_KINDS:
            if F:
                lo, hi = interval_bounds(fdraws, levels, kind)  # (L, F)
                out["hit"][:, k, :F] = (lo <= ftruth) & (ftruth <= hi)
            if task.pointwise_field:
                lo, hi = interval_bounds(theta, levels, kind)  # (L, n)
                out["pointwise_fraction"][:, k] = ((lo <= truth) & (truth <= hi)).mean(axis=1)
            if kind == "equal_tailed":
                out["rank"][k, :F] = (fpooled[thin] < ftruth).sum(axis=0)
        else:
            stat, stat0 = field[kind]
            out["hit"][:, k, F] = stat0 <= set_radii(stat, levels)
            out["rank"][k, F] = (stat[thin] < stat0).sum()
