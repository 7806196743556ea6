"""Every Python code block of README.md runs as it stands (in this process, from an empty
directory); the spiking block's ΔW is then checked against the implicit gradient."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

BLOCKS = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(encoding="utf-8"),
                    re.DOTALL | re.MULTILINE)


def test_readme_has_the_python_blocks():
    assert any("SpikingStudy" in b for b in BLOCKS)


@pytest.mark.brian2
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_it_stands(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    if "study" in namespace:
        # The tied spiking ΔW against −∂C/∂W of the calibrated rate model, computed by separate
        # code (implicit differentiation): measured cos 0.97 (W_0) and 0.999 (W_1) with 10
        # neurons per unit; 0.9 is far above what a wrong sign, layer or transpose would give.
        cos = namespace["study"].compare(namespace["dW_tied"])["cos"]
        assert min(cos) > 0.9
