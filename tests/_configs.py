"""The small linear-Gaussian run configuration (TOML) that the CLI and HPC tests write.

Imported by the test modules (``from _configs import lg_toml``: pytest puts ``tests/`` on
``sys.path``, as it has no ``__init__.py``).
"""

from __future__ import annotations

from pathlib import Path

LG_RUN = """
[experiment]
name = "{name}"
seed = 5

[problem]
pde = "linear_gaussian"
noise_std = 0.5

[problem.linear_gaussian]
dim = 8
num_observations = 4
seed = 3

[inference]
method = "{method}"

[inference.settings]
draws = {draws}
thin = {thin}
chains = 2
{extra}
[coverage]
replicates = {replicates}
levels = [0.5, 0.9]

[[coverage.functionals]]
name = "theta_0"
kind = "nodal"
index = 0

[coverage.convergence]
rhat_max = 1.5
ess_min = 10
"""


def lg_toml(tmp_path: Path, *, name: str = "lg", method: str = "pcn", draws: int = 100,
            thin: int = 1, extra: str = "beta = 0.8", replicates: int = 4,
            file: str = "lg.toml") -> Path:
    """Write the configuration to ``tmp_path / file``: an 8-dimensional linear-Gaussian
    problem, ``method`` with 2 chains of ``draws`` draws thinned by ``thin`` (``extra``: more
    settings lines), ``replicates`` coverage replicates at levels 0.5 and 0.9."""
    path = tmp_path / file
    path.write_text(LG_RUN.format(name=name, method=method, draws=draws, thin=thin,
                                  extra=extra, replicates=replicates))
    return path
