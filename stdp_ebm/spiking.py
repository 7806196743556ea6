"""The Brian2 spiking model of the layered network, with the rule (Eq 26) as synapse equations.

Mapping to the rate model (Bengio et al. 2017; ``stdp_ebm.rate``):

* a rate unit i is a population of ``n`` LIF neurons (``models/lif_neuron.toml``, with membrane
  noise σ standing in for the Langevin η of Eq 2); its rate ρ_i is the population rate / r_max;
* its state s_i is the neurons' input current in units of ``I_unit`` (shifted by ``offset`` s0):
  ``I_bias = (b_i + s0)·I_unit`` and a synaptic current whose mean is ``I_unit · Σ_j W_ij ρ_j``
  (Eq 8), so I = (s_i + s0)·I_unit with s_i = b_i + Σ_j W_ij ρ_j; every neuron of unit j projects to
  every neuron of unit i with weight ``w = W_ij`` and current jump ``J = I_unit/(n·r_max·τ_s)``
  (``models/population_synapse.toml``), both ways between adjacent layers (symmetric W, Eq 6);
* the measured f–I curve (``stdp_ebm.calibration``) is ρ_LIF, so the population's fixed point is the
  calibrated rate model's;
* the input layer x is clamped as Poisson generators at rates ρ_LIF(x)·r_max;
* the population settles at s = b + Wρ_LIF(s): the fixed point of the rate model with Hopfield's
  energy (``[dynamics] energy = "hopfield"``, :mod:`stdp_ebm.energy`); with Eq 6's energy the rate
  model's fixed point s = ρ'(s)(b + Wρ(s)) is close only where ρ'_LIF ≈ 1 (hence ``offset``);
* the nudge (F = E + βC, Eq 13) is a teaching current β·I_unit·(d − o(ŷ)) into the output neurons,
  with ŷ the output state measured at the end of the free phase and o the calibrated rate model's
  readout (ŷ for Eq 6, ρ_LIF(ŷ) for Hopfield's energy): its force −β ∂C/∂o at the free fixed point,
  to first order in β the same fixed point as the rate model's nudge (:func:`teaching_force`);
* the rule (Eq 26) runs online in Brian2: per unit, a second-order filter of the population's
  spikes gives a smooth rate ρ (``models/population_rate.toml``), and one synapse per weight
  integrates ∫ρ_in dρ_out (``up``), ∫ρ_out dρ_in (``down``) and their sum (tied, ``sym``), step by
  step with the trapezoidal pre rate so that the tied form telescopes exactly
  (``models/population_rule.toml``).

One compiled network holds ``batch × trials`` independent copies of the network (examples and noise
repeats vectorised as neurons). The free phase runs once and its end state is kept; each nudged
phase starts from it *with the random number generator's state*, so the +β and the −β (or β = 0)
phases see the same noise and input spikes (common random numbers). ΔW = (acc(+β) − acc(−β)) / 2β
(``symmetric``) or (acc(+β) − acc(0)) / β
(``one_sided``), averaged over copies; ``raw`` = acc(+β)/β is the rule's own integral without the
control run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .activation import Rho
from .config import Key
from .energy import EQ6, Energy
from .errors import DivergenceError, ModelFileError
from .network import Network
from .progress import brian2_report
from .rule import FORMS

SPIKING_SCHEMA: dict[str, Key] = {
    "neurons_per_unit": Key("int", 20, "LIF neurons per rate unit (population size n)", low=1),
    "trials": Key("int", 1, "independent noise repeats, vectorised as extra network copies", low=1),
    "beta": Key("float", 0.2, "nudge strength β of the teaching current (Eq 13)", low=0.0,
                open_low=True),
    "estimator": Key("str", "symmetric", "symmetric: ±β runs; one_sided: +β against β = 0 "
                     "(both with common random numbers)", choices=("symmetric", "one_sided")),
    "r_max_hz": Key("float", 100.0, "rate of ρ = 1 (Hz)", low=0.0, open_low=True),
    "unit_current_nA": Key("float", 0.4, "input current I_unit of the state s = 1 (nA)", low=0.0,
                           open_low=True),
    "offset": Key("float", 0.3, "state-to-current shift s0: a neuron gets (s + s0)·I_unit, which "
                  "puts the f–I curve's knee below the states' range (ρ'_LIF ≈ 1 there)"),
    "noise_mV": Key("float", 6.0, "membrane noise σ of the LIF neuron (mV)", low=0.0),
    "dt_ms": Key("float", 0.1, "simulation time step (ms)", low=0.0, open_low=True, high=1.0),
    "settle_ms": Key("float", 100.0, "free phase: transient before the rates are counted (ms)",
                     low=0.0),
    "free_ms": Key("float", 300.0, "free phase: counting window after the transient (ms)", low=0.0,
                   open_low=True),
    "nudged_ms": Key("float", 300.0, "nudged phase length (ms)", low=0.0, open_low=True),
    "tau_r_ms": Key("float", 50.0, "decay of the population-rate filter of the rule (ms)", low=0.0,
                    open_low=True),
    "tau_rise_ms": Key("float", 10.0, "rise of the population-rate filter of the rule (ms)",
                       low=0.0, open_low=True),
    "rate_tau_ms": Key("float", 20.0, "time constant τ of the rate model in spiking time: a rate "
                       "step ε lasts ε·τ (to compare trajectories and phase lengths)", low=0.0,
                       open_low=True),
    "record_ms": Key("float", 2.0, "sampling interval of the recorded rate trajectories (ms)",
                     low=0.0, open_low=True),
    "learn": Key("bool", False, "learn online (W += eta·ΔW_tied in the nudged phase) instead of "
                 "keeping W frozen while ΔW accumulates"),
    "eta": Key("float", 0.0, "online learning rate (used when learn = true)", low=0.0),
    "codegen": Key("str", "cython", "Brian2 code generation target", choices=("cython", "numpy")),
}


def configure_brian2(codegen: str, dt_ms: float) -> None:
    """Set Brian2's runtime target (falling back to numpy without a compiler) and time step."""
    import brian2 as b2

    from .models import set_codegen_target

    set_codegen_target(codegen)
    b2.defaultclock.dt = dt_ms * b2.ms


