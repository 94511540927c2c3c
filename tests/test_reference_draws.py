"""ξ draws of every sampler method stay what they were (issue 20, item 7).

``tests/data/reference_draws.npz`` holds, for a fixed seed, the ξ draws of every method
reachable through ``bayesinv.sample`` — ULA, pULA, MALA, pCN, pCN-Langevin, RWM, gpCN,
gpCN-Langevin, DILI, low-rank and dense-Laplace MALA/ULA, delayed acceptance (linearised and
user surrogate), exact draws, Gibbs-wrapped kernels with unknown σ and τ, in the compiled and
the interpreted loop — on a small linear-Gaussian problem and a small Schrödinger FEM
posterior, made by ``tools/make_reference_draws.py`` from the code before the kernels and
``sample()`` were restructured. Restructuring must not change a single draw.

How they are compared. Every path goes through BLAS or LAPACK (matrix–vector products of the
linear maps and priors, numba's vector dot products, dense factorisations, eigensolvers, the
FEM solves), whose round-off depends on the CPU kernel OpenBLAS picks. So:

* on the BLAS set-up that made the references (same machine type, NumPy and OpenBLAS
  versions and kernels: the stored fingerprint) the draws must be **bit-identical** — the
  same computation on the same library, deterministic with one BLAS thread;
* on any other set-up (e.g. ``OPENBLAS_CORETYPE=Sandybridge``) they must agree to a relative
  tolerance of 1e-10: round-off differences stay at ~1e-15, whereas any change of the random
  stream, of a proposal or of an accept decision changes draws by O(1).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HAVE_DOLFINX, ROOT
from threadpoolctl import threadpool_limits

RTOL = 1e-10


def _load_tool():
    import importlib.util

    path = ROOT / "tools" / "make_reference_draws.py"
    spec = importlib.util.spec_from_file_location("make_reference_draws", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _load_tool()


@pytest.fixture(scope="module")
def tool():
    return TOOL


@pytest.fixture(scope="module")
def reference(tool):
    with np.load(tool.OUTPUT) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def posteriors():
    return {}  # built once per module, shared by the cases


def _case_names():
    return [pytest.param(name, marks=pytest.mark.fem) if kind == "fem" else name
            for name, (kind, _, _) in TOOL.CASES.items()]


def test_every_case_has_a_reference_and_every_method_is_covered(tool, reference):
    from bayesinv.samplers.registry import METHODS

    assert set(reference) - {"__fingerprint__"} == set(tool.CASES)
    covered = {method for _, method, _ in tool.CASES.values()}
    assert covered == set(METHODS) | {"exact"}
    loops = {(m, kw.get("loop")) for _, m, kw in tool.CASES.values()}
    for method, cls in METHODS.items():
        if getattr(cls, "compiled_loop", True):
            assert (method, "compiled") in loops and (method, "interpreted") in loops, method


@pytest.mark.parametrize("name", _case_names())
def test_draws_equal_the_reference(tool, reference, posteriors, name):
    if tool.CASES[name][0] == "fem" and not HAVE_DOLFINX:
        pytest.skip("FEniCSx (dolfinx) is not installed")
    with threadpool_limits(limits=1):
        draws = tool.run_case(name, posteriors)
    expected = reference[name]
    assert draws.shape == expected.shape
    if str(reference["__fingerprint__"]) == tool.blas_fingerprint():
        np.testing.assert_array_equal(draws, expected, err_msg=f"{name}: not bit-identical")
    else:
        np.testing.assert_allclose(draws, expected, rtol=RTOL, atol=RTOL, err_msg=name)
