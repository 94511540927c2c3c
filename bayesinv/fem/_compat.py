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

The helpers live in four modules by job — the checked imports and version
(:mod:`._compat_import`), spaces/dofmaps/points (:mod:`._compat_mesh`), forms/assembly/boundaries
(:mod:`._compat_forms`) and mesh I/O (:mod:`._compat_io`) — and the rest of the package reaches
them all through this module.
"""

from __future__ import annotations

from ._compat_forms import (
    assemble_matrix_csr,
    assemble_petsc_matrix,
    assemble_petsc_vector,
    assemble_vector_array,
    create_petsc_matrix,
    create_petsc_vector,
    dirichlet_bc,
    exterior_facets,
    form,
    linear_problem,
    locate_boundary_dofs,
    petsc_vector,
    set_bc_values,
)
from ._compat_import import (
    COMM,
    DOLFINX_VERSION,
    INSTALL_HINT,
    MPI,
    SUPPORTED,
    PETSc,
    _parse_version,  # noqa: F401  (tests check the parser)
    basix,
    check_supported,
    dolfinx,
    quiet_jit,
    ufl,
    unsupported_version_message,
)
from ._compat_io import (
    model_to_mesh,
    read_gmsh,
    read_xdmf,
    vtx_writer,
    write_meshtags,
    xdmf_file,
)
from ._compat_mesh import (
    all_cell_dofs,
    all_geometry_dofs,
    basix_element,
    bounding_box_tree,
    cell_dofs,
    colliding_cells,
    coordinate_element_degree,
    create_mesh,
    element_family,
    function_space,
    geometry_dofs,
    input_global_indices,
    interpolation_points,
    mesh_cell_type_name,
    quadrature,
    tabulate,
)

__all__ = [
    "COMM",
    "DOLFINX_VERSION",
    "INSTALL_HINT",
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
