"""Stable fingerprints of forward maps: a SHA-256 over what defines the map.

Checkpoints and result stores key runs on them, so that two maps that differ (in the PDE, the
mesh, the boundary data, the observation, the link, ...) can never resume each other's runs.
The hash covers arrays by dtype, shape and bytes, sparse matrices by their CSR arrays and other
values by ``repr``; it is the same in every process and on every run.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp


def fingerprint(*parts) -> str:
    """Hex SHA-256 of ``parts`` (arrays, sparse matrices, strings, numbers, reprs)."""
    h = hashlib.sha256()
    for p in parts:
        if sp.issparse(p):
            p = p.tocsr()
            p.sort_indices()
            for a in (p.indptr, p.indices, p.data):
                h.update(np.ascontiguousarray(a).tobytes())
        elif isinstance(p, np.ndarray):
            h.update(f"{p.dtype}{p.shape}".encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()
