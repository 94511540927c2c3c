r"""The heat (diffusion) equation with unknown conductivity, observed at points and times.

PDE: ∂_t u − ∇·(f∇u) = s in O × (0, T], u = g on ∂O × (0, T], u(·, 0) = u₀, f = Φ(θ).

Space: continuous Lagrange elements (P1/P2) for u, P1 nodal values for θ, so the
semi-discrete system is M u̇ + K(f) u = M s with K(f) = Σ_k f_k T_k linear in f. Time: the
ϑ-scheme on a uniform grid t_n = nΔt (ϑ = 1 backward Euler, order 1; ϑ = ½ Crank–Nicolson,
order 2), for the free dofs F (the boundary dofs carry g(t_n)):

    F^n := (M/Δt)_{F:} (u^n − u^{n−1}) + K(f)_{F:} (ϑ u^n + (1−ϑ) u^{n−1}) − M_{F:} s̄^n = 0,

with s̄^n = ϑ s(t_n) + (1−ϑ) s(t_{n−1}). The matrix A = (M/Δt + ϑ K(f))_FF is SPD and the
same for every step: it is factorised **once per θ** and reused for all N_t forward steps, all
N_t adjoint steps and the tangent steps.

Observations: y_{j,i} = u_h(X_i, τ_j) at design points X_i and observation times τ_j ∈ (0, T]
(linear interpolation between the two neighbouring time levels when τ_j is not on the grid;
exact when it is), stacked time-major: y = (O u(τ_1), …, O u(τ_J)).

Adjoint, backward in time (λ^{N_t+1} = 0), with q_n the observation loads at level n:

    A λ^n = q_n + (M/Δt − (1−ϑ) K(f))_FF λ^{n+1},   n = N_t, …, 1,
    (Jᵀ w)_k = −Φ'(θ_k) Σ_n λ^{nT} T_k (ϑ u^n + (1−ϑ) u^{n−1}).

The tangent runs the linearised scheme forward with the same factorisation. This is the
discrete adjoint of the discrete map, so Taylor and dot-product tests hold to round-off.
Solve counters count trajectories: one forward, adjoint or tangent *solve* is a whole time
integration (N_t triangular-solve pairs with one factorisation).

References: Thomée (2006), *Galerkin finite element methods for parabolic problems*, ch. 7–8;
Nickl (2023), §1.2 (the heat equation as a non-linear inverse problem).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import integer_at_least, one_of, positive_float
from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.fingerprint import fingerprint
from ..linalg import bind_solver
from ..links import coefficient
from . import kernels
from .domain import Domain, FieldLike, LagrangeSpace
from .elliptic import CoefficientMap

if TYPE_CHECKING:
    from ..links import Link
    from ..protocols import Curvature, Pullback, Pushforward
    from .observation import Design
    from .solvers import SolverSpec

#: a field that may depend on time: as :data:`~bayesinv.fem.domain.FieldLike`, with a callable
#: taking (x, t)
TimeFieldLike: TypeAlias = ArrayLike | Callable[[np.ndarray, float], ArrayLike]

SCHEMES = {"backward_euler": 1.0, "crank_nicolson": 0.5}


class HeatForwardMap(CoefficientMap):
    """θ ↦ (u_f(X_i, τ_j))_{j, i} for the heat equation ∂_t u − ∇·(f∇u) = s, f = Φ(θ).

    Parameters
    ----------
    domain : Domain
    design : array_like of shape (N, dim), "field" or an observation object
        Observation points (or the full field in L², see :mod:`bayesinv.fem.observation`).
    final_time : float
        T > 0.
    time_step : float, optional
        Δt > 0; rounded down so that T is a whole number of steps (``self.time_step`` is the
        value used). Give ``time_step`` or ``num_steps``.
    num_steps : int, optional
        N_t ≥ 1 (Δt = T/N_t).
    observation_times : array_like, optional
        τ_j ∈ (0, T]; default (T,).
    scheme : {"backward_euler", "crank_nicolson"}
    initial_value : float, callable u₀(x) or dof values
        Default 0.
    source : float or callable s(x, t)
        Default 0. Callables receive x of shape (dim, n) and the time t.
    boundary_value : float or callable g(x, t)
        Default 0.
    link : "exp", "regular", "identity" or Link
    degree : {1, 2}
    solver : optional
        See :mod:`bayesinv.fem.solvers` (default PETSc sparse Cholesky).
    """

    def __init__(self, domain: Domain, design: Design, *, final_time: float,
                 time_step: float | None = None, num_steps: int | None = None,
                 observation_times: ArrayLike | None = None,
                 scheme: Literal["backward_euler", "crank_nicolson"] = "backward_euler",
                 initial_value: FieldLike = 0.0, source: TimeFieldLike = 0.0,
                 boundary_value: TimeFieldLike = 0.0, link: str | Link = "exp", degree: int = 1,
                 solver: SolverSpec = None) -> None:
        super().__init__()
        self._set_up_coefficient_map(domain, design, degree=degree, link=link, solver=solver,
                                     coefficient_term="stiffness")
        self.final_time = T = positive_float("final_time", final_time)
        self.num_steps = _num_steps(T, time_step, num_steps)
        self.time_step = dt = T / self.num_steps
        self.scheme = one_of("scheme", scheme, tuple(SCHEMES))
        self.theta_scheme = th = SCHEMES[scheme]
        self.times = dt * np.arange(self.num_steps + 1)
        self.observation_times = _observation_times(observation_times, T)
        S, split = self.state_space, self._split
        self._m_up = self._tensor.upper_values(S.mass_matrix.data)
        self._m_ff = self._tensor.ff_values(self._m_up)

        # Dirichlet values ĝ^n (zero at the free dofs) and sources M_F: s̄^n, n = 0..N_t; one
        # row (used at every step) when the value does not depend on time
        times = self.times if callable(boundary_value) else self.times[:1]
        self._g = np.zeros((len(times), S.num_dofs))
        for n, t in enumerate(times):
            self._g[n, split.boundary] = _at_time(S, boundary_value, t)[split.boundary]
        if callable(source):
            s_all = np.stack([_at_time(S, source, t) for t in self.times])
            s_bar = th * s_all[1:] + (1.0 - th) * s_all[:-1]
        else:
            s_bar = _at_time(S, source, 0.0)[None, :]
        self._source = np.ascontiguousarray((S.mass_matrix @ s_bar.T).T[:, split.free])
        self.initial_state = S.interpolate(initial_value)
        self._zero_state = np.zeros(S.num_dofs)

        # observations: the matrix O and the time levels (lo, hi, α) of each τ_j
        O = self.observation.matrix(S).tocsr()
        self._O = kernels.csr_arrays(O)
        self._O_f_t = kernels.csr_arrays(O[:, split.free].T)
        self._obs_levels = _interpolation_levels(self.observation_times, dt, self.num_steps)
        self.num_observations = O.shape[0]
        self.input_dim = self.parameter_space.num_dofs
        self.output_dim = self.observation_times.shape[0] * O.shape[0]
        self._factorizer = bind_solver(self.solver, split.ff_indptr, split.ff_indices,
                                       split.num_free)

    # -- the time stepping -----------------------------------------------------------------

    def _operators(self, f):
        """Upper values of K(f) on the full pattern and the factorised A = (M/Δt + ϑK)_FF."""
        split = self._split
        k_up = self._tensor.values(f, np.empty(split.up_rows.shape[0]))
        data = np.empty(split.nnz_ff)
        self._tensor.fill_ff(f, data, self._m_ff, base_scale=1.0 / self.time_step,
                             scale=self.theta_scheme)
        return k_up, self._factorizer.factorize(data)

    def _dirichlet(self, n: int) -> np.ndarray:
        """ĝ^n: the Dirichlet values at t_n (zero at the free dofs)."""
        return self._g[n if len(self._g) > 1 else 0]

    def _load(self, n: int) -> np.ndarray:
        """(M s̄^n)_F: the source term of step n ≥ 1."""
        return self._source[n - 1 if len(self._source) > 1 else 0]

    def _forward(self, theta):
        theta = self._check_theta(theta)
        f = coefficient(self.link, theta)
        k_up, factor = self._operators(f)
        split, nt = self._split, self.num_steps
        U = np.empty((nt + 1, split.num_dofs))
        U[0] = self.initial_state
        work = np.empty(split.num_dofs)
        inv_dt = 1.0 / self.time_step
        for n in range(1, nt + 1):
            kernels.theta_scheme_rhs(split.up_rows, split.up_cols, self._m_up, k_up, inv_dt,
                                     self.theta_scheme, U[n - 1], self._dirichlet(n), work)
            U[n] = self._dirichlet(n)
            U[n, split.free] = factor(work[split.free] + self._load(n))
        self.counts.forward += 1
        if not np.isfinite(U).all():
            raise ForwardSolveError("the forward solution is not finite")
        return theta, f, k_up, factor, U

    def _observe(self, U: np.ndarray) -> np.ndarray:
        out = np.empty((len(self._obs_levels), self.num_observations))
        for j, (lo, hi, alpha) in enumerate(self._obs_levels):
            state = U[lo] if alpha == 0.0 else (1.0 - alpha) * U[lo] + alpha * U[hi]
            kernels.csr_matvec(*self._O, state, out[j])
        return out.ravel()

    def solve_state(self, theta: ArrayLike) -> np.ndarray:
        """The FE solution at every time level: shape (num_steps + 1, num_dofs)."""
        return self._forward(theta)[4]

    def operator_matrix(self, theta: ArrayLike) -> sp.csr_matrix:
        """A = (M/Δt + ϑ K(Φ(θ)))_FF as a SciPy CSR matrix (free dofs; for inspection)."""
        theta = self._check_theta(theta)
        data = np.empty(self._split.nnz_ff)
        self._tensor.fill_ff(coefficient(self.link, theta), data, self._m_ff,
                             base_scale=1.0 / self.time_step, scale=self.theta_scheme)
        return self._split.ff_matrix(data)

    def _explicit(self, k_up, x_full, out):
        """out = (M/Δt − (1−ϑ)K) x on all rows, for x zero at the Dirichlet dofs."""
        kernels.theta_scheme_rhs(self._split.up_rows, self._split.up_cols, self._m_up, k_up,
                                 1.0 / self.time_step, self.theta_scheme, x_full,
                                 self._zero_state, out)
        return out

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """G(θ), v ↦ J(θ) v and w ↦ J(θ)ᵀ w sharing one factorisation."""
        return self._linearization(theta)[:3]

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        r"""G(θ), jvp, pullback and ``curvature`` (see :class:`~bayesinv.forward.ForwardMap`).

        With the adjoint trajectory λ (module docstring), the tangent one δu, dK = T(Φ'(θ) ⊙ v)
        and B = (M/Δt − (1−ϑ)K)_FF, the incremental adjoint runs backward (δλ^{N_t+1} = 0)

            A δλ^n = δq_n + B δλ^{n+1} − (dK (ϑ λ^n + (1−ϑ) λ^{n+1}))_F,

        δq_n the observation loads of c_GN · J v, and

            H v = −Φ''(θ) ⊙ v ⊙ Σ_n c(λ^n, ū^n) − Φ'(θ) ⊙ Σ_n (c(δλ^n, ū^n) + c(λ^n, δū^n)),

        c(a, b)_k = aᵀ T_k b, ū^n = ϑ u^n + (1−ϑ) u^{n−1}: one tangent and one adjoint
        trajectory per action, one adjoint trajectory per w, one factorisation.
        """
        return self._linearization(theta)

    def _linearization(self, theta):
        theta, _, k_up, factor, U = self._forward(theta)
        dlink = self.link.derivative(theta)
        y = self._observe(U)
        split, nt, th = self._split, self.num_steps, self.theta_scheme
        U_bar = th * U[1:] + (1.0 - th) * U[:-1]                        # (N_t, num_dofs)

        def tangent(dk_up):
            dU = np.zeros((nt + 1, split.num_dofs))
            work, load = np.empty(split.num_dofs), np.empty(split.num_dofs)
            for n in range(1, nt + 1):
                self._explicit(k_up, dU[n - 1], work)
                kernels.symmetric_matvec(split.up_rows, split.up_cols, dk_up, U_bar[n - 1],
                                         load)
                dU[n, split.free] = factor(work[split.free] - load[split.free])
            self.counts.tangent += 1
            return dU

        def jvp(v):
            v = self._check_tangent(v)
            dk_up = self._tensor.values(dlink * v, np.empty(split.up_rows.shape[0]))
            return self._observe(tangent(dk_up))

        def adjoint(w, dk_up=None, lam0=None):
            """λ^1..λ^{N_t} (rows 1..N_t of an (N_t + 2)-row array); with dk_up and λ, the
            incremental adjoint δλ instead."""
            w = w.reshape(self.observation_times.shape[0], -1)
            loads = np.zeros((nt + 1, split.num_free))                    # q_n, n = 0..N_t
            load = np.empty(split.num_free)
            for j, (lo, hi, alpha) in enumerate(self._obs_levels):
                kernels.csr_matvec(*self._O_f_t, w[j], load)
                loads[lo] += (1.0 - alpha) * load
                if alpha != 0.0:
                    loads[hi] += alpha * load
            lam = np.zeros((nt + 2, split.num_dofs))
            work = np.empty(split.num_dofs)
            extra = np.empty(split.num_dofs)
            for n in range(nt, 0, -1):
                self._explicit(k_up, lam[n + 1], work)
                if dk_up is not None:
                    kernels.symmetric_matvec(split.up_rows, split.up_cols, dk_up,
                                             th * lam0[n] + (1.0 - th) * lam0[n + 1], extra)
                    work -= extra
                lam[n, split.free] = factor(loads[n] + work[split.free])
            self.counts.adjoint += 1
            return lam

        def pullback(w):
            lam = adjoint(self._check_output(w))
            return -dlink * self._tensor.contract_full(lam[1:nt + 1], U_bar)

        def curvature(w, gn_scale=0.0):
            w = self._check_output(w)
            gn_scale = float(gn_scale)
            d2link = self.link.second_derivative(theta)
            lam = adjoint(w)
            first = self._tensor.contract_full(lam[1:nt + 1], U_bar)

            def apply(v):
                v = self._check_tangent(v)
                dk_up = self._tensor.values(dlink * v, np.empty(split.up_rows.shape[0]))
                dU = tangent(dk_up)
                dw = gn_scale * self._observe(dU) if gn_scale else np.zeros_like(w)
                dlam = adjoint(dw, dk_up, lam)
                dU_bar = th * dU[1:] + (1.0 - th) * dU[:-1]
                mixed = self._tensor.contract_full(  # Σ_n c(δλ^n, ū^n) + c(λ^n, δū^n)
                    np.concatenate([dlam[1:nt + 1], lam[1:nt + 1]]),
                    np.concatenate([U_bar, dU_bar]))
                return -d2link * v * first - dlink * mixed

            return apply

        return y, jvp, pullback, curvature

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        return self._observe(self._forward(theta)[4])

    def fingerprint(self) -> str:
        """A stable hash of what defines the map (mesh, degree, time grid and scheme, initial
        and boundary data, sources, observation operator and times, link)."""
        S = self.state_space
        return fingerprint(type(self).__name__, S.degree, S.coordinates, S.cell_dofs,
                           self.final_time, self.num_steps, self.scheme, self.initial_state,
                           self._g, self._source, self.observation.matrix(S),
                           self.observation_times, repr(self.link))


def _num_steps(T: float, time_step: float | None, num_steps: int | None) -> int:
    if (time_step is None) == (num_steps is None):
        raise InvalidArgumentError(
            f"give exactly one of time_step (Δt > 0) and num_steps (>= 1); got "
            f"time_step={time_step!r}, num_steps={num_steps!r}")
    if num_steps is not None:
        return integer_at_least("num_steps", num_steps, 1)
    dt = positive_float("time_step", time_step)
    return max(1, int(np.ceil(T / dt - 1e-9)))


def _observation_times(times: ArrayLike | None, T: float) -> np.ndarray:
    if times is None:
        return np.array([T])
    arr = np.atleast_1d(np.asarray(times, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise InvalidArgumentError(
            f"observation_times must be a non-empty 1-d array of finite times, got {times!r}")
    bad = (arr <= 0.0) | (arr > T * (1.0 + 1e-12))
    if bad.any():
        raise InvalidArgumentError(
            f"observation_times must lie in (0, T] = (0, {T:g}]; got {arr[bad][:5].tolist()}")
    return np.minimum(arr, T)


def _interpolation_levels(times: np.ndarray, dt: float, nt: int
                          ) -> list[tuple[int, int, float]]:
    """(lo, hi, α) per observation time: u(τ_j) ≈ (1 − α) u^lo + α u^hi (linear in time;
    α = 0 when τ_j is on the grid)."""
    levels = []
    for t in times:
        x = t / dt
        lo = min(int(np.floor(x + 1e-9)), nt)
        alpha = x - lo
        if alpha <= 1e-9 * max(1.0, x) or lo == nt:
            levels.append((lo, lo, 0.0))
        else:
            levels.append((lo, lo + 1, float(alpha)))
    return levels


def _at_time(space: LagrangeSpace, value: TimeFieldLike, t: float) -> np.ndarray:
    """Dof values of a constant, a callable value(x, t) or an array at time t."""
    if callable(value):
        return space.interpolate(lambda x: value(x, t))
    return space.interpolate(value)
