"""Reference problems with exact answers and checks for user-supplied components."""

from .checks import PriorCheck, TaylorReport, check_forward_map, check_prior
from .coverage_problems import (
    frequentist_coverage,
    gaussian_set_coverage,
    inflated_coverage,
    linear_gaussian_model,
)
from .linear_gaussian import LinearGaussianProblem, linear_gaussian
from .stats import (
    ConvergenceCheck,
    MomentCheck,
    bonferroni_threshold,
    check_convergence,
    check_moments,
)

__all__ = [
    "ConvergenceCheck",
    "LinearGaussianProblem",
    "MomentCheck",
    "PriorCheck",
    "TaylorReport",
    "bonferroni_threshold",
    "check_convergence",
    "check_forward_map",
    "check_moments",
    "check_prior",
    "frequentist_coverage",
    "gaussian_set_coverage",
    "inflated_coverage",
    "linear_gaussian",
    "linear_gaussian_model",
]
