"""Reference problems with exact answers and checks for user-supplied components."""

from .checks import TaylorReport, check_forward_map
from .linear_gaussian import LinearGaussianProblem, linear_gaussian
from .prior_checks import check_prior_transport
from .stats import MomentCheck, bonferroni_threshold, check_moments

__all__ = [
    "LinearGaussianProblem",
    "MomentCheck",
    "TaylorReport",
    "bonferroni_threshold",
    "check_forward_map",
    "check_moments",
    "check_prior_transport",
    "linear_gaussian",
]
