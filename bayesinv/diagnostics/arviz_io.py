"""Compatibility name of :mod:`bayesinv.arviz_io`: the ArviZ bridge moved to the ground floor
of the package, so that the samplers and the Laplace approximation need not import the
diagnostics. This name is the same module object (``sys.modules`` alias), so attributes set
through either name are seen through both. New code imports :mod:`bayesinv.arviz_io`."""

import sys

from .. import arviz_io as _moved

sys.modules[__name__] = _moved
