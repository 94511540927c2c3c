"""The command line the examples share: ``--quick``, ``--output DIR`` and ``--seed N``.

Every example is a standalone script (``python examples/x.py``) with a ``main(argv)`` that the
tests call in quick mode. Each one starts the same way: parse these options (plus its own),
pick its quick or full configuration and create the output directory. An example imports this
module after putting its own folder on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _cli import example_parser, start
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def example_parser(doc: str, output: str, *, seed: int | None = None,
                   quick_help: str = "small mesh and short chains") -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc`` (the example's docstring)
    with ``--quick``, ``--output`` (default ``output``) and, unless ``seed`` is None,
    ``--seed`` (default ``seed``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--output", default=output, help="output directory")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed)
    return parser


def start(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
          full: dict[str, Any], quick: dict[str, Any]
          ) -> tuple[argparse.Namespace, dict[str, Any], Path]:
    """Parse ``argv``; (the arguments, a copy of ``quick`` or ``full`` as ``--quick`` asks,
    the output directory, created)."""
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    return args, dict(quick if args.quick else full), out
