"""Priors in whitened form θ = T(ξ), ξ ~ N(0, I).

* :class:`GaussianPrior` — any dense factor, θ = m + Lξ;
* :class:`SeriesPrior` — Laplacian eigenbasis (Dirichlet or Neumann), Matérn-type weights, the
  theory's N-rescaling (:mod:`.series`);
* :class:`WhittleMaternPrior` — the SPDE prior (κ² − Δ)^β θ = c𝒲 by sparse factorisation
  (:mod:`.spde`);
* :class:`KernelPrior` with :class:`MaternKernel` / :class:`SquaredExponentialKernel` —
  Cholesky or truncated-KL factors of a kernel matrix (:mod:`.kernels`);
* :class:`InterpolatedPrior` — a prior on a parameter mesh interpolated to a state mesh.

Every prior satisfies :class:`PriorProtocol` (:mod:`bayesinv.protocols`).

:func:`bayesinv.testing.check_prior` checks any prior against the contract in :mod:`.base`.
"""

from ..protocols import PriorProtocol
from .base import WhitenedPrior
from .gaussian import GaussianPrior
from .generative import GenerativePrior, decoder_from_torch, save_decoder
from .interpolated import InterpolatedPrior
from .kernels import KernelPrior, MaternKernel, SquaredExponentialKernel
from .neural import NeuralFieldPrior
from .series import SeriesPrior
from .spde import WhittleMaternPrior

__all__ = [
    "GaussianPrior",
    "GenerativePrior",
    "InterpolatedPrior",
    "KernelPrior",
    "MaternKernel",
    "NeuralFieldPrior",
    "PriorProtocol",
    "SeriesPrior",
    "SquaredExponentialKernel",
    "WhitenedPrior",
    "WhittleMaternPrior",
    "decoder_from_torch",
    "save_decoder",
]
