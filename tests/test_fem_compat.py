"""The dolfinx version layer (bayesinv.fem._compat): each helper against an exact answer.

These run on whichever dolfinx is installed (0.5.2 on Debian 12, 0.9 on Debian 13), so the
same assertions check both spellings of every renamed dolfinx call.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.fem

pytest.importorskip("dolfinx")
import ufl  # noqa: E402

from bayesinv.errors import MissingDependencyError  # noqa: E402
from bayesinv.fem import _compat as c  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def square(n=4):
    return c.dolfinx.mesh.create_unit_square(c.COMM, n, n)


def run_python(code: str, extra_path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    path = [str(ROOT), env.get("PYTHONPATH", "")]
    if extra_path:
        path.insert(0, extra_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)


# --- versions and installation faults ----------------------------------------------------------

def test_version_is_parsed_and_supported():
    assert len(c.DOLFINX_VERSION) == 3 and all(isinstance(v, int) for v in c.DOLFINX_VERSION)
    assert c.DOLFINX_VERSION[:2] == tuple(int(v) for v in c.dolfinx.__version__.split(".")[:2])
    c.check_supported()  # the installed one is inside the range
    assert c._parse_version("0.10.0.post2") == (0, 10, 0)
    assert c._parse_version("0.9.0") == (0, 9, 0)


@pytest.mark.parametrize("version", [(0, 5, 0), (0, 5, 2), (0, 7, 3), (0, 9, 0), (0, 10, 0)])
def test_supported_versions_pass(version):
    assert c.unsupported_version_message(version) is None


@pytest.mark.parametrize("version", [(0, 4, 1), (0, 11, 0), (1, 0, 0)])
def test_unsupported_versions_get_one_sentence_naming_the_range(version):
    message = c.unsupported_version_message(version)
    assert "\n" not in message and message.endswith(".")
    assert "dolfinx 0.5 to 0.10" in message
    assert ".".join(map(str, version)) in message


@pytest.mark.slow
def test_unsupported_dolfinx_is_refused_at_import():
    proc = run_python(
        "import dolfinx; dolfinx.__version__ = '0.4.1'\n"
        "try:\n    import bayesinv.fem\nexcept ImportError as e:\n"
        "    print(type(e).__name__ + ': ' + str(e))\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MissingDependencyError: bayesinv.fem supports dolfinx 0.5 to")
    assert "0.4.1 is installed" in proc.stdout


@pytest.mark.slow
def test_missing_mpi4py_says_what_to_install():
    proc = run_python(
        "import sys; sys.modules['mpi4py'] = None\n"
        "try:\n    import bayesinv.fem\nexcept ImportError as e:\n"
        "    print(type(e).__name__ + ': ' + str(e))\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MissingDependencyError: mpi4py is missing")
    assert "python3-mpi4py" in proc.stdout
    assert proc.stdout.count("\n") == 1


@pytest.mark.slow
def test_numpy_abi_mismatch_says_which_numpy_to_install(tmp_path):
    # A petsc4py that fails as one built for another numpy does.
    fake = tmp_path / "petsc4py"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject')\n")
    proc = run_python(
        "import sys\n"
        "try:\n    import bayesinv.fem\nexcept ImportError as e:\n"
        "    print(type(e).__name__ + ': ' + str(e))\n", extra_path=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"MissingDependencyError: numpy {np.__version__} does not match")
    assert "numpy.dtype size changed" in out
    want = "numpy>=2" if np.__version__.startswith("1.") else "numpy<2"
    assert f"install {want}" in out
    assert out.count("\n") == 1


def test_no_module_outside_compat_spells_a_renamed_dolfinx_name():
    """The rest of the package goes through _compat for every name that differs 0.5 → 0.10."""
    renamed = [r"\bFunctionSpace\(", r"\bVectorFunctionSpace\b", r"\bfunctionspace\(",
               r"\bBoundingBoxTree\b", r"\bbb_tree\(", r"\bcompute_collisions\w*\(",
               r"\.petsc_vec\b", r"\bgmshio\b", r"\bcmaps?\.", r"dofmap\.list\b",
               r"geometry\.dofmap\b", r"\.interpolation_points\b", r"\bLinearProblem\(",
               r"petsc\.create_vector\(", r"(?<!_compat)\.vector\b(?!_)"]
    offenders = []
    for path in sorted((ROOT / "bayesinv").rglob("*.py")):
        if path.name.startswith("_compat"):  # _compat.py and its parts _compat_*.py
            continue
        text = path.read_text()
        for pattern in renamed:
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not offenders, offenders


# --- spaces, dofmaps, geometry -------------------------------------------------------------

def test_function_spaces_scalar_and_vector():
    mesh = square(4)
    V1 = c.function_space(mesh, "Lagrange", 1)
    V2 = c.function_space(mesh, "Lagrange", 2)
    W = c.function_space(mesh, "Lagrange", 1, shape=(2,))
    assert V1.dofmap.index_map.size_local == 25
    assert V2.dofmap.index_map.size_local == 81
    assert W.dofmap.index_map.size_local == 25 and W.dofmap.index_map_bs == 2
    assert c.cell_dofs(V1).shape == (32, 3) and c.cell_dofs(V1).dtype == np.int32
    assert c.cell_dofs(V2).shape == (32, 6)
    assert c.cell_dofs(W).shape == (32, 3)  # block indices


def test_cell_dofs_and_geometry_dofs_name_the_same_vertices():
    mesh = square(3)
    V = c.function_space(mesh, "Lagrange", 1)
    dofs, nodes = c.cell_dofs(V), c.geometry_dofs(mesh)
    assert nodes.shape == (18, 3) and nodes.dtype == np.int32
    dof_x = V.tabulate_dof_coordinates()
    x = mesh.geometry.x
    # P1 dofs sit at the vertices, and both maps list them in the reference-cell order
    np.testing.assert_allclose(dof_x[dofs], x[nodes], atol=1e-14)
    assert c.coordinate_element_degree(mesh) == 1
    assert c.mesh_cell_type_name(mesh) == "triangle"


def test_cell_type_names():
    quad = c.dolfinx.mesh.create_unit_square(c.COMM, 2, 2, c.dolfinx.mesh.CellType.quadrilateral)
    tet = c.dolfinx.mesh.create_unit_cube(c.COMM, 1, 1, 1)
    line = c.dolfinx.mesh.create_unit_interval(c.COMM, 3)
    assert c.mesh_cell_type_name(quad) == "quadrilateral"
    assert c.mesh_cell_type_name(tet) == "tetrahedron"
    assert c.mesh_cell_type_name(line) == "interval"


def test_interpolation_points_are_the_lagrange_nodes():
    mesh = square(2)
    p1 = c.interpolation_points(c.function_space(mesh, "Lagrange", 1))
    np.testing.assert_allclose(p1, [[0, 0], [1, 0], [0, 1]], atol=1e-15)
    p2 = c.interpolation_points(c.function_space(mesh, "Lagrange", 2))
    assert p2.shape == (6, 2)
    np.testing.assert_allclose(p2[3:], [[0.5, 0.5], [0, 0.5], [0.5, 0]], atol=1e-15)


def test_tabulate_partition_of_unity():
    V = c.function_space(square(2), "Lagrange", 2)
    pts = np.array([[0.1, 0.2], [0.3, 0.3], [0.0, 1.0]])
    table = c.tabulate(c.basix_element(V), pts, 1)
    assert table.shape == (3, 3, 6)
    np.testing.assert_allclose(table[0].sum(axis=1), 1.0, atol=1e-13)
    np.testing.assert_allclose(table[1:].sum(axis=2), 0.0, atol=1e-12)
    points, weights = c.quadrature("triangle", 2)
    assert points.shape[1] == 2 and abs(weights.sum() - 0.5) < 1e-15


# --- points ----------------------------------------------------------------------------------

def test_colliding_cells_contain_their_points(rng):
    mesh = square(5)
    tree = c.bounding_box_tree(mesh, 2)
    pts = rng.uniform(0.0, 1.0, size=(40, 2))
    outside = np.array([[1.5, 0.5], [-0.1, 0.2]])
    cells = c.colliding_cells(mesh, tree, np.vstack([pts, outside]))
    assert cells.dtype == np.int64 and cells.shape == (42,)
    assert np.all(cells[-2:] == -1) and np.all(cells[:-2] >= 0)
    vertices = mesh.geometry.x[c.geometry_dofs(mesh)][:, :, :2]
    for p, cell in zip(pts, cells[:-2], strict=True):
        a, b, d = vertices[cell]
        lam = np.linalg.solve(np.column_stack([b - a, d - a]), p - a)
        assert lam.min() > -1e-12 and lam.sum() < 1 + 1e-12
    # (n, 3) input gives the same cells
    pts3 = np.column_stack([pts, np.zeros(len(pts))])
    np.testing.assert_array_equal(c.colliding_cells(mesh, tree, pts3), cells[:-2])


# --- functions, forms, assembly ------------------------------------------------------------

def test_petsc_vector_shares_the_function_values():
    V = c.function_space(square(2), "Lagrange", 1)
    u = c.dolfinx.fem.Function(V)
    vec = c.petsc_vector(u)
    vec.array[:] = np.arange(vec.getLocalSize(), dtype=float)
    np.testing.assert_array_equal(u.x.array, np.arange(u.x.array.size, dtype=float))


def test_assembled_mass_stiffness_and_load_have_their_exact_sums():
    V = c.function_space(square(4), "Lagrange", 1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    M = c.assemble_matrix_csr(c.form(u * v * ufl.dx))
    K = c.assemble_matrix_csr(c.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    b = c.assemble_vector_array(c.form(v * ufl.dx))
    ones = np.ones(M.shape[0])
    assert M.shape == K.shape == (25, 25)
    assert abs(ones @ M @ ones - 1.0) < 1e-13            # ∫ 1 = |Ω|
    assert np.abs(K @ ones).max() < 1e-12                 # constants are in the kernel
    assert abs(b.sum() - 1.0) < 1e-13 and b.dtype == np.float64
    x = V.tabulate_dof_coordinates()[:, 0]
    assert abs(x @ K @ x - 1.0) < 1e-12                   # ∫ |∇x|² = 1


def test_dirichlet_rows_are_unit_and_linear_problem_solves():
    V = c.function_space(square(4), "Lagrange", 1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    g = c.dolfinx.fem.Function(V)
    x = V.tabulate_dof_coordinates()
    g.x.array[:] = 1.0 + x[:, 0] + 2.0 * x[:, 1]         # harmonic: u = g exactly
    boundary = c.locate_boundary_dofs(V, None, None)
    assert boundary.size == 16                            # 4n vertices on ∂(0,1)²
    bc = c.dirichlet_bc(g, boundary)
    a = ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    A = c.assemble_matrix_csr(c.form(a), bcs=[bc]).toarray()
    np.testing.assert_array_equal(A[boundary][:, boundary], np.eye(boundary.size))
    zero = c.dolfinx.fem.Constant(V.mesh, 0.0)
    problem = c.linear_problem(a, zero * v * ufl.dx, bcs=[bc],
                               petsc_options={"ksp_type": "preonly", "pc_type": "lu"})
    uh = problem.solve()
    np.testing.assert_allclose(uh.x.array, g.x.array, atol=1e-12)
    vec = c.create_petsc_vector(c.form(v * ufl.dx))
    assert vec.getSize() == 25
    vec.destroy()


def test_exterior_facets():
    mesh = square(6)
    facets = c.exterior_facets(mesh)
    assert facets.size == 24 and facets.dtype == np.int32


# --- mesh I/O -------------------------------------------------------------------------------------

def _disk_model(gmsh):
    gmsh.model.add("compat_disk")
    gmsh.option.setNumber("General.Terminal", 0)
    disk = gmsh.model.occ.addDisk(0.0, 0.0, 0.0, 1.0, 1.0)
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [disk], 3)
    boundary = [tag for dim, tag in gmsh.model.getBoundary([(2, disk)], oriented=False)]
    gmsh.model.addPhysicalGroup(1, boundary, 7)
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.model.mesh.generate(2)


def _area(mesh):
    V = c.function_space(mesh, "Lagrange", 1)
    return c.assemble_vector_array(c.form(ufl.TestFunction(V) * ufl.dx)).sum()


def test_gmsh_model_and_file_to_mesh_with_tags(tmp_path):
    gmsh = pytest.importorskip("gmsh")
    gmsh.initialize(interruptible=False)
    try:
        _disk_model(gmsh)
        mesh, cell_tags, facet_tags = c.model_to_mesh(gmsh.model, c.COMM, 0, 2)
        gmsh.write(str(tmp_path / "disk.msh"))
    finally:
        gmsh.finalize()
    assert mesh.geometry.dim == 2
    assert set(np.unique(cell_tags.values)) == {3}
    assert set(np.unique(facet_tags.values)) == {7}
    assert abs(_area(mesh) - np.pi) < 0.1
    mesh2, _, facets2 = c.read_gmsh(tmp_path / "disk.msh", c.COMM, 2)
    assert not gmsh.isInitialized()  # a session we opened is closed again
    assert mesh2.topology.index_map(2).size_local == mesh.topology.index_map(2).size_local
    V = c.function_space(mesh2, "Lagrange", 1)
    tagged = c.locate_boundary_dofs(V, facets2, 7)
    np.testing.assert_array_equal(tagged, c.locate_boundary_dofs(V, None, None))
    assert c.locate_boundary_dofs(V, facets2, 8).size == 0


def test_xdmf_roundtrip_with_facet_tags(tmp_path):
    mesh = square(3)
    facets = c.exterior_facets(mesh)
    tags = c.dolfinx.mesh.meshtags(mesh, 1, facets, np.full(facets.size, 5, dtype=np.int32))
    tags.name = "boundary"
    with c.xdmf_file(c.COMM, tmp_path / "m.xdmf", "w") as xdmf:
        xdmf.write_mesh(mesh)
        c.write_meshtags(xdmf, tags, mesh)
    back, cells, ftags = c.read_xdmf(tmp_path / "m.xdmf", c.COMM, facet_tags="boundary")
    assert cells is None
    assert back.topology.index_map(2).size_local == 18
    assert ftags.indices.size == 12 and set(np.unique(ftags.values)) == {5}
    assert abs(_area(back) - 1.0) < 1e-13


def test_vtx_writer_where_adios2_exists(tmp_path):
    V = c.function_space(square(2), "Lagrange", 1)
    u = c.dolfinx.fem.Function(V)
    writer = c.vtx_writer(c.COMM, tmp_path / "u.bp", [u])
    if not hasattr(c.dolfinx.io, "VTXWriter"):
        assert writer is None
        pytest.skip("this dolfinx is built without ADIOS2 (no VTXWriter); None is returned")
    writer.write(0.0)
    writer.close()
    assert (tmp_path / "u.bp").exists()


def test_missing_names_raise_nothing_at_import():
    # every agreed name exists
    for name in ("DOLFINX_VERSION", "SUPPORTED", "check_supported", "function_space",
                 "bounding_box_tree", "colliding_cells", "petsc_vector", "cell_dofs",
                 "geometry_dofs", "coordinate_element_degree", "interpolation_points",
                 "model_to_mesh", "read_gmsh", "read_xdmf", "xdmf_file", "vtx_writer", "form",
                 "assemble_matrix_csr", "assemble_vector_array", "locate_boundary_dofs",
                 "exterior_facets", "mesh_cell_type_name"):
        assert hasattr(c, name), name
    assert issubclass(MissingDependencyError, ImportError)


@pytest.mark.slow
@pytest.mark.parametrize(("signame", "returncode"), [("SIGPIPE", 0), ("SIGTERM", -15)])
def test_petsc_signal_handlers_do_not_replace_pythons(signame, returncode):
    """After importing the FEM layer a SIGPIPE (a socket closed by its peer) is still ignored
    and a SIGTERM still terminates normally, instead of PETSc's handler calling MPI_ABORT
    (exit 59), which killed the suite on Debian 13 once a Dask test's client hung up."""
    code = ("import os, signal, bayesinv.fem._compat\n"
            f"os.kill(os.getpid(), signal.{signame})\n"
            "import time; time.sleep(0.5)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == returncode, proc.stderr[-2000:]
    assert "PETSC ERROR" not in proc.stderr
