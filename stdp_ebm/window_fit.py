"""Fitting an STDP window: a double exponential, bounded, checked, with bootstrap intervals.

The model (the form Bi & Poo 2001 fitted to their 1998 data)::

    ΔW(Δt) = A+ e^(−Δt/τ+)   for Δt > 0,        ΔW(Δt) = −A− e^(Δt/τ−)   for Δt < 0      (Δt in ms)

Each side is fitted separately, by bounded least squares (A± ≥ 0, τ± within :data:`TAU_BOUNDS_MS`)
started from the best point of a grid over τ (A in closed form), so that no start value can send
the optimiser to τ = −1.4e9. A side fails, and says why, when the optimiser does not converge,
when τ ends on a bound (the data do not pin it down), when A = 0 (no change of the expected sign),
when more than 10 % of the bootstrap refits fail, or when the 95 % interval reaches a bound (not
identified).

Intervals come from the spread of independent repeats: the points are resampled with replacement
within their stratum (the repeats of one protocol condition, or the points of one side of a
measured scatter) and refitted; the 2.5 and 97.5 percentiles of the refits are the 95 % interval.
Each point keeps its regressor ``x`` (the *measured* Δt of its condition), so the spread of ΔW over
the repeats, not an assumed per-point error, sets the width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

#: τ bounds of every fit (ms): wider than any window measured, narrow enough to be identifiable
__all__ = ["SideFit", "WindowFit", "double_exponential", "fit_side", "fit_window"]

TAU_BOUNDS_MS = (0.2, 500.0)
#: bootstrap refits per fit
N_BOOT = 400


@dataclass(frozen=True)
class SideFit:
    """One side of the window: ``A e^(−|Δt|/τ)``; NaN values and a ``problem`` when the fit failed."""

    amplitude: float
    tau: float
    amplitude_ci: tuple[float, float]
    tau_ci: tuple[float, float]
    n: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _failed(n: int, problem: str) -> SideFit:
    nan = (math.nan, math.nan)
    return SideFit(math.nan, math.nan, nan, nan, n, problem)


def double_exponential(delta_t_ms: np.ndarray, a_plus: float, tau_plus: float, a_minus: float,
                       tau_minus: float) -> np.ndarray:
    """A+ e^(−Δt/τ+) for Δt > 0, −A− e^(Δt/τ−) for Δt < 0, 0 at Δt = 0 (Δt, τ± in ms)."""
    x = np.asarray(delta_t_ms, float)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x > 0, a_plus * np.exp(-np.abs(x) / tau_plus),
                        np.where(x < 0, -a_minus * np.exp(-np.abs(x) / tau_minus), 0.0))


def _start(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Best (A, τ) on a log grid of τ with A ≥ 0 in closed form (least squares)."""
    best = (math.inf, 0.0, TAU_BOUNDS_MS[0])
    for tau in np.geomspace(*TAU_BOUNDS_MS, 60):
        e = np.exp(-x / tau)
        a = max(float(y @ e / (e @ e)), 0.0) if e @ e > 0 else 0.0
        cost = float(np.sum((y - a * e) ** 2))
        if cost < best[0]:
            best = (cost, a, tau)
    return best[1], best[2]


