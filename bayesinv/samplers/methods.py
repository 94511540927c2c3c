"""Sampling methods for targets evaluated in Python (PDE forward maps): the interpreted loop.

Each method wraps a numba kernel: the kernel proposes (numba), the target is evaluated in
Python (one PDE solve, plus one adjoint solve for gradient methods), and the kernel accepts
or updates (numba). A method object holds the validated tuning parameters; ``init`` and
``step`` return the kernel state, the per-step statistics and the prediction G(θ) at the
current state (for ArviZ's ``log_likelihood`` group).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import float_in_interval, positive_float
from ..errors import ForwardSolveError, InvalidArgumentError
from ..posterior import WhitenedPosterior
from .kernels import pcn, ula


class StepStats(NamedTuple):
    """Per-step statistics, with ArviZ's names: lp, acceptance_rate, diverging."""

    lp: float
    acceptance_rate: float
    diverging: bool


def _initial_evaluation(target: WhitenedPosterior, position: np.ndarray, grad: bool):
    ev = target.evaluate(position, grad=grad)
    if ev.failure is not None:
        raise ForwardSolveError(f"the initial position is not usable: {ev.failure}")
    return ev


class ULA:
    """Unadjusted Langevin algorithm (see :mod:`bayesinv.samplers.kernels.ula`).

    ``sqrt_precond`` is R with C = R Rᵀ a constant preconditioner (None: identity).
    ``acceptance_rate`` is 1 for every step taken and 0 for a diverging step.
    """

    name = "ula"
    uses_gradient = True

    def __init__(self, target: WhitenedPosterior, *, step_size, sqrt_precond=None):
        if step_size is None:
            raise InvalidArgumentError(
                "method='ula' needs step_size (δ > 0), e.g. a small fraction of 1/λ_max of the "
                "posterior Hessian in whitened coordinates (or ~0.1 with "
                "preconditioner='laplace')")
        self.target = target
        self.step_size = positive_float("step_size", step_size)
        self.sqrt_precond = sqrt_precond

    @property
    def parameters(self) -> dict:
        return {"step_size": self.step_size}

    def init(self, position):
        ev = _initial_evaluation(self.target, position, grad=True)
        return ula.init(position, ev.logdensity, ev.grad), ev.prediction

    def step(self, state, rng):
        if self.sqrt_precond is None:
            proposal = ula.propose(state, self.step_size, rng)
        else:
            proposal = ula.propose_preconditioned(state, self.step_size, self.sqrt_precond, rng)
        ev = self.target.evaluate(proposal, grad=True)
        grad = ev.grad if ev.grad is not None else np.full_like(proposal, np.nan)
        state, info = ula.update(state, proposal, ev.logdensity, grad)
        stats = StepStats(state.logdensity, 0.0 if info.diverging else 1.0, info.diverging)
        return state, stats, None if info.diverging else ev.prediction


class PCN:
    """Preconditioned Crank–Nicolson (see :mod:`bayesinv.samplers.kernels.pcn`).

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "pcn"
    uses_gradient = False

    def __init__(self, target: WhitenedPosterior, *, beta):
        if beta is None:
            raise InvalidArgumentError("method='pcn' needs beta in (0, 1], e.g. beta=0.1")
        self.target = target
        self.beta = float_in_interval("beta", beta, 0.0, 1.0)

    @property
    def parameters(self) -> dict:
        return {"beta": self.beta, "step_size": self.beta}

    def init(self, position):
        ev = _initial_evaluation(self.target, position, grad=False)
        return pcn.init(position, ev.loglik), ev.prediction

    def step(self, state, rng):
        proposal = pcn.propose(state, self.beta, rng)
        ev = self.target.evaluate(proposal)
        state, info = pcn.accept(state, proposal, ev.loglik, rng)
        lp = state.loglik - 0.5 * float(state.position @ state.position)
        stats = StepStats(lp, info.acceptance_rate, info.diverging)
        return state, stats, ev.prediction if info.is_accepted else None


METHODS = {"ula": ULA, "pcn": PCN}


def make_method(name: str, target: WhitenedPosterior, *, step_size=None, beta=None,
                sqrt_precond=None):
    """Instantiate a method by name, rejecting tuning parameters that do not belong to it."""
    if name not in METHODS:
        raise InvalidArgumentError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    if name == "ula":
        if beta is not None:
            raise InvalidArgumentError("beta is a pCN parameter; ULA takes step_size")
        return ULA(target, step_size=step_size, sqrt_precond=sqrt_precond)
    if step_size is not None:
        raise InvalidArgumentError("step_size is not a pCN parameter; pCN takes beta")
    return PCN(target, beta=beta)
