r"""Curvature information for step sizes and preconditioners.

In whitened coordinates the Gauss–Newton Hessian of −log π(ξ | Y) is

    H(ξ) = I + Bᵀ B / σ²,     B = J(θ) J_T(ξ),  θ = T(ξ),

where J is the forward map's Jacobian. ULA is stable on the Gaussian approximation when
δ < 2/λ_max(H); its inverse H⁻¹ is the covariance of the Laplace approximation, the natural
constant preconditioner. Both need only J v and Jᵀ w, each one solve reusing the forward
factorisation.

:func:`initial_parameter` turns this into the samplers' step-size rules: ULA-type methods
use δ = safety/λ_max (λ_max − 1 for pULA, whose prior part is implicit) at the warm start,
and adapted methods start their dual averaging from δ₀ = 1/λ_max (gradient methods) or 0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import float_in_interval, integer_at_least, positive_float
from ..errors import InvalidArgumentError
from ..lowrank import WhitenedLinearization as _WhitenedLinearization
from ..posterior import Posterior
from ..protocols import Seed

if TYPE_CHECKING:
    from .methods import Method

#: v ↦ R v for a symmetric square root R of a preconditioner (the low-rank methods' own)
SqrtApply = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def gauss_newton_max_eigenvalue(posterior: Posterior, xi: ArrayLike, *, iterations: int = 20,
                                seed: Seed = 0,
                                sqrt_precond: ArrayLike | SqrtApply | None = None) -> float:
    """λ_max of the Gauss–Newton Hessian at ξ, by power iteration (2 solves per iteration).

    With ``sqrt_precond`` R (a constant preconditioner C = R Rᵀ, as an array or, when R is
    symmetric, as a callable v ↦ R v) it is λ_max(Rᵀ H R), the
    curvature ULA sees in the coordinates ζ = R⁻¹ξ. The Rayleigh quotient of the last iterate
    is returned: a lower bound that converges to λ_max (a few iterations give its order of
    magnitude, which is what a step-size rule needs).
    """
    iterations = integer_at_least("iterations", iterations, 1)
    B = _WhitenedLinearization(posterior, xi)
    R: SqrtApply | None
    Rt: SqrtApply | None
    if sqrt_precond is None or callable(sqrt_precond):
        R = Rt = sqrt_precond  # a callable applies a symmetric root (low-rank preconditioners)
    else:
        root = np.asarray(sqrt_precond, dtype=float)
        R, Rt = root.__matmul__, root.T.__matmul__
    v = np.random.default_rng(seed).standard_normal(B.xi.shape)
    lam = 0.0
    for _ in range(iterations):
        v /= np.linalg.norm(v)
        u = v if R is None else R(v)
        hu = u + B.rmatvec(B.matvec(u)) / B.sigma2
        hv = hu if Rt is None else Rt(hu)
        lam = float(v @ hv)
        v = np.asarray(hv, dtype=float)
    return lam


def gauss_newton_hessian(posterior: Posterior, xi: ArrayLike) -> NDArray[np.float64]:
    """The dense Gauss–Newton Hessian H(ξ) = I + BᵀB/σ² (k tangent solves, k = latent dim)."""
    B = _WhitenedLinearization(posterior, xi)
    k = B.xi.shape[0]
    columns = np.column_stack([B.matvec(e) for e in np.eye(k)])
    return np.eye(k) + columns.T @ columns / B.sigma2


def sqrt_inverse(H: NDArray[np.float64]) -> NDArray[np.float64]:
    """R with R Rᵀ = H⁻¹ (R = L⁻ᵀ for the Cholesky factor H = L Lᵀ)."""
    chol = np.linalg.cholesky(H)
    return np.linalg.solve(chol.T, np.eye(H.shape[0]))


def max_curvature(posterior: Posterior, positions: NDArray[np.float64],
                  sqrt_precond: ArrayLike | SqrtApply | None, iterations: int,
                  purpose: str) -> float:
    """Largest Gauss–Newton eigenvalue over the distinct starting positions."""
    try:
        return max(gauss_newton_max_eigenvalue(posterior, x, iterations=iterations,
                                               sqrt_precond=sqrt_precond)
                   for x in np.unique(positions, axis=0))
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{purpose}: {exc}") from exc


def check_parameter(cls: type[Method], given: object) -> float:
    """A given scale parameter of method class ``cls`` (``step_size`` or ``beta``), checked
    against its range (0, ``cls.max_parameter``]."""
    if cls.max_parameter < np.inf:
        return float_in_interval(cls.parameter, given, 0.0, cls.max_parameter)
    return positive_float(cls.parameter, given)


def initial_parameter(cls: type[Method], given: float | None, *, adapt: bool, warmup: int,
                      posterior: Posterior, positions: NDArray[np.float64],
                      sqrt_precond: ArrayLike | SqrtApply | None, safety_factor: float,
                      curvature_iterations: int) -> tuple[float, dict[str, Any]]:
    """The starting value of the scale parameter and how it was chosen (a dict for attrs)."""
    pname = cls.parameter
    if given is not None:
        value = check_parameter(cls, given)
        return value, {"step_size_rule": "adapted from user value" if adapt else "user"}
    if adapt:
        if cls.uses_gradient and posterior.likelihood.forward.has_jvp:
            lam = max_curvature(posterior, positions, sqrt_precond, curvature_iterations,
                             f"method={cls.name!r}")
            curv = lam - 1.0 if cls.implicit_prior else lam
            value = min(1.0 / max(curv, 1e-3), 0.5 * cls.max_parameter)
        else:
            value = 0.1
        return value, {"step_size_rule": "dual averaging"}
    if cls.target_accept is None:  # ULA-type: δ = safety / λ_max
        purpose = (f"method={cls.name!r} without step_size uses safety_factor/λ_max of the "
                   f"Gauss–Newton Hessian; give step_size instead")
        lam = max_curvature(posterior, positions, sqrt_precond, curvature_iterations, purpose)
        # Crank–Nicolson methods treat the prior part implicitly: only the data curvature
        # λ − 1 limits δ.
        curv = lam - 1.0 if cls.implicit_prior else lam
        value = safety_factor / max(curv, 1e-12)
        if cls.max_parameter < np.inf:
            value = min(value, 0.5 * cls.max_parameter)
        return value, {"step_size_rule": "curvature", "curvature_lambda_max": lam,
                       "safety_factor": safety_factor}
    example = "beta=0.1" if pname == "beta" else "step_size=0.01"
    interval = "(0, 1]" if pname == "beta" else "> 0"
    raise InvalidArgumentError(
        f"method={cls.name!r} needs {pname} {interval} (e.g. {example}), or warmup > 0 to "
        f"adapt it to target_accept")
