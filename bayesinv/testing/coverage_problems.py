r"""Reference coverage problems and their exact coverage probabilities.

On a linear–Gaussian problem (see :mod:`.linear_gaussian`) every question a coverage study
asks has a closed-form answer, so the harness can be tested without Monte Carlo error in the
posterior:

* with θ₀ drawn from the prior and exact posterior draws, every credible set covers with
  probability exactly its level (simulation-based calibration);
* with θ₀ fixed, the posterior mean of f = wᵀθ is m_f(Y) = c + gᵀY, Gaussian around
  f̄ = c + gᵀGθ₀ with sd τ = σ‖g‖, while the posterior sd s_f does not depend on Y; the
  equal-tailed interval m_f ± z s_f (z = Φ⁻¹((1 + level)/2)) covers f(θ₀) with probability

      Φ((z s_f − b)/τ) − Φ((−z s_f − b)/τ),      b = f̄ − f(θ₀),

  below the level when the prior pulls m_f away from f(θ₀) (b ≠ 0) — :func:`frequentist_coverage`;
* a Gaussian interval whose sd is r times the posterior sd (e.g. ULA's stationary law) covers
  a truth drawn from the posterior with probability 2Φ(z r) − 1 — :func:`inflated_coverage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from .._validation import one_of
from ..coverage.spec import KINDS
from ..diagnostics.credible import check_level, l2_norm
from ..linear_gaussian import LinearGaussianProblem
from ..synthetic import linear_gaussian_model  # noqa: F401  (its testing name)

if TYPE_CHECKING:
    import scipy.sparse as sp

    from ..protocols import Seed


def inflated_coverage(level: float, sd_ratio: ArrayLike) -> NDArray[np.float64]:
    """P(|Z| ≤ z r) = 2Φ(z r) − 1: coverage of a central Gaussian interval whose sd is r times
    the true posterior sd, for a truth distributed as the posterior."""
    z = scipy.stats.norm.ppf(0.5 + check_level(level) / 2)
    return 2.0 * scipy.stats.norm.cdf(z * np.asarray(sd_ratio, float)) - 1.0


def frequentist_coverage(problem: LinearGaussianProblem, weights: ArrayLike, level: float,
                         truth: ArrayLike | None = None) -> float:
    """Exact frequentist coverage of the exact posterior's equal-tailed interval for wᵀθ at a
    fixed truth (default: the problem's θ₀), over data Y = Aθ₀ + b + σε."""
    level = check_level(level)
    w = np.asarray(weights, dtype=float)
    theta0 = problem.truth if truth is None else np.asarray(truth, float)
    A, b, L, m0 = problem.forward.matrix, problem.forward.offset, problem.prior.factor, \
        problem.prior.mean
    sigma2 = problem.noise_std**2
    # m_θ(Y) = m₀ + L Σ_ξ (AL)ᵀ (Y − A m₀ − b) / σ²  =  const + K Y
    K = L @ problem.cov_latent @ (A @ L).T / sigma2
    g = K.T @ w
    mean_f = w @ m0 + g @ (A @ theta0 + b - A @ m0 - b)  # E m_f(Y)
    tau = np.sqrt(sigma2) * np.linalg.norm(g)
    s_f = np.sqrt(w @ problem.cov @ w)
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    bias = mean_f - w @ theta0
    return float(scipy.stats.norm.cdf((z * s_f - bias) / tau)
                 - scipy.stats.norm.cdf((-z * s_f - bias) / tau))


def _gaussian_draws(cov: ArrayLike, size: int, rng: np.random.Generator
                    ) -> NDArray[np.float64]:
    vals, vecs = np.linalg.eigh(np.asarray(cov, float))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return rng.standard_normal((size, root.shape[1])) @ root.T


def gaussian_set_coverage(truth_cov: ArrayLike, set_cov: ArrayLike, level: float, kind: str, *,
                          weights: ArrayLike | None = None,
                          mass_matrix: sp.spmatrix | NDArray[np.float64] | None = None,
                          num_samples: int = 200_000, seed: Seed = 0) -> float:
    r"""P(θ₀ ∈ C) when C is the level-``level`` credible set of N(m, S) (``set_cov``) and
    θ₀ ~ N(m, Σ) (``truth_cov``): the coverage a sampler with stationary law N(m, S) attains
    in a simulation-based-calibration study of a Gaussian posterior N(m, Σ).

    ``kind``: ``"equal_tailed"``/``"hdi"`` (the same for a Gaussian; needs ``weights`` w of the
    functional wᵀθ; closed form 2Φ(z r) − 1, r² = wᵀSw / wᵀΣw), ``"band"`` (standardised
    sup-norm with the sds of S) or ``"l2_ball"`` (‖·‖ with ``mass_matrix``, default I); the last
    two by Monte Carlo with ``num_samples`` draws (standard error ≈ 0.5/√num_samples).
    """
    level = check_level(level)
    kind = one_of("kind", kind, KINDS)
    S, Sigma = np.asarray(set_cov, float), np.asarray(truth_cov, float)
    if kind in ("equal_tailed", "hdi"):
        w = np.asarray(weights, float)
        return float(inflated_coverage(level, np.sqrt((w @ S @ w) / (w @ Sigma @ w))))
    rng = np.random.default_rng(seed)
    eta, zeta = _gaussian_draws(S, num_samples, rng), _gaussian_draws(Sigma, num_samples, rng)
    if kind == "band":
        sd = np.sqrt(np.clip(np.diag(S), 0.0, None))
        varying = sd > 1e-12 * sd.max()

        def stat(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.max(np.abs(x[:, varying]) / sd[varying], axis=1)
    else:
        def stat(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return l2_norm(x, mass_matrix)
    return float(np.mean(stat(zeta) <= np.quantile(stat(eta), level)))