def neuron_overrides(sp: dict) -> dict:
    """Parameters of ``models/lif_neuron.toml`` set by the [spiking] config (the noise σ)."""
    import brian2 as b2

    return {"sigma": sp["noise_mV"] * b2.mV}


def load_models() -> dict:
    """The model files the spiking network is made of (see the module docstring)."""
    from .models import load_model

    return {"neuron": load_model("lif_neuron"), "synapse": load_model("population_synapse"),
            "rate": load_model("population_rate"), "rule": load_model("population_rule")}


@dataclass
class PhaseRecord:
    """What one nudged phase left: the rule's accumulators per copy and the rate trajectories."""

    acc: list[dict[str, list[np.ndarray]]]  # per checkpoint: form -> per W_k (copies, n_k, n_k+1)
    rho: list[np.ndarray]  # per layer, shape (T, copies, n_k)


@dataclass
class SpikingRun:
    """Results of :func:`simulate`, averaged over copies unless named ``*_copies``."""

    rates_free_copies: list[np.ndarray]  # per layer, ρ (population rate / r_max), (copies, n_k)
    y_free_copies: np.ndarray  # output state ŷ (current / I_unit), (copies, n_out)
    dW_copies: dict[str, list[np.ndarray]]  # estimator ΔW per copy, (copies, n_k, n_{k+1})
    raw_copies: dict[str, list[np.ndarray]]  # acc(+β)/β per copy
    times_ms: np.ndarray  # sample times of the nudged-phase trajectories (from the nudge onset)
    drho_copies: list[np.ndarray]  # per layer, (ρ(+β) − ρ(ref))/(scale·β), (T, copies, n_k)
    batch: int
    cost: dict[str, float] = field(default_factory=dict)
    checkpoints: dict[float, dict] = field(default_factory=dict)  # time (ms) -> dW_copies then

    def _mean(self, a: np.ndarray, trials: int | None, axis: int = 0) -> np.ndarray:
        """Average the copies axis of ``a`` over the first ``trials`` trials → a batch axis."""
        a = np.moveaxis(a, axis, 0)
        stop = None if trials is None else trials * self.batch
        a = a[:stop]
        out = a.reshape(-1, self.batch, *a.shape[1:]).mean(axis=0)
        return np.moveaxis(out, 0, axis)

    def delta_w(self, form: str = "sym", trials: int | None = None, raw: bool = False,
                checkpoint: float | None = None) -> list[np.ndarray]:
        """ΔW per W_k averaged over the batch and the first ``trials`` noise repeats (at the end of
        the nudged phase, or at ``checkpoint`` ms into it)."""
        src = (self.raw_copies if raw else self.checkpoints[checkpoint] if checkpoint is not None
               else self.dW_copies)[form]
        return [self._mean(a, trials).mean(axis=0) for a in src]

    def trial_sd(self, form: str = "sym") -> list[np.ndarray]:
        """Standard deviation over noise trials of the batch-averaged ΔW, per W_k (needs ≥ 2)."""
        return [a.reshape(-1, self.batch, *a.shape[1:]).mean(axis=1).std(axis=0, ddof=1)
                for a in self.dW_copies[form]]

    def rates_free(self, trials: int | None = None) -> list[np.ndarray]:
        """Free-phase population rates ρ per layer, averaged over trials, shape (batch, n_k)."""
        return [self._mean(r, trials) for r in self.rates_free_copies]

    def example_drho(self, example: int, trials: int | None = None) -> list[np.ndarray]:
        """Nudged-phase Δρ/β trajectories of one example per layer, trial-averaged, (T, n_k)."""
        return [self._mean(d, trials, axis=1)[:, example] for d in self.drho_copies]


