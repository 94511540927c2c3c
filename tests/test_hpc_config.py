"""Experiment configs: every bad config gets its own message; the examples load; the CLI
declares its entry point and answers --help on every command."""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bayesinv.cli import main
from bayesinv.errors import ConfigError
from bayesinv.hpc.config import config_hash, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"

BASE = {
    "experiment": {"name": "lg", "seed": 1},
    "problem": {"pde": "linear_gaussian", "noise_std": 0.5,
                "linear_gaussian": {"dim": 8, "num_observations": 4, "seed": 3}},
    "inference": {"method": "pcn", "settings": {"beta": 0.8, "draws": 200, "chains": 2}},
    "coverage": {"replicates": 4,
                 "functionals": [{"name": "theta_0", "kind": "nodal", "index": 0}],
                 "convergence": {"rhat_max": 1.5, "ess_min": 10}},
}


def schrodinger_raw():
    return tomllib.loads((CONFIGS / "schrodinger.toml").read_text())


def with_change(raw, dotted, value):
    raw = copy.deepcopy(raw)
    *head, last = dotted.split(".")
    node = raw
    for key in head:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


DELETE = object()

BAD = [
    # (base, dotted key, value, message)
    ("lg", "experiment.seed", -1, r"experiment.seed must be an integer >= 0, got -1"),
    ("lg", "experiment.seed", 1.5, r"experiment.seed must be an integer >= 0, got 1.5"),
    ("lg", "experiment.name", DELETE, r"missing required key experiment.name"),
    ("lg", "experiment.nmae", "x", r"unknown key experiment.nmae = 'x'; allowed keys in "
     r"\[experiment\]: \['name', 'output', 'seed'\]"),
    ("lg", "problem.pde", "wave", r"problem.pde must be one of \['schrodinger', 'darcy', "
     r"'heat', 'linear_gaussian'\], got 'wave'"),
    ("lg", "problem.noise_std", 0, r"problem.noise_std must be a number > 0.0, got 0"),
    ("lg", "problem.noise_std", "small", r"problem.noise_std must be a number > 0.0, got "
     r"'small'"),
    ("lg", "problem.linear_gaussian.dim", 0,
     r"problem.linear_gaussian.dim must be an integer >= 1, got 0"),
    ("lg", "inference.method", "nuts", r"inference.method must be one of \['pcn', .*'exact'\], "
     r"got 'nuts'"),
    ("lg", "inference.settings.beta", 1.5, r"inference.settings.beta must be a number in "
     r"\(0.0, 1.0\], got 1.5"),
    ("lg", "inference.settings.draws", True, r"inference.settings.draws must be an integer >= "
     r"1, got True"),
    ("lg", "inference.settings.stepsize", 0.1, r"unknown key inference.settings.stepsize"),
    ("lg", "inference.settings.init", "mle", r"inference.settings.init must be one of "
     r"\['prior', 'map'\], got 'mle'"),
    ("lg", "coverage.replicates", 0, r"coverage.replicates must be an integer >= 1, got 0"),
    ("lg", "coverage.truth", "posterior", r"coverage.truth must be one of \['fixed', "
     r"'prior'\], got 'posterior'"),
    ("lg", "coverage.levels", [0.5, 1.0], r"coverage.levels\[1\] must be a number in "
     r"\(0.0, 1.0\), got 1.0"),
    ("lg", "coverage.levels", [0.5, 0.5], r"coverage.levels must be a list of distinct "
     r"values, got \[0.5, 0.5\]"),
    ("lg", "coverage.levels", [], r"coverage.levels must be a list of >= 1 values, got \[\]"),
    ("lg", "coverage.kinds", ["band", "ellipsoid"], r"coverage.kinds\[1\] must be one of "
     r"\['equal_tailed', 'hdi', 'band', 'l2_ball'\], got 'ellipsoid'"),
    ("lg", "coverage.sbc_draws", 1000, r"coverage.sbc_draws must be <= the posterior draws "
     r"per replicate \(draws x chains = 400\), got 1000"),
    ("lg", "coverage.functionals.0.kind", "quadratic", r"coverage.functionals\[0\].kind must "
     r"be one of \['linear', 'point', 'nodal'\], got 'quadratic'"),
    ("lg", "coverage.functionals.0.index", DELETE, r"coverage.functionals\[0\].index is "
     r"required for kind = 'nodal'"),
    ("lg", "coverage.functionals.0.name", "field", r"coverage.functionals\[0\].name must be a "
     r"name other than 'field' \(reserved\), got 'field'"),
    ("lg", "coverage.convergence.rhat_max", 0.9, r"coverage.convergence.rhat_max must be a "
     r"number > 1.0, got 0.9"),
    ("lg", "coverage.convergence.rhat_max", True, r"coverage.convergence.rhat_max must be a "
     r"number > 1.0, or false to disable the check, got True"),
    ("lg", "inference.settings.chains", 1, r"coverage.convergence.rhat_max needs "
     r"inference.settings.chains >= 2, got chains = 1"),
    ("lg", "executor.kind", "ray", r"executor.kind must be one of \['serial', 'local', 'mpi', "
     r"'dask'\], got 'ray'"),
    ("lg", "executor.workers", 0, r"executor.workers must be an integer >= 1, got 0"),
    ("lg", "slurm", {}, r"unknown table or key \[slurm\]; allowed: \['experiment', 'problem', "
     r"'inference', 'coverage', 'executor'\]"),
    ("schrodinger", "inference.method", "exact", r"inference.method = 'exact' needs "
     r"problem.pde = 'linear_gaussian'"),
    ("schrodinger", "problem.prior.alpha", -2, r"problem.prior.alpha must be a number > 0.0, "
     r"got -2"),
    ("schrodinger", "problem.prior.kind", "besov", r"problem.prior.kind must be one of "
     r"\['series', 'matern'\], got 'besov'"),
    ("schrodinger", "problem.prior.length_scale", 0.3, r"unknown key "
     r"problem.prior.length_scale = 0.3; allowed keys in \[problem.prior\]: \['alpha', 'kind',"
     r" 'num_modes', 'scale'\]"),
    ("schrodinger", "problem.domain.mesh", 1, r"problem.domain.mesh must be an integer >= 2, "
     r"got 1"),
    ("schrodinger", "problem.domain.shape", "square", r"problem.domain.shape must be one of "
     r"\['unit_square', 'disk'\], got 'square'"),
    ("schrodinger", "problem.design", DELETE, r"missing table \[problem.design\]"),
    ("schrodinger", "problem.design.num_observations", DELETE,
     r"missing required key problem.design.num_observations \(N uniform observation "
     r"points\)"),
    ("schrodinger", "problem.forward.final_time", 1.0, r"unknown key "
     r"problem.forward.final_time"),
    ("schrodinger", "problem.forward.link", "log", r"problem.forward.link must be one of "
     r"\['exp', 'regular', 'identity'\], got 'log'"),
    ("schrodinger", "problem.truth.kind", "bumps", r"problem.truth.bumps is required when "
     r"problem.truth.kind = 'bumps'"),
    ("schrodinger", "problem.truth.bumps", [[0.3, 0.3, 0.1]], r"problem.truth.bumps\[0\] must "
     r"be a list of 4 values, got \[0.3, 0.3, 0.1\]"),
    ("schrodinger", "coverage.functionals.0.psi", "cos", r"coverage.functionals\[0\].psi must "
     r"be one of \['sin_sin', 'one'\], got 'cos'"),
]


