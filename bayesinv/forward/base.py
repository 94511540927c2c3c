"""The forward-map contract.

A forward map is G: R^p → R^N, θ ↦ G(θ), the noiseless observations of the PDE solution for
parameter θ (nodal values of a field, or coefficients). Samplers and likelihoods use it through

* ``G(theta)`` — one forward solve;
* ``G.value_and_pullback(theta)`` — ``(G(θ), pullback)`` with ``pullback(w) = J(θ)ᵀ w``; the
  pullback costs one adjoint solve and reuses the forward factorisation;
* ``G.linearize(theta)`` — ``(G(θ), jvp, pullback)`` sharing one factorisation, where a
  tangent-linear map is available; ``G.jvp(theta, v)`` is the one-off J(θ) v;
* ``G.linearize_second_order(theta)`` — ``(G(θ), jvp, pullback, curvature)`` where the map
  has second derivatives: ``curvature(w, gn_scale=0)`` returns the action
  v ↦ Σ_i w_i ∇²G_i(θ) v + gn_scale · Jᵀ J v (one adjoint solve for w, then one incremental
  forward and one incremental adjoint solve per action, all with the same factorisation);
* ``G.counts`` — numbers of forward, adjoint and tangent solves so far.

Failed solves raise :class:`~bayesinv.errors.ForwardSolveError`; bad arguments (wrong length)
raise :class:`~bayesinv.errors.InvalidArgumentError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._validation import real_array
from ..errors import ForwardSolveError, InvalidArgumentError
from ..protocols import Curvature, Pullback, Pushforward


@dataclass
class SolveCounts:
    """How many PDE solves a forward map has performed."""

    forward: int = 0
    adjoint: int = 0
    tangent: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"forward": self.forward, "adjoint": self.adjoint, "tangent": self.tangent}

    def reset(self) -> None:
        self.forward = self.adjoint = self.tangent = 0


class ForwardMap:
    """Base class of forward maps. Subclasses implement :meth:`linearize` (which gives
    :meth:`value_and_pullback`, :meth:`jvp` and calls), or only :meth:`value_and_pullback`
    when they have no tangent-linear map. Instances satisfy
    :class:`~bayesinv.protocols.ForwardMapProtocol`."""

    #: length of θ
    input_dim: int
    #: number of observations N
    output_dim: int

    def __init__(self) -> None:
        self._counts = SolveCounts()

    @property
    def counts(self) -> SolveCounts:
        """Numbers of forward, adjoint and tangent solves so far."""
        return self._counts

    def _check_theta(self, theta: ArrayLike) -> np.ndarray:
        theta = real_array("theta", theta)
        if theta.shape != (self.input_dim,):
            raise InvalidArgumentError(
                f"theta must have shape ({self.input_dim},) for this forward map, "
                f"got {theta.shape}")
        if not np.isfinite(theta).all():
            raise ForwardSolveError("non-finite parameter θ")
        return theta

    def _check_tangent(self, v: ArrayLike) -> np.ndarray:
        v = real_array("v", v)
        if v.shape != (self.input_dim,):
            raise InvalidArgumentError(
                f"v must have shape ({self.input_dim},) (a direction in θ), got {v.shape}")
        return v

    def _check_output(self, w: ArrayLike) -> np.ndarray:
        w = real_array("w", w)
        if w.shape != (self.output_dim,):
            raise InvalidArgumentError(
                f"w must have shape ({self.output_dim},) (one entry per observation), "
                f"got {w.shape}")
        return w

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        """G(θ): one forward solve."""
        y, _ = self.value_and_pullback(theta)
        return y

    def value_and_pullback(self, theta: ArrayLike) -> tuple[np.ndarray, Pullback]:
        """G(θ) and the pullback w ↦ J(θ)ᵀ w (one adjoint solve per call)."""
        if not self.has_jvp:
            raise TypeError(
                f"{type(self).__name__} must implement value_and_pullback or linearize")
        y, _, pullback = self.linearize(theta)
        return y, pullback

    @property
    def has_jvp(self) -> bool:
        """Whether :meth:`linearize` (and so :meth:`jvp`) is available."""
        return type(self).linearize is not ForwardMap.linearize

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """G(θ), v ↦ J(θ) v and w ↦ J(θ)ᵀ w, sharing one forward factorisation."""
        raise TypeError(f"{type(self).__name__} has no tangent-linear map")

    @property
    def has_second_order(self) -> bool:
        """Whether :meth:`linearize_second_order` (full Hessians) is available."""
        return type(self).linearize_second_order is not ForwardMap.linearize_second_order

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        r"""G(θ), jvp, pullback and ``curvature``, sharing one forward factorisation.

        ``curvature(w, gn_scale=0.0)`` returns the operator

        .. math:: v \mapsto \Big(\sum_i w_i ∇^2 G_i(θ)\Big) v + c\, J(θ)^T J(θ) v,
                  \qquad c = \text{gn\_scale},

        the θ-derivative of v ↦ (J(θ)ᵀ w(θ))·v with w(θ) = w + c (G(θ) − G(θ₀)): the
        second-order adjoint recipe (incremental forward, incremental adjoint; Petra & Stadler
        2011; Villa, Petra & Ghattas 2021), in which the Gauss–Newton part costs nothing extra.
        """
        raise TypeError(
            f"{type(self).__name__} provides no second derivatives (linearize_second_order); "
            f"use hessian=\"gauss-newton\"")

    def jvp(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J(θ) v, the tangent-linear (directional derivative) action."""
        _, jvp, _ = self.linearize(theta)
        return jvp(v)
