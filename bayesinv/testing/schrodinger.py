"""A small Schrödinger posterior with a Whittle–Matérn prior, for tests, tools and benchmarks.

The forward map is :class:`~bayesinv.fem.SchrodingerMap` (½Δu − e^θ u = 0, u = 1 on the
boundary) on the unit square, observed at uniform design points; the prior is
:meth:`~bayesinv.priors.spde.WhittleMaternPrior.from_hippylib`; the truth is a prior draw and
the data are simulated with Gaussian noise. Every random choice has a fixed seed (design 1,
truth 2, noise 3), so the posterior is the same in every process.
"""

from __future__ import annotations

import numpy as np

from ..likelihood import GaussianLikelihood, simulate
from ..posterior import Posterior
from ..priors.spde import WhittleMaternPrior


def schrodinger_posterior(mesh: int, num_points: int, noise_std: float, *, gamma: float = 0.1,
                          delta: float = 1.0) -> Posterior:
    """The posterior on the ``mesh`` × ``mesh`` unit square with ``num_points`` design points,
    noise sd ``noise_std`` and hIPPYlib's prior coefficients (γ, δ) (see the module
    docstring)."""
    from .. import fem

    domain = fem.unit_square(mesh)
    forward = fem.SchrodingerMap(domain, fem.uniform_design(domain, num_points, seed=1),
                                 boundary_value=1.0)
    prior = WhittleMaternPrior.from_hippylib(domain, gamma=gamma, delta=delta)
    data = simulate(forward, prior.sample(np.random.default_rng(2)), noise_std, seed=3)
    return Posterior(prior, GaussianLikelihood(forward, data, noise_std))
