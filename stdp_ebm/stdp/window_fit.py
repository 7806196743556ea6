"""Fitting an STDP window: a double exponential, bounded, checked, with calibrated intervals.

The model (the form Bi & Poo 2001 fitted to their 1998 data)::

    ΔW(Δt) = A+ e^(−Δt/τ+)   for Δt > 0,        ΔW(Δt) = −A− e^(Δt/τ−)   for Δt < 0      (Δt in ms)

Each side is fitted separately, by bounded least squares (A± ≥ 0, τ± within
:data:`~stdp_ebm.stdp.refit.TAU_BOUNDS_MS`) started from the best point of a grid over τ (A in
closed form; :func:`~stdp_ebm.stdp.refit.fit_once`), so that no start value can send
the optimiser to τ = −1.4e9. A side fails, and says why, when the optimiser does not converge,
when τ ends on a bound (the data do not pin it down), when A = 0 (no change of the expected sign),
when more than 10 % of the bootstrap refits end on a bound, or when the 95 % interval reaches a bound
(not identified).

**Replicates.** For a simulated protocol the replicates are the *repeats* of each Δt condition (the
independent pre/post pairs); the estimator fits the condition means (ΔW̄_c, Δt̄_c), where Δt̄_c is the
mean *measured* Δt of the condition's pairs. The bootstrap (:func:`scipy.stats.bootstrap`, BCa, one
sample per condition, so each condition is resampled within itself) resamples pairs, and recomputes
both means from each resample: the spike-time jitter moves a pair's Δt and its ΔW together, and that
covariance is part of the estimator, so it must be part of its resampling too. For a measured scatter
(``nominal_ms=None``, e.g. Bi & Poo's cell pairs) every point is its own replicate and the points of
a side are resampled together.

**Monte Carlo error.** With ``mc_rel`` > 0 resampling goes on until every bound's Monte Carlo error
is below it (:mod:`stdp_ebm.stdp.resampling`). On Bi & Poo's points the upper bound of A+ needs it:
it lies in the thin valley between the resamples near the estimate and those that lose the points
nearest 0 and fit τ+ ≈ 3 ms.

**Degenerate intervals.** When the repeats do not vary (no noise: every pair of a condition gives the
same ΔW to rounding) no interval can be estimated from them: the side keeps its point estimate, its
interval is NaN and ``degenerate`` says why, and the fit is not ``ok``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .refit import TAU_BOUNDS_MS, fit_once, refit_batch, refit_counts
from .resampling import bca

# TAU_BOUNDS_MS, refit_batch and refit_counts are importable from here too; their docs are refit's
__all__ = ["SideFit", "WindowFit", "double_exponential", "fit_side", "fit_window",
           "jitter_sd", "jitter_average", "N_BOOT", "N_BOOT_DATA"]

#: bootstrap resamples per fit of simulated repeats (BCa; coverage measured in docs/stdp.md)
N_BOOT = 4000
#: bootstrap resamples per fit of a measured scatter, and per extension while a bound's Monte Carlo
#: error exceeds MC_REL_DATA (module docstring)
N_BOOT_DATA = 200000
#: the repeats count as not varying when their largest s.d. is below this fraction of max |ΔW|
DEGENERATE_SPREAD = 1e-9


@dataclass(frozen=True)
class SideFit:
    """One side of the window, ``A e^(−abs(Δt)/τ)``, with its 95 % intervals (module docstring).

    Parameters
    ----------
    amplitude, tau : float
        A (ΔW units) and τ (ms); NaN when the fit failed.
    amplitude_ci, tau_ci : tuple[float, float]
        Their 95 % BCa intervals; NaN when they could not be estimated.
    n : int
        Points fitted.
    problem : str
        Why the fit failed ("" if it did not).
    degenerate : str
        Why only the intervals could not be estimated ("" if they could).
    n_boot : int
        Bootstrap resamples drawn.
    mc_error : float
        The largest relative half-width of the 95 % Monte Carlo intervals of the four bounds.
    """

    amplitude: float
    tau: float
    amplitude_ci: tuple[float, float]
    tau_ci: tuple[float, float]
    n: int
    problem: str = ""
    degenerate: str = ""
    n_boot: int = 0
    mc_error: float = math.nan

    @property
    def ok(self) -> bool:
        """Whether the fit and both intervals exist.

        Returns
        -------
        bool
            False with a ``problem`` or a ``degenerate`` reason.
        """
        return not (self.problem or self.degenerate)


_NAN2 = (math.nan, math.nan)


def _failed(n: int, problem: str) -> SideFit:
    return SideFit(math.nan, math.nan, _NAN2, _NAN2, n, problem)


def double_exponential(delta_t_ms: np.ndarray, a_plus: float, tau_plus: float, a_minus: float,
                       tau_minus: float) -> np.ndarray:
    """The double-exponential STDP window.

    Parameters
    ----------
    delta_t_ms : numpy.ndarray
        Δt = t_post − t_pre (ms), any shape.
    a_plus, tau_plus : float
        LTP amplitude (ΔW units) and time constant (ms).
    a_minus, tau_minus : float
        LTD amplitude (positive: the side is −A−) and time constant (ms).

    Returns
    -------
    numpy.ndarray
        A+ e^(−Δt/τ+) for Δt > 0, −A− e^(Δt/τ−) for Δt < 0, 0 at Δt = 0; the shape of
        ``delta_t_ms``.
    """
    x = np.asarray(delta_t_ms, float)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x > 0, a_plus * np.exp(-np.abs(x) / tau_plus),
                        np.where(x < 0, -a_minus * np.exp(-np.abs(x) / tau_minus), 0.0))


def _degenerate(y: np.ndarray, members: list[np.ndarray]) -> str:
    spread = max((float(np.std(y[m])) for m in members if m.size > 1), default=0.0)
    peak = float(np.max(np.abs(y)))
    if spread <= DEGENERATE_SPREAD * peak:
        return (f"the repeats do not vary (largest s.d. of ΔW within a condition: {spread:.2g}, "
                f"{spread / peak:.2g} of the peak), so no interval can come from them (noise off?)")
    return ""


def fit_side(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, seed: int = 0,
             n_boot: int = N_BOOT, mc_rel: float = 0.0) -> SideFit:
    """Fit y = A e^(−x/τ) (x > 0, ms) and its 95 % BCa bootstrap intervals (module docstring).

    ``groups``: the condition of each point; the fit is to the condition means and the bootstrap
    resamples points within their condition. None: every point is a replicate. ``n_boot = 0``: no
    intervals (NaN, not a failure), for noise-free curves. ``mc_rel`` > 0: more resamples
    (at least ``n_boot`` at a time) until every bound's Monte Carlo error is below it
    (:func:`stdp_ebm.stdp.resampling.bca`).

    Parameters
    ----------
    x, y : numpy.ndarray
        abs(Δt) (ms) and ΔW (sign-flipped on the LTD side) of each point, shape (n,).
    groups : numpy.ndarray, optional
        The condition (nominal Δt) of each point, shape (n,).
    seed : int
        Seed of the resamples.
    n_boot : int
        Resamples drawn (first).
    mc_rel : float
        Target Monte Carlo error of every bound (0: none).

    Returns
    -------
    SideFit
        The fit, its intervals, or why either could not be had.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3 or np.unique(x if groups is None else groups).size < 2:
        return _failed(x.size, f"{x.size} point(s) at {np.unique(x).size} Δt: too few to fit A "
                       "and τ")
    if groups is None:
        members = [np.arange(x.size)]
    else:
        members = [np.nonzero(groups == g)[0] for g in np.unique(groups)]

    def design(*idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if groups is None:
            return x[idx[0]], y[idx[0]], np.ones(idx[0].shape[-1])
        xs = np.stack([x[i].mean(-1) for i in idx], -1)
        ys = np.stack([y[i].mean(-1) for i in idx], -1)
        return xs, ys, np.array([float(i.shape[-1]) for i in idx])
    a, tau, problem = fit_once(*design(*members))
    if problem:
        return _failed(x.size, problem)
    if n_boot == 0:
        return SideFit(a, tau, _NAN2, _NAN2, x.size)
    why = _degenerate(y, members) if groups is not None else ""
    if why:
        return SideFit(a, tau, _NAN2, _NAN2, x.size, degenerate=why)

    def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        if groups is not None:
            return np.stack(refit_batch(*design(*idx)))
        i = np.atleast_2d(idx[0])  # resamples of one set of points: how often each is drawn
        flat = (i + x.size * np.arange(i.shape[0])[:, None]).ravel()
        counts = np.bincount(flat, minlength=i.shape[0] * x.size).reshape(i.shape[0], x.size)
        return np.stack(refit_counts(x, y, counts)).reshape((2,) + np.shape(idx[0])[:-1])

    def on_bound(dist: np.ndarray) -> float:
        return float(np.mean((dist[1] <= TAU_BOUNDS_MS[0] * 1.01)
                             | (dist[1] >= TAU_BOUNDS_MS[1] / 1.01) | (dist[0] <= 0)))
    boot, drawn, mc = bca(members, statistic, n_boot, seed, mc_rel,
                          give_up=lambda dist: on_bound(dist) > 0.1)
    lo, hi = boot.confidence_interval
    share = on_bound(boot.bootstrap_distribution)
    if share > 0.1:
        return _failed(x.size, f"{100 * share:.0f} % of the {drawn} bootstrap refits end on a "
                       f"bound (A = 0 or τ at {TAU_BOUNDS_MS} ms): not identified by these points "
                       f"(point estimate A = {a:.3g}, τ = {tau:.3g} ms)")
    flat = np.any(hi - lo <= DEGENERATE_SPREAD * np.abs([a, tau]))
    if not np.all(np.isfinite([*lo, *hi])) or flat:
        return SideFit(a, tau, _NAN2, _NAN2, x.size,
                       degenerate="the bootstrap distribution has no spread: no interval")
    if lo[1] <= TAU_BOUNDS_MS[0] * 1.01 or hi[1] >= TAU_BOUNDS_MS[1] / 1.01 or lo[0] <= 0:
        return _failed(x.size, f"τ = {tau:.3g} ms, 95 % interval [{lo[1]:.3g}, {hi[1]:.3g}] ms (A "
                       f"[{lo[0]:.3g}, {hi[0]:.3g}]) reaches a bound: not identified")
    return SideFit(a, tau, (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), x.size,
                   n_boot=drawn, mc_error=mc)


@dataclass(frozen=True)
class WindowFit:
    """Both sides of a window fit (module docstring).

    Parameters
    ----------
    plus, minus : SideFit
        The LTP (Δt > 0) and LTD (Δt < 0) sides.
    excluded_ms : float
        Conditions with abs(Δt) ≤ this (ms) were left out.
    n_boot : int
        Resamples asked for.
    grouped : bool
        Whether the resamples were drawn within conditions (repeats as replicates).
    """

    plus: SideFit
    minus: SideFit
    excluded_ms: float
    n_boot: int = N_BOOT
    grouped: bool = True

    @property
    def ok(self) -> bool:
        """Whether both sides are :attr:`SideFit.ok`.

        Returns
        -------
        bool
            True when both fits and all four intervals exist.
        """
        return self.plus.ok and self.minus.ok

    @property
    def area_ratio(self) -> float:
        """The ratio of the window's areas.

        Returns
        -------
        float
            LTP area / LTD area, A+ τ+ / (A− τ−).
        """
        return self.plus.amplitude * self.plus.tau / (self.minus.amplitude * self.minus.tau)

    def __call__(self, delta_t_ms: np.ndarray) -> np.ndarray:
        """The fitted window (NaN on a side whose fit failed)."""
        return double_exponential(delta_t_ms, self.plus.amplitude, self.plus.tau,
                                  self.minus.amplitude, self.minus.tau)

    def as_dict(self) -> dict[str, Any]:
        """The fit as a flat, JSON-able record.

        Returns
        -------
        dict[str, Any]
            a_plus, tau_plus and their _ci, the same for minus, n, n_boot and mc_error per side,
            ok, area_ratio, excluded_ms, interval (how it was made), problems and degenerate
            (sides whose interval could not be estimated).
        """
        out: dict[str, Any] = {}
        sides = (("plus", self.plus), ("minus", self.minus))
        for sign, side in sides:
            out[f"a_{sign}"], out[f"tau_{sign}"] = side.amplitude, side.tau
            out[f"a_{sign}_ci"], out[f"tau_{sign}_ci"] = list(side.amplitude_ci), list(side.tau_ci)
            out[f"n_{sign}"] = side.n
            out[f"n_boot_{sign}"], out[f"mc_error_{sign}"] = side.n_boot, side.mc_error
        what = ("pairs resampled within each Δt condition, condition means of ΔW and of the "
                "measured Δt recomputed from each resample" if self.grouped else
                "points resampled within each side")
        drawn = ({self.plus.n_boot, self.minus.n_boot} - {0}) or {self.n_boot}
        count = f"{drawn.pop():,}" if len(drawn) == 1 else \
            f"{self.plus.n_boot:,} (LTP) and {self.minus.n_boot:,} (LTD)"
        out.update(ok=self.ok, area_ratio=self.area_ratio, excluded_ms=self.excluded_ms,
                   interval=f"95 % BCa bootstrap, {count} resamples ({what})",
                   problems={s: f.problem or f.degenerate for s, f in sides
                             if f.problem or f.degenerate},
                   degenerate={s: f.degenerate for s, f in sides if f.degenerate})
        return out


def fit_window(delta_t_ms: np.ndarray, delta_w: np.ndarray, nominal_ms: np.ndarray | None = None,
               exclude_ms: float = 0.0, seed: int = 0, n_boot: int = N_BOOT, mc_rel: float = 0.0
               ) -> WindowFit:
    """Fit the double exponential to points (Δt_k, ΔW_k), each side on ``|Δt|`` > ``exclude_ms``.

    ``delta_t_ms`` is each point's measured Δt (for a simulated pair, the mean over its pairings of
    nearest post − pre spike). ``nominal_ms`` is the nominal Δt of each point's condition: the
    points of one condition are the independent repeats the bootstrap resamples, and the side and
    the cut-off are decided on it (a condition at 4 ms whose spikes landed at 4.05 ms stays out
    with a 4 ms cut-off). None: every point is its own replicate, resampled within its side (a
    measured scatter such as Bi & Poo's). ``mc_rel``: as in :func:`fit_side`.

    Parameters
    ----------
    delta_t_ms, delta_w : numpy.ndarray
        Measured Δt (ms) and ΔW of each point, shape (n,).
    nominal_ms : numpy.ndarray, optional
        Nominal Δt (ms) of each point's condition, shape (n,).
    exclude_ms : float
        Conditions with abs(Δt) ≤ this are left out (ms).
    seed : int
        Seed of both sides' resamples.
    n_boot : int
        Resamples per side (first).
    mc_rel : float
        Target Monte Carlo error of every bound (0: none).

    Returns
    -------
    WindowFit
        Both sides.
    """
    x, y = np.asarray(delta_t_ms, float), np.asarray(delta_w, float)
    grouped = nominal_ms is not None
    g = np.asarray(nominal_ms, float) if grouped else x
    ltp, ltd = g > exclude_ms, g < -exclude_ms
    side_seeds = np.random.SeedSequence(seed).generate_state(2)
    return WindowFit(fit_side(x[ltp], y[ltp], g[ltp] if grouped else None, int(side_seeds[0]),
                              n_boot, mc_rel),
                     fit_side(-x[ltd], -y[ltd], g[ltd] if grouped else None, int(side_seeds[1]),
                              n_boot, mc_rel),
                     exclude_ms, n_boot, grouped)


def jitter_sd(offsets: list[np.ndarray], nominal_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spike-time jitter per condition: the s.d. (ms) of every pairing's measured post − pre about
    its condition's mean, pooled over the condition's repeats (``offsets``: per pair, the measured
    post − pre of each of its pairings; :func:`stdp_ebm.stdp.protocols.pairing_offsets`).

    Parameters
    ----------
    offsets : list[numpy.ndarray]
        Per pair, the measured post − pre (ms) of each of its pairings.
    nominal_ms : numpy.ndarray
        Nominal Δt (ms) of each pair, shape (pairs,).

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        The conditions (ms) and the jitter s.d. (ms) of each.
    """
    nominal = np.asarray(nominal_ms, float)
    grid = np.unique(nominal)
    sd = [float(np.std(np.concatenate([offsets[k] for k in np.nonzero(nominal == g)[0]])))
          for g in grid]
    return grid, np.array(sd)


def jitter_average(curve: Any, delta_t_ms: np.ndarray, sd_ms: np.ndarray | float,
                   nodes: int = 24) -> np.ndarray:
    """E[curve(Δt + σZ)], Z ~ N(0, 1): a window seen through spike-time jitter of s.d. σ (ms),
    by Gauss–Hermite quadrature. For an exponential side A e^(−abs(Δt)/τ) this is A e^(−abs(Δt)/τ)
    e^(σ²/2τ²): jitter scales each side by e^(σ²/2τ²) and leaves τ alone (σ ≪ abs(Δt)).

    Parameters
    ----------
    curve : Callable
        The window, called on an array of Δt (ms).
    delta_t_ms : numpy.ndarray
        Where to evaluate it (ms).
    sd_ms : numpy.ndarray or float
        Jitter s.d. (ms), broadcast with ``delta_t_ms``.
    nodes : int
        Gauss–Hermite nodes.

    Returns
    -------
    numpy.ndarray
        The jitter-averaged window, the shape of ``delta_t_ms``.
    """
    z, wq = np.polynomial.hermite_e.hermegauss(nodes)
    x = np.asarray(delta_t_ms, float)[..., None] + np.asarray(sd_ms, float)[..., None] * z
    return np.sum(curve(x) * wq, axis=-1) / np.sqrt(2 * np.pi)
