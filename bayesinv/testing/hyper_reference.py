r"""Exact posteriors of linear–Gaussian problems with an unknown noise level σ and/or an
unknown prior amplitude τ, by quadrature over the hyperparameters.

Model (whitened): r₀ = Y − A m − b = τ B ξ + σ ε, ξ ~ N(0, I_k), ε ~ N(0, I_N), B = A L, with
σ² ~ InvGamma(a_σ, b_σ) and τ² ~ InvGamma(a_τ, b_τ) (either may instead be known). Given
(σ, τ) everything is Gaussian: with the SVD B = U S Vᵀ and z = Uᵀ r₀,

.. math:: \log p(r₀ \mid σ, τ) = −½ \sum_i \big[\log(τ^2 s_i^2 + σ^2) + z_i^2/(τ^2 s_i^2 + σ^2)\big]
          − \frac N2 \log 2π,

.. math:: ξ \mid σ, τ, Y \sim N\big(V \tilde m,\; V D Vᵀ\big), \quad
          D_j = (1 + τ^2 s_j^2/σ^2)^{−1}, \quad \tilde m_j = D_j τ s_j z_j / σ^2.

The hyperparameters' posterior is this likelihood times the hyperprior on a fine grid in
(log σ, log τ) (the density of u = log h with h² ~ InvGamma(a, b) is ∝ exp(−2a u − b e^{−2u})),
and moments of ξ are mixtures of the Gaussian ones: exact up to the quadrature error, which
for the default grids is far below any Monte Carlo error the tests resolve. This is the
reference the Gibbs samplers (:mod:`bayesinv.samplers.gibbs`) are tested against; with σ
unknown and τ = 1 it is the Normal–Inverse-Gamma regression posterior with an independent
(not σ-scaled) Gaussian prior, which has no closed form beyond this one-dimensional integral.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from ..synthetic import CoverageModel

#: a hyperparameter: a known value h > 0, or the InvGamma(a, b) hyperprior (a, b) of h²
Hyper = float | tuple[float, float]


def _log_hyper(u: NDArray[np.float64], a: float, b: float) -> NDArray[np.float64]:
    return -2.0 * a * u - b * np.exp(-2.0 * u)


def _grid(hyper: Hyper, points: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(u values, log prior) for a hyperprior (a, b), or a known value h > 0."""
    if np.isscalar(hyper):
        return np.log(np.atleast_1d(np.asarray(hyper, dtype=float))), np.zeros(1)
    a, b = np.asarray(hyper, dtype=float)
    u = np.linspace(np.log(1e-4), np.log(1e2), points)
    return u, _log_hyper(u, a, b)


@dataclass
class HyperPosterior:
    """Exact posterior moments: ξ (mean, sd), σ and τ (mean, sd), and the grid for quantiles."""

    xi_mean: NDArray[np.float64]
    xi_sd: NDArray[np.float64]
    sigma: NDArray[np.float64]   # grid values of σ (flattened with tau)
    tau: NDArray[np.float64]
    weights: NDArray[np.float64]

    def moments(self, values: NDArray[np.float64]) -> tuple[float, float]:
        """(mean, sd) of ``values`` on the grid (e.g. :attr:`sigma`) under the posterior."""
        m = float(self.weights @ values)
        variance = float(self.weights @ (values - m) ** 2)
        return m, float(np.sqrt(max(variance, 0.0)))

    def interval(self, name: Literal["sigma", "tau"], level: float) -> tuple[float, float]:
        """The equal-tailed credible interval of ``sigma`` or ``tau``."""
        values = getattr(self, name)
        order = np.argsort(values)
        cdf = np.cumsum(self.weights[order])
        lo = values[order][np.searchsorted(cdf, 0.5 * (1 - level))]
        hi = values[order][min(np.searchsorted(cdf, 0.5 * (1 + level)), len(cdf) - 1)]
        return float(lo), float(hi)


