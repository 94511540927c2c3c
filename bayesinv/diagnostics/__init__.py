"""Diagnostics of posterior draws: convergence (the ArviZ bridge's R-hat and ESS) and credible sets.

Coverage studies, which score credible sets over many data sets, are :mod:`bayesinv.coverage`.

Figures live in :mod:`bayesinv.diagnostics.plots` (imported on demand).
"""

from ..arviz_io import (
    build_inference_data,
    convergence_diagnostics,
    dataset_from_draws,
    ess,
    mcse,
    rhat,
    summary,
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
    "Interval",
    "L2Ball",
    "PointwiseIntervals",
    "SimultaneousBand",
    "build_inference_data",
    "convergence_diagnostics",
    "dataset_from_draws",
    "ess",
    "functional_interval",
    "l2_ball",
    "mcse",
    "point_value_interval",
    "pointwise_intervals",
    "rhat",
    "scalar_interval",
    "simultaneous_band",
    "summary",
]
