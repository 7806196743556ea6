"""The STDP window from random spike trains, in the spirit of Bengio et al. (arXiv:1509.05936;
Neural Computation 29:555, 2017), beside the spike-pair protocol's window.

What their abstracts say (the only parts of the paper this project could read; docs/stdp.md lists
the pages): spike-based simulations in which the weight change follows the rate rule (pre rate
× rate of change of post activity) agree with the relationship between spike timing and the
temporal change of postsynaptic activity, and show a strong correlation with the biologically
observed STDP curve. Their rates, durations, binning and pairing are not known here, so the
protocol below is this project's: ``pairs`` synapses, each between its own independent Poisson
pre and post train at a constant ``rate_hz`` for ``duration_s`` (post spikes evoked by current
pulses, so the trains are uncorrelated; the rule's rates are its filtered spike trains), and each
synapse's ΔW attributed to its pre/post spike pairs by least squares::

    ΔW_k = Σ_b c_b · N_kb + c_out · N_k,out,

where N_kb counts the pairs of synapse k whose lag t_post − t_pre falls in bin b (width ``bin_ms``,
|lag| < ``max_lag_ms``) and N_k,out those further apart. c_b is the mean weight change per spike
pair at lag b: exactly the bin average of the pair kernel K for a rule that is a sum over pairs
(Eq 26, pair-based STDP), and the best pairwise description of a rule that is not (the triplet
rule, whose LTP needs a preceding post spike). Intervals: 95 % percentile bootstrap over synapses.
As in their comparison with biology, each rule's c_b is correlated with Bi & Poo's points (read
from ``[data] dir`` when present) and scaled to them by one fitted factor.

The spike-pair protocol (``[paired]``) runs in the same Brian2 network; its ΔW per pairing is the
window it measures, in the same units (ΔW per pre/post spike pair).

data.npz: ``lag_ms`` (bin centres); per rule ``RULE_c``, ``RULE_c_lo``, ``RULE_c_hi``,
``RULE_paired`` (at ``paired_delta_t_ms``), ``RULE_theory_bins`` (bin-averaged K, rules with a
kernel), ``RULE_delta_w`` (per random-train synapse); ``data_bi_poo_{x_ms,y}`` when present.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stdp import data as stdp_data, kernels
from ..config import Key, require
from ..plotting import figure, panel_label
from ..stdp.protocols import concat, pairing, poisson
from . import Experiment, Result, RunContext
from .stdp_rules import DATA, SPIKING, data_dir, notes, rules, run_spiking, warn_absent
from .stdp_window_figures import label

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

SCHEMA = {
    "protocol": {
        "pairs": Key("int", 600, "independent random-train synapses", low=10),
        "rate_hz": Key("float", 10.0, "rate of every pre and post Poisson train", low=0.0,
                       open_low=True, high=100.0),
        "duration_s": Key("float", 30.0, "length of the trains", low=0.0, open_low=True),
        "bin_ms": Key("float", 4.0, "width of the lag bins", low=0.0, open_low=True),
        "max_lag_ms": Key("float", 100.0, "bins cover |t_post − t_pre| below this", low=0.0,
                          open_low=True),
        "n_boot": Key("int", 200, "bootstrap resamples over synapses", low=20),
    },
    "paired": {
        "delta_t_ms": Key("floats", [-100.0, -60.0, -40.0, -25.0, -15.0, -10.0, -6.0, -2.0, 2.0,
                                     6.0, 10.0, 15.0, 25.0, 40.0, 60.0, 100.0],
                          "Δt of the spike-pair protocol run beside", low=-400.0, high=400.0),
        "n_pairings": Key("int", 5, "pairings per Δt", low=1),
        "frequency_hz": Key("float", 1.0, "pairing frequency", low=0.0, open_low=True, high=10.0),
    },
    "spiking": SPIKING,
    "data": DATA,
}


def check(cfg: dict, source: str) -> None:
    p = cfg["protocol"]
    n_bins = 2 * p["max_lag_ms"] / p["bin_ms"]
    require(n_bins + 1 < p["pairs"] / 2, source, "[protocol] pairs", p["pairs"],
            f"must exceed twice the number of unknowns ({n_bins:g} lag bins + 1)")
    period = 1e3 / cfg["paired"]["frequency_hz"]
    require(max(abs(d) for d in cfg["paired"]["delta_t_ms"]) < period / 2, source,
            "[paired] delta_t_ms", cfg["paired"]["delta_t_ms"],
            f"|Δt| must stay below half the pairing period ({period / 2:g} ms)")


def lag_counts(pre: list[np.ndarray], post: list[np.ndarray], edges_s: np.ndarray) -> np.ndarray:
    """Per synapse, the number of (pre, post) pairs per lag bin, plus all pairs outside the bins."""
    rows = []
    for a, b in zip(pre, post):
        lags = (b[None, :] - a[:, None]).ravel()
        hist = np.histogram(lags, edges_s)[0]
        rows.append(np.append(hist, lags.size - hist.sum()))
    return np.array(rows, float)


def attribute(counts: np.ndarray, delta_w: np.ndarray, rng: np.random.Generator, n_boot: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares weight change per pair and lag bin (module docstring) with 95 % bootstrap
    intervals over synapses; the last column (pairs outside the bins) is dropped from the output."""
    coef = np.linalg.lstsq(counts, delta_w, rcond=None)[0]
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, delta_w.size, delta_w.size)
        boots.append(np.linalg.lstsq(counts[idx], delta_w[idx], rcond=None)[0])
    lo, hi = np.percentile(np.array(boots), [2.5, 97.5], axis=0)
    return coef[:-1], lo[:-1], hi[:-1]


