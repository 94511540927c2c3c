"""Experiment configs: TOML files describing an inversion or a coverage study, validated.

A config has the tables ``[experiment]`` (name, root seed, output directory), ``[problem]``
(the PDE, noise level, and sub-tables ``domain``, ``design``, ``forward``, ``prior``,
``truth``; or ``linear_gaussian`` for the reference problem), ``[inference]`` (a
:func:`bayesinv.sample` method and its ``settings``, or ``"exact"``), ``[coverage]`` (the
study: replicates, truth mode, levels, kinds, ``functionals``, ``convergence``) and
``[executor]`` (how to run: serial, local processes, MPI, Dask). Complete, commented examples
for each PDE are in ``examples/configs/``.

:func:`load_config` reads the file with the standard library (``tomllib``) and validates
every key against the schema below: a wrong type, a value out of range, a missing required
key or an *unknown* key (a typo) raises :class:`~bayesinv.errors.ConfigError` whose message
names the dotted key (``problem.prior.alpha``), the value and what is allowed. The result is
the *normalised* config — a plain dict with every default filled in — and its SHA-256 hash
(:func:`config_hash`) over everything that determines the results (all but ``[executor]``
and ``experiment.output``), which the results store records so that a changed config is
never mixed with old results.

Validation is written as a small declarative schema (:class:`Key`) rather than a dependency
(pydantic, jsonschema): the package needs nothing beyond the standard library here, and the
messages follow the package's convention (name, value, what is valid).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._validation import _show
from ..errors import ConfigError, InvalidArgumentError
from ..samplers.driver import LOOPS, check_settings
from ..samplers.methods import METHODS as _SAMPLER_METHODS

PDES = ("schrodinger", "darcy", "heat", "linear_gaussian")
#: the sampler's methods (:data:`bayesinv.samplers.methods.METHODS`) and "exact"
METHODS = ("pcn", *(m for m in _SAMPLER_METHODS if m != "pcn"), "exact")
KINDS = ("equal_tailed", "hdi", "band", "l2_ball")
EXECUTORS = ("serial", "local", "mpi", "dask")
LINKS = ("exp", "regular", "identity")
#: named test functions ψ(x) for ``[[coverage.functionals]]`` of kind "linear"
PSI_FUNCTIONS = ("sin_sin", "one")

_REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One key of the schema: a checker ``check(path, value) -> value`` and a default."""

    check: Callable
    default: object = _REQUIRED
    doc: str = ""


# -- value checkers: each returns the normalised value or raises ConfigError ---------------

def _fail(path, value, allowed) -> None:
    raise ConfigError(f"{path} must be {allowed}, got {_show(value)}")


