"""The FEniCSx calls of :mod:`bayesinv.fem` (dolfinx, basix, ufl, petsc4py, mpi4py).

Supported: dolfinx 0.5 (Debian 12's ``python3-dolfinx`` 0.5.2) through 0.10 (Debian 13's
0.9, conda-forge). Everything that differs between those versions goes through
:mod:`bayesinv.fem._compat` (feature detection); this module holds the package's own helpers
on top of it, and everything else in :mod:`bayesinv.fem` works on the NumPy/SciPy arrays
returned here.

PETSc (``petsc4py``, which dolfinx needs anyway) is re-exported as ``_dolfinx.PETSc`` for the
PETSc linear solvers of :mod:`bayesinv.fem.solvers`; gmsh (optional, from PyPI) is imported
here lazily, only when a disk or ellipse is meshed.

Meshes are created on ``MPI.COMM_SELF``: one MCMC chain or replicate per process, each with
its own serial mesh. Parallelism in bayesinv is across chains and replicates.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import InvalidArgumentError, MissingDependencyError
from . import _compat
from ._compat import COMM, INSTALL_HINT, MPI, PETSc, basix, dolfinx, ufl  # noqa: F401
from ._compat import quiet_jit as _quiet_jit

#: The dolfinx version string (e.g. "0.5.2"); ``_compat.DOLFINX_VERSION`` is the tuple.
DOLFINX_VERSION = dolfinx.__version__


# --- meshes -------------------------------------------------------------------------------

def unit_square_mesh(n: int, diagonal: str = "right"):
    """The unit square (0, 1)² split into 2n² triangles."""
    diag = {"right": dolfinx.mesh.DiagonalType.right, "left": dolfinx.mesh.DiagonalType.left,
            "crossed": dolfinx.mesh.DiagonalType.crossed}
    if diagonal not in diag:
        raise InvalidArgumentError(f"diagonal must be one of {sorted(diag)}, got {diagonal!r}")
    return dolfinx.mesh.create_unit_square(COMM, n, n, dolfinx.mesh.CellType.triangle,
                                           diagonal=diag[diagonal])


_GMSH_MODELS = itertools.count()


def _import_gmsh():
    try:
        import gmsh
    except (ImportError, OSError) as exc:  # OSError: a missing system library (libGLU, libX*)
        raise MissingDependencyError(
            "meshing disks and ellipses needs gmsh: pip install gmsh (on Debian it also needs "
            "libglu1-mesa libxcursor1 libxft2 libxinerama1, installed by `make setup`) "
            f"(import error: {exc})") from exc
    return gmsh


def gmsh_ellipse_mesh(semi_axes: tuple[float, float], rotation: float,
                      center: tuple[float, float], mesh_size: float):
    """A triangle mesh of the ellipse {x: ((R⁻¹(x − c))_1/a)² + ((R⁻¹(x − c))_2/b)² < 1}.

    Meshed by gmsh (OpenCASCADE disk, uniform target size ``mesh_size``, one thread, so the
    mesh is reproducible) and converted with ``_compat.model_to_mesh``. A gmsh
    session opened by the caller is left open (only our model is removed).
    """
    gmsh = _import_gmsh()
    owned = not gmsh.isInitialized()
    if owned:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add(f"bayesinv_ellipse_{next(_GMSH_MODELS)}")
        a, b = semi_axes
        (rx, ry), extra = ((a, b), 0.0) if a >= b else ((b, a), np.pi / 2)  # OCC needs rx >= ry
        cx, cy = center
        tag = gmsh.model.occ.addDisk(cx, cy, 0.0, rx, ry)
        if rotation + extra != 0.0:
            gmsh.model.occ.rotate([(2, tag)], cx, cy, 0.0, 0.0, 0.0, 1.0, rotation + extra)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [tag], 1)
        gmsh.option.setNumber("Mesh.MeshSizeMin", mesh_size)
        gmsh.option.setNumber("Mesh.MeshSizeMax", mesh_size)
        gmsh.model.mesh.generate(2)
        mesh, _, _ = _compat.model_to_mesh(gmsh.model, COMM, 0, gdim=2)
    finally:
        if gmsh.isInitialized():
            gmsh.model.remove()
            if owned:
                gmsh.finalize()
    return mesh


def check_serial_mesh(mesh, what: str) -> None:
    """Refuse a mesh distributed over more than one MPI rank for a serial-only feature."""
    comm = getattr(mesh, "comm", None)
    if comm is not None and comm.size != 1:
        raise InvalidArgumentError(
            f"{what} is serial but the mesh is distributed over {comm.size} ranks (MPI): create "
            f"the mesh on MPI.COMM_SELF, or use bayesinv.fem.DistributedVariationalMap for one "
            f"PDE on many ranks")


def check_affine_simplex_mesh(mesh) -> None:
    """Require a mesh of straight-sided simplices (the element tensors assume affine cells)."""
    if not hasattr(mesh, "geometry") or not hasattr(mesh, "topology"):
        raise InvalidArgumentError(f"mesh must be a dolfinx Mesh, got {type(mesh).__name__}")
    degree = _compat.coordinate_element_degree(mesh)
    cell = mesh.topology.cell_type
    if degree != 1 or cell not in (dolfinx.mesh.CellType.interval, dolfinx.mesh.CellType.triangle,
                                   dolfinx.mesh.CellType.tetrahedron):
        raise InvalidArgumentError(
            f"mesh must consist of affine simplices (degree-1 geometry); got cell type {cell} "
            f"with geometry degree {degree}")


def cell_vertex_coordinates(mesh) -> np.ndarray:
    """Vertex coordinates of every cell, shape (num_cells, tdim + 1, gdim), reference order."""
    gdim = mesh.geometry.dim
    nodes = _compat.geometry_dofs(mesh)
    return np.ascontiguousarray(mesh.geometry.x[nodes][:, :, :gdim], dtype=np.float64)


# --- function spaces ------------------------------------------------------------------------

def lagrange_space(mesh, degree: int):
    """A continuous Lagrange space of the given degree."""
    return _compat.function_space(mesh, "Lagrange", degree)


def space_arrays(V):
    """Cell-to-dof map (num_cells, dofs_per_cell), dof coordinates and boundary dofs of ``V``."""
    gdim = V.mesh.geometry.dim
    cell_dofs = _compat.cell_dofs(V).astype(np.int64)
    coords = np.array(V.tabulate_dof_coordinates()[:, :gdim], dtype=np.float64)
    boundary = _compat.locate_boundary_dofs(V, None, None).astype(np.int64)
    if V.element.needs_dof_transformations:
        raise InvalidArgumentError("Lagrange degree > 2 needs dof transformations; use 1 or 2")
    return cell_dofs, coords, boundary


def reference_element(V):
    """The basix element of ``V`` (same dof order as the dofmap)."""
    return _compat.basix_element(V)


def tabulate(element, points: np.ndarray, derivatives: int = 0) -> np.ndarray:
    """Basis values (and gradients) at reference points: shape (1 + tdim*deriv, npts, ndofs)."""
    return _compat.tabulate(element, points, derivatives)


def quadrature(mesh, degree: int):
    """Gauss–Jacobi quadrature on the reference cell: points (nq, tdim), weights (nq,)."""
    cell = {1: "interval", 2: "triangle", 3: "tetrahedron"}[mesh.topology.dim]
    return _compat.quadrature(cell, degree)


# --- points ---------------------------------------------------------------------------------

def locate_cells(mesh, points: np.ndarray) -> np.ndarray:
    """Index of a cell containing each point, or -1 for points outside the mesh."""
    tree = _compat.bounding_box_tree(mesh, mesh.topology.dim)
    return _compat.colliding_cells(mesh, tree, points)


# --- UFL assembly (reference implementation for tests and the naive benchmark) -------------

def function_from_values(V, values: np.ndarray):
    """A dolfinx Function of ``V`` holding the given dof values."""
    fn = dolfinx.fem.Function(V)
    fn.x.array[:] = values
    return fn


def assemble_bilinear(V, kind: str, coefficient=None):
    """Assemble a bilinear form with UFL and PETSc and return it as a SciPy CSR matrix.

    ``kind`` is ``"mass"`` (∫ q u v), ``"stiffness"`` (∫ q ∇u·∇v) or ``"boundary_mass"``
    (∫_∂O q u v ds); ``coefficient`` is a dolfinx Function q (default 1). Used to validate the
    fast path and in benchmarks.
    """
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    q = 1.0 if coefficient is None else coefficient
    integrand = {"mass": q * u * v * ufl.dx,
                 "stiffness": q * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
                 "boundary_mass": q * u * v * ufl.ds}[kind]
    return _compat.assemble_matrix_csr(_compat.form(integrand))


def ufl_reference_solve(space, *, kind: str, coefficient, base_stiffness: float,
                        source_scale: float, source, boundary) -> np.ndarray:
    """Solve c_K ∫∇u·∇v + ∫ f t(u, v) = c_s ∫ s v, u = g on ∂O, the plain dolfinx way.

    UFL forms, PETSc assembly with Dirichlet conditions and a direct LU solve: the reference
    that the fast path must reproduce to round-off. ``coefficient`` holds P1 nodal values of
    f; ``source`` and ``boundary`` hold dof values on ``space``. Returns the dof values of u.
    """
    V = space.function_space
    f = function_from_values(space.domain.parameter_space.function_space, coefficient)
    s = function_from_values(V, source)
    g = function_from_values(V, boundary)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    term = f * u * v if kind == "mass" else f * ufl.inner(ufl.grad(u), ufl.grad(v))
    if base_stiffness:
        term = term + base_stiffness * ufl.inner(ufl.grad(u), ufl.grad(v))
    a = term * ufl.dx
    rhs = source_scale * s * v * ufl.dx
    bc = _compat.dirichlet_bc(g, space.boundary_dofs)
    problem = _compat.linear_problem(a, rhs, bcs=[bc],
                                     petsc_options={"ksp_type": "preonly", "pc_type": "lu"})
    with _quiet_jit():
        uh = problem.solve()
    return np.array(uh.x.array, dtype=np.float64)


def ufl_reference_heat(space, *, coefficient, time_step: float, theta_scheme: float,
                       num_steps: int, initial, sources, boundary) -> np.ndarray:
    """The ϑ-scheme for ∂_t u − ∇·(f∇u) = s, u = g on ∂O, the plain dolfinx way.

    Per step: UFL forms (u v/Δt + ϑ f ∇u·∇v) and (u^{n−1} v/Δt − (1−ϑ) f ∇u^{n−1}·∇v +
    s̄^n v), PETSc assembly with Dirichlet lifting and a PETSc LU solve. ``sources`` and
    ``boundary`` hold dof values at every time level, shape (num_steps + 1, num_dofs);
    ``coefficient`` P1 nodal values of f. Returns all time levels, (num_steps + 1, num_dofs).
    """
    V = space.function_space
    f = function_from_values(space.domain.parameter_space.function_space, coefficient)
    u_prev, s_new, s_old, g = (dolfinx.fem.Function(V) for _ in range(4))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dt, th = float(time_step), float(theta_scheme)
    grad_dot = ufl.inner(ufl.grad(u), ufl.grad(v))
    a = _compat.form((u * v / dt + th * f * grad_dot) * ufl.dx)
    rhs = _compat.form(
        (u_prev * v / dt - (1 - th) * f * ufl.inner(ufl.grad(u_prev), ufl.grad(v))
         + (th * s_new + (1 - th) * s_old) * v) * ufl.dx)
    bc = _compat.dirichlet_bc(g, space.boundary_dofs)
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    ksp = PETSc.KSP().create(COMM)
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    out = np.empty((num_steps + 1, space.num_dofs))
    out[0] = initial
    uh = dolfinx.fem.Function(V)
    for n in range(1, num_steps + 1):
        u_prev.x.array[:] = out[n - 1]
        s_new.x.array[:], s_old.x.array[:] = sources[n], sources[n - 1]
        g.x.array[:] = boundary[n]
        b = dolfinx.fem.petsc.assemble_vector(rhs)
        dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [bc])
        ksp.solve(b, _compat.petsc_vector(uh))
        out[n] = uh.x.array
        b.destroy()
    ksp.destroy()
    A.destroy()
    return out


class NaiveUFLGradient:
    """A gradient step the plain dolfinx way, for benchmarks and as an end-to-end reference.

    Forward map θ ↦ O u, u solving c_K ∫∇u·∇v + ∫ f t(u, v) = c_s ∫ s v, u = g on ∂O, f =
    Φ(θ). Forms are compiled once; per call: UFL re-assembly of the matrix (with Dirichlet
    rows) and right-hand side, a PETSc LU factorisation (symbolic reused by PETSc when the
    pattern is unchanged), the forward solve, the adjoint solve with the same factorisation,
    and the gradient assembled from the UFL form −Φ'(θ) ∫ ψ t(u, λ).
    """

    def __init__(self, space, *, kind: str, base_stiffness: float, source_scale: float,
                 source, boundary, observation, link):
        V = space.function_space
        Q = space.domain.parameter_space.function_space
        self._space, self._link, self._O = space, link, observation.tocsr()
        self._Ot = self._O.T.tocsr()
        self._f = dolfinx.fem.Function(Q)
        self._u, self._lam = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        s, g = function_from_values(V, source), function_from_values(V, boundary)
        u, v, psi = ufl.TrialFunction(V), ufl.TestFunction(V), ufl.TestFunction(Q)

        def t(a, b):
            return a * b if kind == "mass" else ufl.inner(ufl.grad(a), ufl.grad(b))

        integrand = self._f * t(u, v)
        if base_stiffness:
            integrand = integrand + base_stiffness * ufl.inner(ufl.grad(u), ufl.grad(v))
        self._a = _compat.form(integrand * ufl.dx)
        self._L = _compat.form(source_scale * s * v * ufl.dx)
        self._dform = _compat.form(-psi * t(self._u, self._lam) * ufl.dx)
        self._bc = _compat.dirichlet_bc(g, space.boundary_dofs)
        self._A = dolfinx.fem.petsc.create_matrix(self._a)
        self._b = _compat.create_petsc_vector(self._L)
        self._ksp = PETSc.KSP().create(COMM)
        self._ksp.setType("preonly")
        self._ksp.getPC().setType("lu")
        self._boundary = space.boundary_dofs

    def __call__(self, theta: np.ndarray, w: np.ndarray):
        """(G(θ), J(θ)ᵀ w)."""
        self._f.x.array[:] = self._link(theta)
        A, b = self._A, self._b
        A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(A, self._a, bcs=[self._bc])
        A.assemble()
        with b.localForm() as local:
            local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self._L)
        dolfinx.fem.petsc.apply_lifting(b, [self._a], bcs=[[self._bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [self._bc])
        self._ksp.setOperators(A)
        self._ksp.solve(b, _compat.petsc_vector(self._u))
        y = self._O @ self._u.x.array
        rhs = self._Ot @ w
        rhs[self._boundary] = 0.0
        b.array[:] = rhs
        self._ksp.solve(b, _compat.petsc_vector(self._lam))
        return y, self._link.derivative(theta) * _compat.assemble_vector_array(self._dform)
