"""MAP estimation in whitened coordinates, used as a warm start for the samplers.

The MAP estimate maximises log π(ξ | Y) = ℓ_N(T(ξ)) − ½|ξ|² (for Gaussian priors, the
Tikhonov-regularised least-squares estimate with the Cameron–Martin penalty). Nickl & Wang
(2022) show that ULA started from such a point mixes in polynomial time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from ._validation import integer_at_least, one_of
from .errors import BayesinvWarning
from .posterior import Posterior, WhitenedPosterior


@dataclass
class MAPResult:
    """position: ξ_MAP; theta: T(ξ_MAP); logdensity: log π(ξ_MAP | Y) (unnormalised)."""

    position: np.ndarray
    theta: np.ndarray
    logdensity: float
    success: bool
    message: str
    iterations: int


def find_map(posterior: Posterior | WhitenedPosterior, x0: ArrayLike | None = None, *,
             maxiter: int = 500, gtol: float = 1e-8,
             ftol: float = 1e-14, method: str = "lbfgs") -> MAPResult:
    """Maximise the whitened posterior density, from ``x0`` (default: the prior's
    ``map_start()``, ξ = 0 for Gaussian priors).

    ``method="lbfgs"`` (default): L-BFGS-B (SciPy); each iteration costs one forward and one
    adjoint solve. ``method="newton-cg"``: inexact Gauss–Newton–CG (SciPy's Newton-CG with the
    matrix-free Hessian action v ↦ v + H_GN(ξ) v of :class:`bayesinv.lowrank.GaussNewtonHessian`,
    two solves per CG iteration, one factorisation per Newton iterate), as in hIPPYlib; it needs
    a forward map with ``linearize`` and converges in a few Newton steps when the data are
    informative. A failed solve during the line search counts as an infinitely bad point,
    which makes the line search back off.

    When the optimiser stops without converging (iteration limit, stalled line search) at a
    point whose gradient norm exceeds ``STATIONARY_RTOL · max(1, |log π|)``, a
    :class:`~bayesinv.errors.BayesinvWarning` names the iterations and the gradient norm;
    ``sample(..., init="map")`` and :func:`bayesinv.laplace` pass it on.
    """
    target = posterior.whitened if isinstance(posterior, Posterior) else posterior
    if not isinstance(target, WhitenedPosterior):
        raise TypeError(f"posterior must be a Posterior, got {type(posterior).__name__}")
    maxiter = integer_at_least("maxiter", maxiter, 1)
    method = one_of("method", method, ("lbfgs", "newton-cg"))
    x0 = target.prior.map_start() if x0 is None else target.prior.check_latent(x0, "x0").copy()
    if method == "newton-cg":
        return _newton_cg(posterior, target, x0, maxiter, gtol)

    def objective(xi):
        ev = target.evaluate(xi, grad=True)
        if ev.failure is not None or ev.grad is None:
            return np.inf, np.zeros_like(xi)
        return -ev.logdensity, -ev.grad

    # One BLAS thread: the optimiser's small dense operations gain nothing from threads, and
    # on a busy machine OpenBLAS thread wake-ups slow each L-BFGS-B iteration down
    # (benchmarks/results/design_notes.md).
    with threadpool_limits(limits=1, user_api="blas"):
        res = scipy.optimize.minimize(objective, x0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": maxiter, "gtol": gtol, "ftol": ftol})
    return _result(res, target, "lbfgs", maxiter)


#: a gradient norm at most this times max(1, |log π|) counts as a stationary point even when
#: the optimiser reports no success (a line search stalled by round-off at the optimum)
STATIONARY_RTOL = 1e-6


def _result(res, target, method: str, maxiter: int) -> MAPResult:
    """The MAPResult of a SciPy result; a BayesinvWarning naming the iterations and the
    gradient norm when the optimiser did not converge (and the point is not stationary)."""
    grad_norm = float(np.linalg.norm(res.jac)) if getattr(res, "jac", None) is not None \
        else float("nan")
    stationary = grad_norm <= STATIONARY_RTOL * max(1.0, abs(float(res.fun)))
    if not res.success and not stationary:
        warnings.warn(
            f"find_map (method={method!r}) did not converge: {int(res.nit)} iterations "
            f"(maxiter={maxiter}), gradient norm {grad_norm:.3g} of the whitened "
            f"log-posterior ({res.message}). The returned point is not a MAP estimate; a "
            f"sampler started there (init='map') or a Laplace approximation built there "
            f"starts off the mode. Raise maxiter, or try method='newton-cg'.",
            BayesinvWarning, stacklevel=3)
    return MAPResult(res.x, target.to_physical(res.x), float(-res.fun), bool(res.success),
                     str(res.message), int(res.nit))


def _newton_cg(posterior, target, x0, maxiter, gtol) -> MAPResult:
    from .lowrank import GaussNewtonHessian

    if not isinstance(posterior, Posterior):
        raise TypeError("method='newton-cg' needs a Posterior (for the Gauss–Newton Hessian)")
    cache: dict[str, Any] = {}

    def objective(xi):
        ev = target.evaluate(xi, grad=True)
        if ev.failure is not None or ev.grad is None:
            return np.inf, np.zeros_like(xi)
        return -ev.logdensity, -ev.grad

    def hessp(xi, v):
        key = xi.tobytes()
        if cache.get("key") != key:
            cache["key"], cache["H"] = key, GaussNewtonHessian(posterior, xi)
        return v + cache["H"].matvec(v)

    with threadpool_limits(limits=1, user_api="blas"):
        res = scipy.optimize.minimize(objective, x0, jac=True, hessp=hessp, method="Newton-CG",
                                      options={"maxiter": maxiter, "xtol": gtol})
    return _result(res, target, "newton-cg", maxiter)
