"""Rate model vs Brian2 spiking model of one network: fixed points, nudged trajectories, rule ΔW.

The LIF neuron's f–I curve under its noise is measured and tabulated as ρ_LIF
(:mod:`stdp_ebm.spiking.calibration`); the rate model runs with that ρ and the energy of ``[dynamics]`` (the
"calibrated rate model"; the shipped config uses Hopfield's energy, whose fixed point
s = b + Wρ_LIF(s) is the populations' own, :mod:`stdp_ebm.energy`). Then:

(a) free-phase fixed points: spiking population rates vs ρ_LIF(ŝ) of the calibrated rate model;
(b) nudged phase: per layer, (ρ^{+β}(t) − ρ^{ref}(t)) / (scale·β) of the spiking run (common random
    numbers, :mod:`stdp_ebm.spiking`) vs the same difference in the rate model, time = steps·ε·τ;
(c) ΔW of the Brian2 rule (Eq 26, ``sym`` = tied and ``up`` = one-way) vs the rate rule
    (:class:`stdp_ebm.rule.RuleAccumulator` on the calibrated rate model, same β and estimator) and
    vs the implicit gradient −∂C/∂W of the calibrated rate model, over the population size n and the
    number of averaged noise trials (one Brian2 run per n with the largest trial count; fewer trials
    are the first copies of that run).

data.npz: ``calib_s``, ``calib_rate_hz``, ``calib_sem_hz``; ``free_spk_L{k}``/``free_rate_L{k}``
(batch, n_k) population rates ρ and ρ_LIF(ŝ); ``traj_spk_time_ms``, ``traj_spk_L{k}`` (T, n_k),
``traj_rate_time_ms``, ``traj_rate_L{k}`` (T, n_k) for example 0; ``dW_spk_{sym,up}_W{k}`` at the
default n and trials, ``dW_rate_W{k}``, ``ref_implicit_W{k}``; ``populations``, ``trials``,
``metrics``, ``layers`` and ``sweep_{sym,up}_vs_{implicit,rate}`` of shape
(n_populations, n_trials, n_W + 1, n_metrics) (last layer row: all weights together);
``sweep_wall_s``;
``sweep_noise_nrmse`` (n_populations, n_trials, n_W + 1): the statistical part of the error,
‖s.d. over trials / √t‖ / ‖−∂C/∂W‖ (present when more than one trial is run);
``sweep_sym_vs_{implicit,rate}_ci`` (n_populations, n_trials, n_W + 1, 2, 3): cos and NRMSE of
the tied ΔW with their 95 % jackknife intervals over the t trials, (estimate, low, high), NaN for
t < 3 (:func:`stdp_ebm.analysis.trial_interval`: the cosine and the NRMSE of a t-trial mean, the
noise entering by its expected power); ``noise_free_cos_vs_implicit`` (n_populations, n_W + 1, 3):
cos(E ΔW, −∂C/∂W) with the trial noise removed, over all trials, with its interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis import METRICS, layer_alignment, layer_intervals, trial_means
from ..spiking.calibration import CALIBRATION_SCHEMA
from ..config import Key
from ..network import NETWORK_SCHEMA
from ..rate import DYNAMICS_SCHEMA, RateModel
from ..references import implicit_neg_grad
from ..rule import RuleAccumulator
from ..spiking import SPIKING_SCHEMA, SpikingParams, estimator_reference, simulate
from ..progress import iterate
from . import Experiment, Result, RunContext
from ._common import calibrated_setup
from .rate_vs_spike_figures import figures

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

FORMS = ("sym", "up")
REFS = ("implicit", "rate")

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,
    "calibration": CALIBRATION_SCHEMA,
    "rate_vs_spike": {
        "populations": Key("ints", [5, 10, 20], "neurons per unit n of the sweep", low=1),
        "trials": Key("ints", [1, 2, 4], "numbers of averaged noise trials of the sweep", low=1),
        "traj_units": Key("int", 3, "units per layer drawn in the trajectory figure", low=1),
    },
}


def _rate_rule(model: RateModel, s_free, target, sp: SpikingParams, d: dict) -> list[np.ndarray]:
    """Rate rule ΔW (tied, Eq 26) with the spiking run's β and estimator."""
    sign, scale = estimator_reference(sp.estimator)
    accs = []
    for b in (sp.beta, sign * sp.beta):
        acc = RuleAccumulator(model.rho, model.net.sizes)
        if b != 0.0:
            model.nudged_phase(s_free, target, b, tol=d["tol"], max_steps=d["max_steps"],
                               on_step=acc)
        accs.append(acc.acc["sym"])
    return [(p - r) / (scale * sp.beta) for p, r in zip(*accs)]


