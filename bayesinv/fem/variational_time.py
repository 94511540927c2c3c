r"""Time-dependent user forms: the ϑ-scheme for linear parabolic problems with a discrete adjoint.

The user gives the stationary residual F(u, m; v) = a(u, v; m) − ℓ(v) (linear in u, as for
:class:`~bayesinv.fem.VariationalForwardMap`) and optionally the mass form M(u, v) (default
∫ u v); the PDE is M(∂ₜu, v) + F(u, m; v) = 0 with u = g on the Dirichlet dofs (time-independent
data) and u(0) = u₀. On the free dofs, with J = J_FF(m) = ∂F_F/∂u_F and b = F_F(u_g; m) (u_g
the lifted Dirichlet data), so that F_F(u) = J u_F + b,

    (M/Δt + ϑJ) uⁿ = (M/Δt − (1−ϑ)J) uⁿ⁻¹ − b,       n = 1..N_t

(ϑ = 1 backward Euler, ϑ = ½ Crank–Nicolson). One factorisation of A = M/Δt + ϑJ per θ serves
all forward, adjoint and tangent steps. Observed: y_j = O u(τ_j) at times τ_j on the time grid,
stacked time-major. The discrete adjoint, backward in time (λ^{N_t+1} = 0, B = M/Δt − (1−ϑ)J),

    Aᵀ λⁿ = Σ_{j: τ_j = t_n} O_Fᵀ w_j + Bᵀ λⁿ⁺¹,     Jᵀw = −Σ_n (∂F_F/∂m at ūⁿ)ᵀ λⁿ,

with ūⁿ = ϑuⁿ + (1−ϑ)uⁿ⁻¹ (F is affine in u), so Taylor and dot-product tests hold to round-off.
∂F_F/∂m comes from the probed affine operator (:mod:`bayesinv.fem.affine_probe`) when the
residual is affine in m, else from the compiled UFL forms (one assembly per step).

References: Thomée (2006), *Galerkin finite element methods for parabolic problems*, ch. 7–8.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
import ufl
from numpy.typing import ArrayLike

from .._validation import integer_at_least, one_of, positive_float
from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.base import ForwardMap
from ..forward.fingerprint import fingerprint
from . import _compat
from .assembly import csr_positions
from .heat import SCHEMES
from .variational import VariationalForwardMap

if TYPE_CHECKING:
    from dolfinx.mesh import Mesh

    from ..protocols import Pullback, Pushforward
    from .domain import Domain, FieldLike, LagrangeSpace
    from .general_domain import MeshDomain
    from .meshes import MeshData
    from .variational_spaces import DofSpace, VariationalObservation


class VariationalEvolutionMap(ForwardMap):
    """θ ↦ (O u(τ_1), …, O u(τ_J)) for M(∂ₜu, v) + F(u, m; v) = 0 (see the module docstring).

    Parameters
    ----------
    residual, mesh, observation
        As for :class:`~bayesinv.fem.VariationalForwardMap` (F linear in u).
    final_time : float
        T > 0.
    num_steps : int
        N_t ≥ 1 (Δt = T/N_t).
    observation_times : array_like, optional
        τ_j ∈ (0, T] on the time grid (multiples of Δt); default (T,).
    scheme : {"backward_euler", "crank_nicolson"}
    initial_value : float, callable u₀(x) or dof values
        On the free dofs (the Dirichlet dofs carry g).
    mass : callable, optional
        ``mass(u, v) -> ufl.Form``, a bilinear form independent of m; default ∫ u v dx.
    **kwargs
        ``parameter``, ``state``, ``bcs``, ``link``, ``coefficients``, ``solver``, ``probe``,
        ``facet_tags`` as for :class:`~bayesinv.fem.VariationalForwardMap`.
    """

    def __init__(self, residual: Callable[..., ufl.Form],
                 mesh: Domain | MeshData | MeshDomain | Mesh,
                 observation: VariationalObservation, *, final_time: float, num_steps: int,
                 observation_times: ArrayLike | None = None,
                 scheme: Literal["backward_euler", "crank_nicolson"] = "backward_euler",
                 initial_value: FieldLike = 0.0,
                 mass: Callable[[ufl.Argument, ufl.Argument], ufl.Form] | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        if "experiments" in kwargs or "newton" in kwargs:
            raise InvalidArgumentError(
                "VariationalEvolutionMap takes no experiments= or newton= (one linear "
                "trajectory per θ)")
        inner = self.stationary = VariationalForwardMap(residual, mesh, observation, **kwargs)
        if not inner.linear:
            raise InvalidArgumentError(
                "VariationalEvolutionMap needs a residual linear in u (the ϑ-scheme for linear "
                "parabolic problems); this residual's Jacobian depends on u")
        self.final_time = T = positive_float("final_time", final_time)
        self.num_steps = integer_at_least("num_steps", num_steps, 1)
        self.time_step = dt = T / self.num_steps
        self.scheme = one_of("scheme", scheme, tuple(SCHEMES))
        self.theta_scheme = SCHEMES[scheme]
        times = np.array([T]) if observation_times is None else np.atleast_1d(
            np.asarray(observation_times, dtype=float))
        steps = np.rint(times / dt).astype(np.int64)
        if (times.ndim != 1 or np.any(steps < 1) or np.any(steps > self.num_steps)
                or not np.allclose(steps * dt, times, rtol=0, atol=1e-9 * T)):
            raise InvalidArgumentError(
                f"observation_times must lie in (0, {T:g}] on the time grid (multiples of "
                f"Δt = {dt:g}), got {times.tolist()}")
        self.observation_times, self._obs_steps = times, steps
        self.link = inner.link
        self.function_space = inner.function_space
        free = self.free_dofs = inner.free_dofs
        block = inner._jacobian

        V = inner.function_space
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        form = u * v * ufl.dx if mass is None else mass(u, v)
        if not isinstance(form, ufl.Form) or len(form.arguments()) != 2:
            raise InvalidArgumentError("mass must return a bilinear UFL form mass(u, v)")
        if inner._m in form.coefficients():
            raise InvalidArgumentError("the mass form must not depend on the parameter m")
        M = _compat.assemble_matrix_csr(_compat.form(form))[free][:, free].tocoo()
        try:
            pos = csr_positions(block.ff_indptr, block.ff_indices, M.row, M.col)
        except RuntimeError as exc:
            raise InvalidArgumentError(
                "the mass form couples dofs that the residual's Jacobian does not") from exc
        self._mass_ff = np.bincount(pos, weights=M.data, minlength=block.ff_indices.shape[0])
        self._mass_symmetric = block.is_symmetric(self._mass_ff)
        import dolfinx.fem

        u0 = dolfinx.fem.Function(V)
        from .variational_spaces import _fill

        _fill(u0, initial_value, "initial_value")
        self._start = inner._initial[0].copy()
        self._start[free] = 0.0
        self._u0_free = u0.x.array[free].copy()
        self.observation_matrix = inner.observation_matrix
        self.num_observations = inner.num_observations
        self.input_dim = inner.input_dim
        self.output_dim = times.shape[0] * self.num_observations
        if inner.observation_kind == "points":
            self.design = inner.design

    # -- the per-θ operators -------------------------------------------------------------------

    def _operators(self, theta):
        inner, aff = self.stationary, self.stationary._affine
        theta = self._check_theta(theta)
        z, m = inner._set_parameter(theta)
        if aff is not None:
            jvals, b = aff.ff_values(m), aff.residual(0, m)
            jsym = aff.symmetric
        else:
            inner._u.x.array[:] = self._start
            jvals = inner._jacobian.values()
            b = inner._residual_free(self._start)
            jsym = None
        th, dt = self.theta_scheme, self.time_step
        block = inner._jacobian
        sym = None if jsym is None else (jsym and self._mass_symmetric)
        factor = block.factorize_values(self._mass_ff / dt + th * jvals, sym)
        shape = (block.num_free, block.num_free)
        Bmat = sp.csr_matrix((self._mass_ff / dt - (1.0 - th) * jvals, block.ff_indices,
                              block.ff_indptr), shape=shape)
        return theta, z, m, factor, Bmat, b

    def _trajectory(self, factor, Bmat, b):
        N = self.num_steps
        U = np.empty((N + 1, self.free_dofs.size))
        U[0] = self._u0_free
        for n in range(1, N + 1):
            U[n] = factor.solve(Bmat @ U[n - 1] - b)
        if not np.isfinite(U).all():
            raise ForwardSolveError("the time integration produced non-finite values")
        return U

    def _observe(self, U):
        full = np.repeat(self._start[None], len(self._obs_steps), axis=0)
        full[:, self.free_dofs] = U[self._obs_steps]
        return (full @ self.observation_matrix.T).ravel()

    def solve_state(self, theta: ArrayLike) -> np.ndarray:
        """All time levels of u (full dof vectors), shape (num_steps + 1, num_dofs)."""
        _, _, _, factor, Bmat, b = self._operators(theta)
        U = self._trajectory(factor, Bmat, b)
        self.counts.forward += 1
        full = np.repeat(self._start[None], U.shape[0], axis=0)
        full[:, self.free_dofs] = U
        return full

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        _, _, _, factor, Bmat, b = self._operators(theta)
        U = self._trajectory(factor, Bmat, b)
        self.counts.forward += 1
        return self._observe(U)

    def _dF_dm_t(self, lam, ubar, m):
        """(∂F_F/∂m at ū)ᵀ λ."""
        inner, aff = self.stationary, self.stationary._affine
        if aff is not None:
            return aff.contract(0, lam, ubar)
        inner._m.x.array[:] = m
        u = self._start.copy()
        u[self.free_dofs] = ubar
        inner._u.x.array[:] = u
        lam_full = np.zeros(inner.num_dofs)
        lam_full[self.free_dofs] = lam
        inner._lam.x.array[:] = lam_full
        return _compat.assemble_vector_array(inner.forms.gradient)

    def _dF_dm(self, dm, ubar, m):
        """(∂F_F/∂m at ū) dm."""
        inner, aff = self.stationary, self.stationary._affine
        if aff is not None:
            return aff.apply_derivative(0, dm, ubar)
        inner._m.x.array[:] = m
        inner._dm.x.array[:] = dm
        u = self._start.copy()
        u[self.free_dofs] = ubar
        inner._u.x.array[:] = u
        return _compat.assemble_vector_array(inner.forms.tangent)[self.free_dofs]

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """G(θ), v ↦ J(θ) v and w ↦ J(θ)ᵀ w sharing one factorisation."""
        theta, z, m, factor, Bmat, b = self._operators(theta)
        U = self._trajectory(factor, Bmat, b)
        self.counts.forward += 1
        y = self._observe(U)
        th, N = self.theta_scheme, self.num_steps
        Ubar = th * U[1:] + (1.0 - th) * U[:-1]            # ū^n, n = 1..N (row n − 1)
        O_f, O_ft = self.stationary._O_free, self.stationary._O_free_t
        param = self.stationary._param
        BmatT = Bmat.T.tocsr()

        def jvp(v):
            dm = param.push(z, self._check_tangent(v))
            dU = np.zeros_like(U)
            for n in range(1, N + 1):
                dU[n] = factor.solve(Bmat @ dU[n - 1] - self._dF_dm(dm, Ubar[n - 1], m))
            self.counts.tangent += 1
            return (dU[self._obs_steps] @ O_f.T).ravel()

        def pullback(w):
            w = self._check_output(w).reshape(len(self._obs_steps), -1)
            loads = np.zeros_like(U)
            for j, s in enumerate(self._obs_steps):
                loads[s] += O_ft @ w[j]
            grad = np.zeros(param.num_dofs)
            lam_next = np.zeros(U.shape[1])
            for n in range(N, 0, -1):
                lam = factor.solve_transpose(loads[n] + BmatT @ lam_next)
                grad -= self._dF_dm_t(lam, Ubar[n - 1], m)
                lam_next = lam
            self.counts.adjoint += 1
            return param.pull(z, grad)

        return y, jvp, pullback

    def fingerprint(self) -> str:
        """The stationary map's fingerprint plus the mass form, time grid, scheme, initial
        value and observation times."""
        return fingerprint(type(self).__name__, self.stationary.fingerprint(), self._mass_ff,
                           self.final_time, self.num_steps, self.scheme, self._u0_free,
                           self.observation_times)

    @property
    def parameter_space(self) -> LagrangeSpace | DofSpace:
        """The stationary map's parameter space (where θ lives)."""
        return self.stationary.parameter_space
