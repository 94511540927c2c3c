"""The dolfinx version layer: every name that differs between dolfinx 0.5 and 0.10 lives here.

Supported: dolfinx 0.5 (Debian 12's ``python3-dolfinx`` 0.5.2) through 0.10 (conda-forge,
Docker; Debian 13's ``python3-dolfinx`` is 0.9). Each helper picks its dolfinx call by feature
detection (``hasattr`` / a try-import / a keyword of the signature), not by the version
number, so a release in between (0.6, 0.7, 0.8) takes whichever of the two spellings it has.
The renames covered:

==========================================  =============================================
dolfinx 0.5 / 0.6                            dolfinx 0.7+ (0.8+, 0.10+ where marked)
==========================================  =============================================
``fem.FunctionSpace(mesh, ("P", k))``        ``fem.functionspace(mesh, ("P", k, shape))``
``fem.VectorFunctionSpace(mesh, e, dim)``    the same, with ``shape=(dim,)``
``geometry.BoundingBoxTree(mesh, d)``        ``geometry.bb_tree(mesh, d)``
``geometry.compute_collisions``              ``geometry.compute_collisions_points``
``dofmap.list.array`` (flat)                 ``dofmap.list`` (2-d array)
``geometry.dofmap.array`` (flat)             ``geometry.dofmap`` (2-d array)
``geometry.cmap.degree``                     ``geometry.cmaps[0].degree`` (0.7 only)
``Function.vector``                          ``Function.x.petsc_vec`` (0.8+)
``element.interpolation_points()``           ``element.interpolation_points`` (0.10+)
``io.gmshio.model_to_mesh`` → 3-tuple        ``io.gmsh.model_to_mesh`` → ``MeshData`` (0.10+)
``fem.petsc.create_vector(L)``               ``fem.petsc.create_vector(V)`` (0.10+)
``fem.petsc.LinearProblem(a, L, bcs, …)``    needs ``petsc_options_prefix=`` (0.10+)
==========================================  =============================================

Importing this module imports mpi4py, petsc4py and dolfinx and turns the three usual
installation faults into one sentence each (:class:`~bayesinv.errors.MissingDependencyError`):
dolfinx missing, mpi4py missing, and a numpy whose binary interface differs from the one
petsc4py/dolfinx were built against ("numpy.dtype size changed"). A dolfinx outside
:data:`SUPPORTED` is refused by :func:`check_supported`, called at import.

Most of the package is serial (meshes on ``MPI.COMM_SELF``, one chain or replicate per process;
the CSR/array assembly helpers return the process's own rows); the PETSc matrix/vector helpers
and the all-cell maps also serve distributed meshes (:mod:`bayesinv.fem.distributed`).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import logging
import re
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError

#: Inclusive range of dolfinx (major, minor) versions this package is written and tested for.
SUPPORTED = ((0, 5), (0, 10))

INSTALL_HINT = (
    "FEniCSx (dolfinx) is needed for bayesinv.fem but could not be imported: "
    "on Debian 12 or 13 `sudo apt-get install python3-dolfinx` and use a venv made with "
    "`/usr/bin/python3 -m venv --system-site-packages .venv` (or just run `make setup`); "
    "elsewhere `conda install -c conda-forge fenics-dolfinx` (see README)."
)


def _numpy_abi_sentence(exc: BaseException) -> str:
    import numpy

    want = "numpy>=2" if int(numpy.__version__.split(".")[0]) < 2 else "numpy<2"
    return (
        f"numpy {numpy.__version__} does not match the numpy that petsc4py/dolfinx were built "
        f"against ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
        f"install {want} in this environment (on Debian: rerun `make setup`, which pins numpy "
        "to the one of the release's python3-dolfinx).")


def _is_numpy_abi_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in (
        "numpy.dtype size changed", "binary incompatibility", "compiled using NumPy 1.x",
        "numpy.core.multiarray failed to import", "_ARRAY_API not found",
        "numpy._core.multiarray failed to import"))


def _import_fenicsx():
    """Import mpi4py, petsc4py and dolfinx, translating installation faults into one sentence."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        if _is_numpy_abi_error(exc):
            raise MissingDependencyError(_numpy_abi_sentence(exc)) from exc
        raise MissingDependencyError(
            "mpi4py is missing but dolfinx needs it: install `python3-mpi4py` (Debian, the "
            "one built for its OpenMPI) or `conda install -c conda-forge mpi4py` "
            f"(import error: {exc}).") from exc
    try:
        import dolfinx
        import dolfinx.fem
        import dolfinx.fem.petsc
        import dolfinx.geometry
        import dolfinx.io
        import dolfinx.mesh
        from petsc4py import PETSc
    except (ImportError, ValueError, AttributeError) as exc:
        if _is_numpy_abi_error(exc):
            raise MissingDependencyError(_numpy_abi_sentence(exc)) from exc
        if isinstance(exc, ImportError) and getattr(exc, "name", None) == "mpi4py":
            raise MissingDependencyError(
                "mpi4py is missing but dolfinx needs it: install `python3-mpi4py` (Debian) or "
                f"`conda install -c conda-forge mpi4py` (import error: {exc}).") from exc
        if isinstance(exc, ImportError):
            raise MissingDependencyError(f"{INSTALL_HINT} (import error: {exc})") from exc
        raise
    return MPI, PETSc, dolfinx


