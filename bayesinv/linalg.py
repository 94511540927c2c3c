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
in *simplicial* mode by default (faster than supernodal on this package's 2-d meshes with a
reference BLAS; benchmarks/results/design_notes.md); SciPy's SuperLU (LU, the fallback);
PETSc (Cholesky, LU or any KSP) in :mod:`bayesinv.fem.solvers`, the FEM layer's default.

A failed factorisation or solve (matrix not positive definite, singular, non-convergence)
raises :class:`~bayesinv.errors.ForwardSolveError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike

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


class InPlaceFactorizer(ABC):
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

    @abstractmethod
    def _numeric(self, data: np.ndarray) -> None:
        """Factorise the matrix with values ``data`` in the fixed pattern (in place)."""

    @abstractmethod
    def _solve(self, b: np.ndarray) -> np.ndarray:
        """Solve with the current factorisation for one right-hand side."""


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
        if not self._A.has_sorted_indices:  # values arrive in the pattern's order: no resort
            raise InvalidArgumentError("the sparsity pattern must have sorted indices")
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

    def bind(self, indptr, indices, n):
        """A pattern factoriser refactorising in place (see :class:`InPlaceFactorizer`)."""
        return _CholmodPattern(self.mode, self.ordering, indptr, indices, n)

    def factorize(self, A: sp.spmatrix) -> Factorization:
        """The plain protocol (a new analysis per call); the forward maps use :meth:`bind`."""
        return factorize_via_bind(self, A)


def factorize_via_bind(solver, A: sp.spmatrix) -> Factorization:
    """``factorize(A)`` for a solver with ``bind``: bind A's (sorted) pattern, factorise."""
    A = sp.csr_matrix(A)  # symmetric: CSR and CSC index arrays coincide
    A.sort_indices()
    return solver.bind(A.indptr, A.indices, A.shape[0]).factorize(A.data.copy())


# --- SuperLU ---------------------------------------------------------------------------------

class SuperLUSolver:
    """Sparse LU (SciPy's SuperLU): the fallback when scikit-sparse is not installed."""

    name = "superlu"

    def factorize(self, A: sp.spmatrix) -> Factorization:
        try:
            lu = spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A",
                           options={"SymmetricMode": True})
        except RuntimeError as exc:
            raise ForwardSolveError(f"operator is singular ({exc})") from exc
        return lu.solve


class SparseCholesky:
    r"""A factorised sparse SPD matrix A = R Rᵀ with R = Pᵀ L (P a fill-reducing permutation,
    L sparse lower triangular), for the priors that need more than solves.

    Besides ``solve(b) = A⁻¹ b`` it offers the *square root* actions ``sqrt_matvec(x) = R x``,
    ``sqrt_rmatvec(v) = Rᵀ v`` and ``sqrt_solve(x) = R⁻¹ x`` (a square R with R Rᵀ = A, e.g. the
    mass-matrix root that turns white noise ξ ~ N(0, I) into the FE load vector R ξ ~ N(0, M)),
    and ``logdet() = log det A``. Right-hand sides may be vectors (n,) or blocks (n, k).

    Backends: CHOLMOD (scikit-sparse), where A[p][:, p] = L Lᵀ and ``factor.P()`` is p (mind
    the permutation: R = Pᵀ L, not L); or, without scikit-sparse, SciPy's SuperLU in symmetric
    mode without pivoting, A[p][:, p] = L̃ D L̃ᵀ (L̃ unit lower, D diagonal), so L = L̃ D^{1/2}.

    Parameters
    ----------
    A : sparse matrix, shape (n, n)
        Symmetric positive definite.
    backend : {None, "cholmod", "superlu"}
        None chooses CHOLMOD when available.
    name : str
        Used in error messages (e.g. ``"mass matrix"``).

    Raises
    ------
    InvalidArgumentError
        If A is not square or not positive definite.
    """

    def __init__(self, A, backend: str | None = None, name: str = "matrix"):
        A = sp.csc_matrix(A, dtype=float)
        if A.shape[0] != A.shape[1]:
            raise InvalidArgumentError(f"{name} must be square, got shape {A.shape}")
        if backend is None:
            backend = "cholmod" if _cholmod is not None else "superlu"
        if backend not in ("cholmod", "superlu"):
            raise InvalidArgumentError(
                f"backend must be 'cholmod' or 'superlu', got {backend!r}")
        self.backend, self.shape, self.name = backend, A.shape, name
        if backend == "cholmod":
            self._init_cholmod(A)
        else:
            self._init_superlu(A)
        self._inverse_perm = np.empty_like(self.perm)
        self._inverse_perm[self.perm] = np.arange(self.perm.size)
        self._Lt = self.L.T.tocsr()

    def _not_spd(self, detail) -> InvalidArgumentError:
        return InvalidArgumentError(f"{self.name} is not positive definite ({detail})")

    def _init_cholmod(self, A):
        if _cholmod is None:
            raise InvalidArgumentError(
                "backend='cholmod' needs scikit-sparse: pip install 'scikit-sparse<0.5'")
        try:
            # Simplicial, not supernodal: a factor built once and used for many single
            # right-hand sides solves faster in simplicial form (2-d P1 operators;
            # benchmarks/results/design_notes.md).
            factor = _cholmod.cholesky(A, mode="simplicial")
            # A simplicial LDLᵀ factorisation succeeds for indefinite A; converting it to
            # LLᵀ is what detects a non-positive pivot.
            self.L = factor.L().tocsr()
        except _cholmod.CholmodNotPositiveDefiniteError as exc:
            raise self._not_spd(exc) from exc
        self.L.eliminate_zeros()          # supernodal padding: ≈ 20% explicit zeros in 2-d
        self._factor = factor
        self.perm = np.asarray(factor.P(), dtype=np.int64)
        self._solve = factor.solve_A
        self._logdet = float(factor.logdet())

    def _init_superlu(self, A):
        try:
            lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
        except RuntimeError as exc:
            raise self._not_spd(exc) from exc
        d = lu.U.diagonal()
        if not np.array_equal(lu.perm_r, lu.perm_c) or not np.all(d > 0):
            raise self._not_spd("SuperLU found a non-positive pivot")
        # SciPy: Pr A Pc = L̃ U with Pr[perm_r[i], i] = 1; in symmetric mode without pivoting
        # perm_r = perm_c, so A[p][:, p] = L̃ U with p = perm_r⁻¹, and U = D L̃ᵀ (A symmetric).
        self.perm = np.argsort(lu.perm_r).astype(np.int64)
        self.L = (lu.L @ sp.diags(np.sqrt(d))).tocsr()
        self._solve = lu.solve
        self._logdet = float(np.log(d).sum())

    def solve(self, b: ArrayLike) -> np.ndarray:
        """A⁻¹ b."""
        return self._solve(np.asarray(b, dtype=float))

    def logdet(self) -> float:
        """log det A."""
        return self._logdet

    def sqrt_matvec(self, x: ArrayLike) -> np.ndarray:
        """R x with R Rᵀ = A (R = Pᵀ L)."""
        return (self.L @ np.asarray(x, dtype=float))[self._inverse_perm]

    def sqrt_rmatvec(self, v: ArrayLike) -> np.ndarray:
        """Rᵀ v = Lᵀ (P v)."""
        return self._Lt @ np.asarray(v, dtype=float)[self.perm]

    def sqrt_solve(self, x: ArrayLike) -> np.ndarray:
        """R⁻¹ x = L⁻¹ (P x) (a sparse triangular solve)."""
        return spla.spsolve_triangular(self.L, np.asarray(x, dtype=float)[self.perm],
                                       lower=True)
