"""Second-order elliptic forward maps whose operator is affine in the coefficient f = Φ(θ).

The PDE (weak form, u = g on ∂O, test functions v vanishing on ∂O) is

    c_K ∫ ∇u·∇v  +  ∫ f · t(u, v)  =  c_s ∫ s v,        t(u, v) = u v  or  ∇u·∇v,

discretised with continuous Lagrange elements (P1 or P2) for u and P1 nodal values for θ.
Writing the matrix as A(f) = A₀ + Σ_k f_k T_k, the map precomputes A₀ and the trilinear
tensor T (see :mod:`bayesinv.fem.assembly`), eliminates the Dirichlet dofs (splitting the
dofs into free F and boundary B), and per evaluation does

    A_FF(f) u_F = b_F − A_FB(f) g_B,      G(θ) = O u     (O: point evaluation at the design)

with one sparse Cholesky factorisation of A_FF. The adjoint (Jᵀ w) and tangent (J v) reuse it:

    A_FF λ = O_Fᵀ w,       (Jᵀ w)_k = −Φ'(θ_k) Σ_{i∈F, j} (T_k)_ij λ_i u_j,
    A_FF δu_F = −(dA[Φ'(θ) v] u)_F,    J v = O_F δu_F.

References: Nickl (2023), *Bayesian non-linear statistical inverse problems*, EMS, §1–2;
Tröltzsch/Hinze et al. for the adjoint calculus; hIPPYlib (Villa, Petra & Ghattas 2021).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.base import ForwardMap
from ..linalg import make_solver
from ..links import get_link
from .assembly import assemble_coefficient_tensor
from .domain import Domain


def _sub_csr(indptr, indices, row_mask, col_mask, col_renumber):
    """Positions (into the full data array) and CSR arrays of the (rows × cols) block."""
    n = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    keep = row_mask[rows] & col_mask[indices]
    pos = np.flatnonzero(keep)
    counts = np.bincount(rows[pos], minlength=n)[row_mask]
    sub_indptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=sub_indptr[1:])
    return pos, sub_indptr, col_renumber[indices[pos]]


class EllipticForwardMap(ForwardMap):
    """Point observations of an elliptic PDE solution with coefficient f = Φ(θ).

    Parameters
    ----------
    domain : Domain
    design : array_like, shape (N, dim)
        Design points X_i; all must lie in the domain.
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
        "exp" or "regular" (see :mod:`bayesinv.links`).
    degree : {1, 2}
        Lagrange degree of the state space.
    solver : None, "cholmod", "superlu" or an object with ``factorize(A)``
        Sparse SPD solver (see :mod:`bayesinv.linalg`).
    """

    def __init__(self, domain: Domain, design, *, coefficient_term: str, base_stiffness: float,
                 source_scale: float, source=None, boundary_value=0.0, link="exp", degree=1,
                 solver=None):
        super().__init__()
        if not isinstance(domain, Domain):
            raise InvalidArgumentError(
                f"domain must be a bayesinv.fem.Domain (e.g. bayesinv.fem.unit_square(32)), "
                f"got {type(domain).__name__}")
        if degree not in (1, 2):
            raise InvalidArgumentError(f"degree must be 1 or 2, got {degree!r}")
        self.domain = domain
        self.link = get_link(link)
        self.solver = make_solver(solver)
        self.design = domain.check_points(design, "design")
        S = self.state_space = domain.space(degree)
        Q = self.parameter_space = domain.parameter_space
        self.input_dim, self.output_dim = Q.num_dofs, self.design.shape[0]

        free = np.ones(S.num_dofs, dtype=bool)
        free[S.boundary_dofs] = False
        self._free = np.flatnonzero(free)
        renumber = np.full(S.num_dofs, -1, dtype=np.int64)
        renumber[self._free] = np.arange(self._free.size)
        renumber[S.boundary_dofs] = np.arange(S.boundary_dofs.size)
        indptr, indices = S.pattern

        tensor = assemble_coefficient_tensor(domain, S, Q, coefficient_term)
        base = base_stiffness * S.stiffness_matrix.data
        # free × free block: the matrix we factorise
        pos_ff, self._ff_indptr, self._ff_indices = _sub_csr(indptr, indices, free, free, renumber)
        self._T_ff, self._a0_ff = tensor[pos_ff], base[pos_ff]
        # free × boundary block: moves the boundary data to the right-hand side
        pos_fb, fb_indptr, fb_indices = _sub_csr(indptr, indices, free, ~free, renumber)
        self._T_fb, self._a0_fb = tensor[pos_fb], base[pos_fb]
        self._fb_pattern = (fb_indptr, fb_indices, (self._free.size, S.boundary_dofs.size))
        # all entries in free rows: for dA u in the adjoint and tangent
        entry_rows = np.repeat(np.arange(S.num_dofs), np.diff(indptr))
        pos_f = np.flatnonzero(free[entry_rows])
        self._T_frows = tensor[pos_f]
        self._T_frows_t = self._T_frows.T.tocsr()
        self._frow_rows = renumber[entry_rows[pos_f]]
        self._frow_cols = indices[pos_f]

        self._g = S.interpolate(boundary_value)
        self._g[self._free] = 0.0
        s = S.interpolate(0.0 if source is None else source)
        self._b_f = source_scale * (S.mass_matrix @ s)[self._free]
        O = S.evaluation_matrix(self.design)
        self._O_f = O[:, self._free].tocsr()
        self._O_f_t = self._O_f.T.tocsr()
        self._y_boundary = O @ self._g

    # -- the solve -------------------------------------------------------------------------

    def _factorize(self, f: np.ndarray):
        data = self._a0_ff + self._T_ff @ f
        n = self._free.size
        # A_FF is symmetric, so its CSR arrays are also its CSC arrays.
        A = sp.csc_matrix((data, self._ff_indices, self._ff_indptr), shape=(n, n))
        return self.solver.factorize(A)

    def _rhs(self, f: np.ndarray) -> np.ndarray:
        g_b = self._g[self.state_space.boundary_dofs]
        if not g_b.any():
            return self._b_f
        indptr, indices, shape = self._fb_pattern
        A_fb = sp.csr_matrix((self._a0_fb + self._T_fb @ f, indices, indptr), shape=shape)
        return self._b_f - A_fb @ g_b

    def _forward(self, theta):
        theta = self._check_theta(theta)
        f = self.link(theta)
        factor = self._factorize(f)
        u_f = factor(self._rhs(f))
        self.counts.forward += 1
        if not np.isfinite(u_f).all():
            raise ForwardSolveError("the forward solution is not finite")
        u = self._g.copy()
        u[self._free] = u_f
        return theta, factor, u

    def solve_state(self, theta) -> np.ndarray:
        """The FE solution u_θ (dof values on the state space, boundary values included)."""
        return self._forward(theta)[2]

    def _dA_u(self, df: np.ndarray, u: np.ndarray) -> np.ndarray:
        """(dA[df] u) restricted to the free rows."""
        values = (self._T_frows @ df) * u[self._frow_cols]
        return np.bincount(self._frow_rows, values, minlength=self._free.size)

    def linearize(self, theta):
        theta, factor, u = self._forward(theta)
        dlink = self.link.derivative(theta)
        y = self._O_f @ u[self._free] + self._y_boundary

        def jvp(v):
            v = np.asarray(v, dtype=float)
            if v.shape != theta.shape:
                raise InvalidArgumentError(f"v must have shape {theta.shape}, got {v.shape}")
            self.counts.tangent += 1
            return self._O_f @ -factor(self._dA_u(dlink * v, u))

        def pullback(w):
            lam = factor(self._O_f_t @ self._check_output(w))
            self.counts.adjoint += 1
            return -dlink * (self._T_frows_t @ (lam[self._frow_rows] * u[self._frow_cols]))

        return y, jvp, pullback

    def value_and_pullback(self, theta):
        y, _, pullback = self.linearize(theta)
        return y, pullback

    def __call__(self, theta):
        _, _, u = self._forward(theta)
        return self._O_f @ u[self._free] + self._y_boundary
