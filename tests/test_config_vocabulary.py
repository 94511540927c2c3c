"""One vocabulary: a config accepts exactly the values its consumers accept — the sampler's
methods, loops, inits, preconditioners and setting ranges, the links, executors, PDE options,
named fields and credible-set kinds (issue 20, item 4). Each test probes both sides with the
same values, so it fails when config and consumer drift apart."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from bayesinv.errors import ConfigError, InvalidArgumentError
from bayesinv.hpc import config, executors, problems
from bayesinv.hpc.config import validate_config

LG = {
    "experiment": {"name": "lg", "seed": 1},
    "problem": {"pde": "linear_gaussian", "noise_std": 0.5,
                "linear_gaussian": {"dim": 3, "num_observations": 2, "seed": 3}},
    "inference": {"method": "pcn", "settings": {"draws": 4, "chains": 2}},
    "coverage": {"sbc_draws": 2, "convergence": {"enabled": False}},
}


def config_accepts(method: str, **settings) -> bool:
    raw = copy.deepcopy(LG)
    raw["inference"] = {"method": method, "settings": {"draws": 4, "chains": 2, **settings}}
    try:
        validate_config(raw)
    except ConfigError:
        return False
    return True


def sampler_accepts(method: str, **settings) -> bool:
    """Whether ``bayesinv.sample`` runs with these settings on a tiny linear–Gaussian
    posterior (an InvalidArgumentError is a refusal)."""
    from bayesinv import sample
    from bayesinv.linear_gaussian import linear_gaussian

    posterior = linear_gaussian(dim=3, num_observations=2, seed=3).posterior
    kwargs = {"draws": 4, "chains": 2, "seed": 0, "diagnostics": False, "progress": False,
              **settings}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample(posterior, method, **kwargs)
    except InvalidArgumentError:
        return False
    return True


def scale(method: str) -> dict:
    """A valid scale parameter for ``method`` (the sampler refuses ULA-type methods without
    one only after a curvature estimate; give one to keep the probes fast)."""
    from bayesinv.samplers.registry import METHODS

    return {METHODS[method].parameter: 0.05}


def test_methods_are_the_samplers_and_exact():
    from bayesinv.samplers import METHODS

    assert set(config.METHODS) == {*METHODS, "exact"}
    assert config.METHODS[0] == "pcn"  # the default of a config's method


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["auto", "interpreted", "compiled", "python", "numba"])
def test_a_loop_is_accepted_by_config_iff_by_sample(loop):
    assert config_accepts("pcn", beta=0.5, loop=loop) == \
        sampler_accepts("pcn", beta=0.5, loop=loop)


@pytest.mark.slow
@pytest.mark.parametrize("init", ["prior", "map", "mle", "random"])
def test_an_init_is_accepted_by_config_iff_by_sample(init):
    assert config_accepts("pcn", beta=0.5, init=init) == \
        sampler_accepts("pcn", beta=0.5, init=init)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "preconditioner"),
                         [("ula", "laplace"), ("ula", "laplace_lowrank"), ("gpcn", "laplace"),
                          ("gpcn", "laplace_lowrank"), ("pcn", "laplace"), ("ula", "hessian")])
def test_a_preconditioner_is_accepted_by_config_iff_by_sample(method, preconditioner):
    settings = {**scale(method), "preconditioner": preconditioner}
    assert config_accepts(method, **settings) == sampler_accepts(method, **settings)


@pytest.mark.slow
@pytest.mark.parametrize("value", [-0.5, 0.0, 0.3, 1.0, 1.5, 2.0, 2.5])
@pytest.mark.parametrize("method", ["pcn", "pcnl", "mala", "gpcnl"])
def test_the_scale_range_is_the_methods(method, value):
    from bayesinv.samplers.registry import METHODS

    settings = {METHODS[method].parameter: value}
    assert config_accepts(method, **settings) == sampler_accepts(method, **settings), settings


@pytest.mark.parametrize(("key", "values"), [
    ("draws", [0, 1]), ("chains", [0, 1, 2]), ("thin", [0, 1]), ("warmup", [-1, 0, 3]),
    ("max_divergences", [-1, 0]), ("curvature_iterations", [0, 1]),
    ("safety_factor", [0.0, 0.1]), ("target_accept", [0.0, 0.5, 1.0])])
def test_setting_ranges_are_the_samplers(key, values):
    from bayesinv.samplers import check_settings

    for value in values:
        settings = {"beta": 0.5, key: value}
        if key == "target_accept":
            settings["warmup"] = 2
        try:
            check_settings("pcn", **settings)
            sampler = True
        except InvalidArgumentError:
            sampler = False
        assert config_accepts("pcn", **settings) == sampler, (key, value)


def test_every_sample_setting_is_a_keyword_of_sample():
    import inspect

    from bayesinv import sample
    from bayesinv.samplers.options import grouped_settings

    keywords = inspect.signature(sample).parameters
    # a config's flat settings reach sample() with the options of its groups gathered into
    # tuning= and persistence= (InferenceSpec.run)
    settings = grouped_settings(dict.fromkeys(config.SAMPLE_SETTINGS))
    assert set(settings) <= set(keywords)
    for key in ("draws", "chains", "thin"):  # the config's defaults are sample()'s
        assert config.SAMPLE_SETTINGS[key].default == keywords[key].default


def test_links_are_the_links_modules():
    from bayesinv.links import LINKS, get_link

    assert set(config.LINKS) == set(LINKS)
    for name in config.LINKS:
        get_link(name)
    for pde in ("schrodinger", "darcy", "heat"):
        assert config.FORWARD[pde]["link"].default in LINKS


def test_executors_named_in_configs_are_the_executors():
    assert config.EXECUTORS == executors.EXECUTORS
    assert isinstance(executors.make_executor("serial"), executors.SerialExecutor)
    with pytest.raises(ConfigError, match=r"executor must be one of \['serial'"):
        executors.make_executor("slurm")


def test_credible_kinds_and_named_functions_are_the_harness():
    from bayesinv.coverage.spec import KINDS

    assert config.KINDS == KINDS
    assert config.COVERAGE["kinds"].default == list(KINDS)
    assert set(config.PSI_FUNCTIONS) == set(problems.PSI)
    x = np.array([[0.5, 0.25], [0.5, 0.75]])
    for name in config.PSI_FUNCTIONS:
        assert problems.PSI[name](x).shape == (2,)


@pytest.mark.fem
def test_fem_choices_are_the_forward_maps_and_domains():
    from bayesinv import fem
    from bayesinv.fem.heat import SCHEMES

    assert tuple(SCHEMES) == config.HEAT_SCHEMES
    for shape in problems.DOMAIN_SHAPES:
        spec = {"shape": shape, "mesh": 2, "radius": 1.0, "mesh_size": 0.5}
        if shape == "disk":
            pytest.importorskip("gmsh")
        assert isinstance(problems.build_domain(spec), fem.Domain)


@pytest.mark.parametrize("nu", [0.5, 1.0, 2.0, 3.0, 4.0])
def test_the_matern_nu_is_the_spde_priors(nu):
    from bayesinv.priors.spde import beta_from_nu

    raw = {"experiment": {"name": "m"}, "problem": {
        "pde": "darcy", "noise_std": 0.1, "design": {"num_observations": 5},
        "prior": {"kind": "matern", "length_scale": 0.3, "nu": nu}},
        "inference": {"method": "pcn", "settings": {"beta": 0.5}}}
    try:
        beta_from_nu(nu, 2)  # the configs' domains are 2-d
        prior = True
    except InvalidArgumentError:
        prior = False
    try:
        validate_config(raw)
        accepted = True
    except ConfigError as exc:
        assert str(exc).startswith("problem.prior.nu: nu=")
        accepted = False
    assert accepted == prior
