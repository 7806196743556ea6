"""Population-rate filters and the Eq 26 rule synapses between them (``stdp_ebm/models/population_*.toml``)."""

from __future__ import annotations

import numpy as np

from ..progress import run_brian2
from .brian2_env import Brian2Env
from .params import load_models


def population_rates(sources: list, n_units: int, n: int, sp: dict, models: dict) -> tuple:
    """``n_units`` population-rate filters (``stdp_ebm/models/population_rate.toml``) and the synapses that
    feed them: every spike of a neuron in ``sources`` [(group, unit index of each neuron)] adds
    1/(n·τ_r) to its unit's ``u``, so r is the unit's mean rate per neuron (Hz)."""
    import brian2 as b2

    tau_r, tau_rise = sp["tau_r_ms"] * b2.ms, sp["tau_rise_ms"] * b2.ms
    pops = b2.NeuronGroup(n_units, name="population_rates",
                          **models["rate"].group_kwargs(tau_r=tau_r, tau_rise=tau_rise))
    counts = []
    for group, unit in sources:
        count = b2.Synapses(group, pops, on_pre="u_post += dU", name=f"count_{group.name}",
                            namespace={"dU": 1 / (n * tau_r)})
        count.connect(i=np.arange(len(group)), j=unit)
        counts.append(count)
    return pops, counts


def rule_synapses(pops, pre: np.ndarray, post: np.ndarray, sp: dict, models: dict):
    """Eq 26 rule synapses (``stdp_ebm/models/population_rule.toml``) from units ``pre`` to
    ``post``, their sum taken every simulation step or, with ``sp["rule_dt_ms"]`` > 0, every
    ``rule_dt_ms``: the tied form telescopes whatever the step (Σ Δ(ρ_in ρ_out)), so it moves only
    by where its last sample falls; the one-way forms by the filters' curvature over the step."""
    import brian2 as b2

    rules = b2.Synapses(pops, pops, name="rule",
                        **models["rule"].group_kwargs(r_max=sp["r_max_hz"] * b2.Hz))
    rules.connect(i=pre, j=post)
    step = sp.get("rule_dt_ms", 0.0)
    return models["rule"].attach(rules, dt=step * b2.ms if step > 0 else None)


def start_rule(rules, pops, r_max_hz: float) -> None:
    """Zero the rule's integrals and start them from the populations' current rates."""
    rho = np.asarray(pops.r_[:]) / r_max_hz
    rules.delta_w_up = 0
    rules.delta_w_down = 0
    rules.rho_in_last = rho[np.asarray(rules.i[:])]
    rules.rho_out_last = rho[np.asarray(rules.j[:])]


def rule_on_spike_trains(trains: list[tuple[np.ndarray, np.ndarray]], n: int, duration_ms: float,
                         sp: dict, models: dict | None = None,
                         warmup_ms: float = 0.0) -> tuple[float, float]:
    """The Brian2 rule between two populations driven by given spike trains.

    ``trains`` = [(neuron indices, spike times in ms)] of the pre (lower-layer) and the post
    (upper-layer) population of ``n`` neurons each. The rate filters run alone for ``warmup_ms``
    (as in the free phase), then the rule accumulates for ``duration_ms``; returns (ΔW_up, ΔW_down)
    = (∫ρ_in dρ_out/dt dt, ∫ρ_out dρ_in/dt dt). Uses the network's own wiring.
    """
    import brian2 as b2

    models = models or load_models()
    with Brian2Env(sp["codegen"], sp["dt_ms"], seed=None).active():  # draws no random numbers
        groups = [b2.SpikeGeneratorGroup(n, i, t * b2.ms, name=name)
                  for (i, t), name in zip(trains, ("pre", "post"))]
        pops, counts = population_rates([(g, np.full(n, u)) for u, g in enumerate(groups)], 2,
                                        n, sp, models)
        rules = rule_synapses(pops, np.array([0]), np.array([1]), sp, models)
        network = b2.Network(*groups, pops, *counts, rules)
        rules.active = False
        run_brian2(network, warmup_ms * b2.ms, report=None)
        start_rule(rules, pops, sp["r_max_hz"])
        rules.active = True
        run_brian2(network, duration_ms * b2.ms, report=None)
        return float(rules.delta_w_up[0]), float(rules.delta_w_down[0])
