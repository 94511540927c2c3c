"""Shared fixtures. Seeds are fixed per test; statistical tolerances come from MCSEs."""

from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest

HAVE_DOLFINX = importlib.util.find_spec("dolfinx") is not None
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    if HAVE_DOLFINX:
        return
    skip = pytest.mark.skip(reason="FEniCSx (dolfinx) is not installed")
    for item in items:
        if "fem" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name, so each test has its own fixed stream."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def load_script():
    """Import a script of the repository (``load_script("examples/e1_bvm.py")``) as a module,
    so that a test can call its ``main(argv)``."""
    def load(relative_path: str):
        path = ROOT / relative_path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
