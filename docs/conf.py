"""Sphinx configuration: MyST markdown pages, an API reference from the docstrings (autodoc)."""

import sys
from pathlib import Path

# the checkout these docs belong to, ahead of any installed copy of the package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

project = "stdp-ebm"
author = "the stdp-ebm contributors"
copyright = "2026, the stdp-ebm contributors (MIT licence)"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
try:  # the docs extra installs Furo: wide code blocks and tables scroll inside the column
    import furo  # noqa: F401

    html_theme = "furo"
    html_title = "stdp-ebm"
except ImportError:  # Sphinx's default theme, with the same overflow rules (_static/wide.css)
    html_theme = "alabaster"
    html_theme_options = {"page_width": "auto", "body_max_width": "none"}
html_static_path = ["_static"]
html_css_files = ["wide.css"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Brian2 and scipy are imported lazily inside functions; nothing needs mocking.
suppress_warnings = ["myst.xref_missing"]  # links to files outside docs/ (source, configs)
