"""Methods built on the low-rank Laplace approximation (:mod:`bayesinv.laplace`).

* ``"ula"`` / ``"mala"`` with a low-rank preconditioner (``preconditioner=bayesinv.laplace(...)``
  or ``"laplace_lowrank"``): :class:`LowRankULA`, :class:`LowRankMALA`;
* ``"gpcn"``: generalised pCN with the Laplace Gaussian as reference (:class:`GPCN`);
* ``"gpcnl"``: generalised pCN-Langevin (:class:`GPCNL`).

Each keeps the packed approximation P (:mod:`.kernels._lowrank`) in ``sqrt_precond`` (and
``inv_sqrt_precond``), which is what the compiled loop hands to the kernels' ``step`` and what
checkpoints save, so both work unchanged. Per step: one PDE solve (+ one adjoint solve for
gradient methods) and O(k r) arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidArgumentError
from .kernels import _lowrank as lr
from .kernels import gpcn, gpcnl, lrmala, lrula
from .kernels._common import KernelState
from .methods import MALA, ULA, LoglikStateMixin, Method, StepStats, WhitenedTarget


class LowRankMethod:
    """Mixin: the packed Laplace approximation P instead of a dense square root."""

    low_rank = True
    preconditionable = True
    name: str
    #: P, the packed approximation (:mod:`.kernels._lowrank`)
    packed: NDArray[np.float64]
    sqrt_precond: NDArray[np.float64]
    inv_sqrt_precond: NDArray[np.float64]

    def __init__(self, target: WhitenedTarget, sqrt_precond: ArrayLike | None = None) -> None:
        self.target = target
        k = getattr(target, "dim", None)
        if k is None and isinstance(sqrt_precond, np.ndarray) and sqrt_precond.ndim == 2:
            k = sqrt_precond.shape[1] - 1  # a compiled target evaluated from Python
        if k is None or not lr.is_packed(sqrt_precond, k):
            raise InvalidArgumentError(
                f"method={self.name!r} needs a low-rank Laplace approximation "
                f"(preconditioner=bayesinv.laplace(posterior) or 'laplace_lowrank')")
        self.packed = np.ascontiguousarray(sqrt_precond, dtype=float)
        self.sqrt_precond = self.inv_sqrt_precond = self.packed

    def sqrt_apply(self, v: ArrayLike) -> NDArray[np.float64]:
        """Γ^{1/2} v (for the curvature-based step rules)."""
        return lr.sqrt_apply(self.packed, np.ascontiguousarray(v, dtype=float))


class LowRankULA(LowRankMethod, ULA):
    """ULA with the low-rank Laplace preconditioner (:mod:`.kernels.lrula`)."""

    kernel = lrula


class LowRankMALA(LowRankMethod, MALA):
    """MALA with the low-rank Laplace preconditioner (:mod:`.kernels.lrmala`)."""

    kernel = lrmala


class GPCN(LowRankMethod, LoglikStateMixin, Method):
    """Generalised pCN with the Laplace reference (:mod:`.kernels.gpcn`); scale ``beta``.

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "gpcn"
    kernel = gpcn
    parameter = "beta"
    target_accept = 0.25
    max_parameter = 1.0

    def _loglik_state(self, position: NDArray[np.float64], loglik: float) -> KernelState:
        return gpcn.init(position, loglik, self.packed)

    def _state_from(self, position: NDArray[np.float64], logdensity: float,
                    grad: NDArray[np.float64] | None = None) -> KernelState:
        loglik = float(position @ position) * 0.5 + logdensity
        return gpcn.init(position, loglik, self.packed)



class GPCNL(LowRankMethod, Method):
    """Generalised pCN-Langevin with the Laplace reference (:mod:`.kernels.gpcnl`).

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "gpcnl"
    kernel = gpcnl
    target_accept = 0.574
    implicit_prior = True
    max_parameter = 2.0

    def _state_from(self, position: NDArray[np.float64], logdensity: float,
                    grad: NDArray[np.float64] | None, **derived: Any) -> KernelState:
        return self.kernel.init(position, float(logdensity), np.asarray(grad, float),
                                self.packed)


#: method name → its variant with a low-rank Laplace preconditioner
LOW_RANK_VARIANTS: dict[str, type[Method]] = {"ula": LowRankULA, "mala": LowRankMALA,
                                              "gpcn": GPCN, "gpcnl": GPCNL}

__all__ = ["GPCN", "GPCNL", "LOW_RANK_VARIANTS", "LowRankMALA", "LowRankULA", "StepStats"]
