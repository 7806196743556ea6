"""STDP timing window of the rule (Eq 26): spike pairs in one Brian2 run, fits, theory, Bi & Poo.

Every Δt and every repeat is a separate pre/post pair of the same network (:mod:`stdp_ebm.protocols`),
and the Poisson control pairs run alongside them, so one compiled run gives the whole window. The
theory (:class:`stdp_ebm.stdp.PairKernel`, numpy/scipy only) is evaluated on the nominal schedule.
A small sweep of the rate-filter time constants (one short noise-free run each) shows which model
constants set the window's τ±.

data.npz names:

* per pair: ``pair_delta_t_ms`` (nominal), ``pair_measured_delta_t_ms``, ``pair_delta_w``,
  ``pair_delta_w_tied``
* per Δt: ``delta_t_ms``, ``mean``, ``sem``, ``count``, ``mean_tied``, ``sem_tied``, ``theory``
* curves on a fine grid: ``curve_t_ms``, ``curve_theory``, ``curve_fit``, ``curve_bi_poo``
* ``control_delta_w`` (Poisson pairs), ``control_theory`` (theory from their recorded spikes)
* ``sweep_tau_pre_decay_ms``, ``sweep_tau_post_decay_ms``, ``sweep_{sim,theory}_tau_{plus,minus}_ms``
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import stdp
from ..config import Key, require
from ..models import load_model
from ..plotting import figure, legend_below, panel_label
from ..protocols import PairingResult, Schedule, concat, measured_delta_t, pairing, poisson, simulate
from . import Experiment, Result, RunContext

DEFAULT_GRID = [-100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -10.0, -7.0, -5.0,
                -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0,
                60.0, 80.0, 100.0]

#: the [spiking] section, shared with the frequency experiment
SPIKING = {
    "neuron": Key("str", "lif_neuron", "neuron model file (a shipped name, see stdp_ebm.models.shipped_models, or a path)"),
    "synapse": Key("str", "rule_synapse", "rule-synapse model file (a shipped name, see stdp_ebm.models.shipped_models, or a path)"),
    "noise": Key("bool", True, "membrane noise on (sigma = noise_mV) or off"),
    "noise_mV": Key("float", 2.0, "s.d. of the membrane-potential noise when noise is on",
                    low=0.0),
    "learn": Key("bool", False, "online learning (the EPSP weight follows ΔW); false: frozen"),
    "tied": Key("bool", False, "with learn: the tied/symmetrised form drives the weight"),
    "dt_ms": Key("float", 0.1, "simulation time step", low=0.0, open_low=True, high=1.0),
    "pulse_ms": Key("float", 2.0, "duration of the current pulse that evokes a post spike",
                    low=0.0, open_low=True),
}

SCHEMA = {
    "protocol": {
        "delta_t_ms": Key("floats", DEFAULT_GRID, "Δt = t_post − t_pre of the pairings",
                          low=-500.0, high=500.0),
        "n_pairings": Key("int", 60, "pairings per pair (Bi & Poo: 60)", low=1),
        "frequency_hz": Key("float", 1.0, "pairing frequency (Bi & Poo: 1 Hz)", low=0.0,
                            open_low=True, high=100.0),
        "repeats": Key("int", 10, "independent pairs per Δt (mean ± s.e.m. over them)", low=1),
    },
    "spiking": SPIKING,
    "fit": {
        "exclude_ms": Key("float", 2.0, "fit only |Δt| > this (the rate filters' rise shapes the "
                          "window near 0)", low=0.0),
    },
    "control": {
        "pairs": Key("int", 50, "Poisson pre/post pairs (0: no control)", low=0),
        "rate_hz": Key("float", 10.0, "rate of both Poisson trains", low=0.0, open_low=True,
                       high=100.0),
        "duration_s": Key("float", 60.0, "length of the Poisson trains", low=0.0, open_low=True),
    },
    "tau_sweep": {
        "tau_pre_decay_ms": Key("floats", [8.0, 16.0, 32.0],
                                "presynaptic filter decay times to sweep (empty sweep: [])",
                                low=0.0, open_low=True, min_len=0),
        "tau_post_decay_ms": Key("floats", [16.0, 32.0, 64.0],
                                 "postsynaptic filter decay times to sweep", low=0.0,
                                 open_low=True, min_len=0),
        "n_pairings": Key("int", 2, "pairings per Δt in each noise-free sweep run", low=1),
    },
}


def check(cfg: dict, source: str) -> None:
    grid = cfg["protocol"]["delta_t_ms"]
    require(len(set(grid)) == len(grid), source, "[protocol] delta_t_ms", grid,
            "must not repeat a value (use repeats)")
    period_ms = 1e3 / cfg["protocol"]["frequency_hz"]
    require(max(abs(d) for d in grid) < period_ms / 2, source, "[protocol] delta_t_ms", grid,
            f"|Δt| must stay below half the pairing period ({period_ms / 2:g} ms), or pairs mix")


def run_spiking(schedule: Schedule, cfg: dict, ctx: RunContext, **overrides: Any) -> PairingResult:
    """Simulate ``schedule`` with the [spiking] settings; brian2 seeded from the master seed."""
    s = cfg["spiking"]
    kwargs = {"noise_mV": s["noise_mV"] if s["noise"] else 0.0, "learn": s["learn"],
              "tied": s["tied"], "dt_ms": s["dt_ms"], "pulse_ms": s["pulse_ms"],
              "neuron": s["neuron"], "synapse": s["synapse"], **overrides}
    return simulate(schedule, ctx.seeds.int("brian2"), **kwargs)


def kernel_for(cfg: dict, **synapse_params: Any) -> stdp.PairKernel:
    """The theory pair kernel of the configured rule synapse (with parameter overrides)."""
    syn = load_model(cfg["spiking"]["synapse"])
    return stdp.PairKernel(stdp.RuleKernels.from_params(syn.namespace(**synapse_params)))


def schedule_theory(schedule: Schedule, kernel: stdp.PairKernel) -> np.ndarray:
    """Theory ΔW of every pair of ``schedule`` from its nominal spike times (no simulation)."""
    return np.array([kernel.from_spikes(*schedule.pair(k)) for k in range(schedule.n)])


def run(cfg: dict, ctx: RunContext) -> Result:
    p, c = cfg["protocol"], cfg["control"]
    delta = np.repeat(np.array(p["delta_t_ms"]), p["repeats"])
    window = pairing(delta, p["n_pairings"], p["frequency_hz"])
    parts = [window]
    if c["pairs"]:
        parts.append(poisson(c["rate_hz"], c["duration_s"], c["pairs"], ctx.seeds.rng("poisson")))
    schedule, slices = concat(*parts)
    res = run_spiking(schedule, cfg, ctx)
    kernel = kernel_for(cfg)
    data = _window_data(delta, res, slices[0], schedule_theory(window, kernel))
    fit = stdp.fit_window(data["delta_t_ms"], data["mean"], data["sem"], cfg["fit"]["exclude_ms"])
    data.update(_curves(kernel, fit, p["n_pairings"]))
    if c["pairs"]:
        data["control_delta_w"] = res.delta_w[slices[1]]
        data["control_theory"] = stdp.theory_per_pair(np.arange(slices[1].start, slices[1].stop),
                                                       res.pre_i, res.pre_t, res.post_i,
                                                       res.post_t, kernel)
    data.update(_sweep(cfg, ctx))
    return Result(data, _summary(data, fit, res.target, cfg))


def _window_data(delta: np.ndarray, res: PairingResult, part: slice, theory: np.ndarray) -> dict:
    dw, tied = res.delta_w[part], res.delta_w_tied[part]
    grid, mean, sem, count = stdp.group_stats(delta, dw)
    _, mean_tied, sem_tied, _ = stdp.group_stats(delta, tied)
    _, theory_mean, _, _ = stdp.group_stats(delta, theory)
    return {"pair_delta_t_ms": delta, "pair_delta_w": dw, "pair_delta_w_tied": tied,
            "pair_measured_delta_t_ms": measured_delta_t(res, res.delta_w.size)[part],
            "delta_t_ms": grid, "mean": mean, "sem": sem, "count": count,
            "mean_tied": mean_tied, "sem_tied": sem_tied, "theory": theory_mean}


def _curves(kernel: stdp.PairKernel, fit: stdp.WindowFit, n_pairings: int) -> dict:
    t = np.linspace(-100.0, 100.0, 2001)
    return {"curve_t_ms": t, "curve_theory": n_pairings * kernel(t * 1e-3), "curve_fit": fit(t),
            "curve_bi_poo": stdp.bi_poo_curve(t)}


def _sweep(cfg: dict, ctx: RunContext) -> dict:
    """Fitted τ± (simulation, noise off, and theory) over the rate filters' decay times."""
    sw, syn = cfg["tau_sweep"], load_model(cfg["spiking"]["synapse"])
    base_pre, base_post = (float(syn.params[k] / 1e-3) for k in ("tau_pre_decay", "tau_post_decay"))
    points = list(dict.fromkeys([(tp, base_post) for tp in sw["tau_pre_decay_ms"]] +
                                [(base_pre, tq) for tq in sw["tau_post_decay_ms"]]))
    grid = np.array(cfg["protocol"]["delta_t_ms"])
    sched = pairing(grid, sw["n_pairings"], cfg["protocol"]["frequency_hz"])
    out = {k: [] for k in ("sim_tau_plus_ms", "sim_tau_minus_ms", "theory_tau_plus_ms",
                           "theory_tau_minus_ms")}
    from brian2 import ms
    for tp, tq in points:
        params = {"tau_pre_decay": tp * ms, "tau_post_decay": tq * ms}
        res = run_spiking(sched, cfg, ctx, noise_mV=0.0, synapse_params=params)
        theory = schedule_theory(sched, kernel_for(cfg, **params))
        for name, values in (("sim", res.delta_w), ("theory", theory)):
            fit = stdp.fit_window(grid, values, np.zeros_like(values), cfg["fit"]["exclude_ms"])
            out[f"{name}_tau_plus_ms"].append(fit.tau_plus)
            out[f"{name}_tau_minus_ms"].append(fit.tau_minus)
    data = {f"sweep_{k}": np.array(v) for k, v in out.items()}
    data["sweep_tau_pre_decay_ms"] = np.array([p[0] for p in points])
    data["sweep_tau_post_decay_ms"] = np.array([p[1] for p in points])
    return data


