"""The scripts in examples/ run, on small settings, and show what their docstrings promise."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO


def example(name: str) -> dict:
    return runpy.run_path(str(REPO / "examples" / f"{name}.py"), run_name="example")


def test_rate_rule_vs_backprop():
    rows = example("rate_rule_vs_backprop")["main"](sizes=(6, 8, 4), betas=(0.1, 0.01), batch=3)
    # the symmetrised rule's error vs the implicit gradient is O(β): at β = 0.01 cos within 1e-4
    # of 1 and the norm within a few % (the acceptance numbers of tests/test_rule.py on a small net)
    assert rows[1, 1] > 1 - 1e-4 and rows[1, 2] < 0.05
    assert rows[1, 2] < rows[0, 2]  # smaller β, smaller error


@pytest.mark.brian2
def test_rule_synapse_in_your_network(tmp_path):
    from brian2 import second

    rates, dw = example("rule_synapse_in_your_network")["main"](
        duration=1 * second, n_inputs=4, n_cells=4, out=tmp_path / "dw.png")
    assert (tmp_path / "dw.png").is_file()
    # rising postsynaptic rates: every synapse potentiates, the 100 Hz input far more than the 5 Hz
    assert np.all(dw > 0) and dw[-1] > dw[0]


@pytest.mark.brian2
def test_stdp_window_of_your_synapse(tmp_path):
    dw = example("stdp_window_of_your_synapse")["main"](delays_ms=np.array([-20.0, 20.0]),
                                                        n_pairings=2, out=tmp_path / "w.png")
    assert (tmp_path / "w.png").is_file()
    assert dw[0] < 0 < dw[1]  # post before pre depresses, pre before post potentiates


@pytest.mark.slow
@pytest.mark.brian2
def test_standalone_sweep(tmp_path):
    # its own process: Brian2's standalone device is process-wide
    code = ("import json, runpy; m = runpy.run_path({path!r}, run_name='example')['main']; "
            "r, b, t = m(n=5, scales=(0.5, 1.5), seeds=(1, 2), duration_ms=200.0, out={out!r}); "
            "print(json.dumps([r.tolist(), b, t]))").format(
        path=str(REPO / "examples" / "standalone_sweep.py"), out=str(tmp_path / "s.png"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rates, build_s, run_s = json.loads(done.stdout.strip().splitlines()[-1])
    assert (tmp_path / "s.png").is_file()
    # compiled once: a run (200 ms of 400 neurons, ~0.1 s) costs a few % of the C++ build (15-25 s)
    assert run_s < 0.1 * build_s
    rates = np.array(rates)
    assert np.all((rates > 0) & (rates < 1000 / 2.0))  # spiking, below the 2 ms refractory limit
