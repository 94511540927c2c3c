"""Compatibility name of :mod:`bayesinv.coverage.store` (the results store belongs to the
coverage studies it stores): the same module object (``sys.modules`` alias). New code imports
:mod:`bayesinv.coverage.store`."""

import sys

from ..coverage import store as _moved

sys.modules[__name__] = _moved