def _restore_python_signal_handling() -> None:
    """Undo PETSc's signal handlers, installed when petsc4py initialises PETSc.

    PETSc traps SIGPIPE, SIGTERM, SIGINT, ... and answers with MPI_ABORT (exit 59): a client
    closing a socket early (SIGPIPE, which Python ignores) or a SIGTERM that the samplers turn
    into a checkpoint would kill the process. Python's own dispositions are put back (they are
    what ``signal.getsignal`` still reports); only possible from the main thread.
    """
    import signal
    import threading

    PETSc.Sys.popSignalHandler()
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGPIPE", "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT"):
        sig = getattr(signal, name, None)
        handler = signal.getsignal(sig) if sig is not None else None
        if handler is not None:
            signal.signal(sig, handler)


MPI, PETSc, dolfinx = _import_fenicsx()
_restore_python_signal_handling()
import basix  # noqa: E402  (imported by dolfinx above; after the checked imports on purpose)
import ufl  # noqa: E402

COMM = MPI.COMM_SELF


def _parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(m) for m in re.findall(r"\d+", str(text))[:3]]
    return tuple([*parts, 0, 0, 0][:3])


#: The dolfinx version found, as integers (major, minor, patch).
DOLFINX_VERSION: tuple[int, int, int] = _parse_version(dolfinx.__version__)


def unsupported_version_message(version: tuple[int, ...]) -> str | None:
    """The one-sentence error for a dolfinx ``version`` outside :data:`SUPPORTED`, else None."""
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED
    if (lo_major, lo_minor) <= tuple(version[:2]) <= (hi_major, hi_minor):
        return None
    found = ".".join(str(v) for v in version)
    return (f"bayesinv.fem supports dolfinx {lo_major}.{lo_minor} to {hi_major}.{hi_minor}, "
            f"but dolfinx {found} is installed: install a dolfinx in that range (Debian 12/13's "
            "`python3-dolfinx`, or `conda install -c conda-forge "
            f"'fenics-dolfinx>={lo_major}.{lo_minor},<{hi_major}.{hi_minor + 1}'`).")


def check_supported() -> None:
    """Raise :class:`MissingDependencyError` when the installed dolfinx is outside SUPPORTED."""
    message = unsupported_version_message(DOLFINX_VERSION)
    if message is not None:
        raise MissingDependencyError(message)


check_supported()


# --- quiet JIT ----------------------------------------------------------------------------

