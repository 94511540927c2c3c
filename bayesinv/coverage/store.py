"""A results directory for coverage studies: one file per replicate, a manifest, resume.

Layout of a study directory::

    manifest.json            what the study is: fingerprint (config hash), root seed, number
                             of replicates, package version, the plan's metadata
    replicates/r000017.npz   replicate 17's result (hits, ranks, diagnostics, ...)
    running/r000017.json     present while replicate 17 is in flight: pid, host, start time

Every file is written atomically: a temporary file in the same directory, flushed and
fsync'ed, then ``os.replace`` onto its name (the replicate files in the store's own format,
:mod:`bayesinv.coverage.records`; the same recipe for JSON), so a worker killed mid-write (SIGKILL,
pre-emption, a dead node) leaves either the previous state or the complete file, never a
half-written one under the final name. Each replicate file carries the study fingerprint, its
replicate index and a SHA-256 checksum of its content; on a rerun (and for ``status`` and
``report``) every file is read in full and verified, and a file that cannot be read
(truncated by a full disk, say), fails its checksum (damaged arrays under intact metadata)
or carries another fingerprint or index (copied from another study) is not trusted: the
replicate counts as missing, is recomputed and the file replaced.

A replicate's result depends only on (root seed, replicate index) — replicate r uses
``SeedSequence(seed).spawn(R)[r]`` — so a study resumed, split into SLURM array tasks or MPI
ranks, or run on a Dask cluster gives the same files as one uninterrupted serial run.

Status of a replicate: ``done`` (a valid result file; a sampler divergence is a *result*,
flagged in the study), ``failed`` (the replicate raised: the file records the traceback; the
study went on), ``running`` (a marker from a live process, or from another host), ``stale``
(a marker left by a process on this host that no longer exists, e.g. killed) and ``missing``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._files import temporary_owner, write_json_atomic
from .._version import __version__
from ..errors import ConfigError, CorruptFileError, InvalidArgumentError
from . import replicate as _replicate
from .records import read_record, write_record

if TYPE_CHECKING:
    from .replicate import ReplicateTask
    from .spec import Executor
    from .study import CoveragePlan

MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # 2: replicate files in the format of bayesinv.coverage.records
STATES = ("done", "failed", "running", "stale", "missing")
_TEXT_KEYS = ("flags", "failure")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ReplicateStore:
    """The per-replicate results of one study in ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # -- the manifest ------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def manifest(self) -> dict[str, Any] | None:
        """The manifest, or None when the directory holds no study yet. A manifest that
        cannot be read (truncated, not JSON) raises
        :class:`~bayesinv.errors.CorruptFileError` naming it."""
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, IsADirectoryError) as exc:
            raise CorruptFileError(
                f"{str(self.manifest_path)!r} is not a study manifest ({type(exc).__name__}); "
                f"restore it, or move the directory aside and rerun", self.manifest_path
            ) from None
        try:
            manifest = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptFileError(
                f"{str(self.manifest_path)!r} is truncated or damaged (not valid JSON: {exc}); "
                f"restore it, or move the directory aside and rerun", self.manifest_path
            ) from None
        missing = [k for k in ("fingerprint", "replicates", "seed", "metadata")
                   if not isinstance(manifest, dict) or k not in manifest]
        if missing:
            raise CorruptFileError(
                f"{str(self.manifest_path)!r} is not a complete study manifest (no "
                f"{missing[0]!r}); restore it, or move the directory aside and rerun",
                self.manifest_path)
        return manifest

    def open(self, fingerprint: str, metadata: Mapping[str, Any], *,
             fixed_truth: NDArray[np.float64] | None = None, config: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
        """Create the manifest, or check that the directory holds this very study.

        ``metadata`` and ``fixed_truth`` are the plan's (:class:`CoveragePlan`): with them the
        study can be merged from the files alone. Raises ConfigError when the directory holds
        another study (a different fingerprint): results of different configurations are
        never mixed.
        """
        self._remove_orphaned_temporaries()
        existing = self.manifest()
        if existing is not None:
            if existing.get("fingerprint") != fingerprint:
                raise ConfigError(
                    f"{self.directory} holds results of a different study (config hash "
                    f"{existing.get('fingerprint', '?')[:12]}, this one {fingerprint[:12]}); "
                    f"refusing to mix them. Use another output directory (--output DIR) or "
                    f"--new-output to pick a fresh one")
            return existing
        manifest = {
            "format": FORMAT_VERSION, "fingerprint": fingerprint,
            "seed": metadata["attrs"]["seed"], "replicates": metadata["attrs"]["replicates"],
            "bayesinv_version": __version__,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "metadata": metadata,
            "fixed_truth": None if fixed_truth is None else [float(v) for v in fixed_truth],
            "config": config,
        }
        write_json_atomic(self.manifest_path, manifest)
        return manifest

    def _remove_orphaned_temporaries(self) -> None:
        """Delete temporary files left by processes *of this host* that were killed
        mid-write (they are never read; this only tidies up). Another node's temporaries are
        left alone: their writers may be alive. Only regular files in the study directory
        and its real subdirectories are considered: a symbolic link (to a directory or a
        file) is never followed."""
        host = socket.gethostname()
        for folder in self._real_directories():
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")) \
                            or not entry.is_file(follow_symlinks=False):
                        continue
                    owner = temporary_owner(entry.name)
                    if owner is not None and owner[1] == host and not _pid_alive(owner[0]):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)

    def _real_directories(self) -> list[str]:
        """The study directory and its subdirectories that are not symbolic links."""
        if not self.directory.is_dir():
            return []
        out = [str(self.directory)]
        with os.scandir(self.directory) as entries:
            out += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        return out

    # -- replicate files ---------------------------------------------------------------------

    def record_path(self, r: int) -> Path:
        """The result file of replicate r."""
        return self.directory / "replicates" / f"r{r:06d}.npz"

    def marker_path(self, r: int) -> Path:
        """The marker file present while replicate r runs."""
        return self.directory / "running" / f"r{r:06d}.json"

    def write(self, r: int, result: Mapping[str, Any], *, fingerprint: str,
              status: str = "done", error: str = "") -> Path:
        """Write replicate r's result atomically."""
        meta = {"fingerprint": fingerprint, "replicate": int(r), "status": status,
                "error": error, "host": socket.gethostname(), "pid": os.getpid(),
                "bayesinv_version": __version__,
                **{k: result[k] for k in _TEXT_KEYS}}
        arrays = {k: np.asarray(v) for k, v in result.items() if k not in _TEXT_KEYS}
        return write_record(self.record_path(r), meta, arrays)

    def read(self, r: int, fingerprint: str | None = None
             ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(meta, result) of replicate r, or None if the file is missing, unreadable
        (truncated) or belongs to another study or replicate."""
        path = self.record_path(r)
        if not path.exists():
            return None
        try:
            meta, arrays = read_record(path)
        except (CorruptFileError, OSError):  # truncated, damaged, unreadable: "not a result"
            return None
        fingerprint = fingerprint or (self.manifest() or {}).get("fingerprint")
        if meta.get("fingerprint") != fingerprint or meta.get("replicate") != int(r):
            return None
        result: dict[str, Any] = dict(arrays)
        result.update({k: meta[k] for k in _TEXT_KEYS})
        return meta, result

    def read_meta(self, r: int, fingerprint: str | None) -> dict[str, Any] | None:
        """The metadata of replicate r's file, or None where :meth:`read` would give None.
        The whole file is read and its checksum verified (a file with intact metadata but
        damaged arrays is not a result): enough for status and resume decisions."""
        got = self.read(r, fingerprint)
        return None if got is None else got[0]

    def load_results(self, indices: Iterable[int]) -> dict[int, dict[str, Any]]:
        """{r: result} for the replicates in ``indices`` with a valid file (done or failed)."""
        fingerprint = (self.manifest() or {}).get("fingerprint")
        out = {}
        for r in indices:
            got = self.read(r, fingerprint)
            if got is not None:
                out[int(r)] = got[1]
        return out

    def mark_running(self, r: int) -> None:
        """Write replicate r's marker (this process's pid and host, the time)."""
        write_json_atomic(self.marker_path(r), {
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})

    def clear_running(self, r: int) -> None:
        """Remove replicate r's marker (if any)."""
        self.marker_path(r).unlink(missing_ok=True)

    # -- status ------------------------------------------------------------------------------

    def states(self, replicates: int | None = None) -> dict[int, tuple[str, str]]:
        """{r: (state, detail)} for r < R, with state one of :data:`STATES`."""
        manifest = self.manifest()
        if manifest is None:
            raise ConfigError(f"{self.directory} is not a study directory (no {MANIFEST})")
        R = manifest["replicates"] if replicates is None else replicates
        fingerprint = manifest["fingerprint"]
        host = socket.gethostname()
        out = {}
        for r in range(R):
            meta = self.read_meta(r, fingerprint)
            if meta is not None:
                detail = meta["error"].strip().splitlines()[-1] if meta["error"] else ""
                out[r] = (meta["status"], detail)
                continue
            marker = self.marker_path(r)
            try:
                info = json.loads(marker.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                state = "missing"
                detail = "unreadable or foreign result file" if self.record_path(r).exists() \
                    else ""
                out[r] = (state, detail)
                continue
            where = f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')}"
            if info.get("host") == host and not _pid_alive(int(info.get("pid", -1))):
                out[r] = ("stale", where + " (process gone)")
            else:
                out[r] = ("running", where)
        return out

    def counts(self) -> dict[str, int]:
        """{state: number of replicates in it}, for every state of :data:`STATES`."""
        states = [s for s, _ in self.states().values()]
        return {s: states.count(s) for s in STATES}

    def pending(self, indices: Iterable[int], *, retry_failed: bool = False) -> list[int]:
        """The replicates among ``indices`` still to compute (no valid file; failed ones
        too with ``retry_failed``)."""
        fingerprint = (self.manifest() or {}).get("fingerprint")
        out = []
        for r in indices:
            meta = self.read_meta(r, fingerprint)
            if meta is None or (retry_failed and meta["status"] == "failed"):
                out.append(int(r))
        return out


class StoredReplicate:
    """The worker function: run one replicate task, write its file, return its status.

    Picklable (a directory and a fingerprint), so any executor can ship it. A replicate
    that raises is written as ``failed`` with the traceback — the study goes on.
    """

    def __init__(self, directory: str | os.PathLike[str], fingerprint: str) -> None:
        self.directory = str(directory)
        self.fingerprint = fingerprint

    def __call__(self, task: ReplicateTask) -> tuple[int, str]:
        store = ReplicateStore(self.directory)
        r = task.replicate
        store.mark_running(r)
        start = time.perf_counter()
        try:
            # looked up at call time: a test may wrap run_replicate in the worker process
            result, status, error = _replicate.run_replicate(task), "done", ""
        except Exception as exc:
            error = traceback.format_exc()
            result, status = _replicate.failed_result(task, exc, start), "failed"
        store.write(r, result, fingerprint=self.fingerprint, status=status, error=error)
        store.clear_running(r)
        return r, status


def run_stored(store: ReplicateStore, plan: CoveragePlan, executor: Executor | None = None, *,
               indices: Iterable[int] | None = None, retry_failed: bool = False,
               progress: Callable[[int, str], object] | None = None) -> list[int]:
    """Run the plan's replicates among ``indices`` (default all) that have no valid file yet,
    each writing its own file, with ``executor.map`` (None: serially, here); returns the
    indices run. ``progress``: a callable taking the
    (index, status) of each finished replicate (in task order)."""
    manifest = store.manifest()
    if manifest is None:
        raise InvalidArgumentError(
            f"store: {str(store.directory)!r} holds no study (no manifest); start the study "
            f"there first")
    fingerprint = manifest["fingerprint"]
    run_all = map if executor is None else executor.map
    todo = store.pending(range(plan.replicates) if indices is None else indices,
                         retry_failed=retry_failed)
    worker = StoredReplicate(store.directory, fingerprint)
    for r, status in run_all(worker, [plan.tasks[r] for r in todo]):
        if progress is not None:
            progress(r, status)
    return todo
