"""The STDP window of the rule: theory kernel (numpy/scipy, no Brian2), fits, statistics, Bi & Poo.

Theory. The rule synapse (``stdp_ebm/models/rule_synapse.toml``) estimates rates with a second-order filter
whose impulse response is :func:`filter_kernel`, and accumulates (Eq 26 of Bengio et al. 2017)

    ΔW = η ∫ ρ_j(t) dρ_i/dt dt,   ρ = r / r_max,   r_j = Σ_a k_j(t − t_a),  r_i = Σ_b k_i(t − t_b).

ΔW is bilinear in the two spike trains, so ΔW = Σ_{a,b} K(t_b − t_a) with the pair kernel

    K(Δt) = η / r_max² · ∫ k_j(t) k_i'(t − Δt) dt          (Δt = t_post − t_pre),

computed here by direct numerical integration (midpoint rule on a 10 µs grid, FFT correlation).
Its shape follows from the kernels: for Δt > 0 only the tail of k_j enters, K ∝ e^(−Δt/τ_pre,decay)
(τ+ is set by the presynaptic filter); for Δt < 0 the post-rate derivative k_i' (negative on the
decay, ∝ ``e^(−|Δt|/τ_post,decay)``) dominates (τ− is set by the postsynaptic filter). ∫ K dΔt = 0
because k_i' integrates to zero: uncorrelated spike trains at constant rates give no net change.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Mapping

import numpy as np
from scipy import optimize, signal, stats

__all__ = ["RuleKernels", "PairKernel", "filter_kernel", "filter_kernel_derivative", "WindowFit",
           "fit_window", "double_exponential", "bi_poo", "bi_poo_curve", "zero_crossing",
           "rmse_fraction"]

#: grid step (s) of the numerical integration of the pair kernel
THEORY_STEP_S = 1e-5


@dataclass(frozen=True)
class RuleKernels:
    """Time constants (s) of the rule synapse's rate filters, its learning rate and rate scale."""

    tau_pre_decay: float
    tau_pre_rise: float
    tau_post_decay: float
    tau_post_rise: float
    eta: float
    r_max: float

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RuleKernels":
        """From a rule-synapse namespace (Brian2 quantities are converted to SI floats)."""
        return cls(**{name: float(params[name]) for name in cls.__dataclass_fields__})


