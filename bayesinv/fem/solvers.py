"""Linear solvers of the FEM forward maps: PETSc (default), CHOLMOD, SuperLU, or your own.

Every forward map factorises its operator once per parameter θ and reuses the factorisation
for the forward, adjoint and tangent solves. The solve is replaceable: pass ``solver=`` to a
forward map as

* ``None`` or ``"petsc"``: :class:`PETScSolver` with its defaults, a sparse Cholesky
  factorisation by PETSc with nested-dissection ordering, the fastest available here on
  this package's 2-d meshes (benchmarks/results/forward_maps.md);
* ``"cholmod"``: :class:`bayesinv.linalg.CholmodSolver` (scikit-sparse, simplicial mode);
* ``"superlu"``: SciPy's sparse LU;
* a :class:`PETScSolver` with other options, e.g. an iterative solver for large meshes,
  ``PETScSolver(ksp_type="cg", pc_type="gamg", rtol=1e-10)``; or any KSP/PC option through
  ``options={...}``;
* any object with ``factorize(A) -> solve`` (and optionally ``bind``, see
  :mod:`bayesinv.linalg`).

PETSc's matrix here wraps the NumPy value array of the fixed sparsity pattern
(``MatCreateSeqAIJWithArrays``): per θ the values are copied in and the *numeric*
factorisation is redone, the symbolic one (ordering, fill pattern) is computed once.

A distributed map (:class:`~bayesinv.fem.DistributedVariationalMap`) solves with a
:class:`ParallelSolver`: the same :class:`PETScSolver` configuration (:func:`configure_ksp`)
on the distributed Jacobian, by default a parallel LU by MUMPS.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import numpy as np
import scipy.sparse as sp

from ..errors import ForwardSolveError, InvalidArgumentError
from ..linalg import (
    CholmodSolver,
    Factorization,
    InPlaceFactorizer,
    SuperLUSolver,
    factorize_via_bind,
)
from ._dolfinx import PETSc

if TYPE_CHECKING:
    from mpi4py.MPI import Comm
    from petsc4py.PETSc import KSP, PC, Mat, Vec


class SolverProtocol(Protocol):
    """A linear solver of the forward maps: ``factorize(A)`` of a SciPy sparse matrix returns
    ``solve(b)`` (see :mod:`bayesinv.linalg`; ``bind`` is optional)."""

    def factorize(self, A: sp.spmatrix) -> Factorization: ...


#: what the ``solver=`` argument of the FE maps accepts (see :func:`make_solver`)
SolverSpec: TypeAlias = "SolverProtocol | Literal['petsc', 'cholmod', 'superlu'] | None"

_REASONS = {getattr(PETSc.KSP.ConvergedReason, name): name
            for name in dir(PETSc.KSP.ConvergedReason) if not name.startswith("_")}
_PC_FAILED = getattr(PETSc.KSP.ConvergedReason, "DIVERGED_PCSETUP_FAILED", -11)
_PREFIXES = itertools.count()


class PETScSolver:
    """A PETSc KSP (direct by default) as the forward maps' linear solver.

    Parameters
    ----------
    ksp_type : str
        ``"preonly"`` (a direct solve, default) or a Krylov method (``"cg"``, ``"gmres"``, ...).
    pc_type : str
        ``"cholesky"`` (default; the operators are symmetric positive definite), ``"lu"``, or
        a preconditioner for iterative solves (``"gamg"``, ``"hypre"``, ``"icc"``, ...).
    factor_solver_type : str
        Package doing the factorisation: ``"petsc"`` (default), ``"mumps"``, ``"cholmod"``...
    ordering : str
        Fill-reducing ordering of PETSc's own factorisations (default ``"nd"``, nested
        dissection); ignored by external packages and iterative solvers.
    rtol, atol, max_it : float, float, int
        Tolerances of iterative solves. An iterative solve that does not converge raises
        :class:`~bayesinv.errors.ForwardSolveError`.
    options : dict, optional
        Further PETSc options for this solver's KSP (without leading ``-``), e.g.
        ``{"pc_gamg_threshold": 0.02}``.
    """

    name = "petsc"

    def __init__(self, ksp_type: str = "preonly", pc_type: str = "cholesky", *,
                 factor_solver_type: str = "petsc", ordering: str = "nd", rtol: float = 1e-12,
                 atol: float = 1e-50, max_it: int = 10_000,
                 options: dict[str, Any] | None = None) -> None:
        direct = ksp_type == "preonly"
        if direct and pc_type not in ("cholesky", "lu"):
            raise InvalidArgumentError(
                f"pc_type must be 'cholesky' or 'lu' with ksp_type='preonly', got {pc_type!r}")
        self.ksp_type, self.pc_type = ksp_type, pc_type
        self.factor_solver_type, self.ordering = factor_solver_type, ordering
        self.rtol, self.atol, self.max_it = float(rtol), float(atol), int(max_it)
        self.options = dict(options or {})

    def __repr__(self) -> str:
        return f"PETScSolver(ksp_type={self.ksp_type!r}, pc_type={self.pc_type!r})"

    def bind(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> _PETScPattern:
        """A pattern factoriser: the PETSc matrix, KSP and work vectors, made once."""
        return _PETScPattern(self, indptr, indices, n)

    def factorize(self, A: sp.spmatrix) -> Factorization:
        """The plain protocol (a new KSP per call); the forward maps use :meth:`bind`."""
        return factorize_via_bind(self, A)


def configure_ksp(ksp: KSP, config: PETScSolver, prefix: str | None = None) -> PC:
    """Set ``config``'s KSP type, preconditioner, factorisation package and ordering (direct)
    or tolerances (Krylov) on ``ksp``, and its extra PETSc options under an options prefix of
    its own (``prefix``, default a fresh one), removed from the global database once read.
    Returns the PC."""
    ksp.setType(config.ksp_type)
    pc = ksp.getPC()
    pc.setType(config.pc_type)
    if config.ksp_type == "preonly":
        pc.setFactorSolverType(config.factor_solver_type)
        if config.factor_solver_type == "petsc":
            pc.setFactorOrdering(config.ordering)
    else:
        ksp.setTolerances(rtol=config.rtol, atol=config.atol, max_it=config.max_it)
    if config.options:
        prefix = prefix or f"bayesinv_solver{next(_PREFIXES)}_"
        opts = PETSc.Options()
        for key, value in config.options.items():
            opts[prefix + key.lstrip("-")] = value
        ksp.setOptionsPrefix(prefix)
        ksp.setFromOptions()
        for key in config.options:
            opts.delValue(prefix + key.lstrip("-"))
    return pc


class _PETScPattern(InPlaceFactorizer):
    def __init__(self, config: PETScSolver, indptr: np.ndarray, indices: np.ndarray,
                 n: int) -> None:
        self._config = config
        self._values = np.zeros(indices.shape[0])
        self._indptr = np.ascontiguousarray(indptr, dtype=PETSc.IntType)
        self._indices = np.ascontiguousarray(indices, dtype=PETSc.IntType)
        comm = PETSc.COMM_SELF
        self._mat = PETSc.Mat().createAIJWithArrays(
            (n, n), (self._indptr, self._indices, self._values), comm=comm)
        self._mat.assemble()
        ksp = self._ksp = PETSc.KSP().create(comm)
        ksp.setOperators(self._mat)
        self._pc = configure_ksp(ksp, config)
        self._b = np.zeros(n)
        self._x = np.zeros(n)
        self._bvec = PETSc.Vec().createWithArray(self._b, comm=comm)
        self._xvec = PETSc.Vec().createWithArray(self._x, comm=comm)
        self._set_up = False

    def _numeric(self, data: np.ndarray) -> None:
        np.copyto(self._values, data)
        self._mat.stateIncrease()  # the values changed: PCSetUp redoes the numeric factorisation
        try:
            if self._set_up:
                self._pc.setUp()
            else:
                self._ksp.setUp()
                self._set_up = True
        except PETSc.Error as exc:
            raise ForwardSolveError(f"PETSc factorisation failed (error {exc.ierr})") from exc

    def _solve(self, b: np.ndarray) -> np.ndarray:
        np.copyto(self._b, b)
        try:
            self._ksp.solve(self._bvec, self._xvec)
        except PETSc.Error as exc:
            raise ForwardSolveError(f"PETSc solve failed (error {exc.ierr})") from exc
        reason = self._ksp.getConvergedReason()
        if reason < 0:
            what = ("the factorisation failed (zero pivot: singular operator)"
                    if reason == _PC_FAILED
                    else f"after {self._ksp.getIterationNumber()} iterations")
            raise ForwardSolveError(
                f"PETSc {self._config.ksp_type}/{self._config.pc_type} solve failed: "
                f"{_REASONS.get(reason, reason)}, {what}")
        return self._x.copy()


#: the default solver of distributed maps: a parallel direct LU factorisation by MUMPS
DEFAULT_PARALLEL_SOLVER = PETScSolver("preonly", "lu", factor_solver_type="mumps")


def parallel_solver_config(solver: PETScSolver | Literal["mumps"] | None, comm: Comm
                           ) -> PETScSolver:
    """The PETSc configuration of a distributed map: None/"mumps" (parallel LU by MUMPS) or a
    :class:`PETScSolver`, refusing PETSc's own (serial) factorisations on several ranks."""
    if solver is None or (isinstance(solver, str) and solver == "mumps"):
        return DEFAULT_PARALLEL_SOLVER
    if not isinstance(solver, PETScSolver):
        raise InvalidArgumentError(
            f"solver of a DistributedVariationalMap must be None/'mumps' (parallel direct LU) or "
            f"a bayesinv.fem.PETScSolver (e.g. PETScSolver('cg', 'hypre')), got {solver!r}")
    if (solver.ksp_type == "preonly" and solver.factor_solver_type == "petsc"
            and comm.size > 1):
        raise InvalidArgumentError(
            f"PETSc's own {solver.pc_type} factorisation is serial and the mesh is distributed "
            f"over {comm.size} ranks: use factor_solver_type='mumps' (the default of this map) "
            f"or a Krylov solver such as PETScSolver('cg', 'hypre')")
    return solver


