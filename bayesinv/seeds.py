"""Seeds: the root :class:`numpy.random.SeedSequence` of a run and its children, statelessly.

Ground floor of the package (imports only :mod:`bayesinv.errors`): the samplers, the Laplace
approximation, the synthetic-experiment path and the coverage replicates all derive their random
streams here. A child is what ``seed.spawn`` would give the j-th time, computed without
mutating ``seed`` (:func:`child_seed`), so a replicate's or a chain's stream depends only on
(root seed, index) — not on the order in which they run.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError


def seed_sequence(seed) -> np.random.SeedSequence:
    """The root SeedSequence from an int, None (fresh entropy) or a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                        and seed >= 0):
        return np.random.SeedSequence(seed)
    raise InvalidArgumentError(
        f"seed must be a non-negative int, None or a numpy SeedSequence, got {seed!r}")


def child_seed(seed: np.random.SeedSequence, j: int) -> np.random.SeedSequence:
    """The j-th child of ``seed`` (what ``seed.spawn`` gives the j-th time), statelessly."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, j))
