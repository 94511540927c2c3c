"""bayesinv: Bayesian inverse problems governed by PDEs.

Model: Y_i = G(θ)(X_i) + σ ε_i with G a PDE solution map (FEniCSx), a Gaussian prior on θ in
whitened form θ = T(ξ), and numba-compiled MCMC (ULA, pCN) returning ArviZ InferenceData.

``import bayesinv`` does not need FEniCSx; :mod:`bayesinv.fem` (PDE forward maps, meshes)
does, and says how to install it when it is missing.
"""

from ._version import __version__
from .errors import (
    BayesinvError,
    BayesinvWarning,
    ConfigError,
    ForwardSolveError,
    InvalidArgumentError,
    MissingDependencyError,
    SamplerDivergenceError,
)
from .forward import ForwardMap, LinearForwardMap
from .likelihood import GaussianLikelihood, signal_to_noise, simulate
from .links import ExpLink, Link, RegularLink
from .optimize import MAPResult, find_map
from .posterior import Posterior, WhitenedPosterior
from .priors import GaussianPrior, SeriesPrior, WhitenedPrior
from .samplers import sample

__all__ = [
    "BayesinvError",
    "BayesinvWarning",
    "ConfigError",
    "ExpLink",
    "ForwardMap",
    "ForwardSolveError",
    "GaussianLikelihood",
    "GaussianPrior",
    "InvalidArgumentError",
    "LinearForwardMap",
    "Link",
    "MAPResult",
    "MissingDependencyError",
    "Posterior",
    "RegularLink",
    "SamplerDivergenceError",
    "SeriesPrior",
    "WhitenedPosterior",
    "WhitenedPrior",
    "__version__",
    "find_map",
    "sample",
    "signal_to_noise",
    "simulate",
]


def __getattr__(name):
    # `bayesinv.fem` is imported on first use, so that `import bayesinv` works without dolfinx.
    if name in ("fem", "testing"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
