"""Per-draw quantities computed one draw at a time, so that they do not depend on grouping.

A BLAS product over a block of rows rounds a row differently depending on how many rows the
block has and where the row sits in it (edge tiles take other micro-kernels). Results that
must be bit-identical however a run was split into blocks, stream parts or resumed sessions
(θ = T(ξ) of stored draws, predictions G(θ) of kept draws) are therefore computed row by
row, each row copied into the same contiguous buffer, so every row meets the same arithmetic.
"""

from __future__ import annotations

import numpy as np


def rowwise(fn, rows) -> np.ndarray:
    """``fn`` applied to each row of ``rows`` (shape (..., k)) on its own.

    Returns an array of shape (..., m) with ``out[i] = fn(rows[i])`` for every leading index
    i; ``fn`` maps a contiguous length-k vector to a length-m vector.
    """
    rows = np.asarray(rows, dtype=float)
    lead, k = rows.shape[:-1], rows.shape[-1]
    flat = rows.reshape(-1, k)
    buffer = np.empty(k)
    out = None
    for i in range(flat.shape[0]):
        buffer[:] = flat[i]
        value = np.asarray(fn(buffer), dtype=float)
        if out is None:
            out = np.empty((flat.shape[0], value.shape[-1]))
        out[i] = value
    if out is None:
        # no rows: ask fn for the output length with a zero vector
        out = np.empty((0, np.asarray(fn(np.zeros(k))).shape[-1]))
    return out.reshape(*lead, out.shape[-1])
