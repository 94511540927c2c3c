"""Series priors beyond the foundation: Neumann basis, other domains, cut-offs, the theory's
rescaling, eigenpair caching and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from bayesinv.errors import BayesinvWarning, InvalidArgumentError
from bayesinv.priors.series import SeriesPrior, default_num_modes, rescaling_exponent
from bayesinv.testing import bonferroni_threshold

pytestmark = pytest.mark.fem


def _exact(num, j0, aspect=1.0):
    """Sorted π²(j²/aspect² + k²) for j, k ≥ j0 (the Laplacian on (0, aspect) × (0, 1))."""
    j, k = np.meshgrid(np.arange(j0, 30), np.arange(j0, 30))
    return np.sort((np.pi**2 * (j**2 / aspect**2 + k**2)).ravel())[:num]


def test_neumann_eigenvalues_converge_at_rate_two_and_start_with_the_constant():
    from bayesinv.fem import unit_square
    from bayesinv.fem.eigen import laplacian_eigenpairs

    exact = _exact(7, 0)[1:]                     # π², π², 2π², 4π², 4π², 5π²
    errors = []
    for n in (8, 16, 32):
        domain = unit_square(n)
        lam, E = laplacian_eigenpairs(domain, 7, "neumann")
        assert lam[0] == 0.0
        np.testing.assert_allclose(E[:, 0], 1.0, rtol=1e-12)     # |O|^{-1/2} = 1
        M = domain.parameter_space.mass_matrix
        np.testing.assert_allclose(E.T @ (M @ E), np.eye(7), atol=1e-12)
        errors.append(np.abs(lam[1:] - exact) / exact)
    errors = np.array(errors)
    assert errors[-1].max() < 0.02
    rates = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.abs(rates - 2.0) < 0.15), rates


def test_dirichlet_eigenvalues_on_a_rectangle():
    """Any mesh: the (0, 2) × (0, 1) rectangle, λ = π²(j²/4 + k²), at rate 2."""
    import dolfinx.mesh
    from mpi4py import MPI

    from bayesinv.fem import Domain
    from bayesinv.fem.eigen import laplacian_eigenpairs

    exact = _exact(6, 1, aspect=2.0)
    errors = []
    for n in (6, 12, 24):
        mesh = dolfinx.mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [2.0, 1.0]],
                                             [2 * n, n], dolfinx.mesh.CellType.triangle)
        lam, _ = laplacian_eigenpairs(Domain(mesh, "rectangle"), 6)
        errors.append(np.abs(lam - exact) / exact)
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 2.0) < 0.2), rates


def test_eigenvalue_cutoff_keeps_exactly_the_modes_below_it():
    from bayesinv.fem import unit_square
    from bayesinv.fem.eigen import laplacian_eigenpairs

    domain = unit_square(16)
    for boundary in ("dirichlet", "neumann"):
        lam, E = laplacian_eigenpairs(domain, boundary=boundary, max_eigenvalue=150.0)
        ref, Eref = laplacian_eigenpairs(domain, lam.size + 1, boundary)
        assert lam[-1] <= 150.0 < ref[-1]
        np.testing.assert_array_equal(E, Eref[:, :-1])
    prior = SeriesPrior.laplacian(domain, alpha=2.0, max_eigenvalue=150.0)
    assert prior.num_modes == np.count_nonzero(laplacian_eigenpairs(domain, 40)[0] <= 150.0)


def test_eigenpairs_are_cached_per_mesh_and_boundary():
    from bayesinv.fem import unit_square
    from bayesinv.fem.eigen import laplacian_eigenpairs

    domain = unit_square(10)
    laplacian_eigenpairs(domain, 12, "neumann")
    entry = domain.cache["neumann_eigenpairs"]
    lam, _ = laplacian_eigenpairs(domain, 5, "neumann")          # served from the cache
    assert domain.cache["neumann_eigenpairs"] is entry
    np.testing.assert_array_equal(lam, entry[0][:5])
    assert "dirichlet_eigenpairs" not in domain.cache


def test_eigenpairs_on_disk_are_keyed_by_mesh_and_reused(tmp_path, monkeypatch):
    from bayesinv.fem import unit_square
    from bayesinv.fem.eigen import laplacian_eigenpairs

    monkeypatch.delenv("BAYESINV_CACHE_DIR", raising=False)
    lam, E = laplacian_eigenpairs(unit_square(8), 6, "neumann", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("eigenpairs-neumann-*.npz"))) == 1
    # A fresh Domain of the same mesh must read them back without computing (proving the
    # disk is used), for any request up to the stored number of modes.
    from bayesinv.fem import eigen

    def no_compute(*args):
        raise AssertionError("computed although the disk cache has the eigenpairs")

    monkeypatch.setenv("BAYESINV_CACHE_DIR", str(tmp_path))
    with monkeypatch.context() as patched:
        patched.setattr(eigen, "_compute", no_compute)
        lam2, E2 = laplacian_eigenpairs(unit_square(8), 4, "neumann")
    np.testing.assert_array_equal(lam2, lam[:4])
    np.testing.assert_array_equal(E2, E[:, :4])
    # more modes than stored: recomputed (and the file replaced); another mesh: another key
    lam3, _ = laplacian_eigenpairs(unit_square(8), 8, "neumann")
    np.testing.assert_allclose(lam3[:6], lam, rtol=1e-9, atol=1e-9)
    laplacian_eigenpairs(unit_square(8, diagonal="left"), 6, "neumann")
    laplacian_eigenpairs(unit_square(8), 6, "dirichlet")
    assert len(list(tmp_path.glob("*.npz"))) == 3
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.statistical(alpha=2e-3)
def test_neumann_prior_weights_and_functional_covariance(stat_seed):
    """Weights s(τ² + λ_k)^{−α/2} with τ² = 1 by default; ⟨θ, ψ⟩ covariances by z-scores.

    False-failure probability per run ≤ 2e-3: Bonferroni at 1e-3 over the covariances and at
    1e-3 over the means (normal limits of n = 20 000 iid draws).
    """
    from bayesinv.fem import unit_square

    domain = unit_square(10)
    space = domain.parameter_space
    prior = SeriesPrior.laplacian(domain, alpha=1.5, boundary="neumann", num_modes=25,
                                  scale=2.0, mean=lambda x: x[0])
    np.testing.assert_allclose(prior.coefficient_sd,
                               2.0 * (1.0 + prior.eigenvalues) ** (-0.75), rtol=1e-14)
    assert prior.shift == 1.0 and prior.boundary == "neumann"
    psis = np.column_stack([space.interpolate(1.0), space.interpolate(lambda x: x[0] * x[1]),
                            space.interpolate(lambda x: np.cos(3 * x[0]) - x[1])])
    n = 20_000
    draws = prior.sample(np.random.default_rng(5 + 1000 * stat_seed), size=n)
    values = draws @ (space.mass_matrix @ psis)
    proj = prior.eigenfunctions.T @ (space.mass_matrix @ psis)
    exact = proj.T @ (prior.coefficient_sd[:, None] ** 2 * proj)
    mean = prior.mean @ (space.mass_matrix @ psis)
    se = np.sqrt((exact**2 + np.outer(np.diag(exact), np.diag(exact))) / (n - 1))
    z = (np.cov(values.T) - exact) / se
    assert np.abs(z[np.triu_indices(3)]).max() < bonferroni_threshold(6), z
    z_mean = (values.mean(0) - mean) / np.sqrt(np.diag(exact) / n)
    assert np.abs(z_mean).max() < bonferroni_threshold(3), z_mean


@pytest.mark.parametrize("exponent", [None, 0.25])
def test_rescaled_prior_covariance_is_n_power_times_the_unscaled(exponent):
    from bayesinv.fem import unit_square

    domain = unit_square(8)
    alpha, N, d = 2.5, 500, 2
    a = d / (2 * alpha + d) if exponent is None else exponent
    scaled = SeriesPrior.laplacian(domain, alpha=alpha, num_modes=10, sample_size=N,
                                   rescale_exponent=exponent, mean=0.3)
    plain = SeriesPrior.laplacian(domain, alpha=alpha, num_modes=10, mean=0.3)
    np.testing.assert_allclose(scaled.covariance, N ** (-2 * a) * plain.covariance,
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(scaled.mean, plain.mean)    # the mean is not rescaled
    assert scaled.rescaling == pytest.approx(N ** (-a), rel=1e-14)


def test_theory_default_number_of_modes():
    from bayesinv.fem import unit_square

    assert rescaling_exponent(2.0, 2) == pytest.approx(1 / 3)
    assert default_num_modes(1000, 2.0, 2) == 10          # 1000^(1/3) = 10 exactly
    assert default_num_modes(1001, 2.0, 2) == 11
    prior = SeriesPrior.laplacian(unit_square(8), alpha=2.0, sample_size=400)
    assert prior.num_modes == int(np.ceil(400 ** (1 / 3)))  # 8
    assert prior.rescaling == pytest.approx(400 ** (-1 / 3))


def test_series_bad_input():
    from bayesinv.fem import unit_square

    domain = unit_square(4)
    with pytest.raises(InvalidArgumentError, match="only 25 vertices"):
        SeriesPrior.laplacian(domain, alpha=2.0, boundary="neumann", num_modes=25)
    with pytest.raises(InvalidArgumentError, match="only 9 interior vertices"):
        SeriesPrior.laplacian(domain, alpha=2.0, num_modes=9)
    with pytest.raises(InvalidArgumentError, match="num_modes or max_eigenvalue, not both"):
        SeriesPrior.laplacian(domain, alpha=2.0, num_modes=3, max_eigenvalue=50.0)
    with pytest.raises(InvalidArgumentError, match="give num_modes, max_eigenvalue, or"):
        SeriesPrior.laplacian(domain, alpha=2.0)
    with pytest.raises(InvalidArgumentError, match="rescale_exponent needs sample_size"):
        SeriesPrior.laplacian(domain, alpha=2.0, num_modes=3, rescale_exponent=0.5)
    with pytest.raises(InvalidArgumentError, match="below the smallest dirichlet eigenvalue"):
        SeriesPrior.laplacian(domain, alpha=2.0, max_eigenvalue=1.0)
    with pytest.raises(InvalidArgumentError, match="boundary must be one of"):
        SeriesPrior.laplacian(domain, alpha=2.0, num_modes=3, boundary="robin")
    with pytest.raises(InvalidArgumentError, match="shift must be a finite number >= 0"):
        SeriesPrior.laplacian(domain, alpha=2.0, num_modes=3, shift=-1.0)
    with pytest.raises(InvalidArgumentError, match="sample_size must be >= 1"):
        SeriesPrior.laplacian(domain, alpha=2.0, sample_size=0)
    # Neumann with τ² = 0 would divide by λ_0 = 0
    with pytest.raises(InvalidArgumentError, match=r"shift \+ eigenvalue > 0"):
        SeriesPrior.laplacian(domain, alpha=2.0, boundary="neumann", num_modes=3, shift=0.0)
    with pytest.warns(BayesinvWarning, match="alpha=0.9 <= d/2=1.0"):
        SeriesPrior.laplacian(domain, alpha=0.9, num_modes=3)
