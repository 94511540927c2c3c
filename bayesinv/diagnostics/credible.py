r"""Credible sets from posterior draws: intervals, bands and L² balls with ``contains(value)``.

Every constructor takes posterior draws — an :class:`arviz.InferenceData` (variable
``var_name`` of its ``posterior`` group, default ``"theta"``), an xarray object or an array
shaped (chain, draw, *event*) — and a credible level 1 − α ∈ (0, 1), and returns an object whose
``contains(value)`` says whether a value (a truth θ₀, a held-out draw) lies in the set.
Let θ^{(1..S)} be the S pooled draws of θ ∈ Rⁿ (nodal values of a finite-element field),
m their mean and s_i their pointwise standard deviations. The sets are

* **pointwise intervals** (:func:`pointwise_intervals`): for each node i, the equal-tailed
  interval [q_{α/2}, q_{1−α/2}] of θ_i^{(s)}, or ArviZ's highest-density interval (the shortest
  interval between order statistics holding a fraction 1 − α of the draws);
* **simultaneous band** (:func:`simultaneous_band`): {θ : max_i |θ_i − m_i| / s_i ≤ R}, with R
  the (1 − α)-quantile of the same standardised sup-norm statistic over the draws — a band
  m ± R s holding a fraction 1 − α of whole draws (not of each node);
* **L²(O) ball** (:func:`l2_ball`): {θ : ‖θ − m‖_{L²} ≤ R}, with ‖v‖²_{L²} = vᵀ M v (M the FE
  mass matrix, so the norm is that of the FE function) and R the (1 − α)-quantile of
  ‖θ^{(s)} − m‖_{L²} — the credible balls of Monard, Nickl & Paternain (2021) and
  Nickl (2023, §4);
* **intervals for linear functionals** (:func:`functional_interval`): ⟨θ, ψ⟩_{L²} =
  θᵀ M ψ_h with ψ_h the nodal interpolant of ψ (or ψ given as nodal values), equal-tailed or
  HDI — the Bernstein–von Mises functionals of Nickl (2020);
* **intervals for point values** (:func:`point_value_interval`): θ(x) = (E θ)(x) with E the
  FE evaluation operator at x.

Nodes where the draws do not vary (s_i = 0, e.g. a Dirichlet-series prior on ∂O) cannot be
standardised; the band then requires θ_i = m_i there (to a round-off tolerance), which is what
the posterior says. Restrict the band with ``nodes=`` to study the interior only.

This module holds the constructors; the set types and the statistics behind them are in
:mod:`bayesinv.diagnostics.credible_sets`, the weight vectors of linear functionals in
:mod:`bayesinv.diagnostics.credible_weights` (both re-exported here).

References
----------
R. Nickl (2020), Bernstein–von Mises theorems for statistical inverse problems I: Schrödinger
equation, JEMS 22. F. Monard, R. Nickl & G. P. Paternain (2021), Consistent inversion of noisy
non-Abelian X-ray transforms, CPAM 74. R. Nickl (2023), *Bayesian non-linear statistical
inverse problems*, EMS Zurich Lectures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import float_in_interval, one_of, real_array
from ..errors import InvalidArgumentError
from ..protocols import Draws
from ..space_record import resolve_space
from .credible_sets import (
    Interval,
    L2Ball,
    PointwiseIntervals,
    SimultaneousBand,
    ball_statistics,
    band_statistics,
    interval_bounds,
    l2_norm,
    set_radii,
    sup_statistic,
)
from .credible_weights import (
    checked_mass_matrix,
    functional_weights,
    point_weights,
    require_l2_product,
    require_space,
)

__all__ = [
    "INTERVAL_KINDS",
    "Interval",
    "L2Ball",
    "PointwiseIntervals",
    "SimultaneousBand",
    "ball_statistics",
    "band_statistics",
    "check_level",
    "functional_interval",
    "functional_weights",
    "interval_bounds",
    "l2_ball",
    "l2_norm",
    "point_value_interval",
    "point_weights",
    "pointwise_intervals",
    "posterior_draws",
    "require_space",
    "scalar_interval",
    "set_radii",
    "simultaneous_band",
    "sup_statistic",
]

INTERVAL_KINDS = ("equal_tailed", "hdi")


def check_level(level: object, name: str = "level") -> float:
    """A credible level 1 − α, required to lie strictly between 0 and 1."""
    return float_in_interval(name, level, 0.0, 1.0, closed_low=False, closed_high=False)


def posterior_draws(draws: Draws, var_name: str = "theta") -> np.ndarray:
    """Draws as a float array (chain, draw, *event*) from InferenceData, xarray or an array."""
    if hasattr(draws, "posterior"):  # InferenceData
        if var_name not in draws.posterior:
            raise InvalidArgumentError(
                f"the posterior group has no variable {var_name!r}; it has "
                f"{sorted(draws.posterior.data_vars)}")
        draws = draws.posterior[var_name]
    elif hasattr(draws, "data_vars"):  # xarray Dataset
        draws = draws[var_name]
    values: Any = getattr(draws, "values", draws)
    arr = real_array("draws", values)
    if arr.ndim < 2 or arr.shape[0] * arr.shape[1] < 2:
        raise InvalidArgumentError(
            f"draws must have shape (chain, draw, ...) with at least 2 draws in all, "
            f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("draws contain NaN or inf (a diverged chain?)")
    return arr


def _pooled(draws: Draws, var_name: str, ndim: int) -> np.ndarray:
    """Pooled draws, shape (S,) for scalars (ndim=0) or (S, n) for vectors (ndim=1)."""
    arr = posterior_draws(draws, var_name)
    if arr.ndim != 2 + ndim:
        what = "a scalar (chain, draw)" if ndim == 0 else "a vector (chain, draw, n)"
        raise InvalidArgumentError(
            f"draws of {var_name!r} must be {what}, got shape {arr.shape}")
    return arr.reshape(-1, *arr.shape[2:])


def pointwise_intervals(draws: Draws, level: float = 0.95, *, kind: str = "equal_tailed",
                        var_name: str = "theta") -> PointwiseIntervals:
    """Marginal credible intervals at each node: equal-tailed quantiles or ArviZ's HDI."""
    level = check_level(level)
    kind = one_of("kind", kind, INTERVAL_KINDS)
    arr = posterior_draws(draws, var_name)
    if arr.ndim != 3:
        raise InvalidArgumentError(
            f"draws of {var_name!r} must have shape (chain, draw, n), got {arr.shape}")
    lower, upper = interval_bounds(arr, level, kind)
    return PointwiseIntervals(lower[0], upper[0], level, kind)


