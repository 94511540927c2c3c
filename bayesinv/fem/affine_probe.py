r"""Residuals linear in u and affine in m: the operator's m-dependence recovered by probing.

If F(u, m; v) is linear in u and affine in m (∂F/∂m[δm] does not depend on m; e.g.
m∇u·∇v, m u v, m v, a Robin coefficient m u v ds), then on the free dofs, with u_B = g fixed
and u_F the unknowns,

    F_F(u; m) = r₀ + C m + (D₀ + T(m)) u_F,       T(m) = Σ_k m_k T_k,

where D₀ + T(m) = J_FF(m) is the Jacobian's free block (values in its fixed CSR pattern, so T is
a sparse (nnz × dim Q) matrix, the discrete trilinear form) and r₀ + C m = F_F(u₀; m) at the
lifted u₀ (g on B, 0 on F). These are exactly the data of the fast affine path
(:mod:`bayesinv.fem.operator`), obtained here from the user's compiled forms, not by hand:

* *probing*: colour the dofs of Q so that no two dofs of one colour meet in the patch of a state
  dof (a distance-2 colouring of the cell graph, ~20 colours for P1 triangles); assembling J and
  F(u₀) once at m = 0 and once at m = indicator(colour) gives every entry of T and C as a
  difference, since each matrix entry (i, j) and each row i sees at most one dof of a colour.
  The probe is checked against one assembly at a random m at set-up.
* per θ: J_FF values D₀ + T m (one sparse mat-vec), the factorisation, r = r₀ + C m, the
  solves, and the gradient −(Cᵀλ + Tᵀ(λ_row ⊙ u_col)), all without UFL assembly.

This is Griewank & Walther's (2008, ch. 8) Jacobian compression by colouring, applied to the
coefficient-to-matrix map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
import scipy.sparse as sp

from . import _compat
from .assembly import csr_positions

if TYPE_CHECKING:
    from .variational import VariationalForwardMap

PROBE_TOLERANCE = 1e-10


@numba.njit(cache=True)
def _greedy_colouring(  # pragma: no cover - compiled
        indptr: np.ndarray, indices: np.ndarray, n: int) -> np.ndarray:
    colours = np.full(n, -1, dtype=np.int64)
    mark = np.full(n + 1, -1, dtype=np.int64)
    for k in range(n):
        for p in range(indptr[k], indptr[k + 1]):
            c = colours[indices[p]]
            if c >= 0:
                mark[c] = k
        c = 0
        while mark[c] == k:
            c += 1
        colours[k] = c
    return colours


def _incidence(cell_dofs: np.ndarray, n: int) -> sp.csr_matrix:
    ncells, per = cell_dofs.shape
    rows = np.repeat(np.arange(ncells), per)
    return sp.csr_matrix((np.ones(ncells * per), (rows, cell_dofs.ravel())), shape=(ncells, n))


def colouring(state_cells: np.ndarray, num_state: int, param_cells: np.ndarray,
              num_param: int) -> np.ndarray:
    """Colours of the parameter dofs such that the parameter dofs of the cells around any state
    dof all have different colours."""
    P = (_incidence(state_cells, num_state).T @ _incidence(param_cells, num_param)).tocsr()
    conflict = (P.T @ P).tocsr()
    conflict.sort_indices()
    return _greedy_colouring(conflict.indptr.astype(np.int64), conflict.indices.astype(np.int64),
                             num_param)


class AffineOperator:
    """The probed data r₀_k, C_k (per experiment k), D₀ and T of an affine residual.

    Parameters
    ----------
    fmap : VariationalForwardMap
        Its Jacobian block, residual form, parameter Function and experiments are used.
    """

    def __init__(self, fmap: VariationalForwardMap) -> None:
        V, Q = fmap.function_space, fmap.parameter_function_space
        block = fmap._jacobian
        free = fmap.free_dofs
        nV, nQ = fmap.num_dofs, fmap._param.num_dofs
        vcells = np.asarray(_compat.cell_dofs(V), dtype=np.int64)
        qcells = np.asarray(_compat.cell_dofs(Q), dtype=np.int64)
        colours = colouring(vcells, nV, qcells, nQ)
        self.num_colours = int(colours.max()) + 1
        renumber = np.full(nV, -1, dtype=np.int64)
        renumber[free] = np.arange(free.size)

        # structural (entry, parameter dof) and (free row, parameter dof) pairs, from the cells
        ncells, nv, nq = vcells.shape[0], vcells.shape[1], qcells.shape[1]
        ri = np.broadcast_to(renumber[vcells][:, :, None, None], (ncells, nv, nv, nq)).ravel()
        rj = np.broadcast_to(renumber[vcells][:, None, :, None], (ncells, nv, nv, nq)).ravel()
        rk = np.broadcast_to(qcells[:, None, None, :], (ncells, nv, nv, nq)).ravel()
        keep = (ri >= 0) & (rj >= 0)
        entries = csr_positions(block.ff_indptr, block.ff_indices, ri[keep], rj[keep])
        ek = np.unique(entries * nQ + rk[keep])
        t_entry, t_param = np.divmod(ek, nQ)
        vi = np.broadcast_to(renumber[vcells][:, :, None], (ncells, nv, nq)).ravel()
        vk = np.broadcast_to(qcells[:, None, :], (ncells, nv, nq)).ravel()
        ik = np.unique(vi[vi >= 0] * nQ + vk[vi >= 0])
        c_row, c_param = np.divmod(ik, nQ)

        m_fn = fmap._m
        saved = m_fn.x.array.copy()
        K = fmap.num_experiments
        starts = []
        for k in range(K):
            u0 = fmap._initial[k].copy()
            u0[free] = 0.0
            starts.append(u0)
        self.starts = np.array(starts)

        def probe(m_values: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            m_fn.x.array[:] = m_values
            fmap._set_experiment(0)
            fmap._u.x.array[:] = starts[0]
            data = block.values()
            res = []
            for k in range(K):
                fmap._set_experiment(k)
                res.append(fmap._residual_free(starts[k]))
            return data, res

        try:
            self.d0, self.r0 = probe(np.zeros(nQ))
            t_vals = np.zeros(t_entry.shape[0])
            c_vals = np.zeros((K, c_row.shape[0]))
            t_colour, c_colour = colours[t_param], colours[c_param]
            for colour in range(self.num_colours):
                data, res = probe((colours == colour).astype(float))
                sel = t_colour == colour
                t_vals[sel] = (data - self.d0)[t_entry[sel]]
                sel = c_colour == colour
                for k in range(K):
                    c_vals[k, sel] = (res[k] - self.r0[k])[c_row[sel]]
            self.T = sp.csr_matrix((t_vals, (t_entry, t_param)),
                                   shape=(block.ff_indices.shape[0], nQ))
            self.Tt = self.T.T.tocsr()
            self.C = [sp.csr_matrix((c_vals[k], (c_row, c_param)), shape=(free.size, nQ))
                      for k in range(K)]
            self.Ct = [C.T.tocsr() for C in self.C]
            # check the probe at a random field against a direct assembly
            rng = np.random.default_rng(12345)
            m_test = 1.0 + rng.random(nQ)
            data, res = probe(m_test)
            self.error = max(
                float(np.abs(self.ff_values(m_test) - data).max()
                      / max(np.abs(data).max(), 1e-300)),
                *[float(np.abs(self.residual(k, m_test) - res[k]).max()
                        / max(np.abs(res[k]).max(), 1e-300)) for k in range(K)])
        finally:
            m_fn.x.array[:] = saved
            fmap._set_experiment(0)
        self.valid = self.error <= PROBE_TOLERANCE
        # J_FF(m) = D₀ + T(m) is symmetric for every m iff D₀ and every T_k are: decided once
        tpos = block.transpose_positions
        if tpos is None:
            self.symmetric = False
        else:
            scale = max(np.abs(self.d0).max(initial=0.0), abs(self.T).max())
            asym = max(np.abs(self.d0 - self.d0[tpos]).max(initial=0.0),
                       abs(self.T[tpos] - self.T).max())
            self.symmetric = bool(asym <= 1e-12 * scale)
        self.ff_rows = np.repeat(np.arange(free.size), np.diff(block.ff_indptr))
        self.ff_cols = block.ff_indices

    def ff_values(self, m: np.ndarray) -> np.ndarray:
        """J_FF(m) values in the fixed pattern (a fresh array)."""
        return self.d0 + self.T @ m

    def residual(self, k: int, m: np.ndarray) -> np.ndarray:
        """F_F(u₀_k; m) = r₀_k + C_k m."""
        return self.r0[k] + self.C[k] @ m

    def apply_derivative(self, k: int, dm: np.ndarray, u_free: np.ndarray) -> np.ndarray:
        """(∂F_F/∂m) dm at u = u₀_k + u_F: C_k dm + T(dm) u_F."""
        vals = self.T @ dm
        tu = np.bincount(self.ff_rows, weights=vals * u_free[self.ff_cols],
                         minlength=u_free.shape[0])
        return self.C[k] @ dm + tu

    def contract(self, k: int, lam: np.ndarray, u_free: np.ndarray) -> np.ndarray:
        """(∂F_F/∂m)ᵀ λ at u = u₀_k + u_F: C_kᵀ λ + Tᵀ(λ_row ⊙ u_col)."""
        return self.Ct[k] @ lam + self.Tt @ (lam[self.ff_rows] * u_free[self.ff_cols])
