"""Posterior predictive replicates for ArviZ (``az.plot_ppc``, posterior predictive p-values).

:func:`add_posterior_predictive` adds the group ``posterior_predictive`` with ``y`` of shape
(chain, draw, observation): for each stored draw, Y_rep = G(θ) + noise from the likelihood's
own noise model at that draw's hyperparameters (σ of an unknown-noise model; for a
marginalised σ a fresh σ from its hyperprior). Each replicate costs one forward solve; pass
``draws`` to use every k-th draw only. The ``log_likelihood`` group that ``az.loo`` and
``az.compare`` need is filled by :func:`bayesinv.sample` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import integer_at_least
from ..protocols import Seed

if TYPE_CHECKING:
    from ..posterior import Posterior


def add_posterior_predictive(idata: Any, posterior: Posterior, *, seed: Seed = None,
                             thin: int = 1) -> Any:
    """Add ``posterior_predictive.y`` to ``idata`` (in place; also returned).

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`bayesinv.sample` on ``posterior`` (with ``xi`` and any hyperparameters).
    posterior : Posterior
    seed : int, SeedSequence or None
        The replicates' noise.
    thin : int
        Use draws 0, thin, 2·thin, … of each chain.
    """
    from ..samplers.gibbs import blocks_of

    thin = integer_at_least("thin", thin, 1)
    rng = np.random.default_rng(seed)
    blocks = blocks_of(posterior)
    xi = idata.posterior["xi"].values[:, ::thin]
    hyper = [idata.posterior[b.name].values[:, ::thin] for b in blocks]
    like, prior = posterior.likelihood, posterior.prior
    out = np.empty((*xi.shape[:2], like.num_observations))
    try:
        for c in range(xi.shape[0]):
            for d in range(xi.shape[1]):
                for block, values in zip(blocks, hyper, strict=True):
                    block.set(values[c, d])
                prediction = like.forward(prior.to_physical(xi[c, d]))
                out[c, d] = like.simulate_from_prediction(prediction, rng)
    finally:
        for block in blocks:
            block.set(block.initial)
    draw = idata.posterior["draw"].values[::thin]
    idata.add_groups(posterior_predictive={"y": out}, dims={"y": ["observation"]},
                     coords={"draw": draw})
    return idata
