"""STDP timing window of a rule (spike pairs, Bi & Poo protocol), fitted with honest intervals,
next to other rules and to Bi & Poo's measured points.

Every Δt and every repeat is a separate pre/post pair of the same network
(:mod:`stdp_ebm.stdp.protocols`); the rule under test (``[spiking] synapse``) runs the window and the
Poisson control in one Brian2 run, each comparison rule (``[spiking] compare``) the window in one
run of its own. The fit (:mod:`stdp_ebm.stdp.window_fit`) regresses each condition's mean ΔW on its
*measured* Δt (the mean over its pairs of each pair's mean nearest post − pre spike) and takes its
95 % intervals from a BCa bootstrap over the repeats that recomputes both means from each resample.
A rule whose model file names a theory kernel also gets the theory curve, the same fit applied to the
noise-free theory seen through the measured spike-time jitter (the values the intervals should
contain) and a sweep of the parameters that set its τ±.

data.npz names (``RULE`` is each rule's name: a shipped model's file stem, any other file's stem
and content hash, ``pair_stdp@1a2b3c4d``; :class:`~stdp_ebm.experiments.stdp_rules.Rule`):

* per pair: ``pair_delta_t_ms`` (nominal), ``pair_measured_delta_t_ms``, ``RULE_pair_delta_w``
  (and ``RULE_pair_delta_w_tied`` for a rule with the tied form), ``RULE_pair_x_ms``
* per Δt: ``delta_t_ms`` (nominal), ``RULE_x_ms`` (measured), ``RULE_mean``, ``RULE_sem``,
  ``RULE_jitter_sd_ms`` (s.d. of the pairings' post − pre about the condition's mean), ``count``,
  ``theory`` (rule under test, when it has a kernel; without jitter)
* curves: ``curve_t_ms``, ``curve_fit``, ``curve_theory``; ``data_bi_poo_{x_ms,y}`` when present
* ``control_delta_w``, ``control_theory``; ``sweep_*`` (see :func:`_sweep`)
"""

from __future__ import annotations

import logging

import numpy as np

from ..stdp import data as stdp_data, kernels
from ..config import Key, require
from ..stdp.protocols import PairingResult, concat, pairing, pairing_offsets, poisson
from ..stdp.resampling import MC_REL_DATA
from ..stdp.window_fit import N_BOOT, N_BOOT_DATA, WindowFit, fit_window, jitter_average, jitter_sd
from . import Experiment, Result, RunContext
from .stdp_rules import (DATA, SPIKING, Rule, data_dir, notes, rules, run_spiking,
                         warn_absent)
from .stdp_window_figures import figures

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

log = logging.getLogger(__name__)

DEFAULT_GRID = [-100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -10.0, -7.0, -5.0,
                -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0,
                60.0, 80.0, 100.0]

