"""Checkpoint files for resumable sampling runs, and fingerprints that tie them to one run.

A checkpoint holds everything the chains need to continue exactly where they stopped: each
chain's ``Generator`` bit-generator state, kernel state, current scale parameter, dual-
averaging state, iteration, divergence count and the draws kept so far (or, when streaming,
how many were written to disk), plus the preconditioner. Resuming from it gives draws
bit-identical to an uninterrupted run with the same seed.

Format (version 2): one NumPy ``.npz`` file (arrays, no pickles) whose ``__meta__`` entry is
a JSON document (format version, bit-generator states, counters, fingerprints, the run's
warm-up, thinning and length) with a SHA-256 checksum over the metadata and every array.
:func:`read` verifies the checksum and that each chain holds exactly the draws its iteration
count keeps, and raises :class:`~bayesinv.errors.CorruptFileError` naming the file for a
damaged, truncated, edited or foreign file (or one of another format version). Writes are
atomic: a temporary file in the same directory, flushed and fsync'ed, then ``os.replace``
onto the target, so a crash or SIGKILL mid-write leaves the previous checkpoint intact.

Fingerprints are SHA-256 digests of (a) the problem — data, noise level, forward-map type and
the map's own ``fingerprint()`` where it has one (every FEM map),
dimensions and matrices or design points, prior type, factor and mean and the prior's own
``fingerprint()`` where it has one (SPDE priors, hyperparameter wrappers) — and (b) the sampler
settings that determine the draws (method, draws, warm-up, thinning, chains, seed, tuning
arguments, initial positions, preconditioner). A checkpoint whose fingerprints differ is
refused with a message saying which part differs, never silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import numpy as np
import scipy.sparse as sp

from .._files import atomic_path
from ..errors import CorruptFileError, InvalidArgumentError
from . import adaptation
from .chains import DRAW_KEYS, Chain, RunSettings, num_kept
from .methods import Method

if TYPE_CHECKING:
    from ..posterior import Posterior

FORMAT_VERSION = 2


class _Hash(Protocol):
    """What :func:`_update` uses of a :mod:`hashlib` object."""

    def update(self, data: bytes, /) -> None: ...


def _update(h: _Hash, value: Any) -> None:
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


def digest(value: Any) -> str:
    """SHA-256 of a nested structure of arrays, numbers and strings."""
    h = hashlib.sha256()
    _update(h, value)
    return h.hexdigest()


def problem_fingerprint(posterior: Posterior) -> str:
    """Digest of what defines the posterior: data, noise, forward map and prior."""
    prior, like = posterior.prior, posterior.likelihood
    forward = like.forward
    parts = {
        # a Gibbs-sampled σ: its starting value (noise_std moves with the chain)
        "data": like.data, "noise_std": getattr(like, "initial", like.noise_std),
        "forward": type(forward).__qualname__,
        "dims": (forward.input_dim, forward.output_dim, prior.dim, prior.latent_dim),
        "prior": type(prior).__qualname__,
    }
    for name in ("matrix", "offset", "design"):
        if isinstance(getattr(forward, name, None), np.ndarray) or sp.issparse(
                getattr(forward, name, None)):
            parts[f"forward.{name}"] = getattr(forward, name)
    fingerprint = getattr(forward, "fingerprint", None)
    if callable(fingerprint):  # the map's own account of itself
        parts["forward.fingerprint"] = fingerprint()
    space = getattr(forward, "parameter_space", None)
    if space is not None and hasattr(space, "coordinates"):
        parts["forward.nodes"] = np.asarray(space.coordinates)
    for name in ("factor", "mean"):
        if isinstance(getattr(prior, name, None), np.ndarray):
            parts[f"prior.{name}"] = getattr(prior, name)
    fingerprint = getattr(prior, "fingerprint", None)
    if callable(fingerprint):  # e.g. a ScaledPrior's wrapped prior
        parts["prior.fingerprint"] = fingerprint()
    return digest(parts)


def _checksum(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the metadata (less its checksum) and every array (name, dtype, shape,
    bytes)."""
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return digest({"meta": json.dumps(body, sort_keys=True), "arrays": dict(arrays)})


