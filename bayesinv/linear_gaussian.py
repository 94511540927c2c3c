r"""A linear–Gaussian reference problem with its exact posterior: the ``linear_gaussian``
problem of configs, and the exact answer that tests check samplers against
(re-exported as :mod:`bayesinv.testing.linear_gaussian`).

Model: y = A θ + ε, ε ~ N(0, σ² I), prior θ = m₀ + L ξ, ξ ~ N(0, I). In whitened coordinates
the posterior is Gaussian with

    P = I + Bᵀ B / σ²  (B = A L),     Σ_ξ = P⁻¹,     μ_ξ = Σ_ξ Bᵀ (y − A m₀) / σ²,

and θ | y ~ N(m₀ + L μ_ξ, L Σ_ξ Lᵀ). With fewer observations than parameters some directions
are prior-dominated (where pCN and Langevin samplers behave differently).

ULA with step δ on this target is the AR(1) chain ξ' = (I − δP) ξ + δ P μ + √(2δ) η; its
stationary law is N(μ_ξ, S) with S = A_δ S A_δᵀ + 2δ I, A_δ = I − δP — *not* the posterior
(Durmus & Moulines 2017); S − Σ = O(δ). The prior-preconditioned Crank–Nicolson ULA
(:mod:`bayesinv.samplers.kernels.pula`) is the AR(1) chain ξ' = (aI − bQ) ξ + b h + c η
(Q = P − I, h = Bᵀ(y − A m₀)/σ²), with exact stationary mean μ_ξ and covariance
S = A S Aᵀ + c² I, A = aI − bQ (:meth:`LinearGaussianProblem.pula_stationary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from ._validation import integer_at_least, positive_float
from .errors import InvalidArgumentError
from .forward.linear import LinearForwardMap
from .likelihood import GaussianLikelihood
from .posterior import Posterior
from .priors.gaussian import GaussianPrior
from .protocols import Seed


@dataclass
class LinearGaussianProblem:
    """A linear–Gaussian inverse problem with exact answers (see module docstring)."""

    prior: GaussianPrior
    forward: LinearForwardMap
    data: np.ndarray
    noise_std: float
    truth: np.ndarray

    @cached_property
    def likelihood(self) -> GaussianLikelihood:
        return GaussianLikelihood(self.forward, self.data, self.noise_std)

    @cached_property
    def posterior(self) -> Posterior:
        return Posterior(self.prior, self.likelihood)

    @cached_property
    def _whitened_operator(self) -> np.ndarray:
        return self.forward.matrix @ self.prior.factor

    @cached_property
    def precision_latent(self) -> np.ndarray:
        """P = I + Bᵀ B / σ², the posterior precision of ξ."""
        B = self._whitened_operator
        return np.eye(B.shape[1]) + B.T @ B / self.noise_std**2

    @cached_property
    def cov_latent(self) -> np.ndarray:
        return np.linalg.inv(self.precision_latent)

    @cached_property
    def mean_latent(self) -> np.ndarray:
        B = self._whitened_operator
        resid = self.data - self.forward.matrix @ self.prior.mean - self.forward.offset
        return self.cov_latent @ (B.T @ resid) / self.noise_std**2

    @cached_property
    def mean(self) -> np.ndarray:
        """Exact posterior mean of θ."""
        return self.prior.to_physical(self.mean_latent)

    @cached_property
    def cov(self) -> np.ndarray:
        """Exact posterior covariance of θ."""
        L = self.prior.factor
        return L @ self.cov_latent @ L.T

    def ula_stationary(self, step_size: float, preconditioner: ArrayLike | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of ULA's stationary law in whitened coordinates at step δ.

        With a constant preconditioner C the chain is ξ' = (I − δCP)ξ + δCPμ + √(2δ) C^½ η
        and S solves S = A S Aᵀ + 2δ C, A = I − δ C P. Requires the spectral radius of A
        below 1 (δ < 2/λ_max(CP)); otherwise the chain is transient.
        """
        step_size = positive_float("step_size", step_size)
        P = self.precision_latent
        C = np.eye(P.shape[0]) if preconditioner is None else np.asarray(preconditioner, float)
        A = np.eye(P.shape[0]) - step_size * C @ P
        radius = np.abs(np.linalg.eigvals(A)).max()
        if radius >= 1.0:
            raise InvalidArgumentError(
                f"step_size={step_size} is too large: ULA is unstable (spectral radius of "
                f"I − δCP is {radius:.3g} >= 1)")
        S = scipy.linalg.solve_discrete_lyapunov(A, 2.0 * step_size * C)
        return self.mean_latent.copy(), S

    def pula_stationary(self, step_size: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the prior-preconditioned (Crank–Nicolson) ULA's stationary law.

        With (a, b, c) = ((2−δ)/(2+δ), 2δ/(2+δ), √(8δ)/(2+δ)) and Q = P − I the chain is
        ξ' = (aI − bQ)ξ + b h + c η; since 1 − a = b its stationary mean is exactly μ_ξ, and
        S = A S Aᵀ + c² I with A = aI − bQ. Stable iff δ < 2/λ_max(Q).
        """
        step_size = positive_float("step_size", step_size)
        P = self.precision_latent
        k = P.shape[0]
        a = (2.0 - step_size) / (2.0 + step_size)
        b = 2.0 * step_size / (2.0 + step_size)
        c2 = 8.0 * step_size / (2.0 + step_size) ** 2
        A = a * np.eye(k) - b * (P - np.eye(k))
        radius = np.abs(np.linalg.eigvalsh(A)).max()
        if radius >= 1.0:
            raise InvalidArgumentError(
                f"step_size={step_size} is too large: pULA is unstable (spectral radius "
                f"{radius:.3g} >= 1; needs δ < 2/λ_max(P − I))")
        return self.mean_latent.copy(), scipy.linalg.solve_discrete_lyapunov(A, c2 * np.eye(k))


def linear_gaussian(dim: int = 20, num_observations: int = 10, noise_std: float = 0.1,
                    seed: Seed = 0, prior_decay: float = 1.0) -> LinearGaussianProblem:
    """A random linear–Gaussian problem with a diagonal prior, sd_j = j^(−decay).

    The forward matrix has iid N(0, 1/dim) entries; data are simulated from a prior draw.
    """
    dim = integer_at_least("dim", dim, 1)
    num_observations = integer_at_least("num_observations", num_observations, 1)
    noise_std = positive_float("noise_std", noise_std)
    rng = np.random.default_rng(seed)
    sds = np.arange(1, dim + 1, dtype=float) ** (-prior_decay)
    prior = GaussianPrior(np.diag(sds), mean=0.0)
    forward = LinearForwardMap(rng.standard_normal((num_observations, dim)) / np.sqrt(dim))
    truth = prior.sample(rng)
    data = forward(truth) + noise_std * rng.standard_normal(num_observations)
    forward.counts.reset()
    return LinearGaussianProblem(prior, forward, data, noise_std, truth)
