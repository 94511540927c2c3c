r"""Exact posterior draws for linear–Gaussian problems, with the output contract of ``sample``.

For an affine forward map G(θ) = Aθ + b and a Gaussian prior θ = m₀ + Lξ the whitened
posterior is Gaussian, N(μ, H⁻¹) with

    H = I + Bᵀ B / σ²  (B = A L),      μ = H⁻¹ ∇_ξ log π(0 | Y) = H⁻¹ Bᵀ (Y − G(m₀)) / σ²

(one Newton step from ξ = 0 is exact for a quadratic). Draws ξ = μ + H^{-½} z, z ~ N(0, I), are
independent, so a coverage study run on them has no Markov-chain error: that is how the
coverage harness is validated before any sampler is put through it. H is the Gauss–Newton
Hessian of :mod:`bayesinv.samplers.tuning` (k tangent solves).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._validation import integer_at_least
from .._version import __version__
from ..arviz_io import build_inference_data
from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.linear import LinearForwardMap
from ..likelihood import GaussianLikelihood
from ..posterior import Posterior
from ..seeds import seed_sequence
from .tuning import gauss_newton_hessian, sqrt_inverse

if TYPE_CHECKING:
    from arviz import InferenceData


def is_linear_gaussian(posterior: Posterior) -> bool:
    """Whether the posterior is Gaussian: a LinearForwardMap, a Gaussian (linear-T) prior and
    iid Gaussian noise of known σ (other noise models and hyperparameters are not)."""
    return (posterior.prior.is_linear and isinstance(posterior.likelihood.forward,
                                                     LinearForwardMap)
            and type(posterior.likelihood) is GaussianLikelihood)


def exact_gaussian_posterior(posterior: Posterior
                             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(μ, R) with the whitened posterior N(μ, R Rᵀ), for affine forward maps and Gaussian
    priors; raises InvalidArgumentError otherwise."""
    if not isinstance(posterior, Posterior):
        raise InvalidArgumentError(
            f"posterior must be a bayesinv.Posterior, got {type(posterior).__name__}")
    forward = posterior.likelihood.forward
    if not is_linear_gaussian(posterior):
        raise InvalidArgumentError(
            "exact posterior draws need a linear–Gaussian problem (a LinearForwardMap, a "
            "Gaussian prior and a GaussianLikelihood with known σ); got "
            f"{type(forward).__name__}, {type(posterior.prior).__name__} and "
            f"{type(posterior.likelihood).__name__}")
    k = posterior.prior.latent_dim
    zero = np.zeros(k)
    R = sqrt_inverse(gauss_newton_hessian(posterior, zero))
    ev = posterior.whitened.evaluate(zero, grad=True)
    if ev.grad is None:
        raise ForwardSolveError(
            f"the exact posterior mean needs the gradient of the log density at ξ = 0, whose "
            f"evaluation failed ({ev.failure}); check the data and noise_std")
    return R @ (R.T @ ev.grad), R


def sample_exact(posterior: Posterior, *, draws: int = 1000, chains: int = 4,
                 seed: int | np.random.SeedSequence | None = None,
                 store_theta: bool = True) -> InferenceData:
    """Independent draws from the exact posterior of a linear–Gaussian problem.

    Same output contract as :func:`bayesinv.sample` (``posterior``: ``xi``, ``theta``;
    ``sample_stats``: ``lp``, ``acceptance_rate`` = 1, ``diverging`` = False, ``step_size`` =
    NaN; ``log_likelihood``; ``observed_data``), with ``attrs["sampler"] == "exact"``. Chain c
    uses ``default_rng(SeedSequence(seed).spawn(chains)[c])``.
    """
    draws = integer_at_least("draws", draws, 1)
    chains = integer_at_least("chains", chains, 1)
    seed_seq = seed_sequence(seed)
    start = time.perf_counter()
    mu, R = exact_gaussian_posterior(posterior)
    k = mu.shape[0]
    z = np.stack([np.random.default_rng(s).standard_normal((draws, k))
                  for s in seed_seq.spawn(chains)])
    xi = mu + z @ R.T
    prior, like = posterior.prior, posterior.likelihood
    theta = prior.to_physical(xi)
    forward = like.forward
    assert isinstance(forward, LinearForwardMap)  # checked by exact_gaussian_posterior
    flat = theta.reshape(-1, theta.shape[-1])
    prediction = (np.asarray(forward.matrix @ flat.T).T + forward.offset).reshape(
        chains, draws, -1)
    pointwise = like.pointwise_from_prediction(prediction)
    lp = pointwise.sum(axis=-1) - 0.5 * np.einsum("cdk,cdk->cd", xi, xi)
    post = {"xi": xi, "theta": theta} if store_theta else {"xi": xi}
    return build_inference_data(
        posterior=post,
        sample_stats={"lp": lp, "acceptance_rate": np.ones(lp.shape),
                      "diverging": np.zeros(lp.shape, dtype=bool),
                      "step_size": np.full(lp.shape, np.nan)},
        log_likelihood={"y": pointwise},
        observed_data={"y": like.data},
        constant_data={},
        attrs={"sampler": "exact", "draws": draws, "warmup": 0, "thin": 1, "chains": chains,
               "seed": str(seed_seq.entropy), "seed_spawn_key": str(tuple(seed_seq.spawn_key)),
               "sampling_time": time.perf_counter() - start, "noise_std": like.noise_std,
               "inference_library": "bayesinv", "inference_library_version": __version__},
    )


#: the values of ``sample``'s Markov-chain options that mean "not given"
_NOT_GIVEN = {"warmup": 0, "init": "prior", "thin": 1}


def exact_from_sample_options(posterior: Posterior, *, draws: int, chains: int,
                              seed: int | np.random.SeedSequence | None, store_theta: bool,
                              unused: dict[str, Any]) -> InferenceData:
    """``sample(posterior, "exact", ...)``: :func:`sample_exact`, refusing (with the option's
    name) any Markov-chain option in ``unused`` that was given, since it would be ignored."""
    given = sorted(name for name, value in unused.items()
                   if not (value is None or (name in _NOT_GIVEN and isinstance(value, (int, str))
                                             and value == _NOT_GIVEN[name])))
    if given:
        raise InvalidArgumentError(
            f"method='exact' draws independent samples and takes no Markov-chain options; "
            f"got {', '.join(given)} (exact takes draws, chains, seed, store_theta)")
    return sample_exact(posterior, draws=draws, chains=chains, seed=seed,
                        store_theta=store_theta)
