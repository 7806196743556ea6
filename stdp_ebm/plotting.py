"""Figure style shared by all experiments: one place for fonts, colours and axes conventions."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 4,
    "legend.frameon": False,
    "svg.hashsalt": "stdp-ebm",
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 3.2, height: float = 2.6,
           **kwargs: Any) -> tuple[plt.Figure, np.ndarray]:
    """A figure of ``nrows × ncols`` panels (inches per panel), axes always as a flat array."""
    # the stubs type rcParams' keys as a Literal of every rc name, which a dict[str, Any] is not
    plt.rcParams.update(STYLE)  # type: ignore[arg-type]
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, constrained_layout=True, **kwargs)
    return fig, axes.ravel()


def layer_colors(n: int) -> list:
    """``n`` distinguishable colours ordered from input side to output side (viridis)."""
    cmap = plt.get_cmap("viridis")
    return [cmap(v) for v in np.linspace(0.05, 0.85, max(n, 1))]


def layer_name(k: int, n_layers: int) -> str:
    """Layer k counted bottom-up from the input (0 = x, ``n_layers`` = the output y) by the name
    every figure and page uses: x, h_1 (next to the input) … h_L, y."""
    return "x" if k == 0 else "y" if k == n_layers else f"h_{k}"


def legend_below(fig: plt.Figure, ax: plt.Axes, ncol: int = 3) -> None:
    """The legend of ``ax`` under the panels (constrained layout), where it cannot cover data."""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=ncol)


def log_percent_axis(ax: plt.Axes) -> None:
    """A log y axis of error percentages labelled 1, 2, 3, 5, 10 … (not 2×10⁰); over more than
    1.5 decades (call it after drawing) only the powers of ten are labelled, or labels collide."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
    low, high = ax.get_ylim()
    ax.yaxis.set_minor_formatter(plain if high / low <= 10**1.5 else NullFormatter())


def error_floor(n_examples: int) -> float:
    """Where a 0 % error is drawn on a log axis (%): half of one error in the largest set drawn, so
    below every error that is not zero."""
    return 50.0 / max(n_examples, 1)


def plot_percent(ax: plt.Axes, x: np.ndarray, pct: np.ndarray, floor: float, fmt: str = "-",
                 **kwargs: Any) -> bool:
    """Error percentages on a log axis: an error of 0 % (off a log axis) is drawn at ``floor`` as
    an open down-triangle, the line joining it there. True if any such point was drawn."""
    pct = np.asarray(pct, float)
    zero = pct <= 0
    (line,) = ax.plot(x, np.where(zero, floor, pct), fmt, **kwargs)
    if zero.any():
        ax.plot(np.asarray(x)[zero], np.full(int(zero.sum()), floor), "v", ms=6, mfc="white",
                mec=line.get_color(), zorder=5)
    return bool(zero.any())


def mark_floor(ax: plt.Axes, n_examples: int) -> None:
    """The dotted line and the legend entry of :func:`plot_percent`'s zeros at
    :func:`error_floor` of ``n_examples``."""
    floor = error_floor(n_examples)
    ax.axhline(floor, color="0.6", lw=0.6, ls=":")
    ax.plot([], [], "v", ms=6, mfc="white", mec="0.3", ls="none",
            label=f"0 % (no error), drawn at {floor:.2g} % (half of one error in {n_examples})")


def panel_label(ax: plt.Axes, text: str) -> None:
    """Bold panel letter in the top-left corner, as in a journal figure."""
    ax.text(-0.18, 1.04, text, transform=ax.transAxes, fontweight="bold", fontsize=10, va="bottom")
