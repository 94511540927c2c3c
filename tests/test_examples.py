"""The examples run (in quick mode) and produce sensible results."""

from __future__ import annotations

import json

import numpy as np
import pytest


def run_quick(load_script, name, output):
    """Run ``examples/<name>.py --quick --output <output>``; its report."""
    return load_script(f"examples/{name}.py").main(["--quick", "--output", str(output)])


@pytest.mark.slow
@pytest.mark.fem
def test_flagship_quick(tmp_path, load_script):
    report = run_quick(load_script, "schrodinger_flagship", tmp_path)
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


@pytest.mark.slow
@pytest.mark.fem
def test_neural_prior_example_quick(tmp_path, load_script):
    report = run_quick(load_script, "neural_prior_schrodinger", tmp_path)
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


@pytest.mark.slow
@pytest.mark.fem
def test_e1_posterior_means_quick(tmp_path, load_script):
    report = run_quick(load_script, "e1_posterior_means", tmp_path)
    assert (tmp_path / "posterior_means.png").stat().st_size > 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    runs = saved["runs"]
    assert list(runs) == ["200", "400", "800"]
    for run in runs.values():
        assert run["divergences"] == 0
        # far better than the trivial estimate θ = 0 (error 1), and close to the MAP
        assert run["relative_l2_error_posterior_mean"] < 0.5
        assert abs(run["relative_l2_error_posterior_mean"] - run["relative_l2_error_map"]) < 0.1
    # the replicate study (coverage harness on worker processes): errors over data sets
    assert list(saved["replicates"]) == ["200", "400", "800"]
    for rep in saved["replicates"].values():
        assert len(rep["relative_l2_errors"]) == 2 and 0 < rep["mean"] < 0.6
    assert report["mean_errors_decrease_in_N"] == saved["mean_errors_decrease_in_N"]


@pytest.mark.slow
@pytest.mark.fem
def test_e1_bvm_quick(tmp_path, load_script):
    report = run_quick(load_script, "e1_bvm", tmp_path)
    assert (tmp_path / "bvm.png").stat().st_size > 0
    psi = report["psi"]
    lo, hi = psi["interval_95"]
    assert lo < psi["posterior_mean"] < hi
    # the Laplace approximation at the MAP agrees with the sampled posterior of <θ, ψ>
    assert abs(psi["laplace_mean"] - psi["posterior_mean"]) < 0.5 * psi["posterior_sd"]
    assert 0.7 < psi["laplace_sd"] / psi["posterior_sd"] < 1.3
    assert report["divergences"] == 0


@pytest.mark.slow
@pytest.mark.fem
def test_e1_coverage_quick_runs_replicates_on_worker_processes(tmp_path, load_script):
    report = run_quick(load_script, "e1_coverage", tmp_path)
    from bayesinv.coverage import load_coverage_study

    study = load_coverage_study(tmp_path / "coverage.nc")
    assert study.attrs["executor"] == "ProcessPoolExecutor" and study.attrs["mode"] == "frequentist"
    assert study.sizes["replicate"] == 4
    assert report["replicates_valid"] + report["replicates_flagged"] == 4
    assert np.all(study["wall_time"].values > 0)
    # the fixed truth's functionals are the same in every replicate; the data are not
    truth = study["truth_value"].values
    np.testing.assert_array_equal(truth, np.broadcast_to(truth[0], truth.shape))
    assert len(np.unique(study["posterior_mean"].values[:, 0])) == 4


@pytest.mark.fem
@pytest.mark.statistical(alpha=1e-3)
def test_source_identification_quick(tmp_path, load_script):
    """MALA and ULA against the exact Gaussian posterior of a user-written UFL PDE. Loose
    bounds (1 posterior sd for means, 25% for sds, with >= 1200 draws of well-preconditioned
    chains: many Monte Carlo standard errors), so a false failure is far below 1e-3."""
    report = run_quick(load_script, "source_identification", tmp_path)
    assert (tmp_path / "source_identification.png").stat().st_size > 0
    for name in ("MALA", "ULA"):
        assert report[name]["divergences"] == 0
        assert report[name]["max_mean_error_in_sds"] < 1.0
        lo, hi = report[name]["sd_ratio_range"]
        assert lo > 0.75 and hi < 1.25
    assert report["ULA"]["stationary_mean_equals_posterior_mean"]


@pytest.mark.fem
@pytest.mark.slow
def test_nonlinear_matern_quick(tmp_path, load_script):
    report = run_quick(load_script, "nonlinear_matern", tmp_path)
    assert (tmp_path / "nonlinear_matern.png").stat().st_size > 0
    assert max(abs(r - 2.0) for r in report["taylor_rates"]) < 0.1
    assert report["adjoint_dot_product_error"] < 1e-10
    assert 2 <= report["newton_iterations_per_forward_solve"] <= 8
    # the data are informative: far better than the prior mean θ = 0 (relative error 1)
    assert report["relative_l2_error_map"] < 0.5
    assert report["relative_l2_error_posterior_mean"] < 0.5
    assert report["divergences"] == 0 and report["acceptance_rate"] > 0.1


@pytest.mark.fem
@pytest.mark.slow
def test_tetrahedral_mesh_from_file_quick(tmp_path, load_script):
    report = run_quick(load_script, "tetrahedral_mesh_from_file", tmp_path)
    assert (tmp_path / "tetrahedral_mesh_from_file.png").stat().st_size > 0
    assert report["gdim"] == 3 and report["facet_tags"] == [1, 2, 3]
    for key in ("taylor_rates", "flux_taylor_rates"):
        assert max(abs(r - 2.0) for r in report[key]) < 0.1
    assert report["posterior_sd_mean"] < report["prior_sd_mean"]


