"""The contracts between bayesinv's components, as :class:`typing.Protocol` classes.

The posterior of a Bayesian inverse problem is put together from three parts and sampled by a
fourth (Stuart 2010; Cotter, Roberts, Stuart & White 2013):

* a forward map G: R^p → R^N, θ ↦ G(θ), with the pullback w ↦ J(θ)ᵀ w for gradients
  (:class:`ForwardMapProtocol`; implemented by :class:`bayesinv.forward.ForwardMap`);
* a prior in whitened form θ = T(ξ), ξ ~ N(0, I_k) (:class:`PriorProtocol`; implemented by
  :class:`bayesinv.priors.WhitenedPrior`);
* a likelihood ℓ(θ) = log p(Y | G(θ)) with ∇_θ ℓ = J(θ)ᵀ ∂ℓ/∂G (:class:`LikelihoodProtocol`;
  :class:`bayesinv.GaussianLikelihood` and the classes of :mod:`bayesinv.likelihoods`);
* a sampling kernel: a Markov transition on ξ with ``init(position)`` and
  ``step(state, ...)`` (:class:`KernelProtocol`; the methods of
  :mod:`bayesinv.samplers.methods`).

Data members are read-only properties here, so that an implementation may hold them as
attributes or compute them. Each Protocol is ``runtime_checkable``:
``isinstance(obj, ForwardMapProtocol)`` checks that the members exist (not their signatures;
mypy checks those statically). Members that a component may lack raise :class:`TypeError`
when called, as the base classes do: a forward map's ``linearize``/``jvp`` where ``has_jvp``
is False and ``linearize_second_order`` where ``has_second_order`` is False, a prior's
``to_physical_jvp``, and ``logpdf``/``grad_logpdf`` for a prior with no density in θ
coordinates.

Array arguments are :data:`numpy.typing.ArrayLike` (converted and checked on entry); results
are :class:`numpy.ndarray` of float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .forward.base import SolveCounts
    from .likelihood import LikelihoodEvaluation

#: w ↦ J(θ)ᵀ w, from R^N to R^p (one adjoint solve per call)
Pullback: TypeAlias = Callable[[ArrayLike], np.ndarray]
#: v ↦ J(θ) v, from R^p to R^N (one tangent-linear solve per call)
Pushforward: TypeAlias = Callable[[ArrayLike], np.ndarray]


class Curvature(Protocol):
    """``curvature(w, gn_scale=0.0)``: the operator v ↦ (Σ_i w_i ∇²G_i(θ)) v + gn_scale · Jᵀ J v
    of a forward map's second-order linearisation (see
    :meth:`bayesinv.forward.ForwardMap.linearize_second_order`)."""

    def __call__(self, w: ArrayLike, gn_scale: float = 0.0) -> Pushforward: ...


#: what :func:`numpy.random.default_rng` accepts: None, an int (or ints), a SeedSequence, a
#: BitGenerator or a Generator
Seed: TypeAlias = (int | Sequence[int] | np.random.SeedSequence | np.random.BitGenerator
                   | np.random.Generator | None)
#: posterior draws: an ArviZ InferenceData, or an array shaped (chain, draw, ...)
Draws: TypeAlias = Any


@runtime_checkable
class ForwardMapProtocol(Protocol):
    """A forward map G: R^p → R^N (see :mod:`bayesinv.forward.base`)."""

    @property
    def input_dim(self) -> int:
        """p, the length of θ."""
        ...

    @property
    def output_dim(self) -> int:
        """N, the number of observations."""
        ...

    @property
    def counts(self) -> SolveCounts:
        """Numbers of forward, adjoint and tangent solves so far."""
        ...

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        """G(θ), shape (N,): one forward solve."""
        ...

    def value_and_pullback(self, theta: ArrayLike) -> tuple[np.ndarray, Pullback]:
        """(G(θ), w ↦ J(θ)ᵀ w)."""
        ...

    @property
    def has_jvp(self) -> bool:
        """Whether :meth:`linearize` and :meth:`jvp` are available."""
        ...

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """(G(θ), v ↦ J(θ) v, w ↦ J(θ)ᵀ w) sharing one factorisation (if ``has_jvp``)."""
        ...

    def jvp(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J(θ) v (if ``has_jvp``)."""
        ...

    @property
    def has_second_order(self) -> bool:
        """Whether :meth:`linearize_second_order` is available (full Hessians)."""
        ...

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        """(G(θ), jvp, pullback, curvature) sharing one factorisation (if
        ``has_second_order``)."""
        ...


