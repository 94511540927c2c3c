"""The benchmark scripts run (smoke mode) and write their results; no timing is asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.mark.fem
def test_forward_map_benchmark_quick(tmp_path, load_script):
    report = load_script("benchmarks/forward_maps.py").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "forward_maps.json").read_text())
    assert [r["pde"] for r in saved["results"]] == ["schrodinger", "darcy"]
    for row in report["results"]:
        assert row["gradient_agreement_with_naive"] < 1e-10  # the same gradient, computed twice
        assert all(t > 0 for t in row["seconds"].values())
    table = (tmp_path / "forward_maps.md").read_text()
    assert "| schrodinger | 8² |" in table and "Where a step goes" in table


@pytest.mark.slow
@pytest.mark.fem
@pytest.mark.mpi
@pytest.mark.dask
def test_hpc_executor_benchmark_quick(tmp_path, load_script):
    report = load_script("benchmarks/hpc.py").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "hpc_quick.json").read_text())
    assert [r["executor"] for r in saved["results"]] == [
        "serial", "local, 1 worker", "local, 2 workers", "MPI, 2 ranks", "Dask, 2 workers"]
    for row in report["results"]:
        assert row["identical_to_serial"], row  # the same replicates on every backend
        assert row["replicates_per_hour"] > 0
    assert report["scaling_local_1_to_2_workers"] > 0
    assert "| Dask, 2 workers |" in (tmp_path / "hpc_quick.md").read_text()


@pytest.mark.fem
def test_neural_prior_benchmark_quick(tmp_path, load_script):
    result = load_script("benchmarks/neural_prior.py").main(["--quick", "--output", str(tmp_path)])
    assert (tmp_path / "neural_prior.md").stat().st_size > 0
    saved = json.loads((tmp_path / "neural_prior.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    assert all(row["ratio_to_pde_solve"] > 0 for row in saved["rows"])


@pytest.mark.fem
def test_variational_map_benchmark_quick(tmp_path, load_script):
    report = load_script("benchmarks/variational_maps.py").main(
        ["--quick", "--output", str(tmp_path)])
    row = report["results"][0]
    assert max(row["agreement_with_darcy_map"].values()) < 1e-12  # the same map, twice
    assert all(t > 0 for t in row["seconds"].values()) and row["newton_iterations"] >= 2
    assert "| 8² |" in (tmp_path / "variational_maps.md").read_text()


@pytest.mark.slow
@pytest.mark.fem
@pytest.mark.mpi
def test_distributed_benchmark_quick(tmp_path, load_script):
    rows = load_script("benchmarks/distributed_map.py").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "distributed_map.json").read_text())
    assert [(r["solver"], r["ranks"]) for r in saved["rows"][:4]] == [
        ("mumps", 1), ("mumps", 2), ("cg+hypre", 1), ("cg+hypre", 2)]
    # the same gradient on 1 and 2 ranks, direct and iterative (CG rtol 1e-10)
    norms = np.array([r["grad_norm"] for r in rows[:4]])
    np.testing.assert_allclose(norms, norms[0], rtol=1e-7)
    assert all(len(r["max_rss_mb"]) == r["ranks"] for r in rows)
    assert "| mumps | 2 |" in (tmp_path / "distributed_map.md").read_text()


@pytest.mark.fem
def test_hyperparameter_benchmark_quick(tmp_path, load_script):
    report = load_script("benchmarks/hyperparameters.py").main(
        ["--quick", "--methods", "mala", "--output", str(tmp_path)])
    solves = {r["case"]: (r["forward_per_step"], r["adjoint_per_step"])
              for r in report["results"]}
    # σ and the interweaving τ move rescale the gradient; σ of one joint part recomputes it
    assert solves == {"known σ, τ": (1, 1), "unknown σ": (1, 1), "unknown τ": (2, 2),
                      "σ of one part": (2, 2)}
    assert "| mala | unknown τ |" in (tmp_path / "hyperparameters.md").read_text()
