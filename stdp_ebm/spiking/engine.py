"""The compiled Brian2 network: phases and checkpoints.

:class:`SpikingNetwork` runs the free and nudged phases of its Brian2 objects (built, and given new
inputs and parameters, by :class:`~stdp_ebm.spiking.construction.NetworkObjects`) as segments of
one Brian2 run, and saves and restores their state and random numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..activation import Rho
from ..errors import DivergenceError
from ..network import Network
from ..progress import brian2_report
from .brian2_env import Brian2Env
from .construction import NetworkObjects
from .params import SpikingParams
from .phases import Episode, PhaseRecord, estimator_reference
from .population import start_rule
from .randomstate import random_state, set_random_state
from .schedule import Segment, run_segments


class SpikingNetwork(NetworkObjects):
    """Brian2 objects of ``copies`` = batch × trials copies of ``net`` (see :mod:`stdp_ebm.spiking`).

    The objects, few to keep the compiled code objects few, and the hooks that change the inputs
    and parameters (:meth:`~stdp_ebm.spiking.construction.NetworkObjects.set_input`,
    :meth:`~stdp_ebm.spiking.construction.NetworkObjects.set_parameters`) are those of
    :class:`~stdp_ebm.spiking.construction.NetworkObjects`.

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
