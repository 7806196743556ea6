"""Figure style shared by all experiments: one place for fonts, colours and axes conventions."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: Matplotlib rc settings of every figure (applied by :func:`figure`); a fixed SVG hash salt
#: keeps SVGs byte-identical.
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
    """A figure of ``nrows × ncols`` panels, axes always as a flat array.

    Parameters
    ----------
    ncols : int
        Panels per row.
    nrows : int
        Rows of panels.
    width : float
        Width of one panel (inches).
    height : float
        Height of one panel (inches).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure, in constrained layout with :data:`STYLE`.
    axes : numpy.ndarray
        The axes, shape ``(nrows * ncols,)``, row by row.
    """
    # the stubs type rcParams' keys as a Literal of every rc name, which a dict[str, Any] is not
    plt.rcParams.update(STYLE)  # type: ignore[arg-type]
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, constrained_layout=True, **kwargs)
    return fig, axes.ravel()


def layer_colors(n: int) -> list:
    """``n`` distinguishable colours ordered from input side to output side (viridis).

    Parameters
    ----------
    n : int
        The number of colours.

    Returns
    -------
    list
        RGBA tuples.
    """
    cmap = plt.get_cmap("viridis")
    return [cmap(v) for v in np.linspace(0.05, 0.85, max(n, 1))]


def layer_name(k: int, n_layers: int) -> str:
    """Layer k counted bottom-up from the input by the name every figure and page uses.

    Parameters
    ----------
    k : int
        Layer index, 0 = the input x.
    n_layers : int
        Index of the output layer y.

    Returns
    -------
    str
        ``"x"``, ``"h_1"`` (next to the input) … ``"h_L"``, ``"y"``.

    Examples
    --------
    >>> [layer_name(k, 3) for k in range(4)]
    ['x', 'h_1', 'h_2', 'y']
    """
    return "x" if k == 0 else "y" if k == n_layers else f"h_{k}"


def legend_below(fig: plt.Figure, ax: plt.Axes, ncol: int = 3) -> None:
    """The legend of ``ax`` under the panels (constrained layout), where it cannot cover data.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure that gets the legend.
    ax : matplotlib.axes.Axes
        The axes whose handles and labels are shown.
    ncol : int
        Legend columns.
    """
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=ncol)


def log_percent_axis(ax: plt.Axes) -> None:
    """A log y axis of error percentages labelled 1, 2, 3, 5, 10 … (not 2×10⁰).

    Over more than 1.5 decades (call it after drawing) only the powers of ten are labelled, or labels
    collide.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes to set up.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
    low, high = ax.get_ylim()
    ax.yaxis.set_minor_formatter(plain if high / low <= 10**1.5 else NullFormatter())


def error_floor(n_examples: int) -> float:
    """Where a 0 % error is drawn on a log axis (%).

    Half of one error in the largest set drawn, so below every error that is not zero.

    Parameters
    ----------
    n_examples : int
        The size of the largest evaluated set.

    Returns
    -------
    float
        The floor in percent.

    Examples
    --------
    >>> error_floor(1000)
    0.05
    """
    return 50.0 / max(n_examples, 1)


def plot_percent(ax: plt.Axes, x: np.ndarray, pct: np.ndarray, floor: float, fmt: str = "-",
                 **kwargs: Any) -> bool:
    """Error percentages on a log axis, an error of 0 % drawn at ``floor``.

    A zero (off a log axis) is drawn at ``floor`` as an open down-triangle, the line joining it there.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    x : numpy.ndarray
        Abscissae (e.g. epochs), shape ``(n,)``.
    pct : numpy.ndarray
        Errors in percent, shape ``(n,)``.
    floor : float
        Where zeros are drawn (:func:`error_floor`).
    fmt : str
        Matplotlib format string of the line.
    **kwargs
        Passed to ``ax.plot`` (label, colour, ...).

    Returns
    -------
    bool
        True if any zero was drawn at the floor.
    """
    pct = np.asarray(pct, float)
    zero = pct <= 0
    (line,) = ax.plot(x, np.where(zero, floor, pct), fmt, **kwargs)
    if zero.any():
        ax.plot(np.asarray(x)[zero], np.full(int(zero.sum()), floor), "v", ms=6, mfc="white",
                mec=line.get_color(), zorder=5)
    return bool(zero.any())


def mark_floor(ax: plt.Axes, n_examples: int) -> None:
    """The dotted line and the legend entry of :func:`plot_percent`'s zeros.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    n_examples : int
        The size of the largest evaluated set (:func:`error_floor`).
    """
    floor = error_floor(n_examples)
    ax.axhline(floor, color="0.6", lw=0.6, ls=":")
    ax.plot([], [], "v", ms=6, mfc="white", mec="0.3", ls="none",
            label=f"0 % (no error), drawn at {floor:.2g} % (half of one error in {n_examples})")


def panel_label(ax: plt.Axes, text: str) -> None:
    """Bold panel letter in the top-left corner, as in a journal figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel.
    text : str
        The letter, e.g. ``"a"``.
    """
    ax.text(-0.18, 1.04, text, transform=ax.transAxes, fontweight="bold", fontsize=10, va="bottom")
