"""Shared fixtures. Seeds are fixed per test; statistical tolerances come from MCSEs."""

from __future__ import annotations

import importlib.util
import re
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

HAVE_DOLFINX = importlib.util.find_spec("dolfinx") is not None
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    if config.getoption("--stat-seeds"):  # a sweep: only tests whose seeds it can vary
        swept = [i for i in items if "stat_seed" in getattr(i, "fixturenames", ())]
        config.hook.pytest_deselected(items=[i for i in items if i not in swept])
        items[:] = swept
    if HAVE_DOLFINX:
        return
    skip = pytest.mark.skip(reason="FEniCSx (dolfinx) is not installed")
    for item in items:
        if "fem" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request, stat_seed):
    """A generator seeded from the test's name, so each test has its own fixed stream (and,
    under ``--stat-seeds``, another one for every sweep seed)."""
    name = without_sweep_seed(request.node.nodeid)
    crc = zlib.crc32(name.encode())
    return np.random.default_rng(crc if stat_seed == 0 else [crc, stat_seed])


@pytest.fixture
def load_script():
    """Import a script of the repository (``load_script("examples/e1_bvm.py")``) as a module,
    so that a test can call its ``main(argv)``. The scripts put their own folder on
    ``sys.path`` (for ``_common`` / ``_cli``); it is taken off again after the import, so that
    later tests, and the processes they spawn, do not import a script as a module."""
    def load(relative_path: str):
        path = ROOT / relative_path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        saved = list(sys.path)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path[:] = saved
        return module
    return load


# -- the seed and platform sweep (make test-sweep; tools/test_sweep.py) ----------------------
#
# Statistical tests carry ``@pytest.mark.statistical(alpha=...)``, alpha being the test's
# false-failure probability per run (stated in its docstring too), and take their seeds from
# the ``stat_seed`` fixture: 0 in an ordinary run (the fixed seeds below), 0..K-1 under
# ``--stat-seeds K``, which repeats every statistical test K times with other seeds. With
# ``--stat-report FILE`` the outcome of every statistical test run is written as JSON.

def pytest_addoption(parser):
    parser.addoption("--stat-seeds", type=int, default=None, metavar="K",
                     help="run each statistical test with K different seeds")
    parser.addoption("--stat-report", default=None, metavar="FILE",
                     help="write the outcomes of statistical tests to FILE (JSON)")


def pytest_generate_tests(metafunc):
    k = metafunc.config.getoption("--stat-seeds")
    if k and "stat_seed" in metafunc.fixturenames:
        metafunc.parametrize("stat_seed", range(k), ids=[f"seed{i}" for i in range(k)],
                             scope="module")


def without_sweep_seed(nodeid: str) -> str:
    """The test id without the ``seedN`` parameter that ``--stat-seeds`` adds."""
    name = re.sub(r"(?<=[\[-])seed\d+(?=[\]-])", "", nodeid)
    return name.replace("[-", "[").replace("--", "-").replace("-]", "]").replace("[]", "")


@pytest.fixture(scope="session")
def stat_seed():
    """0 in an ordinary run; under ``--stat-seeds K`` each value 0..K-1 in turn."""
    return 0


def stat_alpha(item) -> float | None:
    marker = item.get_closest_marker("statistical")
    if marker is None:
        return None
    if "alpha" not in marker.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.statistical needs alpha=...")
    return float(marker.kwargs["alpha"])


_OUTCOMES: list = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    alpha = stat_alpha(item)
    if alpha is not None and (report.when == "call" or report.outcome != "passed"):
        name = without_sweep_seed(item.nodeid)
        _OUTCOMES.append({"test": name, "alpha": alpha, "when": report.when,
                          "outcome": report.outcome})


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--stat-report")
    if path:
        import json

        Path(path).write_text(json.dumps(_OUTCOMES, indent=1))


def _sigterm_after_first_checkpoint(monkeypatch, *, workers: bool = False) -> None:
    """Patch (through ``monkeypatch``, or a ``monkeypatch.context()``) the checkpoint writer so
    that a real SIGTERM reaches this process right after the first checkpoint is written — a
    deterministic trigger (the sampler's handler only sets a flag, acted on at the end of the
    next block). ``workers``: signal the chain worker processes too, as a scheduler signals a
    process group."""
    import multiprocessing
    import os
    import signal

    from bayesinv.samplers import checkpoint as ckpt

    save, sent = ckpt.save_chains, []

    def save_then_signal(*args, **kwargs):
        save(*args, **kwargs)
        if not sent:
            sent.append(True)
            if workers:
                for child in multiprocessing.active_children():
                    os.kill(child.pid, signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(ckpt, "save_chains", save_then_signal)


@pytest.fixture
def sigterm_after_first_checkpoint():
    """:func:`_sigterm_after_first_checkpoint`, for tests that interrupt and resume a run."""
    return _sigterm_after_first_checkpoint
