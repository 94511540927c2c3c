"""bayesinv: Bayesian inverse problems governed by PDEs.

Model: Y_i = G(θ)(X_i) + σ ε_i with G a PDE solution map (FEniCSx), a prior on θ in whitened
form θ = T(ξ), ξ ~ N(0, I) (Gaussian-process or neural-network), numba-compiled MCMC (ULA, pCN
and relatives) returning ArviZ InferenceData, credible sets and coverage studies.

``import bayesinv`` does not need FEniCSx; :mod:`bayesinv.fem` (PDE forward maps, meshes)
does, and says how to install it when it is missing.
"""

from . import _mpi_env  # noqa: F401  (first: Open MPI settings before mpi4py is imported)
from ._version import __version__
from .coverage import ConvergenceCriteria, InferenceSpec, ProblemSpec, run_coverage_study
from .diagnostics import (
    functional_interval,
    l2_ball,
    point_value_interval,
    pointwise_intervals,
    simultaneous_band,
)
from .errors import (
    BayesinvError,
    BayesinvWarning,
    ChainWorkerError,
    ConfigError,
    ForwardSolveError,
    InvalidArgumentError,
    MissingDependencyError,
    SamplerDivergenceError,
    SamplingInterrupted,
)
from .forward import ForwardMap, LinearForwardMap
from .laplace import LaplaceApproximation, laplace
from .likelihood import GaussianLikelihood, signal_to_noise, simulate
from .links import ExpLink, Link, RegularLink
from .optimize import MAPResult, find_map
from .posterior import Posterior, WhitenedPosterior
from .priors import (
    GaussianPrior,
    GenerativePrior,
    InterpolatedPrior,
    KernelPrior,
    MaternKernel,
    NeuralFieldPrior,
    SeriesPrior,
    SquaredExponentialKernel,
    WhitenedPrior,
    WhittleMaternPrior,
)
from .samplers import sample, sample_exact

__all__ = [
    "BayesinvError",
    "BayesinvWarning",
    "ChainWorkerError",
    "ConfigError",
    "ConvergenceCriteria",
    "ExpLink",
    "ForwardMap",
    "ForwardSolveError",
    "GaussianLikelihood",
    "GaussianPrior",
    "GenerativePrior",
    "InferenceSpec",
    "InterpolatedPrior",
    "InvalidArgumentError",
    "KernelPrior",
    "LaplaceApproximation",
    "LinearForwardMap",
    "Link",
    "MAPResult",
    "MaternKernel",
    "MissingDependencyError",
    "NeuralFieldPrior",
    "Posterior",
    "ProblemSpec",
    "RegularLink",
    "SamplerDivergenceError",
    "SamplingInterrupted",
    "SeriesPrior",
    "SquaredExponentialKernel",
    "WhitenedPosterior",
    "WhitenedPrior",
    "WhittleMaternPrior",
    "__version__",
    "find_map",
    "functional_interval",
    "l2_ball",
    "laplace",
    "point_value_interval",
    "pointwise_intervals",
    "run_coverage_study",
    "sample",
    "sample_exact",
    "signal_to_noise",
    "simulate",
    "simultaneous_band",
]


def __getattr__(name):
    # Submodules that need FEniCSx or matplotlib load on first use: `import bayesinv` needs
    # neither.
    if name in ("fem", "testing", "plotting", "experiments", "hpc", "xray"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
