"""What a validated config describes, as the coverage harness's picklable specs.

:func:`config_model` is the module-level problem factory behind every configured study
(``ProblemSpec(config_model, cfg["problem"])``): it builds the domain, the design, the
forward map (Schrödinger, Darcy or heat), the prior (Dirichlet–Laplacian series or
Whittle–Matérn), the truth θ₀, or the linear–Gaussian reference problem. Being a plain
function of plain (TOML) values it pickles, so workers on any executor rebuild the same model.
:func:`study_specs` turns a whole config into the arguments of
:func:`~bayesinv.coverage.run_coverage_study`.
"""

from __future__ import annotations

import numpy as np

from ..coverage import (
    ConvergenceCriteria,
    LinearFunctional,
    NodalValue,
    PointValue,
    ProblemSpec,
)
from ..experiments.schrodinger_e1 import psi as sin_sin  # ψ = sin(πx₁) sin(πx₂)
from ..synthetic import CoverageModel, InferenceSpec


def one(x):
    """ψ(x) = 1 (named ``"one"``: ⟨θ, 1⟩ is the integral of θ)."""
    return np.ones_like(x[0])


PSI = {"sin_sin": sin_sin, "one": one}


def _bumps_field(bumps):
    def field(x):
        out = np.zeros_like(x[0])
        for cx, cy, width, amplitude in bumps:
            out = out + amplitude * np.exp(-((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / width)
        return out
    return field


def build_domain(spec: dict):
    from .. import fem

    if spec["shape"] == "unit_square":
        return fem.unit_square(spec["mesh"])
    return fem.disk(spec["radius"], mesh_size=spec["mesh_size"])


def build_forward(pde: str, domain, design, spec: dict):
    from .. import fem

    if pde == "schrodinger":
        return fem.SchrodingerMap(domain, design, **spec)
    if pde == "darcy":
        return fem.DarcyMap(domain, design, **spec)
    return fem.HeatForwardMap(domain, design, **spec)


def build_prior(domain, spec: dict):
    from ..priors import SeriesPrior, WhittleMaternPrior

    settings = {k: v for k, v in spec.items() if k != "kind"}
    if spec["kind"] == "series":
        return SeriesPrior.dirichlet_laplacian(domain, **settings)
    return WhittleMaternPrior.from_matern(domain, **settings)


def build_truth(space, spec: dict) -> np.ndarray:
    from ..experiments.schrodinger_e1 import truth as e1_truth

    if spec["kind"] == "e1":
        theta0 = space.interpolate(e1_truth)
    elif spec["kind"] == "bumps":
        theta0 = space.interpolate(_bumps_field(spec["bumps"]))
    else:
        theta0 = np.full(space.num_dofs, float(spec["value"]))
    if spec["zero_on_boundary"]:
        theta0[space.boundary_dofs] = 0.0  # where Dirichlet series prior draws vanish
    return theta0


def config_model(*, pde: str, noise_std: float, domain=None, design=None, forward=None,
                 prior=None, truth=None, linear_gaussian=None) -> CoverageModel:
    """The CoverageModel of a validated ``[problem]`` table (keyword per sub-table)."""
    if pde == "linear_gaussian":
        from ..testing.coverage_problems import linear_gaussian_model

        return linear_gaussian_model(noise_std=noise_std, **linear_gaussian)
    from .. import fem

    dom = build_domain(domain)
    space = dom.parameter_space
    points = fem.uniform_design(dom, design["num_observations"], seed=design["seed"])
    fwd = dict(forward)
    if pde == "heat" and fwd.get("observation_times") is None:
        fwd.pop("observation_times", None)
    return CoverageModel(build_prior(dom, prior), build_forward(pde, dom, points, fwd),
                         noise_std, truth=build_truth(space, truth), space=space)


def problem_spec(cfg: dict) -> ProblemSpec:
    return ProblemSpec(config_model, cfg["problem"])


def inference_spec(cfg: dict) -> InferenceSpec:
    return InferenceSpec(cfg["inference"]["method"], dict(cfg["inference"]["settings"]))


def functionals(cfg: dict) -> tuple:
    out = []
    for f in cfg["coverage"]["functionals"]:
        if f["kind"] == "linear":
            out.append(LinearFunctional(f["name"], PSI[f["psi"]]))
        elif f["kind"] == "point":
            out.append(PointValue(f["name"], tuple(f["point"])))
        else:
            out.append(NodalValue(f["name"], f["index"]))
    return tuple(out)


def convergence(cfg: dict) -> ConvergenceCriteria | None:
    c = cfg["coverage"]["convergence"]
    if not c["enabled"]:
        return None
    return ConvergenceCriteria(rhat_max=c["rhat_max"], ess_min=c["ess_min"],
                               max_divergences=c["max_divergences"],
                               min_acceptance=c["min_acceptance"], latent=c["latent"])


def study_specs(cfg: dict) -> dict:
    """Keyword arguments of ``plan_coverage_study``/``run_coverage_study`` for a config."""
    cov = cfg["coverage"]
    return {"problem": problem_spec(cfg), "inference": inference_spec(cfg),
            "replicates": cov["replicates"], "seed": cfg["experiment"]["seed"],
            "truth": cov["truth"], "levels": tuple(cov["levels"]),
            "functionals": functionals(cfg), "kinds": tuple(cov["kinds"]),
            "convergence": convergence(cfg), "sbc_draws": cov["sbc_draws"],
            "pointwise_field": cov["pointwise_field"], "confidence": cov["confidence"]}
