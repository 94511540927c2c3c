r"""Priors on the fields and a reference non-Abelian problem (also a coverage-study factory).

The setting of Monard, Nickl & Paternain (2021, Ann. Statist. 49, §2–3): Φ: M → so(n) on
the unit disk with n(n−1)/2 component fields f_a, each with its own Gaussian-process prior;
N lines (X_i, V_i) drawn iid from the (normalised) Santaló measure on ∂₊SM; data
Y_i = C_Φ(X_i, V_i) + σ ε_i in R^{n×n}.

Priors are the package's kernel priors on the mesh nodes
(:class:`~bayesinv.priors.kernels.KernelPrior`, a Matérn GP by its truncated L²
Karhunen–Loève factor with the lumped P1 mass as quadrature weights); the fields are
independent a priori, so the prior on θ = (θ_1, …, θ_m) is the Gaussian with the
block-diagonal factor (:func:`stacked_prior`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .._validation import integer_at_least, positive_float
from ..errors import InvalidArgumentError
from ..priors.gaussian import GaussianPrior
from ..priors.kernels import Kernel, KernelPrior, MaternKernel
from ..synthetic import CoverageModel
from .geometry import LineQuadrature, Lines
from .mesh import Triangulation, disk_triangulation
from .transforms import NonAbelianXRayTransform


def field_prior(mesh: Triangulation, kernel: Kernel | None = None, *,
                variance_fraction: float = 0.99, max_rank=None) -> KernelPrior:
    """A centred GP prior on the nodal values of one field: ``kernel`` (default Matérn
    ν = 5/2, ℓ = 0.3, σ² = 1) by its L² Karhunen–Loève factor keeping ``variance_fraction``
    of the integrated variance."""
    kernel = MaternKernel(2.5, 0.3, 1.0) if kernel is None else kernel
    return KernelPrior(mesh.points, kernel, factor="eigen", weights=mesh.lumped_mass,
                       variance_fraction=variance_fraction, max_rank=max_rank)


def stacked_prior(priors) -> GaussianPrior:
    """The product of independent Gaussian priors on consecutive blocks of θ:
    θ = (m_1 + L_1 ξ_1, …, m_m + L_m ξ_m), i.e. N(m, blockdiag(C_1, …, C_m))."""
    priors = list(priors)
    if not priors or not all(isinstance(p, GaussianPrior) for p in priors):
        raise InvalidArgumentError(
            "priors must be a non-empty sequence of GaussianPrior (e.g. KernelPrior), got "
            f"{[type(p).__name__ for p in priors]}")
    return GaussianPrior(scipy.linalg.block_diag(*[p.factor for p in priors]),
                         mean=np.concatenate([p.mean for p in priors]))


def block_mass_matrix(mesh: Triangulation, num_fields: int) -> sp.csr_matrix:
    """blockdiag(M, …, M): ⟨Φ, Ψ⟩_{L²} = Σ_a ∫ f_a g_a = θᵀ M_block η."""
    return sp.block_diag([mesh.mass_matrix] * num_fields, format="csr")


def _bump(x, centre, width, height):
    return height * np.exp(-((x[0] - centre[0]) ** 2 + (x[1] - centre[1]) ** 2)
                           / (2 * width**2))


#: the true fields: Gaussian bumps (height, centre, width), negligible at the boundary
TRUTH_BUMPS = (
    ((2.0, (0.3, 0.2), 0.2), (-1.0, (-0.4, -0.3), 0.15)),
    ((-1.5, (-0.3, 0.25), 0.2),),
    ((1.5, (0.1, -0.35), 0.2),),
)

#: the functional's weight ψ (a bump on each field), with ⟨Φ, ψ⟩ = Σ_a ∫ f_a ψ_a
PSI_BUMPS = ((1.0, (0.2, 0.1), 0.3), (0.5, (-0.2, 0.2), 0.3), (0.5, (0.0, -0.3), 0.3))


def truth_fields(mesh: Triangulation, n: int) -> np.ndarray:
    """θ₀: the nodal values of the n(n−1)/2 fields of :data:`TRUTH_BUMPS` (stacked); for
    n = 2 the single field is the first."""
    m = n * (n - 1) // 2
    return np.concatenate([
        mesh.interpolate(lambda x, bumps=bumps: sum(_bump(x, c, w, h) for h, c, w in bumps))
        for bumps in TRUTH_BUMPS[:m]])


def psi_nodal(mesh: Triangulation, n: int) -> np.ndarray:
    """ψ's nodal values (stacked like θ)."""
    m = n * (n - 1) // 2
    return np.concatenate([mesh.interpolate(lambda x, b=b: _bump(x, b[1], b[2], b[0]))
                           for b in PSI_BUMPS[:m]])


