"""Results that know their FE space, and the ParaView (XDMF) export read back with h5py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.fem

fem = pytest.importorskip("bayesinv.fem")

import bayesinv  # noqa: E402
from bayesinv.arviz_io import (  # noqa: E402
    build_inference_data,
    read_netcdf,
    write_netcdf_atomic,
)
from bayesinv.diagnostics import (  # noqa: E402
    functional_interval,
    l2_ball,
    point_value_interval,
    pointwise_intervals,
    simultaneous_band,
)
from bayesinv.errors import InvalidArgumentError  # noqa: E402
from bayesinv.fem import _compat  # noqa: E402
from bayesinv.fem.variational import DofSpace  # noqa: E402
from bayesinv.io import posterior_fields, read_fields, write_paraview  # noqa: E402
from bayesinv.space_record import RecordedSpace, recorded_space  # noqa: E402


def idata_on(space, seed=0, chains=2, draws=40):
    """InferenceData of random draws of θ on ``space`` (recording it), and the draws."""
    arr = np.random.default_rng(seed).standard_normal((chains, draws, space.num_dofs))
    arr += space.interpolate(lambda x: np.sin(3 * x[0]) + x[1])  # a non-trivial mean
    idata = build_inference_data(
        posterior={"theta": arr}, sample_stats={"lp": arr[..., 0]}, log_likelihood=None,
        observed_data={"y": np.zeros(3)}, constant_data={}, attrs={}, space=space)
    return idata, arr


def reloaded(idata, tmp_path, name="run.nc"):
    write_netcdf_atomic(idata, tmp_path / name)
    return read_netcdf(tmp_path / name)


@pytest.fixture(scope="module")
def square():
    return fem.unit_square(5)


@pytest.fixture(scope="module")
def cube():
    return fem.Domain(_compat.dolfinx.mesh.create_unit_cube(_compat.COMM, 2, 2, 2),
                      name="unit cube")


def spaces(domain):
    return {"P1": domain.space(1), "P2": domain.space(2),
            "DG0": DofSpace(_compat.function_space(domain.mesh, "DG", 0))}


# -- item 2: the record -----------------------------------------------------------------------

@pytest.mark.slow
def test_a_reloaded_record_reproduces_the_space(square, tmp_path):
    for label, space in spaces(square).items():
        idata, _ = idata_on(space)
        back = recorded_space(reloaded(idata, tmp_path, f"{label}.nc"))
        assert isinstance(back, RecordedSpace)
        np.testing.assert_array_equal(back.coordinates, space.coordinates)
        np.testing.assert_array_equal(back.cell_dofs, space.cell_dofs)
        assert (back.mass_matrix != space.mass_matrix).nnz == 0
        assert (back.family, back.degree, back.cell_type) == (
            "DG" if label == "DG0" else "Lagrange", int(label[-1]), "triangle")
        # the rebuilt dolfinx space has the same dofs, matched by coordinates
        V = back.function_space
        rebuilt = V.tabulate_dof_coordinates()[:, :2]
        np.testing.assert_allclose(rebuilt[back.dolfinx_dofs], space.coordinates, atol=1e-14)


class PermutedSpace:
    """``space`` with its dofs renumbered (new dof i = old dof perm[i]): a record whose dof
    order is not dolfinx's, so the rebuilt space must match dofs by their coordinates."""

    def __init__(self, space, perm):
        inverse = np.argsort(perm)
        self.function_space = space.function_space
        self.coordinates = space.coordinates[perm]
        self.cell_dofs = inverse[space.cell_dofs]
        self.mass_matrix = space.mass_matrix[perm][:, perm]
        self.num_dofs = space.num_dofs

    def interpolate(self, fn):
        return np.asarray(fn(self.coordinates.T.copy()), dtype=float)


@pytest.mark.parametrize("degree", [1, 2])
def test_a_record_in_another_dof_order_is_matched_by_coordinates(square, tmp_path, degree):
    space = square.space(degree)
    perm = np.random.default_rng(5).permutation(space.num_dofs)
    idata, arr = idata_on(PermutedSpace(space, perm))
    back = reloaded(idata, tmp_path)
    record = recorded_space(back)
    assert (record.dolfinx_dofs != np.arange(space.num_dofs)).any()
    inverse = np.argsort(perm)
    original = arr[..., inverse]  # the same draws in the space's own dof order
    got = point_value_interval(back, [0.37, 0.61], 0.9)
    want = point_value_interval(original, [0.37, 0.61], 0.9, space=space)
    assert (got.lower, got.upper) == pytest.approx((want.lower, want.upper), rel=1e-12)
    export = write_paraview(tmp_path / "perm.xdmf", back, num_draws=0)
    on_file = read_fields(export.xdmf, space=space)["mean"]
    on = ~np.isnan(on_file)
    np.testing.assert_allclose(on_file[on], original.mean(axis=(0, 1))[on], rtol=1e-12,
                               atol=1e-12)


