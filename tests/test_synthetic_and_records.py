"""The one truth → data → posterior → draws path, the vectorised set builders, the store's format.

* :func:`bayesinv.synthetic.realise` is the path of both a coverage replicate and ``bayesinv
  run``: a replicate's truth, posterior mean and hits are those of the realisation of its seed,
  and the data are G(θ₀) + σε with the seed's child 1 (checked against ``simulate``); the
  linear–Gaussian posterior it builds has the closed-form mean.
* :func:`~bayesinv.diagnostics.credible.interval_bounds` at many levels equals the one-level
  builders and, for Gaussian draws, the normal quantiles.
* Replicate records (:mod:`bayesinv.coverage.records`) round-trip bit-identically, and a
  damaged, foreign or other-version file is refused by name.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

from bayesinv.coverage import InferenceSpec, NodalValue, ProblemSpec, plan_coverage_study
from bayesinv.coverage.records import HEADER, read_record, write_record
from bayesinv.coverage.replicate import run_replicate
from bayesinv.diagnostics.credible import (
    interval_bounds,
    pointwise_intervals,
    scalar_interval,
    set_radii,
    simultaneous_band,
)
from bayesinv.errors import CorruptFileError, InvalidArgumentError
from bayesinv.likelihood import simulate
from bayesinv.posterior import Posterior
from bayesinv.seeds import child_seed
from bayesinv.synthetic import realise
from bayesinv.testing.coverage_problems import linear_gaussian_model

KWARGS = {"dim": 6, "num_observations": 4, "noise_std": 0.5, "seed": 3}
PROBLEM = ProblemSpec(linear_gaussian_model, KWARGS)
EXACT = InferenceSpec("exact", {"draws": 300, "chains": 2})


def test_a_replicate_is_the_realisation_of_its_seed():
    plan = plan_coverage_study(PROBLEM, EXACT, replicates=2, seed=7, convergence=None,
                               sbc_draws=20, functionals=(NodalValue("t0", 0),),
                               kinds=("equal_tailed",))
    task = plan.tasks[1]
    model = PROBLEM.build()
    experiment = realise(model, task.seed)
    result = run_replicate(task)
    assert result["truth_value"][0] == experiment.truth[0]
    theta = experiment.sample(EXACT).posterior["theta"].values
    assert result["posterior_mean"][0] == theta[..., 0].mean()
    # the data: G(θ₀) + σ ε with the seed's child 1; θ₀ from the prior with child 0
    np.testing.assert_array_equal(
        experiment.data, simulate(model.forward, experiment.truth, model.noise_std,
                                  seed=child_seed(task.seed, 1)))
    np.testing.assert_array_equal(
        experiment.truth, model.prior.sample(np.random.default_rng(child_seed(task.seed, 0))))


def test_a_fixed_truth_realisation_has_the_closed_form_posterior():
    model = PROBLEM.build()
    experiment = realise(model, 11, truth=model.truth)
    np.testing.assert_array_equal(experiment.truth, model.truth)
    assert isinstance(experiment.posterior, Posterior) and experiment.hyper == {}
    # N(m₀, L Lᵀ) prior, y = Aθ + b + σε: C = (Σ₀⁻¹ + AᵀA/σ²)⁻¹, m = C(Σ₀⁻¹m₀ + Aᵀ(y − b)/σ²)
    A, b = model.forward.matrix, model.forward.offset
    L, m0, s2 = model.prior.factor, model.prior.mean, model.noise_std**2
    P0 = np.linalg.inv(L @ L.T)
    cov = np.linalg.inv(P0 + A.T @ A / s2)
    mean = cov @ (P0 @ m0 + A.T @ (experiment.data - b) / s2)
    draws = experiment.sample(InferenceSpec("exact", {"draws": 4000, "chains": 2}))
    theta = draws.posterior["theta"].values.reshape(-1, model.dim)
    z = (theta.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / theta.shape[0])
    assert np.abs(z).max() < 5.0


def test_realise_refuses_a_truth_of_the_wrong_shape():
    with pytest.raises(InvalidArgumentError, match=r"truth must have shape \(6,\).*\(5,\)"):
        realise(PROBLEM.build(), 1, truth=np.zeros(5))


def test_inference_overrides_leave_the_spec_unchanged():
    spec = InferenceSpec("exact", {"draws": 50, "chains": 2})
    experiment = realise(PROBLEM.build(), 2)
    idata = experiment.sample(spec, draws=30)
    assert idata.posterior.sizes["draw"] == 30 and spec.settings == {"draws": 50, "chains": 2}


def test_interval_bounds_at_many_levels_match_one_level_builders_and_normal_quantiles(rng):
    draws = rng.standard_normal((4, 5000, 3)) * np.array([1.0, 2.0, 0.5])
    levels = np.array([0.5, 0.8, 0.95])
    for kind in ("equal_tailed", "hdi"):
        lower, upper = interval_bounds(draws, levels, kind)
        assert lower.shape == upper.shape == (3, 3)
        for i, level in enumerate(levels):
            one = pointwise_intervals(draws, level, kind=kind)
            np.testing.assert_array_equal(one.lower, lower[i])
            np.testing.assert_array_equal(one.upper, upper[i])
            scalar = scalar_interval(draws[..., 1], level, kind=kind)
            assert (scalar.lower, scalar.upper) == (lower[i, 1], upper[i, 1])
        # N(0, s²): both kinds are ±z s (the HDI's position is noisier than its width)
        z = scipy.stats.norm.ppf(0.5 + levels / 2)[:, None] * np.array([1.0, 2.0, 0.5])
        np.testing.assert_allclose((upper - lower) / 2, z, rtol=0.05)
        if kind == "equal_tailed":
            np.testing.assert_allclose(upper, z, rtol=0.05)
            np.testing.assert_allclose(lower, -z, rtol=0.05)
    band = simultaneous_band(draws, 0.9)
    stats = band.statistic(draws.reshape(-1, 3))
    assert set_radii(stats, [0.9])[0] == band.radius


def _record(tmp_path):
    arrays = {"hit": np.array([[1.0, np.nan], [0.0, 1.0]]), "divergences": np.array(3),
              "l2_error": np.array(0.25)}
    meta = {"fingerprint": "abc", "replicate": 4, "flags": "", "failure": ""}
    path = write_record(tmp_path / "r000004.npz", meta, arrays)
    return path, meta, arrays


def test_a_record_round_trips_exactly_and_reads_without_pickle(tmp_path):
    path, meta, arrays = _record(tmp_path)
    got_meta, got = read_record(path)
    assert got_meta == meta and sorted(got) == sorted(arrays)
    for name, value in arrays.items():
        assert got[name].dtype == value.dtype
        np.testing.assert_array_equal(got[name], value)
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data[HEADER]))
    assert header["format"] == "bayesinv-replicate" and header["version"] == 2
    assert len(header["sha256"]) == 64


def _rewrite(path, change):
    with np.load(path, allow_pickle=False) as data:
        entries = {k: data[k] for k in data.files}
    change(entries)
    with open(path, "wb") as f:
        np.savez(f, **entries)


def _header(entries, **changes):
    header = json.loads(str(entries[HEADER]))
    header.update(changes)
    entries[HEADER] = np.array(json.dumps(header))


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.update(l2_error=np.array(0.5)), "checksum mismatch"),
    (lambda e: _header(e, meta={"fingerprint": "abc", "replicate": 5, "flags": "",
                                "failure": ""}), "checksum mismatch"),
    (lambda e: _header(e, version=1), "format version 1"),
    (lambda e: _header(e, format="something-else"), "not a bayesinv replicate record"),
    (lambda e: e.pop(HEADER), "no __record__ entry"),
])
def test_a_changed_record_is_refused_by_name(tmp_path, change, message):
    path, _, _ = _record(tmp_path)
    _rewrite(path, change)
    with pytest.raises(CorruptFileError, match=message) as err:
        read_record(path)
    assert "r000004.npz" in str(err.value)


def test_a_truncated_record_is_refused_and_object_arrays_are_not_written(tmp_path):
    path, _, _ = _record(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptFileError, match=r"r000004\.npz"):
        read_record(path)
    with pytest.raises(InvalidArgumentError, match=r"'flags' must be a numeric or string"):
        write_record(tmp_path / "x.npz", {}, {"flags": np.array(["a", None], dtype=object)})