def hyper_posterior(B: ArrayLike, r0: ArrayLike, *, noise: Hyper, scale: Hyper = 1.0,
                    points: int = 4000) -> HyperPosterior:
    """The exact posterior (module docstring).

    Parameters
    ----------
    B : array (N, k)
        A L, the forward matrix times the prior factor.
    r0 : array (N,)
        Y − A m − b.
    noise, scale : float or (a, b)
        σ and τ: a known value, or the InvGamma(a, b) hyperprior of its square.
    points : int
        Grid points per unknown hyperparameter (use ~300 when both are unknown).
    """
    Bm, r = np.asarray(B, float), np.asarray(r0, float)
    N, k = Bm.shape
    U, s, Vt = np.linalg.svd(Bm, full_matrices=True)
    z = U.T @ r
    lam = np.zeros(N)
    lam[: s.size] = s**2
    us, ls = _grid(noise, points)
    ut, lt = _grid(scale, points)
    US, UT = np.meshgrid(us, ut, indexing="ij")
    sig2, tau2 = np.exp(2 * US).ravel(), np.exp(2 * UT).ravel()
    logw = (ls[:, None] + lt[None, :]).ravel()
    var = tau2[:, None] * lam[None, :] + sig2[:, None]                    # (G, N)
    logw = logw - 0.5 * np.sum(np.log(var) + z[None, :] ** 2 / var, axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    sk = np.zeros(k)
    sk[: s.size] = s
    zk = np.zeros(k)
    zk[: s.size] = z[: s.size]
    D = 1.0 / (1.0 + tau2[:, None] * sk[None, :] ** 2 / sig2[:, None])   # (G, k)
    mt = D * np.sqrt(tau2)[:, None] * sk[None, :] * zk[None, :] / sig2[:, None]
    V = Vt.T
    mean_g = mt @ V.T                                                     # (G, k)
    mean = w @ mean_g
    second = w @ (D @ (V.T**2)) + w @ mean_g**2
    return HyperPosterior(mean, np.sqrt(np.maximum(second - mean**2, 0.0)),
                          np.sqrt(sig2), np.sqrt(tau2), w)


@dataclass
class LengthScalePosterior:
    """Exact posterior of an unknown length-scale ℓ and of ξ (see :func:`length_scale_posterior`):
    grid values of ℓ with their weights, and the mixture mean and sd of ξ."""

    length_scale: NDArray[np.float64]
    weights: NDArray[np.float64]
    xi_mean: NDArray[np.float64]
    xi_sd: NDArray[np.float64]

    def moments(self) -> tuple[float, float]:
        """Posterior (mean, sd) of ℓ."""
        m = float(self.weights @ self.length_scale)
        variance = float(self.weights @ (self.length_scale - m) ** 2)
        return m, math.sqrt(max(variance, 0.0))


def length_scale_posterior(factor_of: Callable[[float], NDArray[np.float64]], A: ArrayLike,
                           r0: ArrayLike, noise_std: float, log_mean: float, log_sd: float,
                           *, points: int = 400, width: float = 6.0) -> LengthScalePosterior:
    r"""The exact posterior of ℓ and ξ for r₀ = Y − A m = A L_ℓ ξ + σ ε, ξ ~ N(0, I_k),
    log ℓ ~ N(μ, s²): on a grid of u = log ℓ over μ ± ``width``·s,

    .. math:: p(u \mid Y) ∝ N(u; μ, s^2)\, N(r₀; 0, B_ℓ B_ℓᵀ + σ^2 I), \qquad B_ℓ = A L_ℓ,

    and ξ | ℓ, Y ~ N(P⁻¹B_ℓᵀr₀/σ², P⁻¹), P = I + B_ℓᵀB_ℓ/σ², mixed over the grid.
    ``factor_of(ℓ)`` returns the dense factor L_ℓ (n, k)."""
    Am, r = np.asarray(A, float), np.asarray(r0, float)
    u = np.linspace(log_mean - width * log_sd, log_mean + width * log_sd, points)
    logw = np.empty(points)
    means: list[NDArray[np.float64]] = []
    second: list[NDArray[np.float64]] = []
    for i, ui in enumerate(u):
        B = Am @ factor_of(float(np.exp(ui)))
        S = B @ B.T + noise_std**2 * np.eye(Am.shape[0])
        c = np.linalg.cholesky(S)
        z = np.linalg.solve(c, r)
        logw[i] = (-0.5 * ((ui - log_mean) / log_sd) ** 2 - 0.5 * z @ z
                   - np.sum(np.log(np.diag(c))))
        P = np.eye(B.shape[1]) + B.T @ B / noise_std**2
        C = np.linalg.inv(P)
        m = C @ B.T @ r / noise_std**2
        means.append(m)
        second.append(np.diag(C) + m**2)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    mean = w @ np.array(means)
    sd = np.sqrt(np.maximum(w @ np.array(second) - mean**2, 0.0))
    return LengthScalePosterior(np.exp(u), w, mean, sd)


def hierarchical_linear_model(noise_hyper: tuple[float, float] | None = (3.0, 0.5),
                              scale_hyper: tuple[float, float] | None = (3.0, 2.0),
                              **kwargs: Any) -> CoverageModel:
    """A coverage-study factory: ``linear_gaussian(**kwargs)`` with σ² ~ InvGamma(noise_hyper)
    and τ² ~ InvGamma(scale_hyper) unknown (either may be None). Module-level, so picklable in
    a :class:`~bayesinv.coverage.ProblemSpec`."""
    from ..synthetic import CoverageModel
    from .linear_gaussian import linear_gaussian

    p = linear_gaussian(**kwargs)
    return CoverageModel(p.prior, p.forward, p.noise_std, truth=p.truth,
                         noise_hyper=noise_hyper, scale_hyper=scale_hyper)
