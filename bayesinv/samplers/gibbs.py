r"""Metropolis-within-Gibbs: hyperparameter blocks after each step of any kernel.

A posterior whose likelihood or prior has hyperparameters (``gibbs_blocks()``: an unknown σ,
:class:`~bayesinv.likelihoods.UnknownNoiseLikelihood`; an unknown prior amplitude τ,
:class:`~bayesinv.hierarchical.ScaledPrior`) is sampled by the systematic-scan Gibbs sampler

    ξ ~ K_h(ξ, ·)  (the chosen kernel — pCN, MALA, … — on π(ξ | h, Y), h fixed),
    h_j ~ π(h_j | ξ, h_{-j}, Y)  (conjugate draw, or a Metropolis step on log h_j),
    (h_j, ξ) ← a block's ``recentre`` draw, if it has one: h_j from its conditional given
              θ (not ξ), ξ moved so that θ is unchanged (interweaving, Yu & Meng 2011),

each part leaving the joint posterior π(ξ, h | Y) invariant, hence their composition too
(Tierney 1994; Roberts & Rosenthal 2004 for Metropolis-within-Gibbs). :class:`GibbsMethod`
wraps a :class:`~bayesinv.samplers.methods.Method` without changing it: it conditions the
shared model objects on the chain's h before the kernel step (chains of the interpreted loop
run one at a time), and after the hyperparameter updates rebuilds the kernel state at the
same ξ with the new log density (from the stored prediction G(θ), no solve) and, for gradient
kernels, the new gradient. That gradient needs no solve when the updates say how the
likelihood's gradient ∇_ξ log p(Y | ξ, h) changed: a Metropolis proposal that is accepted
was evaluated with its gradient; a conjugate σ draw of a Gaussian likelihood that is the
whole likelihood scales it by σ²/σ′² (θ fixed); an interweaving move scales it by τ′/τ
(θ fixed, ξ′ = (τ/τ′) ξ). Only after an update that does not say (σ of one part of a
:class:`~bayesinv.likelihoods.JointLikelihood`) is one forward and one adjoint solve spent.
The kernel's step-size adaptation is unchanged.

The state carries h and the prediction; the driver records h per kept draw (``hyper``) and
:func:`draw_groups` turns it into one posterior variable per block (``sigma``, ``tau``), θ and
the ``log_likelihood`` values at each draw's own h. ``lp`` in ``sample_stats`` is the log
density of ξ given the draw's h.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from ..posterior import Posterior
    from ..protocols import LikelihoodProtocol
    from .kernels._common import GradientState
    from .methods import Method, StepStats

M = TypeVar("M", bound="Method")


def blocks_of(posterior: Posterior) -> list[Any]:
    """The hyperparameter blocks of a posterior (likelihood's first, then the prior's)."""
    blocks = []
    for part in (posterior.likelihood, posterior.prior):
        own = getattr(part, "gibbs_blocks", None)
        if callable(own):
            blocks.extend(own())
    names = [b.name for b in blocks]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(
            f"hyperparameters need distinct names (InferenceData variables); got {names}: "
            f"pass name=... to UnknownNoiseLikelihood / ScaledPrior")
    clash = {"xi", "theta"} & set(names)
    if clash:
        raise InvalidArgumentError(f"hyperparameter names {sorted(clash)} are reserved")
    return blocks


class GibbsState(NamedTuple):
    """The kernel's state, the hyperparameters h (one per block) and G(θ) at (ξ, h)."""

    inner: Any
    hyper: NDArray[np.float64]
    prediction: NDArray[np.float64]

    @property
    def position(self) -> NDArray[np.float64]:
        """ξ, the wrapped kernel's position."""
        return self.inner.position