@dataclass
class NonAbelianProblem:
    """Everything of the reference problem: mesh, lines, forward map, prior, truth θ₀, σ,
    the block mass matrix and ψ (stacked nodal values)."""

    mesh: Triangulation
    lines: Lines
    forward: NonAbelianXRayTransform
    prior: GaussianPrior
    truth: np.ndarray
    noise_std: float
    mass_matrix: sp.csr_matrix
    psi: np.ndarray

    @property
    def psi_weights(self) -> np.ndarray:
        """w with ⟨Φ, ψ⟩_{L²} = wᵀθ."""
        return self.mass_matrix @ self.psi


def nonabelian_problem(n: int = 3, *, num_lines: int = 400, steps: int = 40,
                       mesh_size: float = 0.12, noise_std: float = 0.1,
                       length_scale: float = 0.3, prior_variance: float = 1.0,
                       variance_fraction: float = 0.99, max_rank=None,
                       design_seed: int = 0) -> NonAbelianProblem:
    """The reference problem: :func:`disk_triangulation` (``mesh_size``), ``num_lines`` lines
    from the Santaló measure (seed ``design_seed``), ``steps`` midpoint steps, independent
    Matérn-5/2 priors on the fields, θ₀ from :data:`TRUTH_BUMPS`."""
    noise_std = positive_float("noise_std", noise_std)
    num_lines = integer_at_least("num_lines", num_lines, 1)
    mesh = disk_triangulation(mesh_size)
    lines = Lines.random(num_lines, seed=design_seed, distribution="santalo")
    forward = NonAbelianXRayTransform(LineQuadrature(lines, mesh, steps), n)
    kernel = MaternKernel(2.5, length_scale, prior_variance)
    one = field_prior(mesh, kernel, variance_fraction=variance_fraction, max_rank=max_rank)
    prior = stacked_prior([one] * forward.num_fields)
    return NonAbelianProblem(mesh, lines, forward, prior, truth_fields(mesh, n), noise_std,
                             block_mass_matrix(mesh, forward.num_fields), psi_nodal(mesh, n))


def nonabelian_model(**kwargs) -> CoverageModel:
    """A coverage-study factory (module-level, so picklable in a ``ProblemSpec``):
    :func:`nonabelian_problem` as a :class:`~bayesinv.synthetic.CoverageModel`
    with the block mass matrix."""
    p = nonabelian_problem(**kwargs)
    return CoverageModel(p.prior, p.forward, p.noise_std, truth=p.truth,
                         mass_matrix=p.mass_matrix)


def linear_model(*, num_lines: int = 60, steps: int = 30, mesh_size: float = 0.2,
                 noise_std: float = 0.05, attenuation: float | None = None,
                 length_scale: float = 0.3, variance_fraction: float = 0.95,
                 design_seed: int = 0) -> CoverageModel:
    """A linear–Gaussian coverage-study factory: the (attenuated, with constant
    ``attenuation``) X-ray transform as a :class:`~bayesinv.forward.linear.LinearForwardMap`
    (so the exact posterior applies) with a Matérn-5/2 prior on one field; truth = the first
    field of :data:`TRUTH_BUMPS`."""
    from .transforms import XRayTransform

    mesh = disk_triangulation(mesh_size)
    lines = Lines.random(integer_at_least("num_lines", num_lines, 1), seed=design_seed,
                         distribution="santalo")
    att = None if attenuation is None else np.full(mesh.num_nodes, float(attenuation))
    forward = XRayTransform(LineQuadrature(lines, mesh, steps), attenuation=att)
    prior = field_prior(mesh, MaternKernel(2.5, length_scale, 1.0),
                        variance_fraction=variance_fraction)
    return CoverageModel(prior, forward.as_linear_map(), noise_std,
                         truth=truth_fields(mesh, 2), mass_matrix=mesh.mass_matrix)
