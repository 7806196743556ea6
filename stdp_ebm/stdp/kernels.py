"""The STDP window of a rule: theory pair kernels (numpy/scipy, no Brian2) and statistics.

Theory. The rule synapse (``models/rule_synapse.toml``) estimates rates with a second-order filter
whose impulse response is :func:`filter_kernel`, and accumulates (Eq 26 of Bengio et al. 2017)

    ΔW = η ∫ ρ_j(t) dρ_i/dt dt,   ρ = r / r_max,   r_j = Σ_a k_j(t − t_a),  r_i = Σ_b k_i(t − t_b).

ΔW is bilinear in the two spike trains, so ΔW = Σ_{a,b} K(t_b − t_a) with the pair kernel

    K(Δt) = η / r_max² · ∫ k_j(t) k_i'(t − Δt) dt          (Δt = t_post − t_pre),

computed here by direct numerical integration (midpoint rule on a 10 µs grid, FFT correlation).
Its shape follows from the kernels: for Δt > 0 only the tail of k_j enters, K ∝ e^(−Δt/τ_pre,decay)
(τ+ is set by the presynaptic filter); for Δt < 0 the post-rate derivative k_i' (negative on the
decay, ∝ e^(−|Δt|/τ_post,decay)) dominates (τ− is set by the postsynaptic filter). ∫ K dΔt = 0
because k_i' integrates to zero: uncorrelated spike trains at constant rates give no net change.

Pair-based STDP (``models/pair_stdp.toml``) has a closed-form kernel (:class:`ExponentialKernel`).
A synapse model file names its kernel with ``window = NAME``, a key of :data:`WINDOWS`; each kernel
declares the parameters it reads (:class:`Window`), and a file whose parameters are named otherwise
maps them in ``[window_parameters]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from scipy import signal

__all__ = ["RuleKernels", "PairKernel", "ExponentialKernel", "Window", "WINDOWS", "filter_kernel",
           "filter_kernel_derivative", "theory_per_pair", "group_stats", "zero_crossing",
           "rmse_fraction"]

#: grid step (s) of the numerical integration of the pair kernel
THEORY_STEP_S = 1e-5


@dataclass(frozen=True)
class RuleKernels:
    """Time constants of the rule synapse's rate filters, its learning rate and rate scale.

    Parameters
    ----------
    tau_pre_decay : float
        Decay time constant of the presynaptic rate filter (s); sets the window's τ+.
    tau_pre_rise : float
        Rise time constant of the presynaptic rate filter (s).
    tau_post_decay : float
        Decay time constant of the postsynaptic rate filter (s); sets the window's τ−.
    tau_post_rise : float
        Rise time constant of the postsynaptic rate filter (s).
    eta : float
        Learning rate η of Eq 26 (dimensionless).
    r_max : float
        Rate scale r_max (Hz): ρ = r / r_max.
    """

    tau_pre_decay: float
    tau_pre_rise: float
    tau_post_decay: float
    tau_post_rise: float
    eta: float
    r_max: float

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RuleKernels":
        """From a rule-synapse namespace (Brian2 quantities are converted to SI floats).

        Parameters
        ----------
        params : mapping
            Parameter name -> value, with at least the six fields' names (e.g.
            :meth:`stdp_ebm.models.Model.window_namespace`).

        Returns
        -------
        RuleKernels
            Times in s, ``r_max`` in Hz.
        """
        return cls(**{name: float(params[name]) for name in cls.__dataclass_fields__})


def filter_kernel(t: np.ndarray, tau_decay: float, tau_rise: float) -> np.ndarray:
    """Impulse response of the rule synapse's rate filter (unit area).

    du/dt = −u/τ_d, dr/dt = (u − r)/τ_r, u += 1/τ_d at a spike: k(t) = (e^(−t/τ_d) − e^(−t/τ_r)) /
    (τ_d − τ_r) for t ≥ 0.

    Parameters
    ----------
    t : numpy.ndarray
        Times after the spike (s), any shape; negative times give 0.
    tau_decay : float
        Decay time constant τ_d (s).
    tau_rise : float
        Rise time constant τ_r (s); equal to τ_d gives the alpha function.

    Returns
    -------
    numpy.ndarray
        k(t) (1/s), shape of ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0.0, 1.0, 1e-5)
    >>> print(round(float(filter_kernel(t, 0.02, 0.005).sum() * 1e-5), 4))
    1.0
    """
    t = np.asarray(t, float)
    s = np.clip(t, 0.0, None)
    if math.isclose(tau_decay, tau_rise):
        k = s * np.exp(-s / tau_decay) / tau_decay ** 2
    else:
        k = (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / (tau_decay - tau_rise)
    return np.where(t >= 0, k, 0.0)


def filter_kernel_derivative(t: np.ndarray, tau_decay: float, tau_rise: float) -> np.ndarray:
    """d/dt of :func:`filter_kernel`, i.e. (u − r)/τ_r after one spike (0 before it).

    Parameters
    ----------
    t : numpy.ndarray
        Times after the spike (s), any shape; negative times give 0.
    tau_decay : float
        Decay time constant τ_d (s).
    tau_rise : float
        Rise time constant τ_r (s); equal to τ_d gives the alpha function.

    Returns
    -------
    numpy.ndarray
        k'(t) (1/s²), shape of ``t``.
    """
    t = np.asarray(t, float)
    s = np.clip(t, 0.0, None)
    if math.isclose(tau_decay, tau_rise):
        d = (1.0 - s / tau_decay) * np.exp(-s / tau_decay) / tau_decay ** 2
    else:
        d = (np.exp(-s / tau_rise) / tau_rise - np.exp(-s / tau_decay) / tau_decay) \
            / (tau_decay - tau_rise)
    return np.where(t >= 0, d, 0.0)


class SpikeSum:
    """ΔW of a rule that is a sum of a pair kernel over all spike pairs (``self(Δt)``, ``span``)."""

    span: float

    def __call__(self, delta_t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def from_spikes(self, pre_t: np.ndarray, post_t: np.ndarray) -> float:
        """ΔW of one synapse given all its pre and post spike times: Σ_{a,b} K(t_b − t_a).

        Parameters
        ----------
        pre_t : numpy.ndarray
            Presynaptic spike times (s), shape ``(n_pre,)``.
        post_t : numpy.ndarray
            Postsynaptic spike times (s), shape ``(n_post,)``.

        Returns
        -------
        float
            The summed pair kernel (in the rule's weight units).
        """
        pre_t, post_t = np.sort(pre_t), np.asarray(post_t, float)
        total = 0.0
        for tb in post_t:
            lo, hi = np.searchsorted(pre_t, [tb - self.span, tb + self.span])
            total += float(np.sum(self(tb - pre_t[lo:hi])))
        return total


class PairKernel(SpikeSum):
    """K(Δt) of the module docstring, tabulated once and interpolated.

    Call it with Δt = t_post − t_pre (s); zero beyond the tabulated span (15 time constants).

    Parameters
    ----------
    kern : RuleKernels
        The rule synapse's filters, learning rate and rate scale.
    step : float
        Grid step (s) of the numerical integration (midpoint rule, O(step²)).
    """

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


class ExponentialKernel(SpikeSum):
    """Pair-based STDP with all-to-all traces (Song, Miller & Abbott 2000), in closed form.

    K(Δt) = A_pre e^(−Δt/τ_pre) for Δt > 0, A_post e^(Δt/τ_post) for Δt < 0 (A_post < 0).

    Parameters
    ----------
    a_pre : float
        Amplitude A_pre of potentiation (dimensionless weight change per pair).
    tau_pre : float
        Time constant τ_pre of the presynaptic trace (s).
    a_post : float
        Amplitude A_post of depression (negative).
    tau_post : float
        Time constant τ_post of the postsynaptic trace (s).

    Examples
    --------
    >>> k = ExponentialKernel(0.01, 0.02, -0.0105, 0.02)
    >>> print(k([0.02, -0.02]).round(5))
    [ 0.00368 -0.00386]
    """

    def __init__(self, a_pre: float, tau_pre: float, a_post: float, tau_post: float) -> None:
        self.a_pre, self.tau_pre, self.a_post, self.tau_post = a_pre, tau_pre, a_post, tau_post
        self.span = 30.0 * max(tau_pre, tau_post)

    def __call__(self, delta_t: np.ndarray) -> np.ndarray:
        x = np.asarray(delta_t, float)
        return np.where(x > 0, self.a_pre * np.exp(-np.abs(x) / self.tau_pre),
                        np.where(x < 0, self.a_post * np.exp(-np.abs(x) / self.tau_post), 0.0))


@dataclass(frozen=True)
class Window:
    """A theory pair kernel a synapse model file can name (``window = NAME``).

    A model file whose parameters are named otherwise than the kernel's maps them in its
    ``[window_parameters]`` table (:meth:`stdp_ebm.models.Model.window_namespace`).

    Parameters
    ----------
    build : callable
        ``build(params) -> kernel``: gets exactly the names of ``params`` (values as SI floats or
        quantities) and returns a kernel callable on Δt (s).
    params : mapping of str to str
        Every parameter the kernel reads, by the kernel's own name, with its dimensions as a Brian2
        unit name (``"second"``, ``"Hz"``, ``"1"`` for dimensionless).
    tau_plus_param : str
        The parameter that sets the window's τ+ (the potentiation side).
    tau_minus_param : str
        The parameter that sets the window's τ− (the depression side).
    doc : str
        One line describing the kernel.
    """

    build: Callable[[Mapping[str, Any]], SpikeSum]
    params: Mapping[str, str]
    tau_plus_param: str
    tau_minus_param: str
    doc: str = ""


def _pair_exponential(p: Mapping[str, Any]) -> ExponentialKernel:
    return ExponentialKernel(float(p["Apre"]), float(p["taupre"]), float(p["Apost"]),
                             float(p["taupost"]))


#: theory kernels by the name a model file gives in its ``window`` key
WINDOWS: dict[str, Window] = {
    "eq26_filters": Window(lambda p: PairKernel(RuleKernels.from_params(p)),
                           {"tau_pre_decay": "second", "tau_pre_rise": "second",
                            "tau_post_decay": "second", "tau_post_rise": "second", "eta": "1",
                            "r_max": "Hz"},
                           "tau_pre_decay", "tau_post_decay",
                           "Eq 26 with second-order rate filters (PairKernel)"),
    "pair_exponential": Window(_pair_exponential,
                               {"Apre": "1", "taupre": "second", "Apost": "1",
                                "taupost": "second"},
                               "taupre", "taupost",
                               "pair-based STDP: Apre·e^(−Δt/taupre), Apost·e^(Δt/taupost)"),
}


def theory_per_pair(pairs_i: np.ndarray, pre_i: np.ndarray, pre_t: np.ndarray, post_i: np.ndarray,
                    post_t: np.ndarray, kernel: SpikeSum) -> np.ndarray:
    """Theory ΔW for each synapse ``k`` in ``pairs_i`` from the recorded spikes of pair ``k``.

    Parameters
    ----------
    pairs_i : numpy.ndarray
        Pair (synapse) indices to evaluate, shape ``(n,)``.
    pre_i : numpy.ndarray
        Pair index of each presynaptic spike.
    pre_t : numpy.ndarray
        Time of each presynaptic spike (s).
    post_i : numpy.ndarray
        Pair index of each postsynaptic spike.
    post_t : numpy.ndarray
        Time of each postsynaptic spike (s).
    kernel : SpikeSum
        The pair kernel (:class:`PairKernel` or :class:`ExponentialKernel`).

    Returns
    -------
    numpy.ndarray
        ΔW per pair, shape ``(n,)``.
    """
    return np.array([kernel.from_spikes(pre_t[pre_i == k], post_t[post_i == k]) for k in pairs_i])


# ----------------------------------------------------------------------------------- statistics

def group_stats(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Per unique key: the mean of ``values``, its standard error and the count.

    Parameters
    ----------
    keys : numpy.ndarray
        Group key of each value (e.g. the nominal Δt in ms), shape ``(n,)``.
    values : numpy.ndarray
        Values (e.g. ΔW), shape ``(n,)``.

    Returns
    -------
    keys : numpy.ndarray
        Unique keys, sorted.
    mean : numpy.ndarray
        Mean per key.
    sem : numpy.ndarray
        Standard error of the mean (ddof = 1; 0 for one sample).
    count : numpy.ndarray
        Values per key.

    Examples
    --------
    >>> k, m, se, n = group_stats([1, 1, 2], [1.0, 3.0, 5.0])
    >>> print(k, m, se, n)
    [1. 2.] [2. 5.] [1. 0.] [2 1]
    """
    keys, values = np.asarray(keys, float), np.asarray(values, float)
    uniq = np.unique(keys)
    mean = np.array([values[keys == k].mean() for k in uniq])
    count = np.array([(keys == k).sum() for k in uniq])
    sem = np.array([values[keys == k].std(ddof=1) / math.sqrt(n) if n > 1 else 0.0
                    for k, n in zip(uniq, count)])
    return uniq, mean, sem, count


def zero_crossing(x: np.ndarray, y: np.ndarray, near: float = 0.0) -> float:
    """The sign change of y(x) closest to ``near``, by linear interpolation.

    Parameters
    ----------
    x : numpy.ndarray
        Abscissae, increasing, shape ``(n,)``.
    y : numpy.ndarray
        Values, shape ``(n,)``.
    near : float
        The crossing closest to this x is returned.

    Returns
    -------
    float
        The interpolated root (an exact zero of ``y`` if there is no sign change); NaN if none.

    Examples
    --------
    >>> zero_crossing([-2.0, -1.0, 1.0, 2.0], [-1.0, -1.0, 1.0, 1.0])
    0.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    idx = np.nonzero(np.sign(y[:-1]) * np.sign(y[1:]) < 0)[0]
    if idx.size == 0:
        exact = x[y == 0]
        return float(exact[np.argmin(abs(exact - near))]) if exact.size else float("nan")
    roots = x[idx] - y[idx] * (x[idx + 1] - x[idx]) / (y[idx + 1] - y[idx])
    return float(roots[np.argmin(abs(roots - near))])


def rmse_fraction(simulated: np.ndarray, theory: np.ndarray) -> float:
    """RMSE between simulation and theory as a fraction of max|theory|.

    Parameters
    ----------
    simulated : numpy.ndarray
        Simulated values, shape ``(n,)``.
    theory : numpy.ndarray
        Theory at the same points, shape ``(n,)``, not all zero.

    Returns
    -------
    float
        The RMSE / max|theory| (dimensionless).
    """
    simulated, theory = np.asarray(simulated, float), np.asarray(theory, float)
    return float(np.sqrt(np.mean((simulated - theory) ** 2)) / np.max(np.abs(theory)))