def _summary(data: dict, fit: stdp.WindowFit, target: str, cfg: dict) -> dict:
    ref = stdp.bi_poo()["fit"]
    x, mean = data["delta_t_ms"], data["mean"]
    ltp, ltd = (x >= 2) & (x <= 40), (x <= -2) & (x >= -40)
    pos, neg = np.clip(mean, 0, None), np.clip(mean, None, 0)
    out = {
        "fit": fit.as_dict(),
        "tau_ratio_to_bi_poo": {"tau_plus": fit.tau_plus / ref["tau_plus_ms"],
                                "tau_minus": fit.tau_minus / ref["tau_minus_ms"]},
        "ltp_ltd_area_ratio": {"fit": fit.area_ratio,
                               "data": float(np.trapezoid(pos, x) / -np.trapezoid(neg, x))},
        "zero_crossing_ms": {"simulation": stdp.zero_crossing(x, mean),
                             "theory": stdp.zero_crossing(data["curve_t_ms"],
                                                          data["curve_theory"])},
        "signs": {"ltp_positive_for_all_2_to_40_ms": bool(np.all(mean[ltp] > 0)),
                  "ltd_negative_for_all_minus_40_to_minus_2_ms": bool(np.all(mean[ltd] < 0))},
        "theory_rmse_fraction_of_max": stdp.rmse_fraction(mean, data["theory"]),
        "tied_form_max_abs_fraction_of_max": float(np.max(np.abs(data["mean_tied"]))
                                                   / np.max(np.abs(mean))),
        "max_abs_measured_minus_nominal_delta_t_ms":
            float(np.nanmax(np.abs(data["pair_measured_delta_t_ms"] - data["pair_delta_t_ms"]))),
        "noise_mV": cfg["spiking"]["noise_mV"] if cfg["spiking"]["noise"] else 0.0,
        "n_pairs": int(data["pair_delta_w"].size), "codegen_target": target,
        "bi_poo_reference": stdp.bi_poo()["citation"],
    }
    if "control_delta_w" in data:
        cdw = data["control_delta_w"]
        sem = float(cdw.std(ddof=1) / np.sqrt(cdw.size)) if cdw.size > 1 else float("nan")
        out["control"] = {"mean": float(cdw.mean()), "sem": sem, "n": int(cdw.size),
                          "within_2_sem_of_0": bool(abs(cdw.mean()) <= 2 * sem),
                          "theory_mean": float(data["control_theory"].mean())}
    if data["sweep_tau_pre_decay_ms"].size:
        out["tau_sweep"] = [{k: float(data[f"sweep_{k}"][i]) for k in (
            "tau_pre_decay_ms", "tau_post_decay_ms", "sim_tau_plus_ms", "sim_tau_minus_ms",
            "theory_tau_plus_ms", "theory_tau_minus_ms")}
            for i in range(data["sweep_tau_pre_decay_ms"].size)]
    return out