def _drop_info(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def quiet_jit():
    """Silence FFCx's INFO logging of C build commands during first-time form compilation.

    (setuptools resets the root logger's level, so the records are filtered instead.)
    """
    root = logging.getLogger()
    targets = [root, *root.handlers]  # records of child loggers reach the handlers directly
    for target in targets:
        target.addFilter(_drop_info)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(_drop_info)


# --- function spaces ------------------------------------------------------------------------

def function_space(mesh, family: str, degree: int, shape: tuple | None = None):
    """A finite-element space on ``mesh``: ``(family, degree)``, vector/tensor valued if ``shape``.

    ``shape=(gdim,)`` gives a vector space, ``shape=(d, d)`` a tensor space; None a scalar one.
    """
    fem = dolfinx.fem
    shape = None if shape is None else tuple(int(s) for s in shape)
    with quiet_jit():
        if hasattr(fem, "functionspace"):  # 0.7+
            element = (family, int(degree)) if shape is None else (family, int(degree), shape)
            return fem.functionspace(mesh, element)
        if shape is None:
            return fem.FunctionSpace(mesh, (family, int(degree)))
        if len(shape) == 1:
            return fem.VectorFunctionSpace(mesh, (family, int(degree)), dim=shape[0])
        return fem.TensorFunctionSpace(mesh, (family, int(degree)), shape=shape)


def element_family(V) -> tuple[str, int]:
    """("Lagrange" or "DG", degree) of a scalar Lagrange-family space ``V`` (from its basix
    element, the same on every version)."""
    element = basix_element(V)
    family = "DG" if getattr(element, "discontinuous", False) else "Lagrange"
    return family, int(element.degree)


def create_mesh(cells: np.ndarray, x: np.ndarray, cell_name: str):
    """A serial affine mesh of ``cell_name`` cells from vertex coordinates ``x`` (n, gdim) and
    cells (num_cells, vertices_per_cell) indexing them (dolfinx may renumber both).

    0.7+ describes the coordinate element with ``basix.ufl``; 0.5/0.6 with a UFL
    ``VectorElement`` on a cell embedded in gdim dimensions.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    gdim = x.shape[1]
    cells = np.ascontiguousarray(cells, dtype=np.int64)
    try:
        import basix.ufl

        element = basix.ufl.element("Lagrange", cell_name, 1, shape=(gdim,))
    except (ImportError, AttributeError):  # 0.5 / 0.6
        element = ufl.VectorElement("Lagrange", ufl.Cell(cell_name, geometric_dimension=gdim),
                                    1, dim=gdim)
    with quiet_jit():
        return dolfinx.mesh.create_mesh(COMM, cells, x, ufl.Mesh(element))


def _local_cells(mesh) -> int:
    return mesh.topology.index_map(mesh.topology.dim).size_local


def _rows(adjacency, ncells: int) -> np.ndarray:
    """A 2-d int32 array from an AdjacencyList with constant row length (0.5/0.6) or a 2-d array."""
    if hasattr(adjacency, "offsets") and hasattr(adjacency, "array"):  # 0.5 / 0.6
        offsets = np.asarray(adjacency.offsets)
        width = int(offsets[1] - offsets[0]) if offsets.size > 1 else 0
        table = np.asarray(adjacency.array).reshape(-1, width) if width else np.zeros((0, 0))
    else:
        table = np.asarray(adjacency)
    return np.ascontiguousarray(table[:ncells], dtype=np.int32)


def all_cell_dofs(V) -> np.ndarray:
    """Cell-to-dof map of ``V`` over owned *and ghost* cells (distributed meshes), int32."""
    imap = V.mesh.topology.index_map(V.mesh.topology.dim)
    return _rows(V.dofmap.list, imap.size_local + imap.num_ghosts)


def all_geometry_dofs(mesh) -> np.ndarray:
    """Cell-to-geometry-node map over owned and ghost cells, int32."""
    imap = mesh.topology.index_map(mesh.topology.dim)
    return _rows(mesh.geometry.dofmap, imap.size_local + imap.num_ghosts)


def input_global_indices(mesh) -> np.ndarray:
    """For each local geometry node, its index in the mesh's input (serial) node list."""
    return np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)


def cell_dofs(V) -> np.ndarray:
    """Cell-to-dof map of ``V``, shape (num_local_cells, dofs_per_cell), int32 (block indices)."""
    return _rows(V.dofmap.list, _local_cells(V.mesh))


def geometry_dofs(mesh) -> np.ndarray:
    """Cell-to-geometry-node map, shape (num_local_cells, nodes_per_cell), int32.

    Row ``c`` indexes ``mesh.geometry.x`` in the reference-cell order of the coordinate element.
    """
    return _rows(mesh.geometry.dofmap, _local_cells(mesh))


def coordinate_element_degree(mesh) -> int:
    """Polynomial degree of the mesh's coordinate element (1 for straight-sided cells)."""
    geometry = mesh.geometry
    cmap = getattr(geometry, "cmap", None)
    if cmap is None:  # 0.7: a list, one per cell type
        cmap = geometry.cmaps[0]
    return int(cmap.degree)


def interpolation_points(V) -> np.ndarray:
    """Reference-cell interpolation points of ``V``'s element, shape (num_points, tdim)."""
    points = V.element.interpolation_points
    if callable(points):  # up to 0.9 a method, a property from 0.10
        points = points()
    return np.asarray(points)


def basix_element(V):
    """The basix element of ``V`` (dof order as in the dofmap)."""
    return V.element.basix_element


