r"""The pieces of :class:`~bayesinv.fem.variational.VariationalForwardMap` that are not the
map itself: the identity link for signed coefficients, reading the mesh argument, the state
space, filling a Function from user data, the observation rows of linear functionals, the L²
observation root R (RᵀR = M) and :class:`DofSpace`, the package's view of a dolfinx space.
Also used by :mod:`bayesinv.fem.distributed`, :mod:`bayesinv.fem.variational_time` and
:mod:`bayesinv.fem.general_domain`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeAlias, cast

import numpy as np
import scipy.sparse as sp
import ufl
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from ..links import Link
from . import _compat
from .pointeval import evaluation_matrix

if TYPE_CHECKING:
    from dolfinx.fem import Function, FunctionSpace

    from .domain import Domain, FieldLike
    from .observation import FieldObservation, PointObservation

#: a linear functional ℓ(u) of the state, returning a UFL 0-form (e.g. ``u * ufl.dx``)
Functional: TypeAlias = Callable[["Function"], ufl.Form]
#: what the ``observation`` argument of the variational maps accepts
VariationalObservation: TypeAlias = (
    "ArrayLike | Literal['field'] | PointObservation | FieldObservation | Functional"
    " | Sequence[Functional]")


class _Plain(Link):
    """Φ(θ) = θ without a positivity check (sources, signed coefficients)."""

    name = "none"

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        return np.array(theta, dtype=float, copy=True)

    def derivative(self, theta: np.ndarray) -> np.ndarray:
        return np.ones_like(np.asarray(theta, dtype=float))

    def second_derivative(self, theta: np.ndarray) -> np.ndarray:
        return np.zeros_like(np.asarray(theta, dtype=float))


def _mesh_parts(mesh, facet_tags):
    """(dolfinx mesh, facet tags, Domain or None) from a Domain, a MeshData or a dolfinx mesh."""
    from .domain import Domain

    if isinstance(mesh, Domain):
        return mesh.mesh, facet_tags, mesh
    if hasattr(mesh, "mesh") and hasattr(mesh, "facet_tags"):  # MeshData, MeshDomain
        tags = mesh.facet_tags if facet_tags is None else facet_tags
        return mesh.mesh, tags, None
    if hasattr(mesh, "geometry") and hasattr(mesh, "topology"):
        return mesh, facet_tags, None
    raise InvalidArgumentError(
        f"mesh must be a bayesinv.fem.Domain, the result of bayesinv.fem.read_mesh or a dolfinx "
        f"Mesh, got {type(mesh).__name__}")


def _check_serial(mesh):
    from ._dolfinx import check_serial_mesh

    check_serial_mesh(mesh, "VariationalForwardMap")


def _state_space(mesh, state):
    if isinstance(state, int) and not isinstance(state, bool):
        if state not in (1, 2):
            raise InvalidArgumentError(f"state (a Lagrange degree) must be 1 or 2, got {state}")
        return _compat.function_space(mesh, "Lagrange", state)
    if hasattr(state, "dofmap") and hasattr(state, "mesh"):
        if state.mesh is not mesh:
            raise InvalidArgumentError("the state space must be a space on the given mesh")
        if state.dofmap.index_map_bs != 1:
            raise InvalidArgumentError("the state space must be scalar-valued")
        return state
    raise InvalidArgumentError(
        f"state must be a Lagrange degree (1 or 2) or a dolfinx FunctionSpace, got {state!r}")


def _fill(function, value, what: str):
    """Set a dolfinx Function's dofs from a constant, callable, Function or dof array."""
    arr = function.x.array
    if hasattr(value, "x") and hasattr(value, "function_space"):
        if value.function_space is not function.function_space:
            function.interpolate(value)
        else:
            arr[:] = value.x.array
    elif callable(value):
        function.interpolate(value)
    elif np.ndim(value) == 0:
        arr[:] = float(value)
    else:
        values = np.asarray(value, dtype=float)
        if values.shape != arr.shape:
            raise InvalidArgumentError(
                f"{what} must be a constant, a callable g(x), a Function or {arr.shape[0]} dof "
                f"values, got an array of shape {values.shape}")
        arr[:] = values
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{what} has non-finite values")


def functional_rows(items: Sequence[Functional], V: FunctionSpace) -> sp.csr_matrix:
    """Rows of the observation matrix for linear functionals ℓ_i(u) (UFL 0-forms): the
    assembled derivative ∂ℓ_i/∂u, checked to be linear in u."""
    import dolfinx.fem

    v = ufl.TestFunction(V)
    probe = dolfinx.fem.Function(V)
    rows = []
    for i, ell in enumerate(items):
        form = ell(probe)
        if not isinstance(form, ufl.Form) or form.arguments():
            raise InvalidArgumentError(
                f"observation functional {i} must return a UFL 0-form (e.g. u * ufl.dx), "
                f"got {form!r}")
        row = ufl.algorithms.expand_derivatives(ufl.derivative(form, probe, v))
        if probe in row.coefficients():
            raise InvalidArgumentError(
                f"observation functional {i} is not linear in u")
        rows.append(_compat.assemble_vector_array(_compat.form(row)))
    return sp.csr_matrix(np.vstack(rows))


