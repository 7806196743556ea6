"""Rate model vs Brian2 spiking model of one network: fixed points, nudged trajectories, rule ΔW.

The LIF neuron's f–I curve under its noise is measured and tabulated as ρ_LIF
(:mod:`stdp_ebm.calibration`); the rate model runs with that ρ and the energy of ``[dynamics]`` (the
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
‖s.d. over trials / √t‖ / ‖−∂C/∂W‖ (present when more than one trial is run).
"""

from __future__ import annotations

import numpy as np

from ..analysis import METRICS, layer_alignment
from ..calibration import CALIBRATION_SCHEMA
from ..config import Key
from ..network import NETWORK_SCHEMA
from ..plotting import figure, layer_colors, layer_name, legend_below, panel_label
from ..rate import DYNAMICS_SCHEMA, RateModel
from ..references import implicit_neg_grad
from ..rule import RuleAccumulator
from ..spiking import SPIKING_SCHEMA, estimator_reference, simulate
from ..progress import iterate
from . import Experiment, Result, RunContext
from ._common import calibrated_setup

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


def _rate_rule(model: RateModel, s_free, target, sp: dict, d: dict) -> list[np.ndarray]:
    """Rate rule ΔW (tied, Eq 26) with the spiking run's β and estimator."""
    sign, scale = estimator_reference(sp["estimator"])
    accs = []
    for b in (sp["beta"], sign * sp["beta"]):
        acc = RuleAccumulator(model.rho, model.net.sizes)
        if b != 0.0:
            model.nudged_phase(s_free, target, b, tol=d["tol"], max_steps=d["max_steps"],
                               on_step=acc)
        accs.append(acc.acc["sym"])
    return [(p - r) / (scale * sp["beta"]) for p, r in zip(*accs)]


def _rate_trajectory(model: RateModel, s_free, target, sp: dict, tau_ms: float) -> tuple:
    """(ρ^{+β}(t) − ρ^{ref}(t)) / (scale·β) of example 0 over the nudged phase, and the times."""
    sign, scale = estimator_reference(sp["estimator"])
    dt = model.epsilon * tau_ms
    steps = max(1, int(round(sp["nudged_ms"] / dt)))
    s0 = [s[:1] for s in s_free]
    runs = [model.relax(s0, b, target[:1], steps=steps, record=True).trajectory
            for b in (sp["beta"], sign * sp["beta"])]
    diff = [(model.rho(p) - model.rho(r))[:, 0] / (scale * sp["beta"]) for p, r in zip(*runs)]
    return np.arange(steps + 1) * dt, diff


def _sweep_table(run, t: int, refs: dict, form: str, ref: str) -> np.ndarray:
    al = layer_alignment(run.delta_w(form, trials=t), refs[ref])
    return np.vstack([np.array([al[m] for m in METRICS]).T, [al["overall"][m] for m in METRICS]])


def _noise_nrmse(run, t: int, ref: list[np.ndarray]) -> np.ndarray:
    """Statistical error of the tied ΔW averaged over t trials, ‖sd/√t‖ / ‖ref‖, per W_k and all."""
    sd = run.trial_sd("sym")
    per = [np.linalg.norm(s) / np.sqrt(t) / np.linalg.norm(r) for s, r in zip(sd, ref)]
    total = np.sqrt(sum(np.sum(s**2) for s in sd) / t) / np.sqrt(sum(np.sum(r**2) for r in ref))
    return np.array(per + [total])


def run(cfg: dict, ctx: RunContext) -> Result:
    sp, d, rv = cfg["spiking"], cfg["dynamics"], cfg["rate_vs_spike"]
    net, models, fi, model, free = calibrated_setup(cfg, ctx)
    rho = model.rho
    refs = {"implicit": implicit_neg_grad(net, rho, free.s, net.target, model.projected,
                                          model.energy_form),
            "rate": _rate_rule(model, free.s, net.target, sp, d)}
    pops = sorted(set(rv["populations"]) | {sp["neurons_per_unit"]})
    trials = sorted(set(rv["trials"]) | {sp["trials"]})
    runs = {}
    for n in iterate(pops, "spiking runs"):
        runs[n] = simulate(net, rho, {**sp, "neurons_per_unit": n, "trials": trials[-1]},
                           ctx.seeds.int("brian2"), models, energy=model.energy_form)
    main = runs[sp["neurons_per_unit"]]
    data = {"calib_s": fi.s, "calib_rate_hz": fi.rate_hz, "calib_sem_hz": fi.sem_hz,
            "populations": np.array(pops), "trials": np.array(trials), "metrics": np.array(METRICS),
            "layers": np.array([f"W_{k}" for k in range(len(net.W))] + ["all"]),
            "sweep_wall_s": np.array([runs[n].cost["wall_s"] for n in pops])}
    spk_rates = main.rates_free(sp["trials"])
    for k in range(1, len(net.sizes)):
        data[f"free_spk_L{k}"] = spk_rates[k]
        data[f"free_rate_L{k}"] = rho(free.s[k])
    t_rate, traj_rate = _rate_trajectory(model, free.s, net.target, sp, sp["rate_tau_ms"])
    data["traj_rate_time_ms"], data["traj_spk_time_ms"] = t_rate, main.times_ms
    traj_spk = main.example_drho(0, sp["trials"])
    for k in range(1, len(net.sizes)):
        data[f"traj_rate_L{k}"], data[f"traj_spk_L{k}"] = traj_rate[k], traj_spk[k]
    for k in range(len(net.W)):
        data[f"ref_implicit_W{k}"], data[f"dW_rate_W{k}"] = refs["implicit"][k], refs["rate"][k]
        for f in FORMS:
            data[f"dW_spk_{f}_W{k}"] = main.delta_w(f, sp["trials"])[k]
    for f in FORMS:
        for r in REFS:
            data[f"sweep_{f}_vs_{r}"] = np.array([[_sweep_table(runs[n], t, refs, f, r)
                                                   for t in trials] for n in pops])
    if trials[-1] > 1:
        data["sweep_noise_nrmse"] = np.array([[_noise_nrmse(runs[n], t, refs["implicit"])
                                               for t in trials] for n in pops])
    return Result(data, _summary(data, main, sp, net.sizes))


