r"""One PDE on many MPI ranks: a variational forward map on a distributed dolfinx mesh.

:class:`DistributedVariationalMap` is the map θ ↦ y = O u(θ) of
:class:`~bayesinv.fem.VariationalForwardMap` (the user's residual F(u, m; v), m = Φ(θ) on P1
nodes, u = g on Dirichlet dofs) for a mesh distributed over a communicator (``MPI.COMM_WORLD``
or a sub-communicator): dolfinx assembles in parallel, PETSc solves in parallel, and every rank
returns the same arrays, so that the samplers — which run replicated on every rank — see one
problem whatever the number of ranks.

**θ is ordered independently of the rank count.** θ holds the P1 nodal values of m ordered by
the mesh's *input* node numbering (``mesh.geometry.input_global_indices``: the node order of the
file or generator the mesh came from, before dolfinx partitions and renumbers it). θ is
replicated on every rank; each rank reads the values of its own and ghost dofs from it, with no
communication. :attr:`DistributedVariationalMap.parameter_coordinates` gives the node coordinates
in this order on every rank (to build a prior, e.g. a series prior from eigenfunctions evaluated
there), and :meth:`DistributedVariationalMap.from_input_order`/:meth:`to_input_order` translate
to and from the dof order of a serial map of the same mesh.

**Solves.** A linear residual (the Jacobian J = ∂F/∂u does not depend on u) is solved by one
Newton step from u₀ (u₀ = g on the Dirichlet dofs, 0 elsewhere): J δ = −F(u₀) with δ = 0 on
the Dirichlet dofs (rows of the identity there), u = u₀ + δ. The adjoint of the pullback,
Jᵀ λ = Oᵀ w (λ = 0 on the Dirichlet dofs), uses the same PETSc operator (``solveTranspose``,
or ``solve`` when J is symmetric), and ∇_θ = −Φ'(z) ⊙ (∂F/∂m)ᵀ λ as in the serial map. The
solver is a :class:`~bayesinv.fem.solvers.PETScSolver` configuration: by default a parallel
direct LU by MUMPS; any Krylov method and preconditioner (``PETScSolver("cg", "hypre")``,
``"gamg"``, ...) can be chosen instead.

**Observations, each owned by one rank.** A design point is owned by the lowest rank that owns
a cell containing it (bounding-box tree and collision test on the rank's owned cells); that rank
holds its row of O (basis functions at the point, :mod:`bayesinv.fem.pointeval`). Outputs and
gradients are gathered with ``Allreduce(SUM)`` of arrays in which every entry has exactly one
non-zero contribution, so the sum is exact and identical, bit for bit, on every rank: the
samplers' accept/reject decisions (computed from these arrays and a random stream seeded
identically on every rank) agree on all ranks by construction.

Differences from the serial map: P1 parameters only (no :class:`ParameterBasis`, no P2/DG0
θ), point observations only, residuals linear in u only, no experiments. Under ``mpirun -n 1``
(or on ``MPI.COMM_SELF``) it equals :class:`VariationalForwardMap` on the same mesh up to the
solver's round-off, after the reordering above (tested).

References: Baratta et al. (2023), DOLFINx: the next generation FEniCS problem solving
environment; Amestoy et al. (2001), MUMPS, SIAM J. Matrix Anal. Appl. 23; Villa, Petra &
Ghattas (2021), hIPPYlib, ACM TOMS 47 (distributed adjoints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
import ufl
from numpy.typing import ArrayLike

from ..errors import ForwardSolveError, InvalidArgumentError
from ..forward.base import ForwardMap
from ..forward.fingerprint import fingerprint
from ..links import get_link
from . import _compat
from .dirichlet import DirichletBC, boundary_dofs
from .input_ordering import InputOrdering, allreduce_exact
from .pointeval import check_points, reference_coordinates, space_element
from .solvers import DEFAULT_PARALLEL_SOLVER as DEFAULT_SOLVER  # noqa: F401
from .solvers import ParallelSolver, PETScSolver, parallel_solver_config

if TYPE_CHECKING:
    from dolfinx.fem import FunctionSpace
    from dolfinx.mesh import Mesh

    from ..links import Link
    from ..protocols import Pullback, Pushforward


class DistributedVariationalMap(ForwardMap):
    r"""θ ↦ O u(θ) for a residual F(u, m; v) on a mesh distributed over MPI ranks.

    See the module docstring for the maths, the ordering of θ and what every rank returns.

    Parameters
    ----------
    residual : callable
        ``residual(u, m, v, **coefficients) -> ufl.Form``, linear in u (as for
        :class:`~bayesinv.fem.VariationalForwardMap`).
    mesh : dolfinx Mesh
        Straight-sided cells, on any communicator (``MPI.COMM_WORLD`` under ``mpirun``).
    points : array_like (N, gdim)
        Design points, the same on every rank; each is observed by one rank.
    state : int
        Lagrange degree (1 or 2) of u.
    bcs : sequence of DirichletBC
        Dirichlet conditions (values: constants, callables g(x), or a dolfinx Function).
    link : None, str or Link
        m = Φ(θ) on the P1 values; None is Φ(θ) = θ.
    coefficients : dict, optional
        Known coefficients by name (constants, callables c(x), or dolfinx Functions on this
        mesh), passed to ``residual`` as keyword arguments.
    solver : None, "mumps" or PETScSolver
        Default: parallel LU by MUMPS. A Krylov solver, e.g. ``PETScSolver("cg", "hypre",
        rtol=1e-12)`` or ``PETScSolver("gmres", "gamg")``; PETSc's own (serial) factorisation
        is refused on more than one rank.
    """

    _instances = 0

    def __init__(self, residual: Callable[..., ufl.Form], mesh: Mesh, points: ArrayLike, *,
                 state: int = 1, bcs: Sequence[DirichletBC] = (), link: str | Link | None = None,
                 coefficients: Mapping[str, Any] | None = None,
                 solver: PETScSolver | Literal["mumps"] | None = None) -> None:
        super().__init__()
        import dolfinx.fem

        from .residual import ResidualForms
        from .variational_spaces import _fill, _Plain, _state_space

        if not callable(residual):
            raise InvalidArgumentError(
                f"residual must be a callable residual(u, m, v, **coefficients) returning a UFL "
                f"form, got {type(residual).__name__}")
        if not (hasattr(mesh, "geometry") and hasattr(mesh, "topology")):
            raise InvalidArgumentError(
                f"mesh must be a dolfinx Mesh (on any communicator), got {type(mesh).__name__}")
        self.mesh, self.comm = mesh, mesh.comm
        self.link = _Plain() if link is None else get_link(link)
        self.config = parallel_solver_config(solver, self.comm)
        V = self.function_space = _state_space(mesh, state)
        Q = self.parameter_function_space = _compat.function_space(mesh, "Lagrange", 1)
        self.ordering = InputOrdering(Q)
        self.input_dim = self.ordering.size

        self._u, self._lam = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        self._m, self._dm = dolfinx.fem.Function(Q), dolfinx.fem.Function(Q)
        v = ufl.TestFunction(V)
        coefficients = coefficients or {}
        if not isinstance(coefficients, Mapping):
            raise InvalidArgumentError(
                f"coefficients must be a dict name -> value, got {type(coefficients).__name__}")
        coef = {}
        for name, value in coefficients.items():
            if isinstance(value, dolfinx.fem.Function):
                coef[name] = value
                continue
            fn = dolfinx.fem.Function(V, name=str(name))
            _fill(fn, value, f"coefficient {name!r}")
            coef[name] = fn
        self._coef = coef
        self.forms = ResidualForms(residual(self._u, self._m, v, **coef), self._u, self._m, v,
                                   self._lam, self._dm)
        if not self.forms.linear:
            raise InvalidArgumentError(
                "DistributedVariationalMap solves residuals linear in u (one Newton step); this "
                "residual's Jacobian depends on u: use VariationalForwardMap on a serial mesh")

        # Dirichlet data: u0 = g on the bc dofs (owned and ghost), 0 elsewhere
        self.bcs = tuple(bcs)
        u0 = dolfinx.fem.Function(V)
        dofs = []
        for bc in self.bcs:
            if not isinstance(bc, DirichletBC):
                raise InvalidArgumentError(
                    f"bcs must be a sequence of bayesinv.fem.DirichletBC, got {bc!r}")
            if isinstance(bc.value, str):
                raise InvalidArgumentError(
                    f"DirichletBC value {bc.value!r}: a DistributedVariationalMap takes constant, "
                    f"callable or Function boundary values (no experiments)")
            g = dolfinx.fem.Function(V)
            _fill(g, bc.value, "DirichletBC value")
            d = boundary_dofs(V, bc, None)
            u0.x.array[d] = g.x.array[d]
            dofs.append(d)
        self._u0 = u0.x.array.copy()
        zero = dolfinx.fem.Function(V)
        bc_dofs = (np.unique(np.concatenate(dofs)).astype(np.int32) if dofs
                   else np.zeros(0, np.int32))
        self._zero_bcs = [_compat.dirichlet_bc(zero, bc_dofs)] if dofs else []
        self._bc_zero_fn = zero

        # PETSc objects, made once
        self._A = _compat.create_petsc_matrix(self.forms.jacobian)
        self._b = _compat.create_petsc_vector(self.forms.residual)
        self._grad = _compat.create_petsc_vector(self.forms.gradient)
        self._dx = dolfinx.fem.Function(V)  # solutions of the linear solves (with ghosts)
        self._x = _compat.petsc_vector(self._dx)
        DistributedVariationalMap._instances += 1
        self._solver = ParallelSolver(self.config, self._A, self.comm,
                                       f"bayesinv_dist{DistributedVariationalMap._instances}_")
        self.symmetric = self._check_symmetric()

        self._O = self._observation_matrix(points)
        self.num_observations = self.output_dim = self._O.shape[0]
        self._O_t = self._O.T.tocsr()

    # -- set-up ------------------------------------------------------------------------------

    def _check_symmetric(self) -> bool:
        """Whether J (at m = 1) is symmetric, so that adjoint solves can reuse ``solve``."""
        self._m.x.array[:] = 1.0
        self._u.x.array[:] = self._u0
        _compat.assemble_petsc_matrix(self._A, self.forms.jacobian, self._zero_bcs)
        T = self._A.transpose(_compat.PETSc.Mat())  # a new matrix (no argument: in place)
        T.axpy(-1.0, self._A)
        asym, scale = T.norm(), self._A.norm()
        T.destroy()
        return bool(asym <= 1e-12 * scale)

    def _observation_matrix(self, points) -> sp.csr_matrix:
        """O restricted to this rank's design points (rows of the others are empty)."""
        mesh, comm = self.mesh, self.comm
        pts = check_points(mesh, points, "points")
        tdim = mesh.topology.dim
        tree = _compat.bounding_box_tree(mesh, tdim)
        owned_cells = mesh.topology.index_map(tdim).size_local
        cells = _compat.colliding_cells(mesh, tree, pts, owned=owned_cells)
        rank = np.where(cells >= 0, comm.rank, comm.size).astype(np.int64)
        owner = np.empty_like(rank)
        comm.Allreduce(rank, owner, op=_compat.MPI.MIN)
        outside = np.flatnonzero(owner == comm.size)
        if outside.size:
            shown = np.array2string(pts[outside[:3]], precision=4, separator=", ")
            raise InvalidArgumentError(
                f"{outside.size} of the points lie outside the mesh (indices "
                f"{outside[:5].tolist()}, e.g. {shown}); points must lie in the meshed domain")
        mine = np.flatnonzero(owner == comm.rank)
        self.design = pts
        self.point_owner = owner
        V = self.function_space
        imap = V.dofmap.index_map
        ncols = imap.size_local + imap.num_ghosts
        if mine.size == 0:
            return sp.csr_matrix((pts.shape[0], ncols))
        X = reference_coordinates(mesh, pts[mine], cells[mine])
        values = _compat.tabulate(space_element(V), X)[0]
        dofs = _compat.cell_dofs(V)[cells[mine]]
        rows = np.repeat(mine, values.shape[1])
        return sp.csr_matrix((values.ravel(), (rows, dofs.ravel())), shape=(pts.shape[0], ncols))

    # -- orderings ---------------------------------------------------------------------------

    @property
    def parameter_coordinates(self) -> np.ndarray:
        """Coordinates of the P1 nodes in θ's order (input order), shape (input_dim, gdim)."""
        return self.ordering.coordinates

    # -- the solves --------------------------------------------------------------------------

    def _factor(self, theta):
        theta = self._check_theta(theta)
        z = self.ordering.local(theta)
        m = self.link(z)
        if not self._everywhere(np.isfinite(m).all()):
            raise ForwardSolveError("the linked parameter field is not finite")
        self._m.x.array[:] = m
        self._u.x.array[:] = self._u0
        _compat.assemble_petsc_matrix(self._A, self.forms.jacobian, self._zero_bcs)
        return z

    def _solve_state(self):
        """u = u0 + δ with J δ = −F(u0), δ = 0 on the Dirichlet dofs (needs ``_factor``)."""
        b = self._b
        _compat.assemble_petsc_vector(b, self.forms.residual)
        b.scale(-1.0)
        _compat.set_bc_values(b, self._zero_bcs)
        self._solver.solve(b, self._x)
        with self._x.localForm() as dx:
            u = self._u0 + dx.array
        if not self._everywhere(np.isfinite(u).all()):
            raise ForwardSolveError("the forward solution is not finite")
        self._u.x.array[:] = u
        return u

    def _everywhere(self, flag) -> bool:
        """Whether ``flag`` holds on every rank: a failure seen by one rank is raised by all,
        so that a rejected proposal leaves no rank waiting in a collective call."""
        return bool(self.comm.allreduce(int(bool(flag)), op=_compat.MPI.MIN))

    def _observe(self, u) -> np.ndarray:
        return allreduce_exact(self.comm, np.asarray(self._O @ u))

    def solve_state(self, theta: ArrayLike) -> np.ndarray:
        """This rank's dof values (owned and ghost) of u(θ) on the state space."""
        self._factor(theta)
        u = self._solve_state()
        self.counts.forward += 1
        return u

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        return self._observe(self.solve_state(theta))

    def linearize(self, theta: ArrayLike) -> tuple[np.ndarray, Pushforward, Pullback]:
        """G(θ), v ↦ J(θ) v and w ↦ J(θ)ᵀ w sharing one assembly and solver."""
        z = self._factor(theta)
        u = self._solve_state()
        self.counts.forward += 1
        y = self._observe(u)
        m = self._m.x.array.copy()
        dlink = self.link.derivative(z)
        ordering, PETSc = self.ordering, _compat.PETSc

        def restore():
            self._m.x.array[:] = m
            self._u.x.array[:] = u

        def jvp(v):
            v = self._check_tangent(v)
            restore()
            self._dm.x.array[:] = dlink * ordering.local(v)
            _compat.assemble_petsc_vector(self._b, self.forms.tangent)
            self._b.scale(-1.0)
            _compat.set_bc_values(self._b, self._zero_bcs)
            self._solver.solve(self._b, self._x)
            with self._x.localForm() as du:
                out = self._observe(du.array.copy())
            self.counts.tangent += 1
            return out

        def pullback(w):
            w = self._check_output(w)
            restore()
            b = self._b
            with b.localForm() as local:
                local.array[:] = self._O_t @ w
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            _compat.set_bc_values(b, self._zero_bcs)
            self._solver.solve(b, self._x, transpose=not self.symmetric)
            with self._x.localForm() as lam:
                self._lam.x.array[:] = lam.array
            _compat.assemble_petsc_vector(self._grad, self.forms.gradient)
            owned = ordering.num_owned
            grad_m = -self._grad.array_r[:owned] * dlink[:owned]
            self.counts.adjoint += 1
            return ordering.gather(grad_m)

        return y, jvp, pullback

    # -- identity ------------------------------------------------------------------------------

    def _by_coordinates(self, V, values) -> np.ndarray:
        """The owned dof values of a function on ``V``, gathered from all ranks, sorted by dof
        coordinates and rounded to single precision: interpolated data (a callable boundary
        value) differs by an ulp between partitions (the cell a dof is computed from), so
        only the float32 values are the same on any number of ranks (a float64 value within
        an ulp of a float32 rounding boundary, probability ~2⁻²⁹ per value, would still
        differ)."""
        owned = V.dofmap.index_map.size_local
        x = np.round(V.tabulate_dof_coordinates()[:owned], 12)
        parts = self.comm.allgather((x, np.asarray(values)[:owned]))
        xs = np.concatenate([p[0] for p in parts])
        order = np.lexsort(xs.T[::-1])
        return np.concatenate([p[1] for p in parts])[order].astype(np.float32)

    def fingerprint(self) -> str:
        """A hash of what defines the map — residual signature, elements, nodes in θ order,
        design points, Dirichlet data and known coefficients (in single precision, see
        ``_by_coordinates``), link — independent of the number of ranks (so a checkpoint
        written under ``mpirun -n 2`` resumes under ``-n 1``)."""
        coef = [self._by_coordinates(fn.function_space, fn.x.array)
                for _, fn in sorted(self._coef.items())]
        return fingerprint(
            type(self).__name__, self.forms.signature, repr(self.function_space.ufl_element()),
            repr(self.parameter_function_space.ufl_element()), self.parameter_coordinates,
            self.design, self._by_coordinates(self.function_space, self._u0), *coef,
            repr(self.link))

    # -- serial comparisons --------------------------------------------------------------------

    def from_input_order(self, theta_input: ArrayLike, serial_space: FunctionSpace
                         ) -> np.ndarray:
        """θ in input order → the dof order of ``serial_space`` (a P1 space of a serial copy of
        the mesh, e.g. ``VariationalForwardMap.parameter_function_space``)."""
        perm = InputOrdering(serial_space).local_to_global
        return np.asarray(theta_input)[perm]

    def to_input_order(self, theta_serial: ArrayLike, serial_space: FunctionSpace
                       ) -> np.ndarray:
        """θ in the dof order of ``serial_space`` → input order (inverse of
        :meth:`from_input_order`)."""
        perm = InputOrdering(serial_space).local_to_global
        out = np.empty(perm.size)
        out[perm] = theta_serial
        return out
