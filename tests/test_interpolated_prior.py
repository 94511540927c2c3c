"""A prior on a coarse parameter mesh interpolated to a finer state mesh."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from bayesinv.errors import InvalidArgumentError
from bayesinv.priors.interpolated import InterpolatedPrior
from bayesinv.priors.kernels import KernelPrior, MaternKernel

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def meshes():
    from bayesinv.fem import unit_square

    return unit_square(4), unit_square(10)


def test_interpolation_is_exact_for_linear_functions_and_transposes(meshes, rng):
    coarse, fine = meshes
    base = KernelPrior.on_space(coarse.parameter_space, MaternKernel(2.5, 0.3), mean=0.2)
    prior = InterpolatedPrior.between(base, coarse.parameter_space, fine.parameter_space)
    assert (prior.dim, prior.latent_dim) == (121, 25)
    linear = lambda x: 1.0 + 2.0 * x[0] - 3.0 * x[1]  # noqa: E731
    P = prior.interpolation
    np.testing.assert_allclose(P @ coarse.parameter_space.interpolate(linear),
                               fine.parameter_space.interpolate(linear), atol=1e-12)
    xi, w = rng.standard_normal(25), rng.standard_normal(121)
    np.testing.assert_allclose(prior.to_physical(xi), P @ base.to_physical(xi), atol=1e-14)
    np.testing.assert_allclose(prior.to_physical_vjp(xi, w), base.factor.T @ (P.T @ w))


def test_degenerate_density_matches_scipy(meshes, rng):
    coarse, fine = meshes
    base = KernelPrior.on_space(coarse.parameter_space, MaternKernel(1.5, 0.4), jitter=1e-10,
                                mean=lambda x: x[1])
    prior = InterpolatedPrior.between(base, coarse.parameter_space, fine.parameter_space)
    L = prior.interpolation @ base.factor
    ref = scipy.stats.multivariate_normal(prior.mean, L @ L.T, allow_singular=True)
    for theta in prior.sample(rng, size=3):
        assert prior.logpdf(theta) == pytest.approx(ref.logpdf(theta), rel=1e-8)
    assert prior.logpdf(theta + 1e-3 * rng.standard_normal(prior.dim)) == -np.inf
    C = L @ L.T
    np.testing.assert_allclose(prior.grad_logpdf(theta),
                               -np.linalg.pinv(C, rcond=1e-12) @ (theta - prior.mean),
                               rtol=1e-6, atol=1e-8)


def test_points_just_outside_are_projected_onto_the_boundary(meshes):
    from bayesinv.fem.transfer import interpolation_matrix

    coarse, _ = meshes
    space = coarse.parameter_space
    u = space.interpolate(lambda x: 2.0 * x[0] + x[1])
    pts = np.array([[0.5, 0.5], [1.0 + 1e-4, 0.3], [-1e-5, 0.9], [0.25, -2e-4]])
    P = interpolation_matrix(space, pts)
    # values at the closest boundary points (1, 0.3), (0, 0.9), (0.25, 0)
    np.testing.assert_allclose(P @ u, [1.5, 2.3, 0.9, 0.5], atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="farther than tolerance"):
        interpolation_matrix(space, np.array([[1.5, 0.5]]))
    with pytest.raises(InvalidArgumentError, match="outside the domain"):
        interpolation_matrix(space, pts, outside="error")


def test_interpolated_prior_bad_input(meshes):
    coarse, fine = meshes
    base = KernelPrior.on_space(coarse.parameter_space, MaternKernel(2.5, 0.3))
    with pytest.raises(InvalidArgumentError, match="does not match the parameter space"):
        InterpolatedPrior.between(base, fine.parameter_space, coarse.parameter_space)
    with pytest.raises(InvalidArgumentError, match="must have 25 columns"):
        InterpolatedPrior(base, np.ones((4, 3)))
    # a fine prior seen on a coarse mesh: PᵀP is singular, so there is no density
    fine_base = KernelPrior.on_space(fine.parameter_space, MaternKernel(2.5, 0.3))
    down = InterpolatedPrior.between(fine_base, fine.parameter_space, coarse.parameter_space)
    with pytest.raises(InvalidArgumentError, match="does not have full column rank"):
        down.logpdf(down.sample(0))