def filter_kernel(t: np.ndarray, tau_decay: float, tau_rise: float) -> np.ndarray:
    """Impulse response of du/dt = −u/τ_d, dr/dt = (u − r)/τ_r, u += 1/τ_d at a spike (unit area)."""
    t = np.asarray(t, float)
    s = np.clip(t, 0.0, None)
    if math.isclose(tau_decay, tau_rise):
        k = s * np.exp(-s / tau_decay) / tau_decay ** 2
    else:
        k = (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / (tau_decay - tau_rise)
    return np.where(t >= 0, k, 0.0)


def filter_kernel_derivative(t: np.ndarray, tau_decay: float, tau_rise: float) -> np.ndarray:
    """d/dt of :func:`filter_kernel`, i.e. (u − r)/τ_r after one spike (0 before it)."""
    t = np.asarray(t, float)
    s = np.clip(t, 0.0, None)
    if math.isclose(tau_decay, tau_rise):
        d = (1.0 - s / tau_decay) * np.exp(-s / tau_decay) / tau_decay ** 2
    else:
        d = (np.exp(-s / tau_rise) / tau_rise - np.exp(-s / tau_decay) / tau_decay) \
            / (tau_decay - tau_rise)
    return np.where(t >= 0, d, 0.0)


class PairKernel:
    """K(Δt) of the module docstring, tabulated once and interpolated (Δt in seconds)."""

    def __init__(self, kern: RuleKernels, step: float = THEORY_STEP_S) -> None:
        self.kern = kern
        span = 15.0 * max(kern.tau_pre_decay, kern.tau_post_decay, kern.tau_pre_rise,
                          kern.tau_post_rise)
        mid = (np.arange(int(span / step)) + 0.5) * step
        pre = filter_kernel(mid, kern.tau_pre_decay, kern.tau_pre_rise)
        dpost = filter_kernel_derivative(mid, kern.tau_post_decay, kern.tau_post_rise)
        # K(l·h) = h Σ_n pre[n + l] dpost[n]  (midpoint rule, O(h²); k_i' jumps only at grid nodes)
        corr = signal.correlate(pre, dpost, mode="full", method="fft")
        self.lags = signal.correlation_lags(len(pre), len(dpost), mode="full") * step
        self.values = corr * step * kern.eta / kern.r_max ** 2
        self.span = span

    def __call__(self, delta_t: np.ndarray) -> np.ndarray:
        """K at Δt = t_post − t_pre (s); zero beyond the tabulated span (15 time constants)."""
        return np.interp(delta_t, self.lags, self.values, left=0.0, right=0.0)

    def from_spikes(self, pre_t: np.ndarray, post_t: np.ndarray) -> float:
        """ΔW of one synapse given all its pre and post spike times (s): Σ_{a,b} K(t_b − t_a)."""
        pre_t, post_t = np.sort(pre_t), np.asarray(post_t, float)
        total = 0.0
        for tb in post_t:
            lo, hi = np.searchsorted(pre_t, [tb - self.span, tb + self.span])
            total += float(np.sum(self(tb - pre_t[lo:hi])))
        return total


def theory_per_pair(pairs_i: np.ndarray, pre_i: np.ndarray, pre_t: np.ndarray, post_i: np.ndarray,
                    post_t: np.ndarray, kernel: PairKernel) -> np.ndarray:
    """Theory ΔW for each synapse ``k`` in ``pairs_i`` from the recorded spikes of pair ``k``."""
    return np.array([kernel.from_spikes(pre_t[pre_i == k], post_t[post_i == k]) for k in pairs_i])


# ----------------------------------------------------------------------------------- statistics

def group_stats(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Unique keys (sorted), mean, standard error of the mean (ddof=1; 0 for one sample), count."""
    keys, values = np.asarray(keys, float), np.asarray(values, float)
    uniq = np.unique(keys)
    mean = np.array([values[keys == k].mean() for k in uniq])
    count = np.array([(keys == k).sum() for k in uniq])
    sem = np.array([values[keys == k].std(ddof=1) / math.sqrt(n) if n > 1 else 0.0
                    for k, n in zip(uniq, count)])
    return uniq, mean, sem, count


def zero_crossing(x: np.ndarray, y: np.ndarray, near: float = 0.0) -> float:
    """The sign change of y(x) closest to ``near``, by linear interpolation (NaN if none)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    idx = np.nonzero(np.sign(y[:-1]) * np.sign(y[1:]) < 0)[0]
    if idx.size == 0:
        exact = x[y == 0]
        return float(exact[np.argmin(abs(exact - near))]) if exact.size else float("nan")
    roots = x[idx] - y[idx] * (x[idx + 1] - x[idx]) / (y[idx + 1] - y[idx])
    return float(roots[np.argmin(abs(roots - near))])


def rmse_fraction(simulated: np.ndarray, theory: np.ndarray) -> float:
    """RMSE between simulation and theory as a fraction of max|theory|."""
    simulated, theory = np.asarray(simulated, float), np.asarray(theory, float)
    return float(np.sqrt(np.mean((simulated - theory) ** 2)) / np.max(np.abs(theory)))


# ------------------------------------------------------------------------------------------ fits

@dataclass(frozen=True)
class WindowFit:
    """Double exponential ΔW = A+ e^(−Δt/τ+) (Δt > 0), −A− e^(Δt/τ−) (Δt < 0); times in ms.

    ``*_ci`` are 95% confidence intervals (t distribution, n − 2 degrees of freedom, from the
    covariance of the least-squares fit, weighted by 1/s.e.m.² when every point has an s.e.m.,
    and scaled by the residual χ²/dof).
    """

    a_plus: float
    tau_plus: float
    a_minus: float
    tau_minus: float
    a_plus_ci: tuple[float, float]
    tau_plus_ci: tuple[float, float]
    a_minus_ci: tuple[float, float]
    tau_minus_ci: tuple[float, float]
    area_ratio: float

    def __call__(self, delta_t_ms: np.ndarray) -> np.ndarray:
        return double_exponential(delta_t_ms, self.a_plus, self.tau_plus, self.a_minus,
                                  self.tau_minus)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def double_exponential(delta_t_ms: np.ndarray, a_plus: float, tau_plus: float, a_minus: float,
                       tau_minus: float) -> np.ndarray:
    """A+ e^(−Δt/τ+) for Δt > 0, −A− e^(Δt/τ−) for Δt < 0, 0 at Δt = 0 (Δt, τ± in ms)."""
    x = np.asarray(delta_t_ms, float)
    with np.errstate(over="ignore"):
        return np.where(x > 0, a_plus * np.exp(-x / tau_plus),
                        np.where(x < 0, -a_minus * np.exp(x / tau_minus), 0.0))


def _fit_side(x: np.ndarray, y: np.ndarray, sem: np.ndarray, tau0: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Fit y = A e^(−x/τ) (x > 0); return (A, τ) and their 95% half-widths (NaN if it fails)."""
    if x.size < 3:
        return np.full(2, np.nan), np.full(2, np.nan)
    a0 = y[np.argmin(x)] * math.exp(np.min(x) / tau0)
    try:
        # s.e.m. as relative weights, covariance scaled by the residual χ²/dof: the CI also
        # reflects misfit of the exponential, not only the scatter over repeats
        p, cov = optimize.curve_fit(lambda t, a, tau: a * np.exp(-t / tau), x, y, p0=(a0, tau0),
                                    sigma=sem if np.all(sem > 0) else None, absolute_sigma=False,
                                    maxfev=20000)
    except (RuntimeError, optimize.OptimizeWarning):
        return np.full(2, np.nan), np.full(2, np.nan)
    half = stats.t.ppf(0.975, x.size - 2) * np.sqrt(np.diag(cov))
    return p, half


def fit_window(delta_t_ms: np.ndarray, mean: np.ndarray, sem: np.ndarray,
               exclude_ms: float = 0.0) -> WindowFit:
    """Fit each side of the window separately on ``|Δt|`` > ``exclude_ms`` (see :class:`WindowFit`)."""
    x, y, s = (np.asarray(v, float) for v in (delta_t_ms, mean, sem))
    ltp, ltd = x > exclude_ms, x < -exclude_ms
    (a_p, t_p), h_p = _fit_side(x[ltp], y[ltp], s[ltp], 17.0)
    (a_m, t_m), h_m = _fit_side(-x[ltd], -y[ltd], s[ltd], 34.0)

    def ci(v, h):
        return (float(v - h), float(v + h))
    return WindowFit(float(a_p), float(t_p), float(a_m), float(t_m), ci(a_p, h_p[0]),
                     ci(t_p, h_p[1]), ci(a_m, h_m[0]), ci(t_m, h_m[1]),
                     float(a_p * t_p / (a_m * t_m)))


# ----------------------------------------------------------------------------- reference data

def bi_poo() -> dict[str, Any]:
    """The Bi & Poo window shipped in ``stdp_ebm/data/bi_poo.toml`` (fitted curve + provenance)."""
    text = resources.files("stdp_ebm").joinpath("data/bi_poo.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def bi_poo_curve(delta_t_ms: np.ndarray) -> np.ndarray:
    """Bi & Poo's fitted relative change ΔW/W at Δt (ms)."""
    ref = bi_poo()["fit"]
    return double_exponential(delta_t_ms, ref["a_plus"], ref["tau_plus_ms"], ref["a_minus"],
                              ref["tau_minus_ms"])