def _rate_trajectory(model: RateModel, s_free, target, sp: SpikingParams, tau_ms: float) -> tuple:
    """(ρ^{+β}(t) − ρ^{ref}(t)) / (scale·β) of example 0 over the nudged phase, and the times."""
    sign, scale = estimator_reference(sp.estimator)
    dt = model.epsilon * tau_ms
    steps = max(1, int(round(sp.nudged_ms / dt)))
    s0 = [s[:1] for s in s_free]
    runs = [model.relax(s0, b, target[:1], steps=steps, record=True).trajectory
            for b in (sp.beta, sign * sp.beta)]
    diff = [(model.rho(p) - model.rho(r))[:, 0] / (scale * sp.beta) for p, r in zip(*runs)]
    return np.arange(steps + 1) * dt, diff


def _sweep_table(run, t: int, refs: dict, form: str, ref: str) -> np.ndarray:
    al: dict[str, Any] = layer_alignment(run.delta_w(form, trials=t), refs[ref])
    return np.vstack([np.array([al[m] for m in METRICS]).T, [al["overall"][m] for m in METRICS]])


def _noise_nrmse(run, t: int, ref: list[np.ndarray]) -> np.ndarray:
    """Statistical error of the tied ΔW averaged over t trials, ‖sd/√t‖ / ‖ref‖, per W_k and all."""
    sd = run.trial_sd("sym")
    per = [np.linalg.norm(s) / np.sqrt(t) / np.linalg.norm(r) for s, r in zip(sd, ref)]
    total = np.sqrt(sum(np.sum(s**2) for s in sd) / t) / np.sqrt(sum(np.sum(r**2) for r in ref))
    return np.array(per + [total])


def run(cfg: dict, ctx: RunContext) -> Result:
    sp, d, rv = SpikingParams.of(cfg), cfg["dynamics"], cfg["rate_vs_spike"]
    net, models, fi, model, free = calibrated_setup(cfg, ctx)
    rho = model.rho
    refs = {"implicit": implicit_neg_grad(net, rho, free.s, net.target, model.projected,
                                          model.energy_form),
            "rate": _rate_rule(model, free.s, net.target, sp, d)}
    pops = sorted(set(rv["populations"]) | {sp.neurons_per_unit})
    trials = sorted(set(rv["trials"]) | {sp.trials})
    runs = {}
    for n in iterate(pops, "spiking runs"):
        runs[n] = simulate(net, rho, sp.replace(neurons_per_unit=n, trials=trials[-1]),
                           ctx.seeds.int("brian2"), models, energy=model.energy_form)
    main = runs[sp.neurons_per_unit]
    data = {"calib_s": fi.s, "calib_rate_hz": fi.rate_hz, "calib_sem_hz": fi.sem_hz,
            "populations": np.array(pops), "trials": np.array(trials), "metrics": np.array(METRICS),
            "layers": np.array([f"W_{k}" for k in range(len(net.W))] + ["all"]),
            "sweep_wall_s": np.array([runs[n].cost["wall_s"] for n in pops])}
    spk_rates = main.rates_free(sp.trials)
    for k in range(1, len(net.sizes)):
        data[f"free_spk_L{k}"] = spk_rates[k]
        data[f"free_rate_L{k}"] = rho(free.s[k])
    t_rate, traj_rate = _rate_trajectory(model, free.s, net.target, sp, sp.rate_tau_ms)
    data["traj_rate_time_ms"], data["traj_spk_time_ms"] = t_rate, main.times_ms
    traj_spk = main.example_drho(0, sp.trials)
    for k in range(1, len(net.sizes)):
        data[f"traj_rate_L{k}"], data[f"traj_spk_L{k}"] = traj_rate[k], traj_spk[k]
    for k in range(len(net.W)):
        data[f"ref_implicit_W{k}"], data[f"dW_rate_W{k}"] = refs["implicit"][k], refs["rate"][k]
        for f in FORMS:
            data[f"dW_spk_{f}_W{k}"] = main.delta_w(f, sp.trials)[k]
    for f in FORMS:
        for r in REFS:
            data[f"sweep_{f}_vs_{r}"] = np.array([[_sweep_table(runs[n], t, refs, f, r)
                                                   for t in trials] for n in pops])
    per_trial = {n: trial_means(runs[n].dW_copies["sym"], runs[n].batch) for n in pops}
    for r in REFS:
        data[f"sweep_sym_vs_{r}_ci"] = np.array([[layer_intervals([w[:t] for w in per_trial[n]],
                                                                  refs[r]) for t in trials]
                                                 for n in pops])
    data["noise_free_cos_vs_implicit"] = np.array([layer_intervals(per_trial[n], refs["implicit"],
                                                                   np.inf)[:, 0] for n in pops])
    if trials[-1] > 1:
        data["sweep_noise_nrmse"] = np.array([[_noise_nrmse(runs[n], t, refs["implicit"])
                                               for t in trials] for n in pops])
    return Result(data, _summary(data, main, sp, net.sizes))


