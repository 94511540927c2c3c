"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file bayesinv writes for later reading (checkpoints, streamed draws, replicate results,
manifests, studies, eigenpair caches) goes through :func:`atomic_path`: the content is written
to a temporary file in the target's directory (same file system, so the rename is atomic),
flushed to disk, then ``os.replace``-d onto the target. An exception removes the temporary
file; a killed process can leave one behind (``.<name>.<pid>@<host>.tmp``, see
:func:`temporary_owner`), which nothing reads. The host is in the name because directories
on a cluster's shared file system are written by processes on several nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path; on success it is fsync'ed and renamed onto
    ``path`` (parent directories are created). On an exception the target is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}@{socket.gethostname()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def temporary_owner(tmp) -> tuple[int, str] | None:
    """(pid, host) of the process writing the temporary file ``tmp`` of :func:`atomic_path`,
    or None for a name of another form."""
    stem = Path(tmp).name
    if not (stem.startswith(".") and stem.endswith(".tmp")):
        return None
    rest, _, host = stem[1:-4].rpartition("@")
    pid = rest.rpartition(".")[2]
    return (int(pid), host) if host and pid.isdigit() else None


def write_json_atomic(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
