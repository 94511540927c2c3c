"""Sparse symmetric solvers used by the forward maps.

A solver turns a matrix into a *factorisation*, a callable ``solve(b) -> x`` that can be reused
for any number of right-hand sides (the forward solve and the adjoint solve of one gradient
share it; ``b`` may be a vector or an (n, k) block of k right-hand sides).

Two protocols, the second optional:

* ``solver.factorize(A)`` with ``A`` a SciPy CSC matrix, returning ``solve``. Any user object
  with this method works (e.g. a wrapper of an iterative solver for very large meshes).
* ``solver.bind(indptr, indices, n)`` returning a *pattern factoriser* for one symmetric
  sparsity pattern (CSR arrays, which for a symmetric pattern are also CSC arrays), whose
  ``factorize(data)`` takes only the values. This is the fast path: the forward maps fill the
  values of A(θ) into a fixed pattern (numba) and no SciPy object, symbolic analysis or copy
  of the pattern is made per θ. :func:`bind_solver` falls back to the first protocol for
  solvers without ``bind``.

Pattern factorisers built here refactorise *in place* (CHOLMOD's ``cholesky_inplace``, PETSc's
numeric refactorisation): a factorisation object stays valid after a later ``factorize`` call
because it keeps its own values and refactorises on demand if the workspace was overwritten
(:class:`InPlaceFactorizer`). In the normal MCMC pattern (factorise, forward solve, adjoint
solve, next θ) this never happens and costs nothing.

Implementations: CHOLMOD (scikit-sparse) with the symbolic analysis computed once per pattern,
in *simplicial* mode by default (measured on this package's 2-d meshes with Debian's reference
BLAS: 2–3× faster than supernodal up to 128² cells); SciPy's SuperLU (LU, the fallback);
PETSc (Cholesky, LU or any KSP) in :mod:`bayesinv.fem.solvers`, the FEM layer's default.

A failed factorisation or solve (matrix not positive definite, singular, non-convergence)
raises :class:`~bayesinv.errors.ForwardSolveError`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import ForwardSolveError, InvalidArgumentError

Factorization = Callable[[np.ndarray], np.ndarray]

try:  # scikit-sparse is optional (pip install "scikit-sparse<0.5"; needs libsuitesparse-dev)
    from sksparse import cholmod as _cholmod
except ImportError:  # pragma: no cover - depends on the environment
    _cholmod = None


# --- in-place refactorisation with valid old factorisations --------------------------------

class _HeldFactorization:
    """A factorisation living in its factoriser's workspace (see :class:`InPlaceFactorizer`)."""

    __slots__ = ("_owner", "data")

    def __init__(self, owner, data):
        self._owner = owner
        self.data = data

    def __call__(self, b: np.ndarray) -> np.ndarray:
        owner = self._owner
        if owner._current is not self:  # a later factorize() overwrote the workspace
            owner._refactor(self)
        return owner._solve_many(b)


