"""Checkpoint files for resumable sampling runs, and fingerprints that tie them to one run.

A checkpoint holds everything the chains need to continue exactly where they stopped: each
chain's ``Generator`` bit-generator state, kernel state, current scale parameter, dual-
averaging state, iteration, divergence count and the draws kept so far (or, when streaming,
how many were written to disk), plus the preconditioner. Resuming from it gives draws
bit-identical to an uninterrupted run with the same seed.

Format: one NumPy ``.npz`` file (arrays, no pickles) whose ``__meta__`` entry is a JSON
document (bit-generator states, counters, fingerprints). Writes are atomic: a temporary file
in the same directory, flushed and fsync'ed, then ``os.replace`` onto the target, so a crash
or SIGKILL mid-write leaves the previous checkpoint intact.

Fingerprints are SHA-256 digests of (a) the problem — data, noise level, forward-map type,
dimensions and matrices or design points, prior type, factor and mean — and (b) the sampler
settings that determine the draws (method, draws, warm-up, thinning, chains, seed, tuning
arguments, initial positions, preconditioner). A checkpoint whose fingerprints differ is
refused with a message saying which part differs, never silently mixed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._files import atomic_path
from ..errors import InvalidArgumentError
from . import adaptation
from .chains import DRAW_KEYS, Chain, RunSettings
from .methods import Method

FORMAT_VERSION = 1


def _update(h, value) -> None:
    """Feed a value (array, sparse matrix, number, string, None, sequence, dict) to a hash."""
    if value is None:
        h.update(b"None")
    elif sp.issparse(value):
        csr = value.tocsr()
        h.update(f"sparse{csr.shape}".encode())
        for part in (csr.data, csr.indices, csr.indptr):
            _update(h, part)
    elif isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(value, dict):
        for key in sorted(value):
            h.update(str(key).encode())
            _update(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"seq{len(value)}".encode())
        for item in value:
            _update(h, item)
    else:
        h.update(repr(value).encode())


def digest(value) -> str:
    """SHA-256 of a nested structure of arrays, numbers and strings."""
    h = hashlib.sha256()
    _update(h, value)
    return h.hexdigest()


def problem_fingerprint(posterior) -> str:
    """Digest of what defines the posterior: data, noise, forward map and prior."""
    prior, like = posterior.prior, posterior.likelihood
    forward = like.forward
    parts = {
        "data": like.data, "noise_std": like.noise_std,
        "forward": type(forward).__qualname__,
        "dims": (forward.input_dim, forward.output_dim, prior.dim, prior.latent_dim),
        "prior": type(prior).__qualname__,
    }
    for name in ("matrix", "offset", "design"):
        if isinstance(getattr(forward, name, None), np.ndarray) or sp.issparse(
                getattr(forward, name, None)):
            parts[f"forward.{name}"] = getattr(forward, name)
    space = getattr(forward, "parameter_space", None)
    if space is not None and hasattr(space, "coordinates"):
        parts["forward.nodes"] = np.asarray(space.coordinates)
    for name in ("factor", "mean"):
        if isinstance(getattr(prior, name, None), np.ndarray):
            parts[f"prior.{name}"] = getattr(prior, name)
    return digest(parts)


def write(path, meta: dict, arrays: dict) -> None:
    """Write a checkpoint atomically (temporary file, fsync, ``os.replace``)."""
    payload = {"__meta__": np.array(json.dumps({"format": FORMAT_VERSION, **meta}))}
    payload.update(arrays)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **payload)


def read_meta(path) -> dict:
    """The metadata of a file written by :func:`write`, without loading its arrays."""
    with np.load(Path(path), allow_pickle=False) as data:
        return json.loads(str(data["__meta__"]))


def read(path) -> tuple[dict, dict]:
    """(metadata, arrays) of a checkpoint written by :func:`write`."""
    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return meta, arrays


def save_chains(path, chains: list[Chain], run: RunSettings, meta: dict,
                streamed: int | None, complete: bool) -> None:
    """Checkpoint every chain's state (see the module docstring) with the run's metadata."""
    arrays = {"sqrt_precond": run.method.sqrt_precond}
    chain_meta = []
    for c, ch in enumerate(chains):
        for name, value in run.method.state_to_arrays(ch.state).items():
            arrays[f"c{c}.state.{name}"] = value
        if ch.prediction is not None:
            arrays[f"c{c}.prediction"] = ch.prediction
        for key in DRAW_KEYS:
            value = ch.take(key)
            if value is not None:
                arrays[f"c{c}.buffer.{key}"] = value
                ch.buffer[key] = [value]
        chain_meta.append({
            "rng": ch.rng.bit_generator.state, "parameter": ch.parameter,
            "adapt_state": list(map(float, ch.adapt_state)), "iteration": ch.iteration,
            "num_divergent": ch.num_divergent, "acceptance_sum": ch.acceptance_sum,
            "buffered": ch.buffered()})
    write(path, {**meta, "chains": chain_meta, "streamed": streamed,
                            "complete": complete}, arrays)


def restore_chains(meta: dict, arrays: dict, method: Method) -> list[Chain]:
    """The chains saved by :func:`save_chains`, ready to continue bit for bit."""
    chains = []
    for c, cm in enumerate(meta["chains"]):
        prefix = f"c{c}.state."
        state = method.state_from_arrays(
            {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
        bitgen = getattr(np.random, cm["rng"]["bit_generator"])()
        bitgen.state = cm["rng"]
        chain = Chain(np.random.Generator(bitgen), state, float(cm["parameter"]),
                       adaptation.DualAveragingState(*cm["adapt_state"]), cm["iteration"],
                       cm["num_divergent"], cm["acceptance_sum"],
                       arrays.get(f"c{c}.prediction"))
        for key in DRAW_KEYS:
            value = arrays.get(f"c{c}.buffer.{key}")
            chain.buffer[key] = [] if value is None else [value]
        if cm["buffered"] and not chain.buffer["prediction"]:
            chain.buffer["prediction"] = [None]
        chains.append(chain)
    return chains


def check_resumable(path, meta: dict, problem: str, settings: str) -> None:
    """Refuse a checkpoint written for another problem or other sampler settings."""
    if meta.get("format") != FORMAT_VERSION:
        raise InvalidArgumentError(f"checkpoint {str(path)!r} has an unknown format")
    if meta["problem"] != problem:
        raise InvalidArgumentError(
            f"checkpoint {str(path)!r} was written for a different problem (data, noise, "
            f"forward map or prior differ): refusing to mix runs; delete it or use another "
            f"checkpoint path")
    if meta["settings"] != settings:
        raise InvalidArgumentError(
            f"checkpoint {str(path)!r} was written by a different sampler or settings "
            f"(method {meta.get('method')!r}; method, draws, warmup, thin, chains, seed, "
            f"tuning, init or preconditioner differ): refusing to mix runs; delete it or "
            f"use another checkpoint path")
