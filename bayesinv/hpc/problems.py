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
from ..fields import PSI, bumps_field, e1_truth
from ..synthetic import CoverageModel, InferenceSpec, linear_gaussian_model

# The vocabulary of the [problem] and [coverage] tables: hpc/config.py takes its choices from
# these (tests/test_hpc_config.py checks the FEM ones against the classes that consume them).
#: problem.pde
PDES = ("schrodinger", "darcy", "heat", "linear_gaussian")
#: problem.domain.shape
DOMAIN_SHAPES = ("unit_square", "disk")
#: problem.prior.kind
PRIOR_KINDS = ("series", "matern")
#: problem.truth.kind
TRUTH_KINDS = ("e1", "bumps", "constant")
#: coverage.functionals[].kind, and the key each kind requires
FUNCTIONAL_KINDS = {"linear": "psi", "point": "point", "nodal": "index"}


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
    if spec["kind"] == "e1":
        theta0 = space.interpolate(e1_truth)
    elif spec["kind"] == "bumps":
        theta0 = space.interpolate(bumps_field(spec["bumps"]))
    else:
        theta0 = np.full(space.num_dofs, float(spec["value"]))
    if spec["zero_on_boundary"]:
        theta0[space.boundary_dofs] = 0.0  # where Dirichlet series prior draws vanish
    return theta0


def config_model(*, pde: str, noise_std: float, domain=None, design=None, forward=None,
                 prior=None, truth=None, linear_gaussian=None) -> CoverageModel:
    """The CoverageModel of a validated ``[problem]`` table (keyword per sub-table)."""
    if pde == "linear_gaussian":
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
