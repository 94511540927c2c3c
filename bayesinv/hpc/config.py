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

Validation is written as a small declarative schema (:mod:`.schema`) rather than a dependency
(pydantic, jsonschema): the package needs nothing beyond the standard library here, and the
messages follow the package's convention (name, value, what is valid). The vocabulary — the
methods, loops, inits, preconditioners, links, executors, PDEs, priors, truths, functionals
and credible-set kinds a config may name — is taken from the modules that consume it, so a
config accepts exactly what ``sample()``, the forward maps and the coverage harness accept.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..coverage.spec import KINDS
from ..errors import ConfigError, InvalidArgumentError
from ..links import LINKS as _LINKS
from ..priors.spde import beta_from_nu
from ..samplers import INITS, LOOPS, PRECONDITIONERS, check_settings, sample
from ..samplers import METHODS as _SAMPLER_METHODS
from .executors import EXECUTORS
from .problems import DOMAIN_SHAPES, FUNCTIONAL_KINDS, PDES, PRIOR_KINDS, PSI, TRUTH_KINDS
from .schema import (
    Key,
    any_string,
    boolean,
    choice,
    fail,
    integer,
    list_of,
    number,
    number_or_false,
    plain_name,
    scalar,
    string,
    table,
)

if TYPE_CHECKING:
    from ..samplers.methods import Method

# -- the vocabulary: every choice comes from the code that consumes it -----------------------
#: the sampler's methods (:data:`bayesinv.samplers.METHODS`, pCN first: the default) and
#: "exact" (the linear–Gaussian reference problem's exact posterior)
METHODS = ("pcn", *(m for m in _SAMPLER_METHODS if m != "pcn"), "exact")
#: the links of :data:`bayesinv.links.LINKS`, "exp" first (the default)
LINKS = ("exp", *(name for name in _LINKS if name != "exp"))
#: named test functions ψ(x) for ``[[coverage.functionals]]`` of kind "linear"
PSI_FUNCTIONS = tuple(PSI)
#: the time-stepping schemes of :class:`bayesinv.fem.HeatForwardMap` (``fem.heat.SCHEMES``;
#: not imported here, which would import dolfinx; tests/test_config_vocabulary.py checks)
HEAT_SCHEMES = ("backward_euler", "crank_nicolson")


def _matern_nu(path: str, value: Any) -> float:
    """ν of the SPDE (Whittle–Matérn) prior: what :func:`bayesinv.priors.spde.beta_from_nu`
    accepts on the configs' 2-d domains."""
    value = number(0.0)(path, value)
    try:
        beta_from_nu(value, 2)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return value


def _sample_default(name: str) -> Any:
    """The default of ``bayesinv.sample``'s keyword ``name``."""
    return inspect.signature(sample).parameters[name].default


