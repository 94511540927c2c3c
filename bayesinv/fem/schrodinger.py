"""The Schrödinger-type forward map of Nickl (2020, 2023) and Nickl & Wang (2022)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .domain import Domain, FieldLike
from .elliptic import EllipticForwardMap, Experiment

if TYPE_CHECKING:
    from ..links import Link
    from .observation import Design
    from .solvers import SolverSpec


class SchrodingerMap(EllipticForwardMap):
    r"""θ ↦ (u_f(X_1), …, u_f(X_N)) where u_f solves the time-independent Schrödinger equation

    .. math:: \tfrac12 Δu − f u = s \ \text{in } O, \qquad u = g \ \text{on } ∂O,
              \qquad f = Φ(θ),

    with s = 0 by default (the statistical papers' model). Weak form: ½∫∇u·∇v + ∫ f u v =
    −∫ s v, an SPD operator for f > 0, factorised once per θ by sparse Cholesky.

    Parameters
    ----------
    domain : Domain
        E.g. ``bayesinv.fem.unit_square(32)``.
    design : array_like, shape (N, dim)
        Observation points, e.g. ``bayesinv.fem.uniform_design(domain, 400, seed=1)``.
    boundary_value : float or callable
        g, e.g. 1.0 or ``lambda x: 1 + 0.5 * x[0]``.
    link : "exp", "regular", "identity" or Link
        Φ; default exp as in the foundational papers.
    source : float or callable, optional
    degree : {1, 2}
    solver : optional
        See :mod:`bayesinv.fem.solvers` (default: PETSc sparse Cholesky).
    experiments : sequence of Experiment, optional
        Several boundary data g_1..g_K (and sources) sharing θ; replaces ``boundary_value``
        and ``source``; observations stacked (see :class:`EllipticForwardMap`).

    References
    ----------
    R. Nickl (2020), Bernstein–von Mises theorems for statistical inverse problems I:
    Schrödinger equation, JEMS 22. R. Nickl & S. Wang (2022), On polynomial-time computation of
    high-dimensional posterior measures by Langevin-type algorithms, JEMS.
    """

    def __init__(self, domain: Domain, design: Design, *, boundary_value: FieldLike = 1.0,
                 link: str | Link = "exp", source: FieldLike | None = None, degree: int = 1,
                 solver: SolverSpec = None, experiments: Sequence[Experiment] | None = None
                 ) -> None:
        super().__init__(domain, design, coefficient_term="mass", base_stiffness=0.5,
                         source_scale=-1.0, source=source, boundary_value=boundary_value,
                         link=link, degree=degree, solver=solver, experiments=experiments)
