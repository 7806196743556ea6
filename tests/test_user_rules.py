"""A user's synapse model file from any path, in the STDP protocols and in the layered network.

STDP protocols: rules are filed under :attr:`stdp_ebm.models.Model.label` (a shipped file's stem,
any other file's stem and content hash), so a user's ``pair_stdp.toml`` gets results of its own
beside the shipped ``pair_stdp``; a theory kernel reads the parameters it declares, under the file's
names where ``[window_parameters]`` maps them, and a missing one is one line.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import run_cli

pytest.importorskip("brian2")

from stdp_ebm.errors import ModelFileError  # noqa: E402
from stdp_ebm.experiments.stdp_rules import rules  # noqa: E402
from stdp_ebm.models import MODELS_DIR, load_model  # noqa: E402

PAIR = (MODELS_DIR / "pair_stdp.toml").read_text()
RENAMED = {"Apre": "A_plus", "Apost": "A_minus", "taupre": "tau_plus", "taupost": "tau_minus"}
STDP_FAST = ["--set", "protocol.delta_t_ms=[-20, 20]", "--set", "protocol.n_pairings=2",
             "--set", "protocol.frequency_hz=4", "--set", "protocol.repeats=2",
             "--set", "control.pairs=0", "--set", "spiking.noise=false",
             "--set", "tau_sweep.plus_ms=[]", "--set", "tau_sweep.minus_ms=[]"]


def renamed(mapping: bool) -> str:
    """pair_stdp.toml with its four kernel parameters renamed (and, if ``mapping``, mapped)."""
    text = PAIR
    for old, new in RENAMED.items():
        text = re.sub(rf"\b{old}\b", new, text)
    if mapping:
        text += "\n[window_parameters]\n" + "".join(f'{k} = "{v}"\n' for k, v in RENAMED.items())
    return text


def cfg(synapse: str, compare: str = "") -> dict:
    return {"spiking": {"synapse": synapse, "compare": compare, "neuron": "lif_neuron",
                        "learn": False, "tied": False}}


# --- names: a user's file is filed apart from a shipped one -------------------------------------
def test_a_user_file_named_like_a_shipped_rule_gets_its_own_name(tmp_path):
    (tmp_path / "pair_stdp.toml").write_text(PAIR.replace('Apre = "0.01"', 'Apre = "0.02"'))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pair_stdp.toml").write_text(PAIR.replace('Apre = "0.01"',
                                                                    'Apre = "0.03"'))
    got = rules(cfg(str(tmp_path / "pair_stdp.toml"),
                    f"pair_stdp, {tmp_path / 'other' / 'pair_stdp.toml'}, "
                    f"{MODELS_DIR / 'pair_stdp.toml'}, {tmp_path / 'pair_stdp.toml'}"))
    names = [r.name for r in got]
    # the user's two files and the shipped one (named by stem and by path: the same rule)
    assert len(names) == 3 and len(set(names)) == 3, names
    assert names[1] == "pair_stdp" and all(n.startswith("pair_stdp@") for n in names[::2])
    assert [float(r.model.params["Apre"]) for r in got] == [0.02, 0.01, 0.03]


def test_equal_files_share_a_name_and_the_link_is_the_shipped_file(tmp_path):
    (tmp_path / "mine.toml").write_text(PAIR)
    assert load_model(tmp_path / "mine.toml").label.startswith("mine@")
    top = Path(__file__).resolve().parents[1] / "models" / "pair_stdp.toml"
    assert load_model(top).label == "pair_stdp"  # models/ is the package's folder


# --- the theory kernel's parameters ----------------------------------------------------------------
def test_renamed_parameters_without_a_mapping_are_one_line_in_the_cli(tmp_path, capsys):
    (tmp_path / "pair_stdp.toml").write_text(renamed(mapping=False))
    code, err = run_cli(["run", "stdp_window", "--out", str(tmp_path / "out"), "--quiet",
                         "--set", f"spiking.synapse={tmp_path / 'pair_stdp.toml'}"])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "reads parameter 'Apre'" in err and "[window_parameters]" in err, err
    assert not (tmp_path / "out").exists()


def test_renamed_parameters_with_a_mapping_give_the_pair_kernel(tmp_path):
    (tmp_path / "pair_stdp.toml").write_text(renamed(mapping=True).replace(
        'A_plus = "0.01"', 'A_plus = "0.02"'))
    rule = rules(cfg(str(tmp_path / "pair_stdp.toml")))[0]
    assert rule.tau_params() == ("tau_plus", "tau_minus")
    # Song, Miller & Abbott's window written out: A+ e^(−Δt/τ+) for Δt > 0, A− e^(Δt/τ−) for Δt < 0
    dt = np.array([-0.03, -0.005, 0.005, 0.03])
    expected = np.where(dt > 0, 0.02 * np.exp(-dt / 0.02), -0.0105 * np.exp(dt / 0.02))
    assert_allclose(rule.kernel(dt), expected, rtol=1e-12)  # closed form both ways: rounding only
    swept = rule.kernel_with(tau_plus=40e-3 * __import__("brian2").second)
    assert_allclose(swept(np.array([0.01])), 0.02 * math.exp(-0.25), rtol=1e-12)


@pytest.mark.parametrize("table, match", [
    ('[window_parameters]\nA_pre = "Apre"\n', "reads no such parameter"),
    ('[window_parameters]\nApre = "taupre"\n', "must be in no unit"),
    ('[window_parameters]\nApre = "nothing"\n', "does not define"),
])
def test_bad_window_parameters_are_one_line(tmp_path, table, match):
    (tmp_path / "rule.toml").write_text(PAIR + "\n" + table)
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(tmp_path / "rule.toml")
    assert "\n" not in str(info.value)


# --- the STDP window: the user's rule has its own results ---------------------------------------
@pytest.mark.brian2
def test_a_user_rule_named_like_a_shipped_one_has_its_own_window(tmp_path):
    """The user's pair_stdp.toml (A+ doubled) and the shipped pair_stdp both run; noise off, the
    same spikes: the user's LTP is twice the shipped rule's, its LTD the same."""
    (tmp_path / "pair_stdp.toml").write_text(PAIR.replace('Apre = "0.01"', 'Apre = "0.02"'))
    out = tmp_path / "out"
    code, err = run_cli(["run", "stdp_window", "--out", str(out), "--quiet", *STDP_FAST,
                         "--set", f"spiking.synapse={tmp_path / 'pair_stdp.toml'}",
                         "--set", "spiking.compare=pair_stdp",
                         "--set", f"data.dir={tmp_path}"])  # no points: no Bi & Poo fit to pay for
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    user, shipped = summary["rules"]
    assert shipped == "pair_stdp" and user.startswith("pair_stdp@") and summary["rule"] == user
    data = np.load(out / "data.npz")
    grid = data["delta_t_ms"]
    ltp, ltd = grid > 0, grid < 0
    # ΔW is A+ times the pre-before-post trace sum plus A− times the post-before-pre sum, at the
    # same spike times; the pairings 250 ms apart add cross terms of relative size about
    # e^(−230/20) ≈ 1e-5 of the other sign (the only part not doubled), hence rtol 1e-4
    assert_allclose(data[f"{user}_mean"][ltp], 2 * data["pair_stdp_mean"][ltp], rtol=1e-4)
    assert_allclose(data[f"{user}_mean"][ltd], data["pair_stdp_mean"][ltd], rtol=1e-4)
    assert not np.allclose(data[f"{user}_mean"][ltp], data["pair_stdp_mean"][ltp], rtol=0.5)


# --- the layered network: [spiking] synapse --------------------------------------------------------
# the contract (stdp_ebm.spiking.params.rule_form) is checked without building anything
@pytest.mark.parametrize("name, form", [("population_rule", "rate"), ("pair_stdp", "spike"),
                                        ("triplet_stdp", "spike"), ("rule_synapse", "spike")])
def test_the_shipped_rules_meet_the_layered_contract(name, form):
    from stdp_ebm.spiking.params import load_models, rule_form

    models = load_models(name)
    assert rule_form(models["rule"], models) == form


def test_a_spike_rule_loses_only_its_transmission_lines():
    from stdp_ebm.spiking.params import rule_pathway

    model = load_model("pair_stdp")
    assert rule_pathway(model, "on_pre").split("\n") == ["apre += Apre", "delta_w += apost"]
    assert rule_pathway(model, "on_post") == model.on_post.strip("\n")


@pytest.mark.parametrize("edit, match", [
    (None, "must define delta_w_up and delta_w_down"),  # population_synapse: no rule at all
    (("delta_w += apost\n", "delta_w += apost*v_post/mV\n"), "reads v_post"),
    (('weight_change = "delta_w"\n', ""), "must define delta_w_up and delta_w_down"),
])
def test_files_that_do_not_meet_the_contract_are_one_line(tmp_path, edit, match):
    from stdp_ebm.spiking.params import load_models

    if edit is None:
        path = MODELS_DIR / "population_synapse.toml"
    else:
        path = tmp_path / "rule.toml"
        path.write_text(PAIR.replace(*edit))
    with pytest.raises(ModelFileError, match=match) as info:
        load_models(str(path))
    assert "\n" not in str(info.value)


def test_a_neuron_file_as_the_rule_is_one_line_in_the_cli(tmp_path):
    """Refused when the model files are loaded: before the calibration and any Brian2 run."""
    code, err = run_cli(["run", "alignment", "--out", str(tmp_path / "out"), "--quiet",
                         "--set", "alignment.model=spiking", "--set", "spiking.synapse=lif_neuron"])
    assert code == 2 and err.count("\n") == 1 and "must be a synapse model" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.brian2
def test_spike_rules_average_the_pair_kernel_over_neuron_pairs():
    """SpikeRules between two populations of 3 neurons driven by given spike trains (numpy target:
    nothing compiled) against pair STDP written out by hand: ΔW_up is the mean over the 9 neuron
    pairs of Σ K(t_post − t_pre), ΔW_down the same with the layers' roles swapped."""
    import brian2 as b2

    from stdp_ebm.spiking.layout import Layout
    from stdp_ebm.spiking.population import SpikeRules

    saved = b2.prefs.codegen.target, b2.defaultclock.dt
    b2.prefs.codegen.target, b2.defaultclock.dt = "numpy", 0.1 * b2.ms
    n, rng = 3, np.random.default_rng(5)
    # spike times on the 0.1 ms grid, no two in the same step (pair STDP's order within a step)
    steps = rng.choice(np.arange(10, 2000), size=24, replace=False)
    times = steps * 1e-4
    idx = rng.integers(0, n, size=24)
    low, high = (idx[:12], times[:12]), (idx[12:], times[12:])
    lay = Layout((1, 1), 1, n)
    groups = [b2.SpikeGeneratorGroup(n, i, t * b2.second, dt=0.1 * b2.ms, name=name)
              for (i, t), name in ((low, "low"), (high, "high"))]
    model = load_model("pair_stdp")
    try:
        rules = SpikeRules(model, lay, *groups)
        b2.Network(*groups, rules).run(0.25 * b2.second, namespace={})
    finally:
        b2.prefs.codegen.target, b2.defaultclock.dt = saved
    a_pre, a_post = float(model.params["Apre"]), float(model.params["Apost"])
    tau_pre, tau_post = float(model.params["taupre"]), float(model.params["taupost"])

    def kernel(d: np.ndarray) -> np.ndarray:
        return np.where(d > 0, a_pre * np.exp(-d / tau_pre), a_post * np.exp(d / tau_post))

    def mean_over_pairs(pre, post) -> float:
        return sum(kernel(post[1][post[0] == b][None, :] - pre[1][pre[0] == a][:, None]).sum()
                   for a in range(n) for b in range(n)) / n ** 2

    # exact exponentials both ways (event-driven traces): float64 rounding only
    assert_allclose(rules.delta_w_up, [mean_over_pairs(low, high)], rtol=1e-9)
    assert_allclose(rules.delta_w_down, [mean_over_pairs(high, low)], rtol=1e-9)
    assert_allclose(rules.delta_w_tied, rules.delta_w_up + rules.delta_w_down, rtol=1e-12)
    rules.start()
    assert not np.any(rules.delta_w_up) and not np.any(rules.delta_w_down)


