r"""The compiled loop: whole chains in numba when the target is numba-compiled.

Compiled-target protocol. A target is a module-level ``numba.njit`` function

    logdensity_and_grad(x, args) -> (log π(x), ∇log π(x))

of the *whitened* posterior (x = ξ, log π(x) = ℓ(T(x)) − ½|x|² up to a constant) plus the
tuple ``args`` of arrays and floats it needs, so that no data is closed over (closures
recompile). It must not raise: return −inf or NaN for a failed evaluation, which the kernels
treat as a rejection or a flagged divergence. Gradient-free kernels (pCN, gpCN, RWM) call an
optional ``logdensity(x, args) -> log π(x)`` instead, so that no gradient is computed for them
(without one, the log density is taken from ``logdensity_and_grad``: :func:`evaluation_for`).
:class:`CompiledTarget` bundles them with an optional Python ``predict(xi)`` (G(T(ξ)) of one
draw ξ, for the ``log_likelihood`` group; the loop applies it to the kept draws one at a
time, :mod:`bayesinv._rowwise`).
:func:`compiled_target` builds one for linear forward maps with Gaussian priors; a dense GP
or a neural-network surrogate needs only its own ``logdensity_and_grad`` and ``args``.

Loop. :func:`run_segment` runs steps ``[start, stop)`` of one chain with the kernel's own
``step`` function (its ``propose`` and ``accept`` halves around one target evaluation,
:func:`.kernels._common.gradient_step`; the same numba propose/accept code the interpreted
loop calls around a Python PDE solve), the shared warm-up adaptation and the same thinning
rule, so for the same seed the two loops make the same random draws and the same decisions:
their draws agree to the round-off of the two target implementations (bit for bit when both
evaluate the target with the same function; tested). The driver calls it segment by segment
(for progress, streaming, checkpoints and SIGTERM), one thread per chain: the loop releases
the GIL (``nogil=True``), so chains run in parallel on the available cores.

Compilation: functions taking another jitted function as an argument cannot be cached on disk
by numba (the cache key holds the function object), so the loop is compiled once per process
for each (kernel, target) pair, a few seconds; the kernels themselves are cached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..forward.linear import LinearForwardMap
from ..likelihood import GaussianLikelihood
from ..priors.gaussian import GaussianPrior
from . import adaptation
from .kernels._common import (
    KernelState,
    LogDensity,
    LogDensityAndGrad,
    MetropolisInfo,
    loglik_from_logdensity,
)

if TYPE_CHECKING:
    from ..posterior import Posterior, TargetEvaluation


class CompiledTarget(NamedTuple):
    """A numba target: ``logdensity_and_grad(x, args)``, its ``args``, an optional
    ``predict(xi) -> G(T(ξ))`` for one draw ξ of length k and an optional numba
    ``logdensity(x, args)`` (the value alone, for gradient-free kernels)."""

    logdensity_and_grad: LogDensityAndGrad
    args: tuple[Any, ...]
    predict: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None
    logdensity: LogDensity | None = None


@functools.cache
def _value_of(logdensity_and_grad: LogDensityAndGrad) -> LogDensity:
    @numba.njit
    def logdensity(x: NDArray[np.float64], args: tuple[Any, ...]) -> float:
        return logdensity_and_grad(x, args)[0]

    return logdensity


def evaluation_for(kernel: ModuleType, target: CompiledTarget
                   ) -> LogDensityAndGrad | LogDensity:
    """The numba function a kernel's compiled ``step`` evaluates: ``logdensity_and_grad`` for
    gradient kernels, the log density alone for the others (the target's ``logdensity``, or
    the value of ``logdensity_and_grad`` when it has none)."""
    if kernel.uses_gradient:
        return target.logdensity_and_grad
    if target.logdensity is not None:
        return target.logdensity
    return _value_of(target.logdensity_and_grad)


@numba.njit(cache=True)
def linear_gaussian_logdensity_and_grad(x: NDArray[np.float64], args: tuple[Any, ...]
                                        ) -> tuple[float, NDArray[np.float64]]:
    r"""Whitened posterior of y = A(m + Lξ) + b + ε, ε ~ N(0, σ²I), prior ξ ~ N(0, I).

    ``args = (B, r₀, 1/σ², c)`` with B = A L, r₀ = y − A m − b, c = −N log σ − (N/2) log 2π:
    log π(ξ) = −|r₀ − Bξ|²/(2σ²) + c − ½|ξ|², ∇log π = Bᵀ(r₀ − Bξ)/σ² − ξ.
    """
    B, r0, inv_sigma2, log_norm = args
    r = r0 - B @ x
    return _linear_gaussian_lp(r, x, inv_sigma2, log_norm), inv_sigma2 * (B.T @ r) - x


@numba.njit(cache=True)
def _linear_gaussian_lp(r: NDArray[np.float64], x: NDArray[np.float64], inv_sigma2: float,
                        log_norm: float) -> float:
    # the stubs type the inner product of two 1-d arrays as an array; it is a float
    return -0.5 * inv_sigma2 * (r @ r) + log_norm - 0.5 * (x @ x)  # type: ignore[return-value]


@numba.njit(cache=True)
def linear_gaussian_logdensity(x: NDArray[np.float64], args: tuple[Any, ...]) -> float:
    """log π(ξ) of :func:`linear_gaussian_logdensity_and_grad` alone (no gradient)."""
    B, r0, inv_sigma2, log_norm = args
    return _linear_gaussian_lp(r0 - B @ x, x, inv_sigma2, log_norm)


def compiled_target(posterior: Posterior) -> CompiledTarget | None:
    """The compiled target of a posterior, or None when it has none.

    Supported: a :class:`~bayesinv.LinearForwardMap` with a dense matrix and a
    :class:`~bayesinv.GaussianPrior` (including series priors): one N × k matrix–vector
    product and its transpose per evaluation.
    """
    prior, like = posterior.prior, posterior.likelihood
    forward = like.forward
    if not (type(forward) is LinearForwardMap and isinstance(forward.matrix, np.ndarray)
            and isinstance(prior, GaussianPrior) and type(like) is GaussianLikelihood):
        return None  # (other noise models and Gibbs-sampled σ: the interpreted loop)
    A = forward.matrix
    B = np.ascontiguousarray(A @ prior.factor)
    r0 = np.ascontiguousarray(like.data - A @ prior.mean - forward.offset)
    args = (B, r0, 1.0 / like.noise_std**2, float(like._log_norm))

    def predict(xi: NDArray[np.float64]) -> NDArray[np.float64]:
        return A @ prior.to_physical(xi) + forward.offset

    return CompiledTarget(linear_gaussian_logdensity_and_grad, args, predict,
                          linear_gaussian_logdensity)


@numba.njit(cache=True)
def is_kept(iteration: int, warmup: int, thin: int) -> bool:
    """Whether step ``iteration`` (0-based) is stored: after warm-up, every ``thin``-th."""
    return iteration >= warmup and (iteration - warmup) % thin == 0


@numba.njit(nogil=True)
def run_segment(step: Callable[..., tuple[KernelState, MetropolisInfo]],
                logdensity_of: Callable[[KernelState], float], state: KernelState,
                rng: np.random.Generator, logdensity_and_grad: LogDensityAndGrad | LogDensity,
                args: tuple[Any, ...], sqrt_precond: NDArray[np.float64],
                inv_sqrt_precond: NDArray[np.float64], start: int, stop: int, warmup: int,
                thin: int, parameter: float, adapt_state: adaptation.DualAveragingState,
                adapt: bool, target_accept: float, log_max: float, max_divergences: int,
                num_divergent: int, out_position: NDArray[np.float64],
                out_lp: NDArray[np.float64], out_acceptance: NDArray[np.float64],
                out_diverging: NDArray[np.bool_], out_parameter: NDArray[np.float64]
                ) -> tuple[KernelState, adaptation.DualAveragingState, float, int, float, int,
                           int]:
    """Run steps ``start..stop-1`` of one chain; store kept draws in the ``out_*`` arrays.

    Returns (state, adapt_state, parameter, num_divergent, acceptance_sum, num_kept,
    next_iteration); ``next_iteration < stop`` when the chain stopped because
    ``num_divergent`` exceeded ``max_divergences``.
    """
    kept = 0
    acceptance_sum = 0.0
    i = start
    while i < stop:
        state, info = step(state, parameter, sqrt_precond, inv_sqrt_precond, rng,
                           logdensity_and_grad, args)
        num_divergent += info.diverging
        acceptance_sum += info.acceptance_rate
        if adapt and i < warmup:
            adapt_state, parameter = adaptation.schedule(
                adapt_state, info.acceptance_rate, target_accept, log_max, i, warmup)
        if is_kept(i, warmup, thin):
            out_position[kept] = state.position
            out_lp[kept] = logdensity_of(state)
            out_acceptance[kept] = info.acceptance_rate
            out_diverging[kept] = info.diverging
            out_parameter[kept] = parameter
            kept += 1
        i += 1
        if num_divergent > max_divergences:
            break
    return state, adapt_state, parameter, num_divergent, acceptance_sum, kept, i


class InterpretedAdapter:
    """A :class:`CompiledTarget` evaluated from Python, for the interpreted loop.

    ``evaluate(xi, grad)`` returns a :class:`~bayesinv.posterior.TargetEvaluation` like
    :meth:`WhitenedPosterior.evaluate`. Running the interpreted loop on it gives draws equal
    bit for bit to the compiled loop's (same kernels, same target arithmetic), which is how
    the two loops are tested against each other.
    """

    def __init__(self, target: CompiledTarget) -> None:
        self.compiled = target

    def evaluate(self, xi: ArrayLike, grad: bool = False) -> TargetEvaluation:
        from ..posterior import TargetEvaluation

        xi = np.ascontiguousarray(xi, dtype=float)
        lp, g = self.compiled.logdensity_and_grad(xi, self.compiled.args)
        lp = float(lp)
        if not (np.isfinite(lp) and np.isfinite(g).all()):
            return TargetEvaluation(-np.inf, -np.inf, None, None, "non-finite log density")
        prediction = None
        if self.compiled.predict is not None:
            prediction = np.asarray(self.compiled.predict(xi))
        return TargetEvaluation(lp, float(loglik_from_logdensity(lp, xi)), g if grad else None,
                                prediction)