class GibbsMethod:
    """A method followed by hyperparameter updates (module docstring); anything else is the
    wrapped method's.

    The blocks (:class:`~bayesinv.likelihoods.noise.NoiseBlock`,
    :class:`~bayesinv.hierarchical.ScaleBlock`, :class:`~bayesinv.hierarchical.LengthScaleBlock`)
    have ``name``, ``initial``, ``kind`` and ``set(h)`` (condition the model objects on h_j).
    ``kind == "conjugate"`` blocks have ``draw(prediction, rng) -> h`` (from h_j | θ, Y) and
    ``loglik_gradient_factor(old, new, size)``: the factor by which that draw multiplies
    ∇_ξ log p(Y | ξ, h) at fixed ξ, or None when it does not simply scale. The others have
    ``propose(h, rng) -> (h', log hyperprior ratio)`` for a Metropolis step on h_j, and may
    have ``recentre(h, ξ, rng) -> (h', ξ', factor) | None``, a move keeping θ fixed that
    multiplies ∇_ξ log p(Y | ξ, h) by ``factor``.
    """

    def __init__(self, inner: Method, blocks: list[Any], likelihood: LikelihoodProtocol) -> None:
        self.inner, self.blocks, self.likelihood = inner, list(blocks), likelihood

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "blocks", "likelihood"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def condition(self, hyper: NDArray[np.float64]) -> None:
        """Set every block's value (the shared model objects) to the chain's h."""
        for block, value in zip(self.blocks, hyper, strict=True):
            block.set(value)

    def initial_hyper(self) -> NDArray[np.float64]:
        """The blocks' starting values."""
        return np.array([b.initial for b in self.blocks], dtype=float)

    def init(self, position: NDArray[np.float64]) -> tuple[GibbsState, NDArray[np.float64]]:
        """The state at ξ = ``position`` and h at its initial values, and G(θ) there."""
        hyper = self.initial_hyper()
        self.condition(hyper)
        state, prediction = self.inner.init(position)
        if prediction is None:
            raise InvalidArgumentError(
                "hyperparameter blocks need the prediction G(θ) of the Python target; a "
                "compiled target gives none (use loop='interpreted' without compiled=...)")
        return GibbsState(state, hyper, prediction), prediction

    def step(self, state: GibbsState, parameter: float, rng: np.random.Generator
             ) -> tuple[GibbsState, StepStats, NDArray[np.float64]]:
        """One kernel step at the chain's h, then the scan over the blocks (module
        docstring); returns the new state, the step's statistics and G(θ)."""
        inner_method = self.inner
        target = inner_method.target
        like = self.likelihood
        uses_gradient = inner_method.uses_gradient
        self.condition(state.hyper)
        inner, stats, new_prediction = inner_method.step(state.inner, parameter, rng)
        prediction = state.prediction if new_prediction is None else new_prediction
        xi = inner.position
        hyper = state.hyper.copy()
        # ∇_ξ log p(Y | ξ, h) at the current (ξ, h), or None once an update leaves it unknown
        loglik_grad = cast("GradientState", inner).grad + xi if uses_gradient else None
        changed = False
        for j, block in enumerate(self.blocks):
            if block.kind == "conjugate":
                old, hyper[j] = hyper[j], block.draw(prediction, rng)
                block.set(hyper[j])
                factor = block.loglik_gradient_factor(old, hyper[j], prediction.size)
                loglik_grad = None if factor is None or loglik_grad is None else (
                    factor * loglik_grad)
                changed = True
                continue
            current = like.loglik_from_prediction(prediction)
            proposal, log_prior_ratio = block.propose(hyper[j], rng)
            block.set(proposal)
            ev = target.evaluate(xi, grad=uses_gradient)
            if (ev.failure is None and ev.prediction is not None
                    and np.log(rng.uniform()) < ev.loglik - current + log_prior_ratio):
                hyper[j], prediction, changed = proposal, ev.prediction, True
                loglik_grad = None if ev.grad is None else ev.grad + xi
            else:
                block.set(hyper[j])
            moved = block.recentre(hyper[j], xi, rng) if hasattr(block, "recentre") else None
            if moved is not None:  # θ and the prediction unchanged, ξ and h_j move
                hyper[j], xi, factor = moved
                block.set(hyper[j])
                loglik_grad = None if loglik_grad is None else factor * loglik_grad
                changed = True
        if changed:
            logdensity = like.loglik_from_prediction(prediction) - 0.5 * float(xi @ xi)
            grad = None
            if uses_gradient:
                if loglik_grad is None:
                    fresh = target.evaluate(xi, grad=True)
                    logdensity, grad = fresh.logdensity, fresh.grad
                else:
                    grad = loglik_grad - xi
            inner = inner_method._state_from(xi, logdensity, grad)
            stats = stats._replace(lp=float(logdensity))
        return GibbsState(inner, hyper, prediction), stats, prediction

    def state_to_arrays(self, state: GibbsState) -> dict[str, NDArray[Any]]:
        """The state as named arrays (checkpoints): the kernel's under ``inner.``."""
        out = {f"inner.{k}": v for k, v in self.inner.state_to_arrays(state.inner).items()}
        out.update(hyper=np.asarray(state.hyper), prediction=np.asarray(state.prediction))
        return out

    def state_from_arrays(self, arrays: dict[str, NDArray[Any]]) -> GibbsState:
        """The inverse of :meth:`state_to_arrays`."""
        inner = self.inner.state_from_arrays(
            {k[len("inner."):]: v for k, v in arrays.items() if k.startswith("inner.")})
        return GibbsState(inner, np.asarray(arrays["hyper"], dtype=float),
                          np.asarray(arrays["prediction"], dtype=float))


def with_hyperparameters(posterior: Posterior, method: M) -> M:
    """``method`` wrapped in a :class:`GibbsMethod` when the posterior has hyperparameters.

    The wrapper forwards every attribute but ``init``, ``step`` and the state's array form to
    the method, so callers use it as the method: it is typed as one."""
    blocks = blocks_of(posterior)
    return cast(M, GibbsMethod(method, blocks, posterior.likelihood)) if blocks else method


def draw_groups(posterior: Posterior, arrays: dict[str, NDArray[Any]], store_theta: bool
                ) -> tuple[dict[str, NDArray[Any]], NDArray[np.float64] | None]:
    """(posterior variables, pointwise log-likelihood) of draws with hyperparameters: ξ, each
    block's variable, θ and log p(Y_i | …) at each draw's own h (the model objects are
    conditioned draw by draw and left at the blocks' initial values)."""
    blocks = blocks_of(posterior)
    xi, hyper, pred = arrays["xi"], arrays["hyper"], arrays.get("prediction")
    post = {"xi": xi}
    for j, block in enumerate(blocks):
        post[block.name] = hyper[..., j]
    chains, draws = xi.shape[:2]
    theta = np.empty((chains, draws, posterior.prior.dim if store_theta else 0))
    loglik = np.empty((chains, draws, 0) if pred is None else pred.shape)
    try:
        for c in range(chains):
            for d in range(draws):
                for block, value in zip(blocks, hyper[c, d], strict=True):
                    block.set(value)
                if store_theta:
                    theta[c, d] = posterior.prior.to_physical(xi[c, d])
                if pred is not None:
                    loglik[c, d] = posterior.likelihood.pointwise_from_prediction(pred[c, d])
    finally:
        for block in blocks:
            block.set(block.initial)
    if store_theta:
        post["theta"] = theta
    return post, None if pred is None else loglik
