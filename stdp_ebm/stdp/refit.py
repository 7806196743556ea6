"""Least-squares fits of one side of an STDP window, y = A e^(−x/τ) (x: the size of Δt, ms, > 0),
A ≥ 0 and τ within :data:`TAU_BOUNDS_MS`: one bounded fit started from a grid over τ
(:func:`fit_once`), and the vectorised refits of many resamples at once that make the bootstrap
intervals of :mod:`stdp_ebm.stdp.window_fit` cheap (:func:`refit_batch` for rows of independent
points, :func:`refit_counts` for resamples of one set of points).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

__all__ = ["TAU_BOUNDS_MS", "fit_once", "refit_batch", "refit_counts"]

#: τ bounds of every fit (ms): wider than any window measured, narrow enough to be identifiable
TAU_BOUNDS_MS = (0.2, 500.0)


def _start(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Best (A, τ) on a log grid of τ with A ≥ 0 in closed form (weighted least squares)."""
    best = (math.inf, 0.0, TAU_BOUNDS_MS[0])
    for tau in np.geomspace(*TAU_BOUNDS_MS, 60):
        e = np.exp(-x / tau)
        a = max(float((w * y) @ e / ((w * e) @ e)), 0.0) if (w * e) @ e > 0 else 0.0
        cost = float(np.sum(w * (y - a * e) ** 2))
        if cost < best[0]:
            best = (cost, a, tau)
    return best[1], best[2]


def fit_once(x: np.ndarray, y: np.ndarray, w: np.ndarray, start: tuple[float, float] | None = None
             ) -> tuple[float, float, str]:
    """One bounded weighted least-squares fit of y = A e^(−x/τ), x > 0, computed in units of
    max|y| (so A of 1e-4 and of 100 behave alike), with why it fails if it does.

    Parameters
    ----------
    x, y : numpy.ndarray
        Δt (ms, > 0) and ΔW of each point, shape (n,).
    w : numpy.ndarray
        Weights of the points, shape (n,).
    start : tuple of float, optional
        Start (A, τ in ms); None: the best point of a log grid over τ, A in closed form.

    Returns
    -------
    tuple[float, float, str]
        A, τ (ms) and the problem: empty if the fit converged with τ off its bounds and A > 0,
        else why not.
    """
    start = start or _start(x, y, w)
    scale, sw = max(float(np.max(np.abs(y))), 1e-300), np.sqrt(w)
    lo, hi = TAU_BOUNDS_MS
    res = optimize.least_squares(lambda p: sw * (p[0] * np.exp(-x / p[1]) - y / scale),
                                 (min(max(start[0] / scale, 0.0), 1e6), min(max(start[1], lo), hi)),
                                 bounds=((0.0, lo), (np.inf, hi)), method="trf", x_scale="jac",
                                 xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=2000)
    a, tau = float(res.x[0] * scale), float(res.x[1])
    if not res.success:
        return a, tau, f"optimiser did not converge ({res.message})"
    if tau <= lo * 1.01 or tau >= hi / 1.01:
        return a, tau, f"τ = {tau:.3g} ms ends on its bound [{lo:g}, {hi:g}] ms: not identified"
    if a <= 0:
        return a, tau, "A = 0: no change of the expected sign on this side"
    return a, tau, ""