def simultaneous_band(draws: Draws, level: float = 0.95, *, nodes: ArrayLike | None = None,
                      var_name: str = "theta") -> SimultaneousBand:
    """The standardised sup-norm band m ± R s holding a fraction ``level`` of whole draws.

    ``nodes`` (indices or a boolean mask) restricts the band to part of the field, e.g. the
    interior vertices; by default it covers every node.
    """
    level = check_level(level)
    pooled = _pooled(draws, var_name, ndim=1)
    nodes = _node_indices(nodes, pooled.shape[1])
    center, scale, tolerance, stats = band_statistics(pooled, nodes)
    radius = float(set_radii(stats, level))
    return SimultaneousBand(center, scale, radius, level, nodes, tolerance)


def _node_indices(nodes: ArrayLike | None, n: int) -> np.ndarray:
    if nodes is None:
        return np.arange(n)
    idx = np.asarray(nodes)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise InvalidArgumentError(f"nodes mask must have length {n}, got {idx.shape}")
        idx = np.flatnonzero(idx)
    idx = idx.astype(int, copy=False).ravel()
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise InvalidArgumentError(f"nodes must be non-empty indices in [0, {n}), got {nodes!r}")
    return idx


def l2_ball(draws: Draws, level: float = 0.95, *, mass_matrix: ArrayLike | None = None,
            space: Any = None,
            var_name: str = "theta") -> L2Ball:
    """The L²(O) ball around the posterior mean holding a fraction ``level`` of the draws.

    The norm uses ``mass_matrix`` (or ``space.mass_matrix``), so it is the L² norm of the FE
    function. One of them is required (the Euclidean norm of the nodal vector differs from
    the L² norm by a mesh-dependent factor); pass ``mass_matrix=scipy.sparse.identity(n)``
    for the Euclidean norm of a coefficient vector on purpose. Without either, the space
    recorded in InferenceData ``draws`` is used (:mod:`.space_record`).
    """
    level = check_level(level)
    pooled = _pooled(draws, var_name, ndim=1)
    if mass_matrix is None:
        space = resolve_space(draws, space, pooled.shape[1])
    M = checked_mass_matrix(mass_matrix, space, pooled.shape[1])
    require_l2_product("l2_ball", M, pooled.shape[1])
    center, distances = ball_statistics(pooled, M)
    return L2Ball(center, float(set_radii(distances, level)), level, M)


