"""One prior contract for every sampler: ``check_prior`` on every family, the check catching
broken priors, the samplers and curvature tools running on the new families, and the plot."""

from __future__ import annotations

import numpy as np
import pytest

import bayesinv
from bayesinv.forward.linear import LinearForwardMap
from bayesinv.priors.base import WhitenedPrior
from bayesinv.priors.gaussian import GaussianPrior
from bayesinv.testing import check_prior


def _fem_priors():
    from bayesinv.fem import unit_square
    from bayesinv.priors.interpolated import InterpolatedPrior
    from bayesinv.priors.kernels import KernelPrior, MaternKernel, SquaredExponentialKernel
    from bayesinv.priors.series import SeriesPrior
    from bayesinv.priors.spde import WhittleMaternPrior

    domain, coarse = unit_square(8), unit_square(4)
    space, cspace = domain.parameter_space, coarse.parameter_space
    return {
        "series-dirichlet": SeriesPrior.laplacian(domain, alpha=2.0, num_modes=12,
                                                  mean=lambda x: x[0]),
        "series-neumann-rescaled": SeriesPrior.laplacian(domain, alpha=1.5, boundary="neumann",
                                                         sample_size=300),
        "spde-beta1": WhittleMaternPrior.from_matern(domain, length_scale=0.3, mean=1.0),
        "spde-beta2-lumped": WhittleMaternPrior.from_matern(domain, length_scale=0.3, beta=2,
                                                            noise="lumped"),
        "kernel-cholesky": KernelPrior.on_space(space, MaternKernel(2.5, 0.2), jitter=1e-10),
        "kernel-eigen": KernelPrior.on_space(space, SquaredExponentialKernel(0.3),
                                             factor="eigen"),
        "interpolated-spde": InterpolatedPrior.between(
            WhittleMaternPrior.from_matern(coarse, length_scale=0.4), cspace, space),
    }


@pytest.fixture(scope="module")
def fem_priors():
    return _fem_priors()


@pytest.mark.fem
@pytest.mark.parametrize("name", ["series-dirichlet", "series-neumann-rescaled", "spde-beta1",
                                  "spde-beta2-lumped", "kernel-cholesky", "kernel-eigen",
                                  "interpolated-spde"])
def test_every_prior_family_satisfies_the_contract(fem_priors, name):
    report = check_prior(fem_priors[name], 3)
    assert report.passed(), f"{name}:\n{report}"
    assert report.logpdf_rates is not None and report.whitened_gradient_error is not None


class _LogNormal(WhitenedPrior):
    """θ = exp(m + Lξ) (a non-linear T); ``bug`` breaks one part of the contract."""

    def __init__(self, L, bug=None):
        self.L, self.bug = L, bug
        self.dim, self.latent_dim = L.shape

    def to_physical(self, xi):
        return np.exp(self.check_latent(xi) @ self.L.T)

    def to_physical_jvp(self, xi, v):
        out = self.to_physical(xi) * (self.L @ v)
        return 1.01 * out if self.bug == "jvp" else out

    def to_physical_vjp(self, xi, v):
        w = self.to_physical(xi) * v
        return (self.L.T[:, ::-1] if self.bug == "vjp" else self.L.T) @ w

    def logpdf(self, theta):
        """log N(log θ; 0, LLᵀ) − Σ log θ_i (L square and invertible)."""
        z = np.linalg.solve(self.L, np.log(theta))
        return float(-0.5 * z @ z - 0.5 * self.dim * np.log(2 * np.pi)
                     - np.log(abs(np.linalg.det(self.L))) - np.log(theta).sum())

    def grad_logpdf(self, theta):
        g = -np.linalg.solve(self.L @ self.L.T, np.log(theta)) / theta - 1.0 / theta
        return 1.05 * g if self.bug == "grad" else g


class _BadGradient(GaussianPrior):
    def grad_logpdf(self, theta):
        return 1.05 * super().grad_logpdf(theta)


