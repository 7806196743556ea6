"""The sweep's figures: the generic summary (each varying scalar against the first swept key) and
the experiment's own ``sweep_figures(table, cfg)`` when its module defines one."""

from __future__ import annotations

import importlib
import string
from pathlib import Path
from typing import Any

import numpy as np

from .. import experiments
from ..rundir import save_figures
from .table import BOOKKEEPING

__all__ = ["summary_figure", "draw_sweep"]


def _numeric(table: dict[str, np.ndarray], name: str) -> bool:
    return table[name].dtype.kind in "fi" and bool(np.isfinite(table[name]).any())


def _varies(column: np.ndarray) -> bool:
    finite = column[np.isfinite(column)]
    return len(finite) > 0 and bool(np.ptp(finite) > 0)


def summary_figure(table: dict[str, np.ndarray], spec: dict[str, Any]) -> Any:
    """The generic sweep figure: each varying numeric summary number against the first swept key.

    One panel per varying numeric summary figure (and the wall time per point) against the first
    numeric swept key (grid before zip), one line per combination of the other swept keys (the keys
    zipped with x move with it), mean ± s.d. over the seeds.

    Parameters
    ----------
    table : dict of str to numpy.ndarray
        The sweep's table (one entry per point in each column).
    spec : dict
        The parsed ``[sweep]`` table (``grid``, ``zip``, ``seeds``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from ..plotting import figure, layer_colors, panel_label

    grid, zipped = list(spec.get("grid", {})), list(spec.get("zip", {}))
    xkey = next((p for p in grid + zipped if _numeric(table, p)), "replicate")
    others = [p for p in grid + zipped if p != xkey and not (xkey in zipped and p in zipped)]
    metrics = sorted(c for c in table if c not in BOOKKEEPING and c not in grid + zipped
                     and _numeric(table, c) and _varies(table[c])) + ["wall_s"]
    groups = sorted({tuple(str(table[p][i]) for p in others) for i in range(len(table["index"]))})
    ok = table["status"] == "ok"
    fig, axes = figure(min(3, len(metrics)), -(-len(metrics) // 3), width=3.0, height=2.4)
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        for group, color in zip(groups, layer_colors(len(groups))):
            rows = ok.copy()
            for p, g in zip(others, group):
                rows &= table[p].astype(str) == g
            xs = np.unique(table[xkey][rows])
            ys = [table[metric][rows & (table[xkey] == x)] for x in xs]
            ax.errorbar(xs, [np.mean(y) for y in ys], yerr=[np.std(y) for y in ys], marker="o",
                        color=color, capsize=2,
                        label=", ".join(f"{p} = {g}" for p, g in zip(others, group)) or None)
        xs = table[xkey][ok]
        if len(xs) and np.all(xs > 0) and xs.max() / xs.min() >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(xkey)
        ax.set_ylabel("wall time per point (s)" if metric == "wall_s" else metric)
        panel_label(ax, string.ascii_lowercase[i % 26])
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    if others:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncol=min(len(groups), 2))
    fig.suptitle(f"sweep: {int(ok.sum())} of {len(ok)} points ok; mean ± s.d. over "
                 f"{len(spec['seeds'])} seed(s)", fontsize=9)
    return fig


def draw_sweep(run_dir: Path, table: dict[str, np.ndarray], cfg: dict[str, Any],
               exp: experiments.Experiment) -> list[str]:
    """Draw ``figures/sweep_summary`` and the experiment's own ``sweep_figures(table, cfg)``.

    The latter when the experiment's module defines that function.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    table : dict of str to numpy.ndarray
        The sweep's table.
    cfg : dict
        The resolved config.
    exp : Experiment
        The experiment.

    Returns
    -------
    list of str
        The names of the figures saved.
    """
    figs = {"sweep_summary": summary_figure(table, cfg["sweep"])}
    own = getattr(importlib.import_module(experiments.REGISTRY[exp.name]), "sweep_figures", None)
    if own is not None:
        figs.update(own(table, cfg))
    return save_figures(run_dir, figs)