def _summary(data: dict, main, sp: dict, sizes: list[int]) -> dict:
    spk = np.concatenate([data[f"free_spk_L{k}"].ravel() for k in range(1, len(sizes))])
    rate = np.concatenate([data[f"free_rate_L{k}"].ravel() for k in range(1, len(sizes))])
    pops, trials = list(data["populations"]), list(data["trials"])
    at = (pops.index(sp["neurons_per_unit"]), trials.index(sp["trials"]))
    metrics = list(data["metrics"])
    headline = {f"{f}_vs_{r}": {m: data[f"sweep_{f}_vs_{r}"][at][:, metrics.index(m)].tolist()
                                for m in METRICS} for f in FORMS for r in REFS}
    return {
        "sizes": sizes,
        "fixed_point_corr": float(np.corrcoef(spk, rate)[0, 1]),
        "fixed_point_corr_per_layer": [float(np.corrcoef(data[f"free_spk_L{k}"].ravel(),
                                                         data[f"free_rate_L{k}"].ravel())[0, 1])
                                       for k in range(1, len(sizes))],
        "default": {"neurons_per_unit": sp["neurons_per_unit"], "trials": sp["trials"],
                    "beta": sp["beta"], "estimator": sp["estimator"],
                    "min_cos_sym_vs_implicit": min(headline["sym_vs_implicit"]["cos"][:-1]),
                    "alignment": headline, "cost": main.cost},
        "sweep_wall_s": data["sweep_wall_s"].tolist(),
    }


# --- figures -------------------------------------------------------------------------------------
def _fig_calibration(data: dict, cfg: dict):
    from ..activation import HardSigmoid
    from ..calibration import FICurve

    sp = cfg["spiking"]
    fi = FICurve(data["calib_s"], data["calib_rate_hz"], data["calib_sem_hz"], sp["r_max_hz"])
    rho = fi.tabulate()
    hard = HardSigmoid(cfg["dynamics"]["beta1"], cfg["dynamics"]["beta2"])
    s = np.linspace(fi.s[0], fi.s[-1], 400)
    r_max = sp["r_max_hz"]
    fig, (a, b) = figure(2, 1, width=3.0, height=2.7)
    a.errorbar(fi.s, fi.rate_hz, yerr=fi.sem_hz, fmt="o", ms=3, color="k",
               label="LIF population rate (measured ± s.e.m.)")
    a.plot(s, r_max * rho(s), color="C3", label="r_max·ρ_LIF (smoothing spline)")
    a.plot(s, r_max * hard(s), "--", color="0.5", label="r_max·hard sigmoid (Eq 7)")
    a.set_xlabel("state s (input current / I_unit)")
    a.set_ylabel("firing rate (Hz)")
    a.set_title(f"ρ = rate / r_max, r_max = {r_max:g} Hz\n(a scale, not a ceiling: ρ_LIF > 1 "
                "above it)", fontsize=8)
    b.plot(s, rho.prime(s), color="C3")
    b.plot(s, hard.prime(s), "--", color="0.5")
    b.set_xlabel("state s (input current / I_unit)")
    b.set_ylabel("slope dρ/ds (1 / unit of s)")
    b.set_title("the rate model's gain ρ' (same line styles)", fontsize=8)
    legend_below(fig, a, ncol=2)
    for ax, lab in ((a, "a"), (b, "b")):
        panel_label(ax, lab)
    return fig


def _fig_fixed_points(data: dict, summary: dict):
    n_layers = len(summary["sizes"]) - 1
    colors = layer_colors(n_layers)
    fig, (ax,) = figure(1, 1, width=3.4, height=3.2)
    for k in range(1, n_layers + 1):
        ax.plot(data[f"free_rate_L{k}"].ravel(), data[f"free_spk_L{k}"].ravel(), "o", ms=2.5,
                alpha=0.7, color=colors[k - 1],
                label=f"{layer_name(k, n_layers)} (r = "
                      f"{summary['fixed_point_corr_per_layer'][k - 1]:.3f})")
    lim = [0, max(1.0, max(data[f"free_spk_L{k}"].max() for k in range(1, n_layers + 1)))]
    ax.plot(lim, lim, ":", color="0.5", label="identity")
    ax.set_xlabel("calibrated rate model ρ_LIF(ŝ)")
    ax.set_ylabel("spiking population rate / r_max")
    ax.set_title(f"free-phase fixed points, r = {summary['fixed_point_corr']:.4f}")
    ax.legend(loc="upper left")
    return fig


