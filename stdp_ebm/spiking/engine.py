"""The compiled Brian2 network: construction, training hooks, phases and checkpoints."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..activation import Rho
from ..errors import DivergenceError
from ..network import Network
from ..progress import brian2_report
from .brian2_env import Brian2Env
from .layout import Layout
from .params import SpikingParams, background, neuron_overrides
from .phases import Episode, PhaseRecord, estimator_reference
from .population import population_rates, rule_synapses, start_rule
from .randomstate import random_state, set_random_state
from .schedule import Segment, run_segments


class SpikingNetwork:
    """Brian2 objects of ``copies`` = batch × trials copies of ``net`` (see :mod:`stdp_ebm.spiking`).

    To keep the number of compiled code objects small (each is compiled once, ~10–30 s), all LIF
    layers share one ``NeuronGroup``, all synaptic currents one group (population transmission),
    all transmission synapses one ``Synapses`` (plus one from the Poisson input), all
    population-rate filters one group and all rule synapses one ``Synapses``; the index layout is
    :class:`~stdp_ebm.spiking.layout.Layout`.

    The network runs under its own Brian2 settings (:class:`~stdp_ebm.spiking.brian2_env.
    Brian2Env`: code-generation target, time step and a random stream seeded with ``seed``), set
    for each of its calls and the caller's restored afterwards.

    Parameters
    ----------
    net : Network
        The rate network whose parameters W_k (n_k, n_{k+1}), b_k (n_k,) and layer sizes the
        spiking network takes; the rows of ``net.examples()[0]`` set the batch (copy c runs
        example c mod batch).
    rho : Rho
        The activation ρ; ρ(x) times ``r_max_hz`` is the Poisson rate of the input neurons (Hz).
    sp : SpikingParams
        The ``[spiking]`` parameters: time step, phase lengths (ms), r_max (Hz), I_unit (nA),
        neurons per unit, noise trials, transmission, β and estimator.
    models : dict
        The Brian2 model files by role (``neuron``, ``current``, ``synapse``, ``rule``, …;
        :mod:`stdp_ebm.models`).
    seed : int
        Seed of the network's own Brian2 random stream.
    rule_dt_ms : float
        Step of the rule synapses (ms; 0: every simulation step).
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, seed: int, *,
                 rule_dt_ms: float = 0.0) -> None:
        self.env = Brian2Env(sp.codegen, sp.dt_ms, seed)
        self.rule_dt_ms = rule_dt_ms
        with self.env.active():
            self._build(net, rho, sp, models)

    def _build(self, net: Network, rho: Rho, sp: SpikingParams, models: dict) -> None:
        import brian2 as b2

        self.net_params, self.sp, self.models = net, sp, models
        self.sizes = net.sizes
        x = net.examples()[0]
        self.batch = len(x)
        self.copies = self.batch * sp.trials
        self.layout = Layout(tuple(self.sizes), self.copies, sp.neurons_per_unit,
                             sp.transmission)
        self.unit_current = sp.unit_current_nA * b2.nA
        self._objects: list = []
        self.source = self._input_group(rho(x))
        self.neurons, self.currents = self._neuron_groups()
        self.conns = self._connections()
        self.pops, self.rules = self._rule_layer()
        self.counts = [self._add(b2.SpikeMonitor(g, record=False))
                       for g in (self.source, self.neurons)]
        self.rate_mon = self._add(b2.StateMonitor(self.pops, "r", record=True,
                                                  dt=sp.record_ms * b2.ms))
        self.out_mon = self._add(self._output_monitor())
        self.network = b2.Network(*self._objects)
        if sp.learn:
            self.network.add(b2.NetworkOperation(self._learn_step, dt=1 * b2.ms))
        self.spikes = self.events = 0.0
        self._nudging = False  # online learning (``learn``) only in nudged phases

    # --- construction ----------------------------------------------------------------------------
    def _add(self, obj):
        self._objects.append(obj)
        return obj

    def _input_group(self, rho_x: np.ndarray):
        import brian2 as b2

        return self._add(b2.PoissonGroup(self.layout.n_inputs, rates=self._input_rates(rho_x),
                                         name="input"))

    def _input_rates(self, rho_x: np.ndarray):
        """Poisson rates ρ(x)·r_max of the input neurons; copy c gets example c mod batch."""
        import brian2 as b2

        copy, unit = self.layout.units(0)
        return rho_x[copy % self.batch, unit] * self.sp.r_max_hz * b2.Hz

    def _neuron_groups(self) -> tuple:
        """The LIF neurons of layers 1 … L and, with population transmission, the synaptic
        currents they read (updated after the neurons in each step, as the neuron's own I_syn)."""
        import brian2 as b2

        model, lay = self.models["neuron"], self.layout
        currents = None
        if lay.transmission == "population":
            current = self.models["current"]
            currents = b2.NeuronGroup(lay.n_neurons // lay.n, name="currents", order=1,
                                      **current.group_kwargs(tau_s=model.params["tau_s"]))
            model = model.linked("I_syn")
        bias = self._bias_vector(self.net_params.b)
        group = self._add(b2.NeuronGroup(lay.n_neurons, name="neurons",
                                         **model.group_kwargs(**neuron_overrides(self.sp))))
        model.initialise(group)
        if currents is not None:
            self._add(currents)
            group.I_syn = b2.linked_var(currents, "I_syn", index=lay.current_of_neuron())
        for obj in background(group, self.sp, self.models):
            self._add(obj)
        self.bias = bias  # I_bias / I_unit without teaching
        group.I_bias = self.bias * self.unit_current
        group.pulse_end = 0 * b2.second
        return group, currents

    def with_unit_current(self, bias: np.ndarray, layer: int, current: np.ndarray) -> np.ndarray:
        """A copy of ``bias`` (per LIF neuron, in I_unit) with ``current`` (copies, n_layer) added
        to every neuron of each unit of ``layer``: the input drive into h_1, the teaching current
        into y.

        Parameters
        ----------
        bias : numpy.ndarray
            Bias current of every LIF neuron, in units of I_unit, shape (number of LIF neurons,),
            in the group's index order.
        layer : int
            The layer (1 … L) whose units get ``current``.
        current : numpy.ndarray
            Current per copy and unit of ``layer``, in units of I_unit, shape (copies, n_layer).

        Returns
        -------
        numpy.ndarray
            The new bias of every LIF neuron (in I_unit), the shape of ``bias``; ``bias`` itself
            is unchanged.
        """
        copy, unit = self.layout.units(layer)
        out = bias.copy()
        out[self.layout.neuron_offset(layer) + np.arange(len(copy))] += current[copy, unit]
        return out

    def _bias_vector(self, b: list[np.ndarray]) -> np.ndarray:
        """(b_i + s0) of every LIF neuron, in the group's index order."""
        return np.concatenate([b[k][self.layout.units(k)[1]] for k in range(1, len(self.sizes))]) \
            + self.sp.offset

    def _connections(self) -> list:
        """Transmission synapses W_k (:meth:`Layout.transmission_synapses`) with the current jump
        J = I_unit/(n·r_max·τ_s) (``stdp_ebm/models/population_synapse.toml``).

        Returns ``[(synapses, weight_index, rule_index)]``: per synapse, the index of its weight in
        the concatenation of all W_k and of the rule synapse of the same weight and copy.
        """
        import brian2 as b2

        model, lay = self.models["synapse"], self.layout
        J = self.unit_current / (lay.n * self.sp.r_max_hz * b2.Hz
                                 * self.models["neuron"].params["tau_s"])
        self.w_flat = np.concatenate([w.ravel() for w in self.net_params.W])
        target = self.currents if self.currents is not None else self.neurons
        out = []
        for name, (pre, post, widx, ridx) in lay.transmission_synapses(
                [w.size for w in self.net_params.W]).items():
            source = self.source if name == "input" else self.neurons
            syn = self._add(b2.Synapses(source, target, name=f"transmission_{name}",
                                        **model.group_kwargs(J=J)))
            syn.connect(i=pre, j=post)
            syn.w = self.w_flat[widx]
            out.append((syn, widx, ridx))
        return out

    def _rule_layer(self) -> tuple:
        """Population-rate filters of all units and the rule synapses of every weight and copy
        (:func:`~stdp_ebm.spiking.population.rule_synapses`: the rule file's form)."""
        lay = self.layout
        sources = [(self.source, lay.pop_of_neuron("input")),
                   (self.neurons, lay.pop_of_neuron("neurons"))]
        pops, counts = population_rates(sources, lay.n_units, lay.n, self.sp, self.models)
        self._objects += [pops, *counts]
        rules = self._add(rule_synapses(pops, *lay.rule_pairs(), self.sp, self.models,
                                        spikes=(lay, self.source, self.neurons),
                                        rule_dt_ms=self.rule_dt_ms))
        return pops, rules

    def _output_monitor(self):
        """Synaptic current of every output unit (of its first neuron, with neuron wiring)."""
        import brian2 as b2

        last, lay = len(self.sizes) - 1, self.layout
        cu = np.arange(self.copies * self.sizes[last])
        if self.currents is not None:
            return b2.StateMonitor(self.currents, "I_syn", dt=1 * b2.ms,
                                   record=lay.current_offset(last) + cu)
        return b2.StateMonitor(self.neurons, "I_syn", dt=1 * b2.ms, record=lay.neuron(last, cu, 0))

    def _learn_step(self) -> None:
        """Online learning in nudged phases: transmission weights W + eta·ΔW_tied of the same
        weight and copy."""
        if not self._nudging:
            return
        tied = np.asarray(self.rules.delta_w_tied[:])
        for syn, widx, ridx in self.conns:
            syn.w = self.w_flat[widx] + self.sp.eta * tied[ridx]

    # --- training hooks: change inputs and parameters without rebuilding (recompiling) ---------
    def set_input(self, rho_x: np.ndarray) -> None:
        """Clamp new inputs: Poisson rates ρ(x)·r_max, ``rho_x`` of shape (batch, n_0).

        Parameters
        ----------
        rho_x : numpy.ndarray
            ρ of the inputs, shape (batch, n_0), in units of r_max (the rate in Hz is
            ρ(x)·``r_max_hz``); copy c gets row c mod batch.
        """
        self.source.rates = self._input_rates(rho_x)

    def set_parameters(self, W: list[np.ndarray], b: list[np.ndarray],
                       drive: np.ndarray | None = None) -> None:
        """New weights W_k and biases b_k (same shapes) in every copy: transmission weights and
        bias currents (any teaching current is removed). ``drive`` (copies, n_1), in I_unit: a
        constant current into h_1 per copy on top of its bias (the input as a current, ρ(x)W_0).

        Parameters
        ----------
        W : list of numpy.ndarray
            Weights W_k, shape (n_k, n_{k+1}), k = 0 … L−1, the shapes the network was built
            with; the transmission weights (dimensionless, in units of the current jump J).
        b : list of numpy.ndarray
            Biases b_k, shape (n_k,), k = 0 … L (b_0 is unused); the bias current of a unit of
            layer k ≥ 1 is (b_k + s0)·I_unit.
        drive : numpy.ndarray or None
            Extra constant current into the units of h_1, in I_unit, shape (copies, n_1); None:
            none.
        """
        self.w_flat = np.concatenate([w.ravel() for w in W])
        for syn, widx, _ in self.conns:
            syn.w = self.w_flat[widx]
        self.bias = self._bias_vector(b)
        if drive is not None:
            self.bias = self.with_unit_current(self.bias, 1, drive)
        self.net_params = Network(W, b, self.net_params.x, self.net_params.target)
        self.neurons.I_bias = self.bias * self.unit_current

    # --- phases: segments of one Brian2 run (:mod:`stdp_ebm.spiking.schedule`) ---------------------
    def _counts(self) -> list[np.ndarray]:
        return [np.array(m.count, dtype=float) for m in self.counts]

    def _run(self, segments: list[Segment], rule: bool) -> None:
        """Run ``segments`` in one Brian2 run, the rule synapses on or off throughout; tally spikes
        and synaptic events (spikes × out-degree, transmission synapses)."""
        self.rules.active = rule
        for monitor in (self.rate_mon, self.out_mon):  # read per phase: keep no older history
            monitor.resize(0)
        before = self._counts()
        with self.env.active():
            run_segments(self.network, self.neurons.clock, segments, brian2_report())
        new = [a - b for a, b in zip(self._counts(), before)]
        self.spikes += float(sum(np.sum(c) for c in new))
        self.events += self.synaptic_events(new)

    def synaptic_events(self, counts: list[np.ndarray]) -> float:
        """Σ spikes × out-degree over the transmission synapses.

        Parameters
        ----------
        counts : list of numpy.ndarray
            Spikes per neuron of the input group and of the LIF group (two arrays, each of the
            group's size), as counted over some stretch of time.

        Returns
        -------
        float
            The number of synaptic events (spike deliveries) these spikes cause.
        """
        return float(sum(c @ d for c, d in zip(counts, self.layout.out_degree())))

    def _free_segments(self, out: dict, count_ms: float | None = None) -> list[Segment]:
        """Settle, then count for ``count_ms`` (default ``free_ms``): ``out`` gets the population
        rates ρ (copies, n_k) and the output state ŷ (copies, n_out) of the counting window."""
        sp, mark = self.sp, {}
        window_ms = sp.free_ms if count_ms is None else count_ms

        def begin() -> None:
            self._nudging = False

        def count() -> None:
            mark["counts"] = self.layout.layer_blocks(self._counts())
            self.out_mon.resize(0)  # the output current from here to finish() only

        def finish() -> None:
            out["rates"], out["y"] = self._free_result(mark["counts"], window_ms)

        return [Segment(sp.settle_ms, start=begin, end=count),
                Segment(window_ms, end=finish)]

    def _free_result(self, before: list[np.ndarray], window_ms: float) -> tuple[list, np.ndarray]:
        sp = self.sp
        window = window_ms * 1e-3
        rates = [(a - b).sum(axis=2) / (self.layout.n * window * sp.r_max_hz)
                 for a, b in zip(self.layout.layer_blocks(self._counts()), before)]
        # I_syn_ and unit_current as raw values (A): the same quotient as with units
        current = (self.out_mon.I_syn_ / np.asarray(self.unit_current)).mean(axis=1)
        y = current.reshape(self.copies, -1) + self.net_params.b[-1][None, :]
        if not all(np.all(np.isfinite(r)) for r in rates) or max(r.max() for r in rates) > 5:
            raise DivergenceError("spiking free phase: runaway rates (> 5 r_max); lower the "
                                  "weights or spiking.unit_current_nA")
        return rates, y

    def free_phase(self, count_ms: float | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Settle, then count for ``count_ms`` (default ``[spiking] free_ms``): population rates ρ
        (copies, n_k), output state ŷ (copies, n_out).

        Parameters
        ----------
        count_ms : float or None
            Length of the counting window after ``settle_ms`` (ms); None: ``[spiking] free_ms``.

        Returns
        -------
        rates : list of numpy.ndarray
            Per layer k = 0 … L, the spike count rate of each unit over the window in units of
            r_max (spikes / (neurons per unit · window · r_max)), shape (copies, n_k).
        y : numpy.ndarray
            Output state ŷ = ⟨I_syn⟩/I_unit + b_L over the window, shape (copies, n_out).

        Raises
        ------
        DivergenceError
            If a rate is not finite or exceeds 5 r_max.
        """
        out: dict = {}
        self._run(self._free_segments(out, count_ms), rule=False)
        return out["rates"], out["y"]

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

    def _stateful(self) -> list:
        return [g for g in (self.neurons, self.currents, self.pops) if g is not None]

    def checkpoint(self) -> dict:
        """The state a nudged phase starts from: neuron, current and rate-filter variables and the
        random number generator (:func:`~stdp_ebm.spiking.randomstate.random_state`; Brian2's own
        store/restore replays freed memory).

        Returns
        -------
        dict
            ``"t"``: the network's time (s); ``"random"``: the random state; ``"groups"``: per
            stateful group (neurons, currents if any, rate filters) its own variables as arrays
            without units. :meth:`resume` takes it.
        """
        import brian2 as b2

        with self.env.active():  # the network's own random stream
            return {"t": float(self.network.t / b2.second), "random": random_state(),
                    "groups": [{k: np.array(v, copy=True) for k, v in
                                g.get_states(read_only_variables=False, units=False).items()
                                if g.variables[k].owner.name == g.name}  # not linked ones
                               for g in self._stateful()]}

    def resume(self, state: dict, same_time: bool = False) -> None:
        """Return to ``state`` (see :meth:`checkpoint`); time runs on, so refractory clocks
        (``lastspike``) are shifted by the time elapsed since the checkpoint. ``same_time``: the
        clock goes back to the checkpoint's time too (a training run resumed in a new process
        continues exactly as the uninterrupted run did).

        Parameters
        ----------
        state : dict
            A :meth:`checkpoint` of this network.
        same_time : bool
            Whether the clock goes back to the checkpoint's time (else it runs on).
        """
        import brian2 as b2

        if same_time:
            self.network.t_ = state["t"]  # each clock starts the next run from here
        elapsed = float(self.network.t / b2.second) - state["t"]
        for group, values in zip(self._stateful(), state["groups"]):
            if "lastspike" in values:
                values = {**values, "lastspike": values["lastspike"] + elapsed}
            group.set_states(values, units=False)
        with self.env.active():  # the network's own random stream
            set_random_state(state["random"])

    def set_teaching(self, force: np.ndarray) -> None:
        """Output neurons get the teaching current ``force``·I_unit (copies, n_out) on the bias.

        Parameters
        ----------
        force : numpy.ndarray
            Teaching current per copy and output unit, in units of I_unit, shape (copies, n_out);
            it replaces any earlier one.
        """
        bias = self.with_unit_current(self.bias, len(self.sizes) - 1, force)
        self.neurons.I_bias = bias * self.unit_current  # whole array: also works in standalone

    def _nudged_segments(self, force: Callable[[], np.ndarray], stops_ms: list[float],
                         out: list[PhaseRecord]) -> list[Segment]:
        """A nudged phase with the teaching current ``force()``·I_unit (copies, n_out; called when
        the phase starts) on the output bias, reading the rule's integrals at each of ``stops_ms``
        (sorted, the last = the end); its :class:`PhaseRecord` is appended to ``out``."""
        rec: dict = {"accs": []}

        def begin() -> None:
            self.set_teaching(force())
            start_rule(self.rules, self.pops, self.sp.r_max_hz)
            self.rate_mon.resize(0)  # the rates from here to finish(): memory bounded by a phase
            self._nudging = True

        def read() -> None:
            rec["accs"].append(self._accumulators())

        def finish() -> None:
            read()
            r = np.array(self.rate_mon.r_).T / self.sp.r_max_hz  # r_: raw values, no units
            lay = self.layout
            out.append(PhaseRecord(rec["accs"], [
                r[:, lay.unit_offset(k):lay.unit_offset(k) + self.copies * s]
                .reshape(len(r), self.copies, s) for k, s in enumerate(self.sizes)]))

        lengths = np.diff([0.0, *stops_ms])
        segments = [Segment(float(ms), end=read) for ms in lengths]
        segments[0].start, segments[-1].end = begin, finish
        return segments

    def nudged_phase(self, force: np.ndarray, checkpoints_ms: list[float]) -> PhaseRecord:
        """Run with the teaching current ``force``·I_unit (copies, n_out) added to the output bias,
        reading the rule's integrals at each of ``checkpoints_ms`` (sorted, the last = the end).

        Parameters
        ----------
        force : numpy.ndarray
            Teaching current per copy and output unit, in units of I_unit, shape (copies, n_out)
            (β times the force per unit of β, Eq 13's nudging).
        checkpoints_ms : list of float
            Times from the phase's start (ms, increasing) at which the rule's ΔW integrals (Eq 26)
            are read; the last is the phase's length.

        Returns
        -------
        PhaseRecord
            The integrals at each checkpoint (per form ``up``/``down``/``sym`` and W_k, shape
            (copies, n_k, n_{k+1})) and the filtered rates ρ_k of the phase, in units of r_max,
            shape (samples, copies, n_k).
        """
        out: list[PhaseRecord] = []
        self._run(self._nudged_segments(lambda: force, checkpoints_ms, out), rule=True)
        return out[0]

    def episode(self, force_of: Callable[[np.ndarray], np.ndarray], checkpoints_ms: list[float]
                ) -> Episode:
        """Free phase, then from its end state the +β phase and (resumed, common random numbers)
        the estimator's reference phase (−β or β = 0), all in one Brian2 run. The teaching current
        per unit of β is ``force_of(ŷ)`` (copies, n_out) of the free phase's output state ŷ.

        Parameters
        ----------
        force_of : callable
            Maps the free phase's ŷ (copies, n_out) to the teaching force per unit of β, in I_unit,
            shape (copies, n_out) (d − o(ŷ), :func:`~stdp_ebm.spiking.teaching_force`).
        checkpoints_ms : list of float
            Times from each nudged phase's start (ms, increasing) at which the rule's integrals
            (Eq 26) are read; the last is the phase's length.

        Returns
        -------
        Episode
            The free phase's rates (units of r_max, (copies, n_k)) and ŷ (copies, n_out), the
            +β and reference :class:`PhaseRecord`, and the estimator's divisor (2β for the
            symmetric estimator, β for the one-sided one).
        """
        beta = self.sp.beta
        sign, scale = estimator_reference(self.sp.estimator)
        free: dict = {}
        phases: list[PhaseRecord] = []
        saved: dict = {}

        def plus() -> np.ndarray:
            saved["start"], saved["force"] = self.checkpoint(), force_of(free["y"])
            return beta * saved["force"]

        def reference() -> np.ndarray:
            self.resume(saved["start"])
            return sign * beta * saved["force"]

        self._run(self._free_segments(free)
                  + self._nudged_segments(plus, checkpoints_ms, phases)
                  + self._nudged_segments(reference, checkpoints_ms, phases), rule=True)
        return Episode(free["rates"], free["y"], phases[0], phases[1], scale * beta)
