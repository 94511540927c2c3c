"""Streaming draws to disk for long chains: a directory of netCDF parts readable by ArviZ.

Every flush writes the draws kept since the previous one, for all chains, as one complete
ArviZ netCDF file ``part-<first draw>.nc`` (groups ``posterior``, ``sample_stats``,
``log_likelihood``, ``observed_data``, ``constant_data``; the ``draw`` coordinate carries the
global draw numbers), written to a temporary name and renamed into place. So while the run
continues any reader sees only complete parts: ``arviz.from_netcdf(part)`` reads one and
:func:`read_stream` concatenates all of them along ``draw``.

Why parts rather than one growing file: appending to a single HDF5/netCDF file while another
process reads it needs HDF5's SWMR mode, which neither ArviZ nor xarray use; a reader would
race the writer's metadata updates (and HDF5 file locks would block one of them). Zarr avoids
this, but ArviZ 0.23 supports only zarr < 3, which current xarray no longer reads. Parts cost
one file per flush; flushes happen at checkpoints and every ``stream_every`` kept draws.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..arviz_io import concat_draws, read_netcdf, write_netcdf_atomic
from ..errors import InvalidArgumentError

_PART = re.compile(r"^part-(\d{10})\.nc$")


class DrawStream:
    """The parts of one streamed run in ``directory``."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def parts(self) -> list[tuple[int, Path]]:
        """(first draw, path) of every complete part, in draw order."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            m = _PART.match(path.name)
            if m:
                found.append((int(m.group(1)), path))
        return sorted(found)

    def reset(self) -> None:
        """Start a fresh stream: create the directory and remove parts of an earlier run."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for _, path in self.parts():
            path.unlink()

    def truncate(self, num_draws: int) -> None:
        """Drop parts starting at or after ``num_draws`` (written after the last checkpoint)."""
        for first, path in self.parts():
            if first >= num_draws:
                path.unlink()

    def write(self, first_draw: int, idata) -> Path:
        path = self.directory / f"part-{first_draw:010d}.nc"
        write_netcdf_atomic(idata, path)
        return path

    def read(self):
        return read_stream(self.directory)


def read_stream(directory):
    """All parts of a streamed run concatenated along ``draw`` (one InferenceData).

    Works while the run is still writing: it reads the parts complete so far.
    """
    parts = DrawStream(directory).parts()
    if not parts:
        raise InvalidArgumentError(f"no streamed draws (part-*.nc files) in {str(directory)!r}")
    return concat_draws(read_netcdf(path) for _, path in parts)
