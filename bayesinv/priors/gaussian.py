"""Gaussian priors given by a (dense) factor: θ = m + L ξ, ξ ~ N(0, I_k), covariance C = L Lᵀ."""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from .._validation import finite_vector, mean_vector
from ..errors import InvalidArgumentError
from .base import WhitenedPrior


class GaussianPrior(WhitenedPrior):
    r"""N(m, L Lᵀ) in whitened form θ = m + L ξ.

    When k < dim the prior is degenerate: it lives on the affine subspace m + range(L), and
    :meth:`logpdf` is the density with respect to Lebesgue measure on that subspace,

    .. math:: \log p(θ) = −\tfrac12 |ξ(θ)|^2 − \tfrac k2 \log 2π
              − \tfrac12 \log \operatorname{pdet}(LL^T),

    with ξ(θ) = L⁺(θ − m) (−inf off the subspace), as ``scipy.stats.multivariate_normal`` with
    ``allow_singular=True``.

    Parameters
    ----------
    factor : array_like, shape (dim, k)
        L, of full column rank.
    mean : float or array_like, shape (dim,)
    """

    is_linear = True

    def __init__(self, factor: ArrayLike, mean: ArrayLike = 0.0) -> None:
        L = np.asarray(factor, dtype=float)
        if L.ndim != 2 or not np.isfinite(L).all():
            raise InvalidArgumentError(f"factor must be a finite 2-d array, got shape {L.shape}")
        self.factor = L
        self.dim, self.latent_dim = L.shape
        self.mean = mean_vector("mean", mean, self.dim)

    @classmethod
    def from_covariance(cls, covariance: ArrayLike, mean: ArrayLike = 0.0,
                        jitter: float = 0.0) -> GaussianPrior:
        """N(m, C) with L the Cholesky factor of C (+ jitter·I)."""
        C = np.asarray(covariance, dtype=float)
        if C.ndim != 2 or C.shape[0] != C.shape[1]:
            raise InvalidArgumentError(f"covariance must be square, got shape {C.shape}")
        try:
            L = np.linalg.cholesky(C + jitter * np.eye(C.shape[0]))
        except np.linalg.LinAlgError as exc:
            raise InvalidArgumentError(
                f"covariance is not positive definite (jitter={jitter}); add jitter or use an "
                f"eigen factor") from exc
        return cls(L, mean)

    @cached_property
    def covariance(self) -> np.ndarray:
        """C = L Lᵀ (dense; for small problems and tests)."""
        return self.factor @ self.factor.T

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        return self.mean + self.check_latent(xi) @ self.factor.T

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        return self.factor.T @ np.asarray(v, dtype=float)

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        return self.factor @ np.asarray(v, dtype=float)

    # -- density in θ coordinates --------------------------------------------------------------

    @cached_property
    def _svd(self):
        U, s, Vt = np.linalg.svd(self.factor, full_matrices=False)
        if s.min() <= s.max() * 1e-12:
            raise InvalidArgumentError("factor is rank deficient; drop the null directions")
        return U, s, Vt

    def latent_coordinates(self, theta: ArrayLike) -> np.ndarray:
        """ξ = L⁺(θ − m), the whitened coordinates of θ (exact when θ is in the support)."""
        U, s, Vt = self._svd
        return ((np.asarray(theta, float) - self.mean) @ U / s) @ Vt

    def _off_support(self, theta, xi) -> bool:
        resid = np.asarray(theta, float) - self.to_physical(xi)
        scale = np.abs(np.asarray(theta, float) - self.mean).max() + 1.0
        return bool(np.abs(resid).max() > 1e-8 * scale)

    def logpdf(self, theta: ArrayLike) -> float:
        """log density of θ (w.r.t. Lebesgue measure on the support; −inf off it)."""
        theta = finite_vector("theta", theta, self.dim)
        xi = self.latent_coordinates(theta)
        if self.latent_dim < self.dim and self._off_support(theta, xi):
            return -np.inf
        log_pdet = 2.0 * np.log(self._svd[1]).sum()
        return self.logpdf_latent(xi) - 0.5 * log_pdet

    def grad_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """∇ log p(θ) = −C⁺(θ − m) (the gradient within the support)."""
        theta = finite_vector("theta", theta, self.dim)
        U, s, Vt = self._svd
        return -(U / s) @ (Vt @ self.latent_coordinates(theta))
