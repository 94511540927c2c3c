r"""Results that know their function space: a record of the mesh and FE space in InferenceData.

When θ lives on a finite-element space (the forward map's ``parameter_space``), the sampler's
:class:`arviz.InferenceData` carries, in its ``constant_data`` group, everything the credible
sets, the plots and the ParaView export need to treat θ as an FE function again — also after a
round trip through a ``.nc`` file, in a process without the original mesh objects:

=====================  ===========================  ============================================
variable               dims                         meaning
=====================  ===========================  ============================================
``node_coordinates``   (node, space)                coordinates of the dofs of θ (dof order)
``fe_cell_dofs``       (fe_cell, fe_cell_dof)       the dofs of each cell (the dof ordering)
``fe_geometry``        (fe_vertex, space)           mesh vertex coordinates
``fe_topology``        (fe_cell, fe_cell_vertex)    the vertices of each cell
``fe_mass_data`` …     (fe_mass_nnz,), (node_ptr,)  the mass matrix M_ij = ∫ φ_i φ_j (CSR)
=====================  ===========================  ============================================

and the group's attributes ``fe_family`` ("Lagrange" or "DG"), ``fe_degree``, ``fe_cell_type``
("triangle", "tetrahedron", …) and ``fe_record_version``.

Why the mass matrix is stored rather than re-assembled: the L² sets
(:func:`~bayesinv.diagnostics.l2_ball`, :func:`~bayesinv.diagnostics.functional_interval`)
and the field plots then need only NumPy/SciPy on reload (no FEniCSx, no form compilation);
M has O(n) entries (≈ 7n for P1 triangles), fewer than the n·draws·chains numbers of the draws
it accompanies. Point evaluation (point-value intervals, lines and slices through the field)
and the XDMF export rebuild the dolfinx mesh and space from the geometry and topology
(:attr:`RecordedSpace.function_space`, dofs matched to the record by their coordinates).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ._nodal import dof_values
from .errors import InvalidArgumentError

RECORD_VERSION = 1
RECORD_DIMS = {
    "fe_cell_dofs": ["fe_cell", "fe_cell_dof"],
    "fe_geometry": ["fe_vertex", "space"],
    "fe_topology": ["fe_cell", "fe_cell_vertex"],
    "fe_mass_data": ["fe_mass_nnz"],
    "fe_mass_indices": ["fe_mass_nnz"],
    "fe_mass_indptr": ["fe_mass_row"],
}


def record_space(space) -> tuple[dict, dict] | None:
    """(constant_data arrays, attributes) recording ``space``, or None if it is not an FE space
    of the package (no dolfinx ``function_space``, e.g. a coefficient basis)."""
    V = getattr(space, "function_space", None)
    if V is None or not hasattr(space, "mass_matrix"):
        return None
    from .fem import _compat

    mesh = V.mesh
    gdim = mesh.geometry.dim
    if _compat.coordinate_element_degree(mesh) != 1:
        return None  # curved cells: the record holds affine cells only
    family, degree = _compat.element_family(V)
    M = sp.csr_matrix(space.mass_matrix)
    arrays = {
        "node_coordinates": np.asarray(space.coordinates, dtype=float),
        "fe_cell_dofs": np.asarray(space.cell_dofs, dtype=np.int64),
        "fe_geometry": np.asarray(mesh.geometry.x[:, :gdim], dtype=float),
        "fe_topology": np.asarray(_compat.geometry_dofs(mesh), dtype=np.int64),
        "fe_mass_data": M.data.astype(float),
        "fe_mass_indices": M.indices.astype(np.int64),
        "fe_mass_indptr": M.indptr.astype(np.int64),
    }
    attrs = {"fe_family": family, "fe_degree": degree,
             "fe_cell_type": _compat.mesh_cell_type_name(mesh),
             "fe_record_version": RECORD_VERSION}
    return arrays, attrs


class RecordedSpace:
    """An FE space rebuilt from the record in an InferenceData's ``constant_data``.

    Offers what the credible sets and plots use of a space — ``coordinates``, ``num_dofs``,
    ``cell_dofs``, ``degree``, ``family``, ``cell_type``, ``dim``, ``mass_matrix``,
    ``interpolate`` — from the stored arrays, and ``function_space``/``evaluation_matrix``
    from a dolfinx mesh rebuilt on first use.
    """

    def __init__(self, constant_data):
        attrs = constant_data.attrs
        version = int(attrs.get("fe_record_version", 0))
        if version != RECORD_VERSION:
            raise InvalidArgumentError(
                f"the FE space record has version {version}, this bayesinv reads version "
                f"{RECORD_VERSION}")
        get = lambda name: np.asarray(constant_data[name].values)  # noqa: E731
        self.coordinates = get("node_coordinates").astype(float)
        self.cell_dofs = get("fe_cell_dofs").astype(np.int64)
        self.geometry = get("fe_geometry").astype(float)
        self.topology = get("fe_topology").astype(np.int64)
        n = self.coordinates.shape[0]
        self.mass_matrix = sp.csr_matrix(
            (get("fe_mass_data"), get("fe_mass_indices"), get("fe_mass_indptr")), shape=(n, n))
        self.family = str(attrs["fe_family"])
        self.degree = int(attrs["fe_degree"])
        self.cell_type = str(attrs["fe_cell_type"])
        self.dim = self.coordinates.shape[1]

    def __repr__(self) -> str:
        return (f"RecordedSpace({self.family} P{self.degree} on {self.topology.shape[0]} "
                f"{self.cell_type} cells, {self.num_dofs} dofs)")

    @property
    def num_dofs(self) -> int:
        return self.coordinates.shape[0]

    def interpolate(self, fn) -> np.ndarray:
        """Dof values of ``fn`` (a constant, a callable fn(x) with x of shape (dim, n), or an
        array), evaluated at the recorded dof coordinates."""
        return dof_values(fn, self.coordinates, f" for this recorded {self.family} space")

    @cached_property
    def _rebuilt(self):
        from .fem import _compat

        mesh = _compat.create_mesh(self.topology, self.geometry, self.cell_type)
        V = _compat.function_space(mesh, self.family, self.degree)
        gdim = mesh.geometry.dim
        rebuilt = V.tabulate_dof_coordinates()[:, :gdim]
        return V, match_points(self.coordinates, rebuilt, "recorded dofs")

    @property
    def function_space(self):
        """The dolfinx space rebuilt from the record (dofs in dolfinx's order; see
        :attr:`dolfinx_dofs`)."""
        return self._rebuilt[0]

    @property
    def dolfinx_dofs(self) -> np.ndarray:
        """Index in :attr:`function_space` of each recorded dof."""
        return self._rebuilt[1]

    def evaluation_matrix(self, points) -> sp.csr_matrix:
        """Sparse E with (E u)_j = u_h(x_j) for dof values u in the record's order."""
        from .fem.pointeval import evaluation_matrix

        E = evaluation_matrix(self.function_space, points)
        return sp.csr_matrix(E[:, self.dolfinx_dofs])


