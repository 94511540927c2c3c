r"""Posterior distributions and their whitened view, which is what samplers run on.

With prior θ = T(ξ), ξ ~ N(0, I_k), the posterior in whitened coordinates has density

.. math:: π(ξ \mid Y) ∝ \exp\big(ℓ_N(T(ξ)) − \tfrac12 |ξ|^2\big),
          \qquad ∇_ξ \log π = J_T(ξ)^T ∇_θ ℓ_N(T(ξ)) − ξ,

(Cotter, Roberts, Stuart & White 2013). One kernel then serves every prior.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .errors import ForwardSolveError, InvalidArgumentError
from .priors.base import WhitenedPrior
from .protocols import ForwardMapProtocol, LikelihoodProtocol


class TargetEvaluation(NamedTuple):
    """One evaluation of the whitened posterior at ξ.

    ``logdensity`` = ℓ(T(ξ)) − ½|ξ|² (unnormalised), ``loglik`` = ℓ(T(ξ)), ``grad`` = ∇_ξ
    logdensity (None unless requested), ``prediction`` = G(T(ξ)) (None if the solve failed),
    ``failure`` = the reason a solve failed, or None.
    """

    logdensity: float
    loglik: float
    grad: np.ndarray | None
    prediction: np.ndarray | None
    failure: str | None = None


class Posterior:
    """The posterior Π(· | Y) ∝ exp(ℓ_N) dΠ for a whitened prior and any likelihood satisfying
    :class:`~bayesinv.protocols.LikelihoodProtocol` (GaussianLikelihood and those of
    :mod:`bayesinv.likelihoods`)."""

    def __init__(self, prior: WhitenedPrior, likelihood: LikelihoodProtocol) -> None:
        if not isinstance(prior, WhitenedPrior):
            raise InvalidArgumentError(
                f"prior must be a bayesinv prior (WhitenedPrior), got {type(prior).__name__}")
        if not isinstance(likelihood, LikelihoodProtocol):
            raise InvalidArgumentError(
                f"likelihood must be a bayesinv likelihood (GaussianLikelihood or one of "
                f"bayesinv.likelihoods), got {type(likelihood).__name__}")
        if prior.dim != likelihood.forward.input_dim:
            raise InvalidArgumentError(
                f"prior dimension {prior.dim} does not match the forward map's parameter "
                f"dimension {likelihood.forward.input_dim} (are they on the same mesh?)")
        self.prior = prior
        self.likelihood = likelihood

    @cached_property
    def whitened(self) -> WhitenedPosterior:
        """The posterior in whitened coordinates ξ (what samplers run on)."""
        return WhitenedPosterior(self.prior, self.likelihood)


class WhitenedPosterior:
    """π(ξ | Y) ∝ exp(ℓ_N(T(ξ)) − ½|ξ|²) on R^k."""

    def __init__(self, prior: WhitenedPrior, likelihood: LikelihoodProtocol) -> None:
        self.prior = prior
        self.likelihood = likelihood
        self.dim = prior.latent_dim

    @property
    def forward(self) -> ForwardMapProtocol:
        """G, the likelihood's forward map."""
        return self.likelihood.forward

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        """θ = T(ξ)."""
        return self.prior.to_physical(xi)

    def evaluate(self, xi: ArrayLike, grad: bool = False) -> TargetEvaluation:
        """log density (and gradient) at ξ; a failed PDE solve gives logdensity = −inf.

        Failures never raise here: a sampler must turn them into rejections or flagged
        divergences rather than lose the chain.
        """
        xi = np.asarray(xi, dtype=float)
        if not np.isfinite(xi).all():
            return TargetEvaluation(-np.inf, -np.inf, None, None, "non-finite position")
        try:
            ev = self.likelihood.evaluate(self.prior.to_physical(xi), grad=grad)
        except ForwardSolveError as exc:
            return TargetEvaluation(-np.inf, -np.inf, None, None, exc.reason)
        lp = ev.loglik - 0.5 * float(xi @ xi)
        g = None
        if grad:
            assert ev.grad is not None  # requested
            g = self.prior.to_physical_vjp(xi, ev.grad) - xi
        if not np.isfinite(lp) or (g is not None and not np.isfinite(g).all()):
            return TargetEvaluation(-np.inf, -np.inf, None, None, "non-finite log density")
        return TargetEvaluation(lp, ev.loglik, g, ev.prediction)

    def logdensity(self, xi: ArrayLike) -> float:
        """log π(ξ | Y) up to a constant (−inf where the solve fails)."""
        return self.evaluate(xi).logdensity

    def logdensity_and_grad(self, xi: ArrayLike) -> tuple[float, np.ndarray]:
        """(log π(ξ | Y), ∇_ξ log π(ξ | Y)); a failed solve raises ForwardSolveError."""
        ev = self.evaluate(xi, grad=True)
        if ev.failure is not None:
            raise ForwardSolveError(ev.failure)
        assert ev.grad is not None  # requested, and the evaluation succeeded
        return ev.logdensity, ev.grad
