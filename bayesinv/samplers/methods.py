"""Sampling methods: a numba kernel plus the Python target evaluation between its halves.

Each method wraps one kernel of :mod:`bayesinv.samplers.kernels`: the kernel proposes
(numba), the target is evaluated in Python (one PDE solve, plus one adjoint solve for
gradient methods), and the kernel accepts or updates (numba). Every kernel's halves take the
same arguments (the protocol of :mod:`.kernels._common`), so this interpreted step is written
once, :meth:`Method.step`; the compiled loop calls the same kernel functions through the
kernel's ``step`` (:mod:`bayesinv.samplers.compiled`). A method object knows its kernel, the
name of its scale parameter, whether it has an acceptance rate to adapt and its default
target, and whether divergences stop it (ULA-type methods, which have no accept step).

``step(state, parameter, rng)`` returns the new kernel state, the per-step statistics (ArviZ
names ``lp``, ``acceptance_rate``, ``diverging``) and the prediction G(θ) at the new state
(None when unchanged), kept for ArviZ's ``log_likelihood`` group.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ForwardSolveError
from ..posterior import TargetEvaluation
from .kernels import mala, pcn, pcnl, pula, rwm, ula
from .kernels._common import IDENTITY, KernelState, loglik_from_logdensity

if TYPE_CHECKING:
    from .compiled import CompiledTarget


class WhitenedTarget(Protocol):
    """What a method evaluates: :class:`~bayesinv.posterior.WhitenedPosterior`, or a compiled
    target evaluated from Python (:class:`~.compiled.InterpretedAdapter`)."""

    def evaluate(self, xi: ArrayLike, grad: bool = False) -> TargetEvaluation:
        """log π (and ∇log π if ``grad``), ℓ and G(T(ξ)) at ξ; failures are flagged, not
        raised."""
        ...


class StepStats(NamedTuple):
    """Per-step statistics, with ArviZ's names: lp, acceptance_rate, diverging."""

    lp: float
    acceptance_rate: float
    diverging: bool


def _initial_evaluation(target: WhitenedTarget, position: NDArray[np.float64],
                        grad: bool) -> TargetEvaluation:
    ev = target.evaluate(position, grad=grad)
    if ev.failure is not None:
        raise ForwardSolveError(f"the initial position is not usable: {ev.failure}")
    return ev


def _grad_or_nan(ev: TargetEvaluation, like: NDArray[np.float64]) -> NDArray[np.float64]:
    return ev.grad if ev.grad is not None else np.full_like(like, np.nan)


class Method:
    """Base class: the kernel, its parameter and the Python target (see module docstring)."""

    name: str
    #: the kernel module of :mod:`.kernels` (its numba ``init``, ``propose``, ``accept``, ...)
    kernel: ModuleType
    #: name of the scale parameter in ``sample()``: "step_size" or "beta"
    parameter: str = "step_size"
    #: default target acceptance rate for warm-up adaptation; None: not adapted this way
    target_accept: float | None = None
    #: upper bound of the parameter (β ≤ 1 for pCN, δ ≤ 2 for pCN-Langevin)
    max_parameter: float = np.inf
    #: ULA-type methods have no accept step: too many divergences stop the chain
    stops_on_divergence: bool = False
    #: whether a constant preconditioner C = R Rᵀ can be used
    preconditionable: bool = False
    #: Crank–Nicolson methods: the prior part is exact (implicit), so only the data
    #: curvature λ − 1 limits the step (see :mod:`.tuning`)
    implicit_prior: bool = False

    #: whether the target is evaluated with its gradient: the kernel's (set per subclass)
    uses_gradient: bool = True
    #: R and R⁻¹ of the constant preconditioner C = R Rᵀ (``IDENTITY``: C = I), or the packed
    #: approximation of a low-rank method; what the kernels receive
    sqrt_precond: NDArray[np.float64]
    inv_sqrt_precond: NDArray[np.float64]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.uses_gradient = cls.kernel.uses_gradient

    def __init__(self, target: WhitenedTarget, sqrt_precond: ArrayLike | None = None) -> None:
        self.target = target
        if sqrt_precond is None:
            self.sqrt_precond = self.inv_sqrt_precond = IDENTITY
        else:
            self.sqrt_precond = np.ascontiguousarray(sqrt_precond, dtype=float)
            self.inv_sqrt_precond = np.ascontiguousarray(np.linalg.inv(self.sqrt_precond))

    def init(self, position: NDArray[np.float64]
             ) -> tuple[KernelState, NDArray[np.float64] | None]:
        """Kernel state at ``position`` (one target evaluation) and the prediction there."""
        ev = _initial_evaluation(self.target, position, grad=self.uses_gradient)
        return self._state_from(position, ev.logdensity, ev.grad), ev.prediction

    def init_compiled(self, position: NDArray[np.float64],
                      target: CompiledTarget) -> KernelState:
        """Kernel state at ``position`` for a :class:`~.compiled.CompiledTarget`."""
        lp, grad = target.logdensity_and_grad(position, target.args)
        if not (np.isfinite(lp) and np.isfinite(grad).all()):
            raise ForwardSolveError("the initial position is not usable: non-finite log density")
        return self._state_from(position, float(lp), grad)

    def _state_from(self, position: NDArray[np.float64], logdensity: float,
                    grad: NDArray[np.float64] | None) -> KernelState:
        return self.kernel.init(position, logdensity, grad)

    def step(self, state: KernelState, parameter: float, rng: np.random.Generator
             ) -> tuple[KernelState, StepStats, NDArray[np.float64] | None]:
        """One step: the kernel's ``propose``, the target at the proposal (with its gradient
        for gradient kernels), the kernel's ``accept``; returns the new state, its
        :class:`StepStats` and G(θ) at the new state (None when unchanged)."""
        kernel, R, R_inv = self.kernel, self.sqrt_precond, self.inv_sqrt_precond
        proposal = kernel.propose(state, parameter, R, R_inv, rng)
        ev = self.target.evaluate(proposal, grad=kernel.uses_gradient)
        state, info = kernel.accept(state, proposal, ev.logdensity, ev.loglik,
                                    _grad_or_nan(ev, proposal), parameter, R, R_inv, rng)
        stats = StepStats(float(kernel.logdensity(state)), info.acceptance_rate,
                          info.diverging)
        return state, stats, ev.prediction if info.is_accepted else None

    def state_to_arrays(self, state: KernelState) -> dict[str, np.ndarray]:
        """The state's fields as arrays (for a checkpoint)."""
        return {k: np.asarray(v) for k, v in state._asdict().items()}

    def state_from_arrays(self, arrays: dict[str, np.ndarray]) -> KernelState:
        """The state saved by :meth:`state_to_arrays`."""
        fields: dict[str, Any] = {
            k: (float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float))
            for k, v in arrays.items()}
        return self._state_from(**{"position": fields.pop("position"), **fields})