class ParallelSolver:
    """A PETSc KSP on the distributed Jacobian, re-factorised when the matrix changes; made
    anew after a failure (a MUMPS factorisation that failed once fails every later solve)."""

    def __init__(self, config: PETScSolver, matrix: Mat, comm: Comm, prefix: str) -> None:
        self.config, self._args = config, (matrix, comm, prefix)
        self.ksp: KSP = self._new_ksp()

    def _new_ksp(self) -> KSP:
        config, (matrix, comm, prefix) = self.config, self._args
        ksp = PETSc.KSP().create(comm)
        ksp.setOperators(matrix)
        configure_ksp(ksp, config, prefix)
        return ksp

    def _create(self) -> None:
        """Replace the KSP by a new one (after a failure)."""
        self.ksp.destroy()
        self.ksp = self._new_ksp()

    def solve(self, b: Vec, x: Vec, transpose: bool = False) -> None:
        """x = A⁻¹ b (or A⁻ᵀ b), ghosts updated; a failure raises ForwardSolveError."""
        try:
            (self.ksp.solveTranspose if transpose else self.ksp.solve)(b, x)
        except PETSc.Error as exc:
            self._create()
            raise ForwardSolveError(f"PETSc solve failed (error {exc.ierr})") from exc
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            self._create()
            what = ("the factorisation failed (zero pivot: singular operator)"
                    if reason == _PC_FAILED else "the iteration did not converge")
            raise ForwardSolveError(
                f"PETSc {self.config.ksp_type}/{self.config.pc_type} solve failed: "
                f"{_REASONS.get(reason, reason)}, {what}")
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)