EXPERIMENT = {
    "name": Key(plain_name, doc="a name for the run (used in titles and the default output)"),
    "seed": Key(integer(0), 0, "root seed: replicate r uses SeedSequence(seed).spawn(R)[r]"),
    "output": Key(string, None, "output directory (default results/<name>)"),
}
DOMAIN = {
    "shape": Key(choice(DOMAIN_SHAPES), DOMAIN_SHAPES[0]),
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
        "scheme": Key(choice(HEAT_SCHEMES), HEAT_SCHEMES[0]),
        "initial_value": Key(number(), 0.0),
        "source": Key(number(), 1.0),
        "boundary_value": Key(number(), 0.0),
        "link": Key(choice(LINKS), "exp"),
    },
}
PRIOR = {
    "series": {
        "kind": Key(choice(PRIOR_KINDS), "series"),
        "alpha": Key(number(0.0), 2.0, "smoothness: weights λ_k^(-α/2)"),
        "num_modes": Key(integer(1), 60, "Dirichlet–Laplacian modes D"),
        "scale": Key(number(0.0), 1.0),
    },
    "matern": {
        "kind": Key(choice(PRIOR_KINDS)),
        "length_scale": Key(number(0.0)),
        "variance": Key(number(0.0), 1.0),
        "nu": Key(_matern_nu, 1.0, "ν = 2β − d/2 for an integer β ≥ 1: 1, 3, 5, ... in 2-d"),
    },
}
TRUTH = {
    "kind": Key(choice(TRUTH_KINDS), "e1"),
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
#: ``bayesinv.sample``'s settings. Types are checked here; ranges are the sampler's own:
#: :func:`~bayesinv.samplers.check_settings` (the checks ``sample`` makes) and the method's
#: scale range (0, max_parameter] (:func:`_check_scale`). The integer and target-acceptance
#: bounds below give messages with the dotted key; tests/test_hpc_config.py checks they are
#: the sampler's.
SAMPLE_SETTINGS = {
    "draws": Key(integer(1), _sample_default("draws")),
    "chains": Key(integer(1), _sample_default("chains")),
    "warmup": Key(integer(0), 0), "thin": Key(integer(1), _sample_default("thin")),
    "step_size": Key(number(), None), "beta": Key(number(), None),
    "init": Key(choice(INITS), INITS[0]),
    "preconditioner": Key(choice(PRECONDITIONERS), None),
    "max_divergences": Key(integer(0), None), "adapt": Key(boolean, None),
    "target_accept": Key(number(0.0, 1.0, open_high=True), None),
    "safety_factor": Key(number(0.0), None), "curvature_iterations": Key(integer(1), None),
    "loop": Key(choice(LOOPS), None),
    "diagnostics": Key(boolean, False, "per-run warnings (a study flags replicates itself)"),
}
EXACT_SETTINGS = {"draws": SAMPLE_SETTINGS["draws"], "chains": SAMPLE_SETTINGS["chains"]}
FUNCTIONAL = {
    "name": Key(string),
    "kind": Key(choice(tuple(FUNCTIONAL_KINDS))),
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


def _problem(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        fail("problem", raw, "a table")
    if "pde" not in raw:
        raise ConfigError(f"missing required key problem.pde (one of {list(PDES)})")
    pde = choice(PDES)("problem.pde", raw["pde"])
    if pde == "linear_gaussian":
        schema = {"pde": Key(scalar), "noise_std": Key(number(0.0)),
                  "linear_gaussian": Key(lambda p, v: v, None)}
        top = table("problem", raw, schema)
        top["linear_gaussian"] = table("problem.linear_gaussian", raw.get("linear_gaussian"),
                                       LINEAR_GAUSSIAN)
        return top
    sub = ("domain", "design", "forward", "prior", "truth")
    schema = {"pde": Key(scalar), "noise_std": Key(number(0.0)),
              **{k: Key(lambda p, v: v, None) for k in sub}}
    top = table("problem", raw, schema)
    top["domain"] = table("problem.domain", raw.get("domain"), DOMAIN)
    top["design"] = table("problem.design", raw.get("design"), DESIGN, required=True)
    top["forward"] = table("problem.forward", raw.get("forward"), FORWARD[pde])
    prior_raw = raw.get("prior") or {}
    kind = choice(PRIOR_KINDS)("problem.prior.kind",
                                        prior_raw.get("kind", "series")
                                        if isinstance(prior_raw, dict) else "series")
    top["prior"] = table("problem.prior", raw.get("prior"), PRIOR[kind])
    top["truth"] = table("problem.truth", raw.get("truth"), TRUTH)
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


def _inference(raw: Any, pde: str) -> dict[str, Any]:
    if raw is None:
        raise ConfigError("missing table [inference]")
    if not isinstance(raw, dict):
        fail("inference", raw, "a table")
    top = table("inference", raw, {"method": Key(choice(METHODS)),
                                   "settings": Key(lambda p, v: v, None)})
    method = top["method"]
    if method == "exact" and pde != "linear_gaussian":
        raise ConfigError(
            f"inference.method = 'exact' needs problem.pde = 'linear_gaussian' (an exact "
            f"Gaussian posterior), got problem.pde = {pde!r}")
    schema = EXACT_SETTINGS if method == "exact" else SAMPLE_SETTINGS
    settings = table("inference.settings", top["settings"], schema)
    top["settings"] = {k: v for k, v in settings.items() if v is not None}
    if method != "exact":
        # the sampler's own checks (which settings each method takes, and how they combine)
        given = {k: v for k, v in top["settings"].items() if k not in ("init", "diagnostics")}
        try:
            checked = check_settings(method, **given)
        except InvalidArgumentError as exc:
            raise ConfigError(f"inference.settings (method = {method!r}): {exc}") from None
        _check_scale(checked["cls"], checked["given"])
    return top


def _check_scale(cls: type[Method], given: float | None) -> None:
    """The scale parameter (``step_size`` or ``beta``) in the method's range
    (0, ``cls.max_parameter``] (what :func:`bayesinv.samplers.tuning.check_parameter` asks)."""
    if given is not None:
        high = cls.max_parameter if math.isfinite(cls.max_parameter) else None
        number(0.0, high)(f"inference.settings.{cls.parameter}", given)


def _coverage(raw: Any) -> dict[str, Any]:
    if raw is not None and not isinstance(raw, dict):
        fail("coverage", raw, "a table")
    raw = dict(raw or {})
    functionals_raw = raw.pop("functionals", [])
    convergence_raw = raw.pop("convergence", None)
    top = table("coverage", raw, COVERAGE)
    top["levels"] = sorted(top["levels"])
    if not isinstance(functionals_raw, list):
        fail("coverage.functionals", functionals_raw,
              "an array of tables ([[coverage.functionals]])")
    functionals = []
    for i, f in enumerate(functionals_raw):
        path = f"coverage.functionals[{i}]"
        spec = table(path, f, FUNCTIONAL)
        need = FUNCTIONAL_KINDS[spec["kind"]]
        if spec[need] is None:
            raise ConfigError(f"{path}.{need} is required for kind = {spec['kind']!r}")
        if spec["name"] == "field":
            fail(f"{path}.name", spec["name"], "a name other than 'field' (reserved)")
        functionals.append({k: v for k, v in spec.items() if v is not None})
    names = [f["name"] for f in functionals]
    if len(set(names)) != len(names):
        fail("coverage.functionals", names, "functionals with distinct names")
    top["functionals"] = functionals
    top["convergence"] = table("coverage.convergence", convergence_raw, CONVERGENCE)
    return top


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The normalised config (defaults filled in) of a parsed TOML document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a TOML table, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP))
    if unknown:
        raise ConfigError(f"unknown table or key [{unknown[0]}]; allowed: {list(TOP)}")
    cfg = {"experiment": table("experiment", raw.get("experiment"), EXPERIMENT,
                               required=True)}
    if cfg["experiment"]["output"] is None:
        cfg["experiment"]["output"] = f"results/{cfg['experiment']['name']}"
    if "problem" not in raw:
        raise ConfigError("missing table [problem]")
    cfg["problem"] = _problem(raw["problem"])
    cfg["inference"] = _inference(raw.get("inference"), cfg["problem"]["pde"])
    cfg["coverage"] = _coverage(raw.get("coverage"))
    cfg["executor"] = table("executor", raw.get("executor"), EXECUTOR)
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


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
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


def config_hash(cfg: Mapping[str, Any]) -> str:
    """SHA-256 of the parts of a normalised config that determine the results (everything
    but ``[executor]`` and ``experiment.output``)."""
    relevant = {k: v for k, v in cfg.items() if k != "executor"}
    relevant["experiment"] = {k: v for k, v in cfg["experiment"].items() if k != "output"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
