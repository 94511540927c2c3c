"""Priors in whitened form θ = T(ξ), ξ ~ N(0, I)."""

from .base import WhitenedPrior
from .gaussian import GaussianPrior
from .series import SeriesPrior

__all__ = ["GaussianPrior", "SeriesPrior", "WhitenedPrior"]