def refit_batch(x: np.ndarray, y: np.ndarray, w: np.ndarray, grid: int = 40, steps: int = 48
                ) -> tuple[np.ndarray, np.ndarray]:
    """Many independent fits of y = A e^(−x/τ) at once (rows of ``x``, ``y``; weights ``w``).

    Variable projection: for a given τ the best A ≥ 0 is closed-form, so each row minimises the
    profile cost J(τ) = Σ w (y − A(τ) e^(−x/τ))² over log τ within :data:`TAU_BOUNDS_MS`: the best
    of ``grid`` log-spaced τ (as :func:`fit_side`'s start), then ``steps`` golden-section steps
    in the bracket around it (to 0.618^48 ≈ 1e-10 of the bracket). A fixed amount of work per
    row, no convergence to wait for: this is what makes 100,000 BCa resamples cheap;
    ``tests/test_stdp_fit.py`` checks it against :func:`scipy.optimize.curve_fit`.

    Parameters
    ----------
    x, y : numpy.ndarray
        Δt (ms, > 0) and ΔW of each point, shape (rows, n) (broadcast together).
    w : numpy.ndarray
        Weights of the points, broadcast with ``x``.
    grid : int
        Log-spaced τ tried first.
    steps : int
        Golden-section steps after the grid.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        A and τ (ms) per row, shape (rows,).
    """
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    w = np.broadcast_to(np.asarray(w, float), x.shape)
    lo, hi = np.log(TAU_BOUNDS_MS[0]), np.log(TAU_BOUNDS_MS[1])

    def profile(log_tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = np.exp(-x / np.exp(log_tau)[..., None])
        a = np.maximum(np.sum(w * e * y, -1) / np.sum(w * e * e, -1), 0.0)
        return np.sum(w * (y - a[..., None] * e) ** 2, -1), a
    nodes = np.linspace(lo, hi, grid)
    costs = np.stack([profile(np.full(x.shape[:-1], u))[0] for u in nodes], -1)
    k = np.argmin(costs, -1)
    left, right = nodes[np.maximum(k - 1, 0)], nodes[np.minimum(k + 1, grid - 1)]
    g = (np.sqrt(5.0) - 1) / 2
    u1, u2 = right - g * (right - left), left + g * (right - left)
    c1, c2 = profile(u1)[0], profile(u2)[0]
    for _ in range(steps):
        first = c1 <= c2  # the minimum is in [left, u2]
        right, left = np.where(first, u2, right), np.where(first, left, u1)
        u1n, u2n = right - g * (right - left), left + g * (right - left)
        cn = profile(np.where(first, u1n, u2n))[0]
        c1, c2, u1, u2 = (np.where(first, cn, c2), np.where(first, c1, cn),
                          np.where(first, u1n, u2), np.where(first, u1, u2n))
    u = (left + right) / 2
    return profile(u)[1], np.exp(u)


def refit_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray, nodes: int = 200
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`refit_batch` for resamples of ONE set of points: row r of ``counts`` says how often
    each point (x, y) is drawn. The same profile cost J(τ) = Σ c (y − A(τ) e^(−x/τ))², A(τ) ≥ 0
    in closed form, but with x shared by every row its sums over points at ``nodes`` log-spaced τ
    are two matrix products; the best node's two neighbours give a parabola in log τ, and three more
    parabolas, each at the last vertex ± 1/20 of the last spacing, evaluated exactly, give the
    minimum (``tests/test_stdp_fit.py`` checks it against :func:`scipy.optimize.curve_fit`).

    Parameters
    ----------
    x, y : numpy.ndarray
        Δt (ms, > 0) and ΔW of the n points, shape (n,).
    counts : numpy.ndarray
        How often each point is drawn in each resample, shape (resamples, n).
    nodes : int
        Log-spaced τ at which the profile cost is evaluated first.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        A and τ (ms) per resample, shape (resamples,).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    c = np.asarray(counts, float)
    lo, hi = np.log(TAU_BOUNDS_MS[0]), np.log(TAU_BOUNDS_MS[1])
    u = np.linspace(lo, hi, nodes)
    e = np.exp(-x / np.exp(u)[:, None])  # (nodes, points)
    s_yy = c @ (y * y)

    def cost(s_ey: np.ndarray, s_ee: np.ndarray) -> np.ndarray:
        return s_yy[:, None] - np.maximum(s_ey, 0.0) ** 2 / s_ee

    j = cost(c @ (e * y).T, c @ (e * e).T)  # (rows, nodes)
    k = np.clip(np.argmin(j, -1), 1, nodes - 2)
    rows = np.arange(c.shape[0])
    h = u[1] - u[0]

    def vertex(centre: np.ndarray, step: float, j3: np.ndarray, reach: float) -> np.ndarray:
        curv = j3[:, 0] - 2 * j3[:, 1] + j3[:, 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(curv > 0, 0.5 * step * (j3[:, 0] - j3[:, 2]) / curv, 0.0)
        return np.clip(centre + np.clip(shift, -reach, reach), lo, hi)

    def exact(at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ek = np.exp(-x / np.exp(at)[..., None])
        s_ey, s_ee = np.sum(c[:, None] * ek * y, -1), np.sum(c[:, None] * ek * ek, -1)
        return cost(s_ey, s_ee), s_ey, s_ee
    best = vertex(u[k], h, j[rows[:, None], k[:, None] + np.arange(-1, 2)], h)
    for step in (h / 20, h / 400, h / 8000):  # each reaches as far as the last one's spacing
        best = vertex(best, step, exact(best[:, None] + step * np.arange(-1, 2))[0], 20 * step)
    _, s_ey, s_ee = exact(best[:, None])
    return np.maximum(s_ey[:, 0], 0.0) / s_ee[:, 0], np.exp(best)