class InPlaceFactorizer:
    """Base class of pattern factorisers that refactorise one workspace in place.

    Subclasses implement ``_numeric(data)`` (factorise the values ``data``; raise
    ForwardSolveError on failure) and ``_solve(b)`` for a vector ``b``. ``factorize(data)``
    keeps a reference to ``data`` (callers pass a fresh array per θ) so that an old
    factorisation can be recomputed if it is used after a newer one.
    """

    _current = None

    def factorize(self, data: np.ndarray) -> Factorization:
        held = _HeldFactorization(self, data)
        self._refactor(held)
        return held

    def _refactor(self, held: _HeldFactorization) -> None:
        self._current = None
        self._numeric(held.data)
        self._current = held

    def _solve_many(self, b: np.ndarray) -> np.ndarray:
        if b.ndim == 1:
            return self._solve(b)
        return np.column_stack([self._solve(b[:, j]) for j in range(b.shape[1])])

    def _numeric(self, data: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _solve(self, b: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class _RebuildFactorizer:
    """Pattern factoriser for solvers with only ``factorize(A)``: a SciPy matrix per call."""

    def __init__(self, solver, indptr, indices, n):
        self._solver, self._indptr, self._indices, self._n = solver, indptr, indices, n

    def factorize(self, data: np.ndarray) -> Factorization:
        A = sp.csc_matrix((data, self._indices, self._indptr), shape=(self._n, self._n))
        return self._solver.factorize(A)


def bind_solver(solver, indptr: np.ndarray, indices: np.ndarray, n: int):
    """A pattern factoriser of ``solver`` for the symmetric pattern (indptr, indices)."""
    if callable(getattr(solver, "bind", None)):
        return solver.bind(indptr, indices, n)
    return _RebuildFactorizer(solver, indptr, indices, n)


# --- CHOLMOD ---------------------------------------------------------------------------------

def _cholmod_call(fn, *args):
    try:
        return fn(*args)
    except _cholmod.CholmodNotPositiveDefiniteError as exc:
        raise ForwardSolveError(f"operator is not positive definite ({exc})") from exc
    except _cholmod.CholmodError as exc:  # pragma: no cover - other CHOLMOD failures
        raise ForwardSolveError(f"CHOLMOD failed: {exc}") from exc


class _CholmodPattern(InPlaceFactorizer):
    def __init__(self, mode, ordering, indptr, indices, n):
        self._A = sp.csc_matrix((np.zeros(indices.shape[0]), indices, indptr), shape=(n, n))
        self._A.sort_indices()
        self._factor = _cholmod_call(_cholmod.analyze, self._A, mode, ordering)

    def _numeric(self, data):
        np.copyto(self._A.data, data)
        _cholmod_call(self._factor.cholesky_inplace, self._A)

    def _solve(self, b):
        return self._factor.solve_A(b)

    def _solve_many(self, b):
        return self._factor.solve_A(b)


class CholmodSolver:
    """Sparse Cholesky (CHOLMOD) with the symbolic analysis reused across calls.

    Parameters
    ----------
    mode : {"simplicial", "supernodal", "auto"}
        CHOLMOD's factorisation kind. Simplicial (default) is faster for the 2-d meshes of
        this package with a reference BLAS; supernodal wins on large 3-d problems with an
        optimised BLAS (OpenBLAS, MKL); "auto" lets CHOLMOD choose.
    ordering : str
        CHOLMOD's fill-reducing ordering (``"default"``, ``"amd"``, ``"metis"``, ...).
    """

    name = "cholmod"

    def __init__(self, mode: str = "simplicial", ordering: str = "default"):
        if _cholmod is None:
            raise InvalidArgumentError(
                "solver='cholmod' needs scikit-sparse: pip install 'scikit-sparse<0.5' "
                "(with Debian's libsuitesparse-dev installed)")
        if mode not in ("simplicial", "supernodal", "auto"):
            raise InvalidArgumentError(
                f"mode must be one of ['auto', 'simplicial', 'supernodal'], got {mode!r}")
        self.mode, self.ordering = mode, ordering
        self._analysis = None
        self._pattern_key = None

    def bind(self, indptr, indices, n):
        """A pattern factoriser refactorising in place (see :class:`InPlaceFactorizer`)."""
        return _CholmodPattern(self.mode, self.ordering, indptr, indices, n)

    def factorize(self, A: sp.csc_matrix) -> Factorization:
        key = (A.shape, A.nnz, id(A.indices))
        if self._analysis is None or key != self._pattern_key:
            self._analysis = _cholmod_call(_cholmod.analyze, A, self.mode, self.ordering)
            self._pattern_key = key
        return _cholmod_call(self._analysis.cholesky, A).solve_A


# --- SuperLU ---------------------------------------------------------------------------------

class SuperLUSolver:
    """Sparse LU (SciPy's SuperLU): the fallback when scikit-sparse is not installed."""

    name = "superlu"

    def factorize(self, A: sp.csc_matrix) -> Factorization:
        try:
            lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        except RuntimeError as exc:
            raise ForwardSolveError(f"operator is singular ({exc})") from exc
        return lu.solve


def make_solver(solver=None):
    """Return a solver object: ``None`` (best available), ``"cholmod"``, ``"superlu"``, or an
    object with a ``factorize(A)`` method, which is returned unchanged.

    The FEM forward maps use :func:`bayesinv.fem.solvers.make_solver`, which adds PETSc.
    """
    if solver is None:
        return CholmodSolver() if _cholmod is not None else SuperLUSolver()
    if isinstance(solver, str):
        choices = {"cholmod": CholmodSolver, "superlu": SuperLUSolver}
        if solver not in choices:
            raise InvalidArgumentError(
                f"solver must be one of {sorted(choices)} or an object with factorize(A), "
                f"got {solver!r}")
        return choices[solver]()
    if not callable(getattr(solver, "factorize", None)):
        raise InvalidArgumentError(
            f"solver must have a factorize(A) method returning solve(b), got {solver!r}")
    return solver