def tabulate(element, points: np.ndarray, derivatives: int = 0) -> np.ndarray:
    """Basis values (and derivatives) of a basix element at reference points.

    Returns shape (num_derivatives, num_points, num_dofs) for the first value component,
    where num_derivatives = binom(derivatives + tdim, tdim) in basix order (value, d/dx, ...).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    table = np.asarray(element.tabulate(int(derivatives), points))
    npts, tdim = points.shape
    from math import comb

    nderiv = comb(int(derivatives) + tdim, tdim)
    return table.reshape(nderiv, npts, int(element.dim), -1)[..., 0]


def quadrature(cell_name: str, degree: int):
    """A quadrature rule on the reference cell ``cell_name``: points (nq, tdim), weights (nq,)."""
    cell = getattr(basix.CellType, cell_name)
    points, weights = basix.make_quadrature(cell, int(degree))
    return np.asarray(points), np.asarray(weights)


def mesh_cell_type_name(mesh) -> str:
    """The cell type as a plain string: "interval", "triangle", "quadrilateral", "tetrahedron", …"""
    cell = mesh.topology.cell_type
    name = getattr(cell, "name", None)
    return str(name if name is not None else cell).split(".")[-1]


# --- points ---------------------------------------------------------------------------------

def bounding_box_tree(mesh, dim: int):
    """A bounding-box tree of the entities of dimension ``dim`` of ``mesh``."""
    geometry = dolfinx.geometry
    if hasattr(geometry, "bb_tree"):  # 0.7+
        return geometry.bb_tree(mesh, int(dim))
    return geometry.BoundingBoxTree(mesh, int(dim))


def colliding_cells(mesh, tree, points, owned: int | None = None) -> np.ndarray:
    """One cell containing each point (first found), -1 where no cell does.

    ``points`` has shape (n, 3) (or (n, gdim), padded with zeros); returns int64 of shape (n,).
    With ``owned`` (the number of cells this process owns) only cells with a local index below
    it count: on a distributed mesh the ghost cells are left to the rank that owns them.
    """
    points = np.asarray(points, dtype=np.float64)
    pts = np.zeros((points.shape[0], 3), dtype=mesh.geometry.x.dtype)
    pts[:, : points.shape[1]] = points
    geometry = dolfinx.geometry
    collide = getattr(geometry, "compute_collisions_points", None)
    if collide is None:  # 0.5 / 0.6
        collide = geometry.compute_collisions
    candidates = collide(tree, pts)
    colliding = geometry.compute_colliding_cells(mesh, candidates, pts)
    offsets, array = np.asarray(colliding.offsets), np.asarray(colliding.array)
    cells = np.full(points.shape[0], -1, dtype=np.int64)
    if owned is not None:  # the first colliding cell that this process owns
        pos = np.flatnonzero(array < owned)
        point = np.searchsorted(offsets, pos, side="right") - 1
        hit, first = np.unique(point, return_index=True)
        cells[hit] = array[pos[first]]
        return cells
    has = offsets[1:] > offsets[:-1]
    cells[has] = array[offsets[:-1][has]]
    return cells


# --- functions, forms, assembly ---------------------------------------------------------------

def petsc_vector(function):
    """The PETSc vector that shares ``function``'s dof values (``x.petsc_vec`` | ``vector``)."""
    x = function.x
    if hasattr(type(x), "petsc_vec") or hasattr(x, "petsc_vec"):  # 0.8+
        return x.petsc_vec
    return function.vector


def form(ufl_form):
    """Compile a UFL form with FFCx (``dolfinx.fem.form``), FFCx's build log silenced."""
    with quiet_jit():
        return dolfinx.fem.form(ufl_form)


def _shape_of(compiled_form) -> tuple[int, ...]:
    sizes = []
    for V in compiled_form.function_spaces:
        imap = V.dofmap.index_map
        sizes.append(imap.size_local * V.dofmap.index_map_bs)
    return tuple(sizes)


def assemble_matrix_csr(compiled_form, bcs=()):
    """Assemble a compiled bilinear form into a SciPy CSR matrix (serial, owned rows).

    With Dirichlet conditions ``bcs`` the constrained rows and columns are zero except a unit
    diagonal (dolfinx's convention).
    """
    import scipy.sparse as sp

    mat = dolfinx.fem.petsc.assemble_matrix(compiled_form, bcs=list(bcs))
    mat.assemble()
    try:
        indptr, indices, data = mat.getValuesCSR()
        shape = _shape_of(compiled_form)
        out = sp.csr_matrix((data.copy(), indices.copy(), indptr.copy()), shape=shape)
    finally:
        mat.destroy()
    return out


