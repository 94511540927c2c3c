"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file bayesinv writes for later reading (checkpoints, streamed draws, replicate results,
manifests, studies, eigenpair caches) goes through :func:`atomic_path`: the content is written
to a temporary file in the target's directory (same file system, so the rename is atomic),
flushed to disk, then ``os.replace``-d onto the target. An exception removes the temporary
file; a killed process can leave one behind (``.<name>.<pid>.tmp``), which nothing reads.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path; on success it is fsync'ed and renamed onto
    ``path`` (parent directories are created). On an exception the target is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
