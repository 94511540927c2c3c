r"""Experiment E1: the Schrödinger inverse problem with ULA (Nickl 2020, 2023), frozen.

    Y_i = u_θ(X_i) + σ ε_i,    ½Δu_θ − e^θ u_θ = 0 in O = (0, 1)²,   u_θ = 1 on ∂O,

X_i ~ U(O) iid, P1 elements on a uniform mesh, and the Dirichlet–Laplacian series prior
θ = s Σ_{k≤D} λ_k^{−α/2} ξ_k e_k. The published theory has no table for E1, so we fix it here
(the same set-up as ``examples/schrodinger_flagship.py``): a 32 × 32 mesh, σ = 0.0025
(‖u₀ − 1‖_∞/σ ≈ 60), α = 2, s = 10, D = 60, the truth :func:`truth` (three bumps, small
on ∂O, where its nodal values are set to 0: see :func:`e1_model`), the functional ⟨θ, ψ⟩_{L²}
with ψ = :func:`psi` = sin(πx) sin(πy), and ULA preconditioned by the Laplace approximation at
the MAP (δ = 0.1), started at the MAP.
The theory's optional rescaling of the prior by N^{−d/(2α+d)} is not used: the prior is the
same for every N, so errors can be compared across N.

:func:`e1_model` returns a :class:`~bayesinv.synthetic.CoverageModel`; as a
module-level function it is the problem factory of E1 coverage studies
(``ProblemSpec(e1_model, {...})``), picklable for process pools.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ..fields import e1_truth, sin_sin
from ..synthetic import CoverageModel


class E1Settings(TypedDict):
    """The keys of :data:`SETTINGS` and their types."""

    mesh: int
    noise_std: float
    alpha: float
    scale: float
    num_modes: int
    step_size: float


#: the frozen E1 settings (the full-size run)
SETTINGS: E1Settings = {"mesh": 32, "noise_std": 0.0025, "alpha": 2.0, "scale": 10.0,
                        "num_modes": 60, "step_size": 0.1}


#: θ₀: two positive bumps and one negative bump, small (≤ 0.015) on ∂O
truth = e1_truth
#: ψ = sin(πx) sin(πy), the smooth test function of the functional ⟨θ, ψ⟩_{L²}
psi = sin_sin


def e1_model(*, num_observations: int = 600, mesh: int = SETTINGS["mesh"],
             noise_std: float = SETTINGS["noise_std"], num_modes: int = SETTINGS["num_modes"],
             alpha: float = SETTINGS["alpha"], scale: float = SETTINGS["scale"],
             design_seed: int = 0) -> CoverageModel:
    """The E1 problem with N = ``num_observations`` uniform design points (from
    ``design_seed``; the first N points of a larger design with the same seed are the same
    points, so designs are nested in N)."""
    from .. import fem
    from ..priors import SeriesPrior

    domain = fem.unit_square(mesh)
    space = domain.parameter_space
    design = fem.uniform_design(domain, num_observations, seed=design_seed)
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0, link="exp")
    prior = SeriesPrior.dirichlet_laplacian(domain, alpha=alpha, num_modes=num_modes,
                                            scale=scale)
    theta0 = space.interpolate(truth)
    # The bumps reach ∂O with values up to 0.015 (the one at (0.3, 0.35) is 0.3 from x = 0),
    # while every prior and posterior draw vanishes there. Zeroing θ₀'s boundary nodal values
    # changes it only in the outermost cells (by about 1% in L²) and puts it in the space
    # where the posterior lives, so that sup-norm bands are not missed on ∂O for a reason that
    # has nothing to do with inference.
    theta0[space.boundary_dofs] = 0.0
    return CoverageModel(prior, forward, noise_std, truth=theta0, space=space)


def ula_settings(*, draws: int, chains: int = 4, warmup: int = 500, thin: int = 1,
                 step_size: float = SETTINGS["step_size"], diagnostics: bool = True
                 ) -> dict[str, Any]:
    """Keyword arguments of :func:`bayesinv.sample` for E1's sampler: Laplace-preconditioned
    ULA from the MAP estimate. ``diagnostics=False`` silences the convergence warning (the
    examples' quick modes run chains too short to converge)."""
    return {"step_size": step_size, "preconditioner": "laplace", "init": "map",
            "draws": draws, "chains": chains, "warmup": warmup, "thin": thin,
            "diagnostics": diagnostics}