def observation_matrix(observation: VariationalObservation, V: FunctionSpace,
                       domain: Domain | None
                       ) -> tuple[sp.csr_matrix, str, np.ndarray | None]:
    """(O, kind, design) for the ``observation`` argument of the variational maps: the L² root R
    (RᵀR = M) for "field", the rows of linear functionals of u, or point evaluation (the
    points are the design); ``domain`` is the map's Domain or None."""
    from .observation import FieldObservation, PointObservation, l2_observation_matrix

    if isinstance(observation, str):
        if observation != "field":
            raise InvalidArgumentError(
                f"observation must be points (n, dim), 'field', an observation object or "
                f"linear functionals of u (callables), got {observation!r}")
        observation = FieldObservation()
    if isinstance(observation, FieldObservation):
        degree = _compat.basix_element(V).degree
        if domain is not None and V is domain.space(degree).function_space:
            return l2_observation_matrix(domain.space(degree)), "field", None
        return _l2_root(V), "field", None
    if callable(observation) or (isinstance(observation, (list, tuple)) and observation
                                 and all(callable(o) for o in observation)):
        items = [observation] if callable(observation) else list(observation)
        return functional_rows(items, V), "functionals", None
    # what is left are points (sequences of functionals were handled above, which the type
    # checker cannot tell from the all(callable(...)) test)
    points = (observation.points if isinstance(observation, PointObservation)
              else cast("ArrayLike", observation))
    O = evaluation_matrix(V, points, "observation points")
    return O, "points", np.asarray(points, dtype=float).reshape(O.shape[0], -1)


def _assemble(V, integrand) -> sp.csr_matrix:
    """A_ij = ∫ integrand(φ_j, φ_i) dx on V (UFL-assembled, any cell type)."""
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    return _compat.assemble_matrix_csr(_compat.form(integrand(u, v) * ufl.dx))


class DofSpace:
    """The dofs of a dolfinx space as the package's spaces show them: ``function_space``,
    ``num_dofs``, ``coordinates`` (num_dofs, gdim), ``degree``, ``boundary_dofs``,
    ``interior_dofs`` and UFL-assembled ``mass_matrix``/``stiffness_matrix`` (what the SPDE
    and kernel priors need), on any cell type."""

    def __init__(self, V: FunctionSpace) -> None:
        self.function_space = V
        gdim = V.mesh.geometry.dim
        self.coordinates = V.tabulate_dof_coordinates()[:, :gdim].copy()
        self.num_dofs = self.coordinates.shape[0]
        self.degree = int(_compat.basix_element(V).degree)
        self.cell_dofs = np.asarray(_compat.cell_dofs(V), dtype=np.int64)

    def interpolate(self, fn: FieldLike) -> np.ndarray:
        """Dof values of ``fn``: a constant, a callable fn(x) (x of shape (gdim, n), evaluated
        at the dof coordinates: the nodal interpolant for Lagrange spaces, cell midpoints for
        DG0) or an array of values."""
        from .domain import dof_values

        return dof_values(fn, self.coordinates)

    def _matrix(self, integrand):
        return _assemble(self.function_space, integrand)

    @cached_property
    def mass_matrix(self) -> sp.csr_matrix:
        """M_ij = ∫ φ_i φ_j."""
        return self._matrix(lambda u, v: u * v)

    @cached_property
    def stiffness_matrix(self) -> sp.csr_matrix:
        """K_ij = ∫ ∇φ_i·∇φ_j."""
        return self._matrix(lambda u, v: ufl.inner(ufl.grad(u), ufl.grad(v)))

    @cached_property
    def boundary_dofs(self) -> np.ndarray:
        return np.asarray(_compat.locate_boundary_dofs(self.function_space, None, None),
                          dtype=np.int64)

    @cached_property
    def interior_dofs(self) -> np.ndarray:
        mask = np.ones(self.num_dofs, dtype=bool)
        mask[self.boundary_dofs] = False
        return np.flatnonzero(mask)


def _l2_root(V):
    """R with RᵀR = M (M the mass matrix of V, UFL-assembled), from a sparse Cholesky factor."""
    from ..linalg import SparseCholesky
    M = _assemble(V, lambda u, v: u * v)
    chol = SparseCholesky(M, name="mass matrix")
    inverse = np.empty_like(chol.perm)
    inverse[chol.perm] = np.arange(chol.perm.size)
    R = chol.L.tocsr()[inverse]         # R Rᵀ = M (R = Pᵀ L)
    return R.T.tocsr()
