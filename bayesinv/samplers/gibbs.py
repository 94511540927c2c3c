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
kernels, the new gradient (one forward and one adjoint solve, unless the last accepted τ
proposal already computed them). The kernel's step-size adaptation is unchanged.

The state carries h and the prediction; the driver records h per kept draw (``hyper``) and
:func:`draw_groups` turns it into one posterior variable per block (``sigma``, ``tau``), θ and
the ``log_likelihood`` values at each draw's own h. ``lp`` in ``sample_stats`` is the log
density of ξ given the draw's h.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InvalidArgumentError


def blocks_of(posterior) -> list:
    """The hyperparameter blocks of a posterior (likelihood's first, then the prior's)."""
    blocks = []
    for part in (posterior.likelihood, posterior.prior):
        if callable(getattr(part, "gibbs_blocks", None)):
            blocks.extend(part.gibbs_blocks())
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

    inner: object
    hyper: np.ndarray
    prediction: np.ndarray

    @property
    def position(self):
        return self.inner.position


class GibbsMethod:
    """A method followed by hyperparameter updates (module docstring); anything else is the
    wrapped method's."""

    def __init__(self, inner, blocks):
        self.inner, self.blocks = inner, list(blocks)

    def __getattr__(self, name):
        if name in ("inner", "blocks"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def condition(self, hyper) -> None:
        for block, value in zip(self.blocks, hyper, strict=True):
            block.set(value)

    def initial_hyper(self) -> np.ndarray:
        return np.array([b.initial for b in self.blocks], dtype=float)

    def init(self, position):
        hyper = self.initial_hyper()
        self.condition(hyper)
        state, prediction = self.inner.init(position)
        return GibbsState(state, hyper, prediction), prediction

    def step(self, state, parameter, rng):
        inner_method = self.inner
        target = inner_method.target
        like = target.likelihood
        self.condition(state.hyper)
        inner, stats, new_prediction = inner_method.step(state.inner, parameter, rng)
        prediction = state.prediction if new_prediction is None else new_prediction
        xi = inner.position
        hyper = state.hyper.copy()
        fresh, changed = None, False
        for j, block in enumerate(self.blocks):
            if block.kind == "conjugate":
                hyper[j] = block.draw(prediction, rng)
                block.set(hyper[j])
                fresh, changed = None, True
                continue
            current = like.loglik_from_prediction(prediction)
            proposal, log_prior_ratio = block.propose(hyper[j], rng)
            block.set(proposal)
            ev = target.evaluate(xi, grad=inner_method.uses_gradient)
            if ev.failure is None and np.log(rng.uniform()) < (ev.loglik - current
                                                               + log_prior_ratio):
                hyper[j], prediction, fresh, changed = proposal, ev.prediction, ev, True
            else:
                block.set(hyper[j])
            moved = block.recentre(hyper[j], xi, rng) if hasattr(block, "recentre") else None
            if moved is not None:  # θ and the prediction unchanged, ξ and h_j move
                hyper[j], xi = moved
                block.set(hyper[j])
                fresh, changed = None, True
        if changed:
            if inner_method.uses_gradient:
                if fresh is None:
                    fresh = target.evaluate(xi, grad=True)
                logdensity, grad = fresh.logdensity, fresh.grad
            else:
                logdensity = like.loglik_from_prediction(prediction) - 0.5 * float(xi @ xi)
                grad = None
            inner = inner_method._state_from(xi, logdensity, grad)
            stats = stats._replace(lp=float(logdensity))
        return GibbsState(inner, hyper, prediction), stats, prediction

    def state_to_arrays(self, state) -> dict:
        out = {f"inner.{k}": v for k, v in self.inner.state_to_arrays(state.inner).items()}
        out.update(hyper=np.asarray(state.hyper), prediction=np.asarray(state.prediction))
        return out

    def state_from_arrays(self, arrays: dict):
        inner = self.inner.state_from_arrays(
            {k[len("inner."):]: v for k, v in arrays.items() if k.startswith("inner.")})
        return GibbsState(inner, np.asarray(arrays["hyper"], dtype=float),
                          np.asarray(arrays["prediction"], dtype=float))


def with_hyperparameters(posterior, method):
    """``method`` wrapped in a :class:`GibbsMethod` when the posterior has hyperparameters."""
    blocks = blocks_of(posterior)
    return GibbsMethod(method, blocks) if blocks else method


def draw_groups(posterior, arrays: dict, store_theta: bool) -> tuple[dict, np.ndarray | None]:
    """(posterior variables, pointwise log-likelihood) of draws with hyperparameters: ξ, each
    block's variable, θ and log p(Y_i | …) at each draw's own h (the model objects are
    conditioned draw by draw and left at the blocks' initial values)."""
    blocks = blocks_of(posterior)
    xi, hyper, pred = arrays["xi"], arrays["hyper"], arrays.get("prediction")
    post = {"xi": xi}
    for j, block in enumerate(blocks):
        post[block.name] = hyper[..., j]
    chains, draws = xi.shape[:2]
    theta = np.empty((chains, draws, posterior.prior.dim)) if store_theta else None
    loglik = None if pred is None else np.empty(pred.shape)
    try:
        for c in range(chains):
            for d in range(draws):
                for block, value in zip(blocks, hyper[c, d], strict=True):
                    block.set(value)
                if store_theta:
                    theta[c, d] = posterior.prior.to_physical(xi[c, d])
                if loglik is not None:
                    loglik[c, d] = posterior.likelihood.pointwise_from_prediction(pred[c, d])
    finally:
        for block in blocks:
            block.set(block.initial)
    if store_theta:
        post["theta"] = theta
    return post, loglik
