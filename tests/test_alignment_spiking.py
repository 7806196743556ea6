"""``alignment`` with the Brian2 model (experiments/alignment_spiking.py), end to end on a tiny net.

The numbers of the standard net are in the slow acceptance test of rate_vs_spike; this checks that
the spiking path writes the same data layout as the rate path and that its ΔW is the simulate()
estimate (tied = up + down, one row per β and per phase length).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.cli import main

from conftest import EXPERIMENTS

pytestmark = pytest.mark.brian2

SETTINGS = ["alignment.model=spiking", "alignment.betas=[0.5]", "alignment.length_beta=0.5",
            "alignment.nudged_steps=[1, 4]", "network.sizes=[3, 4, 2]", "network.batch=1",
            "spiking.neurons_per_unit=4", "spiking.settle_ms=10", "spiking.free_ms=20",
            "spiking.nudged_ms=40", "spiking.codegen=numpy", "calibration.points=6",
            "calibration.neurons_per_point=4", "calibration.duration_ms=100",
            "calibration.warmup_ms=10", "dynamics.energy=hopfield"]


def test_spiking_alignment_writes_the_rate_layout(tmp_path):
    out = tmp_path / "al"
    args = ["run", str(EXPERIMENTS / "alignment.toml"), "--out", str(out), "--quiet"]
    assert main(args + [a for s in SETTINGS for a in ("--set", s)]) == 0
    data = np.load(out / "data.npz")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "spiking" and len(summary["by_nudged_steps"]) == 2
    for k, shape in enumerate([(3, 4), (4, 2)]):
        assert data[f"dW_sym_W{k}"].shape == (1, *shape)
        # tied = up + down, summed by Brian2 per step: equal to rounding
        assert_allclose(data[f"dW_sym_W{k}"], data[f"dW_up_W{k}"] + data[f"dW_down_W{k}"],
                        rtol=1e-9, atol=1e-12)
    assert data["align_sym_vs_implicit"].shape == (1, 3, len(data["metrics"]))
    assert data["length_sym_vs_implicit"].shape == (2, 3, len(data["metrics"]))
