"""The Brian2 objects of the spiking network and the hooks that set their parameters.

:class:`NetworkObjects` builds, under the network's Brian2 settings, the groups, connections and
rule layer of :class:`~stdp_ebm.spiking.SpikingNetwork` (layout:
:class:`~stdp_ebm.spiking.layout.Layout`) and changes their inputs, weights and bias currents in
place, without rebuilding (recompiling) them. Running the phases and saving and restoring the
network's state are :class:`~stdp_ebm.spiking.SpikingNetwork`'s (:mod:`stdp_ebm.spiking.engine`).
"""

from __future__ import annotations

import numpy as np

from ..activation import Rho
from ..network import Network
from .brian2_env import Brian2Env
from .layout import Layout
from .params import SpikingParams, background, neuron_overrides
from .population import population_rates, rule_synapses

__all__ = ["NetworkObjects"]


class NetworkObjects:
    """The Brian2 objects of ``copies`` = batch × trials copies of a rate network, built by
    :meth:`_build` (called by :class:`~stdp_ebm.spiking.SpikingNetwork`, which documents the
    arguments), and the hooks that set their inputs and parameters.

    To keep the number of compiled code objects small (each is compiled once, ~10–30 s), all LIF
    layers share one ``NeuronGroup``, all synaptic currents one group (population transmission),
    all transmission synapses one ``Synapses`` (plus one from the Poisson input), all
    population-rate filters one group and all rule synapses one ``Synapses``; the index layout is
    :class:`~stdp_ebm.spiking.layout.Layout`.
    """

    env: Brian2Env
    rule_dt_ms: float

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
