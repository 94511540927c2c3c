r"""The credible-set types and the statistics of draws that define them.

Each set has a ``contains(value)`` (a value, or a batch ``(..., *shape)`` of values):

* :class:`Interval`: [lower, upper] for a scalar (a functional of θ);
* :class:`PointwiseIntervals`: [lower_i, upper_i] for each node i of a field;
* :class:`SimultaneousBand`: {θ : max_i |θ_i − m_i| / s_i ≤ R} (:func:`sup_statistic`);
* :class:`L2Ball`: {θ : ‖θ − m‖_{L²} ≤ R}, ‖v‖²_{L²} = vᵀ M v (:func:`l2_norm`).

The builders of their bounds and radii from pooled draws (:func:`interval_bounds`,
:func:`set_radii`, :func:`band_statistics`, :func:`ball_statistics`) are shared by the
constructors of :mod:`bayesinv.diagnostics.credible` and the scoring of coverage replicates
(:mod:`bayesinv.coverage`), which evaluates all levels at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..arviz_io import hdi
from ..errors import InvalidArgumentError


def check_value(value: ArrayLike, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A value (or a batch ``(..., *shape)`` of values) to test for membership in a set
    described by ``what`` (for the error message)."""
    v = np.asarray(value, dtype=float)
    if v.ndim < len(shape) or v.shape[v.ndim - len(shape):] != shape:
        raise InvalidArgumentError(
            f"value must have shape {shape} (or (..., {', '.join(map(str, shape))})) to be "
            f"tested against this {what}, got shape {v.shape}")
    return v


def interval_bounds(draws: np.ndarray, levels: ArrayLike, kind: str = "equal_tailed"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (lower, upper), each shaped (L, *event), of the credible intervals of each
    component of ``draws`` (chain, draw, *event) at each of the L ``levels`` 1 − α.

    Equal-tailed: the quantiles q_{α/2} and q_{1−α/2} of the pooled draws (one
    :func:`numpy.quantile` call for all levels); HDI: ArviZ's highest-density interval at each
    level. The one builder behind :func:`~bayesinv.diagnostics.credible.pointwise_intervals`,
    :func:`~bayesinv.diagnostics.credible.scalar_interval` (one level) and the scoring of
    coverage replicates (all levels at once).
    """
    probs = np.atleast_1d(np.asarray(levels, dtype=float))
    if kind == "hdi":
        bounds = [hdi(draws, float(level)) for level in probs]
        return (np.stack([np.asarray(lo) for lo, _ in bounds]),
                np.stack([np.asarray(hi) for _, hi in bounds]))
    alpha = 1.0 - probs
    pooled = draws.reshape(-1, *draws.shape[2:])
    q = np.quantile(pooled, np.concatenate([alpha / 2, 1.0 - alpha / 2]), axis=0)
    return q[: len(probs)], q[len(probs):]


def set_radii(statistics: ArrayLike, levels: ArrayLike) -> np.ndarray:
    """The radii R of the sets {θ : T(θ) ≤ R} holding a fraction 1 − α of the draws, at each
    of ``levels``: the empirical (1 − α)-quantiles of the per-draw statistics T(θ^{(s)})
    (the standardised sup norm of a band, the L² distance of a ball)."""
    return np.asarray(np.quantile(np.asarray(statistics, dtype=float),
                                  np.asarray(levels, dtype=float)))


def sup_statistic(v: np.ndarray, center: np.ndarray, scale: np.ndarray,
                  tolerance: float) -> float | np.ndarray:
    """max_i |v_i − c_i| / s_i over nodes with s_i > 0; inf where v_i ≠ c_i (beyond the
    tolerance) at a node with s_i = 0."""
    dev = np.abs(v - center)
    varying = scale > 0
    stat = np.max(dev[..., varying] / scale[varying], axis=-1, initial=0.0)
    if not varying.all():
        off = np.any(dev[..., ~varying] > tolerance, axis=-1)
        stat = np.where(off, np.inf, stat)
    return stat


def l2_norm(values: ArrayLike, mass_matrix: Any = None) -> np.ndarray:
    """‖v‖_{L²} = √(vᵀ M v) for v of shape (n,) or (..., n); M = I when None."""
    v = np.asarray(values, dtype=float)
    if mass_matrix is None:
        return np.sqrt(np.einsum("...i,...i->...", v, v))
    flat = v.reshape(-1, v.shape[-1])
    mv = (mass_matrix @ flat.T).T
    return np.sqrt(np.maximum(np.einsum("si,si->s", flat, mv), 0.0)).reshape(v.shape[:-1])


def band_statistics(pooled: np.ndarray, nodes: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(m, s, tolerance, T) for pooled draws (S, n): the pointwise mean and sd (s_i set to 0
    where the draws do not vary), and T_s = max_{i ∈ nodes} |θ_i^{(s)} − m_i| / s_i."""
    index: slice | np.ndarray = slice(None) if nodes is None else nodes
    center = pooled.mean(axis=0)
    scale = pooled.std(axis=0, ddof=1)
    scale = np.where(scale > 1e-12 * max(float(np.max(scale)), 1e-300), scale, 0.0)
    tolerance = 1e-9 * (1.0 + float(np.abs(center).max()))
    stats = sup_statistic(pooled[:, index], center[index], scale[index], tolerance)
    return center, scale, tolerance, np.asarray(stats)


def ball_statistics(pooled: np.ndarray, mass_matrix: Any = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(m, D) for pooled draws (S, n): the mean and each draw's L² distance
    D_s = ‖θ^{(s)} − m‖_{L²} from it."""
    center = pooled.mean(axis=0)
    return center, l2_norm(pooled - center, mass_matrix)


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
        v = check_value(value, self.lower.shape, "set of pointwise intervals")
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
        v = check_value(value, self.center.shape, "band")
        return sup_statistic(v[..., self.nodes], self.center[self.nodes],
                             self.scale[self.nodes], self.tolerance)

    def contains(self, value: ArrayLike) -> bool | np.ndarray:
        """Whether the whole field ``value`` lies in the band (an array for a batch)."""
        inside = self.statistic(value) <= self.radius
        return bool(inside) if np.ndim(inside) == 0 else inside


@dataclass(frozen=True, eq=False)
class L2Ball:
    """The ball {θ : ‖θ − m‖_{L²} ≤ R}, ‖v‖²_{L²} = vᵀ M v."""

    center: np.ndarray
    radius: float
    level: float
    mass_matrix: object

    def distance(self, value: ArrayLike) -> float | np.ndarray:
        """‖value − m‖_{L²} (an array for a batch of values)."""
        v = check_value(value, self.center.shape, "L² ball")
        return l2_norm(v - self.center, self.mass_matrix)

    def contains(self, value: ArrayLike) -> bool | np.ndarray:
        """Whether ``value`` lies in the ball (an array for a batch)."""
        inside = self.distance(value) <= self.radius
        return bool(inside) if np.ndim(inside) == 0 else inside
