r"""Pieces shared by the kernels, written once: proposals, transition densities, the Metropolis
test and the states/infos that several kernels share.

All kernels work in the prior-whitened coordinates x = ξ, where the target is

    π(x) ∝ exp(ℓ(x) − ½|x|²),     ∇log π(x) = ∇ℓ(x) − x,

ℓ the log-likelihood of T(x). States cache ``logdensity`` = log π(x) and ``grad`` = ∇log π(x)
of the *posterior*; kernels that need the likelihood alone (pCN-Langevin) recover it as
ℓ = log π + ½|x|², ∇ℓ = ∇log π + x, so that one target function serves every kernel.

All functions are ``numba.njit`` pure functions over NamedTuple states and NumPy arrays; they
never raise (non-finite values are reported through flags) and take an explicit
``numpy.random.Generator``, which numba draws from exactly as NumPy does for the same
bit-generator state. A constant preconditioner C = R Rᵀ is passed as its square root R and
R⁻¹; an empty (0, 0) array means C = I.

The kernel protocol (BlackJAX's discipline: every kernel's halves take the same arguments,
whatever it uses of them; enforced by ``tests/test_kernel_protocol.py``). A kernel module has

* ``init(...)`` and ``logdensity(state)`` (log π at a state, the ``lp`` statistic);
* ``propose(state, parameter, sqrt_precond, inv_sqrt_precond, rng) -> proposal``;
* ``accept(state, proposal, logdensity, loglik, grad, parameter, sqrt_precond,
  inv_sqrt_precond, rng) -> (state, MetropolisInfo)``, given the target at the proposal:
  log π, ℓ = log π + ½|x|² and ∇log π (an empty or NaN array for gradient-free kernels);
* ``uses_gradient`` and ``step``, the compiled loop's step built from the two halves by
  :func:`gradient_step` or :func:`value_step`.

The interpreted loop's one generic step (:meth:`bayesinv.samplers.methods.Method.step`) puts
the Python target evaluation between the same two halves. ``sqrt_precond`` carries whatever
constant the kernel needs (R, a packed low-rank approximation, or ``IDENTITY``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeAlias, TypeVar

import numba
import numpy as np
from numpy.typing import NDArray

#: the kernels' arrays: positions, gradients, R and R⁻¹, packed approximations
FloatArray: TypeAlias = NDArray[np.float64]

#: The "no preconditioner" marker (C = I) for functions taking R and R⁻¹.
IDENTITY: FloatArray = np.empty((0, 0))


class KernelState(Protocol):
    """What every kernel's state (a NamedTuple: :class:`GradientState`, ``PCNState``, ...)
    has: its position ξ, and its fields by name (what a checkpoint saves)."""

    @property
    def position(self) -> NDArray[np.float64]:
        """ξ, the whitened position."""
        ...

    def _asdict(self) -> dict[str, Any]:
        """The state's fields by name."""
        ...


class HasLogdensity(Protocol):
    """A state caching log π at its position (:class:`GradientState`, ``RWMState``, ...)."""

    @property
    def logdensity(self) -> float: ...


class HasLoglik(Protocol):
    """A state caching the log-likelihood ℓ at its position (``PCNState``, ...)."""

    @property
    def position(self) -> FloatArray: ...

    @property
    def loglik(self) -> float: ...


#: a kernel state type (the states of :func:`metropolis_update`)
S = TypeVar("S")
#: a kernel's ``propose(state, parameter, R, R⁻¹, rng) -> proposal``
Propose: TypeAlias = Callable[..., FloatArray]
#: a kernel's ``accept(state, proposal, logdensity, loglik, grad, parameter, R, R⁻¹, rng)``
Accept: TypeAlias = Callable[..., tuple[Any, "MetropolisInfo"]]
#: a compiled step ``step(state, parameter, R, R⁻¹, rng, evaluate, args)``
Step: TypeAlias = Callable[..., tuple[Any, "MetropolisInfo"]]
#: a compiled target's log density and gradient, ``(x, args) -> (log π(x), ∇log π(x))``
LogDensityAndGrad: TypeAlias = Callable[[FloatArray, tuple[Any, ...]],
                                        tuple[float, FloatArray]]
#: a compiled target's log density alone, ``(x, args) -> log π(x)``
LogDensity: TypeAlias = Callable[[FloatArray, tuple[Any, ...]], float]


class GradientState(NamedTuple):
    """State of a gradient-based kernel (ULA, MALA, pCN-Langevin, prior-preconditioned ULA).

    position: x (whitened coordinates); logdensity: log π(x); grad: ∇log π(x).
    """

    position: np.ndarray
    logdensity: float
    grad: np.ndarray