#: the named solvers of :func:`make_solver` (None means "petsc")
SOLVERS: dict[str, Callable[[], SolverProtocol]] = {
    "petsc": PETScSolver, "cholmod": CholmodSolver, "superlu": SuperLUSolver}


def make_solver(solver: SolverSpec = None) -> SolverProtocol:
    """The one solver factory: ``None``/``"petsc"`` (PETSc Cholesky), ``"cholmod"``,
    ``"superlu"`` (see :data:`SOLVERS`), or an object with ``factorize(A)`` (returned
    unchanged)."""
    if solver is None:
        return PETScSolver()
    if isinstance(solver, str):
        if solver not in SOLVERS:
            raise InvalidArgumentError(
                f"solver must be one of {sorted(SOLVERS)} or an object with factorize(A), "
                f"got {solver!r}")
        return SOLVERS[solver]()
    if not callable(getattr(solver, "factorize", None)):
        raise InvalidArgumentError(
            f"solver must have a factorize(A) method returning solve(b), got {solver!r}")
    return solver


__all__ = [
    "DEFAULT_PARALLEL_SOLVER",
    "SOLVERS",
    "CholmodSolver",
    "PETScSolver",
    "ParallelSolver",
    "SuperLUSolver",
    "make_solver",
    "parallel_solver_config",
]
