r"""Eigenpairs of the Laplacian on a domain (P1 finite elements), cached per mesh.

Dirichlet: −Δe = λe in O, e = 0 on ∂O (0 < λ_1 ≤ λ_2 ≤ …). Neumann: −Δe = λe in O,
∂_n e = 0 on ∂O (0 = λ_0 < λ_1 ≤ …, e_0 = |O|^{−1/2} on a connected domain). The FE
eigenproblem is K e = λ M e (stiffness K, mass M) on the interior vertices (Dirichlet) or on
all vertices (Neumann), solved by shift-invert Lanczos (ARPACK). Eigenvalues converge at the
rate O(h²) for P1 (Strang & Fix 1973; Babuška & Osborn 1991).

Eigenfunctions are returned as nodal values, normalised so that eᵀ M e = 1, i.e. orthonormal
in L²(O) for the FE functions. Results are cached on ``domain.cache`` (one entry per boundary
condition); a request for fewer modes reuses a larger computation.

**Cost and the on-disk cache.** Hundreds of modes on a fine mesh cost as much as hundreds to
thousands of forward solves (measurements in benchmarks/results/design_notes.md and
priors.md): a few percent of one long run but a large share of short or repeated runs (a
coverage study runs many replicates, each in its own process, on the same mesh). The time is
ARPACK's Lanczos work (reorthogonalising ≈ 2D vectors), not the sparse solves. So besides the
in-memory cache there is an opt-in on-disk cache: pass ``cache_dir`` or set the environment variable
``BAYESINV_CACHE_DIR``; entries are ``.npz`` files keyed by a SHA-256 hash of the vertex
coordinates, the cells and the boundary condition, written atomically, and a file with at least
the requested number of modes is reused — after checking that it is this mesh's (its recorded
key, shapes, and the residuals of K e = λ M e); a foreign or damaged file is recomputed.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse.linalg as spla

from .._files import atomic_path
from .._validation import integer_at_least, one_of, positive_float
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from .domain import Domain
    from .general_domain import MeshDomain

BOUNDARY_CONDITIONS = ("dirichlet", "neumann")


def _available(space, boundary: str) -> tuple[np.ndarray, str]:
    if boundary == "dirichlet":
        return space.interior_dofs, "interior vertices"
    return np.arange(space.num_dofs), "vertices"


def _compute(domain, num: int, boundary: str):
    space = domain.parameter_space
    dofs, _ = _available(space, boundary)
    K = space.stiffness_matrix[dofs][:, dofs].tocsc()
    M = space.mass_matrix[dofs][:, dofs].tocsc()
    # A fixed starting vector: ARPACK's default random start would make the basis of
    # degenerate eigenspaces (e.g. λ = 5π² on the square) differ from run to run.
    v0 = np.random.default_rng(20240521).standard_normal(dofs.size)
    # Neumann: K is singular (constants), so shift below 0 (K − σM is then SPD).
    sigma = 0.0 if boundary == "dirichlet" else -1.0 / domain.measure ** (2.0 / domain.dim)
    vals, vecs = spla.eigsh(K, k=num, M=M, sigma=sigma, which="LM", v0=v0)
    order = np.argsort(vals)
    vals, vecs = vals[order], vecs[:, order]
    if boundary == "neumann":
        # The null space of K is exactly the constants on a connected mesh: use the exact
        # pair (0, |O|^{-1/2}) instead of ARPACK's round-off version.
        vals[0] = 0.0
        vecs[:, 0] = 1.0
    vecs /= np.sqrt(np.einsum("ik,ik->k", vecs, M @ vecs))
    vecs *= np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(num)])  # fix signs
    full = np.zeros((space.num_dofs, num))
    full[dofs] = vecs
    return vals, full


def _disk_path(domain, boundary: str, cache_dir) -> Path | None:
    cache_dir = os.environ.get("BAYESINV_CACHE_DIR") if cache_dir is None else cache_dir
    if not cache_dir:
        return None
    space = domain.parameter_space
    digest = hashlib.sha256(b"bayesinv laplacian eigenpairs v1 " + boundary.encode())
    digest.update(np.ascontiguousarray(space.coordinates, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(space.cell_dofs, dtype=np.int64).tobytes())
    return Path(cache_dir) / f"eigenpairs-{boundary}-{digest.hexdigest()[:32]}.npz"


def _eigenpairs_at_least(domain, num: int, boundary: str, cache_dir):
    """Cached eigenpairs with at least ``num`` modes: from memory, from disk, or computed."""
    key = f"{boundary}_eigenpairs"
    cached = domain.cache.get(key)
    if cached is not None and cached[0].size >= num:
        return cached
    path = _disk_path(domain, boundary, cache_dir)
    if path is not None and path.exists():
        loaded = _load_checked(path, domain, boundary)
        if loaded is not None and loaded[0].size >= num:
            domain.cache[key] = loaded
            return loaded
    cached = _compute(domain, num, boundary)
    domain.cache[key] = cached
    if path is not None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # readers never see half a file
            np.savez(fh, eigenvalues=cached[0], eigenfunctions=cached[1],
                     key=np.array(path.stem))
    return cached


def _load_checked(path: Path, domain, boundary: str):
    """Eigenpairs from a cache file, or None when the file is not this mesh's: it must be
    readable (no pickles), record this mesh's key, have one row per vertex, ascending finite
    eigenvalues, zero rows at the boundary (Dirichlet), and satisfy K e = λ M e and eᵀ M e = 1
    to a tolerance — so a foreign, damaged or edited file is recomputed, never used."""
    space = domain.parameter_space
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != path.stem:
                return None
            vals = np.asarray(data["eigenvalues"], dtype=float)
            vecs = np.asarray(data["eigenfunctions"], dtype=float)
    except Exception:  # truncated, damaged, an older file without a key: recompute
        return None
    if vals.ndim != 1 or vecs.shape != (space.num_dofs, vals.size) or vals.size == 0 \
            or not (np.isfinite(vals).all() and np.isfinite(vecs).all()) \
            or np.any(np.diff(vals) < 0):
        return None
    if boundary == "dirichlet" and np.any(vecs[space.boundary_dofs] != 0.0):
        return None
    dofs, _ = _available(space, boundary)
    K = space.stiffness_matrix[dofs][:, dofs]
    M = space.mass_matrix[dofs][:, dofs]
    e = vecs[dofs]
    Ke, Me = K @ e, M @ e
    residual = np.linalg.norm(Ke - Me * vals, axis=0)
    scale = max(float(np.abs(vals).max()), 1.0) * np.linalg.norm(Me, axis=0)
    if not (np.all(residual <= 1e-6 * scale)
            and np.allclose(np.einsum("ik,ik->k", e, Me), 1.0, rtol=0, atol=1e-8)):
        return None
    return vals, vecs


def weyl_count(domain: Domain | MeshDomain, max_eigenvalue: float) -> float:
    """Weyl's law: #{k : λ_k ≤ Λ} ≈ ω_d |O| Λ^{d/2} / (2π)^d (ω_d the unit-ball volume)."""
    d = domain.dim
    omega = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
    return omega * domain.measure * max_eigenvalue ** (d / 2) / (2 * math.pi) ** d


