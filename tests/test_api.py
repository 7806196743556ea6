"""The public Python API: every exported name resolves, importing the package stays cheap, and
run_config does what `stdp-ebm run` does."""

from __future__ import annotations

import json
import subprocess
import sys

import stdp_ebm as se


def test_every_public_name_resolves():
    for name in se.__all__:
        assert getattr(se, name) is not None, name
    for module in ("network", "rate", "rule", "references", "analysis", "models", "stdp",
                   "stdp.protocols", "stdp.window_fit", "stdp.kernels", "stdp.data", "stdp.coverage",
                   "seeds", "errors", "config", "activation", "energy", "learning", "algorithms",
                   "checkpoint", "progress", "spiking", "spiking.learner", "spiking.pool",
                   "spiking.calibration", "spiking.learner_state", "spiking.construction",
                   "spiking.dask_pool", "spiking.episode_program", "stdp.refit", "stdp.resampling",
                   "stdp.schedules", "sections", "dynamics", "learners", "learner_base",
                   "predictive_coding", "network_file", "config_files", "outdir", "cluster"):
        mod = __import__(f"stdp_ebm.{module}", fromlist=["__all__"])
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"stdp_ebm.{module}.__all__ names {missing}"


def test_import_does_not_load_brian2():
    code = "import sys, stdp_ebm; stdp_ebm.RateModel; print('brian2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_config_writes_a_run_directory(tmp_path):
    out = se.run_config("alignment", tmp_path / "r",
                        ["alignment.betas=[0.1, 0.01]", "alignment.nudged_steps=[5]"])
    summary = json.loads((out / "summary.json").read_text())
    # the acceptance bar of the alignment experiment (tests/test_rule.py): cos >= 0.999 at β = 0.01
    assert summary["headline"]["beta"] == 0.01 and summary["headline"]["min_cos"] >= 0.999
