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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..coverage import (
    ConvergenceCriteria,
    LinearFunctional,
    NodalValue,
    PointValue,
    ProblemSpec,
)
from ..coverage.functionals import Functional
from ..errors import InvalidArgumentError
from ..fields import PSI, bumps_field, e1_truth
from ..synthetic import CoverageModel, InferenceSpec, linear_gaussian_model

if TYPE_CHECKING:
    from ..fem import DarcyMap, Domain, HeatForwardMap, LagrangeSpace, SchrodingerMap
    from ..priors import SeriesPrior, WhittleMaternPrior

#: a validated config (:func:`bayesinv.hpc.config.validate_config`), or one of its tables
Config = Mapping[str, Any]

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


def build_domain(spec: Config) -> Domain:
    """The domain of a validated ``[problem.domain]`` table."""
    from .. import fem

    if spec["shape"] == "unit_square":
        return fem.unit_square(spec["mesh"])
    return fem.disk(spec["radius"], mesh_size=spec["mesh_size"])


def build_forward(pde: str, domain: Domain, design: NDArray[np.float64], spec: Config
                  ) -> SchrodingerMap | DarcyMap | HeatForwardMap:
    """The forward map of ``pde`` on ``domain``, observed at the ``design`` points, with the
    settings of a validated ``[problem.forward]`` table."""
    from .. import fem

    if pde == "schrodinger":
        return fem.SchrodingerMap(domain, design, **spec)
    if pde == "darcy":
        return fem.DarcyMap(domain, design, **spec)
    return fem.HeatForwardMap(domain, design, **spec)


def build_prior(domain: Domain, spec: Config) -> SeriesPrior | WhittleMaternPrior:
    """The prior of a validated ``[problem.prior]`` table on ``domain``."""
    from ..priors import SeriesPrior, WhittleMaternPrior

    settings = {k: v for k, v in spec.items() if k != "kind"}
    if spec["kind"] == "series":
        return SeriesPrior.dirichlet_laplacian(domain, **settings)
    return WhittleMaternPrior.from_matern(domain, **settings)


def build_truth(space: LagrangeSpace, spec: Config) -> NDArray[np.float64]:
    """θ₀ (nodal values on ``space``) of a validated ``[problem.truth]`` table."""
    if spec["kind"] == "e1":
        theta0 = space.interpolate(e1_truth)
    elif spec["kind"] == "bumps":
        theta0 = space.interpolate(bumps_field(spec["bumps"]))
    else:
        theta0 = np.full(space.num_dofs, float(spec["value"]))
    if spec["zero_on_boundary"]:
        theta0[space.boundary_dofs] = 0.0  # where Dirichlet series prior draws vanish
    return theta0


def config_model(*, pde: str, noise_std: float, domain: Config | None = None,
                 design: Config | None = None, forward: Config | None = None,
                 prior: Config | None = None, truth: Config | None = None,
                 linear_gaussian: Config | None = None) -> CoverageModel:
    """The CoverageModel of a validated ``[problem]`` table (keyword per sub-table)."""
    if pde == "linear_gaussian":
        if linear_gaussian is None:
            raise InvalidArgumentError(
                "config_model(pde='linear_gaussian') needs the table linear_gaussian (a "
                "validated config has it)")
        return linear_gaussian_model(noise_std=noise_std, **linear_gaussian)
    if domain is None or design is None or forward is None or prior is None or truth is None:
        missing = [name for name, table in (("domain", domain), ("design", design),
                                            ("forward", forward), ("prior", prior),
                                            ("truth", truth)) if table is None]
        raise InvalidArgumentError(
            f"config_model(pde={pde!r}) needs the tables {missing} (a validated config has "
            f"them all)")
    from .. import fem

    dom = build_domain(domain)
    space = dom.parameter_space
    points = fem.uniform_design(dom, design["num_observations"], seed=design["seed"])
    fwd = dict(forward)
    if pde == "heat" and fwd.get("observation_times") is None:
        fwd.pop("observation_times", None)
    return CoverageModel(build_prior(dom, prior), build_forward(pde, dom, points, fwd),
                         noise_std, truth=build_truth(space, truth), space=space)


def problem_spec(cfg: Config) -> ProblemSpec:
    """The picklable problem spec of a validated config: :func:`config_model` of its
    ``[problem]`` table."""
    return ProblemSpec(config_model, cfg["problem"])


def inference_spec(cfg: Config) -> InferenceSpec:
    """The sampler and its settings named by a validated config's ``[inference]`` table."""
    return InferenceSpec(cfg["inference"]["method"], dict(cfg["inference"]["settings"]))


def functionals(cfg: Config) -> tuple[Functional, ...]:
    """The scalar functionals of a validated config's ``[[coverage.functionals]]``."""
    out: list[Functional] = []
    for f in cfg["coverage"]["functionals"]:
        if f["kind"] == "linear":
            out.append(LinearFunctional(f["name"], PSI[f["psi"]]))
        elif f["kind"] == "point":
            out.append(PointValue(f["name"], tuple(f["point"])))
        else:
            out.append(NodalValue(f["name"], f["index"]))
    return tuple(out)


def convergence(cfg: Config) -> ConvergenceCriteria | None:
    """The criteria of ``[coverage.convergence]``, or None when it is disabled."""
    c = cfg["coverage"]["convergence"]
    if not c["enabled"]:
        return None
    return ConvergenceCriteria(rhat_max=c["rhat_max"], ess_min=c["ess_min"],
                               max_divergences=c["max_divergences"],
                               min_acceptance=c["min_acceptance"], latent=c["latent"])


def study_specs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of ``plan_coverage_study``/``run_coverage_study`` for a config."""
    cov = cfg["coverage"]
    return {"problem": problem_spec(cfg), "inference": inference_spec(cfg),
            "replicates": cov["replicates"], "seed": cfg["experiment"]["seed"],
            "truth": cov["truth"], "levels": tuple(cov["levels"]),
            "functionals": functionals(cfg), "kinds": tuple(cov["kinds"]),
            "convergence": convergence(cfg), "sbc_draws": cov["sbc_draws"],
            "pointwise_field": cov["pointwise_field"], "confidence": cov["confidence"]}
