"""Figures of ``train_spiking``: learning curves with 95 % intervals, ΔW alignment over training,
first-batch ΔW against the implicit gradient."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..analysis import mcnemar
from ..plotting import (error_floor, figure, layer_colors, layer_name, log_percent_axis,
                        mark_floor, panel_label, plot_percent)

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []

LEARNERS = {"spk": "Brian2 rule synapses", "rate": "rate model, ρ_LIF"}


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    """Learning curves, first-batch ΔW (a finished run) and the alignment record (if any)."""
    out = {"learning_curves": _fig_curves(data, summary)}
    if "epochs_done" not in summary:  # a finished run (one in progress has no first-batch ΔW)
        out["first_batch_dW"] = _fig_dw(data, summary)
    if any(len(data.get(f"{m}_align_batch", [])) for m in LEARNERS):
        out["alignment"] = _fig_alignment(data, summary, cfg["learner"]["align_every"])
    return out


def _layer_names(sizes: list[int]) -> list[str]:
    """W_k between its two layers, named x, h_1 … h_L, y bottom-up."""
    names = [layer_name(k, len(sizes) - 1) for k in range(len(sizes))]
    return [f"W_{k} ({names[k]}–{names[k + 1]})" for k in range(len(sizes) - 1)]


def _fig_curves(data: dict, summary: dict):
    """Test error with its 95 % Wilson interval (band) and the running train error, per epoch;
    the two learners compared on the same test images by the exact McNemar test (title)."""
    fig, (ax,) = figure(1, 1, width=4.0, height=3.2)
    colors = dict(zip(LEARNERS, layer_colors(2)))
    n_most = max(summary["n_train"], summary["n_test"])
    floor = error_floor(n_most)
    zeros = False
    for m, label in LEARNERS.items():
        if f"{m}_test_error" not in data:  # a run in progress: this learner has no epoch yet
            continue
        ep, c = data["epoch"][:len(data[f"{m}_test_error"])], colors[m]
        if f"{m}_test_ci" in data:
            ci = np.maximum(100 * np.asarray(data[f"{m}_test_ci"]), floor)
            ax.fill_between(ep, ci[:, 0], ci[:, 1], color=c, alpha=0.2, lw=0)
        zeros |= plot_percent(ax, ep, 100 * data[f"{m}_test_error"], floor, "-o", ms=3, color=c,
                              label=f"{label}, test (95 % Wilson interval)")
        zeros |= plot_percent(ax, ep, 100 * data[f"{m}_train_error"], floor, "--", color=c,
                              label=f"{label}, train (running, during the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    log_percent_axis(ax)
    if zeros:
        mark_floor(ax, n_most)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1, fontsize=7)
    ax.set_title(f"{summary['dataset']} {'-'.join(map(str, summary['sizes']))}, "
                 f"{summary['n_test']} test examples\n{_errors_line(summary)}"
                 f"{_paired_line(summary)}", fontsize=7)
    return fig


def _paired_line(summary: dict) -> str:
    """The McNemar comparison of the two learners on the same test images, if recorded."""
    t = summary.get("paired_test")
    if not t:
        return ""
    return (f"\nsame {t['n_test']} test images, epoch {t['epoch']}: {t['spk_only_correct']} right "
            f"only by spiking, {t['rate_only_correct']} only by rate; McNemar exact "
            f"p = {t['mcnemar_p']:.2g}")


def _errors_line(summary: dict) -> str:
    """The final test errors, or (a run in progress) the latest ones with their epochs."""
    acc, done = summary["test_accuracy_pct"], summary.get("epochs_done")
    if done is None:
        return (f"final test error {100 - acc['spk']:.1f} % (spiking) vs "
                f"{100 - acc['rate']:.1f} % (rate)")
    short = {"spk": "spiking", "rate": "rate"}
    return "in progress, test error: " + ", ".join(
        f"{short[m]} {100 - acc[m]:.1f} % at epoch {done[m]}/{summary['epochs']}" for m in done)


def _fig_alignment(data: dict, summary: dict, every: int):
    """cos(ΔW applied, −∂C/∂W of the calibrated rate model) per layer over training, one panel per
    learner: every record (dots, drawn to be seen: outliers are what they show) and the median of
    each epoch's records (line, open squares)."""
    names = _layer_names(summary["sizes"])
    colors = layer_colors(len(names))
    shown = [m for m in LEARNERS if len(data.get(f"{m}_align_batch", []))]
    fig, axes = figure(len(shown), 1, width=2.8, height=2.9, sharex=True, sharey=True)
    per_epoch = summary["n_train"] / summary["batch_size"]
    low = -0.2
    for ax, m, letter in zip(axes, shown, "ab"):
        epochs = np.asarray(data[f"{m}_align_batch"]) / per_epoch
        cos = np.asarray(data[f"{m}_align_cos"])
        whole = np.ceil(epochs).astype(int)  # record after batch b falls in epoch ceil(b/per_epoch)
        ends = np.unique(whole)
        for k, (name, c) in enumerate(zip(names, colors)):
            ax.plot(epochs, cos[:, k], "o", ms=3, alpha=0.8, mew=0.4, mec="0.25", color=c,
                    label=f"{name}: one mini-batch")
            ax.plot(ends - 0.5, [np.median(cos[whole == e, k]) for e in ends], "-s", lw=1.4,
                    ms=4, mfc="white", color=c, label=f"{name}: median of each epoch")
        if cos.size:
            low = min(low, float(np.nanmin(cos)) - 0.05)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xlabel("epochs of training")
        ax.set_title(LEARNERS[m], fontsize=8)
        panel_label(ax, letter)
    axes[0].set_ylabel("cos(ΔW applied, −∂C/∂W implicit)")
    axes[0].set_ylim(low, 1.02)
    axes[0].set_xlim(0, summary["epochs"] + 0.1)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               fontsize=7.5)
    fig.suptitle(f"applied ΔW vs the calibrated rate model's implicit gradient at the same\n"
                 f"weights and mini-batch, every {every} mini-batches",
                 fontsize=8)
    return fig


