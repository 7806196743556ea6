"""Figures of the STDP window experiment, drawn from data.npz and summary.json alone."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..plotting import figure, panel_label

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []

RULE_LABELS = {"rule_synapse": "Eq 26 (Bengio et al. 2017)", "pair_stdp": "pair-based STDP",
               "triplet_stdp": "triplet STDP (Pfister & Gerstner 2006)"}
#: data units: a rule's ΔW is dimensionless, in units of the synapse's initial weight (its model
#: variable w0 = 1, the weight that scales the EPSP)
DW_LABEL = "weight change Δw (initial weight w0 = 1)"


def label(name: str) -> str:
    return RULE_LABELS.get(name, name)


def _digits(value: float, lo: float, hi: float) -> int:
    """Significant digits that resolve the interval [lo, hi] around ``value`` (at least 3)."""
    width = abs(hi - lo)
    if not np.isfinite(width) or width == 0 or value == 0:
        return 3
    return int(max(3, np.ceil(np.log10(abs(value) / width)) + 2))


def fit_text(fit: dict, unit: str = "") -> str:
    """Fitted parameters with their 95 % intervals, or why a side failed."""
    parts = []
    for side, sym in (("plus", "+"), ("minus", "−")):
        a, t = fit[f"a_{side}"], fit[f"tau_{side}"]
        if side in fit.get("degenerate", {}):  # an estimate without an interval
            why = fit["degenerate"][side].split(" (")[0]  # the reason without its numbers
            parts.append(f"A{sym} = {a:.6g}{unit}, τ{sym} = {t:.6g} ms; NO INTERVAL: {why}")
            continue
        if side in fit["problems"]:
            parts.append(f"{sym} side: FIT FAILED ({fit['problems'][side]})")
            continue
        (alo, ahi), (tlo, thi) = fit[f"a_{side}_ci"], fit[f"tau_{side}_ci"]
        da, dt = _digits(a, alo, ahi), _digits(t, tlo, thi)

        def g(v: float, d: int) -> str:
            return f"{v:#.{d}g}".rstrip(".")
        parts.append(f"A{sym} = {g(a, da)}{unit} [{g(alo, da)}, {g(ahi, da)}], "
                     f"τ{sym} = {g(t, dt)} ms [{g(tlo, dt)}, {g(thi, dt)}]")
    return "\n".join(_wrap(p, 95) for p in parts)


def _protocol(summary: dict) -> str:
    p = summary["protocol"]
    return (f"{p['n_pairings']} pairings at {p['frequency_hz']:g} Hz, "
            f"{p['repeats']} repeats per Δt, "
            f"membrane noise {summary['noise_mV']:g} mV; {summary['n_pairs']} pairs per rule")


def _panel_rule(ax, data: dict, summary: dict) -> None:
    name = summary["rule"]
    fit = summary["fits"][name]
    x, mean, sem = data[f"{name}_x_ms"], data[f"{name}_mean"], data[f"{name}_sem"]
    t = data["curve_t_ms"]
    if "curve_theory" in data:
        ax.plot(t, data["curve_theory"], ":", color="k", lw=1.2,
                label="theory Σ K(Δt) (noise-free)")
    cut = fit["excluded_ms"]
    failed = set(fit["problems"]) - set(fit.get("degenerate", {}))
    head = f"fit on |Δt| > {cut:g} ms, 95 % BCa bootstrap intervals over the repeats" + (
        " (a failed side has no curve)" if failed else "")
    if cut > 0:
        ax.axvspan(-cut, cut, color="0.9", lw=0, label=f"|Δt| ≤ {cut:g} ms: not fitted")
    for sgn in (-1, 1):  # a failed side is NaN and draws nothing; its reason is in the legend
        part = (np.sign(t) == sgn) & (np.abs(t) > cut)  # not through the excluded zone
        ax.plot(t[part], data["curve_fit"][part], color="C0", lw=1.2,
                label=head + ":\n" + fit_text(fit) if sgn > 0 else None)
    rel = summary["max_sem_fraction_of_max_mean"]
    ax.errorbar(x, mean, yerr=sem, fmt="o", color="C0", ms=3, capsize=1.5,
                label=f"simulation: mean ± s.e.m. at the measured Δt\n(largest s.e.m. = "
                      f"{100 * rel:.2g} % of the peak)")
    if f"{name}_mean_tied" in data:
        ax.plot(x, data[f"{name}_mean_tied"], "s", color="0.55", ms=2.5,
                label="tied form d(ρ_i ρ_j)/dt")
    ax.axhline(0, color="0.4", lw=0.7, ls="--")
    ax.axvline(0, color="0.4", lw=0.7, ls="--")
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.set_ylabel(DW_LABEL)
    status = "" if fit["ok"] else (": fit failed (see below)" if failed else
                                   ": no intervals (see below)")
    ax.set_title(label(name) + status, fontsize=8.5, color="k" if fit["ok"] else "C3")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.5)


def _panel_compare(ax, data: dict, summary: dict) -> None:
    ref = summary["bi_poo_points"]
    markers = "osd^v"
    if ref["present"]:
        for i, name in enumerate(summary["rules"]):
            c = ref["rules"][name]
            _sides(ax, data[f"{name}_x_ms"], c["scale"] * data[f"{name}_mean"],
                   marker=markers[i % 5], ms=2.5, lw=1.0, color=f"C{i}",
                   label=f"{label(name)} × {c['scale']:.3g} (one fitted scale; "
                         f"RMSE {c['rmse']:.1f} %, log L {c['log_likelihood']:.0f})")
        ax.plot(data["data_bi_poo_x_ms"], data["data_bi_poo_y"], "o", mfc="none", color="k",
                ms=4, label=f"Bi & Poo 1998, {ref['n']} cell pairs (digitised)")
        t, cut = data["curve_t_ms"], ref["fit"]["excluded_ms"]
        sel = ref.get("selection", {}).get("text", f"fit on |Δt| > {cut:g} ms")
        if cut > 0:  # the points the fit leaves out, as in panel a
            ax.axvspan(-cut, cut, color="0.9", lw=0, zorder=0,
                       label=f"|Δt| ≤ {cut:g} ms: points not fitted")
        for sgn in (-1, 1):  # each side on its fitted range only; a failed side is NaN
            part = (np.sign(t) == sgn) & (np.abs(t) > cut)
            ax.plot(t[part], data["curve_bi_poo_fit"][part], "--", color="0.5", lw=1.0,
                    label=("double-exponential fit to the points, 95 % BCa bootstrap over "
                           "points;\n" + _wrap(sel) + ":\n" + fit_text(ref["fit"], " %"))
                    if sgn > 0 else None)
        ax.set_ylabel("change of the EPSC amplitude (%)")
        ax.set_title("rules scaled to Bi & Poo's points (all rule parameters fixed)", fontsize=8.5)
    else:
        for i, name in enumerate(summary["rules"]):
            mean = data[f"{name}_mean"]
            _sides(ax, data[f"{name}_x_ms"], mean / np.max(np.abs(mean)), marker=markers[i % 5],
                   ms=2.5, lw=1.0, color=f"C{i}", label=label(name))
        ax.set_ylabel("ΔW / max |ΔW| of each rule")
        ax.set_title("Bi & Poo points absent (see [data] dir)", fontsize=8.5)
    ax.axhline(0, color="0.4", lw=0.7, ls="--")
    ax.axvline(0, color="0.4", lw=0.7, ls="--")
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.5)


def _sides(ax, x: np.ndarray, y: np.ndarray, label: str, **kw) -> None:
    """Points joined by lines within each side of Δt = 0, never across it."""
    for sgn in (-1, 1):
        part = np.sign(x) == sgn
        ax.plot(x[part], y[part], "-", label=label if sgn > 0 else None, **kw)


def _wrap(text: str, width: int = 70) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width))


def _window_figure(data: dict, summary: dict):
    fig, (a, b) = figure(2, 1, width=4.4, height=5.2)
    _panel_rule(a, data, summary)
    _panel_compare(b, data, summary)
    for ax, lab in ((a, "a"), (b, "b")):
        panel_label(ax, lab)
    fig.suptitle("STDP window, spike-pair protocol: " + _protocol(summary), fontsize=8)
    return fig


def symbol(name: str) -> str:
    """A model parameter's name as a symbol: tau_pre_decay → τ_pre,decay (mathtext)."""
    if name.startswith("tau"):
        rest = name[3:].strip("_").replace("_", ",")
        return rf"$\tau_{{\mathrm{{{rest}}}}}$" if rest else r"$\tau$"
    return name


