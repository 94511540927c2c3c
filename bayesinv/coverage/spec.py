"""What a coverage study is about: the picklable problem spec and the kinds of credible set.

A task must be picklable, and dolfinx meshes and forward maps are not. So a study names its
problem by a :class:`ProblemSpec`: a module-level factory ``factory(**kwargs) ->
CoverageModel`` that builds the mesh, forward map, prior and truth. Each worker process calls it
once and caches the model (keyed by the pickled spec), so the FEM set-up is paid once per
process, not per replicate. With the ``fork`` start method workers inherit the parent's cache;
with ``spawn``/``forkserver`` they rebuild the model once each.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..errors import InvalidArgumentError
from ..synthetic import CoverageModel

#: credible-set kinds: marginal intervals (scalar functionals) and whole-field sets
KINDS = ("equal_tailed", "hdi", "band", "l2_ball")
SCALAR_KINDS = ("equal_tailed", "hdi")
FIELD_KINDS = ("band", "l2_ball")
#: the name of the whole field among the scored "functionals"
FIELD = "field"

_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


class Executor(Protocol):
    """What runs a study's replicates: ``map(fn, tasks)``, the results in task order (a
    ``concurrent.futures`` executor, or one of :mod:`bayesinv.hpc.executors`)."""

    def map(self, fn: Callable[[_Task], _Result], tasks: Iterable[_Task], /
            ) -> Iterable[_Result]:
        """``fn(task)`` for each task, in task order."""
        ...


@dataclass(frozen=True)
class ProblemSpec:
    """A picklable description of a :class:`~bayesinv.synthetic.CoverageModel`:
    ``factory(**kwargs)``.

    ``factory`` must be a module-level function (importable by worker processes).
    """

    factory: Callable[..., CoverageModel]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the spec travels to worker processes (and keys the model cache) pickled: refuse a
        # lambda or nested function here, with the fix, not as a pickling error in a worker
        if not callable(self.factory):
            raise InvalidArgumentError(
                f"factory must be a function returning a CoverageModel, got "
                f"{type(self.factory).__name__}")
        for what, value in (("factory", self.factory), ("kwargs", dict(self.kwargs))):
            try:
                pickle.dumps(value)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                name = getattr(value, "__qualname__", type(value).__name__)
                raise InvalidArgumentError(
                    f"ProblemSpec {what} ({name}) cannot be pickled, and the spec is sent "
                    f"to worker processes pickled: use a module-level function (def ... at "
                    f"the top level of an importable module, not a lambda or a function "
                    f"defined inside another) and picklable keyword values ({exc})") from exc

    def build(self) -> CoverageModel:
        """The model, built once per process and cached (keyed by the pickled spec)."""
        key = pickle.dumps(self)
        if key not in _MODEL_CACHE:
            model = self.factory(**dict(self.kwargs))
            if not isinstance(model, CoverageModel):
                raise InvalidArgumentError(
                    f"the problem factory {self.factory.__qualname__} must return a "
                    f"CoverageModel, got {type(model).__name__}")
            _MODEL_CACHE[key] = model
        return _MODEL_CACHE[key]


_MODEL_CACHE: dict[bytes, CoverageModel] = {}
