r"""The known coefficients and experiments of a :class:`~bayesinv.fem.VariationalForwardMap`.

A user's residual F(u, m; v, **coefficients) may use named known coefficients (sources,
boundary data, material constants), given as constants, callables c(x), dof values or dolfinx
Functions (:func:`known_coefficients` makes each a Function); several experiments give some of
them new values (:func:`experiment_values` interpolates each experiment's data once), and a
:class:`~bayesinv.fem.DirichletBC` may take its boundary data from a coefficient by name
(:func:`bc_values`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .dirichlet import DirichletBC
from .variational_spaces import _fill


def known_coefficients(coefficients: Mapping[str, Any], V: Any, mesh: Any) -> dict[str, Any]:
    """The known coefficients by name as dolfinx Functions: a Function on ``mesh`` is kept,
    any other value (constant, callable c(x), dof values) is filled into a new Function on
    the state space ``V``."""
    import dolfinx.fem

    if not isinstance(coefficients, Mapping):
        raise InvalidArgumentError(
            f"coefficients must be a dict name -> value, got {type(coefficients).__name__}")
    out = {}
    for name, value in coefficients.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgumentError(
                f"coefficient names must be Python identifiers, got {name!r}")
        if isinstance(value, dolfinx.fem.Function):
            if value.function_space.mesh is not mesh:
                raise InvalidArgumentError(
                    f"coefficient {name!r} lives on a different mesh than the state space; "
                    f"interpolate it onto the state mesh")
            out[name] = value
        else:
            fn = dolfinx.fem.Function(V, name=name)
            _fill(fn, value, f"coefficient {name!r}")
            out[name] = fn
    return out


def experiment_values(experiments: Iterable[Mapping[str, Any]] | None,
                      coefficients: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], ...]:
    """Per experiment, the dof values of the coefficients it changes (each interpolated once
    into its coefficient's Function, whose values are then restored); ``None``: one
    experiment that changes nothing."""
    if experiments is None:
        return ({},)
    experiments = tuple(experiments)
    if not experiments:
        raise InvalidArgumentError("experiments must be a non-empty sequence of dicts")
    for exp in experiments:
        if not isinstance(exp, Mapping):
            raise InvalidArgumentError(
                f"each experiment must be a dict coefficient name -> value, got {exp!r}")
        unknown = sorted(set(exp) - set(coefficients))
        if unknown:
            raise InvalidArgumentError(
                f"experiments name coefficients {unknown} that are not in coefficients= "
                f"(known: {sorted(coefficients)})")
    values = []
    for exp in experiments:  # interpolate each experiment's data once
        vals = {}
        for name, value in exp.items():
            fn = coefficients[name]
            scratch = fn.x.array.copy()
            _fill(fn, value, f"experiment value of {name!r}")
            vals[name] = fn.x.array.copy()
            fn.x.array[:] = scratch
        values.append(vals)
    return tuple(values)


def bc_values(bc: DirichletBC, coefficients: Mapping[str, Any], V: Any) -> np.ndarray:
    """Dof values on the state space ``V`` of the Dirichlet data of ``bc``: its value, or the
    current values of the coefficient it names (interpolated into ``V`` if it lives elsewhere)."""
    import dolfinx.fem

    if isinstance(bc.value, str):
        if bc.value not in coefficients:
            raise InvalidArgumentError(
                f"DirichletBC value {bc.value!r} names no coefficient (known: "
                f"{sorted(coefficients)})")
        fn = coefficients[bc.value]
        if fn.function_space is not V:
            g = dolfinx.fem.Function(V)
            g.interpolate(fn)
            return g.x.array.copy()
        return fn.x.array.copy()
    g = dolfinx.fem.Function(V)
    _fill(g, bc.value, "DirichletBC value")
    return g.x.array.copy()
