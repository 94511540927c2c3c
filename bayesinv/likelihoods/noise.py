r"""Noise models for an unknown or heavy-tailed noise level: Student-t, and Gaussian noise with
an unknown σ either integrated out or sampled by a conjugate Gibbs step.

Which to use when
-----------------
* :class:`StudentTLikelihood` (ν, s): outliers. Each Y_i − G_i ~ s·t_ν independently.
* :class:`MarginalNoiseLikelihood` (a, b): one unknown σ, σ² ~ InvGamma(a, b), integrated out:

  .. math:: p(Y \mid θ) = \frac{Γ(a + N/2)}{Γ(a)} (2πb)^{−N/2}
            \Big(1 + \frac{|r|^2}{2b}\Big)^{−(a + N/2)}

  (a multivariate Student-t with 2a degrees of freedom and scale b/a). The chain runs on θ
  alone at no extra cost, with any sampler; σ is not sampled (its conditional posterior given
  θ is InvGamma(a + N/2, b + |r|²/2), so draws of σ can be added afterwards). Use it by default.
* :class:`UnknownNoiseLikelihood` (a, b): the same model, with σ sampled inside the chain by the
  conjugate Gibbs update σ² | θ, Y ~ InvGamma(a + N/2, b + |r|²/2) (no PDE solve) and recorded
  as the variable ``sigma``. Use it when σ itself is of interest (its posterior, its coverage,
  posterior predictive checks with the drawn σ) or when it is one block of a larger
  hierarchical model (:mod:`bayesinv.hierarchical`). Note: conditioned on σ the target moves
  with every σ draw, so pCN/MALA mix θ at the conditional scale.

Both unknown-σ forms are the same posterior on θ (tested against the Normal–Inverse-Gamma
closed form on linear problems).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from .._validation import positive_float
from ..forward.base import ForwardMap
from ..likelihood import GaussianLikelihood
from .base import PredictionLikelihood

_LOG_2PI = float(np.log(2 * np.pi))


def inverse_gamma_parameters(a: float, b: float) -> tuple[float, float]:
    """Validated shape a > 0 and scale b > 0 of an InvGamma(a, b) hyperprior on σ²."""
    return positive_float("a (inverse-gamma shape)", a), positive_float(
        "b (inverse-gamma scale)", b)


class StudentTLikelihood(PredictionLikelihood):
    r"""Independent Student-t noise: Y_i = G(θ)_i + s T_i, T_i ~ t_ν.

    .. math:: ℓ = \sum_i \log Γ(\tfrac{ν+1}2) − \log Γ(\tfrac ν2) − ½\log(νπ s^2)
              − \tfrac{ν+1}2 \log\big(1 + r_i^2/(ν s^2)\big),
              \qquad ∂ℓ/∂G_i = \frac{(ν+1) r_i}{ν s^2 + r_i^2}.

    Parameters
    ----------
    forward, data
    dof : float
        ν > 0 (ν → ∞ is Gaussian noise with sd s).
    scale : float
        s > 0.
    """

    def __init__(self, forward: ForwardMap, data: ArrayLike, dof: float, scale: float) -> None:
        super().__init__(forward, data)
        self.dof = positive_float("dof (Student-t degrees of freedom ν)", dof)
        self.scale = positive_float("scale", scale)
        nu, s = self.dof, self.scale
        self._const = float(gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu)
                            - 0.5 * np.log(nu * np.pi * s * s))
        #: the Gaussian σ with the same curvature at r = 0: s √(ν/(ν+1))
        self.noise_std = s * float(np.sqrt(nu / (nu + 1)))

    def _pointwise(self, r):
        nu, s = self.dof, self.scale
        return self._const - 0.5 * (nu + 1) * np.log1p(np.asarray(r) ** 2 / (nu * s * s))

    def _loglik(self, r):
        return float(np.sum(self._pointwise(r)))

    def _score(self, r):
        nu, s2 = self.dof, self.scale**2
        return (nu + 1) * r / (nu * s2 + r * r)

    def _noise(self, rng, shape):
        return self.scale * rng.standard_t(self.dof, size=shape)


class MarginalNoiseLikelihood(PredictionLikelihood):
    r"""Gaussian noise with σ² ~ InvGamma(a, b) integrated out (module docstring).

    ``pointwise_from_prediction`` gives the leave-one-out conditionals
    log p(Y_i | Y_{-i}, θ): Student-t with 2a_i degrees of freedom, a_i = a + (N−1)/2, scale²
    b_i/a_i, b_i = b + (|r|² − r_i²)/2 (Bürkner, Gabry & Vehtari 2021), which is what
    ``az.loo`` needs for this non-factorised model.
    """

    def __init__(self, forward: ForwardMap, data: ArrayLike, a: float, b: float) -> None:
        super().__init__(forward, data)
        self.a, self.b = inverse_gamma_parameters(a, b)
        n = self.num_observations
        self._shape = self.a + 0.5 * n
        self._const = float(gammaln(self._shape) - gammaln(self.a)
                            - 0.5 * n * (_LOG_2PI + np.log(self.b)))
        #: the Gaussian σ with the same curvature at r = 0: √(b/(a + N/2))
        self.noise_std = float(np.sqrt(self.b / self._shape))

    def _loglik(self, r):
        return self._const - self._shape * float(np.log1p((r @ r) / (2 * self.b)))

    def _score(self, r):
        return self._shape * r / (self.b + 0.5 * float(r @ r))

    def _pointwise(self, r):
        r = np.asarray(r, dtype=float)
        a_i = self.a + 0.5 * (self.num_observations - 1)
        b_i = self.b + 0.5 * (np.sum(r * r, axis=-1, keepdims=True) - r * r)
        return (gammaln(a_i + 0.5) - gammaln(a_i) - 0.5 * (_LOG_2PI + np.log(b_i))
                - (a_i + 0.5) * np.log1p(r * r / (2 * b_i)))

    def _noise(self, rng, shape):
        sigma2 = self.b / rng.gamma(self.a)
        return np.sqrt(sigma2) * rng.standard_normal(shape)

    def sigma_conditional(self, prediction: ArrayLike) -> tuple[float, float]:
        """(shape, scale) of σ² | θ, Y ~ InvGamma(a + N/2, b + |r|²/2)."""
        r = self.data - np.asarray(prediction)
        return self._shape, self.b + 0.5 * float(r @ r)


class UnknownNoiseLikelihood(GaussianLikelihood):
    r"""Gaussian noise with an unknown σ, σ² ~ InvGamma(a, b), sampled by a Gibbs step.

    Evaluated, it is the :class:`~bayesinv.GaussianLikelihood` at the current σ
    (``noise_std``); :func:`bayesinv.sample` recognises its Gibbs block (:meth:`gibbs_blocks`)
    and after each step of the chosen kernel draws

    .. math:: σ^2 \mid θ, Y \sim \mathrm{InvGamma}(a + N/2,\; b + |Y − G(θ)|^2/2),

    recording σ as the posterior variable ``name`` (default ``"sigma"``).

    Parameters
    ----------
    forward, data
    a, b : float
        Shape and scale of the InvGamma hyperprior on σ² (> 0); its mean is b/(a−1) for a > 1.
    noise_std : float, optional
        The σ chains start from (default: √(b/(a+1)), the hyperprior's mode of σ²).
    name : str
        The variable name in InferenceData.
    """

    def __init__(self, forward: ForwardMap, data: ArrayLike, a: float, b: float,
                 noise_std: float | None = None, name: str = "sigma") -> None:
        a, b = inverse_gamma_parameters(a, b)
        start = np.sqrt(b / (a + 1)) if noise_std is None else noise_std
        super().__init__(forward, data, start)
        self.a, self.b, self.name, self.initial = a, b, str(name), self.noise_std

    def condition(self, noise_std: float) -> None:
        """Set σ (what evaluations use until the next call)."""
        self.noise_std = float(noise_std)
        self._log_norm = -self.forward.output_dim * (np.log(self.noise_std)
                                                     + 0.5 * _LOG_2PI)

    def gibbs_blocks(self, offset: int = 0) -> list:
        return [NoiseBlock(self, slice(offset, offset + self.num_observations))]


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

    def loglik_gradient_factor(self, old: float, new: float, size: int) -> float | None:
        """How ∇_ξ log p(Y | ξ, σ) changes from σ = ``old`` to ``new`` at fixed ξ: by (old/new)²
        when this block's observations are the whole prediction (of length ``size``); None
        (unknown) when other terms, which do not scale, add to the log-likelihood."""
        if self.part.indices(size) != (0, size, 1):
            return None
        return (old / new) ** 2
