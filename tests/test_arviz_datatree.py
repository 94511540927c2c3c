"""Results readable by ArviZ 1.x: netCDF files keep the InferenceData group schema.

ArviZ 1.x (arviz-base) reads results as an ``xarray.DataTree``; ``xarray.open_datatree``
(xarray >= 2024.10) is the reader it uses. The test writes a real sampling run with the
package's own writer and opens it that way.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bayesinv
from bayesinv.arviz_io import write_netcdf_atomic
from bayesinv.testing.linear_gaussian import linear_gaussian

GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data")
needs_datatree = pytest.mark.skipif(
    not hasattr(xr, "open_datatree"),
    reason=f"xarray {xr.__version__} has no open_datatree (needs >= 2024.10)")


def _check_tree(path, idata, groups):
    tree = xr.open_datatree(path)
    try:
        present = set(tree.children)
        assert set(groups) <= present, sorted(present)
        post = tree["posterior"].to_dataset()
        assert post["xi"].dims[:2] == ("chain", "draw")
        assert post.sizes["chain"] == 2 and post.sizes["draw"] == idata.posterior.sizes["draw"]
        np.testing.assert_array_equal(post["xi"].values, idata.posterior["xi"].values)
        np.testing.assert_array_equal(tree["observed_data"].to_dataset()["y"].values,
                                      idata.observed_data["y"].values)
        assert "lp" in tree["sample_stats"].to_dataset()
        assert tree["log_likelihood"].to_dataset()["y"].dims[:2] == ("chain", "draw")
        return {name: tree[name].to_dataset().load() for name in groups}
    finally:
        tree.close()


@pytest.mark.slow
@needs_datatree
def test_sampler_output_opens_with_xarray_open_datatree(tmp_path):
    problem = linear_gaussian(dim=4, num_observations=3, seed=3)
    idata = bayesinv.sample(problem.posterior, "pcn", draws=30, warmup=10, chains=2, seed=5,
                            progress=False, diagnostics=False)
    write_netcdf_atomic(idata, tmp_path / "run.nc")
    _check_tree(tmp_path / "run.nc", idata, GROUPS)


@needs_datatree
@pytest.mark.fem
def test_fem_run_with_constant_data_opens_with_xarray_open_datatree(tmp_path):
    from bayesinv import fem

    domain = fem.unit_square(4)
    design = np.array([[0.2, 0.3], [0.5, 0.5], [0.7, 0.4], [0.3, 0.8], [0.9, 0.1]])
    forward = fem.SchrodingerMap(domain, design, boundary_value=1.0)
    xy = domain.parameter_space.coordinates
    modes = [(1, 1), (1, 2), (2, 1)]
    lam = np.array([np.pi**2 * (j * j + k * k) for j, k in modes])
    E = np.column_stack([2 * np.sin(j * np.pi * xy[:, 0]) * np.sin(k * np.pi * xy[:, 1])
                         for j, k in modes])
    prior = bayesinv.SeriesPrior(lam, E, domain.parameter_space.mass_matrix, alpha=2.0,
                                  scale=1.0)  # the old default: this test is about the datatree
    data = forward(prior.to_physical(np.array([0.5, -0.3, 0.2])))
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, 0.05))
    idata = bayesinv.sample(posterior, "pcn", draws=20, warmup=5, chains=2, seed=1,
                            progress=False, diagnostics=False)
    write_netcdf_atomic(idata, tmp_path / "fem.nc")
    groups = _check_tree(tmp_path / "fem.nc", idata, (*GROUPS, "constant_data"))
    constant = groups["constant_data"]
    np.testing.assert_array_equal(constant["design"].values, design)
    np.testing.assert_array_equal(constant["node_coordinates"].values, xy)
    assert groups["posterior"]["theta"].shape == (2, 20, xy.shape[0])