def test_sets_find_the_recorded_space_before_and_after_a_round_trip(square, tmp_path):
    space = square.space(1)
    idata, arr = idata_on(space)
    back = reloaded(idata, tmp_path)
    psi = lambda x: np.cos(2 * x[0]) * x[1]  # noqa: E731
    want = functional_interval(arr, psi, 0.9, space=space)
    for data in (idata, back):
        got = functional_interval(data, psi, 0.9)
        assert (got.lower, got.upper) == pytest.approx((want.lower, want.upper), rel=1e-12)
        assert l2_ball(data, 0.9).radius == pytest.approx(
            l2_ball(arr, 0.9, space=space).radius, rel=1e-12)
        got = point_value_interval(data, [0.31, 0.47], 0.9)
        want_pt = point_value_interval(arr, [0.31, 0.47], 0.9, space=space)
        assert (got.lower, got.upper) == pytest.approx((want_pt.lower, want_pt.upper),
                                                       rel=1e-12)
    # the L² product is the FE one, not the Euclidean one (which differs on this mesh)
    euclid = functional_interval(arr, space.interpolate(psi), 0.9,
                                 mass_matrix=sp.identity(space.num_dofs))
    assert abs(euclid.upper - want.upper) > 0.1 * abs(want.upper)


def test_streamed_parts_keep_the_record_when_concatenated(square):
    from bayesinv.arviz_io import concat_draws

    space = square.space(1)
    parts = [idata_on(space, seed=k, draws=5)[0] for k in range(3)]
    combined = concat_draws(parts)
    assert combined.posterior["theta"].shape[:2] == (2, 15)
    found = recorded_space(combined)
    assert found is not None and (found.mass_matrix != space.mass_matrix).nnz == 0


def test_without_a_record_the_clear_errors_stay(square):
    arr = np.random.default_rng(1).standard_normal((2, 20, square.space(1).num_dofs))
    idata = build_inference_data(posterior={"theta": arr}, sample_stats={"lp": arr[..., 0]},
                                 log_likelihood=None, observed_data={"y": np.zeros(3)},
                                 constant_data={}, attrs={})
    assert recorded_space(idata) is None
    with pytest.raises(InvalidArgumentError, match="needs space="):
        l2_ball(idata)
    with pytest.raises(InvalidArgumentError, match="needs space="):
        functional_interval(idata, np.ones(arr.shape[-1]))
    with pytest.raises(InvalidArgumentError, match="point_value_interval needs space="):
        point_value_interval(idata, [0.5, 0.5])
    with pytest.raises(InvalidArgumentError, match="write_paraview needs space="):
        write_paraview("unused.xdmf", idata)


@pytest.mark.slow
def test_a_sampler_run_on_an_fe_map_records_its_parameter_space(square, tmp_path):
    design = fem.uniform_design(square, 10, seed=1)
    forward = fem.SchrodingerMap(square, design, boundary_value=1.0)
    prior = bayesinv.WhittleMaternPrior.from_hippylib(square, gamma=0.1, delta=0.5)
    data = bayesinv.simulate(forward, prior.sample(np.random.default_rng(2)), 0.1, seed=3)
    post = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(forward, data, 0.1))
    idata = bayesinv.sample(post, "pcn", beta=0.2, draws=20, chains=1, seed=4,
                            progress=False, diagnostics=False)
    space = recorded_space(reloaded(idata, tmp_path))
    assert space is not None and space.num_dofs == square.space(1).num_dofs
    assert (space.mass_matrix != square.space(1).mass_matrix).nnz == 0


# -- item 1: XDMF export ----------------------------------------------------------------------

def raw_vertex_values(h5_path, name, coordinates, step="0"):
    """Values of function ``name`` at ``coordinates``, read with h5py alone (by matching the
    file's vertex coordinates), independently of read_fields."""
    import h5py

    with h5py.File(h5_path, "r") as f:
        x = np.asarray(f["Mesh/mesh/geometry"])[:, :coordinates.shape[1]]
        values = np.asarray(f[f"Function/{name}/{step}"]).ravel()
    d = np.linalg.norm(coordinates[:, None, :] - x[None, :, :], axis=-1)
    assert np.allclose(d.min(axis=1), 0.0, atol=1e-12)
    return values[d.argmin(axis=1)]


