"""Second-order elliptic forward maps whose operator is affine in the coefficient f = Φ(θ).

The PDE (weak form, u = g on ∂O, test functions v vanishing on ∂O) is

    c_K ∫ ∇u·∇v  +  ∫ f · t(u, v)  =  c_s ∫ s v,        t(u, v) = u v  or  ∇u·∇v,

discretised with continuous Lagrange elements (P1 or P2) for u and P1 nodal values for θ.
Writing the matrix as A(f) = A₀ + Σ_k f_k T_k, the map precomputes A₀ and the trilinear
tensor T (see :mod:`bayesinv.fem.assembly`), eliminates the Dirichlet dofs (splitting the
dofs into free F and boundary B, :mod:`bayesinv.fem.operator`), and per evaluation does

    A_FF(f) u_F = b_F − A_FB(f) g_B,      G(θ) = O u     (O: the observation operator)

with one sparse factorisation of A_FF. The adjoint (Jᵀ w) and tangent (J v) reuse it:

    A_FF λ = O_Fᵀ w,       (Jᵀ w)_k = −Φ'(θ_k) Σ_{i∈F, j} (T_k)_ij λ_i u_j,
    A_FF δu_F = −(dA[Φ'(θ) v] u)_F,    J v = O_F δu_F.

Several experiments sharing θ (boundary data g_1..g_K and sources s_1..s_K, e.g. several
boundary excitations) share the factorisation: K right-hand sides, K adjoint right-hand sides,
observations stacked as y = (O u_1, …, O u_K).

The fast path per θ, with nothing rebuilt: f = Φ(θ) (NumPy); the values of A_FF(f) filled into
the fixed pattern by a numba kernel (a sparse tensor–vector product); the numeric
factorisation (PETSc Cholesky by default, symbolic analysis reused); the lifted right-hand side
b_F − A₀_FB g_B − L f with L precomputed (A_FB(f) g_B is linear in f); one triangular-solve
pair per right-hand side; the adjoint contraction in two fused numba passes. See
``benchmarks/forward_maps.py`` for the cost relative to one factorisation and two solves.

References: Nickl (2023), *Bayesian non-linear statistical inverse problems*, EMS, §1–2;
Hinze, Pinnau, Ulbrich & Ulbrich (2009) for the adjoint calculus; hIPPYlib (Villa, Petra &
Ghattas 2021), which re-assembles with UFL per θ where this module fills a fixed pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._validation import one_of
from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.base import ForwardMap
from ..forward.fingerprint import fingerprint
from ..linalg import bind_solver
from ..links import coefficient, get_link
from . import kernels
from .assembly import FormKind
from .domain import Domain, FieldLike
from .observation import Design, PointObservation, as_observation
from .operator import CoefficientTensor, SplitPattern
from .solvers import SolverSpec, make_solver

if TYPE_CHECKING:
    from ..links import Link
    from ..protocols import Curvature, Pullback, Pushforward


@dataclass(frozen=True)
class Experiment:
    """One experiment of a multi-experiment map: Dirichlet data g and source s.

    Each is a constant, a callable ``fn(x)`` (x of shape (dim, n)) or dof values.
    """

    boundary_value: FieldLike = 0.0
    source: FieldLike | None = None


class CoefficientMap(ForwardMap):
    """Base of the FE maps whose operator is linear in the coefficient f = Φ(θ) (elliptic
    and heat): what they share is set up by :meth:`_set_up_coefficient_map`."""

    def _set_up_coefficient_map(self, domain: Domain, design: Design, *, degree: int,
                                link: str | Link, solver: SolverSpec,
                                coefficient_term: FormKind) -> None:
        """Validate and set ``domain``, ``link``, ``solver``, ``observation`` (and ``design``
        for point observations), ``state_space`` (P``degree``), ``parameter_space`` (P1), the
        free/boundary split and the coefficient tensor of the ``coefficient_term`` ("mass":
        ∫ f u v, "stiffness": ∫ f ∇u·∇v)."""
        if not isinstance(domain, Domain):
            raise InvalidArgumentError(
                f"domain must be a bayesinv.fem.Domain (e.g. bayesinv.fem.unit_square(32)), "
                f"got {type(domain).__name__}")
        if degree not in (1, 2):
            raise InvalidArgumentError(f"degree must be 1 or 2, got {degree!r}")
        one_of("coefficient_term", coefficient_term, ("mass", "stiffness"))
        self.domain = domain
        self.link = get_link(link)
        self.solver = make_solver(solver)
        self.observation = as_observation(design, domain)
        if isinstance(self.observation, PointObservation):  # kind "points"
            self.design = self.observation.points
        S = self.state_space = domain.space(degree)
        Q = self.parameter_space = domain.parameter_space
        self._split = SplitPattern(S)
        self._tensor = CoefficientTensor(self._split, S, Q, coefficient_term)


class EllipticForwardMap(CoefficientMap):
    """Observations of an elliptic PDE solution with coefficient f = Φ(θ).

    Parameters
    ----------
    domain : Domain
    design : array_like of shape (N, dim), "field", or an observation object
        Design points X_i (all must lie in the domain), or ``"field"`` /
        :class:`~bayesinv.fem.FieldObservation` for the full field in L²
        (see :mod:`bayesinv.fem.observation`).
    coefficient_term : {"mass", "stiffness"}
        t(u, v) = u v (zero-order, Schrödinger) or ∇u·∇v (divergence form, Darcy).
    base_stiffness : float
        c_K, the coefficient-independent multiple of ∫ ∇u·∇v.
    source_scale : float
        c_s in the right-hand side c_s ∫ s v.
    source : float or callable, optional
        s (interpolated in the state space); default 0.
    boundary_value : float or callable
        g on ∂O.
    link : str or Link
        "exp", "regular" or "identity" (see :mod:`bayesinv.links`).
    degree : {1, 2}
        Lagrange degree of the state space.
    solver : None, "petsc", "cholmod", "superlu" or a solver object
        See :mod:`bayesinv.fem.solvers`; default PETSc sparse Cholesky.
    experiments : sequence of Experiment, optional
        Several experiments sharing θ; replaces ``boundary_value`` and ``source``. The
        output is the stack (O u_1, …, O u_K) of length K·N.
    """

    def __init__(self, domain: Domain, design: Design, *, coefficient_term: FormKind,
                 base_stiffness: float, source_scale: float, source: FieldLike | None = None,
                 boundary_value: FieldLike = 0.0, link: str | Link = "exp", degree: int = 1,
                 solver: SolverSpec = None, experiments: Sequence[Experiment] | None = None
                 ) -> None:
        super().__init__()
        self._set_up_coefficient_map(domain, design, degree=degree, link=link, solver=solver,
                                     coefficient_term=coefficient_term)
        self.experiments = _experiments(experiments, boundary_value, source)
        S, split = self.state_space, self._split

        base = float(base_stiffness) * S.stiffness_matrix
        self._a0_ff = self._tensor.ff_values(self._tensor.upper_values(base.data))
        a0_rows = base.tocsr()[split.free]
        g_all, c_all, lifts = [], [], []
        for exp in self.experiments:
            g = S.interpolate(exp.boundary_value)
            g[split.free] = 0.0
            s = S.interpolate(0.0 if exp.source is None else exp.source)
            g_all.append(g)
            c_all.append(float(source_scale) * (S.mass_matrix @ s)[split.free] - a0_rows @ g)
            lifts.append(self._tensor.lifting_matrix(g))
        self._g = np.ascontiguousarray(np.stack(g_all))                    # (K, num_dofs)
        self._c = np.ascontiguousarray(np.concatenate(c_all))              # (K·num_free,)
        self._lift = kernels.csr_arrays(sp.vstack(lifts, format="csr"))

        O = self.observation.matrix(S).tocsr()
        self._O = kernels.csr_arrays(O)
        self._O_f = kernels.csr_arrays(O[:, split.free])
        self._O_f_t = kernels.csr_arrays(O[:, split.free].T)
        self.num_experiments = len(self.experiments)
        self.num_observations = O.shape[0]
        self.input_dim = self.parameter_space.num_dofs
        self.output_dim = self.num_experiments * O.shape[0]
        self._factorizer = bind_solver(self.solver, split.ff_indptr, split.ff_indices,
                                       split.num_free)

    # -- the solve -------------------------------------------------------------------------

    def _factorize(self, f: np.ndarray):
        data = np.empty(self._split.nnz_ff)  # a fresh array: the factorisation keeps it
        self._tensor.fill_ff(f, data, self._a0_ff)
        return self._factorizer.factorize(data)

    def _solve_block(self, factor, rhs: np.ndarray) -> np.ndarray:
        """Solve for the rows of rhs (shape (K, num_free)); returns (K, num_free)."""
        if rhs.shape[0] == 1:
            return np.asarray(factor(rhs[0])).reshape(1, -1)
        return np.ascontiguousarray(np.asarray(factor(np.ascontiguousarray(rhs.T))).T)

    def _forward(self, theta):
        theta = self._check_theta(theta)
        f = coefficient(self.link, theta)
        factor = self._factorize(f)
        rhs = np.empty(self._c.shape[0])
        kernels.csr_matvec_sub(*self._lift, f, self._c, rhs)
        u_f = self._solve_block(factor, rhs.reshape(self.num_experiments, -1))
        self.counts.forward += self.num_experiments
        if not np.isfinite(u_f).all():
            raise ForwardSolveError("the forward solution is not finite")
        return theta, f, factor, self._split.embed(u_f, self._g)

    def _observe(self, u: np.ndarray, matrix) -> np.ndarray:
        out = np.empty((u.shape[0], self.num_observations))
        for j in range(u.shape[0]):
            kernels.csr_matvec(*matrix, u[j], out[j])
        return out.ravel()

    def solve_state(self, theta: ArrayLike) -> np.ndarray:
        """The FE solution u_θ (dof values on the state space, boundary values included);
        shape (num_dofs,), or (K, num_dofs) for K > 1 experiments."""
        u = self._forward(theta)[3]
        return u[0] if self.num_experiments == 1 else u

    def operator_matrix(self, theta: ArrayLike) -> sp.csr_matrix:
        """A_FF(Φ(θ)), the factorised matrix, as a SciPy CSR matrix (free dofs; for
        inspection and tests)."""
        theta = self._check_theta(theta)
        data = np.empty(self._split.nnz_ff)
        self._tensor.fill_ff(coefficient(self.link, theta), data, self._a0_ff)
        return self._split.ff_matrix(data)

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """G(θ), v ↦ J(θ) v and w ↦ J(θ)ᵀ w sharing one factorisation."""
        return self._linearization(theta)[:3]

    def linearize_second_order(self, theta: ArrayLike
                               ) -> tuple[np.ndarray, Pushforward, Pullback, Curvature]:
        r"""G(θ), jvp, pullback and ``curvature`` (see :class:`~bayesinv.forward.ForwardMap`).

        With A_FF λ = O_Fᵀ w, c(a, b)_k = aᵀ T_k b and df = Φ'(θ) ⊙ v, the action of
        Σ_i w_i ∇²G_i(θ) + c_GN JᵀJ on v is

            A_FF δu_F = −(T(df) u)_F,       A_FF δλ = c_GN O_Fᵀ O_F δu_F − (T(df) λ)_F,
            H v = −Φ''(θ) ⊙ v ⊙ c(λ, u) − Φ'(θ) ⊙ (c(δλ, u) + c(λ, δu)),

        (the operator is linear in u and in f, so no ∂²/∂u² or ∂²/∂f² terms): one adjoint solve
        per w, one tangent and one adjoint solve per action, all with the forward factorisation.
        """
        return self._linearization(theta)

    def _linearization(self, theta):
        theta, _, factor, u = self._forward(theta)
        dlink = self.link.derivative(theta)
        y = self._observe(u, self._O)
        K, split = self.num_experiments, self._split

        def adjoint_rhs(w):
            rhs = np.empty((K, split.num_free))
            for j in range(K):
                kernels.csr_matvec(*self._O_f_t, w[j], rhs[j])
            return rhs

        def tangent(df):
            return self._solve_block(factor, self._tensor.apply_derivative(df, u))

        def jvp(v):
            v = self._check_tangent(v)
            du = tangent(dlink * v)
            self.counts.tangent += K
            return -self._observe(du, self._O_f)

        def pullback(w):
            w = self._check_output(w).reshape(K, -1)
            lam = self._solve_block(factor, adjoint_rhs(w))
            self.counts.adjoint += K
            return -dlink * self._tensor.contract(lam, u)

        def curvature(w, gn_scale=0.0):
            w = self._check_output(w).reshape(K, -1)
            gn_scale = float(gn_scale)
            d2link = self.link.second_derivative(theta)
            lam = self._solve_block(factor, adjoint_rhs(w))
            self.counts.adjoint += K
            lam_full = split.embed(lam, np.zeros((K, split.num_dofs)))
            first = self._tensor.contract(lam, u)

            def apply(v):
                v = self._check_tangent(v)
                df = dlink * v
                sources = self._tensor.apply_derivative(df, np.concatenate([u, lam_full]))
                du = -self._solve_block(factor, sources[:K])
                rhs = -sources[K:]
                if gn_scale:
                    rhs += gn_scale * adjoint_rhs(self._observe(du, self._O_f).reshape(K, -1))
                dlam = self._solve_block(factor, rhs)
                self.counts.tangent += K
                self.counts.adjoint += K
                zero = np.zeros((K, split.num_dofs))
                mixed = self._tensor.contract_full(  # c(δλ, u) + c(λ, δu)
                    np.concatenate([split.embed(dlam, zero), lam_full]),
                    np.concatenate([u, split.embed(du, zero)]))
                return -d2link * v * first - dlink * mixed

            return apply

        return y, jvp, pullback, curvature

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        u = self._forward(theta)[3]
        return self._observe(u, self._O)

    def fingerprint(self) -> str:
        """A stable hash of what defines the map (PDE kind, operator data, boundary data and
        sources, observation operator, link, degree): see :mod:`bayesinv.forward.fingerprint`."""
        S = self.state_space
        return fingerprint(type(self).__name__, self._tensor.kind, S.degree, S.coordinates,
                           S.cell_dofs, self._a0_ff, self._g, self._c,
                           self.observation.matrix(S), repr(self.link))


def _experiments(experiments: Sequence[Experiment] | None, boundary_value: FieldLike,
                 source: FieldLike | None) -> tuple[Experiment, ...]:
    if experiments is None:
        return (Experiment(boundary_value, source),)
    experiments = tuple(experiments)
    if not experiments or not all(isinstance(e, Experiment) for e in experiments):
        raise InvalidArgumentError(
            "experiments must be a non-empty sequence of bayesinv.fem.Experiment(boundary_value"
            f"=..., source=...), got {experiments!r}")
    return experiments
