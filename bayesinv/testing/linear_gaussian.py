"""The linear–Gaussian reference problem (defined in :mod:`bayesinv.linear_gaussian`, where
the config problems use it), under its testing name."""

from ..linear_gaussian import LinearGaussianProblem, linear_gaussian

__all__ = ["LinearGaussianProblem", "linear_gaussian"]