@pytest.mark.slow
def test_hierarchical_models_example_quick(tmp_path, load_script):
    report = run_quick(load_script, "hierarchical_models", tmp_path)
    assert (tmp_path / "summary.json").stat().st_size > 0
    # the model with unknown σ₁, σ₂, τ beats the one with a wrong known σ by LOO, and its
    # 90% intervals contain the true noise levels
    assert report["loo"]["A: unknown sigma_1, sigma_2, tau"]["rank"] == 0
    for name in ("sigma_1", "sigma_2"):
        post = report["posterior"][name]
        assert post["q05"] < report["truth"][name] < post["q95"], name
    assert {row["functional"] for row in report["coverage"]} == {"sigma", "tau", "theta_0"}



@pytest.mark.slow
@pytest.mark.fem
def test_joint_experiments_example_quick(tmp_path, load_script):
    report = run_quick(load_script, "joint_experiments", tmp_path)
    for name in ("joint_experiments.png", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    models = report["models"]
    singles = [models[name] for name in ("Darcy, source", "Darcy, flow", "heat")]
    joint = models["joint"]
    # Three experiments of comparable information: the joint posterior is clearly tighter than
    # each one alone (measured ratios ≈ 0.35; a joint likelihood that dropped an experiment
    # would give ≈ 0.5–1), in the sampled sd and in the Laplace sd at the MAP.
    for key in ("psi_sd", "mean_pointwise_sd", "psi_sd_laplace", "mean_pointwise_sd_laplace"):
        assert joint[key] < 0.7 * min(m[key] for m in singles), key
    for m in [*singles, joint]:  # draws and Laplace agree (nearly Gaussian posteriors)
        assert m["psi_sd"] == pytest.approx(m["psi_sd_laplace"], rel=0.4)
        assert m["mean_pointwise_sd"] == pytest.approx(m["mean_pointwise_sd_laplace"], rel=0.3)
    # the joint posterior mean recovers θ₀ better than each experiment alone
    assert joint["relative_l2_error_posterior_mean"] < min(
        m["relative_l2_error_posterior_mean"] for m in singles)
    assert abs(joint["psi_mean"] - report["psi_truth"]) < 4 * joint["psi_sd"]
    assert all(n > 0 for n in report["forward_solves"].values())

def test_bvm_coverage_clopper_pearson_matches_beta_quantiles(load_script):
    """The example's Clopper–Pearson interval: the Beta quantiles of its definition, SciPy's
    exact binomial interval, and the closed forms at k = 0 and k = n."""
    import scipy.stats

    cp = load_script("examples/bvm_coverage.py").clopper_pearson
    for k, n in [(0, 10), (3, 10), (57, 60), (60, 60), (1, 1)]:
        lo, hi = cp(k, n, 0.95)
        ref = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
        if 0 < k < n:
            assert lo == pytest.approx(scipy.stats.beta.ppf(0.025, k, n - k + 1), rel=1e-12)
            assert hi == pytest.approx(scipy.stats.beta.ppf(0.975, k + 1, n - k), rel=1e-12)
    assert cp(0, 20, 0.95) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)))
    assert cp(20, 20, 0.95) == pytest.approx((0.025 ** (1 / 20), 1.0))
    for bad in [(-1, 10), (11, 10), (3, 0), (2.5, 10)]:
        with pytest.raises(ValueError, match=r"hits|n must"):
            cp(*bad)


@pytest.mark.slow
@pytest.mark.fem
def test_bvm_coverage_quick(tmp_path, load_script):
    report = load_script("examples/bvm_coverage.py").main(
        ["--quick", "--workers", "1", "--output", str(tmp_path)])
    for name in ("bvm_coverage.png", "summary.json", "README.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "summary.json").read_text())
    rows, recs = saved["table"], saved["replicates"]
    cfg = saved["config"]
    assert [(r["prior"], r["N"]) for r in rows] == [
        (p, n) for p in ("E1", "rescaled") for n in cfg["Ns"]]
    assert len(recs) == 2 * len(cfg["Ns"]) * cfg["replicates"]
    for row in rows:
        mine = [x for x in recs if x["prior"] == row["prior"] and x["N"] == row["N"]
                and not x["flagged"]]
        assert row["valid"] == len(mine) and row["hits"] == sum(x["hit"] for x in mine)
        if row["valid"]:
            assert row["coverage"] == row["hits"] / row["valid"]
            assert 0 <= row["cp_lower"] <= row["coverage"] <= row["cp_upper"] <= 1
            assert row["bias_over_sd"] == pytest.approx(np.mean([x["z"] for x in mine]))
            assert row["mean_width"] > 0
    for x in recs:
        # each interval is the posterior's: it holds the posterior mean, and a hit means
        # the truth is inside it
        assert x["lower"] < x["mean"] < x["upper"]
        assert x["hit"] == (x["lower"] <= x["truth"] <= x["upper"])
        assert x["z"] == pytest.approx((x["mean"] - x["truth"]) / x["sd"])
    # the same noise for both priors: the same truth, different posteriors; rescaling shrinks
    # the prior scale by N^(-1/10)
    truth = {x["truth"] for x in recs}
    assert len(truth) == 1
    scale = {(r["prior"], r["N"]): r["prior_scale"] for r in rows}
    for n in cfg["Ns"]:
        assert scale[("E1", n)] == 10.0
        assert scale[("rescaled", n)] == pytest.approx(10.0 * n ** -0.1)
    assert report["exponent"] == pytest.approx(0.1)
    assert "bvm_coverage.png" in (tmp_path / "README.md").read_text()