# --------------------------------------------------------------------------------------- figures

def _fit_label(fit: dict) -> str:
    """Fitted parameters ± the half-width of their 95% CI."""
    def pm(name, unit=""):
        lo, hi = fit[f"{name}_ci"]
        return f"{fit[name]:.3g} ± {(hi - lo) / 2:.2g}{unit}"
    return (f"fit (± 95% CI): A+ = {pm('a_plus')}, τ+ = {pm('tau_plus', ' ms')}\n"
            f"A− = {pm('a_minus')}, τ− = {pm('tau_minus', ' ms')}")


def _draw_window(ax, data: dict, summary: dict, scale: float, ref_scale: float) -> None:
    ref = stdp.bi_poo()["fit"]
    t, fit_curve = data["curve_t_ms"], data["curve_fit"]
    side = np.sign(t)
    for sgn in (-1, 1):
        part = side == sgn
        ax.plot(t[part], fit_curve[part] / scale, color="C0", lw=1.4,
                label=_fit_label(summary["fit"]) if sgn > 0 else None)
    ax.plot(t, data["curve_theory"] / scale, ":", color="k", lw=1.2,
            label="theory: Σ K(Δt), kernels integrated numerically")
    ax.plot(t, data["curve_bi_poo"] / ref_scale, color="C3", lw=1.2, alpha=0.9,
            label=f"Bi & Poo 1998 (fit of 2001): τ+ = {ref['tau_plus_ms']} ms, "
                  f"τ− = {ref['tau_minus_ms']} ms")
    n = int(np.max(data["count"]))
    ax.errorbar(data["delta_t_ms"], data["mean"] / scale, yerr=data["sem"] / scale, fmt="o",
                color="C0", ms=3.5, capsize=1.5, label=f"simulation, Eq 26 (mean ± s.e.m., n = {n})")
    ax.errorbar(data["delta_t_ms"], data["mean_tied"] / scale, yerr=data["sem_tied"] / scale,
                fmt="s", color="0.55", ms=2.5, capsize=1.0, label="tied form d(ρ_i ρ_j)/dt")
    ax.axhline(0, color="0.4", lw=0.7, ls="--")
    ax.axvline(0, color="0.4", lw=0.7, ls="--")
    ax.set_xlabel("Δt = t_post − t_pre (ms)")