TINY = ["spiking.neurons_per_unit=3", "spiking.settle_ms=10", "spiking.free_ms=20",
        "spiking.nudged_ms=20", "spiking.codegen=numpy", "calibration.points=6",
        "calibration.neurons_per_point=4", "calibration.duration_ms=100"]
LAYERED = {
    "rate_vs_spike": ["network.sizes=[3, 4, 2]", "network.batch=1", "calibration.warmup_ms=10",
                      "rate_vs_spike.populations=[2]", "rate_vs_spike.trials=[1]",
                      "rate_vs_spike.traj_units=1"],
    "alignment": ["alignment.model=spiking", "alignment.betas=[0.5]", "alignment.length_beta=0.5",
                  "alignment.nudged_steps=[1, 4]", "network.sizes=[3, 4, 2]", "network.batch=1",
                  "calibration.warmup_ms=10", "dynamics.energy=hopfield"],
    "train_spiking_quick": ["task.n_train=20", "task.n_test=10", "train.epochs=1",
                            "train.nudged_steps=2"],
}


@pytest.mark.brian2
@pytest.mark.parametrize("experiment", [  # 7-8 s each, alignment 16 s (numpy: nothing compiled)
    "rate_vs_spike", "train_spiking_quick", pytest.param("alignment", marks=pytest.mark.slow)])