SCHEMA = {
    "protocol": {
        "delta_t_ms": Key("floats", DEFAULT_GRID, "Δt = t_post − t_pre of the pairings",
                          low=-500.0, high=500.0),
        "n_pairings": Key("int", 60, "pairings per pair (Bi & Poo: 60)", low=1),
        "frequency_hz": Key("float", 1.0, "pairing frequency (Bi & Poo: 1 Hz)", low=0.0,
                            open_low=True, high=100.0),
        "repeats": Key("int", 10, "independent pairs per Δt (the bootstrap resamples them)",
                       low=2),
    },
    "spiking": SPIKING,
    "data": DATA,
    "fit": {
        "exclude_ms": Key("float", 4.0, "fit only |Δt| > this (the rate filters' rise shapes the "
                          "window near 0, where spike jitter biases the mean)", low=0.0),
        "data_exclude_ms": Key("float", 3.0, "the same cut-off for Bi & Poo's points", low=0.0),
        "n_boot": Key("int", N_BOOT, "BCa bootstrap resamples over the repeats (95 % intervals)",
                      low=50),
        "data_n_boot": Key("int", N_BOOT_DATA, "BCa bootstrap resamples over Bi & Poo's points, "
                           "drawn again until every bound's Monte Carlo error is ≤ 1.5 % (bounds "
                           "then move < 5 % between bootstrap seeds)", low=50),
    },
    "control": {
        "pairs": Key("int", 50, "Poisson pre/post pairs (0: no control)", low=0),
        "rate_hz": Key("float", 10.0, "rate of both Poisson trains", low=0.0, open_low=True,
                       high=100.0),
        "duration_s": Key("float", 60.0, "length of the Poisson trains", low=0.0, open_low=True),
    },
    "tau_sweep": {
        "plus_ms": Key("floats", [8.0, 16.0, 32.0], "values of the model parameter that sets τ+ "
                       "(rules with a theory kernel; [] for none)", low=0.0, open_low=True,
                       min_len=0),
        "minus_ms": Key("floats", [16.0, 32.0, 64.0], "values of the parameter that sets τ−",
                        low=0.0, open_low=True, min_len=0),
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


def schedule_theory(schedule, kernel) -> np.ndarray:
    """Theory ΔW of every pair of ``schedule`` from its nominal spike times (no simulation)."""
    return np.array([kernel.from_spikes(*schedule.pair(k)) for k in range(schedule.n)])


def run(cfg: dict, ctx: RunContext) -> Result:
    p, c, f = cfg["protocol"], cfg["control"], cfg["fit"]
    rule_list = rules(cfg)  # every model file checked before the first simulation
    main = rule_list[0]
    delta = np.repeat(np.array(p["delta_t_ms"]), p["repeats"])
    window = pairing(delta, p["n_pairings"], p["frequency_hz"])
    parts = [window]
    if c["pairs"]:
        parts.append(poisson(c["rate_hz"], c["duration_s"], c["pairs"], ctx.seeds.rng("poisson")))
    schedule, slices = concat(*parts)
    data: dict = {"pair_delta_t_ms": delta, "curve_t_ms": np.linspace(-100.0, 100.0, 2001)}
    fits = {}
    for rule in rule_list:
        res = run_spiking(schedule if rule is main else window, cfg, ctx, rule)
        data.update(_window_data(rule.name, delta, res, slices[0]))
        fits[rule.name] = fit_window(data[f"{rule.name}_pair_measured_delta_t_ms"],
                                     data[f"{rule.name}_pair_delta_w"], delta, f["exclude_ms"],
                                     ctx.seeds.int("bootstrap"), f["n_boot"])
        _say(fits[rule.name], rule.name)
        if rule is main:
            main_res = res
    data["curve_fit"] = fits[main.name](data["curve_t_ms"])
    summary = {"rules": [r.name for r in rule_list], "skipped": notes(rule_list),
               "fits": {name: fit.as_dict() for name, fit in fits.items()}}
    if main.kernel is not None:
        summary["theory"] = _theory(main, window, delta, data, fits[main.name], cfg)
        if c["pairs"]:
            data["control_theory"] = kernels.theory_per_pair(
                np.arange(slices[1].start, slices[1].stop), main_res.pre_i, main_res.pre_t,
                main_res.post_i, main_res.post_t, main.kernel)
        data.update(_sweep(main, cfg, ctx))
    if c["pairs"]:
        data["control_delta_w"] = main_res.delta_w[slices[1]]
    summary.update(_data_comparison(rule_list, data, cfg, ctx))
    summary.update(_headline(data, main, fits[main.name], main_res.target, cfg))
    return Result(data, summary)


def _window_data(name: str, delta: np.ndarray, res: PairingResult, part: slice) -> dict:
    """Per pair ΔW and measured Δt; per condition the measured Δt (mean over its repeats, the fit's
    regressor for each of them), mean and s.e.m. of ΔW."""
    dw = res.delta_w[part]
    offsets = pairing_offsets(res, res.delta_w.size)[part]
    measured = np.array([float(np.mean(o)) if o.size else np.nan for o in offsets])
    grid, x_cond, _, count = kernels.group_stats(delta, measured)
    _, mean, sem, _ = kernels.group_stats(delta, dw)
    out = {f"{name}_pair_delta_w": dw, f"{name}_pair_measured_delta_t_ms": measured,
           f"{name}_pair_x_ms": x_cond[np.searchsorted(grid, delta)], "delta_t_ms": grid,
           "count": count, f"{name}_x_ms": x_cond, f"{name}_mean": mean, f"{name}_sem": sem,
           f"{name}_jitter_sd_ms": jitter_sd(offsets, delta)[1]}
    if res.delta_w_tied is not None:
        tied = res.delta_w_tied[part]
        out[f"{name}_pair_delta_w_tied"] = tied
        out[f"{name}_mean_tied"] = kernels.group_stats(delta, tied)[1]
    return out


def _theory(rule: Rule, window, delta: np.ndarray, data: dict, fit: WindowFit, cfg: dict) -> dict:
    """Theory curve, and the values the simulation's intervals should contain: the theory of each
    condition at its *measured* mean Δt (the regressor of the fit; the evoked post spikes land
    ≈ 0.05 ms off nominal), seen through its measured spike-time jitter s.d. σ (the theory times
    E[K(Δt + σZ)] / K(Δt); for an exponential side e^(σ²/2τ²)), fitted without noise. Without the
    jitter factor A± sit outside the intervals (summary: ``within_95_ci_without_jitter``)."""
    p, kernel = cfg["protocol"], rule.kernel
    assert kernel is not None  # run() calls this only for a rule with a kernel
    data["theory"] = kernels.group_stats(delta, schedule_theory(window, kernel))[1]
    data["curve_theory"] = p["n_pairings"] * kernel(data["curve_t_ms"] * 1e-3)
    grid, x = data["delta_t_ms"], data[f"{rule.name}_x_ms"]
    sd = data[f"{rule.name}_jitter_sd_ms"]
    at_x = schedule_theory(pairing(x, p["n_pairings"], p["frequency_hz"]), kernel)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = jitter_average(lambda d: kernel(d * 1e-3), x, sd) / kernel(x * 1e-3)
    factor = np.where(np.isfinite(factor), factor, 1.0)
    cut = cfg["fit"]["exclude_ms"]
    ref = fit_window(x, at_x * factor, grid, exclude_ms=cut, n_boot=0).as_dict()
    bare = fit_window(x, at_x, grid, exclude_ms=cut, n_boot=0).as_dict()
    got = fit.as_dict()
    keys = ("a_plus", "tau_plus", "a_minus", "tau_minus")

    def inside(values: dict) -> dict:  # None: no interval (failed or degenerate side)
        return {k: bool(got[f"{k}_ci"][0] <= values[k] <= got[f"{k}_ci"][1])
                if np.all(np.isfinite(got[f"{k}_ci"])) else None for k in keys}
    fitted = np.abs(grid) > cut
    return {"noise_free_fit": {k: ref[k] for k in keys},
            "noise_free_fit_without_jitter": {k: bare[k] for k in keys},
            "jitter": {"sd_ms": [float(np.min(sd[fitted])), float(np.max(sd[fitted]))],
                       "factor_on_fitted_conditions": [float(np.min(factor[fitted])),
                                                       float(np.max(factor[fitted]))],
                       "note": "theory at the measured mean Δt × E[K(Δt + σZ)]/K(Δt), σ the "
                               "measured jitter s.d. per condition; e^(σ²/2τ²) for an "
                               "exponential side"},
            "within_95_ci": inside(ref), "within_95_ci_without_jitter": inside(bare),
            "rmse_fraction_of_max": kernels.rmse_fraction(data[f"{rule.name}_mean"], data["theory"])}


def _say(fit: WindowFit, name: str) -> None:
    """A fit that is not ok is said on the console (and recorded in summary.json)."""
    for side, why in fit.as_dict()["problems"].items():
        log.warning("stdp_window: %s, %s side of the window: %s", name,
                    "LTP (Δt > 0)" if side == "plus" else "LTD (Δt < 0)", why)


def _sweep(rule: Rule, cfg: dict, ctx: RunContext) -> dict:
    """Fitted τ± (simulation without noise, and theory) over the parameters that set τ±."""
    from brian2 import ms
    sw, (plus_name, minus_name) = cfg["tau_sweep"], rule.tau_params()
    base = [float(rule.model.params[k] / ms) for k in (plus_name, minus_name)]
    points = list(dict.fromkeys([(tp, base[1]) for tp in sw["plus_ms"]] +
                                [(base[0], tq) for tq in sw["minus_ms"]]))
    grid = np.array(cfg["protocol"]["delta_t_ms"])
    sched = pairing(grid, sw["n_pairings"], cfg["protocol"]["frequency_hz"])
    out: dict = {k: [] for k in ("sim_tau_plus_ms", "sim_tau_minus_ms", "theory_tau_plus_ms",
                                 "theory_tau_minus_ms")}
    for tp, tq in points:
        params = {plus_name: tp * ms, minus_name: tq * ms}
        res = run_spiking(sched, cfg, ctx, rule, noise_mV=0.0, synapse_params=params)
        theory = schedule_theory(sched, rule.kernel_with(**params))
        for name, values in (("sim", res.delta_w), ("theory", theory)):
            fit = fit_window(grid, values, exclude_ms=cfg["fit"]["exclude_ms"], n_boot=0)
            out[f"{name}_tau_plus_ms"].append(fit.plus.tau)
            out[f"{name}_tau_minus_ms"].append(fit.minus.tau)
    data = {f"sweep_{k}": np.array(v) for k, v in out.items()}
    data["sweep_plus_param_ms"] = np.array([q[0] for q in points])
    data["sweep_minus_param_ms"] = np.array([q[1] for q in points])
    data["sweep_param_names"] = np.array([plus_name, minus_name])
    return data


def _data_comparison(rule_list: list[Rule], data: dict, cfg: dict, ctx: RunContext) -> dict:
    """Bi & Poo's points: fitted with the same fitter, and each rule's window scaled to them."""
    where = data_dir(cfg)
    pts = stdp_data.bi_poo_points(where) if where else None
    if pts is None:
        warn_absent("Bi & Poo's points", stdp_data.BI_POO_FILE, cfg)
        return {"bi_poo_points": {"present": False,
                                  "note": f"no {stdp_data.BI_POO_FILE} in [data] dir = "
                                          f"{cfg['data']['dir']!r}: points not plotted"}}
    data["data_bi_poo_x_ms"], data["data_bi_poo_y"] = pts.x, pts.y
    cut = cfg["fit"]["data_exclude_ms"]
    fit = fit_window(pts.x, pts.y, exclude_ms=cut, seed=ctx.seeds.int("bootstrap_data"),
                     n_boot=cfg["fit"]["data_n_boot"], mc_rel=MC_REL_DATA)
    _say(fit, "Bi & Poo's points")
    data["curve_bi_poo_fit"] = fit(data["curve_t_ms"])
    keep = np.abs(pts.x) > cut
    sigma = stdp_data.data_scatter(pts.y[keep] - fit(pts.x[keep]), 4) if fit.ok else \
        float(np.std(pts.y, ddof=1))
    rules_vs = {}
    for r in rule_list:
        curve = np.interp(pts.x, data[f"{r.name}_x_ms"], data[f"{r.name}_mean"])
        rules_vs[r.name] = stdp_data.compare(curve, pts.y, sigma)
    rules_vs["double_exponential_fit"] = {
        "rmse": float(np.sqrt(np.mean((pts.y[keep] - fit(pts.x[keep])) ** 2))) if fit.ok else None,
        "fitted": "A+, τ+, A−, τ− (4 parameters)", "n_points": int(keep.sum())}
    return {"bi_poo_points": {"present": True, "source": pts.source, "n": int(pts.x.size),
                              "fit": fit.as_dict(), "selection": point_selection(pts.x, pts.y, cut),
                              "scatter_sd_percent": sigma,
                              "scatter_from": "residual s.d. of the 4-parameter fit (|Δt| > "
                                              f"{cfg['fit']['data_exclude_ms']:g} ms)",
                              "rules": rules_vs}}


def _headline(data: dict, rule: Rule, fit: WindowFit, target: str, cfg: dict) -> dict:
    x, mean = data["delta_t_ms"], data[f"{rule.name}_mean"]
    ltp, ltd = (x >= 2) & (x <= 40), (x <= -2) & (x >= -40)
    out = {
        "rule": rule.name,
        "fit_ok": fit.ok,
        "zero_crossing_ms": kernels.zero_crossing(x, mean),
        "signs": {"ltp_positive_for_all_2_to_40_ms": bool(np.all(mean[ltp] > 0)),
                  "ltd_negative_for_all_minus_40_to_minus_2_ms": bool(np.all(mean[ltd] < 0))},
        "max_abs_measured_minus_nominal_delta_t_ms": float(np.nanmax(np.abs(
            data[f"{rule.name}_pair_measured_delta_t_ms"] - data["pair_delta_t_ms"]))),
        "max_sem_fraction_of_max_mean": float(np.max(data[f"{rule.name}_sem"])
                                              / np.max(np.abs(mean))),
        "noise_mV": cfg["spiking"]["noise_mV"] if cfg["spiking"]["noise"] else 0.0,
        "n_pairs": int(data["pair_delta_t_ms"].size), "codegen_target": target,
        "protocol": cfg["protocol"],
    }
    if f"{rule.name}_mean_tied" in data:
        out["tied_form_max_abs_fraction_of_max"] = float(
            np.max(np.abs(data[f"{rule.name}_mean_tied"])) / np.max(np.abs(mean)))
    if "control_delta_w" in data:
        cdw = data["control_delta_w"]
        sem = float(cdw.std(ddof=1) / np.sqrt(cdw.size)) if cdw.size > 1 else float("nan")
        out["control"] = {"mean": float(cdw.mean()), "sem": sem, "n": int(cdw.size),
                          "within_2_sem_of_0": bool(abs(cdw.mean()) <= 2 * sem)}
        if "control_theory" in data:
            out["control"]["theory_mean"] = float(data["control_theory"].mean())
    if data.get("sweep_plus_param_ms") is not None and data["sweep_plus_param_ms"].size:
        names = [str(v) for v in data["sweep_param_names"]]
        out["tau_sweep"] = [{names[0] + "_ms": float(data["sweep_plus_param_ms"][i]),
                             names[1] + "_ms": float(data["sweep_minus_param_ms"][i]),
                             **{k: float(data[f"sweep_{k}"][i]) for k in (
                                 "sim_tau_plus_ms", "sim_tau_minus_ms", "theory_tau_plus_ms",
                                 "theory_tau_minus_ms")}}
                            for i in range(data["sweep_plus_param_ms"].size)]
    return out


#: the ``stdp_window`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="stdp_window",
    doc="STDP window of a rule from spike pairs in one Brian2 run: fit with bootstrap intervals, "
        "theory, other rules, Bi & Poo's points.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)


def point_selection(x: np.ndarray, y: np.ndarray, cut_ms: float) -> dict:
    """Which measured points the fit uses, in words and numbers: the cut-off, the points left out,
    and the points with Δt in (−4, 0) ms that potentiate (LTP where the LTD side is fitted)."""
    out_pts = [(float(a), float(b)) for a, b in zip(x, y) if abs(a) <= cut_ms]
    odd = [(float(a), float(b)) for a, b in zip(x, y) if -4.0 < a < 0 and b > 0]
    kept = [p for p in odd if abs(p[0]) > cut_ms]

    def fmt(pts: list) -> str:
        return ", ".join(f"{a:+.2f} ms ({b:+.1f} %)" for a, b in pts) or "none"
    text = (f"fit on |Δt| > {cut_ms:g} ms: {int(np.sum(np.abs(x) > cut_ms))} of {x.size} points; "
            f"left out: {fmt(out_pts)}; {len(odd)} points in (−4, 0) ms potentiate: {fmt(odd)}, "
            f"{len(kept)} of them in the LTD fit")
    return {"cut_off_ms": cut_ms, "n_fitted": int(np.sum(np.abs(x) > cut_ms)),
            "left_out": out_pts, "potentiating_in_minus_4_to_0_ms": odd,
            "potentiating_kept": kept, "text": text}