def run(cfg: dict, ctx: RunContext) -> Result:
    p, q = cfg["protocol"], cfg["paired"]
    rule_list = rules(cfg)
    paired = pairing(np.array(q["delta_t_ms"]), q["n_pairings"], q["frequency_hz"])
    trains = poisson(p["rate_hz"], p["duration_s"], p["pairs"], ctx.seeds.rng("poisson"))
    schedule, (part_p, part_r) = concat(paired, trains)
    edges = np.arange(-p["max_lag_ms"], p["max_lag_ms"] + 1e-9, p["bin_ms"]) * 1e-3
    data = {"lag_ms": 0.5 * (edges[1:] + edges[:-1]) * 1e3,
            "paired_delta_t_ms": np.array(q["delta_t_ms"])}
    summary: dict = {"rules": [r.name for r in rule_list], "skipped": notes(rule_list),
                     "protocol": p, "paired": q, "per_rule": {},
                     "noise_mV": cfg["spiking"]["noise_mV"] if cfg["spiking"]["noise"] else 0.0}
    for rule in rule_list:
        res = run_spiking(schedule, cfg, ctx, rule)
        pre = [res.pre_t[res.pre_i == k] for k in range(part_r.start, part_r.stop)]
        post = [res.post_t[res.post_i == k] for k in range(part_r.start, part_r.stop)]
        counts = lag_counts(pre, post, edges)
        dw = res.delta_w[part_r]
        c, lo, hi = attribute(counts, dw, ctx.seeds.rng(f"bootstrap_{rule.name}"), p["n_boot"])
        per_pairing = res.delta_w[part_p] / q["n_pairings"]
        data.update({f"{rule.name}_c": c, f"{rule.name}_c_lo": lo, f"{rule.name}_c_hi": hi,
                     f"{rule.name}_paired": per_pairing, f"{rule.name}_delta_w": dw})
        summary["per_rule"][rule.name] = _agreement(rule, data, c, lo, hi, per_pairing, edges)
        summary["codegen_target"] = res.target
    summary["bi_poo_points"] = _bi_poo(summary["rules"], data, cfg)
    return Result(data, summary)


def _bi_poo(names: list[str], data: dict, cfg: dict) -> dict:
    """Each rule's random-train window against Bi & Poo's points (|Δt| within the outermost bin
    centres, so nothing is extrapolated):
    Pearson correlation, as Bengio et al. compared their simulations with the biological STDP
    curve, and the RMSE after one fitted scale (stdp_data.compare)."""
    where = data_dir(cfg)
    pts = stdp_data.bi_poo_points(where) if where else None
    if pts is None:
        warn_absent("Bi & Poo's points", stdp_data.BI_POO_FILE, cfg)
        return {"present": False, "note": f"no {stdp_data.BI_POO_FILE} in [data] dir = "
                                          f"{cfg['data']['dir']!r}: points not compared"}
    keep = np.abs(pts.x) < data["lag_ms"].max()
    x, y = pts.x[keep], pts.y[keep]
    data["data_bi_poo_x_ms"], data["data_bi_poo_y"] = x, y
    out: dict[str, Any] = {"present": True, "source": pts.source, "n": int(x.size), "rules": {}}
    for name in names:
        curve = np.interp(x, data["lag_ms"], data[f"{name}_c"])
        fit = stdp_data.compare(curve, y, 1.0)
        out["rules"][name] = {"corr": float(np.corrcoef(curve, y)[0, 1]), "scale": fit["scale"],
                              "rmse_percent": fit["rmse"], "rmse_ci": fit["rmse_ci"],
                              "fitted": fit["fitted"], "fixed": fit["fixed"]}
    return out


