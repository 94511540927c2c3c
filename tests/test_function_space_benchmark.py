"""The function-space benchmark runs in smoke mode and writes its tables (no timing asserted)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.fem
@pytest.mark.slow
def test_function_space_benchmark_quick(tmp_path, load_script):
    module = load_script("benchmarks/function_space.py")
    report = module.main(["--quick", "--output", str(tmp_path),
                          "--hippylib-python", str(tmp_path / "no-such-python")])
    saved = json.loads((tmp_path / "function_space_quick.json").read_text())
    assert [m["mesh"] for m in saved["meshes"]] == [8, 12]
    for mesh in report["meshes"]:
        assert mesh["setup"]["rank"] >= 1 and mesh["setup"]["converged"]
        assert "no hIPPYlib interpreter" in mesh["hippylib_error"]
        methods = [r["method"] for r in mesh["rows"]]
        assert methods[:4] == ["gpcn", "gpcnl", "mala", "ula"]
        for row in mesh["rows"]:
            if not row.get("diverged"):
                assert row["pde_solves"] > 0 and row["grid_ess_min"] > 0
    table = (tmp_path / "function_space_quick.md").read_text()
    assert "| 8² | gpCN (Laplace reference) |" in table


@pytest.mark.fem
@pytest.mark.slow
def test_dimension_independence_quick(tmp_path, load_script):
    module = load_script("benchmarks/dimension_independence.py")
    report = module.main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "dimension_independence_quick.json").read_text())
    assert [m["mesh"] for m in saved["meshes"]] == [8, 12]
    for mesh in report["meshes"]:
        assert list(mesh["rows"]) == ["gpcn", "gpcnl", "dili", "mala"]
        for row in mesh["rows"].values():
            assert 0 < row["acceptance_rate"] <= 1 and row["ess_min_per_1000"] > 0
            assert len(row["chain_ess_min_per_1000"]) == 2
    assert set(report["ratios"]) == {"gpcn", "gpcnl", "dili", "mala"}
    assert "| 8² |" in (tmp_path / "dimension_independence_quick.md").read_text()
