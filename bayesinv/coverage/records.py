r"""The file format of one replicate's result in a results store (``replicates/r000017.npz``).

A NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable with ``numpy.load`` alone,
without pickle) holding

* one entry per result array (``hit``, ``rank``, ``l2_error``, ...), and
* ``__record__``: a JSON string ``{"format": "bayesinv-replicate", "version": 2, "meta": {...},
  "sha256": "..."}`` — the metadata (study fingerprint, replicate index, status, traceback,
  host, pid, package version, the ``flags``/``failure`` strings) and the SHA-256 of the
  metadata and of every array (name, dtype, shape and bytes, in name order).

It is written atomically (:func:`bayesinv._files.atomic_path`: a temporary file in the same
directory, fsync'ed, then ``os.replace``) and read back verified: a file that cannot be read
(truncated), is not of this format or version, or fails its checksum (arrays damaged under
intact metadata) raises :class:`~bayesinv.errors.CorruptFileError` naming it. Version 1 files
(written through the samplers' checkpoint format by bayesinv before this module existed) are
not read: a store treats them as missing and recomputes those replicates.

The format belongs to the results store alone; sampler checkpoints have their own
(:mod:`bayesinv.samplers.checkpoint`), so either can change without the other.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._files import atomic_path
from ..errors import CorruptFileError, InvalidArgumentError

FORMAT = "bayesinv-replicate"
VERSION = 2
HEADER = "__record__"


def digest(meta: Mapping[str, Any], arrays: Mapping[str, ArrayLike]) -> str:
    """SHA-256 of the metadata (canonical JSON) and the arrays (name, dtype, shape, bytes)."""
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_record(path: str | os.PathLike[str], meta: Mapping[str, Any],
                 arrays: Mapping[str, ArrayLike]) -> Path:
    """Write one replicate's record atomically: ``meta`` (JSON-serialisable) and ``arrays``
    (numeric or string arrays; no objects, so reading never needs pickle)."""
    checked = {k: np.asarray(v) for k, v in arrays.items()}
    for name, a in checked.items():
        if name == HEADER or a.dtype.hasobject:
            raise InvalidArgumentError(
                f"record entry {name!r} must be a numeric or string array not named "
                f"{HEADER!r}, got dtype {a.dtype}")
    header = {"format": FORMAT, "version": VERSION, "meta": meta,
              "sha256": digest(meta, checked)}
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        entries: dict[str, Any] = {HEADER: np.array(json.dumps(header)), **checked}
        np.savez(f, **entries)
    return path


def _damaged(path: Path, why: str) -> CorruptFileError:
    return CorruptFileError(
        f"{str(path)!r} is not a readable replicate record ({why}); the store recomputes "
        f"the replicate (delete the file, or rerun)", path)


def read_record(path: str | os.PathLike[str]
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) of a record written by :func:`write_record`, verified. Raises
    :class:`~bayesinv.errors.CorruptFileError` naming the file when it is truncated,
    damaged, of another format or version, or fails its checksum; ``FileNotFoundError``,
    ``IsADirectoryError`` or ``PermissionError`` when it cannot be opened."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if HEADER not in data.files:
                raise _damaged(path, f"no {HEADER} entry")
            header = json.loads(str(data[HEADER]))
            arrays = {k: data[k] for k in data.files if k != HEADER}
    except (FileNotFoundError, IsADirectoryError, PermissionError, CorruptFileError):
        raise
    except Exception as exc:  # zip, zlib, npy-header and JSON errors of a damaged file
        raise _damaged(path, type(exc).__name__) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _damaged(path, "not a bayesinv replicate record")
    if header.get("version") != VERSION:
        raise _damaged(path, f"format version {header.get('version')!r}, this bayesinv "
                             f"reads version {VERSION}")
    meta = header.get("meta")
    if not isinstance(meta, dict) or header.get("sha256") != digest(meta, arrays):
        raise _damaged(path, "checksum mismatch: the content was changed after it was written")
    return meta, arrays
