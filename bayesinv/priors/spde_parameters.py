r"""The parametrisations of the Whittle–Matérn (SPDE) prior: (ν, ℓ, σ²), hIPPYlib's (γ, δ),
(κ, β, σ²), and the Robin coefficient of its boundary condition.

The field solving (κ² − Δ)^β (θ − m) = c𝒲 on R^d is Matérn with smoothness ν = 2β − d/2, range
ℓ = √(8ν)/κ and marginal variance σ² = c² Γ(ν) / (Γ(ν + d/2) (4π)^{d/2} κ^{2ν})
(:func:`matern_variance_constant`). So

* (ν, ℓ, σ²) give κ = √(8ν)/ℓ and β from ν = 2β − d/2 (:func:`beta_from_nu`; ν ∈ {1, 3, …} in
  2-d, {1/2, 5/2, …} in 3-d) — :func:`matern_operator`;
* hIPPYlib's (γ, δ), with the operator γ(κ² − Δ) = γ(−Δ) + δ, give κ² = δ/γ and c = γ^{−β},
  so that σ² = Γ(ν)/(Γ(2β)(4π)^{d/2}κ^{2ν}γ^{2β}) — :func:`hippylib_operator`;
* the Robin coefficient b of A = κ²M + K + bM_∂ is ``ROBIN_FACTOR[β]·κ`` for
  ``robin=True`` (:func:`robin_coefficient`; the measurements behind it are in
  :mod:`bayesinv.priors.spde`).

The prior itself is :class:`bayesinv.priors.spde.WhittleMaternPrior`.
"""

from __future__ import annotations

import math

from .._validation import integer_at_least, positive_float
from ..errors import InvalidArgumentError

#: b = ROBIN_FACTOR[β] · κ for ``robin=True`` (β > 2 uses the β = 2 value). β = 1: Daon &
#: Stadler's 1/1.42 (hIPPYlib's value). β = 2: 0.35, measured: on the unit square (128²,
#: ℓ = 0.1 and 0.2) the root-mean-square deviation of Var θ(x)/σ² − 1 along a line from the
#: boundary to the centre is smallest near b = 0.35κ (0.033 and 0.041; 0.30 for b = 0), and
#: near b = 0.67κ for β = 1, close to 1/1.42 = 0.70 (``benchmarks/priors.py`` reruns the scan).
ROBIN_FACTOR = {1: 1.0 / 1.42, 2: 0.35}


def matern_variance_constant(nu: float, kappa: float, spatial_dim: int) -> float:
    """σ²/c² = Γ(ν) / (Γ(ν + d/2) (4π)^{d/2} κ^{2ν}), the marginal variance of the solution
    of (κ² − Δ)^{(ν + d/2)/2} θ = 𝒲 on R^d."""
    d = spatial_dim
    return math.exp(math.lgamma(nu) - math.lgamma(nu + d / 2) - (d / 2) * math.log(4 * math.pi)
                    - 2 * nu * math.log(kappa))


def beta_from_nu(nu: float, spatial_dim: int) -> int:
    """β = (ν + d/2)/2, which must be a positive integer."""
    nu = positive_float("nu", nu)
    beta = (nu + spatial_dim / 2) / 2
    if abs(beta - round(beta)) > 1e-12 or round(beta) < 1:
        valid = ", ".join(f"{2 * b - spatial_dim / 2:g}" for b in (1, 2, 3) if
                          2 * b - spatial_dim / 2 > 0)
        raise InvalidArgumentError(
            f"nu={nu} is not 2β − d/2 for an integer β >= 1 on a {spatial_dim}-d domain; "
            f"the SPDE prior has ν in {{{valid}, ...}} (β = 1, 2, 3, ...); use a kernel prior "
            f"(bayesinv.priors.kernels) for other ν")
    return round(beta)


def matern_operator(spatial_dim: int, length_scale: float, nu: float | None = None,
                    beta: int | None = None) -> tuple[float, int]:
    """(κ, β) for the Matérn range ℓ = ``length_scale`` and ν = 2β − d/2 given as ``nu`` or
    ``beta`` (not both; default β = 1): κ = √(8ν)/ℓ."""
    d = spatial_dim
    length_scale = positive_float("length_scale", length_scale)
    if nu is not None and beta is not None:
        raise InvalidArgumentError("give nu or beta, not both (ν = 2β − d/2)")
    beta = beta_from_nu(nu, d) if nu is not None else (1 if beta is None else beta)
    beta = integer_at_least("beta", beta, 1)
    nu_ = 2 * beta - d / 2
    if nu_ <= 0:
        raise InvalidArgumentError(f"beta={beta} gives ν = {nu_} <= 0 on a {d}-d domain")
    return math.sqrt(8 * nu_) / length_scale, beta


def hippylib_operator(spatial_dim: int, gamma: float, delta: float,
                      beta: int = 1) -> tuple[float, int, float]:
    """(κ, β, σ²) for hIPPYlib's operator γ(−Δ) + δ = γ(κ² − Δ) raised to β: κ = √(δ/γ),
    c = γ^{−β} and σ² = c² · :func:`matern_variance_constant`."""
    gamma = positive_float("gamma", gamma)
    delta = positive_float("delta", delta)
    beta = integer_at_least("beta", beta, 1)
    kappa = math.sqrt(delta / gamma)
    nu = 2 * beta - spatial_dim / 2
    if nu <= 0:
        raise InvalidArgumentError(f"beta={beta} gives ν = {nu} <= 0 on a {spatial_dim}-d "
                                   f"domain")
    variance = gamma ** (-2 * beta) * matern_variance_constant(nu, kappa, spatial_dim)
    return kappa, beta, variance


def robin_coefficient(robin: bool | float | None, beta: int, kappa: float) -> float:
    """b in A = κ²M + K + bM_∂: ``ROBIN_FACTOR[β]·κ`` for True (β > 2: the β = 2 factor), 0 for
    False or None (the natural Neumann condition), else ``robin`` itself."""
    if robin is True:
        return ROBIN_FACTOR.get(beta, ROBIN_FACTOR[2]) * kappa
    if robin is False or robin is None:
        return 0.0
    return float(robin)