@pytest.mark.parametrize(("base", "key", "value", "message"), BAD,
                         ids=[f"{b}:{k}={v!r}"[:60] for b, k, v, _ in BAD])
def test_bad_config_names_key_value_and_what_is_allowed(base, key, value, message):
    raw = BASE if base == "lg" else schrodinger_raw()
    validate_config(raw)  # the base is valid
    with pytest.raises(ConfigError, match=message):
        validate_config(with_change(raw, key, value))


def test_heat_observation_time_beyond_final_time(tmp_path):
    raw = tomllib.loads((CONFIGS / "heat.toml").read_text())
    with pytest.raises(ConfigError, match=r"problem.forward.observation_times\[1\] must be in "
                       r"\(0, final_time = 0.1\], got 0.2"):
        validate_config(with_change(raw, "problem.forward.observation_times", [0.05, 0.2]))


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\nname = 1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


def test_defaults_are_filled_in_and_the_hash_ignores_how_it_runs():
    cfg = validate_config(BASE)
    assert cfg["experiment"]["output"] == "results/lg"
    assert cfg["coverage"]["levels"] == [0.5, 0.8, 0.9, 0.95]
    assert cfg["inference"]["settings"] == {"beta": 0.8, "draws": 200, "chains": 2,
                                            "warmup": 0, "thin": 1, "init": "prior",
                                            "diagnostics": False}
    assert cfg["executor"] == {"kind": "local", "workers": 2, "scheduler": "",
                               "checkpoint_interval": 60.0}
    h = config_hash(cfg)
    assert config_hash(validate_config(with_change(BASE, "executor", {"kind": "mpi"}))) == h
    assert config_hash(validate_config(with_change(BASE, "experiment.output", "x"))) == h
    assert config_hash(validate_config(with_change(BASE, "experiment.seed", 2))) != h
    assert config_hash(validate_config(
        with_change(BASE, "inference.settings.draws", 201))) != h
    # levels are normalised (sorted): the same study, the same hash
    assert config_hash(validate_config(
        with_change(BASE, "coverage.levels", [0.95, 0.9, 0.8, 0.5]))) == h


