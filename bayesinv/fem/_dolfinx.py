"""Every call into FEniCSx (dolfinx, basix, ufl, petsc4py, mpi4py) lives in this module.

Supported: dolfinx 0.5 (Debian 12's ``python3-dolfinx`` 0.5.2, basix 0.5, ufl 2022.2).
Everything else in :mod:`bayesinv.fem` works on the NumPy/SciPy arrays returned here, so
moving to a newer dolfinx is a change to this file only. Known renames in dolfinx >= 0.7:
``FunctionSpace(mesh, ("Lagrange", k))`` -> ``functionspace(mesh, ("Lagrange", k))``,
``BoundingBoxTree(mesh, d)`` -> ``bb_tree(mesh, d)``, ``dofmap.list.array`` -> ``dofmap.list``
(a 2-d array), ``geometry.dofmap.array`` -> ``geometry.dofmap``, ``cmap.degree`` ->
``cmaps[0].degree``.

PETSc (``petsc4py``, which dolfinx needs anyway) is re-exported as ``_dolfinx.PETSc`` for the
PETSc linear solvers of :mod:`bayesinv.fem.solvers`; gmsh (optional, from PyPI) is imported
here lazily, only when a disk or ellipse is meshed.

Meshes are created on ``MPI.COMM_SELF``: one MCMC chain or replicate per process, each with
its own serial mesh. Parallelism in bayesinv is across chains and replicates.
"""

from __future__ import annotations

import contextlib
import itertools
import logging

import numpy as np

from ..errors import InvalidArgumentError, MissingDependencyError

INSTALL_HINT = (
    "FEniCSx (dolfinx) is needed for bayesinv.fem but could not be imported. "
    "On Debian/Ubuntu: `sudo apt-get install python3-dolfinx` and use a venv made with "
    "`/usr/bin/python3 -m venv --system-site-packages .venv` (or just run `make setup`). "
    "Elsewhere: `conda install -c conda-forge fenics-dolfinx` (see README)."
)

try:  # pragma: no cover - exercised by the environment, not by a test
    import basix
    import dolfinx
    import dolfinx.fem
    import dolfinx.fem.petsc
    import dolfinx.geometry
    import dolfinx.mesh
    import ufl
    from mpi4py import MPI
    from petsc4py import PETSc
except ImportError as exc:  # pragma: no cover
    raise MissingDependencyError(f"{INSTALL_HINT} (import error: {exc})") from exc