def _sweep_figure(data: dict):
    fig, axes = figure(2, 1, width=3.2, height=2.8)
    names = [symbol(str(v)) for v in data["sweep_param_names"]]
    pre, post = data["sweep_plus_param_ms"], data["sweep_minus_param_ms"]
    for ax, x, keep, xlabel, lab in (
            (axes[0], pre, post == np.median(post), f"{names[0]} of the model (ms)", "a"),
            (axes[1], post, pre == np.median(pre), f"{names[1]} of the model (ms)", "b")):
        order = np.argsort(x[keep])
        for name, color in (("plus", "C0"), ("minus", "C3")):
            sym = "+" if name == "plus" else "−"
            ax.plot(x[keep][order], data[f"sweep_theory_tau_{name}_ms"][keep][order], "-",
                    color=color, lw=1.0, label=f"τ{sym} theory")
            ax.plot(x[keep][order], data[f"sweep_sim_tau_{name}_ms"][keep][order], "o",
                    color=color, label=f"τ{sym} simulation (noise off)")
        lim = [0, 1.1 * max(np.max(x), np.nanmax(data["sweep_sim_tau_minus_ms"]))]
        ax.plot(lim, lim, color="0.7", lw=0.8, ls="--", label="identity")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fitted τ± of the window (ms)")
        panel_label(ax, lab)
    axes[0].legend(loc="upper left", fontsize=6.5)
    fig.suptitle(f"τ+ follows {names[0]}, τ− follows {names[1]} (noise off, no intervals)",
                 fontsize=9)
    return fig


