"""Coefficient-affine FE operators split by Dirichlet dofs: the data of the fast path.

With Dirichlet conditions u = g on ∂O the dofs split into free (F) and boundary (B) ones. The
forward maps need three views of a matrix A on the state space's sparsity pattern:

* the free × free block A_FF (the matrix that is factorised),
* the free rows × all columns A_F: (for right-hand sides A_F: u with u including g, and for
  the derivative (∂A/∂f_k) u in the adjoint and tangent),
* and, for a coefficient-linear part T(f) = Σ_k f_k T_k, the same two views of the tensor T.

:class:`SplitPattern` computes the index maps once; :class:`CoefficientTensor` stores T in
those views as plain CSR arrays for the numba kernels of :mod:`bayesinv.fem.kernels`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import kernels
from .assembly import assemble_coefficient_tensor


class SplitPattern:
    """The sparsity pattern of a Lagrange space split into free and boundary dofs.

    Attributes
    ----------
    free, boundary : ndarray
        Dof indices (sorted).
    ff_indptr, ff_indices : ndarray
        CSR pattern of A_FF in the free numbering (symmetric: also its CSC pattern).
    fr_indptr, fr_indices : ndarray
        CSR pattern of A_F: (free rows, columns in the full numbering).
    fr_rows : ndarray
        Free row index of each entry of the A_F: pattern.
    """

    def __init__(self, space):
        n = space.num_dofs
        is_free = np.ones(n, dtype=bool)
        is_free[space.boundary_dofs] = False
        self.num_dofs = n
        self.free = np.flatnonzero(is_free)
        self.boundary = np.asarray(space.boundary_dofs, dtype=np.int64)
        self.num_free = self.free.size
        renumber = np.full(n, -1, dtype=np.int64)
        renumber[self.free] = np.arange(self.num_free)
        indptr, indices = space.pattern
        rows = np.repeat(np.arange(n), np.diff(indptr))
        # free rows × all columns
        self.pos_fr = np.flatnonzero(is_free[rows])
        self.fr_rows = renumber[rows[self.pos_fr]]
        self.fr_indptr = _indptr_from_rows(self.fr_rows, self.num_free)
        self.fr_indices = np.ascontiguousarray(indices[self.pos_fr], dtype=np.int64)
        # free × free, as positions inside the free-rows arrays
        in_fr = is_free[self.fr_indices]
        self.ff_in_fr = np.flatnonzero(in_fr)
        self.pos_ff = self.pos_fr[self.ff_in_fr]
        self.ff_indptr = _indptr_from_rows(self.fr_rows[self.ff_in_fr], self.num_free)
        self.ff_indices = renumber[self.fr_indices[self.ff_in_fr]]

    @property
    def nnz_ff(self) -> int:
        return self.ff_indices.shape[0]

    def free_rows_matrix(self, data_fr: np.ndarray) -> sp.csr_matrix:
        """A_F: as a SciPy matrix (for set-up work, not per θ)."""
        return sp.csr_matrix((data_fr, self.fr_indices, self.fr_indptr),
                             shape=(self.num_free, self.num_dofs))

    def ff_matrix(self, data_ff: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((data_ff, self.ff_indices, self.ff_indptr),
                             shape=(self.num_free, self.num_free))

    def embed(self, u_free: np.ndarray, boundary_values: np.ndarray) -> np.ndarray:
        """Full dof vector(s) from free values and a full vector holding g on ∂O."""
        u = np.array(boundary_values, dtype=float, copy=True)
        u[..., self.free] = u_free
        return u


def _indptr_from_rows(rows: np.ndarray, num_rows: int) -> np.ndarray:
    indptr = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=num_rows), out=indptr[1:])
    return indptr


class CoefficientTensor:
    """T(f) = Σ_k f_k T_k, with ∫ f t(u, v) for t = u v ("mass") or ∇u·∇v ("stiffness").

    Stores T restricted to the free rows (``fr``: one CSR row per stored entry of A_F:, one
    column per coefficient dof), to the free × free block (``ff``) and the transpose of the
    free-rows part (``fr_t``) for the adjoint contraction.
    """

    def __init__(self, split: SplitPattern, state_space, coef_space, kind: str):
        tensor = assemble_coefficient_tensor(state_space.domain, state_space, coef_space, kind)
        self.split = split
        self.kind = kind
        self.num_coefficients = coef_space.num_dofs
        t_fr = tensor[split.pos_fr]
        self.fr = kernels.csr_arrays(t_fr)
        self.ff = kernels.csr_arrays(tensor[split.pos_ff])
        self.fr_t = kernels.csr_arrays(t_fr.T)
        self._t_fr = t_fr
        self._zeros_fr = np.zeros(split.fr_indices.shape[0])

    def fill_ff(self, f, out, base, base_scale=1.0, scale=1.0):
        """out = base_scale·base + scale·T_FF(f) (values of the free × free block)."""
        kernels.affine_fill(base, base_scale, *self.ff, scale, f, out)
        return out

    def fill_fr(self, f, out, scale=1.0):
        """out = scale·T_F:(f) (values on the free-rows pattern)."""
        kernels.affine_fill(self._zeros_fr, 0.0, *self.fr, scale, f, out)
        return out

    def apply_derivative(self, df: np.ndarray, u: np.ndarray) -> np.ndarray:
        """(T(df) u)_F = Σ_k df_k (T_k u)_F for a full vector u: the tangent's source term."""
        split = self.split
        data = np.empty(split.fr_indices.shape[0])
        self.fill_fr(df, data)
        out = np.empty(split.num_free)
        kernels.csr_matvec(split.fr_indptr, split.fr_indices, data, u, out)
        return out

    def contract(self, lam: np.ndarray, u: np.ndarray) -> np.ndarray:
        """c_k = Σ_j λ_jᵀ T_k u_j for λ_j on the free dofs and full vectors u_j.

        ``lam`` has shape (J, num_free) and ``u`` shape (J, num_dofs); J experiments or time
        steps. With c, the adjoint gradient is −Φ'(θ) ⊙ c.
        """
        split = self.split
        w = np.empty(split.fr_indices.shape[0])
        kernels.entry_products(split.fr_indptr, split.fr_indices, lam, u, w)
        out = np.empty(self.num_coefficients)
        kernels.csr_matvec(*self.fr_t, w, out)
        return out

    def lifting_matrix(self, g: np.ndarray) -> sp.csr_matrix:
        """L with L f = (T(f) g)_F for a fixed full vector g (zero at the free dofs).

        Moves the f-dependent part of the Dirichlet lifting A_FB(f) g_B to a precomputed
        (num_free × num_coefficients) sparse matrix, applied per θ by one mat-vec.
        """
        split = self.split
        weights = sp.diags(g[split.fr_indices])
        rows = sp.csr_matrix((np.ones(split.fr_rows.shape[0]), (split.fr_rows,
                              np.arange(split.fr_rows.shape[0]))),
                             shape=(split.num_free, split.fr_rows.shape[0]))
        out = (rows @ weights @ self._t_fr).tocsr()
        out.eliminate_zeros()
        return out

