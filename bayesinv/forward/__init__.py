"""Forward maps θ ↦ G(θ). PDE maps built on FEniCSx live in :mod:`bayesinv.fem`."""

from ..protocols import ForwardMapProtocol
from .base import ForwardMap, SolveCounts
from .linear import LinearForwardMap

__all__ = ["ForwardMap", "ForwardMapProtocol", "LinearForwardMap", "SolveCounts"]