def _control_figure(data: dict, summary: dict, cfg: dict):
    fig, (ax,) = figure(1, 1, width=3.6, height=3.2)
    c = summary["control"]
    p = cfg["control"]
    ax.hist(data["control_delta_w"], bins=20, color="C2", alpha=0.7,
            label=f"Poisson pairs (n = {c['n']})")
    ax.axvline(0, color="0.4", lw=0.7, ls="--", label="Δw = 0 (no net change)")
    ax.axvspan(c["mean"] - 2 * c["sem"], c["mean"] + 2 * c["sem"], color="k", alpha=0.15,
               label=f"mean ± 2 s.e.m. = {c['mean']:.2g} ± {2 * c['sem']:.2g}")
    if "theory_mean" in c:  # rate² T ∫K: 0 for Eq 26, negative for pair-based STDP
        ax.axvline(c["theory_mean"], color="k", lw=1.0, ls=":",
                   label=f"theory mean Σ K over the recorded spikes = {c['theory_mean']:.2g}")
    ax.set_xlabel(f"Δw of {label(summary['rule'])}, initial weight w0 = 1")
    ax.set_ylabel("number of pre/post pairs")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Control: independent Poisson pre and post trains\n({p['rate_hz']:g} Hz each, "
                 f"{p['duration_s']:g} s, no pairing): is the net Δw zero?", fontsize=8)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=6.5)
    return fig


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    out = {"window": _window_figure(data, summary)}
    if "sweep_plus_param_ms" in data and data["sweep_plus_param_ms"].size:
        out["tau_sweep"] = _sweep_figure(data)
    if "control" in summary:
        out["control"] = _control_figure(data, summary, cfg)
    return out