def scalar_interval(values: ArrayLike, level: float = 0.95, *, kind: str = "equal_tailed",
                    name: str = "") -> Interval:
    """A credible interval from draws of a scalar, shaped (chain, draw)."""
    level = check_level(level)
    kind = one_of("kind", kind, INTERVAL_KINDS)
    arr = posterior_draws(values)
    if arr.ndim != 2:
        raise InvalidArgumentError(f"scalar draws must have shape (chain, draw), got {arr.shape}")
    lower, upper = interval_bounds(arr, level, kind)
    return Interval(float(lower[0]), float(upper[0]), level, kind, name)


def functional_interval(draws: Draws, psi: ArrayLike | Callable[[np.ndarray], np.ndarray],
                        level: float = 0.95, *, space: Any = None,
                        mass_matrix: ArrayLike | None = None,
                        kind: str = "equal_tailed", var_name: str = "theta",
                        name: str = "<theta,psi>") -> Interval:
    """Credible interval for the linear functional ⟨θ, ψ⟩_{L²} = θᵀ M ψ_h.

    ``psi``: a callable ψ(x) (needs ``space``) or nodal values on θ's mesh. ``space`` or
    ``mass_matrix`` is required (without M the product would be the Euclidean θᵀψ, not the
    L² product); pass ``mass_matrix=scipy.sparse.identity(n)`` for θᵀψ on purpose. Without
    either, the space recorded in InferenceData ``draws`` is used (:mod:`.space_record`).
    """
    arr = posterior_draws(draws, var_name)
    if mass_matrix is None:
        space = resolve_space(draws, space, arr.shape[-1])
    w = functional_weights(psi, arr.shape[-1], space=space, mass_matrix=mass_matrix)
    n = arr.shape[-1]
    require_l2_product("functional_interval", checked_mass_matrix(mass_matrix, space, n), n)
    return scalar_interval(arr @ w, level, kind=kind, name=name)


def point_value_interval(draws: Draws, point: ArrayLike, level: float = 0.95, *,
                         space: Any = None,
                         kind: str = "equal_tailed", var_name: str = "theta") -> Interval:
    """Credible interval for the point value θ(x) of the FE field at ``point`` (``space``:
    θ's FE space; by default the one recorded in InferenceData ``draws``)."""
    arr = posterior_draws(draws, var_name)
    space = require_space(draws, space, arr.shape[-1], "point_value_interval")
    w = point_weights(np.atleast_2d(np.asarray(point, dtype=float)), space, arr.shape[-1])[0]
    label = "theta(" + ", ".join(f"{c:.3g}" for c in np.ravel(point)) + ")"
    return scalar_interval(arr @ w, level, kind=kind, name=label)
