"""Packaging: import without FEniCSx, the install hint, netCDF next to dolfinx, the version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import bayesinv

ROOT = Path(__file__).resolve().parents[1]

BLOCK_DOLFINX = "import sys; sys.modules['dolfinx'] = None; "


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_import_without_dolfinx_works_and_fem_says_how_to_install():
    proc = run_python(BLOCK_DOLFINX + "import bayesinv; print(bayesinv.sample.__name__)")
    assert proc.returncode == 0, proc.stderr
    assert "sample" in proc.stdout
    proc = run_python(BLOCK_DOLFINX + (
        "import bayesinv\n"
        "try:\n    bayesinv.fem\nexcept ImportError as e:\n"
        "    print(type(e).__name__, e)\n"))
    assert proc.returncode == 0, proc.stderr
    assert "MissingDependencyError" in proc.stdout
    assert "apt-get install python3-dolfinx" in proc.stdout
    assert "conda-forge fenics-dolfinx" in proc.stdout


@pytest.mark.slow
def test_core_imports_do_not_pull_in_dolfinx():
    proc = run_python("import sys, bayesinv, bayesinv.testing; print('dolfinx' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.fem
def test_netcdf_roundtrip_after_importing_dolfinx(tmp_path):
    # Regression: h5py's PyPI wheel (bundled HDF5 2.x) breaks once dolfinx has loaded Debian's
    # libhdf5; the set-up builds h5py against the system HDF5 instead.
    import arviz as az

    import bayesinv.fem  # noqa: F401  (loads dolfinx and its HDF5)

    idata = az.from_dict(posterior={"a": np.arange(20.0).reshape(2, 10)})
    idata.to_netcdf(tmp_path / "x.nc")
    back = az.from_netcdf(tmp_path / "x.nc")
    np.testing.assert_array_equal(back.posterior["a"].values, idata.posterior["a"].values)


def test_version_is_single_sourced():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in meta["project"]["dynamic"]
    from importlib.metadata import version

    assert version("bayesinv") == bayesinv.__version__
