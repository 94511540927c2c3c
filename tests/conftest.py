"""Shared fixtures. Seeds are fixed per test; statistical tolerances come from MCSEs."""

from __future__ import annotations

import importlib.util
import zlib

import numpy as np
import pytest

HAVE_DOLFINX = importlib.util.find_spec("dolfinx") is not None


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