def write(path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, Any]
          ) -> None:
    """Write a checkpoint atomically (temporary file, fsync, ``os.replace``), with its
    format version and a SHA-256 checksum of its content in the metadata."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    meta = {**meta, "format": FORMAT_VERSION}
    meta["checksum"] = _checksum(meta, arrays)
    payload = {"__meta__": np.array(json.dumps(meta)), **arrays}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **payload)


def _damaged(path: str | os.PathLike[str], why: str) -> CorruptFileError:
    return CorruptFileError(
        f"{str(path)!r} is damaged or not a bayesinv file ({why}); delete it (a checkpoint: "
        f"the run then starts afresh) or restore it from a copy", path)


@overload
def _load(path: str | os.PathLike[str], *, arrays: Literal[True]
          ) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...


@overload
def _load(path: str | os.PathLike[str], *, arrays: Literal[False]
          ) -> tuple[dict[str, Any], None]: ...


def _load(path: str | os.PathLike[str], *, arrays: bool
          ) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """(metadata, arrays or None) of a file written by :func:`write`, the metadata checked
    for its format version and a checksum (the checksum itself is verified by :func:`read`)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__meta__" not in data.files:
                raise _damaged(path, "no metadata entry")
            meta = json.loads(str(data["__meta__"]))
            loaded = {k: data[k] for k in data.files if k != "__meta__"} if arrays else None
    except (FileNotFoundError, IsADirectoryError, PermissionError, CorruptFileError):
        raise
    except Exception as exc:  # zip, zlib, npy-header and JSON errors of a damaged file
        raise _damaged(path, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                       if str(exc) else type(exc).__name__) from None
    if not isinstance(meta, dict):
        raise _damaged(path, "the metadata is not a JSON object")
    if meta.get("format") != FORMAT_VERSION:
        raise _damaged(path, f"format version {meta.get('format')!r}, this bayesinv reads "
                       f"{FORMAT_VERSION}")
    if "checksum" not in meta:
        raise _damaged(path, "no checksum")
    return meta, loaded


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a file written by :func:`write`, without loading (or verifying) its
    arrays. Raises :class:`~bayesinv.errors.CorruptFileError` naming the file when it cannot
    be read."""
    return _load(path, arrays=False)[0]


def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of a checkpoint written by :func:`write`, verified: the checksum
    must match and a sampler checkpoint must be consistent (below). Raises
    :class:`~bayesinv.errors.CorruptFileError` naming the file otherwise."""
    meta, arrays = _load(path, arrays=True)
    if _checksum(meta, arrays) != meta["checksum"]:
        raise _damaged(path, "checksum mismatch: the content was changed after it was "
                       "written")
    if "chains" in meta:
        _check_chain_counts(path, meta, arrays)
    return meta, arrays


def _check_chain_counts(path: str | os.PathLike[str], meta: dict[str, Any],
                        arrays: dict[str, np.ndarray]) -> None:
    """Each chain's kept draws (buffered + streamed) must be exactly those of its
    ``iteration`` steps under the run's warm-up and thinning, and at most ``total`` steps:
    a resumed run can never return more (or fewer) draws than asked for."""
    run = meta.get("run")
    if not isinstance(run, dict):
        raise _damaged(path, "no run shape (warmup, thin, total) in the metadata")
    warmup, thin, total = run.get("warmup"), run.get("thin"), run.get("total")
    if not (isinstance(warmup, int) and isinstance(thin, int) and isinstance(total, int)
            and warmup >= 0 and thin >= 1):
        raise _damaged(path, f"the run shape is warmup={warmup!r}, thin={thin!r}, "
                       f"total={total!r}; expected integers with warmup >= 0 and thin >= 1")
    streamed = meta.get("streamed") or 0
    for c, cm in enumerate(meta["chains"]):
        it, buffered = cm.get("iteration"), cm.get("buffered")
        if not (isinstance(it, int) and 0 <= it <= total):
            raise _damaged(path, f"chain {c}: iteration {it!r} outside [0, {total}]")
        expected = num_kept(0, it, warmup, thin)
        if buffered + streamed != expected:
            raise _damaged(path, f"chain {c}: {buffered} buffered + {streamed} streamed "
                           f"draws, but {it} steps keep {expected}")
        for key in DRAW_KEYS:
            value = arrays.get(f"c{c}.buffer.{key}")
            if value is not None and len(value) != buffered:
                raise _damaged(path, f"chain {c}: {len(value)} buffered {key!r} draws, the "
                               f"metadata says {buffered}")


def save_chains(path: str | os.PathLike[str], chains: list[Chain], run: RunSettings,
                meta: dict[str, Any], streamed: int | None, complete: bool) -> None:
    """Checkpoint every chain's state (see the module docstring) with the run's metadata."""
    arrays = {"sqrt_precond": run.method.sqrt_precond}
    chain_meta = []
    for c, ch in enumerate(chains):
        for name, value in run.method.state_to_arrays(ch.state).items():
            arrays[f"c{c}.state.{name}"] = value
        if ch.prediction is not None:
            arrays[f"c{c}.prediction"] = ch.prediction
        for key in DRAW_KEYS:
            draws = ch.take(key)
            if draws is not None:
                arrays[f"c{c}.buffer.{key}"] = draws
                ch.buffer[key] = [draws]
        chain_meta.append({
            "rng": ch.rng.bit_generator.state, "parameter": ch.parameter,
            "adapt_state": list(map(float, ch.adapt_state)), "iteration": ch.iteration,
            "num_divergent": ch.num_divergent, "acceptance_sum": ch.acceptance_sum,
            "buffered": ch.buffered()})
    write(path, {**meta, "chains": chain_meta, "streamed": streamed, "complete": complete,
                 "run": {"warmup": run.warmup, "thin": run.thin, "total": run.total}},
          arrays)


def restore_chains(meta: dict[str, Any], arrays: dict[str, np.ndarray], method: Method
                   ) -> list[Chain]:
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


def check_resumable(path: str | os.PathLike[str], meta: dict[str, Any], problem: str,
                    settings: str) -> None:
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