@runtime_checkable
class PriorProtocol(Protocol):
    """A prior as a transport of white noise, θ = T(ξ), ξ ~ N(0, I_k) (see
    :mod:`bayesinv.priors.base`)."""

    @property
    def dim(self) -> int:
        """p, the length of θ."""
        ...

    @property
    def latent_dim(self) -> int:
        """k, the length of ξ."""
        ...

    @property
    def is_linear(self) -> bool:
        """Whether T is affine (a Gaussian prior): exact linear–Gaussian formulas apply."""
        ...

    def to_physical(self, xi: ArrayLike) -> np.ndarray:
        """θ = T(ξ); ``xi`` may have leading batch dimensions (..., k)."""
        ...

    def to_physical_rows(self, xi: ArrayLike) -> np.ndarray:
        """T(ξ) row by row, each row's value independent of the batch size."""
        ...

    def to_physical_vjp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J_T(ξ)ᵀ v for v of length p."""
        ...

    def to_physical_jvp(self, xi: ArrayLike, v: ArrayLike) -> np.ndarray:
        """J_T(ξ) v for v of length k."""
        ...

    def map_start(self) -> np.ndarray:
        """Where MAP searches start by default (length k)."""
        ...

    def sample_latent(self, rng: Seed = None, size: int | None = None) -> np.ndarray:
        """ξ ~ N(0, I_k): shape (k,) or (size, k)."""
        ...

    def sample(self, rng: Seed = None, size: int | None = None) -> np.ndarray:
        """θ = T(ξ), ξ ~ N(0, I_k): shape (p,) or (size, p)."""
        ...

    def logpdf_latent(self, xi: ArrayLike) -> float:
        """log N(ξ; 0, I_k)."""
        ...

    def logpdf(self, theta: ArrayLike) -> float:
        """log density of θ, where the prior has one in θ coordinates."""
        ...

    def grad_logpdf(self, theta: ArrayLike) -> np.ndarray:
        """∇_θ log p(θ), where the prior has a density in θ coordinates."""
        ...


@runtime_checkable
class LikelihoodProtocol(Protocol):
    """ℓ(θ) = log p(Y | G(θ)) for data Y ∈ R^N and a forward map G (see
    :mod:`bayesinv.likelihoods.base`)."""

    @property
    def forward(self) -> ForwardMapProtocol:
        """G."""
        ...

    @property
    def data(self) -> np.ndarray:
        """Y, shape (N,)."""
        ...

    @property
    def noise_std(self) -> float:
        """The σ whose iid Gaussian noise has the same curvature at r = 0 (step-size rules)."""
        ...

    @property
    def num_observations(self) -> int:
        """N."""
        ...

    def evaluate(self, theta: ArrayLike, grad: bool = False) -> LikelihoodEvaluation:
        """ℓ(θ), ∇ℓ(θ) if ``grad`` (else None) and G(θ)."""
        ...

    def loglik_from_prediction(self, prediction: np.ndarray) -> float:
        """ℓ as a function of a prediction G."""
        ...

    def pointwise_from_prediction(self, prediction: np.ndarray) -> np.ndarray:
        """One log-likelihood value per observation (ArviZ's ``log_likelihood`` group)."""
        ...

    def simulate(self, theta: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set drawn from p(· | G(θ))."""
        ...

    def simulate_from_prediction(self, prediction: ArrayLike, rng: Seed = None) -> np.ndarray:
        """A new data set drawn from p(· | G) for a prediction G."""
        ...


@runtime_checkable
class KernelProtocol(Protocol):
    """A Markov transition on the whitened coordinates ξ, as the samplers drive it.

    ``init(position)`` returns the kernel state at ξ (with whatever the method records there,
    e.g. the prediction G(T(ξ))); ``step(state, ...)`` returns the next state and its
    statistics. The arguments after ``state`` (the scale parameter, the random generator) are
    each method's own (:mod:`bayesinv.samplers.methods`).
    """

    def init(self, position: np.ndarray, /, *args: Any, **kwargs: Any) -> Any:
        """The kernel state at ``position``."""
        ...

    def step(self, state: Any, /, *args: Any, **kwargs: Any) -> Any:
        """One transition from ``state``."""
        ...


__all__ = [
    "Curvature",
    "Draws",
    "ForwardMapProtocol",
    "KernelProtocol",
    "LikelihoodProtocol",
    "PriorProtocol",
    "Pullback",
    "Pushforward",
    "Seed",
]
