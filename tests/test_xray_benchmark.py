"""The X-ray benchmark runs (smoke mode) and writes its results; no timing is asserted."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_xray_benchmark_quick(tmp_path, load_script):
    report = load_script("benchmarks/xray.py").main(["--quick", "--output", str(tmp_path)])
    saved = json.loads((tmp_path / "xray.json").read_text())
    assert saved["nonabelian"]["max_difference_to_python"] < 1e-12
    assert report["nonabelian"]["python_over_numba_1_thread"] > 0
    assert all(v > 0 for v in report["radon"]["ms"].values())
    # our midpoint rule on the P1 interpolant is close to the closed-form line integrals
    assert report["radon"]["max_error_ours"] < 0.05 * report["radon"]["max_signal"]
    assert "Non-Abelian transform" in (tmp_path / "xray.md").read_text()
