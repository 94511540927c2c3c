r"""The Gaussian regression likelihood of the statistical inverse problem.

Model (Stuart 2010; Nickl 2023): Y_i = G(θ)_i + σ ε_i, ε_i ~ N(0, 1) iid, i = 1..N, so

.. math:: ℓ_N(θ) = −\frac{1}{2σ^2} \sum_i (Y_i − G(θ)_i)^2 − N \log σ − \frac N2 \log 2π,
          \qquad ∇_θ ℓ_N = J(θ)^T (Y − G(θ)) / σ^2,

the gradient costing one forward and one adjoint solve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._validation import finite_vector, positive_float
from .errors import InvalidArgumentError
from .forward.base import ForwardMap
from .protocols import Seed


class LikelihoodEvaluation(NamedTuple):
    """ℓ(θ), ∇ℓ(θ) (None if not requested) and the prediction G(θ)."""

    loglik: float
    grad: np.ndarray | None
    prediction: np.ndarray


class EvaluatedLikelihood:
    """What a likelihood derives from its ``evaluate(θ, grad)`` and
    ``pointwise_from_prediction``: N, ℓ(θ), (ℓ(θ), ∇ℓ(θ)) and the pointwise log-likelihoods
    (shared by :class:`ThroughForwardMap` and
    :class:`~bayesinv.likelihoods.JointLikelihood`)."""

    forward: ForwardMap
    data: np.ndarray

    if TYPE_CHECKING:  # what each subclass defines
        def evaluate(self, theta: ArrayLike, grad: bool = False) -> LikelihoodEvaluation: ...

        def pointwise_from_prediction(self, prediction: np.ndarray) -> np.ndarray: ...

    @property
    def num_observations(self) -> int:
        """N, the number of observations."""
        return self.data.shape[0]

    def logpdf(self, theta: ArrayLike) -> float:
        """ℓ(θ)."""
        return self.evaluate(theta).loglik

    def value_and_grad(self, theta: ArrayLike) -> tuple[float, np.ndarray]:
        """(ℓ(θ), ∇_θ ℓ(θ))."""
        ev = self.evaluate(theta, grad=True)
        assert ev.grad is not None  # requested
        return ev.loglik, ev.grad

    def pointwise_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """log p(Y_i | G(θ)) for each observation i."""
        return self.pointwise_from_prediction(self.forward(theta))


class ThroughForwardMap(EvaluatedLikelihood):
    """What every likelihood of a residual r = Y − G(θ) derives from its
    ``loglik_from_prediction``, ``pointwise_from_prediction`` and ``_score(r)`` (∂ℓ/∂G): the
    evaluation through the forward map, with ∇ℓ(θ) = J(θ)ᵀ ∂ℓ/∂G by one adjoint solve."""

    if TYPE_CHECKING:  # what each subclass defines (the noise model)
        def loglik_from_prediction(self, prediction: np.ndarray) -> float: ...

        def pointwise_from_prediction(self, prediction: np.ndarray) -> np.ndarray: ...

        def _score(self, r: np.ndarray) -> np.ndarray: ...

    def evaluate(self, theta: ArrayLike, grad: bool = False) -> LikelihoodEvaluation:
        """ℓ(θ) with the prediction G(θ), and ∇ℓ(θ) when ``grad`` (one adjoint solve)."""
        if not grad:
            prediction = self.forward(theta)
            return LikelihoodEvaluation(self.loglik_from_prediction(prediction), None, prediction)
        prediction, pullback = self.forward.value_and_pullback(theta)
        g = pullback(self._score(self.data - prediction))
        return LikelihoodEvaluation(self.loglik_from_prediction(prediction), g, prediction)


class GaussianLikelihood(ThroughForwardMap):
    """Gaussian likelihood of data Y given θ through a forward map G.

    Parameters
    ----------
    forward : ForwardMap
        G, with ``output_dim`` = N.
    data : array_like, shape (N,)
        Observations Y; must be finite.
    noise_std : float
        σ > 0.
    """

    def __init__(self, forward: ForwardMap, data: ArrayLike, noise_std: float) -> None:
        if not isinstance(forward, ForwardMap):
            raise InvalidArgumentError(
                f"forward must be a bayesinv ForwardMap, got {type(forward).__name__}")
        self.forward = forward
        self.data = finite_vector("data", data, forward.output_dim)
        self.noise_std = positive_float("noise_std", noise_std)
        self._log_norm = -forward.output_dim * (np.log(self.noise_std) + 0.5 * np.log(2 * np.pi))

    def loglik_from_prediction(self, prediction: np.ndarray) -> float:
        r = self.data - prediction
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging chain gives -inf
            return float(-0.5 * (r @ r) / self.noise_std**2 + self._log_norm)

    def pointwise_from_prediction(self, prediction: np.ndarray) -> np.ndarray:
        """log N(Y_i; G(θ)_i, σ²) for each i (ArviZ's ``log_likelihood`` group)."""
        r = self.data - np.asarray(prediction)
        return -0.5 * (r / self.noise_std) ** 2 + self._log_norm / self.num_observations

    def _score(self, r: np.ndarray) -> np.ndarray:
        """∂ℓ/∂G = r / σ² at the residual r = Y − G(θ)."""
        return r / self.noise_std**2

    def simulate(self, theta: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set G(θ) + σ ε with ε ~ N(0, I)."""
        return simulate(self.forward, theta, self.noise_std, rng)

    def simulate_from_prediction(self, prediction: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set G + σ ε, ε ~ N(0, I), from a prediction G (posterior predictive)."""
        prediction = np.asarray(prediction, dtype=float)
        rng = np.random.default_rng(rng)
        return prediction + self.noise_std * rng.standard_normal(prediction.shape)


def simulate(forward: ForwardMap, theta: ArrayLike, noise_std: float,
             seed: Seed = None) -> np.ndarray:
    """Simulate data Y = G(θ) + σ ε, ε ~ N(0, I_N), reproducibly from ``seed``.

    Parameters
    ----------
    forward : ForwardMap
    theta : array_like
        The true parameter θ₀.
    noise_std : float
        σ > 0.
    seed : int, SeedSequence or Generator
    """
    noise_std = positive_float("noise_std", noise_std)
    rng = np.random.default_rng(seed)
    clean = forward(theta)
    return clean + noise_std * rng.standard_normal(clean.shape)


def signal_to_noise(clean: ArrayLike, noise_std: float, reference: float = 0.0) -> float:
    """‖G(θ₀) − reference‖_∞ / σ, the signal-to-noise ratio reported with every experiment."""
    return float(np.max(np.abs(np.asarray(clean) - reference)) / noise_std)
