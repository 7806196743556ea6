"""The long MNIST run kept in the repository (``runs/.mnist60k_h200.partial``,
docs/spiking_learning.md section 5) continues with the shipped config: on any clone, the command of
the docs resumes it rather than refusing it as another run's directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from stdp_ebm import inputs, runner
from stdp_ebm.rundir import holds_work, partial_directory

REPO = Path(__file__).resolve().parent.parent
OUT = Path("runs") / "mnist60k_h200"
DATA = Path("..") / "shared" / "data" / "mnist"  # as the docs' command names it, from the repo root


@pytest.mark.skipif(not partial_directory(REPO / OUT).is_dir(),
                    reason="this checkout keeps no unfinished run")
@pytest.mark.skipif(not (REPO / DATA).is_dir(), reason="the MNIST files are not beside the repo")
def test_the_kept_run_resumes_with_the_shipped_config(monkeypatch):
    monkeypatch.chdir(REPO)
    cfg, _ = runner.resolve(Path("experiments") / "train_spiking_mnist_h200.toml",
                            [f"data.dir={DATA.as_posix()}"])
    recorded = inputs.record(inputs.input_files([cfg], None))
    runner.check_partial(OUT, cfg, recorded)  # raises on another config, inputs or edited state
    assert holds_work(partial_directory(OUT))  # a kept run has finished epochs to continue from
