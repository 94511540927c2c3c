"""Random neural-network field priors: the network against a NumPy reference, its transpose
and tangent actions (Taylor and dot-product tests), the infinite-width (NNGP) limit, pCN
invariance, compile-once, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from bayesinv.errors import InvalidArgumentError
from bayesinv.forward.linear import LinearForwardMap
from bayesinv.likelihood import GaussianLikelihood
from bayesinv.posterior import Posterior
from bayesinv.priors import _mlp
from bayesinv.priors.neural import NeuralFieldPrior
from bayesinv.samplers import sample
from bayesinv.testing import bonferroni_threshold, check_moments, check_prior

POINTS = np.array([[0.1, 0.2], [0.5, 0.5], [0.9, 0.3], [0.2, 0.8]])
GRID = np.stack(np.meshgrid(np.linspace(0, 1, 7), np.linspace(0, 1, 6)), -1).reshape(-1, 2)
NUMPY_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
                     "erf": scipy.special.erf, "sine": np.sin}


def reference_field(coords, xi, *, width, depth, activation, weight_variance, bias_variance,
                    output_scale=1.0, length_scale=1.0, fourier_features=0, fourier_scale=1.0,
                    seed=0):
    """The documented network, written independently in NumPy (one ξ)."""
    x = coords - 0.5 * (coords.min(0) + coords.max(0))
    if fourier_features:
        B = fourier_scale * np.random.default_rng(seed).standard_normal(
            (fourier_features, coords.shape[1]))
        h = np.hstack([np.cos(2 * np.pi * x @ B.T), np.sin(2 * np.pi * x @ B.T)])
    else:
        h = x / length_scale
    sw, sb = np.sqrt(weight_variance), np.sqrt(bias_variance)
    sizes = [h.shape[1], *[width] * depth, 1]
    pos = 0
    for l in range(depth + 1):
        n_in, n_out = sizes[l], sizes[l + 1]
        W = xi[pos:pos + n_out * n_in].reshape(n_out, n_in)
        b = xi[pos + n_out * n_in:pos + n_out * n_in + n_out]
        pos += n_out * n_in + n_out
        z = sw / np.sqrt(n_in) * h @ W.T + sb * b
        h = NUMPY_ACTIVATIONS[activation](z) if l < depth else output_scale * z
    assert pos == xi.shape[0]
    return h[:, 0]


# length_scale=1.0 given where the test was written for the old default (the reference
# field's default; the prior's default is now a quarter of the bounding box)
ARCHITECTURES = [
    {"width": 7, "depth": 1, "activation": "erf", "weight_variance": 2.0, "bias_variance": 0.3,
     "length_scale": 1.0},
    {"width": 5, "depth": 3, "activation": "tanh", "weight_variance": 1.5, "bias_variance": 0.5,
     "length_scale": 0.3, "output_scale": 2.0},
    {"width": 6, "depth": 2, "activation": "sine", "weight_variance": 1.0, "bias_variance": 1.0,
     "fourier_features": 4, "fourier_scale": 1.5, "seed": 3},
    {"width": 8, "depth": 2, "activation": "relu", "weight_variance": 2.0, "bias_variance": 0.1,
     "length_scale": 1.0},
]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: f"{a['activation']}")
def test_field_matches_numpy_reference_and_batches(rng, arch):
    prior = NeuralFieldPrior(GRID, **arch)
    xi = prior.sample_latent(rng, size=3)
    expected = np.stack([reference_field(GRID, x, **arch) for x in xi])
    np.testing.assert_allclose(prior.to_physical(xi), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prior.to_physical(xi[1]), expected[1], rtol=1e-12, atol=1e-12)
    # leading batch dimensions (chain, draw, k) and chunked sampling follow the same stream
    np.testing.assert_allclose(prior.to_physical(xi.reshape(3, 1, -1))[:, 0], expected,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prior.sample(np.random.default_rng(4), size=3),
                               prior.to_physical(prior.sample_latent(4, size=3)), rtol=1e-12)


@pytest.mark.parametrize("arch", ARCHITECTURES[:3], ids=lambda a: f"{a['activation']}")
def test_transpose_taylor_and_dot_product(rng, arch):
    """J_T against finite differences of T (remainder rate 1 relative to ε J_T v), J_Tᵀ as its
    transpose (⟨J_T h, v⟩ = ⟨h, J_Tᵀ v⟩ to round-off), batching and shapes."""
    prior = NeuralFieldPrior(GRID, **arch)
    report = check_prior(prior, rng, eps0=0.01, halvings=7)
    assert report.passed(tol=1e-11, rate_tol=0.15), str(report)


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: f"{a['activation']}")
def test_vjp_and_jvp_against_central_differences(rng, arch):
    """Also for ReLU, whose kinks spoil Taylor rates at large ε: tiny central differences."""
    prior = NeuralFieldPrior(GRID, **arch)
    xi, h, v = prior.sample_latent(rng), rng.standard_normal(prior.latent_dim), \
        rng.standard_normal(prior.dim)
    eps = 1e-6
    fd = (prior.to_physical(xi + eps * h) - prior.to_physical(xi - eps * h)) / (2 * eps)
    jvp = prior.to_physical_jvp(xi, h)
    np.testing.assert_allclose(jvp, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())
    assert prior.to_physical_vjp(xi, v) @ h == pytest.approx(v @ jvp, rel=1e-11)
    # the full Jacobian, column by column, against the transpose action row by row
    J = np.column_stack([prior.to_physical_jvp(xi, e) for e in np.eye(prior.latent_dim)[:12]])
    JT = np.stack([prior.to_physical_vjp(xi, e) for e in np.eye(prior.dim)])[:, :12]
    np.testing.assert_allclose(J, JT, rtol=1e-12, atol=1e-14)


def test_cached_forward_pass_is_not_stale(rng):
    """The one-entry cache must not serve the activations of another ξ (the batched path has
    no cache and is the reference)."""
    arch = {"width": 6, "depth": 2, "activation": "tanh", "length_scale": 1.0}  # old default
    prior = NeuralFieldPrior(GRID, **arch)
    xi1, xi2, v = prior.sample_latent(rng), prior.sample_latent(rng), rng.standard_normal(42)
    g1 = prior.to_physical_vjp(xi1, v)
    np.testing.assert_array_equal(prior.to_physical(xi2), prior.to_physical(xi2[None])[0])
    np.testing.assert_array_equal(prior.to_physical_vjp(xi1, v), g1)
    np.testing.assert_array_equal(
        g1, NeuralFieldPrior(GRID, **arch).to_physical_vjp(xi1, v))  # a fresh cache
    xi1[0] += 1.0  # mutated in place: recomputed
    np.testing.assert_array_equal(prior.to_physical(xi1), prior.to_physical(xi1[None])[0])
    np.testing.assert_allclose(prior.to_physical(xi1), reference_field(GRID, xi1, **arch,
                               weight_variance=1.0, bias_variance=1.0), rtol=1e-12)


def test_kernels_compile_once_per_dtype(rng):
    for arch in ARCHITECTURES:
        prior = NeuralFieldPrior(POINTS, **arch)
        xi = prior.sample_latent(rng)
        prior.to_physical_vjp(xi, rng.standard_normal(4))
        prior.to_physical_jvp(xi, rng.standard_normal(prior.latent_dim))
        prior.sample(rng, size=2)
    for kernel in (_mlp.forward, _mlp.forward_many, _mlp.transpose, _mlp.tangent):
        assert len(kernel.signatures) == 1, kernel


# -- the infinite-width limit ---------------------------------------------------------------------

def _hidden_square_moments(activation, k):
    """E φ(z)² and E φ(z)⁴ for z ~ N(0, k)."""
    if activation == "relu":
        return k / 2, 1.5 * k**2
    nodes, weights = np.polynomial.hermite_e.hermegauss(160)
    weights = weights / weights.sum()
    phi = NUMPY_ACTIVATIONS[activation](np.sqrt(k) * nodes)
    return weights @ phi**2, weights @ phi**4


def _moment_statistics(theta):
    """Known-mean (0) estimates with standard errors: covariances (upper triangle) and the
    fourth cumulant κ₄ = E θ⁴ − 3 (E θ²)² at the first point (delta method)."""
    M, n = theta.shape
    iu = np.triu_indices(n)
    prods = theta[:, iu[0]] * theta[:, iu[1]]
    cov, cov_se = prods.mean(0), prods.std(0, ddof=1) / np.sqrt(M)
    t2, t4 = theta[:, 0] ** 2, theta[:, 0] ** 4
    m2, m4 = t2.mean(), t4.mean()
    grad = np.array([-6 * m2, 1.0])
    k4_se = np.sqrt(grad @ np.cov(np.stack([t2, t4])) @ grad / M)
    return cov, cov_se, m4 - 3 * m2**2, k4_se


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["erf", "relu"])
@pytest.mark.statistical(alpha=2e-3)
def test_one_hidden_layer_approaches_the_nngp_limit(activation, stat_seed):
    """False-failure probability per run ≤ 2e-3 (Bonferroni at 1e-3 per width over the 24 z-scores;
    the width-16 non-Gaussianity check has power ≈ 1).
    """
    r"""One hidden layer, widths 16 (200 000 draws) and 4096 (10 000 draws), at 4 points.

    Covariance: for one hidden layer it *equals* the NNGP kernel at every width (the
    first-layer pre-activations are exactly Gaussian; see :mod:`bayesinv.priors.neural`), so
    the finite-width bias is 0 and the sample covariance must match the arcsine (erf) /
    arc-cosine (ReLU) closed form within MCSE at both widths. A wrong 1/fan-in scaling or
    kernel formula fails this by many MCSEs.

    Approach to the Gaussian limit: the law is a Gaussian scale mixture with fourth cumulant
    κ₄ = 3σ_w⁴ Var φ(z)²/n. At width 16 the sample κ₄ matches this and is far from 0 (not a
    GP); at width 4096 it is within MCSE of 0, and smaller than at 16.
    """
    sw2, sb2 = 2.0, 0.1
    z_max = bonferroni_threshold(2 * (10 + 2))
    kappa = {}
    for width, draws, seed in ((16, 200_000, 1), (4096, 10_000, 2)):
        prior = NeuralFieldPrior(POINTS, width=width, depth=1, activation=activation,
                                 weight_variance=sw2, bias_variance=sb2,
                                 length_scale=1.0)   # the old default the test was written for
        exact = prior.nngp_covariance()
        theta = prior.sample(np.random.default_rng(seed + 1000 * stat_seed), size=draws)
        cov, cov_se, k4, k4_se = _moment_statistics(theta)
        z_cov = (cov - exact[np.triu_indices(4)]) / cov_se
        assert np.abs(z_cov).max() < z_max, (width, z_cov)
        k1 = sb2 + sw2 * prior.inputs[0] @ prior.inputs[0] / 2
        e2, e4 = _hidden_square_moments(activation, k1)
        k4_theory = 3 * sw2**2 * (e4 - e2**2) / width
        assert abs(k4 - k4_theory) / k4_se < z_max, (width, k4, k4_theory, k4_se)
        kappa[width] = (k4 / exact[0, 0] ** 2, k4 / k4_se)
    assert kappa[16][1] > z_max         # significantly non-Gaussian at width 16 ...
    assert abs(kappa[4096][1]) < z_max  # ... Gaussian within MCSE at width 4096
    assert abs(kappa[4096][0]) < abs(kappa[16][0])


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["erf", "relu", "sine"])
@pytest.mark.statistical(alpha=1e-3)
def test_deep_nngp_recursion_matches_a_wide_network(activation, stat_seed):
    """Depth 2 (two non-linear layers, the recursion applied twice), width 64: the covariance
    bias is O(1/width), well below the MCSE of 20 000 draws.

    False-failure probability per run ≤ 1e-3 (Bonferroni over the 10 covariances; the O(1/width)
    bias is far below the MCSE).
    """
    prior = NeuralFieldPrior(POINTS, width=64, depth=2, activation=activation,
                             weight_variance=1.5, bias_variance=0.2, length_scale=0.4,
                             output_scale=0.7)
    exact = prior.nngp_covariance()
    np.testing.assert_allclose(exact, prior.nngp_covariance(POINTS, POINTS), rtol=1e-14)
    theta = prior.sample(np.random.default_rng(7 + 1000 * stat_seed), size=20_000)
    cov, cov_se, _, _ = _moment_statistics(theta)
    z = (cov - exact[np.triu_indices(4)]) / cov_se
    assert np.abs(z).max() < bonferroni_threshold(3 * 10), z


def test_fourier_features_make_the_first_layer_stationary():
    """⟨γ(x), γ(x')⟩/n₀ → ½ exp(−2π²s²|x − x'|²) (Rahimi & Recht 2007) for many features."""
    prior = NeuralFieldPrior(POINTS, fourier_features=20_000, fourier_scale=0.8, width=2,
                             depth=1)
    gram = prior.inputs @ prior.inputs.T / prior.inputs.shape[1]
    d2 = ((POINTS[:, None] - POINTS[None]) ** 2).sum(-1)
    np.testing.assert_allclose(gram, 0.5 * np.exp(-2 * np.pi**2 * 0.8**2 * d2), atol=0.02)


@pytest.mark.slow
@pytest.mark.statistical(alpha=1e-3)
def test_pcn_with_constant_likelihood_keeps_the_weight_prior(stat_seed):
    """A zero forward map makes ℓ constant: pCN accepts every proposal and ξ stays N(0, I), so
    θ(x) keeps mean 0 and the NNGP variance (exact at depth 1).

    False-failure probability per run ≤ 1e-3 (t-tests across 16 chains and the calibrated R-hat
    gate).
    """
    prior = NeuralFieldPrior(POINTS, width=16, depth=1, activation="erf",
                             weight_variance=2.0, bias_variance=0.3, length_scale=0.5)
    forward = LinearForwardMap(np.zeros((3, prior.dim)))
    posterior = Posterior(prior, GaussianLikelihood(forward, np.ones(3), 0.1))
    idata = sample(posterior, "pcn", beta=0.5, draws=1000, chains=16,
                   seed=11 + 1000 * stat_seed, progress=False,
                   diagnostics=False)  # converged is checked below, on the functionals
    assert float(idata.sample_stats["acceptance_rate"].min()) == 1.0
    theta = idata.posterior["theta"].values
    xi = idata.posterior["xi"].values[..., [0, 17, prior.latent_dim - 1]]
    draws = np.concatenate([theta, xi], axis=-1)
    sd = np.concatenate([np.sqrt(np.diag(prior.nngp_covariance())), np.ones(3)])
    check = check_moments(draws, np.zeros(7), sd)
    assert check.converged, str(check)
    assert check.passed, str(check)


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"activation": "gelu"}, r"activation must be one of \['erf', 'relu', 'sine', 'tanh'\]"),
    ({"width": 0}, "width must be >= 1, got 0"),
    ({"depth": 0}, "depth must be >= 1, got 0"),
    ({"depth": 2.5}, "depth must be an integer >= 1, got 2.5"),
    ({"weight_variance": 0.0}, "weight_variance must be > 0, got 0.0"),
    ({"bias_variance": -1.0}, "bias_variance must be > 0, got -1.0"),
    ({"output_scale": np.nan}, "output_scale must be a finite positive number"),
    ({"length_scale": -2.0}, "length_scale must be > 0"),
    ({"fourier_features": -1}, "fourier_features must be >= 0"),
    ({"fourier_features": 3, "fourier_scale": 0.0}, "fourier_scale must be > 0"),
    ({"fourier_features": 3, "seed": -1}, "seed must be a non-negative int"),
    ({"center": [0.5]}, r"center must be a finite point of shape \(2,\)"),
    ({"mean": np.zeros(3)}, r"mean must be a finite scalar or an array of shape \(4,\)"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        NeuralFieldPrior(POINTS, **kwargs)


@pytest.mark.parametrize("coords", [np.zeros(4), np.zeros((0, 2)), np.zeros((3, 0)),
                                    np.full((2, 2), np.inf), np.zeros((2, 2, 1))])
def test_bad_coordinates(coords):
    with pytest.raises(InvalidArgumentError, match="coordinates must"):
        NeuralFieldPrior(coords)


def test_bad_shapes_in_the_transport():
    prior = NeuralFieldPrior(POINTS, width=3, depth=1)
    xi = np.zeros(prior.latent_dim)
    with pytest.raises(InvalidArgumentError, match=f"last dimension {prior.latent_dim}"):
        prior.to_physical(np.zeros(prior.latent_dim + 1))
    with pytest.raises(InvalidArgumentError, match=r"v must have shape \(4,\)"):
        prior.to_physical_vjp(xi, np.zeros(5))
    with pytest.raises(InvalidArgumentError, match=rf"v must have shape \({prior.latent_dim},\)"):
        prior.to_physical_jvp(xi, np.zeros(4))
    with pytest.raises(InvalidArgumentError, match="single latent vector"):
        prior.to_physical_vjp(np.zeros((2, prior.latent_dim)), np.zeros(4))
    with pytest.raises(InvalidArgumentError, match=r"points must have shape \(n, 2\)"):
        NeuralFieldPrior(POINTS, activation="erf").nngp_covariance(np.zeros((3, 3)))
    with pytest.raises(InvalidArgumentError, match="closed form for activation in"):
        NeuralFieldPrior(POINTS, activation="tanh").nngp_covariance()
