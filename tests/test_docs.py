"""The documentation builds without a warning (Sphinx + MyST; skipped without the docs extra)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("sphinx", reason="docs extra not installed: pip install -e '.[docs]'")
pytest.importorskip("myst_parser", reason="docs extra not installed: pip install -e '.[docs]'")


def test_docs_build_with_warnings_as_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                           str(REPO / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "api.html").is_file()
