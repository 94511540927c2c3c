"""The one module that talks to ArviZ (0.23 here; ArviZ 1.x needs Python >= 3.12).

Sampler output is an :class:`arviz.InferenceData` with groups ``posterior`` (θ and the
whitened coordinates ξ), ``sample_stats`` (ArviZ's names ``lp``, ``acceptance_rate``,
``diverging``, ``step_size``), ``log_likelihood``, ``observed_data`` and ``constant_data``,
and attributes recording the sampler, its parameters, the seed, solve counts and the version.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    # ArviZ 0.23 announces its 1.x refactor with a FutureWarning on import.
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    import arviz as az

DIMS = {
    "xi": ["mode"],
    "theta": ["node"],
    "y": ["observation"],
    "node_coordinates": ["node", "space"],
    "design": ["observation", "space"],
}


def build_inference_data(*, posterior: dict, sample_stats: dict, log_likelihood: dict | None,
                         observed_data: dict, constant_data: dict, attrs: dict):
    """Assemble InferenceData from (chain, draw, ...) arrays."""
    spaces = [a.shape[-1] for a in constant_data.values() if a.ndim == 2]
    coords = {"space": ["x", "y", "z"][: spaces[0]]} if spaces else None
    return az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        log_likelihood=log_likelihood,
        observed_data=observed_data,
        constant_data=constant_data,
        dims=DIMS,
        coords=coords,
        attrs=attrs,
    )


def summary(data, var_names=None, **kwargs):
    """ArviZ summary table (mean, sd, HDI, MCSE, ESS bulk/tail, R-hat)."""
    return az.summary(data, var_names=var_names, **kwargs)


def ess(data, **kwargs):
    return az.ess(data, **kwargs)


def rhat(data, **kwargs):
    return az.rhat(data, **kwargs)


def mcse(data, **kwargs):
    return az.mcse(data, **kwargs)


def dataset_from_draws(draws: dict):
    """An xarray Dataset with (chain, draw) dims from arrays of shape (chain, draw, ...)."""
    return az.convert_to_dataset({k: np.asarray(v) for k, v in draws.items()})
