"""The package type-checks: ``python -m mypy`` with the repository's config ([mypy] in setup.cfg)
reports no error (skipped without mypy, which the test extra installs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("mypy", reason="test extra not installed: pip install -e '.[test]'")


def test_mypy_reports_no_error():
    # from the repository root, so that mypy reads setup.cfg's [mypy] sections (files = stdp_ebm)
    # and keeps its incremental cache in the git-ignored .mypy_cache (cold ~20 s, warm < 1 s)
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"mypy (exit {done.returncode}):\n{done.stdout}{done.stderr}"
