"""The one module that talks to ArviZ (0.23 here; ArviZ 1.x needs Python >= 3.12): the bridge
between draws and :class:`arviz.InferenceData`, on the ground floor of the package (the samplers,
the Laplace approximation and the diagnostics all build on it; it imports no sampler).

Sampler output is an :class:`arviz.InferenceData` with groups ``posterior`` (θ and the
whitened coordinates ξ), ``sample_stats`` (ArviZ's names ``lp``, ``acceptance_rate``,
``diverging``, ``step_size``), ``log_likelihood``, ``observed_data`` and ``constant_data``,
and attributes recording the sampler, its parameters, the seed, solve counts and the version.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._files import atomic_path
from .space_record import RECORD_DIMS, record_space

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes

    from .fem.domain import LagrangeSpace
    from .fem.variational_spaces import DofSpace

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
    **RECORD_DIMS,
}


def build_inference_data(*, posterior: Mapping[str, np.ndarray],
                         sample_stats: Mapping[str, np.ndarray],
                         log_likelihood: Mapping[str, np.ndarray] | None,
                         observed_data: Mapping[str, ArrayLike],
                         constant_data: Mapping[str, ArrayLike], attrs: Mapping[str, Any],
                         first_draw: int = 0,
                         space: LagrangeSpace | DofSpace | None = None
                         ) -> az.InferenceData:
    """Assemble InferenceData from (chain, draw, ...) arrays; draws are numbered from
    ``first_draw`` (a part of a streamed run). ``space``: the FE space θ lives on, recorded
    in ``constant_data`` (see :mod:`bayesinv.space_record`) when θ has its
    number of dofs."""
    constant_data = dict(constant_data)
    record = None
    theta = posterior.get("theta")
    if space is not None and (theta is None or theta.shape[-1] == space.num_dofs):
        record = record_space(space)
    if record is not None:
        constant_data.update(record[0])
    spaces = [np.shape(a)[-1] for k, a in constant_data.items()
              if DIMS.get(k, [None])[-1] == "space"]
    coords: dict[str, Any] = {"space": ["x", "y", "z"][: spaces[0]]} if spaces else {}
    num_draws = next(iter(posterior.values())).shape[1]
    coords["draw"] = np.arange(first_draw, first_draw + num_draws)
    idata = az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        log_likelihood=log_likelihood,
        observed_data=observed_data,
        constant_data=constant_data,
        dims=DIMS,
        coords=coords,
        attrs=attrs,
    )
    if record is not None:
        idata.constant_data.attrs.update(record[1])
    return idata


def summary(data: Any, var_names: str | list[str] | None = None, **kwargs: Any
            ) -> pd.DataFrame:
    """ArviZ summary table (mean, sd, HDI, MCSE, ESS bulk/tail, R-hat)."""
    return az.summary(data, var_names=var_names, **kwargs)


def ess(data: Any, **kwargs: Any) -> xr.Dataset:
    """ArviZ's effective sample size (``method="bulk"``, ``"tail"``, ...) of each variable."""
    return az.ess(data, **kwargs)


def rhat(data: Any, **kwargs: Any) -> xr.Dataset:
    """ArviZ's rank-normalised split R-hat of each variable."""
    return az.rhat(data, **kwargs)


def mcse(data: Any, **kwargs: Any) -> xr.Dataset:
    """ArviZ's Monte Carlo standard error (``method="mean"``, ...) of each variable."""
    return az.mcse(data, **kwargs)


def dataset_from_draws(draws: Mapping[str, ArrayLike]) -> xr.Dataset:
    """An xarray Dataset with (chain, draw) dims from arrays of shape (chain, draw, ...)."""
    return az.convert_to_dataset({k: np.asarray(v) for k, v in draws.items()})


def write_netcdf_atomic(idata: az.InferenceData, path: str | os.PathLike[str]) -> None:
    """Write InferenceData to netCDF atomically: a temporary file, then ``os.replace``.

    A reader (``arviz.from_netcdf``) never sees a half-written file.
    """
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp))


def read_netcdf(path: str | os.PathLike[str]) -> az.InferenceData:
    """InferenceData from a netCDF file, loaded into memory (the file is closed after)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
        idata = az.from_netcdf(str(path))
    for group in idata.groups():
        getattr(idata, group).load()
    return idata


def concat_draws(parts: Iterable[az.InferenceData]) -> az.InferenceData:
    """Concatenate InferenceData parts along ``draw`` (other groups from the first part,
    attributes from the last)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    attrs = dict(parts[-1].attrs)  # the latest part's (ArviZ cannot compare array attrs)
    for part in parts:
        part.attrs = {}
    combined = az.concat(*parts, dim="draw")
    combined.attrs = attrs
    return combined


def convergence_diagnostics(idata: az.InferenceData, var_name: str = "xi"
                            ) -> dict[str, NDArray[np.float64]]:
    """Per-coordinate R-hat (rank-normalised split), bulk and tail ESS and MCSE of the mean.

    Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), via ArviZ. Returns arrays keyed
    ``rhat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean`` (flattened over the event dims).
    """
    data = idata.posterior[[var_name]]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return {
            "rhat": np.ravel(az.rhat(data)[var_name].values),
            "ess_bulk": np.ravel(az.ess(data, method="bulk")[var_name].values),
            "ess_tail": np.ravel(az.ess(data, method="tail")[var_name].values),
            "mcse_mean": np.ravel(az.mcse(data, method="mean")[var_name].values),
        }


def hdi(draws: ArrayLike, prob: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Highest-density intervals of each component of draws shaped (chain, draw, *shape).

    ArviZ's unimodal HDI: the shortest interval between order statistics that contains
    ⌊prob·n⌋ + 1 of the n pooled draws. Returns ``(lower, upper)``, each of shape ``shape``.
    Each component goes through ArviZ's 1-d path (~10–60 µs each), several times faster
    than its xarray path for the many small calls of a coverage study.
    """
    array = np.asarray(draws, dtype=float)
    flat = array.reshape(array.shape[0] * array.shape[1], -1)
    bounds = np.array([az.hdi(flat[:, j], hdi_prob=prob) for j in range(flat.shape[1])])
    bounds = bounds.reshape(*array.shape[2:], 2)
    return bounds[..., 0], bounds[..., 1]


def plot_ecdf_difference(values: ArrayLike, cdf: Callable[[np.ndarray], np.ndarray], ax: Axes,
                         *, eval_points: ArrayLike, rvs: Callable[..., np.ndarray] | None = None,
                         ci_prob: float = 0.95) -> Axes:
    """ArviZ's ECDF-difference plot of ``values`` against a reference ``cdf`` with a
    simultaneous confidence band (Säilynoja, Bürkner & Vehtari 2022) at fixed ``eval_points``
    (chosen independently of the values, so that the band is calibrated). For a discrete
    reference law pass ``rvs(n, random_state=...)``, a sampler of it, so the band is simulated
    for that law (from a fixed-seed Generator, advanced between simulated ECDFs)."""
    return az.plot_ecdf(np.asarray(values, dtype=float), cdf=cdf, difference=True,
                        confidence_bands="simulated" if rvs is not None else True,
                        ci_prob=ci_prob, rvs=rvs, random_state=np.random.default_rng(0),
                        eval_points=np.asarray(eval_points, dtype=float), ax=ax)
