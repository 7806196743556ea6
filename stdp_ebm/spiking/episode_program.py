"""The learner's mini-batch as one compiled program: free phase, ±β phases and ΔW without Python.

:class:`EpisodeProgram` builds the network of :class:`~stdp_ebm.spiking.learner.SpikingLearner`
(one :class:`~stdp_ebm.spiking.SpikingNetwork` of batch × trials copies) once as a
``cpp_standalone`` program, through :class:`~stdp_ebm.spiking.standalone.StandaloneProgram`'s
mechanism (compiled once; each run gets new weights, biases, inputs, targets and seed through
Brian2's ``run_args``). One run is one mini-batch, the same episode as
:meth:`SpikingNetwork.episode`, with every phase change written in Brian2 or, for the two
operations Brian2 has no statement for, in C++ inserted between the program's runs:

1. settle (``settle_ms``), then count (``free_ms``): a ``run_regularly`` of the *teacher* group
   (one element per unit and copy of layers 1 … L) sums the units' synaptic current every 1 ms,
   the samples the callback version's monitor takes; a summed variable averages the output
   units' sums over the noise trials of each example, ŷ = ⟨I_syn⟩/I_unit + b_L;
2. the teaching force per unit of β, d − o(ŷ) (:func:`~stdp_ebm.spiking.teaching_force`): o = ρ_LIF
   tabulated on a fine grid as a ``TimedArray`` read with linear interpolation (Hopfield's energy)
   or the identity (Eq 6's). Every neuron's ``I_bias`` is a summed variable of its unit's teacher
   element, (b + s0 [+ input drive] + sign·β·force)·I_unit, ``phase_sign`` set by a Brian2
   assignment between runs (0 in the free phase, +1, then the reference phase's −1 or 0; the force
   is 0 outside the output layer). The sum is constant within a phase (ŷ is fixed once counted),
   so it runs in each phase's first step only, before the neurons' update;
3. the rule starts (integrals zeroed, ``rho_*_last`` at the current rates) by Brian2 assignments;
   inserted C++ copies the neuron, current and rate-filter arrays and the random generators;
4. the +β phase; its end rates (the rate filters at the last sample of the callback version's
   monitor, ``nudged_ms − record_ms`` into the phase) are copied by a linked-variable assignment;
5. inserted C++ restores the arrays (``lastspike`` shifted by the phase's length, as
   :meth:`SpikingNetwork.resume` does) and the random generators: the reference phase draws the
   same random numbers from the same state (common random numbers, exactly); the rule's integrals
   are negated instead of zeroed, so at the end they hold acc(ref) − acc(+β);
6. the reference phase, its end rates copied likewise.

ΔW_k = −⟨acc⟩_copies/(scale·β) and Δb_k = ⟨ρ_k^{+β} − ρ_k^{ref}⟩_copies/(scale·β) are the
learner's estimator (docs/spiking_learning.md). The network's state at the end of a run is handed
back and may start the next run (``state``), as the callback learner carries it from mini-batch to
mini-batch. The random streams are the program's own (mt19937 per thread), not numpy's: results
equal the Cython learner's in distribution, not to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..activation import Rho, rho_table
from ..energy import Energy
from ..errors import ConfigError
from ..network import Network
from .learner import pad_batch, shell_network
from .params import SpikingParams, require_rate_form
from .phases import estimator_reference
from .standalone import StandaloneProgram

__all__ = ["EpisodeProgram", "EpisodeResult"]

SELF_TEST = 1.0  # reference sign +1: the reference phase repeats the +β phase exactly


@dataclass
class EpisodeResult:
    """One mini-batch of :meth:`EpisodeProgram.delta`.

    Attributes
    ----------
    dW : list of numpy.ndarray
        ΔW_k = ⟨acc(+β) − acc(ref)⟩_copies/(scale·β), the learner's estimator of the rule's
        integrals (Eq 26), shape (n_k, n_{k+1}).
    db : list of numpy.ndarray
        Δb_k of layers 1 … L, shape (n_k,): end-of-phase rate difference / (scale·β).
    y : numpy.ndarray
        Free-phase ŷ averaged over the noise trials, shape (batch, n_out).
    state : dict of str to numpy.ndarray
        The network's state at the end of the run, ``"<group>.<variable>"`` → values without
        units (``lastspike`` in s, relative to the next run's start): the next run's ``state``.
    """

    dW: list[np.ndarray]  # ΔW_k, (n_k, n_{k+1})
    db: list[np.ndarray]  # Δb_k of layers 1 … L, (n_k,)
    y: np.ndarray  # free-phase ŷ averaged over trials, (batch, n_out)
    state: dict[str, np.ndarray]  # the network's state at the end of the run (the next start)


class EpisodeProgram(StandaloneProgram):
    """The learner's episode of ``net`` (Poisson or current input, ``input_mode``) for ``batch``
    examples as one ``cpp_standalone`` program in ``directory`` (see the module docstring).

    Parameters
    ----------
    net : Network
        The learner's network (W_k (n_k, n_{k+1}), b_k (n_k,)); its shape is compiled, each
        :meth:`delta` gets its own parameters.
    rho : Rho
        The activation ρ_LIF; ρ(x)·r_max is the input rate (Hz).
    sp : SpikingParams
        The ``[spiking]`` parameters (phase lengths in ms, r_max in Hz, I_unit in nA, β,
        estimator, trials, …).
    models : dict
        The Brian2 model files by role; the rule must be rate-form (``population_rule``).
    batch : int
        Examples per mini-batch.
    energy : Energy
        The energy (Eq 6 or Hopfield's), which sets the output function o of the teaching force
        d − o(ŷ).
    directory : str or pathlib.Path
        Where the C++ program is generated and compiled.
    input_mode : str
        ``"poisson"`` or ``"current"`` (:data:`~stdp_ebm.spiking.learner.INPUTS`).
    rule_dt_ms : float
        Step of the rule synapses (ms; 0: every simulation step).
    threads : int
        OpenMP threads (≥ 0; 0: no OpenMP).
    teach_every_step : bool
        Sum the teaching current every step instead of in each phase's first step: the same
        results to the bit at more CPU (a comparison, docs/spiking_learning.md § 6).

    Raises
    ------
    ConfigError
        With a spike-form rule, ``threads`` not a whole number ≥ 0, or ``settle_ms`` or
        ``nudged_ms − record_ms`` shorter than a step.
    DeviceError
        If a standalone program was already built in this process.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, batch: int,
                 energy: Energy, directory: str | Path, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0, threads: int = 0, *,
                 teach_every_step: bool = False) -> None:
        require_rate_form(models)
        if min(sp.settle_ms, sp.nudged_ms - sp.record_ms) < sp.dt_ms:  # a phase's first step
            raise ConfigError(f"the compiled episode needs [spiking] settle_ms ({sp.settle_ms}) and "
                              f"nudged_ms − record_ms ({sp.nudged_ms - sp.record_ms}) ≥ dt_ms "
                              f"({sp.dt_ms})")
        self.rho, self.energy, self.input_mode = rho, energy, input_mode
        self.sizes, self.rule_dt_ms, self.every_step = net.sizes, rule_dt_ms, teach_every_step
        shell = shell_network(net, batch, input_mode)
        super().__init__(shell, rho, sp.replace(learn=False), models, 0.0, directory, threads)

    # --- build ----------------------------------------------------------------------------------
    def _build(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, duration_ms: float,
               threads: int, directory: str) -> None:
        import brian2 as b2

        from .engine import SpikingNetwork

        sn = self.sn = SpikingNetwork(net, rho, sp.replace(codegen="cython"), models, seed=0,
                                      rule_dt_ms=self.rule_dt_ms)
        self.sp, lay = sn.sp, sn.layout
        self.sign, self.divisor = estimator_reference(sp.estimator)
        self.divisor *= sp.beta
        for monitor in (sn.rate_mon, sn.out_mon, *sn.counts):  # results come from the groups
            monitor.active = False
        self.teacher = self._teacher(b2)
        self.ends = b2.NeuronGroup(lay.n_units, "r_link : Hz (linked)\nr_plus : Hz\nr_ref : Hz",
                                   name="end_rates")
        self.ends.r_link = b2.linked_var(sn.pops, "r")
        sn.network.add(self.teacher, *self._teacher_synapses(b2), self.ends)
        self._seed_from_run_args(threads)
        self._phases(b2)
        self.device.build(directory=directory, compile=True, run=False)

    def _teacher(self, b2):
        """One element per unit and copy of layers 1 … L (the ``currents`` order): its bias
        current and, for the output units, the free phase's ŷ and the teaching force."""
        sn, lay = self.sn, self.sn.layout
        lo, step, values = rho_table(self.rho)
        readout = "y_hat" if self.energy.name == "eq6" else "rho_hat"
        eqs = f"""
        target : 1
        is_out : 1
        base : 1
        b_out : 1
        ref_sign : 1
        phase_sign : 1
        y_sum : 1
        y_mean : 1
        I_out : amp (linked)
        y_hat = y_mean + b_out : 1
        u_tab = clip((y_hat - s_lo)/h_tab, 0, k_max) : 1
        k_tab = floor(u_tab) : 1
        rho_hat = rho_tab(k_tab*ms) + (u_tab - k_tab)*(rho_tab((k_tab + 1)*ms) - rho_tab(k_tab*ms)) : 1
        force = is_out*(target - {readout}) : 1
        """
        ns = self.namespace = {"I_unit": sn.unit_current, "s_lo": lo, "h_tab": step, "k_max": len(values) - 1.0,
              "rho_tab": b2.TimedArray(values, dt=1 * b2.ms)}
        teacher = b2.NeuronGroup(lay.n_neurons // lay.n, eqs, namespace=ns, name="teacher")
        if sn.currents is not None:
            teacher.I_out = b2.linked_var(sn.currents, "I_syn")
        else:
            teacher.I_out = b2.linked_var(sn.neurons, "I_syn",
                                          index=np.arange(lay.n_neurons // lay.n) * lay.n)
        self.out = slice(lay.current_offset(len(sn.sizes) - 1), lay.n_neurons // lay.n)
        is_out = np.zeros(len(teacher))
        is_out[self.out] = 1
        teacher.is_out = is_out
        teacher.ref_sign = self.sign
        self.count = teacher.run_regularly("y_sum += I_out/I_unit", dt=1 * b2.ms, when="start",
                                           name="teacher_count")
        return teacher

    def _teacher_synapses(self, b2) -> list:
        """The trial mean of ŷ (summed over the copies of an example) and every neuron's bias
        current, the output's with the teaching current (summed into ``I_bias``)."""
        sn, lay = self.sn, self.sn.layout
        n_out = sn.sizes[-1]
        trials = sn.copies // sn.batch
        samples = int(round(self.sp.free_ms))  # one sample per ms of the counting window
        self.mean = b2.Synapses(self.teacher, self.teacher, name="teacher_trial_mean",
                                model="y_mean_post = y_sum_pre/norm : 1 (summed)",
                                namespace={"norm": float(trials * samples)})
        e = np.arange(sn.copies * n_out)
        src = np.concatenate([e] * trials)
        dst = np.concatenate([((e // n_out) % sn.batch + t * sn.batch) * n_out + e % n_out
                              for t in range(trials)])
        self.mean.connect(i=self.out.start + src, j=self.out.start + dst)
        self.teach = b2.Synapses(self.teacher, sn.neurons, name="teaching_current",
                                 model="I_bias_post = (base_pre + phase_sign_pre*beta*force_pre)"
                                       "*I_unit : amp (summed)",
                                 namespace={**self.namespace, "beta": self.sp.beta})
        self.teach.connect(i=np.arange(lay.n_neurons) // lay.n, j=np.arange(lay.n_neurons))
        return [self.mean, self.teach]

    def _state_arrays(self) -> list[tuple]:
        """(group, variable name, C++ array, C type, length) of every variable the callback
        version's checkpoint holds (neurons, currents, rate filters)."""
        from brian2.codegen.generators.cpp_generator import c_data_type
        from brian2.core.variables import ArrayVariable

        out = []
        for group in self.sn._stateful():
            for name, var in sorted(group.variables.items()):
                if isinstance(var, ArrayVariable) and not var.read_only and not var.constant \
                        and var.owner.name == group.name and not name.startswith("_") \
                        and var.size == len(group) and name != "I_bias":
                    out.append((group, name, self.device.get_array_name(var),
                                c_data_type(var.dtype), var.size))
        return out

    def _phases(self, b2) -> None:
        """The program's runs and what happens between them (module docstring, steps 1–6)."""
        sn, sp = self.sn, self.sp
        rules, run = sn.rules, sn.network.run
        arrays = self._state_arrays()
        self.state_vars = [(g, name) for g, name, *_ in arrays]
        nudged, last_sample = sp.nudged_ms, sp.nudged_ms - sp.record_ms
        # The network's step: leaving the network's Brian2Env wrote the caller's dt back into
        # the program (every assignment is recorded under the standalone device)
        b2.defaultclock.dt = sp.dt_ms * b2.ms

        def teach_then_run(duration_ms: float) -> None:  # the phase's currents, then held
            if self.every_step:
                run(duration_ms * b2.ms)
                return
            self.teach.active = True
            run(sp.dt_ms * b2.ms)
            self.teach.active = False
            run((duration_ms - sp.dt_ms) * b2.ms)

        rules.active, self.count.active, self.mean.active = False, False, False
        teach_then_run(sp.settle_ms)
        self.count.active = self.mean.active = True
        run(sp.free_ms * b2.ms)
        self.count.active = self.mean.active = False
        rules.active = True
        save = ["std::vector<RandomGenerator> _episode_rng = _random_generators;"]
        save += [f"std::vector<{c}> _episode_{k}({a}, {a} + {n});"
                 for k, (_, _, a, c, n) in enumerate(arrays)]
        restore = ["_random_generators = _episode_rng;"]
        for k, (_, name, a, _, n) in enumerate(arrays):
            shift = f" + {nudged * 1e-3!r}" if name == "lastspike" else ""
            restore.append(f"for (int _i = 0; _i < {n}; _i++) {a}[_i] = _episode_{k}[_i]{shift};")
        for phase, ends in (("plus", "r_plus"), ("reference", "r_ref")):
            if phase == "plus":
                for name in ("delta_w_up", "delta_w_down"):
                    setattr(rules, name, 0)
                self.device.insert_code("main", "\n".join(save))
                self.teacher.phase_sign = 1
            else:
                self.device.insert_code("main", "\n".join(restore))
                for name in ("delta_w_up", "delta_w_down"):  # now: −acc(+β)
                    setattr(rules, name, f"-{name}")
                self.teacher.phase_sign = "ref_sign"
            for name in ("rho_in_last", "rho_out_last"):
                if name in rules.variables:
                    setattr(rules, name, name.replace("_last", ""))
            teach_then_run(last_sample)
            setattr(self.ends, ends, "r_link")
            run(sp.record_ms * b2.ms)

    # --- runs ---------------------------------------------------------------------------------------
    def run(self, *args, **kwargs) -> list[np.ndarray]:
        """Not a free-running stretch: the program runs mini-batches (:meth:`delta`).

        Parameters
        ----------
        *args, **kwargs
            Ignored.

        Returns
        -------
        list of numpy.ndarray
            Never: it raises ``TypeError``.
        """
        raise TypeError("an EpisodeProgram runs mini-batches: call delta(W, b, x, d, seed)")

    def delta(self, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, d: np.ndarray,
              seed: int, state: dict[str, np.ndarray] | None = None,
              reference_sign: float | None = None) -> EpisodeResult:
        """One mini-batch: ΔW_k, Δb_{k+1} of the learner's estimator (not applied) and ŷ.

        Parameters
        ----------
        W, b : list of numpy.ndarray
            The network's weights W_k (n_k, n_{k+1}) and biases b_k (n_k,), layer 0 included.
        x, d : numpy.ndarray
            Inputs (≤ batch rows, padded with the last), shape (rows, n_0), and one-hot targets
            (same rows), shape (rows, n_out).
        seed : int
            The run's random seed.
        state : dict of str to numpy.ndarray or None
            The ``state`` of an earlier result to start from (None: the initial state).
        reference_sign : float or None
            β sign of the reference phase (default: the estimator's; ``SELF_TEST`` repeats the
            +β phase, a check of the common random numbers).

        Returns
        -------
        EpisodeResult
            ΔW_k, Δb_k (the estimator, Eq 26), ŷ of the ``rows`` examples and the end state.
        """
        from brian2 import Quantity

        sn, sp = self.sn, self.sp
        rows = len(x)
        rho_x = self.rho(pad_batch(np.asarray(x, float), sn.batch))
        target = np.tile(pad_batch(np.asarray(d, float), sn.batch), (sn.copies // sn.batch, 1))
        if self.input_mode == "poisson":
            shell_W, shell_b, bias, inputs = W, b, sn._bias_vector(b), rho_x
        else:
            shell_W = [np.zeros((1, self.sizes[1]))] + list(W[1:])
            shell_b = [np.zeros(1)] + list(b[1:])
            drive = np.tile(rho_x @ W[0], (sn.copies // sn.batch, 1))
            bias = sn.with_unit_current(sn._bias_vector(shell_b), 1, drive)
            inputs = np.zeros((sn.batch, 1))
        weights = np.concatenate([w.ravel() for w in shell_W])
        args = {syn.w: weights[widx] for syn, widx, _ in sn.conns}
        args[sn.source.rates] = sn._input_rates(inputs)
        args[self.holder.seed_value] = np.array([seed])
        units = len(self.teacher)
        args[self.teacher.base] = np.ascontiguousarray(bias[::sn.layout.n])  # (b + s0 [+ drive]) per unit, in I_unit
        args[self.teacher.target] = np.concatenate([np.zeros(self.out.start), target.ravel()])
        args[self.teacher.b_out] = np.concatenate([np.zeros(self.out.start),
                                                   np.tile(b[-1], sn.copies)])
        if reference_sign is not None:
            args[self.teacher.ref_sign] = np.full(units, float(reference_sign))
        for group, name in self.state_vars:
            if state is not None:
                args[getattr(group, name)] = Quantity(state[f"{group.name}.{name}"],
                                                      dim=group.variables[name].dim)
        self.device.run(run_args=args)
        return self._result(rho_x, rows)

    def _result(self, rho_x: np.ndarray, rows: int) -> EpisodeResult:
        sn, sp = self.sn, self.sp
        lay, trials = sn.layout, sn.copies // sn.batch
        acc = np.asarray(sn.rules.delta_w_up[:]) + np.asarray(sn.rules.delta_w_down[:])
        dW, start = [], 0
        for k in range(len(sn.sizes) - 1):
            shape = (sn.copies, sn.sizes[k], sn.sizes[k + 1])
            stop = start + int(np.prod(shape))
            dW.append(-acc[start:stop].reshape(shape).mean(axis=0) / self.divisor)
            start = stop
        diff = (np.asarray(self.ends.r_plus_) - np.asarray(self.ends.r_ref_)) / sp.r_max_hz
        end = [diff[lay.unit_offset(k):lay.unit_offset(k) + sn.copies * s].reshape(sn.copies, s)
               / self.divisor for k, s in enumerate(sn.sizes) if k > 0]
        if self.input_mode == "current":  # Eq 26 with a constant presynaptic rate ρ(x)
            dW[0] = np.tile(rho_x, (trials, 1)).T @ end[0] / sn.copies
        y = (np.asarray(self.teacher.y_mean[:]) + np.asarray(self.teacher.b_out[:]))[self.out]
        y = y.reshape(sn.copies, -1)[:sn.batch]
        time_s = (sp.settle_ms + sp.free_ms + 2 * sp.nudged_ms) * 1e-3
        state = {}
        for group, name in self.state_vars:
            value = np.asarray(getattr(group, name + "_")[:]).copy()
            state[f"{group.name}.{name}"] = value - time_s if name == "lastspike" else value
        return EpisodeResult(dW, [e.mean(axis=0) for e in end], y[:rows], state)