@pytest.mark.parametrize("name", ["schrodinger", "darcy", "heat"])
def test_example_configs_load_and_describe_their_pde(name):
    cfg = load_config(CONFIGS / f"{name}.toml")
    assert cfg["problem"]["pde"] == name
    text = (CONFIGS / f"{name}.toml").read_text()
    assert text.count("#") > 10  # commented


@pytest.mark.fem
@pytest.mark.parametrize("name", ["schrodinger", "darcy", "heat"])
def test_example_configs_build_their_study(name):
    from bayesinv.coverage import plan_coverage_study
    from bayesinv.hpc.problems import study_specs

    cfg = load_config(CONFIGS / f"{name}.toml")
    plan = plan_coverage_study(**study_specs(cfg))
    model = plan.tasks[0].problem.build()
    assert plan.replicates == cfg["coverage"]["replicates"]
    assert model.forward.output_dim == cfg["problem"]["design"]["num_observations"] * (
        len(cfg["problem"]["forward"].get("observation_times") or [1]))
    assert plan.metadata["names"] == [f["name"] for f in cfg["coverage"]["functionals"]]


def test_console_script_is_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["bayesinv"] == "bayesinv.cli:main"
    assert any(d.startswith("dask[distributed]") for d in meta["project"]["optional-dependencies"]
               ["hpc"])
    assert any(d.startswith("dask[distributed]") for d in meta["project"]["optional-dependencies"]
               ["dev"])


@pytest.mark.parametrize("command", ["run", "coverage", "status", "report"])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: bayesinv {command}")
    assert {"run": "--no-figures", "coverage": "--task-id", "status": "--verbose",
            "report": "DIR/report"}[command] in out


@pytest.mark.slow
def test_python_dash_m_bayesinv_help_lists_the_commands():
    proc = subprocess.run([sys.executable, "-m", "bayesinv", "--help"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "coverage", "status", "report"):
        assert command in proc.stdout


def test_cli_reports_config_errors_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text((CONFIGS / "schrodinger.toml").read_text().replace(
        "alpha = 2.0", "alpah = 2.0"))
    assert main(["coverage", str(path)]) == 2
    err = capsys.readouterr().err
    assert "config error: unknown key problem.prior.alpah = 2.0" in err


@pytest.mark.parametrize("script", ["slurm_array.sbatch", "mpi.sbatch"])
def test_example_sbatch_scripts_are_valid_bash_and_valid_bayesinv_commands(script):
    import shlex

    from bayesinv.cli import _parser

    path = ROOT / "examples" / "hpc" / script
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    text = path.read_text()
    assert "#SBATCH" in text
    line = next(ln for ln in text.splitlines() if ln.lstrip().startswith(("exec bayesinv",
                                                                           "srun bayesinv")))
    words = shlex.split(line.replace('"$CONFIG"', "examples/configs/schrodinger.toml")
                        .replace('"${SLURM_CPUS_PER_TASK:-1}"', "4"))
    args = _parser().parse_args(words[words.index("bayesinv") + 1:])
    assert args.command == "coverage" and Path(ROOT / args.config).exists()


def test_dask_jobqueue_recipe_compiles():
    path = ROOT / "examples" / "hpc" / "dask_jobqueue.py"
    compile(path.read_text(), str(path), "exec")
