r"""Several data sets in one posterior: a sum of likelihoods with their own forward maps.

Independent experiments k = 1..K observe the same θ through their own forward maps G_k,
designs and noise models:

.. math:: ℓ(θ) = \sum_k ℓ_k(θ), \qquad ∇ℓ(θ) = \sum_k J_k(θ)^T s_k,

each term one forward (and one adjoint) solve of its own map. :class:`JointLikelihood` is itself
a :class:`~bayesinv.protocols.LikelihoodProtocol` whose ``forward`` is the
:class:`StackedForwardMap` of the components (predictions and data concatenated in order), so
the samplers, the ArviZ groups (one ``observation`` per entry of the concatenated data) and the
solve counts (the sum of the components') need nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from .._validation import real_array
from ..errors import InvalidArgumentError
from ..forward.base import ForwardMap, SolveCounts
from ..likelihood import EvaluatedLikelihood, LikelihoodEvaluation
from ..protocols import ForwardMapProtocol, LikelihoodProtocol, Pullback, Pushforward, Seed


def _total(parts: Iterable[Any]) -> np.ndarray:
    """The components' vectors added in order (the builtin ``sum``, typed)."""
    return cast(np.ndarray, sum(parts))


class StackedForwardMap(ForwardMap):
    """θ ↦ (G_1(θ), …, G_K(θ)); ``counts`` is the sum of the components' counts."""

    def __init__(self, maps: Iterable[ForwardMapProtocol]) -> None:
        maps = list(maps)
        if not maps or not all(isinstance(m, ForwardMap) for m in maps):
            raise InvalidArgumentError("StackedForwardMap needs a non-empty list of ForwardMaps")
        dims = {m.input_dim for m in maps}
        if len(dims) != 1:
            raise InvalidArgumentError(
                f"the forward maps of a joint likelihood must share the parameter θ; their "
                f"input dimensions are {[m.input_dim for m in maps]}")
        self.maps = maps
        self.input_dim = dims.pop()
        sizes = [m.output_dim for m in maps]
        self.output_dim = int(sum(sizes))
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)

    @property
    def counts(self) -> SolveCounts:
        total = SolveCounts()
        for m in self.maps:
            total.forward += m.counts.forward
            total.adjoint += m.counts.adjoint
            total.tangent += m.counts.tangent
        return total

    def split(self, y: np.ndarray) -> list[np.ndarray]:
        """The components' parts of a stacked vector (or of rows (..., N))."""
        return [y[..., lo:hi] for lo, hi in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        return np.concatenate([m(theta) for m in self.maps])

    def value_and_pullback(self, theta: ArrayLike) -> tuple[np.ndarray, Pullback]:
        pairs = [m.value_and_pullback(theta) for m in self.maps]

        def pullback(w: ArrayLike) -> np.ndarray:
            w = self._check_output(w)
            return _total(pb(part) for (_, pb), part in zip(pairs, self.split(w), strict=True))

        return np.concatenate([y for y, _ in pairs]), pullback

    @property
    def has_jvp(self) -> bool:
        return all(m.has_jvp for m in self.maps)

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        if not self.has_jvp:
            return ForwardMap.linearize(self, theta)
        parts = [m.linearize(theta) for m in self.maps]

        def jvp(v: ArrayLike) -> np.ndarray:
            return np.concatenate([j(v) for _, j, _ in parts])

        def pullback(w: ArrayLike) -> np.ndarray:
            w = self._check_output(w)
            return _total(pb(part) for (_, _, pb), part in zip(parts, self.split(w), strict=True))

        return np.concatenate([y for y, _, _ in parts]), jvp, pullback

    def fingerprint(self) -> list[list[Any]]:
        """What identifies the stacked map (for checkpoints)."""
        out = []
        for m in self.maps:
            item = [type(m).__qualname__, m.input_dim, m.output_dim]
            for name in ("matrix", "offset", "design"):
                value = getattr(m, name, None)
                if isinstance(value, np.ndarray):
                    item.append(value)
            own = getattr(m, "fingerprint", None)
            if callable(own):
                item.append(own())
            out.append(item)
        return out


class JointLikelihood(EvaluatedLikelihood):
    """ℓ = Σ_k ℓ_k for independent data sets (module docstring).

    Parameters
    ----------
    likelihoods : sequence of Likelihood
        The experiments, each with its own forward map (sharing θ), data and noise model;
        unknown-σ components (:class:`~.noise.UnknownNoiseLikelihood`) each get their own σ,
        which must then have distinct ``name``.
    """

    forward: StackedForwardMap

    def __init__(self, likelihoods: Iterable[LikelihoodProtocol]) -> None:
        likelihoods = list(likelihoods)
        if not likelihoods:
            raise InvalidArgumentError("likelihoods must be a non-empty list")
        for i, like in enumerate(likelihoods):
            if not isinstance(like, LikelihoodProtocol):
                raise InvalidArgumentError(
                    f"likelihoods[{i}] must be a bayesinv likelihood, got {type(like).__name__}")
            if like.data.shape != (like.forward.output_dim,):
                raise InvalidArgumentError(
                    f"likelihoods[{i}]: data has length {like.data.shape[0]}, its forward map "
                    f"{like.forward.output_dim} outputs")
        self.components = likelihoods
        self.forward = StackedForwardMap([like.forward for like in likelihoods])
        self.data = np.concatenate([like.data for like in likelihoods])

    @property
    def noise_std(self) -> float:
        """The smallest component σ (the Gauss–Newton rules' bound on the data curvature)."""
        return float(min(like.noise_std for like in self.components))

    @property
    def initial(self) -> float:
        """``noise_std`` at the components' starting σ (what identifies the problem)."""
        return float(min(getattr(like, "initial", like.noise_std) for like in self.components))

    def loglik_from_prediction(self, prediction: ArrayLike) -> float:
        parts = self.forward.split(np.asarray(prediction))
        return float(sum(like.loglik_from_prediction(p)
                         for like, p in zip(self.components, parts, strict=True)))

    def pointwise_from_prediction(self, prediction: ArrayLike) -> np.ndarray:
        parts = self.forward.split(np.asarray(prediction))
        return np.concatenate([like.pointwise_from_prediction(p)
                               for like, p in zip(self.components, parts, strict=True)], axis=-1)

    def evaluate(self, theta: ArrayLike, grad: bool = False) -> LikelihoodEvaluation:
        evs = [like.evaluate(theta, grad=grad) for like in self.components]
        loglik = float(sum(ev.loglik for ev in evs))
        prediction = np.concatenate([ev.prediction for ev in evs])
        return LikelihoodEvaluation(loglik, _total(ev.grad for ev in evs) if grad else None,
                                    prediction)

    def simulate_from_prediction(self, prediction: ArrayLike, rng: Seed = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        parts = self.forward.split(real_array("prediction", prediction))
        return np.concatenate([like.simulate_from_prediction(p, rng)
                               for like, p in zip(self.components, parts, strict=True)], axis=-1)

    def simulate(self, theta: ArrayLike, rng: Seed = None) -> np.ndarray:
        return self.simulate_from_prediction(self.forward(theta), rng)

    def gibbs_blocks(self, offset: int = 0) -> list:
        blocks = []
        for like, lo in zip(self.components, self.forward.offsets[:-1], strict=True):
            own = getattr(like, "gibbs_blocks", None)
            if callable(own):
                blocks.extend(own(offset + int(lo)))
        return blocks
