"""Sphinx configuration of the bayesinv documentation (API reference from the numpydoc
docstrings, tutorials, guides). Offline: no intersphinx, no remote images. Build with
``make docs`` (HTML in docs/_build/html); the test suite builds it with warnings as errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bayesinv  # noqa: E402

project = "bayesinv"
author = "bayesinv developers"
release = version = bayesinv.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",      # numpydoc-style sections (Parameters, Returns, ...)
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# types become :class: references before Sphinx sees them, so that words of a shape
# ("ndarray, shape (n, dim)") are not looked up as attributes of some class
napoleon_preprocess_types = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # the docstrings state the types
autodoc_default_options = {"members": True, "show-inheritance": False}
autosummary_generate = False
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "images", "*.md"]
html_theme = "alabaster"
html_static_path: list[str] = []
suppress_warnings = ["config.cache"]

# The docstrings write norms and absolute values as |x| in plain text (readable in `help()`),
# which reStructuredText takes for a substitution reference: escape those bars, leaving
# literals (``...``), roles (:math:`...`) and math directives alone.
_LITERAL = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`)")


def _escape_bars(line: str) -> str:
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _process_docstring(app, what, name, obj, options, lines):
    math_indent = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if math_indent is not None:
            if stripped and indent <= math_indent:
                math_indent = None
            else:
                continue
        if stripped.startswith(".. math::"):
            math_indent = indent
            continue
        lines[i] = _escape_bars(line)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
