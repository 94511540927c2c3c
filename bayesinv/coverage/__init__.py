"""Coverage studies: are posterior credible sets valid frequentist confidence sets?

One module per job, each importing only the ones listed before it:

* :mod:`~bayesinv.coverage.spec` — the picklable problem spec, the kinds of credible set;
* :mod:`~bayesinv.coverage.functionals` — the scalar functionals of θ that are scored;
* :mod:`~bayesinv.coverage.convergence` — diagnostics and the criteria a replicate must pass;
* :mod:`~bayesinv.coverage.replicate` — one replicate: realise, sample, diagnose, score;
* :mod:`~bayesinv.coverage.summary` — coverage, exact intervals and tests, the table;
* :mod:`~bayesinv.coverage.io` — the study Dataset as netCDF;
* :mod:`~bayesinv.coverage.records`, :mod:`~bayesinv.coverage.store` — the results store
  (one file per replicate, resume);
* :mod:`~bayesinv.coverage.study` — plan, run and assemble a study.

The model and the sampler settings (:class:`~bayesinv.synthetic.CoverageModel`,
:class:`~bayesinv.synthetic.InferenceSpec`) belong to :mod:`bayesinv.synthetic`, the one
truth → data → posterior → draws path that ``bayesinv run`` uses too; they are re-exported here.
"""

from ..synthetic import CoverageModel, InferenceSpec, check_truth
from .convergence import ConvergenceCriteria, replicate_diagnostics
from .functionals import Hyperparameter, LinearFunctional, NodalValue, PointValue
from .io import load_coverage_study, write_netcdf
from .spec import FIELD, FIELD_KINDS, KINDS, SCALAR_KINDS, ProblemSpec
from .study import (
    CoveragePlan,
    assemble_study,
    check_levels,
    plan_coverage_study,
    run_coverage_study,
)
from .summary import coverage_table, flagged_summary, rank_uniformity_pvalue, summarize_coverage

__all__ = [
    "FIELD",
    "FIELD_KINDS",
    "KINDS",
    "SCALAR_KINDS",
    "ConvergenceCriteria",
    "CoverageModel",
    "CoveragePlan",
    "Hyperparameter",
    "InferenceSpec",
    "LinearFunctional",
    "NodalValue",
    "PointValue",
    "ProblemSpec",
    "assemble_study",
    "check_levels",
    "check_truth",
    "coverage_table",
    "flagged_summary",
    "load_coverage_study",
    "plan_coverage_study",
    "rank_uniformity_pvalue",
    "replicate_diagnostics",
    "run_coverage_study",
    "summarize_coverage",
    "write_netcdf",
]
