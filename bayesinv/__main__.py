"""``python -m bayesinv``: the ``bayesinv`` command (see :mod:`bayesinv.cli`)."""

import sys

from .cli import main

sys.exit(main())
