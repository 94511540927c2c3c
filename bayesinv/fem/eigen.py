"""Eigenpairs of the Dirichlet Laplacian on a domain (P1 finite elements), cached per mesh."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from .._validation import integer_at_least
from ..errors import InvalidArgumentError


def laplacian_eigenpairs(domain, num: int):
    """The ``num`` smallest eigenpairs of −Δ with e = 0 on ∂O.

    Solves K e = λ M e on the interior P1 vertices (shift-invert Lanczos about 0) and returns
    ``(eigenvalues, eigenfunctions)`` with eigenfunctions as nodal values, shape
    (num_vertices, num), normalised so that eᵀ M e = 1 (orthonormal in L²(O)). Results are
    cached on the domain; a request for fewer modes reuses a larger computation.
    """
    num = integer_at_least("num", num, 1)
    space = domain.parameter_space
    interior = space.interior_dofs
    if num >= interior.size:
        raise InvalidArgumentError(
            f"num_modes={num} is too large: the mesh has only {interior.size} interior vertices "
            f"(at most {interior.size - 1} eigenpairs); refine the mesh or reduce num_modes")
    cached = domain.cache.get("dirichlet_eigenpairs")
    if cached is None or cached[0].size < num:
        K = space.stiffness_matrix[interior][:, interior].tocsc()
        M = space.mass_matrix[interior][:, interior].tocsc()
        # A fixed starting vector: ARPACK's default random start would make the basis of
        # degenerate eigenspaces (e.g. λ = 5π² on the square) differ from run to run.
        v0 = np.random.default_rng(20240521).standard_normal(interior.size)
        vals, vecs = spla.eigsh(K, k=num, M=M, sigma=0.0, which="LM", v0=v0)
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
        vecs /= np.sqrt(np.einsum("ik,ik->k", vecs, M @ vecs))
        vecs *= np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(num)])  # fix signs
        full = np.zeros((space.num_dofs, num))
        full[interior] = vecs
        domain.cache["dirichlet_eigenpairs"] = cached = (vals, full)
    return cached[0][:num].copy(), cached[1][:, :num].copy()