def assemble_vector_array(compiled_form) -> np.ndarray:
    """Assemble a compiled linear form into a new NumPy array (serial, owned entries)."""
    vec = dolfinx.fem.assemble_vector(compiled_form)
    (n,) = _shape_of(compiled_form)
    return np.array(vec.array[:n], dtype=np.float64)


def create_petsc_matrix(compiled_form):
    """A (distributed) PETSc matrix with the sparsity of the bilinear form ``compiled_form``."""
    return dolfinx.fem.petsc.create_matrix(compiled_form)


def assemble_petsc_matrix(matrix, compiled_form, bcs=()) -> None:
    """Zero ``matrix`` and assemble ``compiled_form`` into it (unit diagonal on ``bcs`` rows)."""
    matrix.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(matrix, compiled_form, bcs=list(bcs))
    matrix.assemble()


def assemble_petsc_vector(vector, compiled_form) -> None:
    """Zero ``vector``, assemble ``compiled_form`` into it and add the ghost contributions to
    their owners (the owned entries are then complete)."""
    with vector.localForm() as local:
        local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(vector, compiled_form)
    vector.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)


def set_bc_values(vector, bcs) -> None:
    """Set the owned Dirichlet entries of a PETSc ``vector`` to the bc values (the scale
    keyword is ``scale`` up to 0.9 and ``alpha`` from 0.10: not passed)."""
    dolfinx.fem.petsc.set_bc(vector, list(bcs))


def create_petsc_vector(compiled_form):
    """A PETSc vector laid out for the linear form ``compiled_form`` (not zeroed)."""
    create = dolfinx.fem.petsc.create_vector
    first = next(iter(inspect.signature(create).parameters))
    if first == "V":  # 0.10+: takes the function space
        return create(compiled_form.function_spaces[0])
    return create(compiled_form)


def linear_problem(a, L, bcs=(), petsc_options=None, prefix: str = "bayesinv_"):
    """``dolfinx.fem.petsc.LinearProblem`` of UFL forms; ``solve()`` returns the solution."""
    cls = dolfinx.fem.petsc.LinearProblem
    kwargs = {"bcs": list(bcs), "petsc_options": dict(petsc_options or {})}
    if "petsc_options_prefix" in inspect.signature(cls.__init__).parameters:  # 0.10+
        kwargs["petsc_options_prefix"] = prefix
    with quiet_jit():
        return cls(a, L, **kwargs)


def dirichlet_bc(value, dofs):
    """A Dirichlet condition holding the dof values of Function ``value`` at ``dofs``."""
    return dolfinx.fem.dirichletbc(value, np.asarray(dofs, dtype=np.int32))


# --- boundaries ---------------------------------------------------------------------------------

def exterior_facets(mesh) -> np.ndarray:
    """Indices of the facets on the boundary of ``mesh`` (int32, sorted)."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    return np.asarray(dolfinx.mesh.exterior_facet_indices(mesh.topology), dtype=np.int32)


def locate_boundary_dofs(V, facet_tags, tag) -> np.ndarray:
    """Dofs of ``V`` on the facets marked ``tag`` in ``facet_tags`` (all boundary facets if
    ``facet_tags`` is None); int32, sorted."""
    mesh = V.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    if facet_tags is None:
        facets = exterior_facets(mesh)
    else:
        indices, values = np.asarray(facet_tags.indices), np.asarray(facet_tags.values)
        facets = np.ascontiguousarray(indices[values == tag], dtype=np.int32)
    dofs = dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets)
    return np.sort(np.asarray(dofs, dtype=np.int32))


# --- mesh I/O -----------------------------------------------------------------------------------

def _gmsh_io():
    """dolfinx's gmsh module: ``dolfinx.io.gmsh`` (0.10+) or ``dolfinx.io.gmshio``."""
    for name in ("dolfinx.io.gmsh", "dolfinx.io.gmshio"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "model_to_mesh"):
                return module
    raise MissingDependencyError(
        "dolfinx's gmsh reader is unavailable: install gmsh (`pip install gmsh`; on Debian also "
        "libglu1-mesa libxcursor1 libxft2 libxinerama1, installed by `make setup`).")


def _unpack_mesh_data(result):
    if hasattr(result, "mesh"):  # 0.10+: MeshData named tuple
        return result.mesh, result.cell_tags, result.facet_tags
    mesh, cell_tags, facet_tags = result[:3]
    return mesh, cell_tags, facet_tags


