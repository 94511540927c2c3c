"""The README's Python example runs as written."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from bayesinv.errors import BayesinvWarning

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.fem
def test_readme_python_block_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python block"
    namespace: dict = {}
    # The README's example is a short demonstration run: sample()'s convergence check may
    # warn about it (that is the check working). Any other BayesinvWarning still fails.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BayesinvWarning)
        exec(compile(blocks[0], "README.md", "exec"), namespace)
    for w in caught:
        if issubclass(w.category, BayesinvWarning):
            assert "have not converged" in str(w.message), str(w.message)
    idata = namespace["idata"]
    assert idata.posterior["theta"].shape[:2] == (4, 500)
    assert int(idata.sample_stats["diverging"].sum()) == 0
