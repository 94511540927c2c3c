"""Sparse symmetric positive-definite solvers used by the forward maps.

A solver turns a matrix into a *factorisation*, a callable ``solve(b) -> x`` that can be reused
for any number of right-hand sides (the forward solve and the adjoint solve of one gradient
share it). The default is CHOLMOD (scikit-sparse), whose symbolic analysis (fill-reducing
ordering, elimination tree) is computed once per sparsity pattern and reused for every new
matrix with that pattern, so each MCMC step pays only the numeric factorisation. Without
scikit-sparse, SuperLU from SciPy is used. Users can pass their own object with a
``factorize(A)`` method (e.g. wrapping a PETSc KSP for very large meshes).

A failed factorisation (matrix not positive definite, singular) raises
:class:`~bayesinv.errors.ForwardSolveError`.
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


class CholmodSolver:
    """Sparse Cholesky (CHOLMOD, supernodal) with the symbolic analysis reused across calls."""

    name = "cholmod"

    def __init__(self):
        if _cholmod is None:
            raise InvalidArgumentError(
                "solver='cholmod' needs scikit-sparse: pip install 'scikit-sparse<0.5' "
                "(with Debian's libsuitesparse-dev installed)")
        self._analysis = None
        self._pattern_key = None

    def factorize(self, A: sp.csc_matrix) -> Factorization:
        key = (A.shape, A.nnz, id(A.indices))
        try:
            if self._analysis is None or key != self._pattern_key:
                self._analysis = _cholmod.analyze(A)
                self._pattern_key = key
            factor = self._analysis.cholesky(A)
        except _cholmod.CholmodNotPositiveDefiniteError as exc:
            raise ForwardSolveError(f"operator is not positive definite ({exc})") from exc
        except _cholmod.CholmodError as exc:  # pragma: no cover - other CHOLMOD failures
            raise ForwardSolveError(f"CHOLMOD failed: {exc}") from exc
        return factor.solve_A


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
    object with a ``factorize(A)`` method, which is returned unchanged."""
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
