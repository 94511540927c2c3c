r"""Parameter spaces of the variational forward maps: θ ↦ dof values of the field m.

The unknown field m lives in a finite-element space Q of the state mesh — ``"P1"``, ``"P2"``
(continuous Lagrange, θ = nodal values) or ``"DG0"`` (piecewise constants, θ = cell values) —
possibly through a linear basis: a :class:`ParameterBasis` with matrix E of shape
(num_dofs(Q), K) gives z = E θ (series modes, a coarse parameter mesh interpolated onto the
state mesh, ...). The link is applied to these dof values, m = Φ(z), so that

    dm = Φ'(z) ⊙ (E dθ),        ∇_θ = Eᵀ (Φ'(z) ⊙ ∇_m).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError
from . import _compat

if TYPE_CHECKING:
    from dolfinx.fem import FunctionSpace
    from dolfinx.mesh import Mesh

    from ..links import Link

#: short names of parameter spaces and their (family, degree)
SPACES = {"P1": ("Lagrange", 1), "P2": ("Lagrange", 2), "DG0": ("DG", 0), "Q1": ("Lagrange", 1),
          "Q2": ("Lagrange", 2)}


class ParameterBasis:
    """θ ∈ R^K mapped linearly to dof values z = E θ of a parameter space.

    Parameters
    ----------
    matrix : array_like or sparse, shape (num_dofs, K)
        Column k holds the dof values of the k-th basis function (e.g. the P1 nodal values of
        a series mode, or the interpolation matrix from a coarse mesh).
    space : {"P1", "P2", "DG0"} or dolfinx FunctionSpace
        The space whose dofs the columns hold.
    """

    def __init__(self, matrix: ArrayLike | sp.spmatrix | sp.sparray,
                 space: str | FunctionSpace = "P1") -> None:
        E: np.ndarray | sp.csr_matrix
        if sp.issparse(matrix):
            sparse: Any = matrix  # a SciPy sparse matrix or array (SciPy has no type stubs)
            E = sparse.tocsr()
        else:
            E = np.asarray(matrix, dtype=float)
        if E.ndim != 2 or E.shape[1] < 1:
            raise InvalidArgumentError(
                f"matrix must have shape (num_dofs, K) with K >= 1, got {E.shape}")
        self.matrix = E
        self.space = space

    def __repr__(self) -> str:
        return f"ParameterBasis({self.matrix.shape[1]} functions on {self.space!r})"


def parameter_function_space(mesh: Mesh, spec: str | FunctionSpace) -> FunctionSpace:
    """The dolfinx space of m for a short name or a FunctionSpace (checked to be on ``mesh``)."""
    if isinstance(spec, str):
        if spec not in SPACES:
            raise InvalidArgumentError(
                f"parameter must be one of {sorted(SPACES)}, a dolfinx FunctionSpace or a "
                f"ParameterBasis, got {spec!r}")
        family, degree = SPACES[spec]
        return _compat.function_space(mesh, family, degree)
    if hasattr(spec, "dofmap") and hasattr(spec, "mesh"):
        if spec.mesh is not mesh:
            raise InvalidArgumentError(
                "the parameter space lives on a different mesh than the state space; both "
                "must be spaces of the same mesh (map a coarse parameter mesh onto the state "
                "mesh with fem.ParameterBasis(fem.transfer_matrix(coarse_space, fine_space)))")
        if spec.dofmap.index_map_bs != 1:
            raise InvalidArgumentError("the parameter space must be scalar-valued")
        return spec
    raise InvalidArgumentError(
        f"parameter must be one of {sorted(SPACES)}, a dolfinx FunctionSpace or a "
        f"ParameterBasis, got {type(spec).__name__}")


class ParameterMap:
    """θ ↦ z = E θ (or z = θ) ↦ m = Φ(z), with the chain rule for tangents and gradients."""

    def __init__(self, mesh: Mesh, spec: str | FunctionSpace | ParameterBasis,
                 link: Link) -> None:
        basis = spec if isinstance(spec, ParameterBasis) else None
        self.space = parameter_function_space(mesh, basis.space if basis else spec)
        self.num_dofs = self.space.dofmap.index_map.size_local
        self.link = link
        self.basis = None
        if basis is not None:
            if basis.matrix.shape[0] != self.num_dofs:
                raise InvalidArgumentError(
                    f"the ParameterBasis matrix must have {self.num_dofs} rows (the dofs of "
                    f"its space), got shape {basis.matrix.shape}")
            self.basis = basis.matrix
        self.input_dim = self.num_dofs if basis is None else basis.matrix.shape[1]

    def values(self, theta: np.ndarray) -> np.ndarray:
        """z = E θ (dof values before the link)."""
        return theta.copy() if self.basis is None else np.asarray(self.basis @ theta)

    def pull(self, z: np.ndarray, grad_m: np.ndarray) -> np.ndarray:
        """∇_θ = Eᵀ (Φ'(z) ⊙ ∇_m)."""
        g = self.link.derivative(z) * grad_m
        return g if self.basis is None else np.asarray(self.basis.T @ g)

    def push(self, z: np.ndarray, v: np.ndarray) -> np.ndarray:
        """dm = Φ'(z) ⊙ (E v)."""
        return self.link.derivative(z) * self.values(v)
