"""Diagnostics and results: the ArviZ bridge, credible sets and coverage studies.

Figures live in :mod:`bayesinv.diagnostics.plots` (imported on demand).
"""

from .arviz_io import (
    build_inference_data,
    convergence_diagnostics,
    dataset_from_draws,
    ess,
    mcse,
    rhat,
    summary,
)
from .coverage import (
    ConvergenceCriteria,
    CoverageModel,
    InferenceSpec,
    LinearFunctional,
    NodalValue,
    PointValue,
    ProblemSpec,
    coverage_table,
    load_coverage_study,
    replicate_diagnostics,
    run_coverage_study,
    summarize_coverage,
)
from .credible import (
    Interval,
    L2Ball,
    PointwiseIntervals,
    SimultaneousBand,
    functional_interval,
    l2_ball,
    point_value_interval,
    pointwise_intervals,
    scalar_interval,
    simultaneous_band,
)

__all__ = [
    "ConvergenceCriteria",
    "CoverageModel",
    "InferenceSpec",
    "Interval",
    "L2Ball",
    "LinearFunctional",
    "NodalValue",
    "PointValue",
    "PointwiseIntervals",
    "ProblemSpec",
    "SimultaneousBand",
    "build_inference_data",
    "convergence_diagnostics",
    "coverage_table",
    "dataset_from_draws",
    "ess",
    "functional_interval",
    "l2_ball",
    "load_coverage_study",
    "mcse",
    "point_value_interval",
    "pointwise_intervals",
    "replicate_diagnostics",
    "rhat",
    "run_coverage_study",
    "scalar_interval",
    "simultaneous_band",
    "summarize_coverage",
    "summary",
]
