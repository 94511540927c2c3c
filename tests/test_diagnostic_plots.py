"""The coverage and credible-set figures draw what they claim (looked at by eye as well)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayesinv.coverage import (
    InferenceSpec,
    LinearFunctional,
    NodalValue,
    ProblemSpec,
    run_coverage_study,
)
from bayesinv.diagnostics.plots import plot_band_along_line, plot_bvm, plot_coverage, plot_sbc
from bayesinv.errors import InvalidArgumentError
from bayesinv.samplers.exact import sample_exact
from bayesinv.testing import linear_gaussian
from bayesinv.testing.coverage_problems import linear_gaussian_model

KWARGS = {"dim": 6, "num_observations": 3, "noise_std": 0.5, "seed": 1}


@pytest.fixture(scope="module")
def study():
    return run_coverage_study(
        ProblemSpec(linear_gaussian_model, KWARGS), InferenceSpec("exact", {"draws": 200}),
        replicates=40, seed=3, levels=(0.5, 0.9), convergence=None,
        functionals=(LinearFunctional("psi", np.ones(6)), NodalValue("theta_0", 0)))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.slow
def test_calibration_curve_has_one_series_per_set_with_clopper_pearson_bars(study):
    ax = plot_coverage(study)
    series = ax.containers  # one ErrorbarContainer per (kind, functional)
    assert len(series) == 2 * 2 + 2
    first = series[0]
    y = first.lines[0].get_ydata()
    np.testing.assert_allclose(y, study["coverage"].sel(kind="equal_tailed",
                                                        functional="psi").values)
    segments = first.lines[2][0].get_segments()  # the vertical bars: CP lower to upper
    np.testing.assert_allclose([s[:, 1] for s in segments], np.column_stack([
        study["coverage_lower"].sel(kind="equal_tailed", functional="psi").values,
        study["coverage_upper"].sel(kind="equal_tailed", functional="psi").values]))
    ax = plot_coverage(study, kinds=["band"])
    assert len(ax.containers) == 1
    with pytest.raises(InvalidArgumentError, match="no coverage to plot"):
        plot_coverage(study, kinds=["band"], functionals=["psi"])


def test_bvm_histogram_marks_mean_and_truth_and_overlays_the_gaussian():
    problem = linear_gaussian(**KWARGS)
    idata = sample_exact(problem.posterior, draws=500, chains=2, seed=0)
    psi = np.linspace(0, 1, 6)
    ax = plot_bvm(idata, psi, truth=problem.truth)
    values = (idata.posterior["theta"].values @ psi).ravel()
    xs = [line.get_xdata()[0] for line in ax.lines[1:]]
    assert xs == pytest.approx([values.mean(), problem.truth @ psi])
    curve = ax.lines[0]
    x, y = curve.get_xdata(), curve.get_ydata()
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))  # trapezoid rule
    assert area == pytest.approx(1.0, abs=1e-4)  # a density over ±4.5 sd
    assert "(truth − mean)/sd" in ax.get_title()


def test_sbc_figure_histogram_counts_every_valid_replicate(study):
    axes = plot_sbc(study, kind="l2_ball")
    bars = axes[0].containers[0]  # the histogram
    assert sum(p.get_height() for p in bars) == int(study["num_valid"])
    assert axes[1].get_ylabel() == "ECDF − uniform CDF"
    with pytest.raises(InvalidArgumentError, match="no ranks for kind 'hdi'"):
        plot_sbc(study, kind="hdi")


@pytest.mark.fem
def test_band_along_a_line_shows_band_intervals_mean_and_truth(rng):
    from bayesinv import SeriesPrior, fem

    domain = fem.unit_square(8)
    prior = SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=10)
    draws = prior.sample(rng, size=400).reshape(2, 200, -1)
    truth = prior.sample(rng)
    ax = plot_band_along_line(draws, domain.parameter_space, (0.1, 0.5), (0.9, 0.5),
                              level=0.9, truth=truth, num_points=50)
    assert len(ax.collections) == 2  # band and pointwise intervals
    band, pointwise = (c.get_paths()[0].vertices[:, 1] for c in ax.collections)
    assert band.max() >= pointwise.max() and band.min() <= pointwise.min()
    labels = ax.get_legend_handles_labels()[1]
    assert labels[-1].startswith("truth (") and labels[2] == "posterior mean"
    with pytest.raises(InvalidArgumentError, match="outside the domain"):
        plot_band_along_line(draws, domain.parameter_space, (0.1, 0.5), (1.5, 0.5))
