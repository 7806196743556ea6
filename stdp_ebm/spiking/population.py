"""Population-rate filters and the rule synapses of the layered network: Eq 26 between the filters
(``stdp_ebm/models/population_*.toml``) or a spike rule between the LIF neurons (:class:`SpikeRules`)."""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError
from ..progress import run_brian2
from .brian2_env import Brian2Env
from .params import RATE_FORM_VARIABLES, SPIKE_FORM, SpikingParams, load_models, rule_form


def population_rates(sources: list, n_units: int, n: int, sp: SpikingParams, models: dict) -> tuple:
    """``n_units`` population-rate filters (``stdp_ebm/models/population_rate.toml``) and the synapses that
    feed them: every spike of a neuron in ``sources`` [(group, unit index of each neuron)] adds
    1/(n·τ_r) to its unit's ``u``, so r is the unit's mean rate per neuron (Hz).

    Parameters
    ----------
    sources : list of tuple
        (Brian2 group, unit index of each of its neurons) per spiking group.
    n_units : int
        The number of filters (units, all layers and copies).
    n : int
        Neurons per unit.
    sp : SpikingParams
        The ``[spiking]`` section; ``tau_r_ms`` and ``tau_rise_ms`` (ms) are read.
    models : dict
        The model files (:func:`~stdp_ebm.spiking.params.load_models`); ``"rate"`` is read.

    Returns
    -------
    pops : brian2.NeuronGroup
        The filters; ``r`` is the rate in Hz.
    counts : list of brian2.Synapses
        One counting synapse per neuron of ``sources``, a ``Synapses`` per group.
    """
    import brian2 as b2

    tau_r, tau_rise = sp.tau_r_ms * b2.ms, sp.tau_rise_ms * b2.ms
    pops = b2.NeuronGroup(n_units, name="population_rates",
                          **models["rate"].group_kwargs(tau_r=tau_r, tau_rise=tau_rise))
    counts = []
    for group, unit in sources:
        count = b2.Synapses(group, pops, on_pre="u_post += dU", name=f"count_{group.name}",
                            namespace={"dU": 1 / (n * tau_r)})
        count.connect(i=np.arange(len(group)), j=unit)
        counts.append(count)
    return pops, counts


def rule_synapses(pops, pre: np.ndarray, post: np.ndarray, sp: SpikingParams, models: dict,
                  spikes: tuple | None = None, rule_dt_ms: float = 0.0):
    """The rule synapses of every weight and copy, in :meth:`Layout.rule_pairs` order, as the rule
    file's form asks (:func:`~stdp_ebm.spiking.params.rule_form`).

    Rate form (``stdp_ebm/models/population_rule.toml``): one synapse from the population-rate
    filter ``pre`` to ``post`` per weight, its sum taken every simulation step or, with
    ``rule_dt_ms`` > 0, every ``rule_dt_ms``: the tied form telescopes whatever the step
    (Σ Δ(ρ_in ρ_out)), so it moves only by where its last sample falls; the one-way forms by the
    filters' curvature over the step. Spike form: :class:`SpikeRules` between the LIF neurons, for
    which ``spikes`` = (layout, input group, neuron group) of the network.

    Parameters
    ----------
    pops : brian2.NeuronGroup
        The population-rate filters (:func:`population_rates`).
    pre, post : numpy.ndarray
        Filter indices of each rule synapse's pre (layer k) and post (layer k+1) unit
        (:meth:`Layout.rule_pairs`).
    sp : SpikingParams
        The ``[spiking]`` section; ``r_max_hz`` (Hz) sets the rule's ``r_max`` where it has one.
    models : dict
        The model files; ``"rule"`` is the rule.
    spikes : tuple, optional
        (layout, input group, neuron group); needed by a spike rule.
    rule_dt_ms : float
        The rate-form rule's step in ms; 0: every simulation step.

    Returns
    -------
    brian2.Synapses or SpikeRules
        The rule synapses, ``delta_w_up``/``delta_w_down`` one per weight and copy.

    Raises
    ------
    ModelFileError
        A spike rule without ``spikes``, or a rule outside the contract
        (:func:`~stdp_ebm.spiking.params.rule_form`).
    """
    import brian2 as b2

    model = models["rule"]
    if rule_form(model, models) == SPIKE_FORM:
        if spikes is None:
            raise ModelFileError(f"{model.path}: a spike rule runs between the network's neurons; "
                                 "this builder has only population rates")
        return SpikeRules(model, *spikes)
    overrides = {"r_max": sp.r_max_hz * b2.Hz} if "r_max" in model.params else {}
    rules = b2.Synapses(pops, pops, name="rule", **model.group_kwargs(**overrides))
    rules.connect(i=pre, j=post)
    return model.attach(rules, dt=rule_dt_ms * b2.ms if rule_dt_ms > 0 else None)


