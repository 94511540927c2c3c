"""Compatibility name of :mod:`bayesinv.space_record` (moved next to the ArviZ bridge, which
records FE spaces in InferenceData): the same module object (``sys.modules`` alias). New code
imports :mod:`bayesinv.space_record`."""

import sys

from .. import space_record as _moved

sys.modules[__name__] = _moved