def random_state() -> dict:
    """Brian2's random-number state, safe to restore after any amount of simulation.

    Brian2's Cython target (2.9) draws ``rand``/``randn`` from C buffers of 20000 numbers that it
    frees and reallocates whenever one runs out, and ``Device.get_random_state`` records the
    buffers' *addresses*. Restoring that after a refill points Brian2 at freed memory: the replay
    reads other numbers (no common random numbers) and the next refill frees the block a second
    time ("munmap_chunk(): invalid pointer", "corrupted size vs. prev_size"); Brian2's
    ``store``/``restore`` do the same. This keeps numpy's state, each buffer's read position and a
    copy of its *contents*; :func:`set_random_state` writes them into the buffers Brian2 holds then.
    """
    import brian2 as b2

    device = b2.get_device()
    state = {"numpy": np.random.get_state()}
    for name in ("rand", "randn"):
        address, index = int(getattr(device, f"{name}_buffer")[0]), int(
            getattr(device, f"{name}_buffer_index")[0])
        state[name] = (index, _buffer(address).copy() if address else None)
    return state


def set_random_state(state: dict) -> None:
    """Return Brian2's random numbers to ``state`` (from :func:`random_state`)."""
    import brian2 as b2

    device = b2.get_device()
    np.random.set_state(state["numpy"])
    for name in ("rand", "randn"):
        index, contents = state[name]
        if contents is not None:
            address = int(getattr(device, f"{name}_buffer")[0])
            _buffer(address)[:] = contents  # a buffer, once allocated, is only ever replaced
        getattr(device, f"{name}_buffer_index")[:] = index


def _buffer(address: int) -> np.ndarray:
    """The Cython target's random buffer at ``address`` as a numpy view."""
    import ctypes

    from brian2.codegen.generators.cython_generator import _BUFFER_SIZE

    return np.ctypeslib.as_array((ctypes.c_double * _BUFFER_SIZE).from_address(address))


