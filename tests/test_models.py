"""The model-file loader: the shipped files load, and every kind of mistake is a ModelFileError."""

from __future__ import annotations

from pathlib import Path

import pytest

brian2 = pytest.importorskip("brian2")

from stdp_ebm.errors import ModelFileError, UserError  # noqa: E402
from stdp_ebm.models import MODELS_DIR, load_model, parse_quantity  # noqa: E402

LIF = (MODELS_DIR / "lif_neuron.toml").read_text()
SYN = (MODELS_DIR / "rule_synapse.toml").read_text()
POP_RULE = (MODELS_DIR / "population_rule.toml").read_text()
POP_RATE = (MODELS_DIR / "population_rate.toml").read_text()


def test_shipped_models_load_with_units():
    neuron, syn = load_model("lif_neuron"), load_model("rule_synapse")
    assert neuron.kind == "neuron" and syn.kind == "synapse"
    assert neuron.params["tau_m"] == 20 * brian2.ms
    assert syn.params["tau_pre_decay"] == 16 * brian2.ms
    assert syn.params["eta"] == 0.1
    kwargs = syn.group_kwargs(learn=1.0)
    assert kwargs["namespace"]["learn"] == 1.0 and "on_post" in kwargs
    assert ModelFileError.__mro__[1] is UserError


@pytest.mark.parametrize("text, expected", [
    ("20*ms", 20 * brian2.ms), ("-70*mV", -70 * brian2.mV), ("1e-3", 1e-3),
    ("0.5*nA/ms**2", 0.5 * brian2.nA / brian2.ms ** 2), ("100*Mohm", 100 * brian2.Mohm)])
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "20*msec", "ms(3)",
                                  "[1, 2]", "2**ms", "20 ms"])
def test_parse_quantity_rejects_anything_else(text):
    with pytest.raises(ModelFileError):
        parse_quantity(text)


@pytest.mark.parametrize("which, old, new, message", [
    ("lif", 'tau_m = "20*ms"', 'tau_m = "20*mV"', "unit mismatch"),
    ("lif", 'v > v_th', 'v > tau_m', "unit mismatch"),
    ("syn", "I_syn_post += w*J", "I_syn_post += w*tau_pre_rise", "unit mismatch"),
    ("lif", 'tau_s = "5*ms"', "", "tau_s"),
    ("lif", 'method = "euler"', 'methd = "euler"', "did you mean 'method'"),
    ("lif", 'tau_s = "5*ms"', 'tau_s = "5*ms"\ntau_sx = "1*ms"', "tau_sx not used"),
    ("lif", '"20*ms"', '"20*msec"', "not a Brian2 unit"),
    ("lif", "-I_syn/tau_s : amp", "-I_syn/tau_s amp", "invalid model"),
    ("lif", 'kind = "neuron"', 'kind = "neurone"', "kind"),
    ("lif", 'threshold = "v > v_th"', "", "missing key 'threshold'"),
    ("lif", 'kind = "neuron"', 'kind = "neuron', "TOML syntax error"),
    ("pop", "rho_in_last = rho_in\n", "rho_in_last = r_pre\n", "unit mismatch"),
    ("pop", "(rho_in + rho_in_last)", "(rho_in + rho_in_lst)", "rho_in_lst"),
    ("syn", 'weight_change = "delta_w"', 'weight_change = "delta_ww"', "did you mean 'delta_w'"),
    ("syn", 'window = "eq26_filters"', 'window = "eq26"', "not a known theory kernel"),
], ids=["param-units", "threshold-units", "pathway-units", "missing-param", "unknown-key",
        "unused-param", "bad-unit", "eq-syntax", "bad-kind", "missing-threshold", "toml-syntax",
        "on-step-units", "on-step-unknown-variable", "weight-change-unknown", "window-unknown"])
def test_mistakes_are_model_file_errors(tmp_path: Path, which, old, new, message):
    source = {"lif": LIF, "syn": SYN, "pop": POP_RULE}[which]
    assert old in source
    path = tmp_path / "broken.toml"
    path.write_text(source.replace(old, new, 1))
    if source is SYN:
        (tmp_path / "lif_neuron.toml").write_text(LIF)
    if source is POP_RULE:
        (tmp_path / "population_rate.toml").write_text(POP_RATE)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_shipped_plasticity_rules_name_their_weight_change():
    for name, window in (("rule_synapse", "eq26_filters"), ("pair_stdp", "pair_exponential"),
                         ("triplet_stdp", None)):
        model = load_model(name)
        assert model.weight_change == "delta_w" and model.window == window
    pair = load_model("pair_stdp")  # Brian2's STDP example: Apost = −Apre·taupre/taupost·1.05
    assert pair.params["Apost"] == pytest.approx(-1.05 * pair.params["Apre"], rel=1e-12)


def test_unknown_model_name_and_bad_override():
    with pytest.raises(ModelFileError, match="did you mean 'lif_neuron'"):
        load_model("lif_nueron")
    syn = load_model("rule_synapse")
    with pytest.raises(ModelFileError, match="wrong units"):
        syn.namespace(tau_pre_decay=3 * brian2.mV)
    with pytest.raises(ModelFileError, match="no parameter"):
        syn.namespace(tau_pre=3 * brian2.ms)
