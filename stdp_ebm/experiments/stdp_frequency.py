"""Pairing-frequency dependence of the rule's STDP (Sjöström, Turrigiano & Nelson 2001).

All (Δt, frequency, repeat) combinations are pairs of one Brian2 run. Because ΔW of the rule is a
sum of the pair kernel K over ALL pre/post spike pairs (:mod:`stdp_ebm.stdp`), at a pairing period
T the change per pairing is Σ_m K(Δt + mT): once T is comparable to the filters' time constants the
neighbouring pairings contribute with the opposite sign, and as T → 0 the sum tends to (1/T)∫K = 0.
The rule therefore predicts that the timing dependence fades at high frequency; it cannot produce
the LTP-for-both-orders that Sjöström et al. found at 40-50 Hz (a nonlinearity would be needed).

data.npz: ``delta_t_ms``, ``frequencies_hz`` (axes), ``mean``, ``sem``, ``theory`` (shape
(n_delta_t, n_frequencies), ΔW after ``n_pairings`` pairings), ``sign`` (:func:`rule_sign`),
``curve_frequencies_hz`` and ``curve_theory`` (n_delta_t, 60): theory on a fine frequency grid,
``pair_*`` per pair.
"""

from __future__ import annotations

import tomllib
from importlib import resources

import numpy as np

from .. import stdp
from ..config import Key, require
from ..plotting import figure, panel_label
from ..protocols import pairing
from . import Experiment, Result, RunContext
from .stdp_window import SPIKING, kernel_for, run_spiking, schedule_theory

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
}


def check(cfg: dict, source: str) -> None:
    p = cfg["protocol"]
    half = 500.0 / max(p["frequencies_hz"])
    require(max(abs(d) for d in p["delta_t_ms"]) <= half, source, "[protocol] delta_t_ms",
            p["delta_t_ms"], f"|Δt| must not exceed half the shortest pairing period ({half:g} ms)")


def sjostrom() -> dict:
    """The qualitative finding shipped in ``stdp_ebm/data/sjostrom_2001.toml``."""
    text = resources.files("stdp_ebm").joinpath("data/sjostrom_2001.toml").read_text("utf-8")
    return tomllib.loads(text)


def run(cfg: dict, ctx: RunContext) -> Result:
    p = cfg["protocol"]
    delta, freq = (np.array(v) for v in (p["delta_t_ms"], p["frequencies_hz"]))
    d_pair = np.repeat(np.repeat(delta, freq.size), p["repeats"])
    f_pair = np.repeat(np.tile(freq, delta.size), p["repeats"])
    schedule = pairing(d_pair, p["n_pairings"], f_pair)
    res = run_spiking(schedule, cfg, ctx)
    kernel = kernel_for(cfg)
    theory = schedule_theory(schedule, kernel)
    shape = (delta.size, freq.size, p["repeats"])  # pairs are ordered Δt, then frequency, then repeat
    dw = res.delta_w.reshape(shape)
    sem = dw.std(axis=2, ddof=1) / np.sqrt(p["repeats"]) if p["repeats"] > 1 else 0 * dw[..., 0]
    data = {"delta_t_ms": delta, "frequencies_hz": freq, "mean": dw.mean(axis=2), "sem": sem,
            "theory": theory.reshape(shape).mean(axis=2), "pair_delta_t_ms": d_pair,
            "pair_frequency_hz": f_pair, "pair_delta_w": res.delta_w}
    data["sign"] = rule_sign(data["mean"], data["sem"])
    data["curve_frequencies_hz"] = np.geomspace(freq.min(), freq.max(), 60)
    data["curve_theory"] = np.array([schedule_theory(pairing(
        np.full(60, d), p["n_pairings"], data["curve_frequencies_hz"]), kernel) for d in delta])
    return Result(data, _summary(data, res.target, p["n_pairings"]))


def rule_sign(mean: np.ndarray, sem: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """+1/−1 where |mean| exceeds both 2 s.e.m. and ``floor`` × max|mean|, else 0 (no change)."""
    small = np.abs(mean) <= np.maximum(2 * sem, floor * np.max(np.abs(mean)))
    return np.where(small, 0, np.sign(mean)).astype(int)


def _summary(data: dict, target: str, n_pairings: int) -> dict:
    ref = sjostrom()["signs"]
    rows = []
    for i, d in enumerate(data["delta_t_ms"]):
        for j, f in enumerate(data["frequencies_hz"]):
            rows.append({"delta_t_ms": float(d), "frequency_hz": float(f),
                         "mean": float(data["mean"][i, j]), "sem": float(data["sem"][i, j]),
                         "theory": float(data["theory"][i, j]), "sign": int(data["sign"][i, j])})
    return {"cells": rows, "n_pairings": n_pairings, "codegen_target": target,
            "theory_rmse_fraction_of_max": stdp.rmse_fraction(data["mean"], data["theory"]),
            "sjostrom_2001_signs": ref}


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    fig, (a, b) = figure(2, 1, width=3.6, height=2.9)
    f = data["frequencies_hz"]
    for i, d in enumerate(data["delta_t_ms"]):
        color = "C0" if d > 0 else "C3"
        a.errorbar(f, data["mean"][i], yerr=data["sem"][i], fmt="o", color=color, capsize=1.5,
                   label=f"simulation, Δt = {d:+g} ms (mean ± s.e.m.)")
        a.plot(data["curve_frequencies_hz"], data["curve_theory"][i], ":", color=color, lw=1.2,
               label=f"theory, Δt = {d:+g} ms")
        b.plot(f, data["sign"][i], "o-", color=color, label=f"rule, Δt = {d:+g} ms")
    ref = summary["sjostrom_2001_signs"]
    for key, d, color in (("plus_10_ms", 10, "C0"), ("minus_10_ms", -10, "C3")):
        b.plot(ref["frequencies_hz"], ref[key], "s--", mfc="none", color=color, alpha=0.7,
               label=f"Sjöström et al. 2001, Δt = {d:+d} ms (qualitative)")
    for ax, lab in ((a, "a"), (b, "b")):
        ax.set_xscale("log")
        ax.set_xlabel("pairing frequency (Hz)")
        ax.axhline(0, color="0.4", lw=0.7, ls="--")
        panel_label(ax, lab)
    a.set_ylabel(f"ΔW/W₀ after {summary['n_pairings']} pairings")
    b.set_ylabel("sign of ΔW")
    b.set_yticks([-1, 0, 1], ["LTD", "none", "LTP"])
    a.legend(loc="best", fontsize=6.3)
    b.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.3)
    return {"frequency": fig}


EXPERIMENT = Experiment(
    name="stdp_frequency",
    doc="Pairing-frequency dependence of the rule's STDP vs Sjöström et al. 2001 (one Brian2 run).",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