class ULA(Method):
    """Unadjusted Langevin algorithm (:mod:`~bayesinv.samplers.kernels.ula`).

    ``acceptance_rate`` is 1 for every step taken and 0 for a diverging step.
    """

    name = "ula"
    kernel = ula
    stops_on_divergence = True
    preconditionable = True



class PULA(ULA):
    """Prior-preconditioned (Crank–Nicolson) ULA (:mod:`~bayesinv.samplers.kernels.pula`)."""

    name = "pula"
    kernel = pula
    preconditionable = False
    max_parameter = 2.0
    implicit_prior = True


class MALA(Method):
    """Metropolis-adjusted Langevin (:mod:`~bayesinv.samplers.kernels.mala`).

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "mala"
    kernel = mala
    target_accept = 0.574
    preconditionable = True


class PCNL(Method):
    """pCN-Langevin / ∞-MALA (:mod:`~bayesinv.samplers.kernels.pcnl`).

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "pcnl"
    kernel = pcnl
    target_accept = 0.574
    implicit_prior = True
    max_parameter = 2.0


class LoglikStateMixin:
    """For a method whose kernel state caches the log-likelihood ℓ (pCN, gpCN): its state at
    the initial position and its state restored from a checkpoint are built from ℓ by the
    method's ``_loglik_state``."""

    target: WhitenedTarget

    def _loglik_state(self, position: NDArray[np.float64], loglik: float) -> KernelState:
        """The kernel state at ``position`` with log-likelihood ``loglik``."""
        raise NotImplementedError

    def init(self, position: NDArray[np.float64]
             ) -> tuple[KernelState, NDArray[np.float64] | None]:
        """Kernel state at ``position`` (one target evaluation, no gradient) and the
        prediction there."""
        ev = _initial_evaluation(self.target, position, grad=False)
        return self._loglik_state(position, ev.loglik), ev.prediction

    def state_from_arrays(self, arrays: dict[str, np.ndarray]) -> KernelState:
        """The state saved by :meth:`Method.state_to_arrays`."""
        return self._loglik_state(np.asarray(arrays["position"], float),
                                  float(arrays["loglik"]))


class PCN(LoglikStateMixin, Method):
    """Preconditioned Crank–Nicolson (:mod:`~bayesinv.samplers.kernels.pcn`).

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "pcn"
    kernel = pcn
    parameter = "beta"
    target_accept = 0.25
    max_parameter = 1.0

    def _loglik_state(self, position: NDArray[np.float64], loglik: float) -> KernelState:
        return pcn.init(position, loglik)

    def _state_from(self, position: NDArray[np.float64], logdensity: float,
                    grad: NDArray[np.float64] | None = None) -> KernelState:
        return pcn.init(position, float(loglik_from_logdensity(logdensity, position)))


class RWM(Method):
    """Random-walk Metropolis (:mod:`~bayesinv.samplers.kernels.rwm`); ``step_size`` is the
    proposal standard deviation s in whitened coordinates."""

    name = "rwm"
    kernel = rwm
    target_accept = 0.25

    def _state_from(self, position: NDArray[np.float64], logdensity: float,
                    grad: NDArray[np.float64] | None = None) -> KernelState:
        return rwm.init(position, logdensity)

    def state_from_arrays(self, arrays: dict[str, np.ndarray]) -> KernelState:
        return rwm.init(np.asarray(arrays["position"], float), float(arrays["logdensity"]))
