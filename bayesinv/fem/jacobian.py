"""The free × free block of an assembled Jacobian, factorised with the package's solvers.

:class:`JacobianBlock` assembles a compiled bilinear form into one persistent PETSc matrix
(the sparsity pattern is built once), extracts the values of the free × free block (free =
not Dirichlet) into a fixed CSR pattern, and factorises them: Cholesky with the map's solver
(:mod:`bayesinv.fem.solvers`, default PETSc) when the block is symmetric, PETSc LU otherwise.
Symmetry is checked numerically on every assembly (one gather over the nonzeros), so a form
that is symmetric for some parameters only is still solved correctly. The LU factorisation
also solves with the transpose (``KSPSolveTranspose``), which the adjoint needs: one
factorisation serves forward, adjoint and tangent solves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import ForwardSolveError
from ..linalg import Factorization, _HeldFactorization, bind_solver
from .solvers import PETScSolver, SolverProtocol, _PETScPattern

if TYPE_CHECKING:
    import scipy.sparse as sp
    from dolfinx.fem import Form
    from petsc4py.PETSc import Mat

SYMMETRY_TOLERANCE = 1e-12


class _PatternFactorizer(Protocol):
    """A solver bound to one sparsity pattern (:func:`bayesinv.linalg.bind_solver`)."""

    def factorize(self, data: np.ndarray) -> Factorization: ...


class _PETScLUPattern(_PETScPattern):
    """PETSc LU on a fixed pattern, with transposed solves."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
        super().__init__(PETScSolver("preonly", "lu"), indptr, indices, n)

    def solve_transpose(self, held: Factorization, b: np.ndarray) -> np.ndarray:
        """A⁻ᵀ b with the factorisation ``held`` made by this object's ``factorize``
        (refactorised if a later ``factorize`` overwrote the workspace)."""
        if self._current is not held:
            if not isinstance(held, _HeldFactorization) or held._owner is not self:
                raise TypeError("solve_transpose needs a factorisation made by this pattern")
            self._refactor(held)
        np.copyto(self._b, b)
        self._ksp.solveTranspose(self._bvec, self._xvec)
        if self._ksp.getConvergedReason() < 0:
            raise ForwardSolveError("PETSc LU transposed solve failed (singular operator)")
        return self._x.copy()


class Factor:
    """A factorised free block: ``solve(b)`` (A⁻¹ b) and ``solve_transpose(b)`` (A⁻ᵀ b)."""

    __slots__ = ("_held", "_lu", "symmetric")

    def __init__(self, held: Factorization, lu: _PETScLUPattern | None = None) -> None:
        self._held, self._lu = held, lu
        self.symmetric = lu is None

    def solve(self, b: np.ndarray) -> np.ndarray:
        """A⁻¹ b."""
        return np.asarray(self._held(b))

    def solve_transpose(self, b: np.ndarray) -> np.ndarray:
        """A⁻ᵀ b."""
        if self._lu is None:
            return np.asarray(self._held(b))
        return self._lu.solve_transpose(self._held, b)


def _petsc_matrix(compiled_form: Form) -> Mat:
    import dolfinx.fem.petsc

    return dolfinx.fem.petsc.create_matrix(compiled_form)


def _assemble_into(A: Mat, compiled_form: Form) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import dolfinx.fem.petsc

    A.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(A, compiled_form)
    A.assemble()
    return A.getValuesCSR()


class JacobianBlock:
    """Assembly and factorisation of the free block of a compiled bilinear form.

    Parameters
    ----------
    compiled_form : dolfinx Form
        The Jacobian; both arguments in the state space.
    free : ndarray
        Sorted free dofs.
    num_dofs : int
    solver : solver object
        For symmetric blocks (see :func:`bayesinv.fem.solvers.make_solver`).
    """

    def __init__(self, compiled_form: Form, free: np.ndarray, num_dofs: int,
                 solver: SolverProtocol) -> None:
        self._form = compiled_form
        self._A = _petsc_matrix(compiled_form)
        indptr, indices, _ = _assemble_into(self._A, compiled_form)
        self._nnz = indices.shape[0]
        is_free = np.zeros(num_dofs, dtype=bool)
        is_free[free] = True
        renumber = np.full(num_dofs, -1, dtype=np.int64)
        renumber[free] = np.arange(free.size)
        rows = np.repeat(np.arange(num_dofs), np.diff(indptr))
        keep = is_free[rows] & is_free[indices]
        self.ff_pos = np.flatnonzero(keep)
        r, c = renumber[rows[keep]], renumber[indices[keep]]
        nf = free.size
        self.num_free = nf
        self.ff_indptr = np.zeros(nf + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=nf), out=self.ff_indptr[1:])
        self.ff_indices = c.astype(np.int64)
        keys = r * nf + c                      # sorted: CSR rows are sorted
        tkeys = c * nf + r
        pos = np.minimum(np.searchsorted(keys, tkeys), keys.shape[0] - 1)
        self._tpos = pos if np.array_equal(keys[pos], tkeys) else None
        self._solver = solver
        self._cholesky: _PatternFactorizer | None = None
        self._lu: _PETScLUPattern | None = None

    def values(self) -> np.ndarray:
        """Assemble and return the free-block values (CSR order of the fixed pattern)."""
        _, indices, data = _assemble_into(self._A, self._form)
        if indices.shape[0] != self._nnz:  # an internal invariant of the fixed pattern
            raise RuntimeError("the Jacobian's sparsity pattern changed between assemblies")
        return data[self.ff_pos]

    @property
    def transpose_positions(self) -> np.ndarray | None:
        """Position of the mirror entry (j, i) of each free-block entry (i, j), or None when the
        pattern is not structurally symmetric."""
        return self._tpos

    def is_symmetric(self, data: np.ndarray) -> bool:
        """Whether the free block with values ``data`` is symmetric (to round-off)."""
        if self._tpos is None:
            return False
        scale = np.abs(data).max() if data.size else 0.0
        return bool(np.abs(data - data[self._tpos]).max() <= SYMMETRY_TOLERANCE * scale)

    def factorize(self) -> Factor:
        """Assemble, then factorise (Cholesky if symmetric, else LU)."""
        return self.factorize_values(self.values())

    def factorize_values(self, data: np.ndarray, symmetric: bool | None = None) -> Factor:
        """Factorise given free-block values (a fresh array: the factorisation keeps it);
        ``symmetric=None`` checks the values."""
        if not np.isfinite(data).all():
            raise ForwardSolveError("the assembled Jacobian is not finite")
        if self.is_symmetric(data) if symmetric is None else symmetric:
            if self._cholesky is None:
                self._cholesky = bind_solver(self._solver, self.ff_indptr, self.ff_indices,
                                             self.num_free)
            return Factor(self._cholesky.factorize(data))
        if self._lu is None:
            self._lu = _PETScLUPattern(self.ff_indptr, self.ff_indices, self.num_free)
        return Factor(self._lu.factorize(data), self._lu)

    def matrix(self) -> sp.csr_matrix:
        """The free block as a SciPy CSR matrix (for tests and inspection)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.values(), self.ff_indices, self.ff_indptr),
                             shape=(self.num_free, self.num_free))
