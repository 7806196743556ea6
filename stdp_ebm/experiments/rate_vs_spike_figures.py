"""Figures of ``rate_vs_spike``: calibration, fixed points, nudged trajectories and the rule's ΔW
against the references over population size and trials, with 95 % intervals over the trials."""

from __future__ import annotations

import numpy as np

from ..plotting import figure, layer_colors, layer_name, legend_below, panel_label

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []


def _fig_calibration(data: dict, cfg: dict):
    from ..activation import HardSigmoid
    from ..spiking.calibration import FICurve
    from ..spiking.params import SpikingParams

    sp = SpikingParams.of(cfg)
    fi = FICurve(data["calib_s"], data["calib_rate_hz"], data["calib_sem_hz"], sp.r_max_hz)
    rho = fi.tabulate()
    hard = HardSigmoid(cfg["dynamics"]["beta1"], cfg["dynamics"]["beta2"])
    s = np.linspace(fi.s[0], fi.s[-1], 400)
    r_max = sp.r_max_hz
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
    """Δρ/β of the first units of each layer over the nudged phase, spiking (solid) vs the
    calibrated rate model (dashed), one colour per unit."""
    n_layers = len(summary["sizes"]) - 1
    n_units = cfg["rate_vs_spike"]["traj_units"]
    fig, axes = figure(n_layers, 1, width=2.6, height=2.4, sharex=True)
    unit_colors = ["C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9"]
    for k, ax in enumerate(axes, start=1):
        spk, rate = data[f"traj_spk_L{k}"], data[f"traj_rate_L{k}"]
        for u in range(min(n_units, spk.shape[1])):
            c = unit_colors[u % len(unit_colors)]
            ax.plot(data["traj_spk_time_ms"], spk[:, u], color=c, lw=1.0)
            ax.plot(data["traj_rate_time_ms"], rate[:, u], "--", color=c, lw=1.6)
        ax.axhline(0, color="0.7", lw=0.5)
        ax.set_xlabel("time since nudge onset (ms)")
        ax.set_title(layer_name(k, n_layers) + (" (output)" if k == n_layers else ""))
        panel_label(ax, "abcdefgh"[k - 1])
    axes[0].plot([], [], color="0.2", lw=1.0, label="spiking (Brian2 populations)")
    axes[0].plot([], [], "--", color="0.2", lw=1.6, label="calibrated rate model")
    for u in range(min(n_units, max(data[f"traj_spk_L{k}"].shape[1]
                                    for k in range(1, n_layers + 1)))):
        axes[0].plot([], [], color=unit_colors[u % len(unit_colors)], lw=3,
                     label=f"unit {u + 1} of the layer")
    legend_below(fig, axes[0], ncol=2 + min(n_units, len(unit_colors)))
    d = summary["default"]
    diff = {"symmetric": "(ρ(+β) − ρ(−β)) / 2β", "one_sided": "(ρ(+β) − ρ(β = 0)) / β"}.get(
        d["estimator"], "Δρ / β")
    axes[0].set_ylabel(diff)
    fig.suptitle(f"nudged phase of example 1: {diff}, β = {d['beta']:g}, "
                 f"n = {d['neurons_per_unit']} neurons per unit, "
                 f"{d['trials']} trial{'s' if d['trials'] != 1 else ''} averaged", fontsize=8)
    return fig


def _fig_alignment(data: dict, summary: dict):
    """cos and NRMSE of the tied rule vs N = n × trials: one line per population size n (marker)
    over the trial counts, colours by layer, with 95 % intervals over the trials (t ≥ 3); the
    statistical part of the error with a 1/√N line. Population sizes are set apart sideways where
    their N coincide."""
    metrics = list(data["metrics"])
    layers = list(data["layers"])
    pops, trials = data["populations"], data["trials"]
    colors = layer_colors(len(layers) - 1) + ["k"]
    markers = "os^vDP*X"
    dodge = np.exp(0.06 * (np.arange(len(pops)) - (len(pops) - 1) / 2))  # 6 % apart in N
    fig, (a, b) = figure(2, 1, width=3.5, height=3.0)
    for p, n in enumerate(pops):
        N = n * trials * dodge[p]
        mk = markers[p % len(markers)]
        for i, layer in enumerate(layers):
            for ref, ls in (("implicit", "-"), ("rate", "--")):
                table = data[f"sweep_sym_vs_{ref}"][p, :, i]
                label = (f"{layer}" if ref == "implicit" else None) if p == 0 else None
                style = dict(marker=mk, color=colors[i], lw=1.8 if layer == "all" else 1.0,
                             mfc="none" if ref == "rate" else colors[i], ms=4)
                for ax, m in ((a, 0), (b, 1)):
                    y = table[:, metrics.index(("cos", "nrmse")[m])]
                    ax.plot(N, y, ls, label=label if ax is a else None, **style)
                    ci = data.get(f"sweep_sym_vs_{ref}_ci") if ref == "implicit" else None
                    if ci is not None:
                        est, lo, hi = ci[p, :, i, m].T  # est: the plotted value at its own t
                        ok = np.isfinite(lo)
                        err = np.vstack([est[ok] - lo[ok], hi[ok] - est[ok]])
                        ax.errorbar(N[ok], est[ok], yerr=err, fmt="none", ecolor=colors[i],
                                    elinewidth=0.9, capsize=2)
        if "sweep_noise_nrmse" in data:
            b.plot(N, data["sweep_noise_nrmse"][p, :, -1], ":", marker=mk,
                   color="C3", label="statistical error (all)" if p == 0 else None)
        a.plot([], [], marker=mk, color="0.4", ls="none", label=f"n = {n}")
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
        ax.set_xlabel("N = neurons per unit n × trials t")
        panel_label(ax, lab)
    a.set_ylabel("cosine(ΔW_spiking, reference)")
    b.set_yscale("log")
    shown = [data[f"sweep_sym_vs_{r}"][..., metrics.index("nrmse")] for r in ("implicit", "rate")]
    b.set_ylim(bottom=0.5 * min(float(np.min(v[v > 0])) for v in shown))  # bars reaching 0: to the axis
    b.set_ylabel("NRMSE ‖ΔW − ref‖ / ‖ref‖")
    a.legend(loc="lower right", fontsize=7, ncol=2)
    if b.get_legend_handles_labels()[0]:  # the statistical-error curves need more than one trial
        b.legend(loc="lower left", fontsize=7)
    fig.suptitle("tied Brian2 rule (Eq 26) vs implicit gradient (solid, filled) and rate rule "
                 "(dashed, open)\nbars: 95 % jackknife intervals over the t noise trials (t ≥ 3), vs "
                 "the implicit gradient; markers of equal N set apart sideways", fontsize=8)
    return fig


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    return {"calibration": _fig_calibration(data, cfg),
            "fixed_points": _fig_fixed_points(data, summary),
            "trajectories": _fig_trajectories(data, summary, cfg),
            "alignment_vs_population": _fig_alignment(data, summary)}


