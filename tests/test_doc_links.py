"""Every relative link and image in README.md and docs/*.md names a file or directory of the
repository (the Sphinx build checks links between pages only; links to source files, configs and
figures are checked here, without the docs extra)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at whitespace or ")"; code spans are skipped
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _targets(page: Path) -> list[str]:
    text = CODE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_name_existing_files(page):
    missing = [t for t in _targets(page) if not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.relative_to(REPO)}: links to missing files {missing}"


def test_the_link_pattern_sees_the_links():
    # the README's gallery and docs links: a pattern that found none would pass vacuously
    assert len(_targets(REPO / "README.md")) >= 10