def _fig_trajectories(data: dict, summary: dict, cfg: dict):
    n_layers = len(summary["sizes"]) - 1
    n_units = cfg["rate_vs_spike"]["traj_units"]
    fig, axes = figure(n_layers, 1, width=2.6, height=2.4)
    for k, ax in enumerate(axes, start=1):
        spk, rate = data[f"traj_spk_L{k}"], data[f"traj_rate_L{k}"]
        for u in range(min(n_units, spk.shape[1])):
            ax.plot(data["traj_spk_time_ms"], spk[:, u], color=f"C{u}", lw=1.0,
                    label="spiking" if u == 0 else None)
            ax.plot(data["traj_rate_time_ms"], rate[:, u], "--", color=f"C{u}", lw=1.6,
                    label="rate model" if u == 0 else None)
        ax.set_xlabel("time since nudge onset (ms)")
        ax.set_ylabel("Δρ / β")
        ax.set_title(layer_name(k, n_layers) + (" (output)" if k == n_layers else ""))
        panel_label(ax, "abcdefgh"[k - 1])
    legend_below(fig, axes[0], ncol=2)
    return fig


def _fig_alignment(data: dict, summary: dict):
    """cos and NRMSE of the tied rule vs N = n × trials: one line per population size n (marker)
    over the trial counts, colours by layer; the statistical part of the error with a 1/√N line."""
    metrics = list(data["metrics"])
    layers = list(data["layers"])
    pops, trials = data["populations"], data["trials"]
    colors = layer_colors(len(layers) - 1) + ["k"]
    markers = "os^vDP*X"
    fig, (a, b) = figure(2, 1, width=3.3, height=2.8)
    for p, n in enumerate(pops):
        N = n * trials
        for i, layer in enumerate(layers):
            for ref, ls in (("implicit", "-"), ("rate", "--")):
                table = data[f"sweep_sym_vs_{ref}"][p, :, i]
                label = (f"{layer}" if ref == "implicit" else None) if p == 0 else None
                a.plot(N, table[:, metrics.index("cos")], ls, marker=markers[p % len(markers)],
                       color=colors[i], lw=1.8 if layer == "all" else 1.0,
                       mfc="none" if ref == "rate" else colors[i], label=label)
                b.plot(N, table[:, metrics.index("nrmse")], ls, marker=markers[p % len(markers)],
                       color=colors[i], lw=1.8 if layer == "all" else 1.0,
                       mfc="none" if ref == "rate" else colors[i])
        if "sweep_noise_nrmse" in data:
            b.plot(N, data["sweep_noise_nrmse"][p, :, -1], ":", marker=markers[p % len(markers)],
                   color="C3", label="statistical error (all)" if p == 0 else None)
        a.plot([], [], marker=markers[p % len(markers)], color="0.4", ls="none",
               label=f"n = {n}")
    if "sweep_noise_nrmse" in data:
        N = (pops[:, None] * trials[None, :]).ravel()
        noise = data["sweep_noise_nrmse"][:, :, -1].ravel()
        grid = np.array([N.min(), N.max()], float)
        b.plot(grid, noise[np.argmin(N)] * np.sqrt(N.min() / grid), color="0.4", lw=0.8,
               label="∝ 1/√N")
    a.axhline(0.9, color="0.6", lw=0.8, ls=":")
    ticks = np.unique(pops[:, None] * trials[None, :])
    for ax, lab in ((a, "a"), (b, "b")):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [str(v) for v in ticks])
        ax.minorticks_off()
        ax.set_xlabel("N = neurons per unit × trials")
        panel_label(ax, lab)
    a.set_ylabel("cosine(ΔW_spiking, reference)")
    b.set_yscale("log")
    b.set_ylabel("NRMSE ‖ΔW − ref‖ / ‖ref‖")
    a.legend(loc="lower right", fontsize=6.5, ncol=2)
    b.legend(loc="lower left", fontsize=6.5)
    fig.suptitle("tied Brian2 rule (Eq 26) vs implicit gradient (solid, filled) and rate rule "
                 "(dashed, open)", fontsize=9)
    return fig


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    return {"calibration": _fig_calibration(data, cfg),
            "fixed_points": _fig_fixed_points(data, summary),
            "trajectories": _fig_trajectories(data, summary, cfg),
            "alignment_vs_population": _fig_alignment(data, summary)}


EXPERIMENT = Experiment(
    name="rate_vs_spike",
    doc="Brian2 spiking vs calibrated rate model: fixed points, nudged trajectories, rule ΔW vs n.",
    schema=SCHEMA, run=run, figures=figures,
)
