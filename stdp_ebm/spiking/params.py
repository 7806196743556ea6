"""The ``[spiking]`` config section, Brian2's set-up and the model files of the spiking network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from ..sections import Section, key

@dataclass(frozen=True)
class SpikingParams(Section):
    """The ``[spiking]`` section: the LIF populations that stand in for the rate units, their
    noise, the nudge, the phase lengths, the rule's rate filters and the Brian2 target.

    Each field is a config key of the same name (``stdp-ebm keys rate_vs_spike`` lists them with
    their documentation); times in ms, rates in Hz, currents in nA, potentials in mV.

    Parameters
    ----------
    neurons_per_unit, trials, transmission, noise_source, beta, estimator, r_max_hz, unit_current_nA, offset, noise_mV, dt_ms, settle_ms, free_ms, nudged_ms, tau_r_ms, tau_rise_ms, rate_tau_ms, record_ms, learn, eta, codegen, synapse
        The keys of ``[spiking]``; see :meth:`~stdp_ebm.sections.Section.schema` for each one's
        meaning and range.
    """

    SECTION: ClassVar[str] = "spiking"
    neurons_per_unit: int = key("int", 20, "LIF neurons per rate unit (population size n)", low=1,
        high=100_000)
    trials: int = key("int", 1, "independent noise repeats, vectorised as extra network copies", low=1,
        high=100_000)
    transmission: str = key("str", "population", "population: a spike of unit j adds W_ij·J to one "
        "current per target unit i, read by its n neurons (n× fewer synapses and "
        "events); neuron: every neuron of j to every neuron of i (n² synapses per "
        "weight; the wiring for per-neuron weights)", choices=("population", "neuron"))
    noise_source: str = key("str", "membrane", "membrane: white noise σ on v; poisson: balanced "
        "excitatory and inhibitory Poisson background of the same mean and variance "
        "(stdp_ebm/models/poisson_background.toml)", choices=("membrane", "poisson"))
    beta: float = key("float", 0.2, "nudge strength β of the teaching current (Eq 13)", low=0.0,
        open_low=True)
    estimator: str = key("str", "symmetric", "symmetric: ±β runs; one_sided: +β against β = 0 "
        "(both with common random numbers)", choices=("symmetric", "one_sided"))
    r_max_hz: float = key("float", 100.0, "rate of ρ = 1 (Hz)", low=0.0, open_low=True)
    unit_current_nA: float = key("float", 0.4, "input current I_unit of the state s = 1 (nA)", low=0.0,
        open_low=True)
    offset: float = key("float", 0.3, "state-to-current shift s0: a neuron gets (s + s0)·I_unit, which "
        "puts the f–I curve's knee below the states' range (ρ'_LIF ≈ 1 there)")
    noise_mV: float = key("float", 6.0, "noise σ of the LIF membrane potential (mV), from either source",
        low=0.0)
    dt_ms: float = key("float", 0.1, "simulation time step (ms)", low=0.0, open_low=True, high=1.0)
    settle_ms: float = key("float", 100.0, "free phase: transient before the rates are counted (ms)",
        low=0.0)
    free_ms: float = key("float", 300.0, "free phase: counting window after the transient (ms)", low=0.0,
        open_low=True)
    nudged_ms: float = key("float", 300.0, "nudged phase length (ms)", low=0.0, open_low=True)
    tau_r_ms: float = key("float", 50.0, "decay of the population-rate filter of the rule (ms)", low=0.0,
        open_low=True)
    tau_rise_ms: float = key("float", 10.0, "rise of the population-rate filter of the rule (ms)",
        low=0.0, open_low=True)
    rate_tau_ms: float = key("float", 20.0, "time constant τ of the rate model in spiking time: a rate "
        "step ε lasts ε·τ (to compare trajectories and phase lengths)", low=0.0,
        open_low=True)
    record_ms: float = key("float", 2.0, "sampling interval of the recorded rate trajectories (ms)",
        low=0.0, open_low=True)
    learn: bool = key("bool", False, "learn online (W += eta·ΔW_tied in the nudged phase) instead of "
        "keeping W frozen while ΔW accumulates")
    eta: float = key("float", 0.0, "online learning rate (used when learn = true)", low=0.0)
    codegen: str = key("str", "cython", "Brian2 code generation target", choices=("cython", "numpy"))
    synapse: str = key("str", "population_rule", "the rule synapses: a shipped name or a path to a "
        "synapse model file; a rate-form rule (defines delta_w_up and delta_w_down, "
        "runs between the population-rate filters, e.g. population_rule) or a spike "
        "rule (names its weight_change, runs between the LIF neurons of adjacent "
        "layers, e.g. pair_stdp); docs/spiking_engine.md")



#: the config schema of ``[spiking]``, derived from :class:`SpikingParams`
SPIKING_SCHEMA = SpikingParams.schema()

#: what a rule file offers the layered network (see :func:`rule_form`)
RATE_FORM, SPIKE_FORM = "rate", "spike"
#: the accumulators a rate-form rule defines: Eq 26 upward (pre = layer k) and downward
RATE_FORM_VARIABLES = ("delta_w_up", "delta_w_down")
_WRITE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:[-+*/]?=)(?!=)")
_NEURON_NAME = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)_(pre|post)\b")


def neuron_overrides(sp: SpikingParams) -> dict:
    """Parameters of ``stdp_ebm/models/lif_neuron.toml`` set by the [spiking] config: the membrane noise σ,
    zero when the noise comes from the Poisson background instead.

    Parameters
    ----------
    sp : SpikingParams
        The ``[spiking]`` section.

    Returns
    -------
    dict
        ``{"sigma": σ}`` as a Brian2 quantity in volts (``noise_mV`` mV, or 0 mV).
    """
    import brian2 as b2

    sigma = sp.noise_mV if sp.noise_source == "membrane" else 0.0
    return {"sigma": sigma * b2.mV}


def load_models(synapse: str = SPIKING_SCHEMA["synapse"].default) -> dict:
    """The model files the spiking network is made of (see :mod:`stdp_ebm.spiking`).

    Parameters
    ----------
    synapse : str
        ``[spiking] synapse``: the rule, a shipped name or a path to a synapse model file; checked
        against the network's contract (:func:`rule_form`) here, before anything is calibrated
        or built.

    Returns
    -------
    dict of str to Model
        ``"neuron"``, ``"synapse"``, ``"current"``, ``"background"``, ``"rate"`` (the shipped
        files) and ``"rule"``.

    Raises
    ------
    ModelFileError
        A model file that cannot be read or checked, or a rule outside the contract.
    """
    from ..models import load_model

    models = {"neuron": load_model("lif_neuron"), "synapse": load_model("population_synapse"),
              "current": load_model("population_current"),
              "background": load_model("poisson_background"),
              "rate": load_model("population_rate"), "rule": load_model(synapse)}
    rule_form(models["rule"], models)
    return models


def rule_form(model: Any, models: dict) -> str:
    """How the layered network runs the rule ``model``, or a ModelFileError in one line.

    The contract (docs/spiking_engine.md): a synapse model file that either

    * defines ``delta_w_up`` and ``delta_w_down`` (:data:`RATE_FORM`): one synapse per weight W_ij
      and network copy between the population-rate filters of unit j (pre, layer k) and unit i
      (post, layer k+1) (``models/population_rate.toml``: it may read their ``r``/``u`` as
      ``r_pre``/``r_post``); ``delta_w_up`` is Eq 26 upward, ``delta_w_down`` downward; or
    * names its ``weight_change`` (:data:`SPIKE_FORM`): the STDP protocols' rules, run between the
      LIF neurons of adjacent layers, every neuron of unit j with every neuron of unit i, both
      ways; ΔW_up of W_ij is the mean of ``weight_change`` over the n² upward synapses, ΔW_down
      over the downward ones. Lines that write a neuron's variable (``I_syn_post += w*J``, the
      protocols' transmission) are dropped: the network transmits through its own synapses. Any
      other neuron variable (``X_pre``, ``X_post``) is refused: the input layer is Poisson.

    The tied form is ΔW_up + ΔW_down in both. At the start of every nudged phase a rate-form rule's
    ``delta_w_up``/``delta_w_down`` are zeroed and its ``rho_in_last``/``rho_out_last`` (where it
    has them) set to the current rates; a spike rule's state is set to its ``[initial]`` values (0
    for the rest), so a phase counts only its own spikes.

    Parameters
    ----------
    model : Model
        The rule's synapse model (:func:`stdp_ebm.models.load_model`).
    models : dict
        The other model files (:func:`load_models`); ``"rate"`` is read.

    Returns
    -------
    str
        :data:`RATE_FORM` (``"rate"``) or :data:`SPIKE_FORM` (``"spike"``).

    Raises
    ------
    ModelFileError
        Not a synapse model, neither form, or a neuron variable the form may not read.
    """
    from ..errors import ModelFileError
    from ..models.check import variables

    if model.kind != "synapse":
        raise ModelFileError(f"{model.path}: [spiking] synapse must be a synapse model, not a "
                             f"{model.kind} model")
    names = variables(model)
    if all(v in names for v in RATE_FORM_VARIABLES):
        allowed = variables(models["rate"])
        form = RATE_FORM
    elif model.weight_change:
        allowed = set()
        form = SPIKE_FORM
    else:
        raise ModelFileError(
            f"{model.path}: not a rule for the layered network: it must define delta_w_up and "
            f"delta_w_down (a rate-form rule, like population_rule) or name its weight_change "
            f"(a spike rule, like pair_stdp); see docs/spiking_engine.md")
    texts = [model.equations, model.on_step, *model.initial.values(),
             *(rule_pathway(model, key) for key in ("on_pre", "on_post"))] \
        if form == SPIKE_FORM else [model.equations, model.on_step, model.on_pre, model.on_post]
    for text in filter(None, texts):
        for name, side in _NEURON_NAME.findall(text):
            if name not in allowed:
                what = "the population-rate filters' variables (r, u)" if form == RATE_FORM \
                    else "its own variables (writes to a neuron are dropped)"
                raise ModelFileError(f"{model.path}: reads {name}_{side}; a {form} rule of the "
                                     f"layered network may read only {what}")
    return form


def rule_pathway(model: Any, key: str) -> str:
    """The ``on_pre``/``on_post`` code of a spike rule without the lines that write a neuron's
    variable (``I_syn_post += w*J``): the layered network transmits through its own synapses.

    Parameters
    ----------
    model : Model
        A spike rule's synapse model.
    key : str
        ``"on_pre"`` or ``"on_post"``.

    Returns
    -------
    str
        The code, one statement a line; empty where the model has none.
    """
    code = getattr(model, key) or ""
    kept = [line for line in code.splitlines()
            if not ((m := _WRITE.match(line)) and _NEURON_NAME.fullmatch(m.group(1)))]
    return "\n".join(kept)


def background(group: Any, sp: SpikingParams, models: dict) -> list:
    """The Poisson background of ``group`` (``noise_source = "poisson"``; none for membrane noise):
    an excitatory and an inhibitory :class:`brian2.PoissonInput` into ``v`` whose jump size is the
    formula of ``stdp_ebm/models/poisson_background.toml`` at σ = ``noise_mV``, so that the input's mean is
    zero and its variance that of the membrane noise. Add the returned objects to the network.

    Parameters
    ----------
    group : brian2.NeuronGroup
        The LIF neurons; the background's namespace is added to theirs.
    sp : SpikingParams
        The ``[spiking]`` section.
    models : dict
        The model files (:func:`load_models`); ``"background"`` is read.

    Returns
    -------
    list of brian2.PoissonInput
        The excitatory and the inhibitory input, or an empty list for membrane noise.
    """
    if sp.noise_source != "poisson":
        return []
    import brian2 as b2

    model = models["background"]
    ns = model.namespace(sigma_bg=sp.noise_mV * b2.mV)
    group.namespace.update(ns)  # the weight expression reads them with the neuron's tau_m
    inputs = [b2.PoissonInput(group, model.target_var, N=int(ns["N_bg"]), rate=ns["rate_bg"],
                              weight=f"{sign}({model.weight})") for sign in ("", "-")]
    for poisson_input in inputs:
        # v is "unless refractory", so Brian2 would wrap the update, binomial draw included, in
        # `if not_refractory:`: refractory neurons would draw no random numbers, the draws would
        # depend on the network's state and common random numbers would break (the ±β runs would
        # read the shared buffer from shifted positions). Draw for every neuron, every step, like
        # the state updater; the weight's int(not_refractory) switches the jump off instead.
        poisson_input.override_conditional_write = ["not_refractory"]
    return inputs


def require_rate_form(models: dict) -> None:
    """Refuse a spike-form rule where the compiled episode would run it (it runs the rate-form
    rules only: a spike rule's ``weight_change`` needs the Cython learner).

    Parameters
    ----------
    models : dict
        The Brian2 model files by role; ``models["rule"]`` is the rule.

    Raises
    ------
    ConfigError
        If the rule is spike-form.
    """
    if rule_form(models["rule"], models) == SPIKE_FORM:
        raise ConfigError("the compiled episode ([learner] engine = standalone) runs rate-form "
                          "rules only (population_rule); a spike rule needs the Cython learner "
                          "(engine = cython)")