def population_rates(sources: list, n_units: int, n: int, sp: dict, models: dict) -> tuple:
    """``n_units`` population-rate filters (``models/population_rate.toml``) and the synapses that
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
    """Eq 26 rule synapses (``models/population_rule.toml``) from units ``pre`` to ``post``."""
    import brian2 as b2

    rules = b2.Synapses(pops, pops, name="rule",
                        **models["rule"].group_kwargs(r_max=sp["r_max_hz"] * b2.Hz))
    rules.connect(i=pre, j=post)
    return models["rule"].attach(rules)


def start_rule(rules, pops, r_max_hz: float) -> None:
    """Zero the rule's integrals and start them from the populations' current rates."""
    rho = np.asarray(pops.r_[:]) / r_max_hz
    rules.delta_w_up = 0
    rules.delta_w_down = 0
    rules.rho_in_last = rho[np.asarray(rules.i[:])]
    rules.rho_out_last = rho[np.asarray(rules.j[:])]
    rules.active = True


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
    configure_brian2(sp["codegen"], sp["dt_ms"])
    groups = [b2.SpikeGeneratorGroup(n, i, t * b2.ms, name=name)
              for (i, t), name in zip(trains, ("pre", "post"))]
    pops, counts = population_rates([(g, np.full(n, u)) for u, g in enumerate(groups)], 2, n, sp,
                                    models)
    rules = rule_synapses(pops, np.array([0]), np.array([1]), sp, models)
    network = b2.Network(*groups, pops, *counts, rules)
    rules.active = False
    network.run(warmup_ms * b2.ms)
    start_rule(rules, pops, sp["r_max_hz"])
    network.run(duration_ms * b2.ms)
    return float(rules.delta_w_up[0]), float(rules.delta_w_down[0])


class SpikingNetwork:
    """Brian2 objects of ``copies`` = batch × trials copies of ``net`` (see the module docstring).

    To keep the number of compiled code objects small (each is compiled once, ~10–30 s), all LIF
    layers share one ``NeuronGroup``, all transmission synapses one ``Synapses`` (plus one from the
    Poisson input), all population-rate filters one group and all rule synapses one ``Synapses``.
    Layer k occupies a contiguous block; inside it neuron ``(copy·n_k + unit)·n + m``.
    """

    def __init__(self, net: Network, rho: Rho, sp: dict, models: dict, seed: int) -> None:
        import brian2 as b2

        configure_brian2(sp["codegen"], sp["dt_ms"])
        b2.seed(seed)
        self.net_params, self.sp, self.models = net, sp, models
        self.sizes = net.sizes
        self.n = sp["neurons_per_unit"]
        self.batch = len(net.x)
        self.copies = self.batch * sp["trials"]
        self.unit_current = sp["unit_current_nA"] * b2.nA
        self.r_max = sp["r_max_hz"] * b2.Hz
        blocks = [0] + [self.copies * s * self.n for s in self.sizes[1:]]
        self.offset = [0] + list(np.cumsum(blocks)[:-1])  # neuron offset of layer k >= 1
        self.pop_offset = list(np.concatenate([[0], np.cumsum(self.sizes) * self.copies]))
        self._objects: list = []
        self.source = self._input_group(rho(net.x))
        self.neurons = self._neuron_group()
        self.conns = self._connections()
        self.pops, self.rules = self._rule_layer()
        self.counts = [self._add(b2.SpikeMonitor(g, record=False))
                       for g in (self.source, self.neurons)]
        self.rate_mon = self._add(b2.StateMonitor(self.pops, "r", record=True,
                                                  dt=sp["record_ms"] * b2.ms))
        last = len(self.sizes) - 1
        self.out_mon = self._add(b2.StateMonitor(self.neurons, "I_syn", dt=1 * b2.ms,
                                                 record=self._neuron(last, np.arange(
                                                     self.copies * self.sizes[last]), 0)))
        self.network = b2.Network(*self._objects)
        if sp["learn"]:
            self.network.add(b2.NetworkOperation(self._learn_step, dt=1 * b2.ms))
        self.spikes = self.events = 0.0

    # --- construction ----------------------------------------------------------------------------
    def _add(self, obj):
        self._objects.append(obj)
        return obj

    def _neuron(self, k: int, cu, m) -> np.ndarray:
        """Index of neuron m of (copy·n_k + unit) ``cu`` of layer k (in its group)."""
        return self.offset[k] + np.asarray(cu) * self.n + np.asarray(m)

    def _units(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(copy, unit) of every neuron of layer k, in index order."""
        cu = np.repeat(np.arange(self.copies * self.sizes[k]), self.n)
        return cu // self.sizes[k], cu % self.sizes[k]

    def _input_group(self, rho_x: np.ndarray):
        import brian2 as b2

        copy, unit = self._units(0)
        rates = rho_x[copy % self.batch, unit] * self.sp["r_max_hz"]
        return self._add(b2.PoissonGroup(len(copy), rates=rates * b2.Hz, name="input"))

    def _neuron_group(self):
        import brian2 as b2

        model = self.models["neuron"]
        bias = self._bias_vector(self.net_params.b)
        group = self._add(b2.NeuronGroup(len(bias), name="neurons",
                                         **model.group_kwargs(**neuron_overrides(self.sp))))
        model.initialise(group)
        self.bias = bias  # I_bias / I_unit without teaching
        group.I_bias = self.bias * self.unit_current
        group.pulse_end = 0 * b2.second
        return group

    def _bias_vector(self, b: list[np.ndarray]) -> np.ndarray:
        """(b_i + s0) of every LIF neuron, in the group's index order."""
        return np.concatenate([b[k][self._units(k)[1]] for k in range(1, len(self.sizes))]) \
            + self.sp["offset"]

    def _pairs(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All unit pairs (copy, i in layer k, j in layer k+1), flattened in (copy, i, j) order."""
        c, i, j = np.meshgrid(np.arange(self.copies), np.arange(self.sizes[k]),
                              np.arange(self.sizes[k + 1]), indexing="ij")
        return c.ravel(), i.ravel(), j.ravel()

    def _connections(self) -> list:
        """Spiking synapses W_k, both ways between free layers, only upward from the input.

        Returns ``[(synapses, weight_index, rule_index)]``: per synapse, the index of its weight in
        the concatenation of all W_k and of the rule synapse of the same weight and copy.
        """
        import brian2 as b2

        model = self.models["synapse"]
        J = self.unit_current / (self.n * self.r_max * self.models["neuron"].params["tau_s"])
        m_pre, m_post = (a.ravel() for a in np.meshgrid(np.arange(self.n), np.arange(self.n),
                                                        indexing="ij"))
        w_offset = np.concatenate([[0], np.cumsum([w.size for w in self.net_params.W])])
        parts: dict[str, list] = {"input": [], "neurons": []}
        for k in range(len(self.net_params.W)):
            c, i, j = self._pairs(k)
            widx = np.repeat(w_offset[k] + i * self.sizes[k + 1] + j, self.n**2)
            ridx = np.repeat(self.copies * w_offset[k] + np.arange(len(c)), self.n**2)
            lo_cu = np.repeat(c * self.sizes[k] + i, self.n**2)
            hi_cu = np.repeat(c * self.sizes[k + 1] + j, self.n**2)
            reps = len(c)
            lo_m, hi_m = np.tile(m_pre, reps), np.tile(m_post, reps)
            hi = self._neuron(k + 1, hi_cu, hi_m)
            if k == 0:
                parts["input"].append((lo_cu * self.n + lo_m, hi, widx, ridx))
                continue
            lo = self._neuron(k, lo_cu, lo_m)
            parts["neurons"] += [(lo, hi, widx, ridx), (hi, lo, widx, ridx)]
        self.w_flat = np.concatenate([w.ravel() for w in self.net_params.W])
        out = []
        for name, source in (("input", self.source), ("neurons", self.neurons)):
            if not parts[name]:
                continue
            pre, post, widx, ridx = (np.concatenate(a) for a in zip(*parts[name]))
            syn = self._add(b2.Synapses(source, self.neurons, name=f"transmission_{name}",
                                        **model.group_kwargs(J=J)))
            syn.connect(i=pre, j=post)
            syn.w = self.w_flat[widx]
            out.append((syn, widx, ridx))
        return out

    def _rule_layer(self) -> tuple:
        """Population-rate filters of all units and one Eq 26 rule synapse per weight and copy."""
        sources = [(self.source, self._pop_of_neuron("input")),
                   (self.neurons, self._pop_of_neuron("neurons"))]
        pops, counts = population_rates(sources, self.pop_offset[-1], self.n, self.sp, self.models)
        self._objects += [pops, *counts]
        pre, post = [], []
        for k in range(len(self.sizes) - 1):
            c, i, j = self._pairs(k)
            pre.append(self.pop_offset[k] + c * self.sizes[k] + i)
            post.append(self.pop_offset[k + 1] + c * self.sizes[k + 1] + j)
        rules = self._add(rule_synapses(pops, np.concatenate(pre), np.concatenate(post), self.sp,
                                        self.models))
        rules.active = False
        return pops, rules

    def _pop_of_neuron(self, name: str) -> np.ndarray:
        """Population-rate unit of every neuron of the input group or of the LIF group."""
        layers = [0] if name == "input" else range(1, len(self.sizes))
        return np.concatenate([self.pop_offset[k] + np.arange(self.copies * self.sizes[k] * self.n)
                               // self.n for k in layers])

    def _learn_step(self) -> None:
        """Online learning: transmission weights W + eta·ΔW_tied of the same weight and copy."""
        tied = np.asarray(self.rules.delta_w_tied[:])
        for syn, widx, ridx in self.conns:
            syn.w = self.w_flat[widx] + self.sp["eta"] * tied[ridx]

    # --- training hooks: change inputs and parameters without rebuilding (recompiling) ---------
    def set_input(self, rho_x: np.ndarray) -> None:
        """Clamp new inputs: Poisson rates ρ(x)·r_max, ``rho_x`` of shape (batch, n_0); copy c
        gets example c mod batch (as in the constructor)."""
        import brian2 as b2

        copy, unit = self._units(0)
        self.source.rates = rho_x[copy % self.batch, unit] * self.sp["r_max_hz"] * b2.Hz

    def set_parameters(self, W: list[np.ndarray], b: list[np.ndarray]) -> None:
        """New weights W_k and biases b_k (same shapes) in every copy: transmission weights and
        bias currents (any teaching current is removed)."""
        self.w_flat = np.concatenate([w.ravel() for w in W])
        for syn, widx, _ in self.conns:
            syn.w = self.w_flat[widx]
        self.bias = self._bias_vector(b)
        self.net_params = Network(W, b, self.net_params.x, self.net_params.target)
        self.neurons.I_bias = self.bias * self.unit_current

    # --- phases ----------------------------------------------------------------------------------
    def _counts(self) -> list[np.ndarray]:
        return [np.array(m.count, dtype=float) for m in self.counts]

    def _run(self, duration_ms: float) -> None:
        """Run and tally spikes and synaptic events (spikes × out-degree, transmission synapses)."""
        import brian2 as b2

        before = self._counts()
        self.network.run(duration_ms * b2.ms, report=brian2_report())
        new = [a - b for a, b in zip(self._counts(), before)]
        self.spikes += float(sum(np.sum(c) for c in new))
        self.events += self.synaptic_events(new)

    def synaptic_events(self, counts: list[np.ndarray]) -> float:
        """Σ spikes × out-degree over the transmission synapses (all-to-all between populations);
        ``counts``: spikes per neuron of the input group and of the LIF group."""
        last = len(self.sizes) - 1
        degree = [np.full(len(counts[0]), self.n * self.sizes[1])]
        for k in range(1, last + 1):
            below = self.sizes[k - 1] if k >= 2 else 0
            above = self.sizes[k + 1] if k < last else 0
            degree.append(np.full(self.copies * self.sizes[k] * self.n, self.n * (below + above)))
        return float(counts[0] @ degree[0] + counts[1] @ np.concatenate(degree[1:]))

    def _layer_counts(self, counts: list[np.ndarray]) -> list[np.ndarray]:
        """Spike counts per layer, summed over each unit's n neurons: (copies, n_k)."""
        src, hid = counts
        blocks = [src] + [hid[self.offset[k]:self.offset[k] + self.copies * s * self.n]
                          for k, s in enumerate(self.sizes) if k > 0]
        return [b.reshape(self.copies, -1, self.n).sum(axis=2) for b in blocks]

    def free_phase(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Settle, then count: population rates ρ (copies, n_k), output state ŷ (copies, n_out)."""
        sp = self.sp
        self._run(sp["settle_ms"])
        before = self._layer_counts(self._counts())
        t0 = self.out_mon.t[:].size
        self._run(sp["free_ms"])
        window = sp["free_ms"] * 1e-3
        rates = [(a - b) / (self.n * window * sp["r_max_hz"])
                 for a, b in zip(self._layer_counts(self._counts()), before)]
        current = np.array(self.out_mon.I_syn[:, t0:] / self.unit_current).mean(axis=1)
        y = current.reshape(self.copies, -1) + self.net_params.b[-1][None, :]
        if not all(np.all(np.isfinite(r)) for r in rates) or max(r.max() for r in rates) > 5:
            raise DivergenceError("spiking free phase: runaway rates (> 5 r_max); lower the "
                                  "weights or spiking.unit_current_nA")
        return rates, y

    def _accumulators(self) -> dict[str, list[np.ndarray]]:
        """The rule's ΔW integrals now, per form and W_k, shape (copies, n_k, n_{k+1})."""
        up, down = np.array(self.rules.delta_w_up[:]), np.array(self.rules.delta_w_down[:])
        acc: dict[str, list[np.ndarray]] = {"up": [], "down": [], "sym": []}
        start = 0
        for k in range(len(self.sizes) - 1):
            shape = (self.copies, self.sizes[k], self.sizes[k + 1])
            stop = start + int(np.prod(shape))
            acc["up"].append(up[start:stop].reshape(shape))
            acc["down"].append(down[start:stop].reshape(shape))
            acc["sym"].append(acc["up"][-1] + acc["down"][-1])
            start = stop
        return acc

    def checkpoint(self) -> dict:
        """The state a nudged phase starts from: neuron and rate-filter variables and the random
        number generator (:func:`random_state`; Brian2's own store/restore replays freed memory)."""
        import brian2 as b2

        return {"t": float(self.network.t / b2.second), "random": random_state(),
                "groups": [{k: np.array(v, copy=True) for k, v in
                            g.get_states(read_only_variables=False, units=False).items()}
                           for g in (self.neurons, self.pops)]}

    def resume(self, state: dict) -> None:
        """Return to ``state`` (see :meth:`checkpoint`); time runs on, so refractory clocks
        (``lastspike``) are shifted by the time elapsed since the checkpoint."""
        import brian2 as b2

        elapsed = float(self.network.t / b2.second) - state["t"]
        for group, values in zip((self.neurons, self.pops), state["groups"]):
            if "lastspike" in values:
                values = {**values, "lastspike": values["lastspike"] + elapsed}
            group.set_states(values, units=False)
        set_random_state(state["random"])

    def set_teaching(self, force: np.ndarray) -> None:
        """Output neurons get the teaching current ``force``·I_unit (copies, n_out) on the bias."""
        last = len(self.sizes) - 1
        copy, unit = self._units(last)
        bias = self.bias.copy()
        bias[self.offset[last] + np.arange(len(copy))] += force[copy, unit]
        self.neurons.I_bias = bias * self.unit_current  # whole array: also works in standalone

    def nudged_pair(self, force: np.ndarray, checkpoints_ms: list[float]
                    ) -> tuple[PhaseRecord, PhaseRecord, float]:
        """From the current state: the +β phase, then (resumed, common random numbers) the
        estimator's reference phase (−β or β = 0), both with teaching current ±β·``force``, and the
        divisor scale·β of their difference (:func:`estimator_reference`)."""
        beta = self.sp["beta"]
        sign, scale = estimator_reference(self.sp["estimator"])
        start = self.checkpoint()
        plus = self.nudged_phase(beta * force, checkpoints_ms)
        self.resume(start)
        return plus, self.nudged_phase(sign * beta * force, checkpoints_ms), scale * beta

    def nudged_phase(self, force: np.ndarray, checkpoints_ms: list[float]) -> PhaseRecord:
        """Run with the teaching current ``force``·I_unit (copies, n_out) added to the output bias,
        reading the rule's integrals at each of ``checkpoints_ms`` (sorted, the last = the end)."""
        self.set_teaching(force)
        start_rule(self.rules, self.pops, self.sp["r_max_hz"])
        t_start = self.rate_mon.t[:].size
        accs, elapsed = [], 0.0
        for stop in checkpoints_ms:
            if stop > elapsed:
                self._run(stop - elapsed)
                elapsed = stop
            accs.append(self._accumulators())
        r = np.array(self.rate_mon.r[:, t_start:]).T / self.sp["r_max_hz"]
        rho = [r[:, self.pop_offset[k]:self.pop_offset[k + 1]].reshape(len(r), self.copies, s)
               for k, s in enumerate(self.sizes)]
        return PhaseRecord(accs, rho)


def estimator_reference(estimator: str) -> tuple[float, float]:
    """(β sign of the reference phase, divisor of the difference in units of β): ``symmetric``
    compares +β with −β (−1, 2), ``one_sided`` +β with β = 0 (0, 1)."""
    return (-1.0, 2.0) if estimator == "symmetric" else (0.0, 1.0)


def teaching_force(energy: Energy, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Teaching current per unit of β (in I_unit) from the free-phase output state ŷ: the calibrated
    rate model's nudge d − o(ŷ) (:meth:`stdp_ebm.energy.Energy.force`), held during the phase.

    With Hopfield's energy it is d − ρ_LIF(ŷ), the force of βC = β½‖ρ(y) − d‖² on the energy the
    populations descend, so the symmetrised rule estimates −∂C/∂W of the spiking network itself;
    with Eq 6's, d − ŷ.
    """
    return energy.force(rho, y, target)


def simulate(net: Network, rho: Rho, sp: dict, seed: int, models: dict | None = None,
             checkpoints_ms: list[float] | None = None, energy: Energy = EQ6) -> SpikingRun:
    """Free phase, then the nudged phases with common random numbers (see the module docstring).

    ``checkpoints_ms``: times into the nudged phase (≤ ``nudged_ms``) at which the rule's ΔW is also
    read (:meth:`SpikingRun.delta_w` with ``checkpoint``); ``energy``: that of the calibrated rate
    model, which sets the teaching current (:func:`teaching_force`).
    """
    import brian2 as b2
    from brian2.units.fundamentalunits import DimensionMismatchError

    stops = sorted({min(c, sp["nudged_ms"]) for c in checkpoints_ms or []} | {sp["nudged_ms"]})
    t0 = time.perf_counter()
    try:
        sn = SpikingNetwork(net, rho, sp, models or load_models(), seed)
        t_build = time.perf_counter() - t0
        rates, y = sn.free_phase()
        force = teaching_force(energy, rho, y, np.tile(net.target, (sp["trials"], 1)))
        plus, ref, denom = sn.nudged_pair(force, stops)
    except (DimensionMismatchError, KeyError) as exc:
        raise ModelFileError(f"spiking network: the model files do not fit together: {exc}") \
            from None
    wall = time.perf_counter() - t0
    dW = [{f: [(p - r) / denom for p, r in zip(pa[f], ra[f])] for f in FORMS}
          for pa, ra in zip(plus.acc, ref.acc)]
    raw = {f: [p / sp["beta"] for p in plus.acc[-1][f]] for f in FORMS}
    drho = [(p - r) / denom for p, r in zip(plus.rho, ref.rho)]
    times = np.arange(plus.rho[0].shape[0]) * sp["record_ms"]
    sim_ms = sp["settle_ms"] + sp["free_ms"] + 2 * sp["nudged_ms"]
    cost = {"wall_s": wall, "build_s": t_build, "simulated_ms": sim_ms,
            "neurons": len(sn.neurons) + len(sn.source),
            "synapses": int(sum(len(s) for s, _, _ in sn.conns)),
            "neuron_ms": float(len(sn.neurons) * sim_ms),
            "spikes": float(sn.spikes), "synaptic_events": float(sn.events),
            "codegen": str(b2.prefs.codegen.target)}
    return SpikingRun(rates, y, dW[-1], raw, times, drho, len(net.x), cost,
                      dict(zip(stops, dW)))
