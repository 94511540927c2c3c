"""Priors in whitened form θ = T(ξ), ξ ~ N(0, I)."""

from .base import WhitenedPrior
from .gaussian import GaussianPrior
from .generative import GenerativePrior, decoder_from_torch, save_decoder
from .neural import NeuralFieldPrior
from .series import SeriesPrior

__all__ = [
    "GaussianPrior",
    "GenerativePrior",
    "NeuralFieldPrior",
    "SeriesPrior",
    "WhitenedPrior",
    "decoder_from_torch",
    "save_decoder",
]
