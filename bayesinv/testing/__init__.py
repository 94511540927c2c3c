"""Reference problems with exact answers and checks for user-supplied components."""

from .checks import PriorCheck, TaylorReport, check_forward_map, check_prior
from .linear_gaussian import LinearGaussianProblem, linear_gaussian
from .stats import MomentCheck, bonferroni_threshold, check_moments

__all__ = [
    "LinearGaussianProblem",
    "MomentCheck",
    "PriorCheck",
    "TaylorReport",
    "bonferroni_threshold",
    "check_forward_map",
    "check_moments",
    "check_prior",
    "linear_gaussian",
]