def model_to_mesh(model, comm, rank: int, gdim: int):
    """Convert a gmsh model to ``(mesh, cell_tags, facet_tags)`` (tags from physical groups)."""
    result = _gmsh_io().model_to_mesh(model, comm, int(rank), gdim=int(gdim))
    return _unpack_mesh_data(result)


_GMSH_MODELS = itertools.count()


def read_gmsh(path, comm, gdim: int):
    """Read a gmsh ``.msh`` file into ``(mesh, cell_tags, facet_tags)``.

    A gmsh session opened by the caller is left open (only the model read here is removed).
    """
    try:
        import gmsh
    except (ImportError, OSError) as exc:
        raise MissingDependencyError(
            "reading .msh files needs gmsh: pip install gmsh (on Debian it also needs "
            "libglu1-mesa libxcursor1 libxft2 libxinerama1, installed by `make setup`) "
            f"(import error: {exc})") from exc
    owned = not gmsh.isInitialized()
    if owned:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(f"bayesinv_read_{next(_GMSH_MODELS)}")
        gmsh.merge(str(Path(path)))
        return model_to_mesh(gmsh.model, comm, 0, gdim)
    finally:
        if gmsh.isInitialized():
            gmsh.model.remove()
            if owned:
                gmsh.finalize()


def xdmf_file(comm, path, mode: str):
    """``dolfinx.io.XDMFFile(comm, path, mode)``, a context manager (mode "r", "w" or "a")."""
    return dolfinx.io.XDMFFile(comm, str(path), mode)


def write_meshtags(xdmf, tags, mesh) -> None:
    """Write mesh tags to an open XDMF file (0.7+ also takes the mesh geometry)."""
    try:
        params = list(inspect.signature(type(xdmf).write_meshtags).parameters)
    except (TypeError, ValueError):  # a C++ method without a Python signature (0.5 / 0.6)
        params = []
    if len(params) > 2 and params[2] == "x":
        xdmf.write_meshtags(tags, mesh.geometry)
    else:
        xdmf.write_meshtags(tags)


def read_xdmf(path, comm, mesh_name: str = "mesh", cell_tags: str | None = None,
              facet_tags: str | None = None):
    """Read a mesh and optionally named cell/facet tags from an XDMF file.

    Returns ``(mesh, cell_tags or None, facet_tags or None)``.
    """
    with xdmf_file(comm, path, "r") as xdmf:
        mesh = xdmf.read_mesh(name=mesh_name)
        ct = ft = None
        tdim = mesh.topology.dim
        if cell_tags is not None:
            ct = xdmf.read_meshtags(mesh, cell_tags)
        if facet_tags is not None:
            mesh.topology.create_connectivity(tdim - 1, tdim)
            ft = xdmf.read_meshtags(mesh, facet_tags)
    return mesh, ct, ft


def vtx_writer(comm, path, functions):
    """``dolfinx.io.VTXWriter`` for ``functions`` (ADIOS2 ``.bp``), or None without ADIOS2."""
    writer = getattr(dolfinx.io, "VTXWriter", None)
    if writer is None:
        return None
    functions = list(functions) if isinstance(functions, list | tuple) else [functions]
    return writer(comm, str(path), functions)


__all__ = [
    "COMM",
    "DOLFINX_VERSION",
    "MPI",
    "SUPPORTED",
    "PETSc",
    "all_cell_dofs",
    "all_geometry_dofs",
    "assemble_matrix_csr",
    "assemble_petsc_matrix",
    "assemble_petsc_vector",
    "assemble_vector_array",
    "basix",
    "basix_element",
    "bounding_box_tree",
    "cell_dofs",
    "check_supported",
    "colliding_cells",
    "coordinate_element_degree",
    "create_mesh",
    "create_petsc_matrix",
    "create_petsc_vector",
    "dirichlet_bc",
    "dolfinx",
    "element_family",
    "exterior_facets",
    "form",
    "function_space",
    "geometry_dofs",
    "input_global_indices",
    "interpolation_points",
    "linear_problem",
    "locate_boundary_dofs",
    "mesh_cell_type_name",
    "model_to_mesh",
    "petsc_vector",
    "quadrature",
    "quiet_jit",
    "read_gmsh",
    "read_xdmf",
    "set_bc_values",
    "tabulate",
    "ufl",
    "unsupported_version_message",
    "vtx_writer",
    "write_meshtags",
    "xdmf_file",
]