def _fig_dw(data: dict, summary: dict):
    """Both learners' ΔW on the first mini-batch against the implicit gradient (filled: Brian2,
    open: rate model), colours by layer."""
    layers = sorted(k.rsplit("W", 1)[1] for k in data if k.startswith("first_dW_spk_W"))
    names = _layer_names(summary["sizes"])
    colors = layer_colors(len(layers))
    fig, (ax,) = figure(1, 1, width=3.8, height=3.9)
    for k, c in zip(layers, colors):
        for m, fill in (("spk", c), ("rate", "none")):
            ax.plot(data[f"first_dW_implicit_W{k}"].ravel(), data[f"first_dW_{m}_W{k}"].ravel(),
                    "o", ms=3, alpha=0.6, color=c, mfc=fill,
                    label=f"{names[int(k)]}, {LEARNERS[m]}")
    lim = max(float(np.max(np.abs(data[f"first_dW_{m}_W{k}"]))) for m in (*LEARNERS, "implicit")
              for k in layers)
    ax.plot([-lim, lim], [-lim, lim], ":", color="0.5", label="identity")
    ax.set_aspect("equal")
    for axis in (ax.xaxis, ax.yaxis):  # few ticks, or the long labels collide
        axis.set_major_locator(MaxNLocator(nbins=4, symmetric=True))
    ax.set_xlabel("−∂C/∂W, implicit gradient of the\ncalibrated rate model")
    ax.set_ylabel("ΔW per unit learning rate")
    al = summary["first_batch_dW_vs_implicit"]
    ax.set_title(f"first mini-batch, initial weights:\ncos {al['spk']['cos'][-1]:.3f} (Brian2), "
                 f"{al['rate']['cos'][-1]:.3f} (rate)", fontsize=8)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1, fontsize=7.5)
    return fig


def paired_test(data: dict) -> tuple[np.ndarray, dict | None]:
    """Exact McNemar test of the two learners on the same test images per epoch (NaN where either
    learner has no per-image record of that epoch; a learner's records are its last epochs), and
    the counts of the last epoch both have: ``epoch``, ``spk_only_correct``, ``rate_only_correct``,
    ``mcnemar_p``, ``n_test`` (None without records)."""
    by_epoch = []
    for m in ("spk", "rate"):
        masks = np.asarray(data.get(f"{m}_test_correct", np.zeros((0, 0))), bool)
        done = len(data.get(f"{m}_test_error", []))
        by_epoch.append({done - len(masks) + i: row for i, row in enumerate(masks)})
    p = np.full(len(data["epoch"]), np.nan)
    final = None
    for e in sorted(set(by_epoch[0]) & set(by_epoch[1])):
        t = mcnemar(by_epoch[0][e], by_epoch[1][e])
        p[e] = t["p"]
        final = {"epoch": e + 1, "spk_only_correct": t["a_only"], "rate_only_correct": t["b_only"],
                 "mcnemar_p": t["p"], "n_test": t["n"]}
    return p, final