class MetropolisInfo(NamedTuple):
    """acceptance_rate: min(1, exp(log α)); is_accepted; diverging: the proposal's evaluation
    was not finite (a failed solve), which counts as a rejection."""

    acceptance_rate: float
    is_accepted: bool
    diverging: bool


@numba.njit(cache=True)
def gradient_init(position: FloatArray, logdensity: float, grad: FloatArray) -> GradientState:
    """The :class:`GradientState` at x: the ``init`` of ULA, MALA, pCN-Langevin and low-rank
    MALA."""
    return GradientState(position, logdensity, grad)


@numba.njit(cache=True)
def state_logdensity(state: HasLogdensity) -> float:
    """log π at a :class:`GradientState` (or any state with a ``logdensity`` field)."""
    return state.logdensity


@numba.njit(cache=True)
def loglik_state_logdensity(state: HasLoglik) -> float:
    """log π(ξ) = ℓ − ½|ξ|² at a state caching the log-likelihood ``loglik`` (pCN, gpCN,
    delayed acceptance): their ``logdensity``, the ``lp`` statistic."""
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return state.loglik - 0.5 * (state.position @ state.position)  # type: ignore[return-value]


@numba.njit(cache=True)
def loglik_from_logdensity(logdensity: float, position: FloatArray) -> float:
    """ℓ(x) = log π(x) + ½|x|², the likelihood part of the whitened log density."""
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return logdensity + 0.5 * (position @ position)  # type: ignore[return-value]


@numba.njit(cache=True)
def langevin_proposal(position: FloatArray, grad: FloatArray, step_size: float,
                      rng: np.random.Generator) -> FloatArray:
    """x + δ ∇log π(x) + √(2δ) η,  η ~ N(0, I): the Euler–Maruyama step of the Langevin SDE."""
    noise = rng.standard_normal(position.shape[0])
    return position + step_size * grad + np.sqrt(2.0 * step_size) * noise


@numba.njit(cache=True)
def preconditioned_langevin_proposal(position: FloatArray, grad: FloatArray, step_size: float,
                                     sqrt_precond: FloatArray, rng: np.random.Generator
                                    ) -> FloatArray:
    """x + δ R Rᵀ ∇log π(x) + √(2δ) R η: Langevin with constant preconditioner C = R Rᵀ.

    This is the plain Langevin step in the coordinates ζ = R⁻¹ x. With the empty identity
    marker for R it is :func:`langevin_proposal` (same random numbers).
    """
    if sqrt_precond.shape[0] == 0:
        return langevin_proposal(position, grad, step_size, rng)
    noise = rng.standard_normal(position.shape[0])
    drift = sqrt_precond @ (sqrt_precond.T @ grad)
    return position + step_size * drift + np.sqrt(2.0 * step_size) * (sqrt_precond @ noise)


@numba.njit(cache=True)
def langevin_propose(state: GradientState, step_size: float, sqrt_precond: FloatArray,
                     inv_sqrt_precond: FloatArray, rng: np.random.Generator) -> FloatArray:
    """y = x + δ C ∇log π(x) + √(2δ) R η from a :class:`GradientState` (pass ``IDENTITY``
    for C = I): the ``propose`` of ULA and MALA."""
    return preconditioned_langevin_proposal(state.position, state.grad, step_size,
                                            sqrt_precond, rng)


@numba.njit(cache=True)
def langevin_transition_logpdf(to: FloatArray, frm: FloatArray, grad_frm: FloatArray,
                               step_size: float, sqrt_precond: FloatArray,
                               inv_sqrt_precond: FloatArray) -> float:
    """log q(frm → to) up to a constant, for q = N(frm + δ C ∇log π(frm), 2δ C), C = R Rᵀ.

    Equals −|z|²/(4δ) with z = R⁻¹(to − frm) − δ Rᵀ ∇log π(frm) (z = to − frm − δ∇log π(frm)
    without preconditioner). The constant (½ log det 4πδC) cancels in MALA's ratio.
    """
    if sqrt_precond.shape[0] == 0:
        z = to - frm - step_size * grad_frm
    else:
        z = inv_sqrt_precond @ (to - frm) - step_size * (sqrt_precond.T @ grad_frm)
    # (1-d @ 1-d is a float; the NumPy stubs type it as an array)
    return -(z @ z) / (4.0 * step_size)  # type: ignore[return-value]


