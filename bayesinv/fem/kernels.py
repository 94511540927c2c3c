"""numba kernels of the FEM fast path: fill, sparse products and the adjoint contraction.

All matrices here are CSR arrays ``(indptr, indices, data)``. A coefficient-affine operator
A(f) = A₀ + Σ_k f_k T_k is stored by its values on a fixed sparsity pattern, data(A(f)) =
a₀ + T f, with T itself a CSR matrix (one row per stored entry of A, one column per
coefficient dof; see :mod:`bayesinv.fem.assembly`). Per parameter θ the forward maps call

* :func:`affine_fill` — data(A(f)) into a preallocated array (no SciPy object, no UFL);
* :func:`csr_matvec` — y = A x for the right-hand sides, time steps and observations;
* :func:`entry_products` + :func:`csr_matvec` with Tᵀ — the adjoint contraction
  (Jᵀw)_k = −Φ'(θ_k) Σ_e T_ek Σ_j λ_j[row_e] u_j[col_e], summed over experiments or time
  steps j, in two passes over memory.

The kernels are module-level ``numba.njit(cache=True)`` functions over arrays: they compile
once per dtype signature and never raise.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def affine_fill(a0, a0_scale, t_indptr, t_indices, t_data, t_scale, f, out):
    """out[e] = a0_scale·a0[e] + t_scale·Σ_k T[e, k] f[k] for every stored entry e."""
    for e in range(out.shape[0]):
        s = 0.0
        for p in range(t_indptr[e], t_indptr[e + 1]):
            s += t_data[p] * f[t_indices[p]]
        out[e] = a0_scale * a0[e] + t_scale * s


@numba.njit(cache=True)
def csr_matvec(indptr, indices, data, x, out):
    """out = A x for the CSR matrix A = (indptr, indices, data) and a vector x."""
    for i in range(out.shape[0]):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        out[i] = s


@numba.njit(cache=True)
def csr_matvec_sub(indptr, indices, data, x, b, out):
    """out = b − A x (the Dirichlet-lifted right-hand side b − A_FB(f) g in one pass)."""
    for i in range(out.shape[0]):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        out[i] = b[i] - s


@numba.njit(cache=True)
def entry_products(indptr, indices, lam, u, out):
    """out[e] = Σ_j lam[j, row_e] · u[j, col_e] over the entries e of a CSR pattern.

    ``lam`` has shape (J, num_rows) and ``u`` shape (J, num_cols): J experiments or time steps.
    With T the coefficient tensor, Tᵀ out is the adjoint contraction Σ_j λ_jᵀ (∂A/∂f_k) u_j.
    """
    nj = lam.shape[0]
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            s = 0.0
            for j in range(nj):
                s += lam[j, i] * u[j, c]
            out[p] = s


@numba.njit(cache=True)
def theta_step_rhs(indptr, indices, m_data, k_data, inv_dt, theta, u_prev, g_next, source,
                   out):
    """Right-hand side of one θ-scheme step of M u̇ + K u = s on the free rows:

    out_i = Σ_e [ m_e (u_prev − ĝ_next)_c / Δt − k_e ((1−ϑ) u_prev + ϑ ĝ_next)_c ] + source_i,

    with (indptr, indices) the free-rows × all-columns pattern of M and K(f), ``u_prev`` the
    full previous state and ``g_next`` the next Dirichlet values (zero at the free dofs).
    """
    one_minus = 1.0 - theta
    for i in range(out.shape[0]):
        s = source[i]
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            s += (m_data[p] * (u_prev[c] - g_next[c]) * inv_dt
                  - k_data[p] * (one_minus * u_prev[c] + theta * g_next[c]))
        out[i] = s


@numba.njit(cache=True)
def gather(values, positions, out):
    """out[i] = values[positions[i]]."""
    for i in range(out.shape[0]):
        out[i] = values[positions[i]]


def csr_arrays(matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) of a SciPy sparse matrix as contiguous int64/float64 arrays."""
    m = matrix.tocsr()
    m.sort_indices()
    return (np.ascontiguousarray(m.indptr, dtype=np.int64),
            np.ascontiguousarray(m.indices, dtype=np.int64),
            np.ascontiguousarray(m.data, dtype=np.float64))