class _BadDensity(GaussianPrior):
    def logpdf(self, theta):
        return super().logpdf(theta) + 0.01 * float(np.sum(theta))


def test_check_prior_accepts_a_nonlinear_prior_and_catches_each_defect(rng):
    L = 0.3 * rng.standard_normal((5, 5))
    good = check_prior(_LogNormal(L), 1)
    assert good.passed(), str(good)
    assert good.logpdf_rates is not None and good.latent_consistency is None   # non-linear
    rates = np.log2(good.jvp_remainders[:-1] / good.jvp_remainders[1:])
    assert np.all(np.abs(rates - 1.0) < 0.2)             # a genuinely non-linear T
    assert not check_prior(_LogNormal(L, bug="jvp"), 1).passed()
    assert not check_prior(_LogNormal(L, bug="grad"), 1).passed()   # only the Taylor test sees it
    bad_vjp = check_prior(_LogNormal(L, bug="vjp"), 1)
    assert bad_vjp.dot_product_error > 1e-3 and not bad_vjp.passed()
    F = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    assert check_prior(GaussianPrior(F, 1.0), 1).passed()
    assert not check_prior(_BadGradient(F, 1.0), 1).passed()
    bad_density = check_prior(_BadDensity(F, 1.0), 1)
    assert bad_density.latent_consistency > 1e-4 and not bad_density.passed()


@pytest.mark.fem
def test_samplers_and_curvature_run_on_the_spde_prior_in_whitened_form(fem_priors):
    """MAP (via to_physical_vjp) and the Gauss–Newton Hessian (via to_physical_jvp) equal
    the exact linear–Gaussian answers computed from the dense factor; pCN stores θ = T(ξ)."""
    from bayesinv.samplers.tuning import gauss_newton_hessian

    prior = fem_priors["spde-beta1"]
    rng = np.random.default_rng(4)
    G = LinearForwardMap(rng.standard_normal((6, prior.dim)) / prior.dim)
    truth = prior.sample(rng)
    sigma = 0.05
    y = G(truth) + sigma * rng.standard_normal(6)
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, y, noise_std=sigma))
    B = G.matrix @ prior.dense_factor()
    H = np.eye(prior.latent_dim) + B.T @ B / sigma**2
    xi_map = np.linalg.solve(H, B.T @ (y - G.matrix @ prior.mean)) / sigma**2
    np.testing.assert_allclose(gauss_newton_hessian(posterior, np.zeros(prior.latent_dim)), H,
                               rtol=1e-10, atol=1e-10)
    result = bayesinv.find_map(posterior)
    np.testing.assert_allclose(result.position, xi_map, atol=1e-5)
    idata = bayesinv.sample(posterior, "pcn", beta=0.3, draws=20, chains=2, seed=0,
                            progress=False, diagnostics=False)
    xi = idata.posterior["xi"].values
    np.testing.assert_allclose(idata.posterior["theta"].values, prior.to_physical(xi),
                               atol=1e-12)


@pytest.mark.fem
def test_plot_prior_draws_shows_the_draws_on_one_scale(fem_priors):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesinv.fem import unit_square
    from bayesinv.plotting import plot_prior_draws

    prior = fem_priors["spde-beta1"]
    space = unit_square(8).parameter_space
    axes = plot_prior_draws(prior, space, n=3, seed=7, title="SPDE")
    assert len(axes) == 3
    draws = prior.sample(np.random.default_rng(7), size=3)
    for ax, draw in zip(axes, draws, strict=True):
        np.testing.assert_allclose(ax.collections[0].get_array(), draw)
    limits = {ax.collections[0].get_clim() for ax in axes}
    assert len(limits) == 1                                        # one shared colour scale
    lo, hi = limits.pop()
    assert lo <= draws.min() and hi >= draws.max()
    assert len(axes[0].figure.axes) == 4                          # three fields + a colour bar
    plt.close("all")