@pytest.mark.slow
@pytest.mark.parametrize("mesh", ["square", "cube"])
def test_xdmf_export_holds_the_summaries_and_draws(mesh, request, tmp_path):
    domain = request.getfixturevalue(mesh)
    for label, space in spaces(domain).items():
        idata, arr = idata_on(space, seed=7)
        back = reloaded(idata, tmp_path, f"{mesh}{label}.nc")  # the space comes from the file
        export = write_paraview(tmp_path / f"{mesh}{label}.xdmf", back, level=0.9, num_draws=5)
        pooled = arr.reshape(-1, space.num_dofs)
        pw, band = pointwise_intervals(arr, 0.9), simultaneous_band(arr, 0.9)
        want = {"mean": pooled.mean(0), "sd": pooled.std(0, ddof=1),
                "pointwise_lower": pw.lower, "pointwise_upper": pw.upper,
                "band_lower": band.lower, "band_upper": band.upper}
        got = read_fields(export.xdmf, space=space)
        if label == "DG0":
            on = np.ones(space.num_dofs, dtype=bool)
        else:  # vertex dofs (all of P1; the vertices of P2)
            on = np.zeros(space.num_dofs, dtype=bool)
            on[np.unique(space.cell_dofs[:, :domain.dim + 1])] = True
            np.testing.assert_array_equal(np.isnan(got["mean"]), ~on)
            raw = raw_vertex_values(export.h5, "mean", space.coordinates[on])
            np.testing.assert_allclose(raw, want["mean"][on], rtol=1e-12, atol=1e-12)
        for name, values in want.items():
            np.testing.assert_allclose(got[name][on], values[on], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{mesh} {label} {name}")
        picks = export.draw_indices
        assert picks.size == 5 and picks[0] == 0 and picks[-1] == pooled.shape[0] - 1
        np.testing.assert_array_equal(got["draw_time"], picks)
        np.testing.assert_allclose(got["draw"][:, on], pooled[picks][:, on], rtol=1e-12,
                                   atol=1e-12)
        assert "ADIOS2" in export.skipped.get("vtx", "ADIOS2") or export.vtx


def test_the_summaries_are_the_credible_set_builders(square):
    idata, arr = idata_on(square.space(1))
    fields = posterior_fields(idata, 0.8)
    band = simultaneous_band(arr, 0.8)
    np.testing.assert_array_equal(fields["band_upper"], band.upper)
    assert band.contains(fields["mean"]) and not band.contains(fields["band_upper"] + 1e-9)


def test_writes_replace_the_old_files_atomically_and_refuse_bad_input(square, tmp_path):
    space = square.space(1)
    first, _ = idata_on(space, seed=1)
    second, arr2 = idata_on(space, seed=2)
    path = tmp_path / "out" / "post.xdmf"
    write_paraview(path, first, num_draws=0)
    export = write_paraview(path, second, num_draws=0)
    got = read_fields(path, space=space)
    np.testing.assert_allclose(got["mean"], arr2.reshape(-1, space.num_dofs).mean(0),
                               rtol=1e-12)
    assert "draw" not in got
    # no staging files left behind: only the outputs (VTX's post.bp where dolfinx has ADIOS2)
    expected = ["post.h5", "post.xdmf"] + ([] if "vtx" in export.skipped else ["post.bp"])
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(expected)
    before = path.read_bytes(), path.with_suffix(".h5").read_bytes()
    with pytest.raises(InvalidArgumentError, match=r"path must end in '\.xdmf'"):
        write_paraview(tmp_path / "out" / "post.vtk", second)
    with pytest.raises(InvalidArgumentError, match="num_draws"):
        write_paraview(path, second, num_draws=-1)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        read_fields(tmp_path / "missing.xdmf")
    assert (path.read_bytes(), path.with_suffix(".h5").read_bytes()) == before


@pytest.mark.skipif(getattr(_compat.dolfinx.io, "VTXWriter", None) is None,
                    reason="this dolfinx has no ADIOS2 (VTXWriter); Debian 12's 0.5.2 does not")
def test_vtx_output_where_adios2_exists(square, tmp_path):
    idata, _ = idata_on(square.space(2))
    export = write_paraview(tmp_path / "post.xdmf", idata, num_draws=3)
    assert not export.skipped
    assert [p.name for p in export.vtx] == ["post.bp", "post_draws.bp"]
    assert all(p.is_dir() and any(p.iterdir()) for p in export.vtx)


def test_vtx_is_skipped_with_a_reason_without_adios2(square, tmp_path):
    idata, _ = idata_on(square.space(1))
    export = write_paraview(tmp_path / "post.xdmf", idata, num_draws=1)
    if getattr(_compat.dolfinx.io, "VTXWriter", None) is None:
        assert "without ADIOS2" in export.skipped["vtx"] and not export.vtx
    export = write_paraview(tmp_path / "post.xdmf", idata, num_draws=1, vtx=False)
    assert not export.skipped and not export.vtx


@pytest.mark.slow
def test_readme_paraview_block_runs(tmp_path, monkeypatch):
    """The README's "Results in ParaView" block as written, in a temporary directory."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### Results in ParaView"):]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    saved, fields = namespace["saved"], namespace["fields"]
    theta = saved.posterior["theta"].values
    np.testing.assert_allclose(fields["mean"], theta.reshape(-1, theta.shape[-1]).mean(0),
                               rtol=1e-12, atol=1e-12)
    assert fields["draw"].shape == (20, theta.shape[-1])
    assert (tmp_path / "results" / "posterior.h5").is_file()
    assert namespace["ball"].radius > 0 and namespace["mean_x"].width > 0
