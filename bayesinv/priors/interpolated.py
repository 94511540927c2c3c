r"""A prior on a parameter mesh seen on a (finer) state mesh: θ = P θ_c, θ_c = T_c(ξ).

P is the sparse interpolation matrix of the parameter space at the state-space nodes
(:func:`bayesinv.fem.transfer.interpolation_matrix`), so

    T(ξ) = P T_c(ξ),     J_T(ξ) v = P J_{T_c}(ξ) v,     J_T(ξ)ᵀ w = J_{T_c}(ξ)ᵀ Pᵀ w.

The samplers see the latent dimension of the coarse prior, and a dense kernel factor stays the
size of the coarse mesh while the forward map runs on the fine one.

The law of θ is concentrated on range(P) (dimension k = coarse dim < fine dim). Its density
with respect to Lebesgue measure on the affine support is, for θ = Pη,

.. math:: p(θ) = p_c(η) / \sqrt{\det(P^T P)},   η = (P^TP)^{−1} P^T θ,

(−∞ off the support) — the convention of :class:`~bayesinv.priors.gaussian.GaussianPrior` for
degenerate Gaussians — and its gradient within the support is P(PᵀP)^{−1} ∇p_c(η). This
needs P to have full column rank (every coarse node influences some fine node).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import finite_vector
from ..errors import InvalidArgumentError
from ..linalg import SparseCholesky
from .base import WhitenedPrior


class InterpolatedPrior(WhitenedPrior):
    """θ = P T_c(ξ) for a prior ``prior`` (on a parameter mesh) and an interpolation matrix P.

    Parameters
    ----------
    prior : WhitenedPrior
        The prior on the parameter mesh (dimension k).
    interpolation : sparse matrix, shape (dim, k)
        P, e.g. ``interpolation_matrix(parameter_space, state_space.coordinates)``.
    """

    def __init__(self, prior: WhitenedPrior, interpolation: ArrayLike) -> None:
        if not isinstance(prior, WhitenedPrior):
            raise InvalidArgumentError(
                f"prior must be a WhitenedPrior, got {type(prior).__name__}")
        P = sp.csr_matrix(interpolation, dtype=float)
        if P.shape[1] != prior.dim:
            raise InvalidArgumentError(
                f"interpolation must have {prior.dim} columns (the prior's dimension), "
                f"got shape {P.shape}")
        self.base = prior
        self.interpolation = P
        self._Pt = P.T.tocsr()
        self.dim = P.shape[0]
        self.latent_dim = prior.latent_dim
        self.is_linear = prior.is_linear
        base_mean = getattr(prior, "mean", None)
        self.mean = None if base_mean is None else P @ base_mean

    @classmethod
    def between(cls, prior: WhitenedPrior, parameter_space: Any, state_space: Any, *,
                outside: str = "project") -> InterpolatedPrior:
        """Interpolate a prior on ``parameter_space`` to the nodes of ``state_space``."""
        from ..fem.transfer import interpolation_matrix

        if prior.dim != parameter_space.num_dofs:
            raise InvalidArgumentError(
                f"prior dimension {prior.dim} does not match the parameter space "
                f"({parameter_space.num_dofs} dofs)")
        P = interpolation_matrix(parameter_space, state_space.coordinates, outside=outside)
        return cls(prior, P)

    def _map(self, x):
        x = np.asarray(x, dtype=float)
        return (self.interpolation @ x.reshape(-1, x.shape[-1]).T).T.reshape(
            *x.shape[:-1], self.dim)

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        return self._map(self.base.to_physical(xi))

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        return self._map(self.base.to_physical_jvp(xi, v))

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        v = finite_vector("v", v, self.dim)
        return self.base.to_physical_vjp(xi, self._Pt @ v)

    # -- density on the support ----------------------------------------------------------------

    @cached_property
    def _gram(self) -> SparseCholesky:
        try:
            return SparseCholesky(self._Pt @ self.interpolation, name="PᵀP")
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(
                "the interpolation matrix does not have full column rank (some parameter "
                "node influences no state node), so θ has no density on range(P)") from exc

    def coarse_coordinates(self, theta: ArrayLike) -> np.ndarray:
        """η = (PᵀP)⁻¹Pᵀθ, the parameter-mesh values of θ (exact on range(P))."""
        theta = finite_vector("theta", theta, self.dim)
        return self._gram.solve(self._Pt @ theta)

    def logpdf(self, theta: ArrayLike) -> float:
        """log p_c(η) − ½ log det(PᵀP) on range(P), −inf off it."""
        theta = finite_vector("theta", theta, self.dim)
        eta = self.coarse_coordinates(theta)
        resid = theta - self.interpolation @ eta
        if np.abs(resid).max() > 1e-8 * (np.abs(theta).max() + 1.0):
            return -np.inf
        return self.base.logpdf(eta) - 0.5 * self._gram.logdet()

    def grad_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """P (PᵀP)⁻¹ ∇p_c(η) (the gradient within the support)."""
        eta = self.coarse_coordinates(theta)
        return self.interpolation @ self._gram.solve(self.base.grad_logpdf(eta))
