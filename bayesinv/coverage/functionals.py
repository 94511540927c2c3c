r"""Scalar functionals of θ scored by a coverage study, each a weight vector w with f = wᵀθ.

⟨θ, ψ⟩_{L²} = θᵀ M ψ_h (:class:`LinearFunctional`), the point value θ(x) = E_x θ
(:class:`PointValue`), a nodal value θ_i (:class:`NodalValue`); and a hyperparameter's draws
(:class:`Hyperparameter`, not linear in θ: read from the run). The weights come from
:mod:`bayesinv.diagnostics.credible` (:func:`~bayesinv.diagnostics.credible.functional_weights`,
:func:`~bayesinv.diagnostics.credible.point_weights`), which builds the same functionals'
credible intervals for a single run.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from numpy.typing import NDArray

from .._validation import integer_at_least
from ..diagnostics.credible import functional_weights, point_weights
from ..errors import InvalidArgumentError
from ..synthetic import CoverageModel

if TYPE_CHECKING:
    from .spec import ProblemSpec


@dataclass(frozen=True, eq=False)
class LinearFunctional:
    """⟨θ, ψ⟩_{L²} with ψ a module-level callable ψ(x) or nodal values (quadrature by M)."""

    name: str
    psi: Callable[[NDArray[np.float64]], NDArray[np.float64]] | NDArray[np.float64]

    def weights(self, model: CoverageModel) -> NDArray[np.float64]:
        """w with wᵀθ = ⟨θ, ψ⟩_{L²} on ``model``'s space (or mass matrix)."""
        return functional_weights(self.psi, model.dim, space=model.space,
                                  mass_matrix=model.mass_matrix)


@dataclass(frozen=True)
class PointValue:
    """θ(x), the FE field evaluated at a point x of the domain (needs ``model.space``)."""

    name: str
    point: tuple[float, ...]

    def weights(self, model: CoverageModel) -> NDArray[np.float64]:
        """w with wᵀθ = θ(x) (the FE interpolation at the point)."""
        if model.space is None:
            raise InvalidArgumentError(
                f"PointValue {self.name!r} needs a CoverageModel with a space; use NodalValue "
                f"for a plain coefficient vector")
        point = np.atleast_2d(np.asarray(self.point, dtype=float))
        return point_weights(point, model.space, model.dim)[0]


@dataclass(frozen=True)
class NodalValue:
    """θ_i, the i-th coefficient (nodal value) of θ."""

    name: str
    index: int

    def weights(self, model: CoverageModel) -> NDArray[np.float64]:
        """The ``index``-th unit vector."""
        index = integer_at_least("index", self.index, 0)
        if index >= model.dim:
            raise InvalidArgumentError(
                f"NodalValue {self.name!r}: index must be < {model.dim}, got {index}")
        w = np.zeros(model.dim)
        w[index] = 1.0
        return w


@dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter's posterior draws as a scalar "functional": ``"sigma"`` (needs
    ``CoverageModel.noise_hyper``) or ``"tau"`` (needs ``scale_hyper``); scored against the
    replicate's true value like any functional (intervals, ranks, mean and sd)."""

    name: str

    def weights(self, model: CoverageModel) -> NDArray[np.float64]:
        """Zeros (after checking that ``model`` has the hyperprior): not linear in θ."""
        need = {"sigma": "noise_hyper", "tau": "scale_hyper"}
        if self.name not in need:
            raise InvalidArgumentError(
                f"Hyperparameter name must be 'sigma' or 'tau', got {self.name!r}")
        if getattr(model, need[self.name]) is None:
            raise InvalidArgumentError(
                f"Hyperparameter({self.name!r}) needs a CoverageModel with {need[self.name]}")
        return np.zeros(model.dim)  # not linear in θ: the draws are read from the run


#: any scalar functional a coverage study scores
Functional: TypeAlias = LinearFunctional | PointValue | NodalValue | Hyperparameter


def functional_matrix(functionals: Sequence[Functional], model: CoverageModel
                      ) -> NDArray[np.float64]:
    """The (F, n) matrix W whose rows give the scalar functionals f = W θ."""
    if not functionals:
        return np.zeros((0, model.dim))
    return np.stack([f.weights(model) for f in functionals])


_WEIGHTS_CACHE: dict[bytes, NDArray[np.float64]] = {}


def cached_functional_matrix(problem: ProblemSpec, functionals: Sequence[Functional],
                             model: CoverageModel) -> NDArray[np.float64]:
    """:func:`functional_matrix`, computed once per process for a (problem spec,
    functionals) pair (interpolating ψ or locating a point costs FE work)."""
    key = pickle.dumps((problem, functionals))
    if key not in _WEIGHTS_CACHE:
        _WEIGHTS_CACHE[key] = functional_matrix(functionals, model)
    return _WEIGHTS_CACHE[key]
