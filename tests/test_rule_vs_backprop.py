"""``rule_vs_backprop`` (experiments/rule_vs_backprop.py) end to end on a tiny net, and its config.

The numbers of the shipped config are in docs/rule_vs_backprop.md. Here, on a 3-4-2 net with 4
neurons per unit on Brian2's numpy target (no compilation): the data layout and summary table, that
every rule ran in the same network (the same spikes), that a user's file named like a shipped rule
is filed apart and scales ΔW exactly as its amplitudes do, and that Eq 26's tied ΔW points along
the implicit gradient (an independent computation: :mod:`stdp_ebm.references`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import EXPERIMENTS, run_cli

pytestmark = pytest.mark.brian2

TINY = ["network.sizes=[3, 4, 2]", "network.batch=1", "spiking.neurons_per_unit=4",
        "spiking.trials=1", "spiking.settle_ms=10", "spiking.free_ms=20", "spiking.nudged_ms=40",
        "spiking.codegen=numpy", "calibration.points=6", "calibration.neurons_per_point=4",
        "calibration.duration_ms=100", "calibration.warmup_ms=10",
        "rule_vs_backprop.betas=[0.5]", "rule_vs_backprop.length_beta=0.5",
        "rule_vs_backprop.phase_ms=[10, 40]"]
CONFIG = str(EXPERIMENTS / "rule_vs_backprop.toml")


def args(out, *settings: str) -> list[str]:
    return ["run", CONFIG, "--out", str(out), "--quiet"] + \
        [a for s in TINY + list(settings) for a in ("--set", s)]


def test_rules_in_one_network_against_the_implicit_gradient(tmp_path):
    pair = (EXPERIMENTS.parent / "models" / "pair_stdp.toml").read_text()
    doubled = pair.replace('Apre = "0.01"', 'Apre = "0.02"').replace('Apost = "-0.0105"',
                                                                    'Apost = "-0.021"')
    assert doubled.count("0.02") >= 2  # both amplitudes replaced
    (tmp_path / "pair_stdp.toml").write_text(doubled)
    out = tmp_path / "rvb"
    code, err = run_cli(args(out, "rule_vs_backprop.rules=population_rule, pair_stdp, "
                                  f"{tmp_path / 'pair_stdp.toml'}"))
    assert code == 0, err
    data = np.load(out / "data.npz")
    summary = json.loads((out / "summary.json").read_text())
    rules = list(data["rules"])
    assert rules[:2] == ["population_rule", "pair_stdp"] and rules[2].startswith("pair_stdp@")
    assert summary["rules"] == rules
    n_m = len(data["metrics"])
    assert data["align_sym_vs_implicit"].shape == (3, 1, 3, n_m)
    assert data["length_up_vs_implicit"].shape == (3, 2, 3, n_m)
    for k, shape in enumerate([(3, 4), (4, 2)]):
        assert data[f"dW_sym_W{k}"].shape == (3, 1, *shape)
    # per rule and form (sym, up): one row per β and one per phase length
    assert len(summary["table"]) == 3 * 2 * (1 + 2)
    assert [row["rule"] for row in summary["table"]] == [r for r in rules for _ in range(6)]
    # the same network, inputs and noise for every rule: the rule synapses draw no random
    # numbers, so each rule's run has exactly the same spikes
    spikes = {r: summary["cost"][r]["0.5"]["spikes"] for r in rules}
    assert len(set(spikes.values())) == 1, spikes
    # pair STDP is linear in its amplitudes: the user's file with both doubled, on the same spikes,
    # gives twice the shipped rule's ΔW (to float rounding of the sums)
    for k in range(2):
        assert_allclose(data[f"dW_sym_W{k}"][2], 2 * data[f"dW_sym_W{k}"][1], rtol=1e-9,
                        atol=1e-15)
    # Eq 26's tied ΔW against −∂C/∂W (implicit differentiation of the calibrated rate model,
    # stdp_ebm.references: independent of the spiking code), cosine over all weights computed here
    dw = np.concatenate([data[f"dW_sym_W{k}"][0, 0].ravel() for k in range(2)])
    ref = np.concatenate([data[f"ref_implicit_W{k}"].ravel() for k in range(2)])
    cos = dw @ ref / np.linalg.norm(dw) / np.linalg.norm(ref)
    # the table's value is this cosine (1e-12: rounding of a different summation order)
    assert_allclose(data["align_sym_vs_implicit"][0, 0, -1, 0], cos, rtol=1e-12)
    assert_allclose(summary["table"][0]["cos_all"], cos, rtol=1e-12)
    # 0.96 measured at this seed; with one copy of 4 neurons per unit the ±β difference keeps
    # spiking noise of a few percent of ΔW (common random numbers remove most of it), so 0.8 bounds
    # it away from noise (a random direction in 20 weights has |cos| ≈ 0.2) with room to spare
    assert cos > 0.8, cos


@pytest.mark.parametrize("setting, words", [
    ("rule_vs_backprop.rules=population_rule, pair_stpd", "pair_stpd: no such model file"),
    ("rule_vs_backprop.rules= , ", "names no rule"),
    ("rule_vs_backprop.phase_ms=[10, 500]", "goes past [spiking] nudged_ms"),
    # a file that exists but is no rule: refused when the models are loaded, before the calibration
    ("rule_vs_backprop.rules=pair_stdp, lif_neuron", "must be a synapse model, not a neuron"),
])
def test_bad_rules_config_is_one_line(tmp_path, setting, words):
    out = tmp_path / "bad"
    code, err = run_cli(args(out, setting))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert words in err, err
    assert not out.exists()  # refused before anything is written