def _window_figure(data: dict, summary: dict):
    fig, (a, b) = figure(2, 1, width=4.6, height=3.4)
    _draw_window(a, data, summary, 1.0, 1.0)
    a.set_ylabel("relative weight change ΔW/W₀")
    fig.legend(*a.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=7)
    peak = summary["fit"]["a_plus"]
    _draw_window(b, data, summary, peak, stdp.bi_poo()["fit"]["a_plus"])
    b.set_ylabel("ΔW / A+ (shape: peak LTP = 1)")
    for ax, lab in ((a, "a"), (b, "b")):
        panel_label(ax, lab)
    fig.suptitle(f"STDP window of the rule, {summary['n_pairs']} pairs in one Brian2 run "
                 f"(noise {summary['noise_mV']:g} mV)", fontsize=9)
    return fig


def _sweep_figure(data: dict):
    fig, axes = figure(2, 1, width=3.2, height=2.8)
    pre, post = data["sweep_tau_pre_decay_ms"], data["sweep_tau_post_decay_ms"]
    base_post, base_pre = np.median(post), np.median(pre)
    for ax, x, keep, xlabel, lab in (
            (axes[0], pre, post == base_post, "presynaptic filter decay τ_pre,decay (ms)", "a"),
            (axes[1], post, pre == base_pre, "postsynaptic filter decay τ_post,decay (ms)", "b")):
        order = np.argsort(x[keep])
        for name, color in (("plus", "C0"), ("minus", "C3")):
            sym = "+" if name == "plus" else "−"
            ax.plot(x[keep][order], data[f"sweep_theory_tau_{name}_ms"][keep][order], "-",
                    color=color, lw=1.0, label=f"τ{sym} theory")
            ax.plot(x[keep][order], data[f"sweep_sim_tau_{name}_ms"][keep][order], "o",
                    color=color, label=f"τ{sym} simulation")
        lim = [0, 1.1 * max(np.max(x), np.max(data["sweep_sim_tau_minus_ms"]))]
        ax.plot(lim, lim, color="0.7", lw=0.8, ls="--", label="identity")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fitted window time constant (ms)")
        panel_label(ax, lab)
    axes[0].legend(loc="upper left")
    fig.suptitle("τ+ follows the presynaptic rate filter, τ− the postsynaptic one", fontsize=9)
    return fig


def _control_figure(data: dict, summary: dict):
    fig, (ax,) = figure(1, 1, width=3.6, height=2.8)
    c = summary["control"]
    ax.hist(data["control_delta_w"], bins=20, color="C2", alpha=0.7,
            label=f"Poisson pairs (n = {c['n']})")
    ax.axvline(0, color="0.4", lw=0.7, ls="--")
    ax.axvspan(c["mean"] - 2 * c["sem"], c["mean"] + 2 * c["sem"], color="k", alpha=0.15,
               label=f"mean ± 2 s.e.m. = {c['mean']:.2g} ± {2 * c['sem']:.2g}")
    ax.set_xlabel("weight change ΔW/W₀ (independent pre/post Poisson trains)")
    ax.set_ylabel("pairs")
    legend_below(fig, ax, ncol=1)
    return fig


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    out = {"window": _window_figure(data, summary)}
    if data["sweep_tau_pre_decay_ms"].size:
        out["tau_sweep"] = _sweep_figure(data)
    if "control" in summary:
        out["control"] = _control_figure(data, summary)
    return out


EXPERIMENT = Experiment(
    name="stdp_window",
    doc="STDP window of the rule from spike pairs in one Brian2 run: fit, theory, Bi & Poo.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
