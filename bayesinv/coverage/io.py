"""Coverage studies on disk: the study Dataset as netCDF, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from .._files import atomic_path


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a study atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp)
    return path


def load_coverage_study(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a study written by :func:`run_coverage_study` (``output=``) or ``write_netcdf``."""
    ds = xr.load_dataset(path)
    ds["flagged"] = ds["flagged"].astype(bool)
    return ds