DOLFINX_VERSION = dolfinx.__version__
COMM = MPI.COMM_SELF


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
    mesh is reproducible) and converted with ``dolfinx.io.gmshio.model_to_mesh``. A gmsh
    session opened by the caller is left open (only our model is removed).
    """
    gmsh = _import_gmsh()
    from dolfinx.io import gmshio

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
        mesh, _, _ = gmshio.model_to_mesh(gmsh.model, COMM, 0, gdim=2)
    finally:
        if gmsh.isInitialized():
            gmsh.model.remove()
            if owned:
                gmsh.finalize()
    return mesh


def check_affine_simplex_mesh(mesh) -> None:
    """Require a mesh of straight-sided simplices (the element tensors assume affine cells)."""
    if not hasattr(mesh, "geometry") or not hasattr(mesh, "topology"):
        raise InvalidArgumentError(f"mesh must be a dolfinx Mesh, got {type(mesh).__name__}")
    degree = mesh.geometry.cmap.degree
    cell = mesh.topology.cell_type
    if degree != 1 or cell not in (dolfinx.mesh.CellType.interval, dolfinx.mesh.CellType.triangle,
                                   dolfinx.mesh.CellType.tetrahedron):
        raise InvalidArgumentError(
            f"mesh must consist of affine simplices (degree-1 geometry); got cell type {cell} "
            f"with geometry degree {degree}")


def cell_vertex_coordinates(mesh) -> np.ndarray:
    """Vertex coordinates of every cell, shape (num_cells, tdim + 1, gdim), reference order."""
    tdim, gdim = mesh.topology.dim, mesh.geometry.dim
    ncells = mesh.topology.index_map(tdim).size_local
    nodes = mesh.geometry.dofmap.array.reshape(-1, tdim + 1)[:ncells]
    return np.ascontiguousarray(mesh.geometry.x[nodes][:, :, :gdim])


# --- function spaces ------------------------------------------------------------------------

def lagrange_space(mesh, degree: int):
    """A continuous Lagrange space of the given degree."""
    with _quiet_jit():
        return dolfinx.fem.FunctionSpace(mesh, ("Lagrange", degree))


def space_arrays(V):
    """Cell-to-dof map (num_cells, dofs_per_cell), dof coordinates and boundary dofs of ``V``."""
    mesh = V.mesh
    tdim, gdim = mesh.topology.dim, mesh.geometry.dim
    ncells = mesh.topology.index_map(tdim).size_local
    per_cell = V.dofmap.dof_layout.num_dofs
    cell_dofs = V.dofmap.list.array.reshape(-1, per_cell)[:ncells].astype(np.int64)
    coords = V.tabulate_dof_coordinates()[:, :gdim].copy()
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    boundary = np.sort(dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets)).astype(np.int64)
    if V.element.needs_dof_transformations:
        raise InvalidArgumentError("Lagrange degree > 2 needs dof transformations; use 1 or 2")
    return cell_dofs, coords, boundary


def reference_element(V):
    """The basix element of ``V`` (same dof order as the dofmap)."""
    return V.element.basix_element


def tabulate(element, points: np.ndarray, derivatives: int = 0) -> np.ndarray:
    """Basis values (and gradients) at reference points: shape (1 + tdim*deriv, npts, ndofs)."""
    table = element.tabulate(derivatives, np.ascontiguousarray(points, dtype=float))
    return np.asarray(table)[..., 0]


def quadrature(mesh, degree: int):
    """Gauss–Jacobi quadrature on the reference cell: points (nq, tdim), weights (nq,)."""
    cell = {1: basix.CellType.interval, 2: basix.CellType.triangle,
            3: basix.CellType.tetrahedron}[mesh.topology.dim]
    points, weights = basix.make_quadrature(cell, degree)
    return np.asarray(points), np.asarray(weights)


# --- points ---------------------------------------------------------------------------------

def locate_cells(mesh, points: np.ndarray) -> np.ndarray:
    """Index of a cell containing each point, or -1 for points outside the mesh."""
    pts = np.zeros((points.shape[0], 3))
    pts[:, : points.shape[1]] = points
    tdim = mesh.topology.dim
    tree = dolfinx.geometry.BoundingBoxTree(mesh, tdim)
    candidates = dolfinx.geometry.compute_collisions(tree, pts)
    colliding = dolfinx.geometry.compute_colliding_cells(mesh, candidates, pts)
    cells = np.full(points.shape[0], -1, dtype=np.int64)
    offsets, array = colliding.offsets, colliding.array
    has = offsets[1:] > offsets[:-1]
    cells[has] = array[offsets[:-1][has]]
    return cells


# --- UFL assembly (reference implementation for tests and the naive benchmark) -------------

def _drop_info(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def _quiet_jit():
    """FFCx's first-time C compilation logs build commands at INFO level on the root logger
    (setuptools resets the level, so filter the records instead)."""
    root = logging.getLogger()
    targets = [root, *root.handlers]  # records of child loggers reach the handlers directly
    for target in targets:
        target.addFilter(_drop_info)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(_drop_info)


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
    import scipy.sparse as sp

    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    q = 1.0 if coefficient is None else coefficient
    integrand = {"mass": q * u * v * ufl.dx,
                 "stiffness": q * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
                 "boundary_mass": q * u * v * ufl.ds}[kind]
    with _quiet_jit():
        form = dolfinx.fem.form(integrand)
    mat = dolfinx.fem.petsc.assemble_matrix(form)
    mat.assemble()
    indptr, indices, data = mat.getValuesCSR()
    n = V.dofmap.index_map.size_local
    out = sp.csr_matrix((data.copy(), indices.copy(), indptr.copy()), shape=(n, n))
    mat.destroy()
    return out


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
    bc = dolfinx.fem.dirichletbc(g, space.boundary_dofs.astype(np.int32))
    with _quiet_jit():
        problem = dolfinx.fem.petsc.LinearProblem(
            a, rhs, bcs=[bc], petsc_options={"ksp_type": "preonly", "pc_type": "lu"})
        uh = problem.solve()
    return uh.x.array.copy()


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
    with _quiet_jit():
        a = dolfinx.fem.form((u * v / dt + th * f * grad_dot) * ufl.dx)
        rhs = dolfinx.fem.form(
            (u_prev * v / dt - (1 - th) * f * ufl.inner(ufl.grad(u_prev), ufl.grad(v))
             + (th * s_new + (1 - th) * s_old) * v) * ufl.dx)
    bc = dolfinx.fem.dirichletbc(g, space.boundary_dofs.astype(np.int32))
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
        ksp.solve(b, uh.vector)
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
        with _quiet_jit():
            self._a = dolfinx.fem.form(integrand * ufl.dx)
            self._L = dolfinx.fem.form(source_scale * s * v * ufl.dx)
            self._dform = dolfinx.fem.form(-psi * t(self._u, self._lam) * ufl.dx)
        self._bc = dolfinx.fem.dirichletbc(g, space.boundary_dofs.astype(np.int32))
        self._A = dolfinx.fem.petsc.create_matrix(self._a)
        self._b = dolfinx.fem.petsc.create_vector(self._L)
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
        self._ksp.solve(b, self._u.vector)
        y = self._O @ self._u.x.array
        rhs = self._Ot @ w
        rhs[self._boundary] = 0.0
        b.array[:] = rhs
        self._ksp.solve(b, self._lam.vector)
        grad = dolfinx.fem.petsc.assemble_vector(self._dform)
        out = self._link.derivative(theta) * grad.array
        grad.destroy()
        return y, out
