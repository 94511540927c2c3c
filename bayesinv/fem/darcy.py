"""The Darcy (groundwater flow, conductivity) forward map of Giordano & Nickl (2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .domain import Domain, FieldLike
from .elliptic import EllipticForwardMap, Experiment

if TYPE_CHECKING:
    from ..links import Link
    from .observation import Design
    from .solvers import SolverSpec


class DarcyMap(EllipticForwardMap):
    r"""θ ↦ (u_f(X_1), …, u_f(X_N)) where u_f solves the divergence-form equation

    .. math:: ∇·(f ∇u) = s \ \text{in } O, \qquad u = g \ \text{on } ∂O,
              \qquad f = Φ(θ),

    with s ≡ 1 and g ≡ 0 by default (Giordano & Nickl 2020; Giordano 2023, whose link is
    f = 1 + e^θ: ``link=bayesinv.links.ExpLink(f_min=1.0)``). Weak form:
    ∫ f ∇u·∇v = −∫ s v for v vanishing on ∂O, an SPD operator for f > 0, factorised once per
    θ; its values are f-linear, data(A(f)) = T f, filled into a fixed pattern.

    Parameters
    ----------
    domain : Domain
        E.g. ``bayesinv.fem.disk_of_area(1.0, mesh_size=0.05)``.
    design : array_like of shape (N, dim), "field" or an observation object
        Observation points, e.g. ``bayesinv.fem.node_design(domain, 1000, seed=1)``.
    source : float or callable
        s (default 1).
    boundary_value : float or callable
        g (default 0).
    link : "exp", "regular", "identity" or Link
    degree : {1, 2}
    solver : optional
        See :mod:`bayesinv.fem.solvers` (default: PETSc sparse Cholesky).
    experiments : sequence of Experiment, optional
        Several (g, s) pairs sharing θ; observations stacked.

    References
    ----------
    M. Giordano & R. Nickl (2020), Consistency of Bayesian inference with Gaussian process
    priors in an elliptic inverse problem, Inverse Problems 36. M. Giordano (2023), Bayesian
    nonparametric inference in PDE models: asymptotic theory and implementation.
    """

    def __init__(self, domain: Domain, design: Design, *, source: FieldLike | None = 1.0,
                 boundary_value: FieldLike = 0.0, link: str | Link = "exp", degree: int = 1,
                 solver: SolverSpec = None, experiments: Sequence[Experiment] | None = None
                 ) -> None:
        super().__init__(domain, design, coefficient_term="stiffness", base_stiffness=0.0,
                         source_scale=-1.0, source=source, boundary_value=boundary_value,
                         link=link, degree=degree, solver=solver, experiments=experiments)