@numba.njit(cache=True)
def crank_nicolson_coefficients(step_size: float) -> tuple[float, float, float]:
    """(a, b, c) = ((2−δ)/(2+δ), 2δ/(2+δ), √(8δ)/(2+δ)); note a² + c² = 1 (pCN with β = c)."""
    denom = 2.0 + step_size
    return (2.0 - step_size) / denom, 2.0 * step_size / denom, np.sqrt(8.0 * step_size) / denom


@numba.njit(cache=True)
def crank_nicolson_langevin_proposal(position: FloatArray, grad_loglik: FloatArray,
                                     step_size: float, rng: np.random.Generator) -> FloatArray:
    """a x + b ∇ℓ(x) + c η with (a, b, c) from :func:`crank_nicolson_coefficients`.

    The θ = ½ (Crank–Nicolson) discretisation of the prior-preconditioned Langevin SDE
    dx = (−x + ∇ℓ(x)) dt + √2 dW, implicit in the prior part: with ℓ ≡ 0 it is pCN with
    β = c and leaves N(0, I) invariant for every δ > 0 (Beskos, Roberts, Stuart & Voss 2008;
    Cotter, Roberts, Stuart & White 2013, §4.3).
    """
    a, b, c = crank_nicolson_coefficients(step_size)
    noise = rng.standard_normal(position.shape[0])
    return a * position + b * grad_loglik + c * noise


@numba.njit(cache=True)
def metropolis_accept(log_ratio: float, rng: np.random.Generator) -> tuple[bool, float]:
    """Accept with probability min(1, exp(log_ratio)); a NaN or −inf ratio is a rejection.

    Returns (accepted, acceptance probability). One uniform draw per call, always, so that the
    random stream does not depend on the outcome.
    """
    u = rng.random()
    if not np.isfinite(log_ratio):
        if log_ratio == np.inf:
            return True, 1.0
        return False, 0.0
    prob = 1.0 if log_ratio >= 0.0 else np.exp(log_ratio)
    return np.log(u) < log_ratio, prob


@numba.njit(cache=True)
def metropolis_update(state: S, proposal_state: S, log_ratio: float, evaluation_ok: bool,
                      rng: np.random.Generator) -> tuple[S, MetropolisInfo]:
    """The Metropolis–Hastings transition shared by every corrected kernel.

    ``evaluation_ok`` is False when the proposal's log density or gradient was not finite
    (e.g. a failed PDE solve): the step is then a rejection flagged ``diverging``. The uniform
    is drawn in every case.
    """
    accepted, prob = metropolis_accept(log_ratio, rng)
    if not evaluation_ok:
        return state, MetropolisInfo(0.0, False, True)
    if accepted:
        return proposal_state, MetropolisInfo(prob, True, False)
    return state, MetropolisInfo(prob, False, False)


@numba.njit(cache=True)
def all_finite(x: FloatArray) -> bool:
    for v in x.ravel():  # noqa: SIM110 (numba does not compile all() over a generator)
        if not np.isfinite(v):
            return False
    return True


def gradient_step(propose: Propose, accept: Accept) -> Step:
    """The compiled loop's step of a gradient kernel: ``propose``, one evaluation of
    ``logdensity_and_grad(x, args) -> (log π, ∇log π)``, ``accept``."""

    @numba.njit
    def step(state: KernelState, parameter: float, sqrt_precond: FloatArray,
             inv_sqrt_precond: FloatArray, rng: np.random.Generator,
             logdensity_and_grad: LogDensityAndGrad,
             args: tuple[Any, ...]) -> tuple[KernelState, MetropolisInfo]:
        proposal = propose(state, parameter, sqrt_precond, inv_sqrt_precond, rng)
        lp, g = logdensity_and_grad(proposal, args)
        return accept(state, proposal, lp, loglik_from_logdensity(lp, proposal), g, parameter,
                      sqrt_precond, inv_sqrt_precond, rng)

    return step


def value_step(propose: Propose, accept: Accept) -> Step:
    """The compiled loop's step of a gradient-free kernel: ``propose``, one evaluation of
    ``logdensity(x, args) -> log π`` (no gradient computed), ``accept``."""

    @numba.njit
    def step(state: KernelState, parameter: float, sqrt_precond: FloatArray,
             inv_sqrt_precond: FloatArray, rng: np.random.Generator,
             logdensity: LogDensity, args: tuple[Any, ...]
             ) -> tuple[KernelState, MetropolisInfo]:
        proposal = propose(state, parameter, sqrt_precond, inv_sqrt_precond, rng)
        lp = logdensity(proposal, args)
        return accept(state, proposal, lp, loglik_from_logdensity(lp, proposal),
                      proposal[:0], parameter, sqrt_precond,
                      inv_sqrt_precond, rng)

    return step
