"""The non-Abelian X-ray example runs in quick mode and gives sensible results."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_xray_nonabelian_example_quick(tmp_path, load_script):
    report = load_script("examples/xray_nonabelian.py").main(
        ["--quick", "--output", str(tmp_path)])
    for name in ("xray_nonabelian.png", "summary.json", "coverage.nc"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["samplers"]["ULA"]["divergences"] == 0
    # the posterior mean recovers Φ far better than Φ = 0 (relative error 1) and about as
    # well as the MAP (a broken gradient, prior or sampler would not)
    assert report["map_relative_l2_error"] < 0.5
    for run in report["samplers"].values():
        assert abs(run["relative_l2_error_posterior_mean"]
                   - report["map_relative_l2_error"]) < 0.1
    psi = report["psi"]
    assert abs(psi["laplace_mean"] - psi["posterior_mean"]) < psi["posterior_sd"]
    assert 0.6 < psi["laplace_sd"] / psi["posterior_sd"] < 1.5
    cov = report["coverage"]
    assert cov["replicates"] == 2 and cov["valid"] + cov["flagged"] == 2


def test_readme_xray_block_runs():
    """The README's X-ray example (the python block of its X-ray section) runs as written."""
    import re
    import warnings
    from pathlib import Path

    import numpy as np

    from bayesinv.errors import BayesinvWarning

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### X-ray transforms"):]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace: dict = {}
    with warnings.catch_warnings():  # a short illustration, not a converged run
        warnings.simplefilter("ignore", BayesinvWarning)
        exec(compile(block, "README.md", "exec"), namespace)
    idata, theta0, M = namespace["idata"], namespace["theta0"], namespace["mass"]
    mean = idata.posterior["theta"].values.mean(axis=(0, 1))
    err = np.sqrt((mean - theta0) @ (M @ (mean - theta0)) / (theta0 @ (M @ theta0)))
    assert err < 0.5 and namespace["Y"].shape == (150, 3, 3)
