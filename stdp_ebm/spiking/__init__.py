"""The Brian2 spiking model of the layered network, with the rule (Eq 26) as synapse equations.

Mapping to the rate model (Bengio et al. 2017; ``stdp_ebm.rate``):

* a rate unit i is a population of ``n`` LIF neurons (``stdp_ebm/models/lif_neuron.toml``, with noise of
  s.d. σ on v standing in for the Langevin η of Eq 2: white membrane noise, or a balanced Poisson
  background of the same mean and variance, ``stdp_ebm/models/poisson_background.toml``); its rate ρ_i is
  the population rate / r_max;
* its state s_i is the neurons' input current in units of ``I_unit`` (shifted by ``offset`` s0):
  ``I_bias = (b_i + s0)·I_unit`` and a synaptic current whose mean is ``I_unit · Σ_j W_ij ρ_j``
  (Eq 8), so I = (s_i + s0)·I_unit with s_i = b_i + Σ_j W_ij ρ_j: a spike of any neuron of unit j
  adds ``w·J`` with ``w = W_ij`` and ``J = I_unit/(n·r_max·τ_s)`` (``stdp_ebm/models/population_synapse.toml``)
  to unit i's synaptic current, both ways between adjacent layers (symmetric W, Eq 6). With
  ``transmission = "population"`` (default) that current is held once per unit
  (``stdp_ebm/models/population_current.toml``) and read by the unit's n neurons as a linked variable; with
  ``"neuron"`` every neuron of j projects to every neuron of i (n² synapses per weight, the same
  dynamics; the wiring for per-neuron weights). Index layout: :mod:`stdp_ebm.spiking.layout`;
* the measured f–I curve (``stdp_ebm.spiking.calibration``) is ρ_LIF, so the population's fixed point is the
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
  spikes gives a smooth rate ρ (``stdp_ebm/models/population_rate.toml``), and one synapse per weight
  integrates ∫ρ_in dρ_out (``up``), ∫ρ_out dρ_in (``down``) and their sum (tied, ``sym``), step by
  step with the trapezoidal pre rate so that the tied form telescopes exactly
  (``stdp_ebm/models/population_rule.toml``).

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
from typing import Any
from dataclasses import dataclass, field

import numpy as np

from ..activation import Rho
from ..energy import EQ6, Energy
from ..errors import ModelFileError
from ..network import Network
from ..rule import FORMS
from .brian2_env import Brian2Env
from .engine import SpikingNetwork
from .layout import Layout
from .params import SPIKING_SCHEMA, SpikingParams, background, load_models, neuron_overrides
from .population import population_rates, rule_on_spike_trains, rule_synapses, start_rule
from .phases import Episode, PhaseRecord, estimator_reference, teaching_force
from .randomstate import random_state, set_random_state

__all__ = ["SPIKING_SCHEMA", "Brian2Env", "Episode", "Layout", "PhaseRecord", "SpikingNetwork",
           "SpikingParams", "SpikingRun", "background", "estimator_reference", "load_models", "neuron_overrides",
           "population_rates", "random_state", "rule_on_spike_trains", "rule_synapses",
           "set_random_state", "simulate", "start_rule", "teaching_force"]


@dataclass
class SpikingRun:
    """Results of :func:`simulate`; the methods average over copies, the ``*_copies`` fields
    do not.

    A copy is one (trial, example) pair: ``copies = trials × batch``, trial-major (copy
    ``t·batch + i`` is trial t of example i). ΔW forms are ``"up"`` (the one-way Eq 26 form,
    ∫ρ_in dρ_out), ``"down"`` (∫ρ_out dρ_in) and ``"sym"`` (their sum, the tied form).

    Parameters
    ----------
    rates_free_copies : list of numpy.ndarray
        Per layer, the free-phase rate ρ (population rate / r_max, dimensionless), shape
        ``(copies, n_k)``.
    y_free_copies : numpy.ndarray
        The output state ŷ at the end of the free phase (current / I_unit), shape
        ``(copies, n_out)``.
    dW_copies : dict of str to list of numpy.ndarray
        Per form, the estimator's ΔW per W_k and copy, shape ``(copies, n_k, n_{k+1})``.
    raw_copies : dict of str to list of numpy.ndarray
        Per form, acc(+β)/β per W_k and copy (the rule's own integral without the control run).
    times_ms : numpy.ndarray
        Sample times of the nudged-phase trajectories in ms from the nudge onset, shape ``(T,)``.
    drho_copies : list of numpy.ndarray
        Per layer, (ρ(+β) − ρ(ref))/(scale·β), shape ``(T, copies, n_k)``.
    batch : int
        The number of examples.
    cost : dict
        What the run cost: ``wall_s``, ``build_s`` (s), ``simulated_ms``, ``neurons``,
        ``synapses``, ``spikes``, ``synaptic_events``, ``neuron_ms``, ``transmission``,
        ``noise_source``, ``codegen``.
    checkpoints : dict of float to dict
        Time in ms into the nudged phase → ``dW_copies`` at that time.
    """

    rates_free_copies: list[np.ndarray]  # per layer, ρ (population rate / r_max), (copies, n_k)
    y_free_copies: np.ndarray  # output state ŷ (current / I_unit), (copies, n_out)
    dW_copies: dict[str, list[np.ndarray]]  # estimator ΔW per copy, (copies, n_k, n_{k+1})
    raw_copies: dict[str, list[np.ndarray]]  # acc(+β)/β per copy
    times_ms: np.ndarray  # sample times of the nudged-phase trajectories (from the nudge onset)
    drho_copies: list[np.ndarray]  # per layer, (ρ(+β) − ρ(ref))/(scale·β), (T, copies, n_k)
    batch: int
    cost: dict[str, Any] = field(default_factory=dict)
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
        """ΔW per W_k averaged over the batch and the first ``trials`` noise repeats.

        At the end of the nudged phase, or at ``checkpoint`` ms into it.

        Parameters
        ----------
        form : str
            ``"sym"`` (tied, symmetrised), ``"up"`` (the one-way Eq 26 form) or ``"down"``.
        trials : int, optional
            Average the first ``trials`` noise repeats only; all if None.
        raw : bool
            The rule's own integral acc(+β)/β, without the control run.
        checkpoint : float, optional
            A time in ms into the nudged phase given to :func:`simulate` as a checkpoint.

        Returns
        -------
        list of numpy.ndarray
            ΔW_k per unit β, shape ``(n_k, n_{k+1})``, comparable with −∂C/∂W_k.
        """
        src = (self.raw_copies if raw else self.checkpoints[checkpoint] if checkpoint is not None
               else self.dW_copies)[form]
        return [self._mean(a, trials).mean(axis=0) for a in src]

    def trial_sd(self, form: str = "sym") -> list[np.ndarray]:
        """Standard deviation over noise trials of the batch-averaged ΔW, per W_k.

        Parameters
        ----------
        form : str
            ``"sym"``, ``"up"`` or ``"down"`` (as in :meth:`delta_w`).

        Returns
        -------
        list of numpy.ndarray
            Per W_k, shape ``(n_k, n_{k+1})`` (sample s.d., ddof = 1: needs ≥ 2 trials; NaN
            with one).
        """
        return [a.reshape(-1, self.batch, *a.shape[1:]).mean(axis=1).std(axis=0, ddof=1)
                for a in self.dW_copies[form]]

    def rates_free(self, trials: int | None = None) -> list[np.ndarray]:
        """Free-phase population rates ρ per layer, averaged over trials.

        Parameters
        ----------
        trials : int, optional
            Average the first ``trials`` noise repeats only; all if None.

        Returns
        -------
        list of numpy.ndarray
            Per layer, ρ (population rate / r_max, dimensionless), shape ``(batch, n_k)``.
        """
        return [self._mean(r, trials) for r in self.rates_free_copies]

    def example_drho(self, example: int, trials: int | None = None) -> list[np.ndarray]:
        """Nudged-phase Δρ/β trajectories of one example per layer, trial-averaged.

        Parameters
        ----------
        example : int
            Index of the example in the batch.
        trials : int, optional
            Average the first ``trials`` noise repeats only; all if None.

        Returns
        -------
        list of numpy.ndarray
            Per layer, shape ``(T, n_k)``, sampled at :attr:`times_ms`.
        """
        return [self._mean(d, trials, axis=1)[:, example] for d in self.drho_copies]


def simulate(net: Network, rho: Rho, sp: SpikingParams, seed: int, models: dict | None = None,
             checkpoints_ms: list[float] | None = None, energy: Energy = EQ6) -> SpikingRun:
    """Free phase, then the nudged phases with common random numbers (see the module docstring).

    Parameters
    ----------
    net : Network
        The layered network with its examples ``x`` ``(batch, n_0)`` and ``target``
        ``(batch, n_out)``.
    rho : Rho
        The calibrated activation ρ_LIF (:meth:`stdp_ebm.spiking.calibration.FICurve.tabulate`).
    sp : SpikingParams
        The ``[spiking]`` section: populations, noise, nudge β, phase lengths (ms), estimator,
        Brian2 target.
    seed : int
        Brian2's seed (noise, Poisson inputs).
    models : dict, optional
        The Brian2 model files (:func:`load_models`); those ``sp.synapse`` names if None.
    checkpoints_ms : list of float, optional
        Times into the nudged phase in ms (≤ ``nudged_ms``) at which the rule's ΔW is also read
        (:meth:`SpikingRun.delta_w` with ``checkpoint``).
    energy : Energy
        That of the calibrated rate model, which sets the teaching current
        (:func:`teaching_force`).

    Returns
    -------
    SpikingRun
        Rates, ΔW of every form and estimator per copy, trajectories and cost.

    Raises
    ------
    ModelFileError
        Model files whose units or names do not fit together.
    """
    from brian2.units.fundamentalunits import DimensionMismatchError

    stops = sorted({min(c, sp.nudged_ms) for c in checkpoints_ms or []} | {sp.nudged_ms})
    t0 = time.perf_counter()
    models = models or load_models(sp.synapse)
    try:
        sn = SpikingNetwork(net, rho, sp, models, seed)
        t_build = time.perf_counter() - t0
        target = np.tile(net.examples()[1], (sp.trials, 1))
        ep = sn.episode(lambda y: teaching_force(energy, rho, y, target), stops)
    except (DimensionMismatchError, KeyError) as exc:
        raise ModelFileError(f"spiking network: the model files do not fit together: {exc}") \
            from None
    wall = time.perf_counter() - t0
    plus, ref, denom = ep.plus, ep.reference, ep.divisor
    dW = [{f: [(p - r) / denom for p, r in zip(pa[f], ra[f])] for f in FORMS}
          for pa, ra in zip(plus.acc, ref.acc)]
    raw = {f: [p / sp.beta for p in plus.acc[-1][f]] for f in FORMS}
    drho = [(p - r) / denom for p, r in zip(plus.rho, ref.rho)]
    times = np.arange(plus.rho[0].shape[0]) * sp.record_ms
    sim_ms = sp.settle_ms + sp.free_ms + 2 * sp.nudged_ms
    cost = {"wall_s": wall, "build_s": t_build, "simulated_ms": sim_ms,
            "neurons": len(sn.neurons) + len(sn.source),
            "synapses": int(sum(len(s) for s, _, _ in sn.conns)),
            "transmission": sn.layout.transmission, "noise_source": sp.noise_source,
            "neuron_ms": float(len(sn.neurons) * sim_ms),
            "spikes": float(sn.spikes), "synaptic_events": float(sn.events),
            "codegen": sn.env.target}
    return SpikingRun(ep.rates, ep.y, dW[-1], raw, times, drho, len(net.examples()[0]), cost,
                      dict(zip(stops, dW)))
