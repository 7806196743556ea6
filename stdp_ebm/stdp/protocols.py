"""STDP protocols, vectorised: N independent pre/post pairs simulated in ONE Brian2 run.

A :class:`Schedule` lists, for each pair k, the presynaptic spike times and the wanted postsynaptic
spike times. :func:`run_schedule` turns it into one network:

* ``pre``  — a ``SpikeGeneratorGroup`` (N): the presynaptic spikes;
* ``post`` — N LIF neurons (``stdp_ebm/models/lif_neuron.toml``); each wanted post spike is evoked the way
  the experiments did it, by a brief depolarising current pulse (``I_pulse`` for ``pulse_ms``),
  started :func:`evoke_latency` before the wanted time, so the voltage rises before the spike;
* ``trigger`` — a ``SpikeGeneratorGroup`` (N) whose spikes open the pulse (``pulse_end = t + d``);
* ``rule`` — the plastic synapse from pre k to post k (one-to-one), any synapse model file that
  names its ``weight_change`` variable (``stdp_ebm/models/rule_synapse.toml``: Eq 26, one-directional and
  tied forms; ``stdp_ebm/models/pair_stdp.toml``; ``stdp_ebm/models/triplet_stdp.toml``): it delivers the EPSP and
  accumulates ΔW online.

The protocols that make schedules (:func:`pairing`, :func:`poisson`, :func:`concat`) are in
:mod:`stdp_ebm.stdp.schedules`, importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelFileError
from ..models import Model, load_model
from ..spiking.brian2_env import Brian2Env
from ..progress import run_brian2
from .schedules import Schedule, concat, pairing, poisson  # noqa: F401

# Schedule, pairing, poisson and concat are defined in :mod:`stdp_ebm.stdp.schedules`
__all__ = ["PairingResult", "run_schedule", "measured_delta_t", "pairing_offsets", "evoke_latency",
           "plastic_synapse", "switch_params"]


# ------------------------------------------------------------------------------- Brian2 network

def evoke_latency(params: dict[str, Any], pulse_ms: float) -> float:
    """Time from pulse onset to threshold for a LIF neuron at rest driven by I_pulse.

    v(t) = E_L + R_m I (1 − e^(−t/τ_m)) reaches v_th at t* = τ_m ln(R I / (R I − (v_th − E_L))).
    The pulse must evoke exactly one spike: t* < pulse and the refractory period outlasts it.

    Parameters
    ----------
    params : dict
        The neuron's namespace (Brian2 quantities): ``R_m``, ``I_pulse``, ``v_th``, ``E_L``,
        ``tau_m``, ``tau_ref``.
    pulse_ms : float
        The pulse's duration (ms).

    Returns
    -------
    float
        The latency t* (s).

    Raises
    ------
    ConfigError
        If the pulse does not reach threshold, or would evoke a second spike.
    """
    drive = float(params["R_m"] * params["I_pulse"])
    gap = float(params["v_th"] - params["E_L"])
    tau_m = float(params["tau_m"])
    pulse = pulse_ms * 1e-3
    if drive <= gap or -tau_m * math.log(1 - gap / drive) >= pulse:
        raise ConfigError(f"a {pulse_ms} ms pulse of {params['I_pulse']} does not bring the neuron "
                          f"to threshold; use a longer or stronger pulse")
    latency = tau_m * math.log(drive / (drive - gap))
    if latency + float(params["tau_ref"]) <= pulse:
        raise ConfigError(f"a {pulse_ms} ms pulse outlasts the refractory period after the "
                          f"evoked spike and would evoke a second one; use a shorter pulse")
    return latency


@dataclass
class PairingResult:
    """ΔW per pair and the spikes that produced it.

    Parameters
    ----------
    delta_w : numpy.ndarray
        ΔW per pair, the model's ``weight_change`` variable, shape ``(n,)``.
    delta_w_tied : numpy.ndarray or None
        The tied form of Eq 26 per pair, for a model that has it; else None.
    pre_i : numpy.ndarray
        Pair index of each recorded presynaptic spike.
    pre_t : numpy.ndarray
        Time of each recorded presynaptic spike (s).
    post_i : numpy.ndarray
        Pair index of each recorded postsynaptic spike.
    post_t : numpy.ndarray
        Time of each recorded postsynaptic spike (s).
    target : str
        The Brian2 code-generation target the run used (``"cython"`` or ``"numpy"``).
    """

    delta_w: np.ndarray
    delta_w_tied: np.ndarray | None
    pre_i: np.ndarray
    pre_t: np.ndarray
    post_i: np.ndarray
    post_t: np.ndarray
    target: str


def run_schedule(schedule: Schedule, seed: int, *, noise_mV: float = 0.0, learn: bool = False,
             tied: bool = False, dt_ms: float = 0.1, pulse_ms: float = 2.0,
             neuron: str | Model = "lif_neuron", synapse: str | Model = "rule_synapse",
             synapse_params: dict[str, Any] | None = None) -> PairingResult:
    """Run ``schedule`` as one Brian2 network (module docstring) and return ΔW per pair.

    The caller's Brian2 settings (target, clock, seed) are restored afterwards.

    Parameters
    ----------
    schedule : Schedule
        The pairs to simulate.
    seed : int
        Brian2's seed (membrane noise).
    noise_mV : float
        s.d. ``sigma`` of the membrane noise (mV).
    learn : bool
        Online learning: the EPSP weight follows ΔW (only for a model with a ``learn`` parameter).
    tied : bool
        Use the tied form for it (only for a model with a ``tied`` parameter).
    dt_ms : float
        Simulation time step (ms).
    pulse_ms : float
        Duration of the current pulse that evokes each post spike (ms).
    neuron : str or Model
        The neuron model file (name, path or loaded model).
    synapse : str or Model
        The plastic synapse model file; it must name its ``weight_change`` variable.
    synapse_params : dict or None
        Overrides of the synapse's parameters (Brian2 quantities, units checked).

    Returns
    -------
    PairingResult
        ΔW per pair and the recorded spikes.

    Raises
    ------
    ConfigError
        If the pulse cannot evoke the post spikes as scheduled, or a switch is missing.
    ModelFileError
        If a model file is invalid or the synapse is not a plasticity rule.
    """
    neuron_m = neuron if isinstance(neuron, Model) else load_model(neuron)
    syn_m = plastic_synapse(synapse)
    env = Brian2Env("cython", dt_ms, seed)  # the caller's Brian2 settings are restored
    with env.active():
        return _run_schedule(schedule, env.target, noise_mV, learn, tied, dt_ms, pulse_ms, neuron_m,
                         syn_m, synapse_params)


def _run_schedule(schedule: Schedule, target: str, noise_mV: float, learn: bool, tied: bool,
              dt_ms: float, pulse_ms: float, neuron_m: Model, syn_m: Model,
              synapse_params: dict[str, Any] | None) -> PairingResult:
    import brian2 as b2

    switches = switch_params(syn_m, learn=learn, tied=tied)
    neuron_kw = neuron_m.group_kwargs(sigma=noise_mV * b2.mV)
    dt = dt_ms * b2.ms
    latency = evoke_latency(neuron_kw["namespace"], pulse_ms)
    onset = np.round((schedule.post_t - latency) / (dt_ms * 1e-3)) * dt_ms * 1e-3
    if np.any(onset < 0):
        raise ConfigError("a postsynaptic spike is scheduled before the pulse can evoke it")

    pre = b2.SpikeGeneratorGroup(schedule.n, schedule.pre_i, schedule.pre_t * b2.second, dt=dt,
                                 name="pre")
    trigger = b2.SpikeGeneratorGroup(schedule.n, schedule.post_i, onset * b2.second, dt=dt,
                                     name="trigger")
    post = b2.NeuronGroup(schedule.n, dt=dt, name="post", **neuron_kw)
    neuron_m.initialise(post)
    kick = b2.Synapses(trigger, post, on_pre="pulse_end_post = t + pulse_duration", dt=dt,
                       namespace={"pulse_duration": pulse_ms * b2.ms}, name="kick")
    pairs = np.arange(schedule.n)
    kick.connect(i=pairs, j=pairs)  # arrays, not j="i": no code object to compile
    rule = b2.Synapses(pre, post, dt=dt, name="rule",
                       **syn_m.group_kwargs(**switches, **(synapse_params or {})))
    rule.connect(i=pairs, j=pairs)
    syn_m.initialise(rule)
    pre_mon, post_mon = b2.SpikeMonitor(pre, name="pre_spikes"), b2.SpikeMonitor(post,
                                                                                   name="post_spikes")
    net = b2.Network(pre, trigger, post, kick, rule, pre_mon, post_mon)
    run_brian2(net, schedule.duration * b2.second, namespace={})
    tied_w = np.array(rule.delta_w_tied[:]) if "delta_w_tied" in rule.variables else None
    assert syn_m.weight_change is not None  # checked by plastic_synapse
    dw = np.array(getattr(rule, syn_m.weight_change)[:])
    return PairingResult(delta_w=dw, delta_w_tied=tied_w,
                         pre_i=np.array(pre_mon.i[:]), pre_t=np.array(pre_mon.t / b2.second),
                         post_i=np.array(post_mon.i[:]), post_t=np.array(post_mon.t / b2.second),
                         target=target)


def plastic_synapse(synapse: str | Model) -> Model:
    """The synapse model file of a plasticity rule; it must name its ``weight_change`` variable.

    Parameters
    ----------
    synapse : str or Model
        A model name, path or loaded model.

    Returns
    -------
    Model
        The loaded synapse model.

    Raises
    ------
    ModelFileError
        If it is not a synapse or names no ``weight_change``.
    """
    model = synapse if isinstance(synapse, Model) else load_model(synapse)
    if model.kind != "synapse" or not model.weight_change:
        raise ModelFileError(f"{model.path}: a plasticity rule for the STDP protocols must be a "
                             f"synapse model naming its weight_change variable "
                             f"(e.g. weight_change = \"delta_w\")")
    return model


def switch_params(model: Model, *, learn: bool, tied: bool) -> dict[str, float]:
    """``learn``/``tied`` as parameter overrides of ``model``.

    Parameters
    ----------
    model : Model
        The synapse model.
    learn : bool
        Whether online learning is on.
    tied : bool
        Whether the tied form is used.

    Returns
    -------
    dict of str to float
        1.0 or 0.0 for each of ``learn``/``tied`` that the model has.

    Raises
    ------
    ConfigError
        If a switch asked for is not a parameter of the model (before anything is compiled).
    """
    out = {}
    for name, on in (("learn", learn), ("tied", tied)):
        if name in model.params:
            out[name] = float(on)
        elif on:
            raise ConfigError(f"{model.path}: [spiking] {name} = true needs a '{name}' parameter "
                              f"in the synapse model")
    return out


def measured_delta_t(result: PairingResult, n: int) -> np.ndarray:
    """Per pair, the mean over its pre spikes of (nearest post spike − pre spike).

    Parameters
    ----------
    result : PairingResult
        A :func:`run_schedule` result.
    n : int
        The number of pairs of its schedule.

    Returns
    -------
    numpy.ndarray
        Measured Δt per pair (ms), shape ``(n,)``; NaN for a pair without spikes.
    """
    return np.array([float(np.mean(d)) if d.size else np.nan for d in pairing_offsets(result, n)])


def pairing_offsets(result: PairingResult, n: int) -> list[np.ndarray]:
    """Per pair, for each of its pre spikes the nearest post spike − pre spike.

    Their spread within a condition is the spike-time jitter.

    Parameters
    ----------
    result : PairingResult
        A :func:`run_schedule` result.
    n : int
        The number of pairs of its schedule.

    Returns
    -------
    list of numpy.ndarray
        Offsets (ms) per pair, one per pre spike; empty for a pair without pre or post spikes.
    """
    out = []
    pre, post = _by_pair(result.pre_i, result.pre_t, n), _by_pair(result.post_i, result.post_t, n)
    for k in range(n):
        if pre[k].size and post[k].size:
            diff = post[k][None, :] - pre[k][:, None]
            out.append(1e3 * diff[np.arange(pre[k].size), np.argmin(np.abs(diff), axis=1)])
        else:
            out.append(np.empty(0))
    return out


def _by_pair(idx: np.ndarray, t: np.ndarray, n: int) -> list[np.ndarray]:
    """Spike times split by pair index (one sort instead of n boolean masks)."""
    order = np.argsort(idx, kind="stable")
    return np.split(np.asarray(t)[order], np.searchsorted(np.asarray(idx)[order], np.arange(1, n)))
