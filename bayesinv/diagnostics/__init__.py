"""Diagnostics and results: the ArviZ bridge (and, later, credible sets and coverage)."""

from .arviz_io import (
    build_inference_data,
    convergence_diagnostics,
    dataset_from_draws,
    ess,
    mcse,
    rhat,
    summary,
)

__all__ = [
    "build_inference_data",
    "convergence_diagnostics",
    "dataset_from_draws",
    "ess",
    "mcse",
    "rhat",
    "summary",
]
