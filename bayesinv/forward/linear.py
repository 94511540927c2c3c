"""Linear forward maps G(θ) = A θ (+ b): reference problems, linearised PDEs, surrogates."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from ..protocols import Curvature, Pullback, Pushforward
from .base import ForwardMap


class LinearForwardMap(ForwardMap):
    """G(θ) = A θ + b with a dense or sparse matrix A of shape (N, p).

    Each evaluation counts as one "forward solve" and each pullback as one "adjoint solve",
    so solve counts are comparable with PDE maps.
    """

    def __init__(self, matrix: ArrayLike, offset: ArrayLike | None = None) -> None:
        super().__init__()
        # a scipy.sparse matrix is kept sparse
        A: Any = matrix if hasattr(matrix, "tocsr") else np.asarray(matrix, dtype=float)
        if A.ndim != 2:
            raise InvalidArgumentError(f"matrix must be 2-d, got shape {A.shape}")
        self.matrix = A
        self.output_dim, self.input_dim = A.shape
        self.offset = np.zeros(self.output_dim) if offset is None else np.asarray(offset, float)
        if self.offset.shape != (self.output_dim,):
            raise InvalidArgumentError(
                f"offset must have shape ({self.output_dim},), got {self.offset.shape}")

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        theta = self._check_theta(theta)
        self.counts.forward += 1

        def jvp(v: ArrayLike) -> np.ndarray:
            self.counts.tangent += 1
            return self.matrix @ self._check_tangent(v)

        def pullback(w: ArrayLike) -> np.ndarray:
            self.counts.adjoint += 1
            return self.matrix.T @ self._check_output(w)

        return self.matrix @ theta + self.offset, jvp, pullback

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        """As :meth:`linearize`, with the zero second derivative (:func:`affine_second_order`)."""
        return affine_second_order(self, theta)


def affine_second_order(fmap: ForwardMap, theta: ArrayLike
                        ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
    """``linearize_second_order`` of an affine map: ∇²G_i = 0, so ``curvature(w, c)`` is
    v ↦ c Jᵀ J v (one tangent and one adjoint action; nothing when c = 0)."""
    y, jvp, pullback = fmap.linearize(theta)

    def curvature(w: ArrayLike, gn_scale: float = 0.0) -> Pushforward:
        fmap._check_output(w)
        c = float(gn_scale)

        def apply(v: ArrayLike) -> np.ndarray:
            v = fmap._check_tangent(v)
            return c * pullback(jvp(v)) if c else np.zeros(fmap.input_dim)

        return apply

    return y, jvp, pullback, curvature
