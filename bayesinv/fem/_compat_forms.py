"""Forms, PETSc and CSR assembly, Dirichlet conditions and boundaries across dolfinx 0.5–0.10
(part of :mod:`bayesinv.fem._compat`; see its table of renames)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._compat_import import PETSc, dolfinx, quiet_jit

if TYPE_CHECKING:
    import scipy.sparse as sp
    from dolfinx.fem import DirichletBC, Form, Function, FunctionSpace
    from dolfinx.fem.petsc import LinearProblem
    from dolfinx.mesh import Mesh, MeshTags
    from petsc4py.PETSc import Mat, Vec
    from ufl import Form as UFLForm

# --- functions, forms, assembly ---------------------------------------------------------------

def petsc_vector(function: Function) -> Vec:
    """The PETSc vector that shares ``function``'s dof values (``x.petsc_vec`` | ``vector``)."""
    x = function.x
    if hasattr(type(x), "petsc_vec") or hasattr(x, "petsc_vec"):  # 0.8+
        return x.petsc_vec
    return function.vector


def form(ufl_form: UFLForm) -> Form:
    """Compile a UFL form with FFCx (``dolfinx.fem.form``), FFCx's build log silenced."""
    with quiet_jit():
        return dolfinx.fem.form(ufl_form)


def _shape_of(compiled_form: Form) -> tuple[int, ...]:
    sizes = []
    for V in compiled_form.function_spaces:
        imap = V.dofmap.index_map
        sizes.append(imap.size_local * V.dofmap.index_map_bs)
    return tuple(sizes)


def assemble_matrix_csr(compiled_form: Form, bcs: Sequence[DirichletBC] = ()) -> sp.csr_matrix:
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


def assemble_vector_array(compiled_form: Form) -> np.ndarray:
    """Assemble a compiled linear form into a new NumPy array (serial, owned entries)."""
    vec = dolfinx.fem.assemble_vector(compiled_form)
    (n,) = _shape_of(compiled_form)
    return np.array(vec.array[:n], dtype=np.float64)


def create_petsc_matrix(compiled_form: Form) -> Mat:
    """A (distributed) PETSc matrix with the sparsity of the bilinear form ``compiled_form``."""
    return dolfinx.fem.petsc.create_matrix(compiled_form)


def assemble_petsc_matrix(matrix: Mat, compiled_form: Form,
                          bcs: Sequence[DirichletBC] = ()) -> None:
    """Zero ``matrix`` and assemble ``compiled_form`` into it (unit diagonal on ``bcs`` rows)."""
    matrix.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(matrix, compiled_form, bcs=list(bcs))
    matrix.assemble()


def assemble_petsc_vector(vector: Vec, compiled_form: Form) -> None:
    """Zero ``vector``, assemble ``compiled_form`` into it and add the ghost contributions to
    their owners (the owned entries are then complete)."""
    with vector.localForm() as local:
        local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(vector, compiled_form)
    vector.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)


def set_bc_values(vector: Vec, bcs: Sequence[DirichletBC]) -> None:
    """Set the owned Dirichlet entries of a PETSc ``vector`` to the bc values (the scale
    keyword is ``scale`` up to 0.9 and ``alpha`` from 0.10: not passed)."""
    dolfinx.fem.petsc.set_bc(vector, list(bcs))


def create_petsc_vector(compiled_form: Form) -> Vec:
    """A PETSc vector laid out for the linear form ``compiled_form`` (not zeroed)."""
    create = dolfinx.fem.petsc.create_vector
    first = next(iter(inspect.signature(create).parameters))
    if first == "V":  # 0.10+: takes the function space
        return create(compiled_form.function_spaces[0])
    return create(compiled_form)


def linear_problem(a: UFLForm, L: UFLForm, bcs: Sequence[DirichletBC] = (),
                   petsc_options: Mapping[str, Any] | None = None,
                   prefix: str = "bayesinv_") -> LinearProblem:
    """``dolfinx.fem.petsc.LinearProblem`` of UFL forms; ``solve()`` returns the solution."""
    cls = dolfinx.fem.petsc.LinearProblem
    kwargs: dict[str, Any] = {"bcs": list(bcs), "petsc_options": dict(petsc_options or {})}
    if "petsc_options_prefix" in inspect.signature(cls.__init__).parameters:  # 0.10+
        kwargs["petsc_options_prefix"] = prefix
    with quiet_jit():
        return cls(a, L, **kwargs)


def dirichlet_bc(value: Function, dofs: ArrayLike) -> DirichletBC:
    """A Dirichlet condition holding the dof values of Function ``value`` at ``dofs``."""
    return dolfinx.fem.dirichletbc(value, np.asarray(dofs, dtype=np.int32))


# --- boundaries ---------------------------------------------------------------------------------

def exterior_facets(mesh: Mesh) -> np.ndarray:
    """Indices of the facets on the boundary of ``mesh`` (int32, sorted)."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    return np.asarray(dolfinx.mesh.exterior_facet_indices(mesh.topology), dtype=np.int32)


def locate_boundary_dofs(V: FunctionSpace, facet_tags: MeshTags | None, tag: int | None
                         ) -> np.ndarray:
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
