"""Where a run's kept draws go: one storage interface, three implementations.

As emcee's backends, a :func:`~bayesinv.samplers.driver.sample` run writes through one object,
chosen by :func:`make_storage` from the persistence options:

* :class:`InMemory` — draws stay in the chains' buffers until the end (the default);
* :class:`Streaming` — kept draws are written to a directory of netCDF parts while the run goes
  on (below), and read back at the end;
* :class:`Checkpointed` — wraps one of the two and also saves the resumable state of every
  chain (:mod:`.checkpoint`) every ``interval`` seconds, on SIGTERM and at the end.

The runner (:class:`~.runner.ChainRunner`) calls ``start`` once, ``flush`` after every block,
``save`` when ``due`` (or on a signal) and at the end if the storage is ``resumable`` (else a
last ``flush``), and ``result`` for the InferenceData; it supplies ``runner.chain_list``,
``runner.to_inference_data(arrays, attrs, first_draw)``, ``runner.run``, ``runner.part_attrs()`` and
``runner.checkpoint_meta()``. ``tests/test_storage.py`` runs every implementation through the
same suite.

Streaming draws to disk for long chains: a directory of netCDF parts readable by ArviZ.

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

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..arviz_io import concat_draws, read_netcdf, write_netcdf_atomic
from ..errors import InvalidArgumentError
from . import checkpoint as ckpt
from .chains import DRAW_KEYS, stack_draws

if TYPE_CHECKING:
    from arviz import InferenceData

    from .runner import ChainRunner

_PART = re.compile(r"^part-(\d{10})\.nc$")


class DrawStream:
    """The parts of one streamed run in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
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

    def write(self, first_draw: int, idata: InferenceData) -> Path:
        """Write the part of draws ``first_draw``, ... (atomically); its path."""
        path = self.directory / f"part-{first_draw:010d}.nc"
        write_netcdf_atomic(idata, path)
        return path

    def read(self) -> InferenceData:
        """All parts, concatenated along ``draw``."""
        return read_stream(self.directory)


def read_stream(directory: str | os.PathLike[str]) -> InferenceData:
    """All parts of a streamed run concatenated along ``draw`` (one InferenceData).

    Works while the run is still writing: it reads the parts complete so far.
    """
    parts = DrawStream(directory).parts()
    if not parts:
        raise InvalidArgumentError(f"no streamed draws (part-*.nc files) in {str(directory)!r}")
    return concat_draws(read_netcdf(path) for _, path in parts)


# -- the storage interface -----------------------------------------------------------------------

class InMemory:
    """Draws kept in the chains' buffers; the result is built from them at the end."""

    #: whether the storage saves the chains' state (checkpoints), so a run can resume
    resumable = False
    # where the resumable state goes (None: nowhere)
    path: Path | None = None
    #: draws written out of memory so far (None: this storage writes none)
    streamed: int | None = None

    def start(self, streamed: int | None) -> None:
        """A fresh run (``streamed`` None) or a resumed one that had streamed that many."""
        if streamed is not None:
            raise InvalidArgumentError(
                f"the checkpoint streamed {streamed} draws to disk: pass stream=<the same "
                f"directory> in persistence=Persistence(...) to resume it")

    def flush(self, runner: ChainRunner, everything: bool = True) -> None:
        """Write buffered draws out (nothing to do in memory)."""

    def due(self, seconds_since_save: float) -> bool:
        """Whether a checkpoint is due (never without one)."""
        return False

    def save(self, runner: ChainRunner, complete: bool = False) -> None:
        """Save the resumable state (nothing to do without a checkpoint)."""

    def result(self, runner: ChainRunner, attrs: dict[str, Any]) -> InferenceData:
        """The InferenceData of every kept draw, with ``attrs``."""
        return runner.to_inference_data(stack_draws(runner.chain_list), attrs)


class Streaming(InMemory):
    """Kept draws written as netCDF parts of ``every`` draws to ``directory`` (see the module
    docstring); the result is read back from the parts."""

    def __init__(self, directory: str | os.PathLike[str], every: int) -> None:
        self.stream = DrawStream(directory)
        self.every = every
        self.streamed: int = 0

    def start(self, streamed: int | None) -> None:
        if streamed is None:
            self.stream.reset()
            self.streamed = 0
        else:  # parts written after the checkpoint are dropped: they will be written again
            self.stream.truncate(streamed)
            self.streamed = streamed

    def flush(self, runner: ChainRunner, everything: bool = True) -> None:
        """Write buffered draws as parts of ``every`` draws (and the rest if asked)."""
        chain_list = runner.chain_list
        while True:
            n = min(ch.buffered() for ch in chain_list)
            if n == 0 or (n < self.every and not everything):
                return
            n = min(n, self.every)
            part = runner.to_inference_data(stack_draws(chain_list, n), runner.part_attrs(),
                                            first_draw=self.streamed)
            self.stream.write(self.streamed, part)
            for ch in chain_list:
                for key in DRAW_KEYS:
                    rest = ch.take(key)
                    ch.buffer[key] = [] if rest is None or len(rest) == n else [rest[n:]]
            self.streamed += n

    def result(self, runner: ChainRunner, attrs: dict[str, Any]) -> InferenceData:
        idata = self.stream.read()
        idata.attrs.update(attrs)
        return idata


class Checkpointed:
    """A draw storage (:class:`InMemory` or :class:`Streaming`) plus the resumable state of
    every chain, saved atomically to ``path`` every ``interval`` seconds, on SIGTERM and at the
    end (:mod:`.checkpoint`); a resumed run continues bit for bit."""

    resumable = True

    def __init__(self, path: str | os.PathLike[str], interval: float, draws: InMemory
                 ) -> None:
        self.path, self.interval, self.draws = Path(path), interval, draws

    @property
    def streamed(self) -> int | None:
        return self.draws.streamed

    def start(self, streamed: int | None) -> None:
        try:
            self.draws.start(streamed)
        except InvalidArgumentError:
            raise InvalidArgumentError(
                f"checkpoint {str(self.path)!r} streamed {streamed} draws to disk: pass "
                f"stream=<the same directory> in persistence=Persistence(...) to resume it"
            ) from None

    def flush(self, runner: ChainRunner, everything: bool = True) -> None:
        """Write buffered draws out through the wrapped storage."""
        self.draws.flush(runner, everything)

    def due(self, seconds_since_save: float) -> bool:
        return seconds_since_save >= self.interval

    def save(self, runner: ChainRunner, complete: bool = False) -> None:
        """Write a checkpoint of every chain (after flushing the draws)."""
        meta = runner.checkpoint_meta()  # (time and solves up to now, before the writes)
        self.draws.flush(runner)
        ckpt.save_chains(self.path, runner.chain_list, runner.run, meta, self.draws.streamed,
                         complete)

    def result(self, runner: ChainRunner, attrs: dict[str, Any]) -> InferenceData:
        """The wrapped storage's result."""
        return self.draws.result(runner, attrs)


def make_storage(*, checkpoint: str | os.PathLike[str] | None = None,
                 checkpoint_interval: float = 60.0,
                 stream: str | os.PathLike[str] | None = None,
                 stream_every: int = 1000) -> InMemory | Checkpointed:
    """The storage for ``sample()``'s persistence options (see its docstring)."""
    draws = InMemory() if stream is None else Streaming(stream, stream_every)
    if checkpoint is None:
        return draws
    return Checkpointed(checkpoint, checkpoint_interval, draws)
