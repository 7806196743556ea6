"""Pairing-frequency dependence of STDP for each rule, against Sjöström et al. (2001).

All (Δt, frequency, repeat) combinations are pairs of one Brian2 run per rule. For a rule that is a
sum of a pair kernel K over ALL pre/post spike pairs (Eq 26, pair-based STDP; :mod:`stdp_ebm.stdp.kernels`),
at a pairing period T the change per pairing is Σ_m K(Δt + mT): once T is comparable to the
kernel's time constants the neighbouring pairings contribute with the opposite sign, and as T → 0
the sum tends to (1/T)∫K, which is 0 for Eq 26 (∫K = 0) and negative for pair-based STDP
(A− τ− > A+ τ+). Such rules cannot produce the LTP for both orders that Sjöström et al. found at
40–50 Hz; the triplet rule (Pfister & Gerstner 2006) can, through its post-pre-post term.

Sjöström et al.'s points (mean ± s.d., % change) are read from ``[data] dir`` when present; each
rule's ΔW is compared with them after ONE fitted scale factor per rule (all rule parameters fixed,
:func:`stdp_ebm.stdp.data.compare`), with the reported s.d. as per-point scatter.

data.npz: ``delta_t_ms``, ``frequencies_hz`` (axes); per rule ``RULE_mean``, ``RULE_sem`` (shape
(n_delta_t, n_frequencies), ΔW after ``n_pairings`` pairings), ``RULE_theory`` and
``RULE_curve_theory`` (on ``curve_frequencies_hz``) for rules with a kernel; ``data_sjostrom_*``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stdp import data as stdp_data, kernels
from ..config import Key, require
from ..plotting import figure, panel_label
from ..stdp.protocols import pairing
from . import Experiment, Result, RunContext
from .stdp_rules import DATA, SPIKING, data_dir, notes, rules, run_spiking, warn_absent
from .stdp_window import schedule_theory
from .stdp_window_figures import label

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

SCHEMA = {
    "protocol": {
        "delta_t_ms": Key("floats", [10.0, -10.0], "Δt = t_post − t_pre of the pairings",
                          low=-500.0, high=500.0),
        "frequencies_hz": Key("floats", [0.1, 1.0, 5.0, 10.0, 20.0, 40.0, 50.0],
                              "pairing frequencies", low=0.0, open_low=True, high=200.0),
        "n_pairings": Key("int", 15, "pairings per pair", low=1),
        "repeats": Key("int", 5, "independent pairs per (Δt, frequency)", low=1),
    },
    "spiking": SPIKING,
    "data": DATA,
}


def check(cfg: dict, source: str) -> None:
    p = cfg["protocol"]
    half = 500.0 / max(p["frequencies_hz"])
    require(max(abs(d) for d in p["delta_t_ms"]) <= half, source, "[protocol] delta_t_ms",
            p["delta_t_ms"], f"|Δt| must not exceed half the shortest pairing period ({half:g} ms)")


def run(cfg: dict, ctx: RunContext) -> Result:
    p = cfg["protocol"]
    rule_list = rules(cfg)
    delta, freq = (np.array(v) for v in (p["delta_t_ms"], p["frequencies_hz"]))
    d_pair = np.repeat(np.repeat(delta, freq.size), p["repeats"])
    f_pair = np.repeat(np.tile(freq, delta.size), p["repeats"])
    schedule = pairing(d_pair, p["n_pairings"], f_pair)
    shape = (delta.size, freq.size, p["repeats"])  # pairs ordered by Δt, frequency, repeat
    data = {"delta_t_ms": delta, "frequencies_hz": freq, "pair_delta_t_ms": d_pair,
            "pair_frequency_hz": f_pair,
            "curve_frequencies_hz": np.geomspace(freq.min(), freq.max(), 60)}
    summary: dict = {"rules": [r.name for r in rule_list], "skipped": notes(rule_list),
                     "n_pairings": p["n_pairings"], "repeats": p["repeats"],
                     "noise_mV": cfg["spiking"]["noise_mV"] if cfg["spiking"]["noise"] else 0.0,
                     "theory_rmse_fraction_of_max": {}}
    for rule in rule_list:
        res = run_spiking(schedule, cfg, ctx, rule)
        dw = res.delta_w.reshape(shape)
        data[f"{rule.name}_pair_delta_w"] = res.delta_w
        data[f"{rule.name}_mean"] = dw.mean(axis=2)
        data[f"{rule.name}_sem"] = dw.std(axis=2, ddof=1) / np.sqrt(p["repeats"]) \
            if p["repeats"] > 1 else np.zeros(shape[:2])
        summary["codegen_target"] = res.target
        if rule.kernel is not None:
            theory = schedule_theory(schedule, rule.kernel).reshape(shape).mean(axis=2)
            data[f"{rule.name}_theory"] = theory
            data[f"{rule.name}_curve_theory"] = np.array([schedule_theory(pairing(
                np.full(60, d), p["n_pairings"], data["curve_frequencies_hz"]), rule.kernel)
                for d in delta])
            summary["theory_rmse_fraction_of_max"][rule.name] = kernels.rmse_fraction(
                data[f"{rule.name}_mean"], theory)
    summary["sjostrom_points"] = _compare(rule_list, data, cfg)
    return Result(data, summary)


def _compare(rule_list, data: dict, cfg: dict) -> dict:
    """Each rule (one fitted scale) against Sjöström et al.'s points at the frequencies run."""
    where = data_dir(cfg)
    pts = stdp_data.sjostrom_points(where) if where else None
    if pts is None:
        warn_absent("Sjöström et al.'s points", " or ".join(stdp_data.SJOSTROM_FILES.values()), cfg)
        return {"present": False, "note": f"Sjöström et al.'s files not in [data] dir = "
                                          f"{cfg['data']['dir']!r}: points not plotted"}
    delta, freq = list(data["delta_t_ms"]), list(data["frequencies_hz"])
    use = [d for d in pts if d in delta and all(f in freq for f in pts[d].x)]
    if not use:
        return {"present": False, "note": "the protocol does not contain Δt = ±10 ms at "
                                          "0.1, 10, 20, 40, 50 Hz: no comparison"}
    y = np.concatenate([pts[d].y for d in use])
    sd = np.concatenate([pts[d].sd for d in use])
    for d in use:
        data[f"data_sjostrom_{d:+g}_y"], data[f"data_sjostrom_{d:+g}_sd"] = pts[d].y, pts[d].sd
    out: dict[str, Any] = {"present": True, "source": pts[use[0]].source, "delta_t_ms": use,
           "frequencies_hz": list(pts[use[0]].x), "rules": {}}
    for r in rule_list:
        curve = np.concatenate([data[f"{r.name}_mean"][delta.index(d),
                                                       [freq.index(f) for f in pts[d].x]]
                                for d in use])
        out["rules"][r.name] = stdp_data.compare(curve, y, sd)
    return out


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    delta = list(data["delta_t_ms"])
    fig, axes = figure_panels(len(delta))
    f = data["frequencies_hz"]
    ref = summary["sjostrom_points"]
    for ax, (i, d) in zip(axes, enumerate(delta)):
        for k, name in enumerate(summary["rules"]):
            scale = ref["rules"][name]["scale"] if ref["present"] else \
                1.0 / np.max(np.abs(data[f"{name}_mean"]))
            extra = (f" × {scale:.3g} (RMSE {ref['rules'][name]['rmse']:.0f} %)"
                     if ref["present"] else " (÷ its max |ΔW|)")
            ax.errorbar(f, scale * data[f"{name}_mean"][i], yerr=scale * data[f"{name}_sem"][i],
                        fmt="o-", ms=3, lw=1.0, capsize=1.5, color=f"C{k}",
                        label=label(name) + extra)
        key = f"data_sjostrom_{d:+g}_y"
        if key in data:
            ax.errorbar(ref["frequencies_hz"], data[key], yerr=data[f"data_sjostrom_{d:+g}_sd"],
                        fmt="s", mfc="none", color="k", capsize=2,
                        label="Sjöström et al. 2001 (mean ± s.d., digitised)")
        ax.set_xscale("log")
        ax.set_xlabel("pairing frequency (Hz)")
        ax.axhline(0, color="0.4", lw=0.7, ls="--")
        ax.set_title(f"Δt = {d:+g} ms".replace("-", "−"), fontsize=8.5)
        ax.set_ylabel("change of the EPSP (%)" if ref["present"] else "ΔW / max |ΔW| of each rule")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.3)
    note = "" if ref["present"] else "; Sjöström et al.'s points absent (see [data] dir)"
    sem = max(float(np.max(data[f"{n}_sem"] / np.max(np.abs(data[f"{n}_mean"]))))
              for n in summary["rules"])
    fig.suptitle(f"{summary['n_pairings']} pairings per frequency, {summary['repeats']} repeats, "
                 f"membrane noise {summary['noise_mV']:g} mV; rule error bars: s.e.m. (at most "
                 f"{100 * sem:.2g} % of each rule's largest change){note}", fontsize=8)
    return {"frequency": fig}


def figure_panels(n: int):
    """One panel per Δt, lettered."""
    fig, axes = figure(n, 1, width=3.8, height=4.2)
    for ax, lab in zip(axes, "abcdefgh"):
        panel_label(ax, lab)
    return fig, axes


#: the ``stdp_frequency`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="stdp_frequency",
    doc="Pairing-frequency dependence of STDP for Eq 26, pair-based and triplet rules vs "
        "Sjöström et al. 2001 (one Brian2 run per rule).",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
