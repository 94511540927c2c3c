"""numba kernels of the FEM fast path: fill, sparse products and the adjoint contraction.

A coefficient-linear operator T(f) = Σ_k f_k T_k (∫ f u v or ∫ f ∇u·∇v) is symmetric, so it is
stored by the *upper triangle* of its sparsity pattern: entry e = (row_e, col_e), col_e ≥
row_e, has the value (T f)_e = Σ_k T[e, k] f_k with T a CSR matrix (num_upper_entries ×
num_coefficients; :mod:`bayesinv.fem.operator`). Using the symmetry halves the work of
every pass, and one copy of T serves the fill, the contraction and the products (a small
memory footprint keeps the factorisation's data in cache; benchmarks/results/design_notes.md).
Per parameter θ the forward maps call

* :func:`symmetric_fill` — the values of A(f) = A₀ + T(f) on the free × free block, written
  to both triangles of a preallocated CSR value array (no SciPy object, no UFL);
* :func:`symmetric_contract` (and ``_many``) — the adjoint contraction c_k = Σ_j λ_jᵀ T_k u_j
  = Σ_e T[e, k] Σ_j (λ_j[r_e] u_j[c_e] + λ_j[c_e] u_j[r_e]) (one term on the diagonal), summed
  over experiments or time steps j, in one pass over T; the gradient is −Φ'(θ) ⊙ c;
* :func:`symmetric_matvec`, :func:`theta_scheme_rhs` — T(df) u (tangent) and the explicit
  part of a θ-scheme time step, from upper-triangle values;
* :func:`csr_matvec` and friends — right-hand sides and observations.

All kernels are module-level ``numba.njit(cache=True)`` functions over arrays: they compile
once per signature and never raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

#: the kernels' arguments: contiguous int64 index and float64 value arrays
Array = np.ndarray


@numba.njit(cache=True)
def symmetric_fill(a0: Array, a0_scale: float, t_indptr: Array, t_indices: Array,
                   t_data: Array, entries: Array, t_scale: float, f: Array,
                   upper_pos: Array, lower_pos: Array, out: Array) -> None:
    """For the selected upper entries e = entries[i] (those of the block being filled):
    out[upper_pos[i]] = out[lower_pos[i]] = a0_scale·a0[i] + t_scale·(T f)_e.

    ``lower_pos[i]`` is the position of the mirrored entry, or −1 on the diagonal.
    """
    for i in range(entries.shape[0]):
        e = entries[i]
        s = 0.0
        for p in range(t_indptr[e], t_indptr[e + 1]):
            s += t_data[p] * f[t_indices[p]]
        v = a0_scale * a0[i] + t_scale * s
        out[upper_pos[i]] = v
        q = lower_pos[i]
        if q >= 0:
            out[q] = v


@numba.njit(cache=True)
def symmetric_contract(rows: Array, cols: Array, t_indptr: Array, t_indices: Array,
                       t_data: Array, lam: Array, u: Array, out: Array) -> None:
    """out[k] = λᵀ T_k u = Σ_e T[e, k] (λ[r_e] u[c_e] + λ[c_e] u[r_e]) (one term if
    r_e = c_e), in one pass over the rows of T; λ, u full vectors (λ zero at Dirichlet dofs)."""
    for k in range(out.shape[0]):
        out[k] = 0.0
    for e in range(rows.shape[0]):
        r = rows[e]
        c = cols[e]
        s = lam[r] * u[r] if r == c else lam[r] * u[c] + lam[c] * u[r]
        if s != 0.0:
            for p in range(t_indptr[e], t_indptr[e + 1]):
                out[t_indices[p]] += t_data[p] * s


@numba.njit(cache=True)
def symmetric_contract_many(rows: Array, cols: Array, t_indptr: Array, t_indices: Array,
                            t_data: Array, lam: Array, u: Array, out: Array) -> None:
    """out[k] = Σ_j λ_jᵀ T_k u_j for J experiments or time steps; ``lam``, ``u`` of shape
    (n, J) (the J values of each dof contiguous)."""
    nj = lam.shape[1]
    for k in range(out.shape[0]):
        out[k] = 0.0
    for e in range(rows.shape[0]):
        r = rows[e]
        c = cols[e]
        s = 0.0
        if r == c:
            for j in range(nj):
                s += lam[r, j] * u[r, j]
        else:
            for j in range(nj):
                s += lam[r, j] * u[c, j] + lam[c, j] * u[r, j]
        if s != 0.0:
            for p in range(t_indptr[e], t_indptr[e + 1]):
                out[t_indices[p]] += t_data[p] * s


@numba.njit(cache=True)
def symmetric_matvec(rows: Array, cols: Array, values: Array, x: Array, out: Array) -> None:
    """out = S x for the symmetric matrix S given by its upper-triangle entries."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    for e in range(values.shape[0]):
        r = rows[e]
        c = cols[e]
        v = values[e]
        out[r] += v * x[c]
        if r != c:
            out[c] += v * x[r]


@numba.njit(cache=True)
def csr_matvec(indptr: Array, indices: Array, data: Array, x: Array, out: Array) -> None:
    """out = A x for the CSR matrix A = (indptr, indices, data) and a vector x."""
    for i in range(out.shape[0]):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        out[i] = s


@numba.njit(cache=True)
def csr_matvec_sub(indptr: Array, indices: Array, data: Array, x: Array, b: Array,
                   out: Array) -> None:
    """out = b − A x (the Dirichlet-lifted right-hand side b − A_FB(f) g in one pass)."""
    for i in range(out.shape[0]):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        out[i] = b[i] - s


@numba.njit(cache=True)
def theta_scheme_rhs(rows: Array, cols: Array, m_values: Array, k_values: Array,
                     inv_dt: float, theta: float, u_prev: Array, g_next: Array,
                     out: Array) -> None:
    """out = M (u_prev − ĝ)/Δt − K(f) ((1−ϑ) u_prev + ϑ ĝ) on all rows (one pass), with M and
    K(f) given by upper-triangle values: the explicit part of one θ-scheme step of
    M u̇ + K(f) u = s after lifting the next Dirichlet values ĝ (zero at the free dofs)."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    a = 1.0 - theta
    for e in range(m_values.shape[0]):
        r = rows[e]
        c = cols[e]
        m = m_values[e] * inv_dt
        k = k_values[e]
        out[r] += m * (u_prev[c] - g_next[c]) - k * (a * u_prev[c] + theta * g_next[c])
        if r != c:
            out[c] += m * (u_prev[r] - g_next[r]) - k * (a * u_prev[r] + theta * g_next[r])


def csr_arrays(matrix: sp.spmatrix | sp.sparray) -> tuple[Array, Array, Array]:
    """(indptr, indices, data) of a SciPy sparse matrix as contiguous int64/float64 arrays."""
    m = matrix.tocsr()
    m.sort_indices()
    return (np.ascontiguousarray(m.indptr, dtype=np.int64),
            np.ascontiguousarray(m.indices, dtype=np.int64),
            np.ascontiguousarray(m.data, dtype=np.float64))