def laplacian_eigenpairs(domain: Domain | MeshDomain, num: int | None = None,
                         boundary: str = "dirichlet", *, max_eigenvalue: float | None = None,
                         cache_dir: str | os.PathLike[str] | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The smallest eigenpairs of −Δ on a domain with Dirichlet or Neumann conditions.

    Parameters
    ----------
    domain : Domain
    num : int, optional
        Number of eigenpairs (the ``num`` smallest). Give ``num`` or ``max_eigenvalue``.
    boundary : {"dirichlet", "neumann"}
    max_eigenvalue : float, optional
        Return every eigenpair with λ ≤ ``max_eigenvalue`` (an eigenvalue cut-off).
    cache_dir : str or Path, optional
        Directory of the on-disk cache; default ``$BAYESINV_CACHE_DIR`` (none if unset).

    Returns
    -------
    eigenvalues : ndarray, shape (D,)
        Ascending. For Neumann the first is exactly 0.
    eigenfunctions : ndarray, shape (num_vertices, D)
        Nodal values, M-orthonormal (zero on ∂O for Dirichlet).

    Raises
    ------
    InvalidArgumentError
        If more modes are requested than the mesh has (at most one fewer than the number of
        interior vertices for Dirichlet, of vertices for Neumann).
    """
    boundary = one_of("boundary", boundary, BOUNDARY_CONDITIONS)
    if (num is None) == (max_eigenvalue is None):
        raise InvalidArgumentError("give exactly one of num and max_eigenvalue")
    space = domain.parameter_space
    dofs, what = _available(space, boundary)
    limit = dofs.size - 1
    if max_eigenvalue is not None:
        max_eigenvalue = positive_float("max_eigenvalue", max_eigenvalue)
        num = min(limit, int(1.3 * weyl_count(domain, max_eigenvalue)) + 10)
        while True:
            cached = _eigenpairs_at_least(domain, num, boundary, cache_dir)
            if cached[0][-1] > max_eigenvalue or cached[0].size >= limit:
                break
            num = min(limit, 2 * num)
        num = int(np.searchsorted(cached[0], max_eigenvalue, side="right"))
        if num == 0:
            raise InvalidArgumentError(
                f"max_eigenvalue={max_eigenvalue} is below the smallest {boundary} eigenvalue "
                f"{cached[0][0]:.4g}: no modes would be kept")
        return cached[0][:num].copy(), cached[1][:, :num].copy()
    num = integer_at_least("num", num, 1)
    if num > limit:
        raise InvalidArgumentError(
            f"num_modes={num} is too large: the mesh has only {dofs.size} {what} "
            f"(at most {limit} {boundary} eigenpairs); refine the mesh or reduce num_modes")
    cached = _eigenpairs_at_least(domain, num, boundary, cache_dir)
    return cached[0][:num].copy(), cached[1][:, :num].copy()
