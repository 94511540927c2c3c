"""Warm starts and constant preconditioners for the chains.

Initial positions (whitened coordinates): independent prior draws ξ ~ N(0, I), one per chain
(over-dispersed, the default, so that R-hat can detect non-convergence), the MAP estimate by
L-BFGS (:func:`bayesinv.find_map`; Nickl & Wang 2022 show ULA from such a warm start mixes
in polynomial time), or user positions. The Laplace preconditioner is the inverse Gauss–Newton
Hessian at the MAP. The MAP is computed at most once per ``sample()`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import real_array, spd_matrix
from ..errors import InvalidArgumentError
from ..optimize import MAPResult, find_map
from ..posterior import Posterior
from ..seeds import child_seed, seed_sequence  # noqa: F401  (their home before bayesinv.seeds)
from .tuning import gauss_newton_hessian, sqrt_inverse

if TYPE_CHECKING:
    from ..laplace import LaplaceApproximation

#: the named values of ``sample(init=...)`` (besides a MAPResult or an array)
INITS = ("prior", "map")
#: the named values of ``sample(preconditioner=...)`` (besides None, a LaplaceApproximation
#: or an SPD matrix)
PRECONDITIONERS = ("laplace", "laplace_lowrank")

#: what ``sample(init=...)`` takes: a name of :data:`INITS`, a MAP estimate, or positions of
#: shape (k,) or (chains, k)
Init: TypeAlias = str | MAPResult | ArrayLike
#: what ``sample(preconditioner=...)`` takes: None, a name of :data:`PRECONDITIONERS`, a
#: low-rank Laplace approximation or a (k, k) SPD matrix
Preconditioner: TypeAlias = "str | LaplaceApproximation | ArrayLike | None"
#: the kinds :func:`sqrt_preconditioner` reports
PreconditionerKind: TypeAlias = Literal["identity", "laplace_lowrank", "laplace", "user"]


class MAPCache:
    """Computes the MAP estimate at most once per call of ``sample`` (never, when the caller
    passes one: ``init=find_map(posterior)``)."""

    def __init__(self, posterior: Posterior, result: MAPResult | None = None,
                 method: str = "lbfgs") -> None:
        self.posterior = posterior
        self._result = result
        self.method = method  # of find_map

    @property
    def position(self) -> NDArray[np.float64]:
        """ξ at the MAP (computed on first use)."""
        if self._result is None:
            self._result = find_map(self.posterior, method=self.method)
        return self._result.position


def initial_positions(init: Init, posterior: Posterior, chains: int,
                      rngs: Sequence[np.random.Generator], map_cache: MAPCache
                      ) -> tuple[NDArray[np.float64], Literal["prior", "map", "user"]]:
    """Warm starts: independent prior draws (default, over-dispersed), the MAP (computed, or
    a given :class:`~bayesinv.optimize.MAPResult`), or given positions."""
    k = posterior.whitened.dim
    if isinstance(init, MAPResult):
        x, _ = initial_positions(init.position, posterior, chains, rngs, map_cache)
        return x, "map"
    if isinstance(init, str):
        if init == "prior":
            return np.stack([rng.standard_normal(k) for rng in rngs]), "prior"
        if init == "map":
            return np.tile(map_cache.position, (chains, 1)), "map"
        raise InvalidArgumentError(f"init must be {', '.join(map(repr, INITS))}, a MAPResult "
                                   f"or an array, got {init!r}")
    x = real_array("init", init)
    if x.shape == (k,):
        x = np.tile(x, (chains, 1))
    if x.shape != (chains, k) or not np.isfinite(x).all():
        raise InvalidArgumentError(
            f"init array must be finite with shape ({k},) or ({chains}, {k}) (whitened "
            f"coordinates), got shape {np.shape(init)}")
    return x.copy(), "user"


def sqrt_preconditioner(preconditioner: Preconditioner, posterior: Posterior,
                        map_cache: MAPCache
                        ) -> tuple[NDArray[np.float64] | None, PreconditionerKind]:
    """The preconditioner in the form the kernels take, and its kind.

    None: identity (None, "identity"); "laplace": R with R Rᵀ = H⁻¹ for the dense
    Gauss–Newton Hessian H at the MAP (k tangent solves, O(k²) memory); a (k, k) symmetric
    positive definite matrix C: its Cholesky factor ("user"); a
    :class:`~bayesinv.laplace.LaplaceApproximation` or "laplace_lowrank" (built at the MAP by
    :func:`bayesinv.laplace`): the packed low-rank form of :mod:`.kernels._lowrank`
    ("laplace_lowrank", O(k r)).
    """
    from ..laplace import LaplaceApproximation, laplace

    if preconditioner is None:
        return None, "identity"
    k = posterior.whitened.dim
    if isinstance(preconditioner, LaplaceApproximation):
        if preconditioner.dim != k:
            raise InvalidArgumentError(
                f"the Laplace approximation has dimension {preconditioner.dim}, the posterior "
                f"{k}: was it built for another posterior?")
        return preconditioner.packed(), "laplace_lowrank"
    if isinstance(preconditioner, str):
        if preconditioner == "laplace_lowrank":
            return laplace(posterior, map=map_cache.position).packed(), "laplace_lowrank"
        if preconditioner != "laplace":
            raise InvalidArgumentError(
                f"preconditioner must be None, {', '.join(map(repr, PRECONDITIONERS))}, a "
                f"LaplaceApproximation or a (k, k) SPD matrix, got {preconditioner!r}")
        H = gauss_newton_hessian(posterior, map_cache.position)
        return sqrt_inverse(H), "laplace"
    C = spd_matrix("preconditioner", preconditioner, k)
    return np.linalg.cholesky(C), "user"
