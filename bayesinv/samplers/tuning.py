r"""Curvature information for step sizes and preconditioners.

In whitened coordinates the Gauss–Newton Hessian of −log π(ξ | Y) is

    H(ξ) = I + Bᵀ B / σ²,     B = J(θ) J_T(ξ),  θ = T(ξ),

where J is the forward map's Jacobian. ULA is stable on the Gaussian approximation when
δ < 2/λ_max(H); its inverse H⁻¹ is the covariance of the Laplace approximation, the natural
constant preconditioner. Both need only J v and Jᵀ w, each one solve reusing the forward
factorisation.
"""

from __future__ import annotations

import numpy as np

from .._validation import integer_at_least
from ..errors import InvalidArgumentError
from ..posterior import Posterior


class _WhitenedLinearization:
    """v ↦ B v and w ↦ Bᵀ w at ξ, with B = J(T(ξ)) J_T(ξ); one forward solve to set up."""

    def __init__(self, posterior: Posterior, xi):
        prior, like = posterior.prior, posterior.likelihood
        if not like.forward.has_jvp:
            raise InvalidArgumentError(
                "Gauss–Newton curvature needs a forward map with a tangent-linear map "
                f"(linearize); {type(like.forward).__name__} has none")
        self.xi = prior.check_latent(xi)
        self.prior = prior
        _, self._jvp, self._pullback = like.forward.linearize(prior.to_physical(self.xi))
        self.sigma2 = like.noise_std**2

    def matvec(self, v):
        return self._jvp(self.prior.to_physical_jvp(self.xi, v))

    def rmatvec(self, w):
        return self.prior.to_physical_vjp(self.xi, self._pullback(w))


def gauss_newton_max_eigenvalue(posterior: Posterior, xi, *, iterations: int = 20,
                                seed=0, sqrt_precond=None) -> float:
    """λ_max of the Gauss–Newton Hessian at ξ, by power iteration (2 solves per iteration).

    With ``sqrt_precond`` R (a constant preconditioner C = R Rᵀ) it is λ_max(Rᵀ H R), the
    curvature ULA sees in the coordinates ζ = R⁻¹ξ. The Rayleigh quotient of the last iterate
    is returned: a lower bound that converges to λ_max (a few iterations give its order of
    magnitude, which is what a step-size rule needs).
    """
    iterations = integer_at_least("iterations", iterations, 1)
    B = _WhitenedLinearization(posterior, xi)
    R = None if sqrt_precond is None else np.asarray(sqrt_precond, dtype=float)
    v = np.random.default_rng(seed).standard_normal(B.xi.shape)
    lam = 0.0
    for _ in range(iterations):
        v /= np.linalg.norm(v)
        u = v if R is None else R @ v
        hu = u + B.rmatvec(B.matvec(u)) / B.sigma2
        hv = hu if R is None else R.T @ hu
        lam = float(v @ hv)
        v = hv
    return lam


def gauss_newton_hessian(posterior: Posterior, xi) -> np.ndarray:
    """The dense Gauss–Newton Hessian H(ξ) = I + BᵀB/σ² (k tangent solves, k = latent dim)."""
    B = _WhitenedLinearization(posterior, xi)
    k = B.xi.shape[0]
    columns = np.column_stack([B.matvec(e) for e in np.eye(k)])
    return np.eye(k) + columns.T @ columns / B.sigma2


def sqrt_inverse(H: np.ndarray) -> np.ndarray:
    """R with R Rᵀ = H⁻¹ (R = L⁻ᵀ for the Cholesky factor H = L Lᵀ)."""
    chol = np.linalg.cholesky(H)
    return np.linalg.solve(chol.T, np.eye(H.shape[0]))