def _agreement(rule, data: dict, c, lo, hi, per_pairing, edges) -> dict:
    """How the random-train window compares with the paired one (and the theory, if any)."""
    lag = data["lag_ms"]
    paired_at = np.interp(lag, data["paired_delta_t_ms"], per_pairing)
    inside = (lag > data["paired_delta_t_ms"].min()) & (lag < data["paired_delta_t_ms"].max())
    scale = np.max(np.abs(per_pairing))
    out = {"corr_with_paired": float(np.corrcoef(c[inside], paired_at[inside])[0, 1]),
           "rmse_vs_paired_fraction_of_max": float(np.sqrt(np.mean((c - paired_at)[inside] ** 2))
                                                   / scale),
           "ci_half_width_median_fraction_of_max": float(np.median(hi - lo) / 2 / scale)}
    if rule.kernel is not None:
        fine = np.linspace(edges[0], edges[-1], 40 * lag.size + 1)
        k = rule.kernel(0.5 * (fine[1:] + fine[:-1]))
        theory = k.reshape(lag.size, 40).mean(axis=1)  # K averaged over each bin
        data[f"{rule.name}_theory_bins"] = theory
        out["theory_within_95_ci_fraction"] = float(np.mean((lo <= theory) & (theory <= hi)))
        out["rmse_vs_theory_fraction_of_max"] = kernels.rmse_fraction(c, theory)
    return out


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    names = summary["rules"]
    fig, axes = figure(len(names), 1, width=3.9, height=3.6)
    lag, ref = data["lag_ms"], summary.get("bi_poo_points", {"present": False})
    for ax, name, lab in zip(axes, names, "abcdef"):
        c, lo, hi = data[f"{name}_c"], data[f"{name}_c_lo"], data[f"{name}_c_hi"]
        ax.fill_between(lag, lo, hi, step="mid", color="C0", alpha=0.25, lw=0,
                        label="random trains: 95 % bootstrap interval")
        ax.step(lag, c, where="mid", color="C0", lw=1.0, label="random trains: ΔW per pair")
        ax.plot(data["paired_delta_t_ms"], data[f"{name}_paired"], "o-", color="C3", ms=3,
                lw=1.0, label="spike-pair protocol: ΔW per pairing")
        if ref["present"] and ref["rules"][name]["scale"] > 0:
            ax.plot(data["data_bi_poo_x_ms"], data["data_bi_poo_y"] / ref["rules"][name]["scale"],
                    "o", mfc="none", mec="0.35", ms=3, mew=0.7,
                    label="Bi & Poo 1998: % change ÷ one fitted scale")
        if f"{name}_theory_bins" in data:
            ax.step(lag, data[f"{name}_theory_bins"], where="mid", color="k", ls=":", lw=1.0,
                    label="theory K(Δt), bin average")
        ax.axhline(0, color="0.4", lw=0.7, ls="--")
        ax.axvline(0, color="0.4", lw=0.7, ls="--")
        ax.set_xlabel("Δt = t_post − t_pre (ms)")
        ax.set_ylabel("ΔW per spike pair (units of W₀)")
        corr = (f"\nr = {ref['rules'][name]['corr']:.2f} with Bi & Poo's points"
                if ref["present"] else "\nBi & Poo points absent (see [data] dir)")
        ax.set_title(label(name) + corr, fontsize=8.5)
        panel_label(ax, lab)
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.5)
    p, q = summary["protocol"], summary["paired"]
    fig.suptitle(f"random trains: {p['pairs']} synapses, independent Poisson pre/post at "
                 f"{p['rate_hz']:g} Hz for {p['duration_s']:g} s, lags in {p['bin_ms']:g} ms bins; "
                 f"pairs: {q['n_pairings']} pairings at {q['frequency_hz']:g} Hz; "
                 f"noise {summary['noise_mV']:g} mV", fontsize=7.5)
    return {"random_trains": fig}


#: the ``stdp_random_trains`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="stdp_random_trains",
    doc="STDP window from random pre/post spike trains (after Bengio et al.; least-squares "
        "attribution to spike pairs) beside the spike-pair protocol and Bi & Poo's points.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
