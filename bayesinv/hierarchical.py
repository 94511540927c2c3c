r"""Hierarchical hyperparameters, sampled by (Metropolis-within-)Gibbs blocks around any kernel.

Two blocks, each recorded as its own posterior variable by :func:`bayesinv.sample`
(:mod:`bayesinv.samplers.gibbs` runs them after every step of the chosen kernel):

* :class:`NoiseBlock` — the noise level of an
  :class:`~bayesinv.likelihoods.UnknownNoiseLikelihood`, σ² ~ InvGamma(a, b), drawn from its
  conjugate conditional σ² | θ, Y ~ InvGamma(a + N/2, b + |r|²/2) (no PDE solve).
* :class:`ScaleBlock` — the amplitude τ of a :class:`ScaledPrior` in the *non-centred*
  parametrisation θ = m + τ (T(ξ) − m), ξ ~ N(0, I), m = T(0) (Papaspiliopoulos, Roberts &
  Sköld 2007; the form Agapiou, Bardsley, Papaspiliopoulos & Stuart 2014 show mixes in
  function space where the centred one degenerates). With τ² ~ InvGamma(a, b), u = log τ has
  log density −2a u − b e^{−2u} (+ const), and the update is a random walk on u,

  .. math:: u' = u + s η, \qquad α = \min\{1, \exp(ℓ(θ_{u'}) − ℓ(θ_u)
            − 2a(u' − u) − b(e^{−2u'} − e^{−2u}))\},

  one forward solve per step (plus one adjoint for gradient kernels when accepted). The
  kernel's ξ-update is unchanged: conditioned on τ it is the whitened posterior of the prior
  with amplitude τ.

Only the amplitude is implemented; an unknown length-scale would be a third block of the same
form (a Metropolis step on log ℓ with the factor T rebuilt for each proposal).
"""

from __future__ import annotations

import numpy as np

from ._validation import positive_float
from .errors import InvalidArgumentError
from .likelihoods.noise import inverse_gamma_parameters
from .priors.base import WhitenedPrior


class NoiseBlock:
    """Conjugate Gibbs update of σ for the observations ``part`` of the prediction."""

    kind = "conjugate"

    def __init__(self, likelihood, part: slice):
        self.likelihood, self.part = likelihood, part
        self.name, self.initial = likelihood.name, likelihood.initial

    def set(self, value: float) -> None:
        self.likelihood.condition(value)

    def draw(self, prediction, rng) -> float:
        """σ ~ (σ² | θ, Y) with σ² ~ InvGamma(a + N/2, b + |r|²/2)."""
        like = self.likelihood
        r = like.data - prediction[self.part]
        shape = like.a + 0.5 * like.num_observations
        scale = like.b + 0.5 * float(r @ r)
        return float(np.sqrt(scale / rng.gamma(shape)))


class ScaledPrior(WhitenedPrior):
    r"""θ = m + τ (T(ξ) − m) with an unknown amplitude τ, τ² ~ InvGamma(a, b) (module
    docstring). Wraps any whitened prior (series, SPDE, kernel, …); evaluations use the current
    τ (``scale``), which :func:`bayesinv.sample` updates by a :class:`ScaleBlock`.

    Parameters
    ----------
    prior : WhitenedPrior
        The prior at amplitude 1, T; m = T(0) is kept fixed.
    a, b : float
        Shape and scale of the InvGamma hyperprior on τ² (> 0).
    scale : float
        The τ chains start from (default 1).
    proposal_sd : float
        s, the random-walk step on log τ (> 0).
    name : str
        The variable name in InferenceData.
    """

    def __init__(self, prior: WhitenedPrior, a: float, b: float, *, scale: float = 1.0,
                 proposal_sd: float = 0.3, name: str = "tau"):
        if not isinstance(prior, WhitenedPrior):
            raise InvalidArgumentError(
                f"prior must be a bayesinv prior (WhitenedPrior), got {type(prior).__name__}")
        self.base = prior
        self.a, self.b = inverse_gamma_parameters(a, b)
        self.scale = self.initial = positive_float("scale", scale)
        self.proposal_sd = positive_float("proposal_sd", proposal_sd)
        self.name = str(name)
        self.dim, self.latent_dim = prior.dim, prior.latent_dim
        self.center = np.asarray(prior.to_physical(np.zeros(prior.latent_dim)), dtype=float)

    def to_physical(self, xi):
        return self.center + self.scale * (self.base.to_physical(xi) - self.center)

    def to_physical_vjp(self, xi, v):
        return self.scale * self.base.to_physical_vjp(xi, v)

    def to_physical_jvp(self, xi, v):
        return self.scale * self.base.to_physical_jvp(xi, v)

    def map_start(self):
        return self.base.map_start()

    def log_hyperprior(self, log_scale: float) -> float:
        """log density of u = log τ, up to a constant: −2a u − b e^{−2u}."""
        return -2.0 * self.a * log_scale - self.b * np.exp(-2.0 * log_scale)

    def gibbs_blocks(self) -> list:
        return [ScaleBlock(self)]


class ScaleBlock:
    """Metropolis update of log τ of a :class:`ScaledPrior` (module docstring)."""

    kind = "metropolis"

    def __init__(self, prior: ScaledPrior):
        self.prior = prior
        self.name, self.initial = prior.name, prior.initial
        self.proposal_sd = prior.proposal_sd

    def set(self, value: float) -> None:
        self.prior.scale = float(value)

    def propose(self, value: float, rng) -> tuple[float, float]:
        """(τ', log π(u') − log π(u)) for the hyperprior part."""
        u = np.log(value)
        u_new = u + self.proposal_sd * rng.standard_normal()
        return float(np.exp(u_new)), float(self.prior.log_hyperprior(u_new)
                                           - self.prior.log_hyperprior(u))