def test_pair_stdp_runs_in_the_layered_network(experiment, tmp_path):
    out = tmp_path / "out"
    settings = TINY + LAYERED[experiment] + ["spiking.synapse=pair_stdp"]
    code, err = run_cli(["run", experiment, "--out", str(out), "--quiet",
                         *[a for s in settings for a in ("--set", s)]])
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())
    config = (out / "config.toml").read_text()
    assert 'synapse = "pair_stdp"' in config


@pytest.mark.brian2
def test_the_memory_estimate_counts_the_spike_rule_synapses_built():
    """resources.spiking_objects counts 2n² rule synapses per weight and copy for a spike rule:
    the number SpikeRules builds (numpy target, no spikes, nothing run)."""
    import brian2 as b2

    from stdp_ebm.resources import spiking_objects
    from stdp_ebm.spiking.layout import Layout
    from stdp_ebm.spiking.population import SpikeRules

    sizes, batch, trials, n = [3, 2, 2], 2, 1, 2
    lay = Layout(tuple(sizes), batch * trials, n)
    saved = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        groups = [b2.SpikeGeneratorGroup(size, [], [] * b2.second)
                  for size in (lay.n_inputs, lay.n_neurons)]
        rules = SpikeRules(load_model("pair_stdp"), lay, *groups)
        built = sum(len(syn) for syn in rules)
        b2.Network(*groups, rules).run(0 * b2.ms, namespace={})  # used: no Brian2 warning
    finally:
        b2.prefs.codegen.target = saved
    cfg = {"spiking": {"neurons_per_unit": n, "trials": trials, "synapse": "pair_stdp"}}
    rate = {"spiking": {**cfg["spiking"], "synapse": "population_rule"}}
    assert spiking_objects(cfg, sizes, batch)[0] - spiking_objects(rate, sizes, batch)[0] \
        == built - len(lay.rule_pairs()[0])
    assert built == 2 * n * n * len(lay.rule_pairs()[0])
