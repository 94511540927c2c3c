r"""The likelihood contract, and a base class that derives it from ℓ as a function of G(θ).

Every likelihood here is ℓ(θ) = log p(Y | G(θ)) for data Y ∈ R^N and a forward map G, so
its gradient is the forward map's pullback of the *score* s = ∂ℓ/∂G:

.. math:: ∇_θ ℓ(θ) = J(θ)^T s(G(θ)),

one forward and one adjoint solve. A :class:`Likelihood` (the :class:`typing.Protocol`
:class:`bayesinv.protocols.LikelihoodProtocol`, checked by :class:`~bayesinv.Posterior`) provides

* ``forward``, ``data``, ``num_observations``;
* ``evaluate(theta, grad=False) -> LikelihoodEvaluation`` (ℓ, ∇ℓ or None, G(θ));
* ``loglik_from_prediction(G)`` and ``pointwise_from_prediction(G)`` (one value per observation,
  ArviZ's ``log_likelihood`` group; for a non-factorised noise model the leave-one-out
  conditional log p(Y_i | Y_{-i}, θ), Bürkner, Gabry & Vehtari 2021);
* ``simulate(theta, rng)`` and ``simulate_from_prediction(G, rng)``: a new data set;
* ``noise_std``: the scalar σ the Gauss–Newton step-size rules use (:mod:`bayesinv.samplers.
  tuning`); for non-Gaussian noise the σ whose Gaussian has the same curvature at r = 0.

:class:`~bayesinv.GaussianLikelihood` satisfies it; :class:`PredictionLikelihood` implements
all but the noise model itself (``_loglik``, ``_score``, ``_pointwise``, ``_noise``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .._validation import finite_vector
from ..errors import InvalidArgumentError
from ..forward.base import ForwardMap
from ..likelihood import ThroughForwardMap
from ..protocols import LikelihoodProtocol, Seed

#: the contract (module docstring), :class:`bayesinv.protocols.LikelihoodProtocol`
Likelihood = LikelihoodProtocol


def check_forward(forward: object) -> ForwardMap:
    if not isinstance(forward, ForwardMap):
        raise InvalidArgumentError(
            f"forward must be a bayesinv ForwardMap, got {type(forward).__name__}")
    return forward


class PredictionLikelihood(ThroughForwardMap):
    """Base class: a likelihood given by its noise model as a function of the residual
    r = Y − G(θ). Subclasses define ``_loglik(r)`` (float), ``_score(r)`` (∂ℓ/∂G, length N),
    ``_pointwise(r)`` (length N, broadcasting over leading axes) and ``_noise(rng, shape)``
    (a draw of Y − G)."""

    #: set by each subclass (see :class:`~bayesinv.protocols.LikelihoodProtocol`)
    noise_std: float

    def __init__(self, forward: ForwardMap, data: ArrayLike) -> None:
        self.forward = check_forward(forward)
        self.data = finite_vector("data", data, forward.output_dim)

    if TYPE_CHECKING:  # the noise model, defined by each subclass
        def _loglik(self, r: np.ndarray) -> float: ...

        def _pointwise(self, r: np.ndarray) -> np.ndarray: ...

        def _noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray: ...

    def loglik_from_prediction(self, prediction: np.ndarray) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging chain gives -inf
            value = float(self._loglik(self.data - prediction))
        return value if not np.isnan(value) else -np.inf

    def pointwise_from_prediction(self, prediction: np.ndarray) -> np.ndarray:
        return self._pointwise(self.data - np.asarray(prediction))

    def simulate_from_prediction(self, prediction: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set G + noise (noise from this model)."""
        prediction = np.asarray(prediction, dtype=float)
        return prediction + self._noise(np.random.default_rng(rng), prediction.shape)

    def simulate(self, theta: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set G(θ) + noise."""
        return self.simulate_from_prediction(self.forward(theta), rng)
