"""Sphinx configuration: MyST markdown pages, an API reference from the docstrings (autodoc)."""

import sys
from pathlib import Path

# the checkout these docs belong to, ahead of any installed copy of the package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

project = "stdp-ebm"
author = "stdp-ebm contributors"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Brian2 and scipy are imported lazily inside functions; nothing needs mocking.
suppress_warnings = ["myst.xref_missing"]  # links to files outside docs/ (source, configs)
