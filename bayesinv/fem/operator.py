"""Coefficient-affine FE operators split by Dirichlet dofs: the data of the fast path.

With Dirichlet conditions u = g on ∂O the dofs split into free (F) and boundary (B) ones. The
forward maps factorise the free × free block A_FF(f) and need, for right-hand sides, adjoints
and tangents, products with the whole symmetric operator. A coefficient-linear part
T(f) = Σ_k f_k T_k (∫ f u v or ∫ f ∇u·∇v) is stored once, by the upper triangle of the state
space's sparsity pattern (entries e = (r_e, c_e) with c_e ≥ r_e) as a CSR tensor
(num_upper_entries × num_coefficients), so every per-θ pass does half the work a full
tensor would (:mod:`bayesinv.fem.kernels`).

:class:`SplitPattern` computes the index maps once; :class:`CoefficientTensor` holds T and
does, per θ, the fill of A_FF(f), the adjoint contraction and the tangent product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from . import kernels
from .assembly import FormKind, assemble_coefficient_tensor, csr_positions

if TYPE_CHECKING:
    from .domain import LagrangeSpace


def _indptr_from_rows(rows: np.ndarray, num_rows: int) -> np.ndarray:
    indptr = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=num_rows), out=indptr[1:])
    return indptr


class SplitPattern:
    """The sparsity pattern of a Lagrange space split into free and boundary dofs.

    Attributes
    ----------
    free, boundary : ndarray
        Dof indices (sorted).
    ff_indptr, ff_indices : ndarray
        CSR pattern of A_FF in the free numbering (symmetric: also its CSC pattern).
    up_rows, up_cols : ndarray
        Row and column (full numbering) of the upper-triangle entries of the full pattern.
    up_pos : ndarray
        Position of each upper entry in the full CSR value array.
    ff_upper : ndarray
        Indices of the upper entries lying in the free × free block, with ``ff_upper_pos``
        and ``ff_lower_pos`` their positions (and those of their mirror, −1 on the diagonal)
        in the A_FF value array.
    """

    def __init__(self, space: LagrangeSpace) -> None:
        n = space.num_dofs
        is_free = np.ones(n, dtype=bool)
        is_free[space.boundary_dofs] = False
        self.num_dofs = n
        self.is_free = is_free
        self.free = np.flatnonzero(is_free)
        self.boundary = np.asarray(space.boundary_dofs, dtype=np.int64)
        self.num_free = self.free.size
        self.renumber = np.full(n, -1, dtype=np.int64)
        self.renumber[self.free] = np.arange(self.num_free)
        indptr, indices = space.pattern
        self.full_indices = indices
        rows = np.repeat(np.arange(n), np.diff(indptr))
        self.full_rows = rows
        # the upper triangle of the full pattern
        self.up_pos = np.flatnonzero(indices >= rows)
        self.up_rows = np.ascontiguousarray(rows[self.up_pos], dtype=np.int64)
        self.up_cols = np.ascontiguousarray(indices[self.up_pos], dtype=np.int64)
        # the free × free block: CSR arrays and where its upper entries go
        pos_ff = np.flatnonzero(is_free[rows] & is_free[indices])
        self.ff_indptr = _indptr_from_rows(self.renumber[rows[pos_ff]], self.num_free)
        self.ff_indices = self.renumber[indices[pos_ff]]
        to_ff = np.full(indices.shape[0], -1, dtype=np.int64)
        to_ff[pos_ff] = np.arange(pos_ff.shape[0])
        self.ff_upper = np.flatnonzero(is_free[self.up_rows] & is_free[self.up_cols])
        r, c = self.up_rows[self.ff_upper], self.up_cols[self.ff_upper]
        self.ff_upper_pos = np.ascontiguousarray(to_ff[self.up_pos[self.ff_upper]])
        mirror = csr_positions(indptr, indices, c, r)
        self.ff_lower_pos = np.where(r == c, -1, to_ff[mirror]).astype(np.int64)

    @property
    def nnz_ff(self) -> int:
        """Number of entries of A_FF."""
        return self.ff_indices.shape[0]

    def ff_matrix(self, data_ff: np.ndarray) -> sp.csr_matrix:
        """A_FF as a SciPy CSR matrix from its values."""
        return sp.csr_matrix((data_ff, self.ff_indices, self.ff_indptr),
                             shape=(self.num_free, self.num_free))

    def embed(self, u_free: np.ndarray, boundary_values: np.ndarray) -> np.ndarray:
        """Full dof vector(s) from free values and full vector(s) holding g on ∂O."""
        u = np.array(boundary_values, dtype=float, copy=True)
        u[..., self.free] = u_free
        return u


class CoefficientTensor:
    """T(f) = Σ_k f_k T_k, with ∫ f t(u, v) for t = u v ("mass") or ∇u·∇v ("stiffness").

    Holds the rows of T for the upper triangle of the full pattern (``up``); the fill of
    A_FF uses the subset of rows in the free × free block (``split.ff_upper``).
    """

    def __init__(self, split: SplitPattern, state_space: LagrangeSpace,
                 coef_space: LagrangeSpace, kind: FormKind) -> None:
        tensor = assemble_coefficient_tensor(state_space.domain, state_space, coef_space, kind)
        self.split = split
        self.kind = kind
        self.num_coefficients = coef_space.num_dofs
        self.up = kernels.csr_arrays(tensor[split.up_pos])
        self._tensor = tensor

    def upper_values(self, data_full: np.ndarray) -> np.ndarray:
        """Upper-triangle values of a constant matrix on the full pattern (e.g. M or K)."""
        return np.ascontiguousarray(data_full[self.split.up_pos])

    def ff_values(self, upper: np.ndarray) -> np.ndarray:
        """The free × free upper values of a constant matrix given by its upper values."""
        return np.ascontiguousarray(upper[self.split.ff_upper])

    def fill_ff(self, f: np.ndarray, out: np.ndarray, base_ff: np.ndarray,
                base_scale: float = 1.0, scale: float = 1.0) -> np.ndarray:
        """out = base_scale·base + scale·T(f), values of A_FF in CSR order (both triangles);
        ``base_ff`` holds the free × free upper values of the constant part."""
        split = self.split
        kernels.symmetric_fill(base_ff, base_scale, *self.up, split.ff_upper, scale, f,
                               split.ff_upper_pos, split.ff_lower_pos, out)
        return out

    def values(self, f: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Upper-triangle values of T(f) on the full pattern."""
        kernels.csr_matvec(*self.up, f, out)
        return out

    def apply_derivative(self, df: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Rows (T(df) u_j)_F = Σ_k df_k (T_k u_j)_F for full states u_j (rows of U, shape
        (J, num_dofs)): the tangent's source terms. T(df) is built once for all j."""
        split = self.split
        vals = self.values(df, np.empty(split.up_rows.shape[0]))
        full = np.empty(split.num_dofs)
        out = np.empty((U.shape[0], split.num_free))
        for j in range(U.shape[0]):
            kernels.symmetric_matvec(split.up_rows, split.up_cols, vals, U[j], full)
            out[j] = full[split.free]
        return out

    def contract_full(self, lam: np.ndarray, u: np.ndarray) -> np.ndarray:
        """c_k = Σ_j λ_jᵀ T_k u_j for λ_j, u_j full vectors (rows of (J, num_dofs) arrays;
        λ zero at the Dirichlet dofs). The adjoint gradient is −Φ'(θ) ⊙ c."""
        split = self.split
        out = np.empty(self.num_coefficients)
        if lam.shape[0] == 1:
            kernels.symmetric_contract(split.up_rows, split.up_cols, *self.up, lam[0], u[0],
                                       out)
        else:
            kernels.symmetric_contract_many(split.up_rows, split.up_cols, *self.up,
                                            np.ascontiguousarray(lam.T),
                                            np.ascontiguousarray(u.T), out)
        return out

    def contract(self, lam: np.ndarray, u: np.ndarray) -> np.ndarray:
        """As :meth:`contract_full` with λ given on the free dofs, shape (J, num_free)."""
        lam_full = np.zeros((lam.shape[0], self.split.num_dofs))
        lam_full[:, self.split.free] = lam
        return self.contract_full(lam_full, u)

    def lifting_matrix(self, g: np.ndarray) -> sp.csr_matrix:
        """L with L f = (T(f) g)_F for a fixed full vector g (zero at the free dofs).

        Moves the f-dependent part of the Dirichlet lifting A_FB(f) g_B to a precomputed
        (num_free × num_coefficients) sparse matrix, applied per θ by one mat-vec.
        """
        split = self.split
        rows, cols = split.full_rows, split.full_indices
        keep = split.is_free[rows] & (g[cols] != 0.0)
        pos = np.flatnonzero(keep)
        gather = sp.csr_matrix((g[cols[pos]], (split.renumber[rows[pos]], pos)),
                               shape=(split.num_free, cols.shape[0]))
        out = (gather @ self._tensor).tocsr()
        out.sort_indices()
        return out
