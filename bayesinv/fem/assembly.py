"""Assembly of coefficient-linear operators into a fixed sparsity pattern.

For a bilinear form that is linear in a coefficient q = Σ_k q_k ψ_k (ψ_k the P1 basis),

    a_q(u, v) = ∫_O q φ_i φ_j          ("mass": zero-order terms, e.g. Schrödinger's f u)
    a_q(u, v) = ∫_O q ∇φ_i·∇φ_j        ("stiffness": e.g. Darcy's ∇·(f∇u))

the nonzero values of the matrix are a linear function of the nodal values q:
``data = T @ q`` with ``T`` a sparse (nnz × num_coefficient_dofs) matrix, the discrete
trilinear form. We build ``T`` once from the reference element (affine cells: the reference
tensor times |det J| for mass terms, contracted with J⁻¹J⁻ᵀ for stiffness terms, with exact
Gauss quadrature), so that afterwards assembling A(q) costs one sparse mat-vec and no UFL.
The same ``T`` gives the derivative of A(q) u with respect to q, which the adjoint needs.
This is how the fast path avoids re-assembly (cf. hIPPYlib, which re-assembles with UFL).
The forward maps keep the rows of T for the upper triangle of the pattern only (the operators
are symmetric) and apply them with the numba kernels of :mod:`bayesinv.fem.kernels`; see
:mod:`bayesinv.fem.operator`. (A cell-by-cell fill from :func:`element_tensors` is not used per θ:
it is slower than this pre-summed tensor, see benchmarks/results/design_notes.md.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from . import _dolfinx

if TYPE_CHECKING:
    from .domain import Domain, LagrangeSpace

#: the coefficient-linear forms: ∫ q φ_i φ_j ("mass") and ∫ q ∇φ_i·∇φ_j ("stiffness")
FormKind = Literal["mass", "stiffness"]


def sparsity_pattern(cell_dofs: np.ndarray, num_dofs: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR pattern (indptr, indices), sorted, of all dof pairs that share a cell."""
    per = cell_dofs.shape[1]
    rows = np.repeat(cell_dofs, per, axis=1).ravel()
    cols = np.tile(cell_dofs, (1, per)).ravel()
    keys = np.unique(rows * num_dofs + cols)
    r, c = np.divmod(keys, num_dofs)
    indptr = np.zeros(num_dofs + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=num_dofs), out=indptr[1:])
    return indptr, c.astype(np.int64)


def csr_positions(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray,
                  cols: np.ndarray) -> np.ndarray:
    """Position in the CSR data array of each (row, col) entry (all must be in the pattern)."""
    n = indptr.shape[0] - 1
    entry_rows = np.repeat(np.arange(n), np.diff(indptr))
    keys = entry_rows * np.int64(n) + indices
    wanted = rows.astype(np.int64) * n + cols
    pos = np.searchsorted(keys, wanted)
    if np.any(pos >= keys.shape[0]) or np.any(keys[np.minimum(pos, keys.shape[0] - 1)] != wanted):
        raise RuntimeError("entry not in sparsity pattern")  # an internal invariant
    return pos


def _reference_tensor(domain: Domain, state_space: LagrangeSpace, coef_space: LagrangeSpace,
                      kind: FormKind) -> np.ndarray:
    """Σ_q w_q ψ_a φ_i φ_j (mass) or Σ_q w_q ψ_a ∂_kφ_i ∂_lφ_j (stiffness) on the reference cell."""
    du, dq = state_space.degree, coef_space.degree
    quad_degree = dq + 2 * du if kind == "mass" else dq + 2 * (du - 1)
    points, weights = _dolfinx.quadrature(domain.mesh, max(quad_degree, 1))
    psi = _dolfinx.tabulate(coef_space.element, points)[0]                  # (nq, a)
    if kind == "mass":
        phi = _dolfinx.tabulate(state_space.element, points)[0]             # (nq, i)
        return np.einsum("q,qa,qi,qj->aij", weights, psi, phi, phi)
    grads = _dolfinx.tabulate(state_space.element, points, 1)[1:]           # (k, nq, i)
    return np.einsum("q,qa,kqi,lqj->klaij", weights, psi, grads, grads)


def element_tensors(domain: Domain, state_space: LagrangeSpace, coef_space: LagrangeSpace,
                    kind: FormKind) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell scalars s (num_cells, R) and reference tensors B (R, a, i, j) with
    E_c = Σ_r s_{c,r} B_r the element tensor ∫_c ψ_a t(φ_j, φ_i) of the coefficient-linear form.

    Mass: R = 1, s = |det J_c|. Stiffness: R = tdim², s_{c,(k,l)} = |det J_c| (J_c⁻¹J_c⁻ᵀ)_{kl},
    B_{(k,l)} = ∫ ψ_a ∂_kφ_i ∂_lφ_j on the reference cell. Exact quadrature.
    """
    if kind not in ("mass", "stiffness"):
        raise ValueError(f"kind must be 'mass' or 'stiffness', got {kind!r}")
    ref = _reference_tensor(domain, state_space, coef_space, kind)
    if kind == "mass":
        return np.ascontiguousarray(domain.abs_det[:, None]), np.ascontiguousarray(ref[None])
    inv = np.linalg.inv(domain.jacobians)                                   # (e, tdim, gdim)
    metric = np.einsum("eki,eli->ekl", inv, inv)                            # J⁻¹ J⁻ᵀ
    scalars = (domain.abs_det[:, None, None] * metric).reshape(metric.shape[0], -1)
    basis = ref.reshape(-1, *ref.shape[2:])
    return np.ascontiguousarray(scalars), np.ascontiguousarray(basis)


def assemble_coefficient_tensor(domain: Domain, state_space: LagrangeSpace,
                                coef_space: LagrangeSpace, kind: FormKind) -> sp.csr_matrix:
    """The sparse matrix T with data(A(q)) = T @ q on ``state_space.pattern``.

    Parameters
    ----------
    domain : Domain
    state_space, coef_space : LagrangeSpace
        Trial/test space of the operator and space of the coefficient q.
    kind : {"mass", "stiffness"}
    """
    scalars, basis = element_tensors(domain, state_space, coef_space, kind)
    local = np.einsum("er,raij->eaij", scalars, basis)                      # (e, a, i, j)
    udofs, qdofs = state_space.cell_dofs, coef_space.cell_dofs
    ne, na, ni = local.shape[0], qdofs.shape[1], udofs.shape[1]
    rows = np.broadcast_to(udofs[:, None, :, None], (ne, na, ni, ni)).ravel()
    cols = np.broadcast_to(udofs[:, None, None, :], (ne, na, ni, ni)).ravel()
    coef = np.broadcast_to(qdofs[:, :, None, None], (ne, na, ni, ni)).ravel()
    indptr, indices = state_space.pattern
    pos = csr_positions(indptr, indices, rows, cols)
    tensor = sp.coo_matrix((local.ravel(), (pos, coef)),
                           shape=(indices.shape[0], coef_space.num_dofs)).tocsr()
    tensor.sum_duplicates()
    return tensor
