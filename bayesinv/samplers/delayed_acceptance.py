"""``method="da"``: two-stage delayed acceptance (:mod:`.kernels.da`) with a pCN proposal.

The first stage uses a cheap surrogate log-likelihood ℓ̃, the second corrects with the full
posterior, so the draws are exact for the full posterior whatever the surrogate:

* ``surrogate=None`` (default): the forward map linearised at the MAP ξ* in whitened
  coordinates, G(T(ξ)) ≈ G(T(ξ*)) + B (ξ − ξ*), B = J(T(ξ*)) J_T(ξ*)
  (:class:`bayesinv.lowrank.WhitenedLinearization`; for the linear T of Gaussian priors this is
  G(θ*) + J(θ*)(θ − θ*)). B is formed once, densely, from min(m, k) adjoint (or tangent)
  solves that reuse the factorisation at ξ*, so that a surrogate evaluation is an m × k
  mat-vec and no PDE solve (:func:`linearized_surrogate`);
* ``surrogate=<Posterior>``: a cheaper posterior on the same whitened space (e.g. the same
  prior and data on a coarser mesh), evaluated at every proposal.

Why pCN and not gpCN inside: the surrogate's job is to screen aggressive proposals cheaply;
gpCN's proposal is already shaped by the Laplace approximation, which is (nearly) the
linearised surrogate itself, so stage 1 would pass almost everything and save nothing. pCN's
β is adapted in warm-up to an overall acceptance rate (α₁α₂) of 0.25, as for plain pCN; the
saving is that only the proposals passing stage 1 cost a full solve. The loop is the
interpreted one (the surrogate is Python). The chains' full and surrogate evaluations are
counted in their states and reported as the attributes ``num_full_solves`` and
``num_surrogate_solves`` (initial evaluations included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ForwardSolveError, InvalidArgumentError
from ..lowrank import WhitenedLinearization
from ..posterior import Posterior
from .kernels import da
from .kernels._common import IDENTITY, KernelState, MetropolisInfo
from .methods import Method, StepStats, WhitenedTarget, _initial_evaluation

if TYPE_CHECKING:
    from .chains import Chain
    from .compiled import CompiledTarget
    from .warmstart import MAPCache


def linearized_surrogate(posterior: Posterior, xi: ArrayLike) -> NDArray[np.float64]:
    """A = [a₀ | A₁] (m × (k + 1)) with ℓ̃(ξ) = −½|a₀ − A₁ξ|² the Gaussian log-likelihood
    (up to a constant) of the map linearised at ξ: A₁ = B/σ, a₀ = (y − G(T(ξ)) + Bξ)/σ.

    Cost: one forward solve and min(m, k) adjoint (m ≤ k) or tangent solves."""
    lin = WhitenedLinearization(posterior, xi)
    like = posterior.likelihood
    ev = posterior.whitened.evaluate(lin.xi)
    if ev.prediction is None:
        raise ForwardSolveError(f"the linearisation point is not usable: {ev.failure}")
    m, k = like.num_observations, lin.xi.shape[0]
    if m <= k:
        B = np.stack([lin.rmatvec(e) for e in np.eye(m)])
    else:
        B = np.column_stack([lin.matvec(e) for e in np.eye(k)])
    sigma = like.noise_std
    return np.ascontiguousarray(
        np.column_stack([(like.data - ev.prediction + B @ lin.xi) / sigma, B / sigma]))


class DelayedAcceptance(Method):
    """Two-stage delayed acceptance with pCN (see the module docstring); scale ``beta``.

    A failed full solve is a rejected proposal, counted in ``diverging``; so is a non-finite
    surrogate value (then no full solve is made).
    """

    name = "da"
    kernel = da
    parameter = "beta"
    target_accept = 0.25
    max_parameter = 1.0
    #: the surrogate is evaluated in Python: no compiled loop
    compiled_loop = False
    #: a user's cheaper Posterior (bound by :func:`with_surrogate`), or None: the linearised map
    surrogate: Posterior | None = None

    def __init__(self, target: WhitenedTarget, sqrt_precond: ArrayLike | None = None) -> None:
        self.target = target
        k = getattr(target, "dim", None)  # (None: a compiled target evaluated from Python)
        if self.surrogate is not None:
            kk = self.surrogate.whitened.dim
            if k is not None and kk != k:
                raise InvalidArgumentError(
                    f"surrogate has latent dimension {kk}, the posterior {k}: a surrogate "
                    f"must live on the same whitened space (the same prior coefficients)")
            self.linearization = None
            self.sqrt_precond = self.inv_sqrt_precond = IDENTITY
            self._surrogate_target = self.surrogate.whitened
            return
        A = sqrt_precond
        if not (isinstance(A, np.ndarray) and A.ndim == 2
                and (k is None or A.shape[1] == k + 1)):
            raise InvalidArgumentError(
                "method='da' without a surrogate needs the linearised map "
                "(linearized_surrogate(posterior, map)) in its sqrt_precond slot")
        self.linearization = np.ascontiguousarray(A, dtype=float)
        self.sqrt_precond = self.inv_sqrt_precond = self.linearization

    # -- set-up hooks used by sample() ---------------------------------------------------------

    @classmethod
    def setup_reference(cls, posterior: Posterior, map_cache: MAPCache
                        ) -> tuple[NDArray[np.float64] | None,
                                   Literal["surrogate", "linearized_map"]]:
        """What the method needs besides the posterior, and its kind: the linearised map at
        the MAP (computed once per call), or nothing for a user surrogate."""
        if cls.surrogate is not None:
            return None, "surrogate"
        return linearized_surrogate(posterior, map_cache.position), "linearized_map"

    @classmethod
    def result_attrs(cls, chain_list: Sequence[Chain]) -> dict[str, Any]:
        """Full and surrogate evaluations of all chains (initial ones included)."""
        # a DA chain's state is a DAState (Chain.state is typed by what every kernel has)
        states = [cast(da.DAState, ch.state) for ch in chain_list]
        return {"num_full_solves": int(sum(s.full_solves for s in states)),
                "num_surrogate_solves": int(sum(s.surrogate_solves for s in states)),
                "surrogate": "linearized_map" if cls.surrogate is None else "posterior"}

    # -- the kernel around the two evaluations -------------------------------------------------

    def surrogate_loglik(self, x: NDArray[np.float64]) -> float:
        """ℓ̃(x): the linearised map's Gaussian log-likelihood, or the user surrogate's."""
        if self.linearization is not None:
            return float(da.linearized_loglik(self.linearization, x))
        return float(self._surrogate_target.evaluate(x).loglik)

    def init(self, position: NDArray[np.float64]
             ) -> tuple[KernelState, NDArray[np.float64] | None]:
        ev = _initial_evaluation(self.target, position, grad=False)
        ls = self.surrogate_loglik(position)
        if not np.isfinite(ls):
            raise ForwardSolveError("the surrogate is not usable at the initial position "
                                    "(non-finite log-likelihood)")
        return da.init(position, ev.loglik, ls), ev.prediction

    def init_compiled(self, position: NDArray[np.float64], target: CompiledTarget
                      ) -> NoReturn:
        raise InvalidArgumentError("method='da' runs in the interpreted loop only")

    def state_from_arrays(self, arrays: dict[str, np.ndarray]) -> KernelState:
        f = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float))
             for k, v in arrays.items()}
        return da.init(f["position"], f["loglik"], f["surrogate_loglik"], f["full_solves"],
                       f["surrogate_solves"])

    def step(self, state: KernelState, beta: float, rng: np.random.Generator
             ) -> tuple[KernelState, StepStats, NDArray[np.float64] | None]:
        """The kernel's ``propose`` (the common protocol), then two stages with two
        evaluations instead of one ``accept``: the one method whose step is its own."""
        R = self.sqrt_precond
        proposal = da.propose(state, beta, R, R, rng)
        ls = self.surrogate_loglik(proposal)
        if not da.first_stage(state, ls, rng):
            state, info = da.reject_first(state, ls)
            return state, self._stats(state, info), None
        ev = self.target.evaluate(proposal)
        state, info = da.second_stage(state, proposal, ev.loglik, ls, rng)
        return state, self._stats(state, info), ev.prediction if info.is_accepted else None

    @staticmethod
    def _stats(state: KernelState, info: MetropolisInfo) -> StepStats:
        return StepStats(float(da.logdensity(state)), info.acceptance_rate, info.diverging)


def with_surrogate(cls: type[Method], surrogate: Posterior | None) -> type[Method]:
    """The method class for ``sample(..., surrogate=...)``: DA bound to a user surrogate
    Posterior, DA with the linearised map for None; a surrogate with another method is an
    error."""
    if surrogate is None:
        return cls
    if not issubclass(cls, DelayedAcceptance):
        raise InvalidArgumentError(
            f"surrogate applies to method='da' (delayed acceptance) only, not {cls.name!r}")
    if not isinstance(surrogate, Posterior):
        raise InvalidArgumentError(
            f"surrogate must be a bayesinv.Posterior on the same whitened space (or None for "
            f"the forward map linearised at the MAP), got {type(surrogate).__name__}")
    # (type() with three arguments returns a plain ``type`` to the type checker)
    return cast("type[DelayedAcceptance]", type(cls.__name__, (cls,), {"surrogate": surrogate}))