def _summary(data: dict, main, sp: SpikingParams, sizes: list[int]) -> dict:
    spk = np.concatenate([data[f"free_spk_L{k}"].ravel() for k in range(1, len(sizes))])
    rate = np.concatenate([data[f"free_rate_L{k}"].ravel() for k in range(1, len(sizes))])
    pops, trials = list(data["populations"]), list(data["trials"])
    at = (pops.index(sp.neurons_per_unit), trials.index(sp.trials))
    metrics = list(data["metrics"])
    headline = {f"{f}_vs_{r}": {m: data[f"sweep_{f}_vs_{r}"][at][:, metrics.index(m)].tolist()
                                for m in METRICS} for f in FORMS for r in REFS}
    return {
        "sizes": sizes,
        "fixed_point_corr": float(np.corrcoef(spk, rate)[0, 1]),
        "fixed_point_corr_per_layer": [float(np.corrcoef(data[f"free_spk_L{k}"].ravel(),
                                                         data[f"free_rate_L{k}"].ravel())[0, 1])
                                       for k in range(1, len(sizes))],
        "default": {"neurons_per_unit": sp.neurons_per_unit, "trials": sp.trials,
                    "beta": sp.beta, "estimator": sp.estimator,
                    "min_cos_sym_vs_implicit": min(headline["sym_vs_implicit"]["cos"][:-1]),
                    "alignment": headline, "cost": main.cost},
        "sweep_wall_s": data["sweep_wall_s"].tolist(),
        "intervals": _interval_summary(data),
    }


def _interval_summary(data: dict) -> dict:
    """Per population size, at the most trials: cos and NRMSE of all weights (tied rule vs the
    implicit gradient) with 95 % jackknife intervals over the trials, and the noise-free cos."""
    t = int(data["trials"][-1])
    ci = data["sweep_sym_vs_implicit_ci"][:, -1, -1]  # (pops, metric, est/low/high), all weights
    return {"trials": t, "level": 0.95,
            "method": "jackknife t-interval over noise trials (needs >= 3)",
            "by_population": [{"neurons_per_unit": int(n), "N": int(n) * t,
                               "cos_vs_implicit": ci[p, 0].tolist(),
                               "nrmse_vs_implicit": ci[p, 1].tolist(),
                               "noise_free_cos_vs_implicit":
                                   data["noise_free_cos_vs_implicit"][p, -1].tolist()}
                              for p, n in enumerate(data["populations"])]}


#: the ``rate_vs_spike`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="rate_vs_spike",
    doc="Brian2 spiking vs calibrated rate model: fixed points, nudged trajectories, rule ΔW vs n.",
    schema=SCHEMA, run=run, figures=figures,
)
