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

References
----------
R. Nickl (2020), Bernstein–von Mises theorems for statistical inverse problems I: Schrödinger
equation, JEMS 22. F. Monard, R. Nickl & G. P. Paternain (2021), Consistent inversion of noisy
non-Abelian X-ray transforms, CPAM 74. R. Nickl (2023), *Bayesian non-linear statistical
inverse problems*, EMS Zurich Lectures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import float_in_interval, one_of, real_array
from ..arviz_io import hdi
from ..errors import InvalidArgumentError
from ..protocols import Draws
from ..space_record import resolve_space

INTERVAL_KINDS = ("equal_tailed", "hdi")


def check_level(level, name: str = "level") -> float:
    """A credible level 1 − α, required to lie strictly between 0 and 1."""
    return float_in_interval(name, level, 0.0, 1.0, closed_low=False, closed_high=False)


def posterior_draws(draws, var_name: str = "theta") -> np.ndarray:
    """Draws as a float array (chain, draw, *event*) from InferenceData, xarray or an array."""
    if hasattr(draws, "posterior"):  # InferenceData
        if var_name not in draws.posterior:
            raise InvalidArgumentError(
                f"the posterior group has no variable {var_name!r}; it has "
                f"{sorted(draws.posterior.data_vars)}")
        draws = draws.posterior[var_name]
    elif hasattr(draws, "data_vars"):  # xarray Dataset
        draws = draws[var_name]
    arr = real_array("draws", getattr(draws, "values", draws))
    if arr.ndim < 2 or arr.shape[0] * arr.shape[1] < 2:
        raise InvalidArgumentError(
            f"draws must have shape (chain, draw, ...) with at least 2 draws in all, "
            f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("draws contain NaN or inf (a diverged chain?)")
    return arr


def _pooled(draws, var_name: str, ndim: int) -> np.ndarray:
    """Pooled draws, shape (S,) for scalars (ndim=0) or (S, n) for vectors (ndim=1)."""
    arr = posterior_draws(draws, var_name)
    if arr.ndim != 2 + ndim:
        what = "a scalar (chain, draw)" if ndim == 0 else "a vector (chain, draw, n)"
        raise InvalidArgumentError(
            f"draws of {var_name!r} must be {what}, got shape {arr.shape}")
    return arr.reshape(-1, *arr.shape[2:])


def _check_value(value, shape: tuple, what: str) -> np.ndarray:
    """A value (or a batch ``(..., *shape)`` of values) to test for membership."""
    v = np.asarray(value, dtype=float)
    if v.ndim < len(shape) or v.shape[v.ndim - len(shape):] != shape:
        raise InvalidArgumentError(
            f"value must have shape {shape} (or (..., {', '.join(map(str, shape))})) to be "
            f"tested against this {what}, got shape {v.shape}")
    return v


def interval_bounds(draws: np.ndarray, levels, kind: str = "equal_tailed"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (lower, upper), each shaped (L, *event), of the credible intervals of each
    component of ``draws`` (chain, draw, *event) at each of the L ``levels`` 1 − α.

    Equal-tailed: the quantiles q_{α/2} and q_{1−α/2} of the pooled draws (one
    :func:`numpy.quantile` call for all levels); HDI: ArviZ's highest-density interval at each
    level. The one builder behind :func:`pointwise_intervals`, :func:`scalar_interval` (one
    level) and the scoring of coverage replicates (all levels at once).
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    if kind == "hdi":
        bounds = [hdi(draws, level) for level in levels]
        return (np.stack([np.asarray(lo) for lo, _ in bounds]),
                np.stack([np.asarray(hi) for _, hi in bounds]))
    alpha = 1.0 - levels
    pooled = draws.reshape(-1, *draws.shape[2:])
    q = np.quantile(pooled, np.concatenate([alpha / 2, 1.0 - alpha / 2]), axis=0)
    return q[: len(levels)], q[len(levels):]


def set_radii(statistics, levels) -> np.ndarray:
    """The radii R of the sets {θ : T(θ) ≤ R} holding a fraction 1 − α of the draws, at each
    of ``levels``: the empirical (1 − α)-quantiles of the per-draw statistics T(θ^{(s)})
    (the standardised sup norm of a band, the L² distance of a ball)."""
    return np.quantile(statistics, levels)


@dataclass(frozen=True)
class Interval:
    """A credible interval [lower, upper] for a scalar quantity (a functional of θ)."""

    lower: float
    upper: float
    level: float
    kind: str
    name: str = ""

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def contains(self, value: ArrayLike) -> bool | np.ndarray:
        """Whether ``value`` (a float, or an array of floats elementwise) lies in the interval."""
        v = np.asarray(value, dtype=float)
        inside = (v >= self.lower) & (v <= self.upper)
        return bool(inside) if inside.ndim == 0 else inside


@dataclass(frozen=True, eq=False)
class PointwiseIntervals:
    """Marginal credible intervals [lower_i, upper_i] for each node i of a field."""

    lower: np.ndarray
    upper: np.ndarray
    level: float
    kind: str

    def contains(self, value: ArrayLike) -> np.ndarray:
        """Boolean array: for each node, whether value_i lies in its interval."""
        v = _check_value(value, self.lower.shape, "set of pointwise intervals")
        return (v >= self.lower) & (v <= self.upper)

    def fraction_contained(self, value: ArrayLike) -> float | np.ndarray:
        """The fraction of nodes whose interval contains value_i (not a coverage probability:
        pointwise intervals make no simultaneous claim)."""
        return self.contains(value).mean(axis=-1)


@dataclass(frozen=True, eq=False)
class SimultaneousBand:
    """The band {θ : max_i |θ_i − m_i| / s_i ≤ R} over the nodes ``nodes`` of a field.

    ``lower``/``upper`` = m ∓ R s give its envelope (on all nodes).
    """

    center: np.ndarray
    scale: np.ndarray
    radius: float
    level: float
    nodes: np.ndarray
    tolerance: float

    @property
    def lower(self) -> np.ndarray:
        return self.center - self.radius * self.scale

    @property
    def upper(self) -> np.ndarray:
        return self.center + self.radius * self.scale

    def statistic(self, value: ArrayLike) -> float | np.ndarray:
        """max_i |value_i − m_i| / s_i over the band's nodes (inf if value_i ≠ m_i at a node
        with s_i = 0)."""
        v = _check_value(value, self.center.shape, "band")
        return sup_statistic(v[..., self.nodes], self.center[self.nodes],
                              self.scale[self.nodes], self.tolerance)

    def contains(self, value: ArrayLike) -> bool | np.ndarray:
        """Whether the whole field ``value`` lies in the band (an array for a batch)."""
        inside = self.statistic(value) <= self.radius
        return bool(inside) if np.ndim(inside) == 0 else inside


def sup_statistic(v, center, scale, tolerance):
    """max_i |v_i − c_i| / s_i over nodes with s_i > 0; inf where v_i ≠ c_i (beyond the
    tolerance) at a node with s_i = 0."""
    dev = np.abs(v - center)
    varying = scale > 0
    stat = np.max(dev[..., varying] / scale[varying], axis=-1, initial=0.0)
    if not varying.all():
        off = np.any(dev[..., ~varying] > tolerance, axis=-1)
        stat = np.where(off, np.inf, stat)
    return stat


@dataclass(frozen=True, eq=False)
class L2Ball:
    """The ball {θ : ‖θ − m‖_{L²} ≤ R}, ‖v‖²_{L²} = vᵀ M v."""

    center: np.ndarray
    radius: float
    level: float
    mass_matrix: object

    def distance(self, value: ArrayLike) -> float | np.ndarray:
        """‖value − m‖_{L²} (an array for a batch of values)."""
        v = _check_value(value, self.center.shape, "L² ball")
        return l2_norm(v - self.center, self.mass_matrix)

    def contains(self, value: ArrayLike) -> bool | np.ndarray:
        """Whether ``value`` lies in the ball (an array for a batch)."""
        inside = self.distance(value) <= self.radius
        return bool(inside) if np.ndim(inside) == 0 else inside


def l2_norm(values, mass_matrix=None):
    """‖v‖_{L²} = √(vᵀ M v) for v of shape (n,) or (..., n); M = I when None."""
    v = np.asarray(values, dtype=float)
    if mass_matrix is None:
        return np.sqrt(np.einsum("...i,...i->...", v, v))
    flat = v.reshape(-1, v.shape[-1])
    mv = (mass_matrix @ flat.T).T
    return np.sqrt(np.maximum(np.einsum("si,si->s", flat, mv), 0.0)).reshape(v.shape[:-1])


def require_space(draws, space, n: int, function: str):
    """``space``, or the FE space recorded in InferenceData ``draws``; an error naming
    ``function`` when there is neither."""
    found = resolve_space(draws, space, n)
    if found is None:
        raise InvalidArgumentError(
            f"{function} needs space= (θ's FE space): the draws record no FE space with {n} "
            f"dofs (only InferenceData from a sampler run on an FE forward map does)")
    return found


def _mass_matrix(mass_matrix, space, n: int):
    if mass_matrix is None and space is not None:
        mass_matrix = space.mass_matrix
    if mass_matrix is not None and mass_matrix.shape != (n, n):
        raise InvalidArgumentError(
            f"mass_matrix must have shape ({n}, {n}) to match θ's {n} nodes, got "
            f"{mass_matrix.shape} (is it on a different mesh?)")
    return mass_matrix


def _require_l2_product(function: str, mass_matrix, n: int) -> None:
    """Refuse a call that promises an L² product without the mass matrix that defines it."""
    if mass_matrix is None:
        raise InvalidArgumentError(
            f"{function} needs space= (an FE space), mass_matrix= (an ({n}, {n}) matrix M) "
            f"or draws whose InferenceData records θ's FE space (a sampler run on an FE "
            f"forward map) "
            f"for the L² product <u, v> = uᵀ M v; pass mass_matrix=scipy.sparse.identity({n}) "
            f"for the Euclidean product of the coefficient vectors")


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


def band_statistics(pooled: np.ndarray, nodes=None):
    """(m, s, tolerance, T) for pooled draws (S, n): the pointwise mean and sd (s_i set to 0
    where the draws do not vary), and T_s = max_{i ∈ nodes} |θ_i^{(s)} − m_i| / s_i."""
    nodes = slice(None) if nodes is None else nodes
    center = pooled.mean(axis=0)
    scale = pooled.std(axis=0, ddof=1)
    scale = np.where(scale > 1e-12 * max(float(np.max(scale)), 1e-300), scale, 0.0)
    tolerance = 1e-9 * (1.0 + np.abs(center).max())
    stats = sup_statistic(pooled[:, nodes], center[nodes], scale[nodes], tolerance)
    return center, scale, tolerance, stats


def _node_indices(nodes, n: int) -> np.ndarray:
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
    M = _mass_matrix(mass_matrix, space, pooled.shape[1])
    _require_l2_product("l2_ball", M, pooled.shape[1])
    center, distances = ball_statistics(pooled, M)
    return L2Ball(center, float(set_radii(distances, level)), level, M)


def ball_statistics(pooled: np.ndarray, mass_matrix=None):
    """(m, D) for pooled draws (S, n): the mean and each draw's L² distance
    D_s = ‖θ^{(s)} − m‖_{L²} from it."""
    center = pooled.mean(axis=0)
    return center, l2_norm(pooled - center, mass_matrix)


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


def functional_weights(psi, n: int, *, space=None, mass_matrix=None) -> np.ndarray:
    """w with ⟨θ, ψ⟩_{L²} = wᵀθ: w = M ψ_h (mass-matrix quadrature of the FE functions).

    ``psi`` is a callable ψ(x) (x of shape (dim, n), interpolated at the nodes of ``space``)
    or nodal values of length n. Without a mass matrix (no FE space), M = I.
    """
    M = _mass_matrix(mass_matrix, space, n)
    if callable(psi):
        if space is None:
            raise InvalidArgumentError("a callable psi needs space= to be interpolated on")
        psi_h = space.interpolate(psi)
    else:
        psi_h = real_array("psi", psi)
        if psi_h.ndim != 1 or psi_h.shape[0] != n:
            raise InvalidArgumentError(
                f"psi must be a callable or nodal values of length {n} (the number of nodes "
                f"of θ), got shape {psi_h.shape} — is it on a different mesh?")
        if not np.isfinite(psi_h).all():
            raise InvalidArgumentError("psi has non-finite nodal values")
    weights = psi_h if M is None else M @ psi_h
    return np.asarray(weights, dtype=float).ravel()


def point_weights(points, space, num_nodes: int | None = None) -> np.ndarray:
    """Rows w_j with θ(x_j) = w_jᵀθ (FE evaluation at the points), shape (npoints, n);
    ``num_nodes``: the length of θ, checked against the space."""
    E = space.evaluation_matrix(points)
    E = E.toarray() if sp.issparse(E) else np.asarray(E)
    if num_nodes is not None and E.shape[1] != num_nodes:
        raise InvalidArgumentError(
            f"space has {E.shape[1]} nodes but θ has {num_nodes} (a different mesh?)")
    return E


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
    _require_l2_product("functional_interval", _mass_matrix(mass_matrix, space, arr.shape[-1]),
                        arr.shape[-1])
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