def match_points(reference: np.ndarray, points: np.ndarray, what: str) -> np.ndarray:
    """idx with points[idx[i]] = reference[i] (to round-off), checked to be a bijection."""
    from scipy.spatial import cKDTree

    reference = np.asarray(reference, dtype=float)
    points = np.asarray(points, dtype=float)
    scale = 1.0 + np.abs(reference).max(initial=0.0)
    dist, idx = cKDTree(points).query(reference)
    if (reference.shape[0] != points.shape[0] or dist.max(initial=0.0) > 1e-9 * scale
            or np.unique(idx).size != idx.size):
        raise InvalidArgumentError(
            f"the {what} ({reference.shape[0]} points) do not match the points of the mesh "
            f"rebuilt or read ({points.shape[0]} points, largest distance "
            f"{dist.max(initial=0.0):.3g}): not the same mesh, or a space whose dofs share "
            f"coordinates (only scalar Lagrange and DG0 spaces are recorded)")
    return idx


def recorded_space(idata) -> RecordedSpace | None:
    """The FE space recorded in ``idata`` (InferenceData), or None when there is no record."""
    const = getattr(idata, "constant_data", None) if hasattr(idata, "groups") else None
    if const is None or "fe_record_version" not in const.attrs:
        return None
    return RecordedSpace(const)


def resolve_space(draws, space, num_nodes: int | None = None):
    """``space`` if given, else the space recorded in ``draws`` (an InferenceData) when it
    matches θ's length ``num_nodes``, else None."""
    if space is not None:
        return space
    found = recorded_space(draws)
    if found is None or (num_nodes is not None and found.num_dofs != num_nodes):
        return None
    return found
