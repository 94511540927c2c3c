"""The examples run (in quick mode) and produce sensible results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.fem
def test_flagship_quick(tmp_path):
    report = _load("schrodinger_flagship").main(["--quick", "--output", str(tmp_path)])
    for name in ("flagship.png", "summary.txt", "summary.json", "ula.nc", "pcn.nc"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["ULA"]["divergences"] == 0
    # The posterior mean recovers the truth about as well as the MAP does (a broken gradient,
    # prior or sampler would not): both far better than the trivial estimate θ = 0 (error 1).
    assert report["map_relative_l2_error"] < 0.5
    assert abs(report["ULA"]["relative_l2_error_posterior_mean"]
               - report["map_relative_l2_error"]) < 0.1
    assert report["signal_to_noise"] > 10


@pytest.mark.fem
def test_neural_prior_example_quick(tmp_path):
    report = _load("neural_prior_schrodinger").main(["--quick", "--output", str(tmp_path)])
    for name in ("posteriors.png", "prior_draws.png", "summary.txt", "summary.json",
                 "neural_pcn.nc", "series_pcn.nc", "series_ula.nc"):
        assert (tmp_path / name).stat().st_size > 0, name
    # Both priors fit the data far better than θ = 0 (relative error 1) at the MAP; the
    # Laplace-preconditioned curvature is 1 at the MAP by construction and grows away from it
    # for the (non-Gaussian) NN posterior.
    assert max(report["map_relative_l2_error"].values()) < 0.8
    curvature = report["ula_on_neural_network_posterior"][
        "preconditioned_curvature_at_map_plus_s_eta"]
    assert curvature["0"] == pytest.approx(1.0, rel=1e-6)
    assert curvature["0.2"] > 10
    cov = report["coverage_neural_network_prior"]
    assert cov["replicates"] == 2 and 0 <= cov["hits"] <= 2
    assert report["samplers"]["GP (series), ULA"]["divergences"] == 0


@pytest.mark.fem
def test_neural_prior_benchmark_quick(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "neural_prior_benchmark", EXAMPLES.parent / "benchmarks" / "neural_prior.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick", "--output", str(tmp_path)])
    assert (tmp_path / "neural_prior.md").stat().st_size > 0
    saved = json.loads((tmp_path / "neural_prior.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    assert all(row["ratio_to_pde_solve"] > 0 for row in saved["rows"])
