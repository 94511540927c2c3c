"""The benchmark scripts run (smoke mode) and write their results; no timing is asserted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.fem
def test_forward_map_benchmark_quick(tmp_path):
    report = _load("forward_maps").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "forward_maps.json").read_text())
    assert [r["pde"] for r in saved["results"]] == ["schrodinger", "darcy"]
    for row in report["results"]:
        assert row["gradient_agreement_with_naive"] < 1e-10  # the same gradient, computed twice
        assert all(t > 0 for t in row["seconds"].values())
    table = (tmp_path / "forward_maps.md").read_text()
    assert "| schrodinger | 8² |" in table and "Where a step goes" in table


@pytest.mark.fem
@pytest.mark.mpi
@pytest.mark.dask
def test_hpc_executor_benchmark_quick(tmp_path):
    report = _load("hpc").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "hpc_quick.json").read_text())
    assert [r["executor"] for r in saved["results"]] == [
        "serial", "local, 1 worker", "local, 2 workers", "MPI, 2 ranks", "Dask, 2 workers"]
    for row in report["results"]:
        assert row["identical_to_serial"], row  # the same replicates on every backend
        assert row["replicates_per_hour"] > 0
    assert report["scaling_local_1_to_2_workers"] > 0
    assert "| Dask, 2 workers |" in (tmp_path / "hpc_quick.md").read_text()