class SpikeRules:
    """A spike rule (a synapse model naming its ``weight_change``, e.g. ``models/pair_stdp.toml``)
    between the LIF neurons of adjacent layers, read as the rate form's accumulators.

    For the weight W_ij of layer k (j in layer k, i in k+1) and each copy, every neuron of unit j
    connects to every neuron of unit i (upward) and back (downward): 2n² synapses per weight and
    copy, in three Brian2 ``Synapses`` (input → neurons, neurons → input, neurons → neurons).
    ``delta_w_up``/``delta_w_down`` are the means of ``weight_change`` over a weight's n² upward
    and downward synapses (the change of the one weight all n² neuron pairs share), in
    :meth:`Layout.rule_pairs` order; ``delta_w_tied`` is their sum. Iterating gives the Brian2
    objects (``brian2.Network`` adds containers), ``active`` switches them all.

    Parameters
    ----------
    model : Model
        The spike rule's synapse model.
    layout : Layout
        The network's index layout.
    source : brian2.PoissonGroup
        The input layer's neurons (the ``input`` group).
    neurons : brian2.NeuronGroup
        The LIF neurons of the free layers (the ``neurons`` group).
    """

    def __init__(self, model, layout, source, neurons) -> None:
        import brian2 as b2

        from .params import rule_pathway

        self.model, self.n = model, layout.n
        ns = model.namespace(**({"learn": 0.0} if "learn" in model.params else {}))
        kwargs = {"model": model.equations, "method": model.method, "namespace": ns,
                  "on_pre": rule_pathway(model, "on_pre"),
                  "on_post": rule_pathway(model, "on_post") or None}
        parts: dict[tuple, list] = {}
        offset = 0
        for k in range(len(layout.sizes) - 1):
            c, i, j = layout.pairs(k)
            rule = offset + np.arange(len(c))
            offset += len(c)
            lo, hi = c * layout.sizes[k] + i, c * layout.sizes[k + 1] + j
            for src, dst, up in ((k, k + 1, True), (k + 1, k, False)):
                a, b = (lo, hi) if up else (hi, lo)
                m_a = np.tile(np.repeat(np.arange(self.n), self.n), len(c))
                m_b = np.tile(np.arange(self.n), self.n * len(c))
                key = ("input" if src == 0 else "neurons", "input" if dst == 0 else "neurons")
                parts.setdefault(key, []).append((
                    layout.neuron(src, np.repeat(a, self.n * self.n), m_a),
                    layout.neuron(dst, np.repeat(b, self.n * self.n), m_b),
                    np.repeat(rule, self.n * self.n), np.full(len(c) * self.n * self.n, up)))
        groups = {"input": source, "neurons": neurons}
        self.n_rules = offset
        self.synapses = []
        for (src, dst), blocks in parts.items():
            pre, post, rule, up = (np.concatenate(a) for a in zip(*blocks))
            syn = b2.Synapses(groups[src], groups[dst], name=f"rule_{src}_to_{dst}", **kwargs)
            syn.connect(i=pre, j=post)
            model.attach(syn)
            self.synapses.append((syn, rule, up))
        self.start()

    def __iter__(self):
        return iter([syn for syn, _, _ in self.synapses])

    @property
    def active(self) -> bool:
        """Whether the rule's synapses run (all of them); setting it switches them all.

        Returns
        -------
        bool
        """
        return all(syn.active for syn, _, _ in self.synapses)

    @active.setter
    def active(self, value: bool) -> None:
        """Switch all the rule's synapses on or off.

        Parameters
        ----------
        value : bool
            On (True) or off.
        """
        for syn, _, _ in self.synapses:
            syn.active = value

    def _mean(self, up: bool) -> np.ndarray:
        total = np.zeros(self.n_rules)
        for syn, rule, direction in self.synapses:
            dw = np.asarray(getattr(syn, self.model.weight_change)[:])
            total += np.bincount(rule[direction == up], weights=dw[direction == up],
                                 minlength=self.n_rules)
        return total / self.n ** 2

    @property
    def delta_w_up(self) -> np.ndarray:
        """ΔW_up: the mean ``weight_change`` of each weight's n² upward synapses.

        Returns
        -------
        numpy.ndarray
            One per weight and copy, shape ``(n_rules,)``, in :meth:`Layout.rule_pairs` order.
        """
        return self._mean(True)

    @property
    def delta_w_down(self) -> np.ndarray:
        """ΔW_down: the mean ``weight_change`` of each weight's n² downward synapses.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_rules,)``, as :attr:`delta_w_up`.
        """
        return self._mean(False)

    @property
    def delta_w_tied(self) -> np.ndarray:
        """The tied form ΔW_up + ΔW_down.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_rules,)``, as :attr:`delta_w_up`.
        """
        return self._mean(True) + self._mean(False)

    def start(self) -> None:
        """Every state variable to 0, then the file's ``[initial]`` values: a phase counts only
        its own spikes."""
        from brian2 import Equations

        eqs = Equations(self.model.equations)
        for syn, _, _ in self.synapses:
            for name in sorted(eqs.diff_eq_names | eqs.parameter_names):
                setattr(syn, f"{name}_", 0.0)  # raw value: 0 in the variable's own unit
            self.model.initialise(syn)