def integer(minimum: int | None = None):
    def check(path, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _fail(path, value, f"an integer >= {minimum}" if minimum is not None
                  else "an integer")
        if minimum is not None and value < minimum:
            _fail(path, value, f"an integer >= {minimum}")
        return int(value)
    return check


def number(low: float | None = None, high: float | None = None, *, open_low=True,
           open_high=False):
    lo_txt = "(" if open_low else "["
    hi_txt = ")" if open_high else "]"
    if low is not None and high is not None:
        allowed = f"a number in {lo_txt}{low}, {high}{hi_txt}"
    elif low is not None:
        allowed = f"a number {'>' if open_low else '>='} {low}"
    else:
        allowed = "a finite number"

    def check(path, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            _fail(path, value, allowed)
        if low is not None and (value <= low if open_low else value < low):
            _fail(path, value, allowed)
        if high is not None and (value >= high if open_high else value > high):
            _fail(path, value, allowed)
        return float(value)
    return check


def choice(options):
    def check(path, value):
        if not isinstance(value, str) or value not in options:
            _fail(path, value, f"one of {list(options)}")
        return value
    return check


def boolean(path, value):
    if not isinstance(value, bool):
        _fail(path, value, "true or false")
    return value


def string(path, value):
    if not isinstance(value, str) or not value:
        _fail(path, value, "a non-empty string")
    return value


def any_string(path, value):
    if not isinstance(value, str):
        _fail(path, value, "a string")
    return value


def number_or_false(low: float):
    """A number > low, or ``false`` to disable the check (TOML has no null)."""
    inner = number(low)

    def check(path, value):
        if value is False:
            return None
        if isinstance(value, bool):
            _fail(path, value, f"a number > {low}, or false to disable the check")
        return inner(path, value)
    return check


def list_of(item, *, min_length: int = 1, length: int | None = None, distinct=False):
    def check(path, value):
        what = f"a list of {length} values" if length else f"a list of >= {min_length} values"
        if not isinstance(value, list) or len(value) < min_length \
                or (length is not None and len(value) != length):
            _fail(path, value, what)
        out = [item(f"{path}[{i}]", v) for i, v in enumerate(value)]
        if distinct and len(set(map(repr, out))) != len(out):
            _fail(path, value, "a list of distinct values")
        return out
    return check


def scalar(path, value):
    """A plain TOML scalar passed through to a library call (bool, int, float, string)."""
    if not isinstance(value, (bool, int, float, str)):
        _fail(path, value, "a number, a string or a boolean")
    return value


# -- the schema ------------------------------------------------------------------------------

def plain_name(path, value):
    """A name usable as one path component: letters, digits, '_', '-', '.', not starting
    with '.' (so neither '..' nor a hidden name), at most 100 characters."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}",
                                                      value):
        _fail(path, value, "a plain name (letters, digits, '_', '-', '.'; no '/', not "
              "starting with '.'), since it names the output directory results/<name>")
    return value


EXPERIMENT = {
    "name": Key(plain_name, doc="a name for the run (used in titles and the default output)"),
    "seed": Key(integer(0), 0, "root seed: replicate r uses SeedSequence(seed).spawn(R)[r]"),
    "output": Key(string, None, "output directory (default results/<name>)"),
}
DOMAIN = {
    "shape": Key(choice(("unit_square", "disk")), "unit_square"),
    "mesh": Key(integer(2), 16, "unit_square: cells per side"),
    "radius": Key(number(0.0), 1.0, "disk: radius"),
    "mesh_size": Key(number(0.0), 0.1, "disk: target edge length (gmsh)"),
}
DESIGN = {
    "num_observations": Key(integer(1), doc="N uniform observation points"),
    "seed": Key(integer(0), 0, "seed of the design points"),
}
FORWARD = {
    "schrodinger": {
        "boundary_value": Key(number(), 1.0),
        "link": Key(choice(LINKS), "exp"),
    },
    "darcy": {
        "source": Key(number(), 1.0),
        "boundary_value": Key(number(), 0.0),
        "link": Key(choice(LINKS), "exp"),
    },
    "heat": {
        "final_time": Key(number(0.0), 0.1),
        "num_steps": Key(integer(1), 10),
        "observation_times": Key(list_of(number(0.0)), None,
                                 "times in (0, final_time] (default [final_time])"),
        "scheme": Key(choice(("backward_euler", "crank_nicolson")), "backward_euler"),
        "initial_value": Key(number(), 0.0),
        "source": Key(number(), 1.0),
        "boundary_value": Key(number(), 0.0),
        "link": Key(choice(LINKS), "exp"),
    },
}
PRIOR = {
    "series": {
        "kind": Key(choice(("series", "matern")), "series"),
        "alpha": Key(number(0.0), 2.0, "smoothness: weights λ_k^(-α/2)"),
        "num_modes": Key(integer(1), 60, "Dirichlet–Laplacian modes D"),
        "scale": Key(number(0.0), 1.0),
    },
    "matern": {
        "kind": Key(choice(("series", "matern"))),
        "length_scale": Key(number(0.0)),
        "variance": Key(number(0.0), 1.0),
        "nu": Key(number(0.0), 1.0),
    },
}
TRUTH = {
    "kind": Key(choice(("e1", "bumps", "constant")), "e1"),
    "bumps": Key(list_of(list_of(number(), length=4)), None,
                 "bumps: [[x, y, width, amplitude], ...]"),
    "value": Key(number(), 0.0, "constant: the value"),
    "zero_on_boundary": Key(boolean, True, "set θ₀ to 0 at boundary nodes (as prior draws)"),
}
LINEAR_GAUSSIAN = {
    "dim": Key(integer(1), 8),
    "num_observations": Key(integer(1), 4),
    "seed": Key(integer(0), 0),
    "prior_decay": Key(number(), 1.0),
}
SAMPLE_SETTINGS = {
    "draws": Key(integer(1), 1000), "chains": Key(integer(1), 4),
    "warmup": Key(integer(0), 0), "thin": Key(integer(1), 1),
    "step_size": Key(number(0.0), None), "beta": Key(number(0.0, 1.0), None),
    "init": Key(choice(("prior", "map")), "prior"),
    "preconditioner": Key(choice(("laplace",)), None),
    "max_divergences": Key(integer(0), None), "adapt": Key(boolean, None),
    "target_accept": Key(number(0.0, 1.0, open_high=True), None),
    "safety_factor": Key(number(0.0), None), "curvature_iterations": Key(integer(1), None),
    "loop": Key(choice(LOOPS), None),
    "diagnostics": Key(boolean, False, "per-run warnings (a study flags replicates itself)"),
}
EXACT_SETTINGS = {"draws": Key(integer(1), 1000), "chains": Key(integer(1), 4)}
FUNCTIONAL = {
    "name": Key(string),
    "kind": Key(choice(("linear", "point", "nodal"))),
    "psi": Key(choice(PSI_FUNCTIONS), None, "linear: ⟨θ, ψ⟩ with a named ψ"),
    "point": Key(list_of(number(), min_length=1), None, "point: θ(x)"),
    "index": Key(integer(0), None, "nodal: θ_i"),
}
CONVERGENCE = {
    "enabled": Key(boolean, True, "false: no diagnostics, nothing flagged (exact draws)"),
    "rhat_max": Key(number_or_false(1.0), 1.01),
    "ess_min": Key(number_or_false(0.0), 400.0),
    "max_divergences": Key(integer(0), 0),
    "min_acceptance": Key(number_or_false(0.0), None),
    "latent": Key(boolean, False),
}
COVERAGE = {
    "replicates": Key(integer(1), 100),
    "truth": Key(choice(("fixed", "prior")), "fixed"),
    "levels": Key(list_of(number(0.0, 1.0, open_high=True), distinct=True),
                  [0.5, 0.8, 0.9, 0.95]),
    "kinds": Key(list_of(choice(KINDS), distinct=True), list(KINDS)),
    "sbc_draws": Key(integer(1), 99),
    "pointwise_field": Key(boolean, True),
    "confidence": Key(number(0.0, 1.0, open_high=True), 0.95),
}
EXECUTOR = {
    "kind": Key(choice(EXECUTORS), "local"),
    "workers": Key(integer(1), 2, "local/dask: worker processes"),
    "scheduler": Key(any_string, "", "dask: address of an existing scheduler ('' = local)"),
    "checkpoint_interval": Key(number(0.0), 60.0,
                               "run: seconds between sampler checkpoints (also on SIGTERM)"),
}
TOP = ("experiment", "problem", "inference", "coverage", "executor")


def _table(path: str, raw, schema: dict, *, required: bool = False) -> dict:
    """Validate a TOML table against a schema: unknown keys, missing keys, each value."""
    if raw is None:
        if required:
            raise ConfigError(f"missing table [{path}]")
        raw = {}
    if not isinstance(raw, dict):
        _fail(path, raw, "a table")
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise ConfigError(
            f"unknown key {path}.{unknown[0]} = {_show(raw[unknown[0]])}; allowed keys in "
            f"[{path}]: {sorted(schema)}")
    out = {}
    for key, spec in schema.items():
        dotted = f"{path}.{key}"
        if key in raw:
            out[key] = spec.check(dotted, raw[key])
        elif spec.default is _REQUIRED:
            raise ConfigError(f"missing required key {dotted}" +
                              (f" ({spec.doc})" if spec.doc else ""))
        else:
            out[key] = copy.deepcopy(spec.default)
    return out


def _problem(raw) -> dict:
    if not isinstance(raw, dict):
        _fail("problem", raw, "a table")
    if "pde" not in raw:
        raise ConfigError(f"missing required key problem.pde (one of {list(PDES)})")
    pde = choice(PDES)("problem.pde", raw["pde"])
    if pde == "linear_gaussian":
        schema = {"pde": Key(scalar), "noise_std": Key(number(0.0)),
                  "linear_gaussian": Key(lambda p, v: v, None)}
        top = _table("problem", raw, schema)
        top["linear_gaussian"] = _table("problem.linear_gaussian", raw.get("linear_gaussian"),
                                        LINEAR_GAUSSIAN)
        return top
    sub = ("domain", "design", "forward", "prior", "truth")
    schema = {"pde": Key(scalar), "noise_std": Key(number(0.0)),
              **{k: Key(lambda p, v: v, None) for k in sub}}
    top = _table("problem", raw, schema)
    top["domain"] = _table("problem.domain", raw.get("domain"), DOMAIN)
    top["design"] = _table("problem.design", raw.get("design"), DESIGN, required=True)
    top["forward"] = _table("problem.forward", raw.get("forward"), FORWARD[pde])
    prior_raw = raw.get("prior") or {}
    kind = choice(("series", "matern"))("problem.prior.kind",
                                        prior_raw.get("kind", "series")
                                        if isinstance(prior_raw, dict) else "series")
    top["prior"] = _table("problem.prior", raw.get("prior"), PRIOR[kind])
    top["truth"] = _table("problem.truth", raw.get("truth"), TRUTH)
    truth = top["truth"]
    if truth["kind"] == "bumps" and not truth["bumps"]:
        raise ConfigError("problem.truth.bumps is required when problem.truth.kind = 'bumps' "
                          "(a list of [x, y, width, amplitude])")
    fwd = top["forward"]
    if pde == "heat" and fwd["observation_times"] is not None:
        for i, t in enumerate(fwd["observation_times"]):
            if t > fwd["final_time"]:
                raise ConfigError(
                    f"problem.forward.observation_times[{i}] must be in (0, final_time = "
                    f"{fwd['final_time']}], got {t!r}")
    return top


def _inference(raw, pde: str) -> dict:
    if raw is None:
        raise ConfigError("missing table [inference]")
    if not isinstance(raw, dict):
        _fail("inference", raw, "a table")
    top = _table("inference", raw, {"method": Key(choice(METHODS)),
                                    "settings": Key(lambda p, v: v, None)})
    method = top["method"]
    if method == "exact" and pde != "linear_gaussian":
        raise ConfigError(
            f"inference.method = 'exact' needs problem.pde = 'linear_gaussian' (an exact "
            f"Gaussian posterior), got problem.pde = {pde!r}")
    schema = EXACT_SETTINGS if method == "exact" else SAMPLE_SETTINGS
    settings = _table("inference.settings", top["settings"], schema)
    top["settings"] = {k: v for k, v in settings.items() if v is not None}
    if method != "exact":
        # the sampler's own checks (which settings each method takes, and how they combine)
        given = {k: v for k, v in top["settings"].items() if k not in ("init", "diagnostics")}
        try:
            check_settings(method, **given)
        except InvalidArgumentError as exc:
            raise ConfigError(f"inference.settings (method = {method!r}): {exc}") from None
    return top


def _coverage(raw) -> dict:
    if raw is not None and not isinstance(raw, dict):
        _fail("coverage", raw, "a table")
    raw = dict(raw or {})
    functionals_raw = raw.pop("functionals", [])
    convergence_raw = raw.pop("convergence", None)
    top = _table("coverage", raw, COVERAGE)
    top["levels"] = sorted(top["levels"])
    if not isinstance(functionals_raw, list):
        _fail("coverage.functionals", functionals_raw,
              "an array of tables ([[coverage.functionals]])")
    functionals = []
    for i, f in enumerate(functionals_raw):
        path = f"coverage.functionals[{i}]"
        spec = _table(path, f, FUNCTIONAL)
        need = {"linear": "psi", "point": "point", "nodal": "index"}[spec["kind"]]
        if spec[need] is None:
            raise ConfigError(f"{path}.{need} is required for kind = {spec['kind']!r}")
        if spec["name"] == "field":
            _fail(f"{path}.name", spec["name"], "a name other than 'field' (reserved)")
        functionals.append({k: v for k, v in spec.items() if v is not None})
    names = [f["name"] for f in functionals]
    if len(set(names)) != len(names):
        _fail("coverage.functionals", names, "functionals with distinct names")
    top["functionals"] = functionals
    top["convergence"] = _table("coverage.convergence", convergence_raw, CONVERGENCE)
    return top


def validate_config(raw: dict) -> dict:
    """The normalised config (defaults filled in) of a parsed TOML document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a TOML table, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP))
    if unknown:
        raise ConfigError(f"unknown table or key [{unknown[0]}]; allowed: {list(TOP)}")
    cfg = {"experiment": _table("experiment", raw.get("experiment"), EXPERIMENT,
                                required=True)}
    if cfg["experiment"]["output"] is None:
        cfg["experiment"]["output"] = f"results/{cfg['experiment']['name']}"
    if "problem" not in raw:
        raise ConfigError("missing table [problem]")
    cfg["problem"] = _problem(raw["problem"])
    cfg["inference"] = _inference(raw.get("inference"), cfg["problem"]["pde"])
    cfg["coverage"] = _coverage(raw.get("coverage"))
    cfg["executor"] = _table("executor", raw.get("executor"), EXECUTOR)
    conv, chains = cfg["coverage"]["convergence"], cfg["inference"]["settings"]["chains"]
    if conv["enabled"] and conv["rhat_max"] is not None and chains < 2:
        raise ConfigError(
            f"coverage.convergence.rhat_max needs inference.settings.chains >= 2, got chains "
            f"= {chains}; run more chains or set rhat_max = false")
    draws = cfg["inference"]["settings"]["draws"] * chains
    if cfg["coverage"]["sbc_draws"] > draws:
        raise ConfigError(
            f"coverage.sbc_draws must be <= the posterior draws per replicate (draws x chains "
            f"= {draws}), got {cfg['coverage']['sbc_draws']}")
    return cfg


def load_config(path) -> dict:
    """Read and validate a TOML experiment config (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory, not a TOML file"
                          ) from None
    except PermissionError:
        raise ConfigError(f"config file {str(path)!r} cannot be read (permission denied)"
                          ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text (byte {exc.start}); "
                          f"TOML files are UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return validate_config(raw)


def config_hash(cfg: dict) -> str:
    """SHA-256 of the parts of a normalised config that determine the results (everything
    but ``[executor]`` and ``experiment.output``)."""
    relevant = {k: v for k, v in cfg.items() if k != "executor"}
    relevant["experiment"] = {k: v for k, v in cfg["experiment"].items() if k != "output"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