def _least_squares(x: np.ndarray, y: np.ndarray, start: tuple[float, float]
                   ) -> tuple[optimize.OptimizeResult, float]:
    """Bounded trust-region fit in units of max|y| (so A of 1e-4 and of 100 behave alike)."""
    scale = max(float(np.max(np.abs(y))), 1e-300)

    def resid(p):
        return p[0] * np.exp(-x / p[1]) - y / scale
    lo, hi = TAU_BOUNDS_MS
    a0 = min(max(start[0] / scale, 0.0), 1e6)
    res = optimize.least_squares(resid, (a0, min(max(start[1], lo), hi)),
                                 bounds=((0.0, lo), (np.inf, hi)), method="trf", x_scale="jac",
                                 xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    return res, scale


def _fit_once(x: np.ndarray, y: np.ndarray, start: tuple[float, float] | None = None
              ) -> tuple[float, float, str]:
    """(A, τ, problem) of one bounded least-squares fit of y = A e^(−x/τ), x > 0."""
    res, scale = _least_squares(x, y, start or _start(x, y))
    a, tau = float(res.x[0] * scale), float(res.x[1])
    if not res.success:
        return a, tau, f"optimiser did not converge ({res.message})"
    lo, hi = TAU_BOUNDS_MS
    if tau <= lo * 1.01 or tau >= hi / 1.01:
        return a, tau, f"τ = {tau:.3g} ms ends on its bound [{lo:g}, {hi:g}] ms: not identified"
    if a <= 0:
        return a, tau, "A = 0: no change of the expected sign on this side"
    return a, tau, ""


def fit_side(x: np.ndarray, y: np.ndarray, groups: np.ndarray, rng: np.random.Generator,
             n_boot: int = N_BOOT) -> SideFit:
    """Fit y = A e^(−x/τ) (x > 0, ms) and its 95 % bootstrap intervals (module docstring);
    ``n_boot = 0``: no intervals (NaN), for noise-free curves."""
    x, y, groups = (np.asarray(v, float) for v in (x, y, groups))
    if x.size < 3 or np.unique(x).size < 2:
        return _failed(x.size, f"{x.size} point(s) at {np.unique(x).size} Δt: too few to fit A "
                       "and τ")
    a, tau, problem = _fit_once(x, y)
    if problem:
        return _failed(x.size, problem)
    if n_boot == 0:  # a noise-free curve: the point estimate alone
        nan = (math.nan, math.nan)
        return SideFit(a, tau, nan, nan, x.size)
    members = [np.nonzero(groups == g)[0] for g in np.unique(groups)]
    boots = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(m, m.size) for m in members])
        if np.unique(x[idx]).size < 2:
            continue
        ab, tb, pb = _fit_once(x[idx], y[idx], (a, tau))
        if not pb:
            boots.append((ab, tb))
    if len(boots) < 0.9 * n_boot:
        return _failed(x.size, f"only {len(boots)} of {n_boot} bootstrap refits succeeded: "
                       "the window is not identified by these points")
    lo, hi = np.percentile(np.array(boots), [2.5, 97.5], axis=0)
    if lo[1] <= TAU_BOUNDS_MS[0] * 1.01 or hi[1] >= TAU_BOUNDS_MS[1] / 1.01 or lo[0] <= 0:
        return _failed(x.size, f"95 % interval of τ [{lo[1]:.3g}, {hi[1]:.3g}] ms or of A "
                       f"[{lo[0]:.3g}, {hi[0]:.3g}] reaches a bound: not identified")
    return SideFit(a, tau, (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), x.size)


@dataclass(frozen=True)
class WindowFit:
    """Both sides (module docstring); ``excluded_ms``: conditions with ``|Δt|`` ≤ this left out."""

    plus: SideFit
    minus: SideFit
    excluded_ms: float
    n_boot: int = N_BOOT

    @property
    def ok(self) -> bool:
        return self.plus.ok and self.minus.ok

    @property
    def area_ratio(self) -> float:
        """LTP area / LTD area, A+ τ+ / (A− τ−)."""
        return self.plus.amplitude * self.plus.tau / (self.minus.amplitude * self.minus.tau)

    def __call__(self, delta_t_ms: np.ndarray) -> np.ndarray:
        """The fitted window (NaN on a side whose fit failed)."""
        return double_exponential(delta_t_ms, self.plus.amplitude, self.plus.tau,
                                  self.minus.amplitude, self.minus.tau)

    def as_dict(self) -> dict[str, Any]:
        """Flat, JSON-able: a_plus, tau_plus(_ci), a_minus, tau_minus(_ci), ok, problems, …"""
        out: dict[str, Any] = {}
        for sign, side in (("plus", self.plus), ("minus", self.minus)):
            out[f"a_{sign}"], out[f"tau_{sign}"] = side.amplitude, side.tau
            out[f"a_{sign}_ci"], out[f"tau_{sign}_ci"] = list(side.amplitude_ci), list(side.tau_ci)
            out[f"n_{sign}"] = side.n
        out.update(ok=self.ok, area_ratio=self.area_ratio, excluded_ms=self.excluded_ms,
                   interval="95 % percentile bootstrap over repeats "
                            f"({self.n_boot} resamples within each condition)",
                   problems={s: f.problem for s, f in (("plus", self.plus), ("minus", self.minus))
                             if f.problem})
        return out


def fit_window(delta_t_ms: np.ndarray, delta_w: np.ndarray, nominal_ms: np.ndarray | None = None,
               exclude_ms: float = 0.0, seed: int = 0, n_boot: int = N_BOOT) -> WindowFit:
    """Fit the double exponential to points (Δt_k, ΔW_k), each side on ``|Δt|`` > ``exclude_ms``.

    ``delta_t_ms`` is each point's measured Δt. ``nominal_ms`` is the nominal Δt of each point's
    condition: the points of one condition are the independent repeats the bootstrap resamples,
    and the side and the cut-off are decided on it (a condition at 4 ms whose spikes landed at
    4.05 ms stays out with a 4 ms cut-off). None: every point is its own repeat, resampled within
    its side (a measured scatter such as Bi & Poo's).
    """
    x, y = np.asarray(delta_t_ms, float), np.asarray(delta_w, float)
    g = x if nominal_ms is None else np.asarray(nominal_ms, float)
    strata = np.sign(x) if nominal_ms is None else g
    rng = np.random.default_rng(seed)
    ltp, ltd = g > exclude_ms, g < -exclude_ms
    return WindowFit(fit_side(x[ltp], y[ltp], strata[ltp], rng, n_boot),
                     fit_side(-x[ltd], -y[ltd], strata[ltd], rng, n_boot), exclude_ms, n_boot)