def start_rule(rules, pops, r_max_hz: float) -> None:
    """Start the rule's integrals: a :class:`SpikeRules` from its initial state; a rate-form rule
    with its accumulators zeroed and its ``rho_in_last``/``rho_out_last`` (where it has them) at
    the populations' current rates.

    Parameters
    ----------
    rules : brian2.Synapses or SpikeRules
        From :func:`rule_synapses`.
    pops : brian2.NeuronGroup
        The population-rate filters; their rate ``r`` is read.
    r_max_hz : float
        The rate of ρ = 1 in Hz.
    """
    if isinstance(rules, SpikeRules):
        rules.start()
        return
    rho = np.asarray(pops.r_[:]) / r_max_hz
    for name in RATE_FORM_VARIABLES:
        setattr(rules, name, 0)
    if "rho_in_last" in rules.variables:
        rules.rho_in_last = rho[np.asarray(rules.i[:])]
    if "rho_out_last" in rules.variables:
        rules.rho_out_last = rho[np.asarray(rules.j[:])]


def rule_on_spike_trains(trains: list[tuple[np.ndarray, np.ndarray]], n: int, duration_ms: float,
                         sp: SpikingParams, models: dict | None = None,
                         warmup_ms: float = 0.0) -> tuple[float, float]:
    """The Brian2 rule between two populations driven by given spike trains.

    ``trains`` = [(neuron indices, spike times in ms)] of the pre (lower-layer) and the post
    (upper-layer) population of ``n`` neurons each. The rate filters run alone for ``warmup_ms``
    (as in the free phase), then the rule accumulates for ``duration_ms``; returns (ΔW_up, ΔW_down)
    = (∫ρ_in dρ_out/dt dt, ∫ρ_out dρ_in/dt dt). Uses the network's own wiring.

    Parameters
    ----------
    trains : list of tuple of numpy.ndarray
        Two (neuron indices, spike times in ms): the pre and the post population.
    n : int
        Neurons per population.
    duration_ms : float
        How long the rule accumulates, in ms.
    sp : SpikingParams
        The ``[spiking]`` section; the rate filters, ``r_max_hz``, ``dt_ms`` and ``codegen`` are
        read.
    models : dict, optional
        The model files (:func:`~stdp_ebm.spiking.params.load_models`); the shipped ones if None.
    warmup_ms : float
        How long the rate filters run alone first, in ms.

    Returns
    -------
    delta_w_up, delta_w_down : float
        The rule's two accumulators (Eq 26 upward and downward), dimensionless.
    """
    import brian2 as b2

    models = models or load_models()
    with Brian2Env(sp.codegen, sp.dt_ms, seed=None).active():  # draws no random numbers
        groups = [b2.SpikeGeneratorGroup(n, i, t * b2.ms, name=name)
                  for (i, t), name in zip(trains, ("pre", "post"))]
        pops, counts = population_rates([(g, np.full(n, u)) for u, g in enumerate(groups)], 2,
                                        n, sp, models)
        rules = rule_synapses(pops, np.array([0]), np.array([1]), sp, models)
        network = b2.Network(*groups, pops, *counts, rules)
        rules.active = False
        run_brian2(network, warmup_ms * b2.ms, report=None)
        start_rule(rules, pops, sp.r_max_hz)
        rules.active = True
        run_brian2(network, duration_ms * b2.ms, report=None)
        return float(rules.delta_w_up[0]), float(rules.delta_w_down[0])
