"""Coverage of the window fit's 95 % intervals, measured on a rule whose window is known.

The rule is pair-based STDP (``stdp_ebm/models/pair_stdp.toml``; one pairing at Δt changes the
weight by A_pre e^(−Δt/τ_pre) for Δt > 0 and A_post e^(Δt/τ_post) for Δt < 0), not the project's
Eq 26 kernel. Every "seed" is an independent copy of the protocol (every Δt, every repeat, its own
membrane noise); all seeds are pairs of ONE Brian2 run (:func:`simulate_seeds`), so 100 seeds cost
one compiled network. Each seed is fitted with :func:`stdp_ebm.stdp.window_fit.fit_window` exactly as the
``stdp_window`` experiment fits its run, and :func:`coverage` counts how often each 95 % interval
contains the truth.

**The truth.** The fitted window is the rule's window seen through the spike-time jitter: a pairing
whose post spike lands δ off its condition's mean changes the weight by A e^(−(Δt̄ + δ)/τ), whose
mean over the jitter is A e^(−Δt̄/τ) e^(σ²/2τ²) (σ: the jitter's s.d., measured per condition and
pooled over the seeds). So the truth of A± is n_pairings · A± · e^(σ²/2τ²) (obtained by fitting the
jitter-averaged window, :func:`stdp_ebm.stdp.window_fit.jitter_average`), and the truth of τ± is τ±,
except for the pairs of spikes from neighbouring pairings (at 5 Hz, e^(−(200 − abs(Δt))/τ) ≈ 1e-3 of
the main term at abs(Δt) = 60 ms): they are summed over the schedule with the post spikes at their
measured mean offset (the evoked spikes land ≈ 0.05 ms late), which the regressor Δt̄ does not
correct for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .window_fit import N_BOOT, double_exponential, fit_window, jitter_average, jitter_sd

__all__ = ["Seeds", "simulate_seeds", "synthetic_seeds", "pair_rule_truth", "coverage",
           "format_table", "PARAMS"]

#: The fitted window parameters whose intervals are checked: A+, τ+ (ms), A−, τ− (ms).
PARAMS = ("a_plus", "tau_plus", "a_minus", "tau_minus")


@dataclass(frozen=True)
class Seeds:
    """Per pair of all seeds: the data one coverage study fits.

    Parameters
    ----------
    nominal : numpy.ndarray
        Nominal Δt of each pair (ms), shape ``(n_pairs,)``.
    measured : numpy.ndarray
        Measured Δt of each pair (ms), the mean over its pairings.
    delta_w : numpy.ndarray
        ΔW of each pair (the rule's weight units).
    seed : numpy.ndarray
        The seed (copy of the protocol) each pair belongs to.
    jitter_ms : numpy.ndarray
        Per nominal Δt (sorted), the jitter s.d. pooled over the seeds (ms).
    window : tuple of float
        (A+, τ+, A−, τ−) of one pairing, τ in ms.
    n_pairings : int
        Pairings per pair.
    frequency_hz : float
        Pairing frequency (Hz); 0 for isolated pairings.
    source : str
        How the data were made, for the table.
    """

    nominal: np.ndarray
    measured: np.ndarray
    delta_w: np.ndarray
    seed: np.ndarray
    jitter_ms: np.ndarray
    window: tuple[float, float, float, float]
    n_pairings: int
    frequency_hz: float
    source: str


def _pooled_jitter(offsets: list[np.ndarray], nominal: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Per condition, the root mean over seeds of each seed's jitter variance (the variance the
    estimator of one seed sees)."""
    var = [jitter_sd([offsets[k] for k in np.nonzero(seed == s)[0]], nominal[seed == s])[1] ** 2
           for s in np.unique(seed)]
    return np.sqrt(np.mean(var, axis=0))


def simulate_seeds(n_seeds: int, grid: np.ndarray, repeats: int, n_pairings: int,
                   frequency_hz: float, noise_mV: float, seed: int = 2024,
                   synapse: str = "pair_stdp") -> Seeds:
    """``n_seeds`` copies of the protocol as pairs of one Brian2 run of the pair-based rule.

    Parameters
    ----------
    n_seeds : int
        Independent copies of the protocol.
    grid : numpy.ndarray
        Nominal Δt of the conditions (ms), shape ``(n_conditions,)``.
    repeats : int
        Pairs per condition in each seed.
    n_pairings : int
        Pre/post pairings per pair.
    frequency_hz : float
        Pairing frequency (Hz).
    noise_mV : float
        s.d. of the membrane noise (mV), the source of the spike-time jitter.
    seed : int
        Brian2's seed.
    synapse : str
        The rule's model file; its window must be ``Apre``/``taupre``/``Apost``/``taupost``.

    Returns
    -------
    Seeds
        The simulated data.
    """
    from ..models import load_model
    from .protocols import pairing, pairing_offsets, run_schedule
    grid = np.asarray(grid, float)
    nominal = np.tile(np.repeat(grid, repeats), n_seeds)
    who = np.repeat(np.arange(n_seeds), grid.size * repeats)
    res = run_schedule(pairing(nominal, n_pairings, frequency_hz), seed=seed, noise_mV=noise_mV,
                   synapse=synapse)
    offsets = pairing_offsets(res, nominal.size)
    p = load_model(synapse).params
    window = (float(p["Apre"]), float(p["taupre"]) * 1e3, -float(p["Apost"]),
              float(p["taupost"]) * 1e3)
    return Seeds(nominal, np.array([o.mean() for o in offsets]), res.delta_w, who,
                 _pooled_jitter(offsets, nominal, who), window, n_pairings, frequency_hz,
                 f"one Brian2 run of {synapse} ({nominal.size} pairs, {noise_mV:g} mV noise)")


def synthetic_seeds(n_seeds: int, grid: np.ndarray, repeats: int, n_pairings: int,
                    jitter_ms: float, window: tuple[float, float, float, float],
                    seed: int = 0, dt_ms: float = 0.1) -> Seeds:
    """The same data drawn without Brian2, from the known window.

    Each pairing's post spike lands N(0, jitter) off its nominal time, rounded to the ``dt_ms`` grid,
    and changes the weight by the known window (isolated pairings: no interaction between neighbouring
    pairings).

    Parameters
    ----------
    n_seeds : int
        Independent copies of the protocol.
    grid : numpy.ndarray
        Nominal Δt of the conditions (ms), shape ``(n_conditions,)``.
    repeats : int
        Pairs per condition in each seed.
    n_pairings : int
        Pre/post pairings per pair.
    jitter_ms : float
        s.d. of the post spike's offset (ms).
    window : tuple of float
        (A+, τ+, A−, τ−) of one pairing, τ in ms.
    seed : int
        Seed of the generator.
    dt_ms : float
        Time grid the spikes are rounded to (ms).

    Returns
    -------
    Seeds
        The synthetic data (``frequency_hz`` 0).
    """
    rng = np.random.default_rng(seed)
    grid = np.asarray(grid, float)
    nominal = np.tile(np.repeat(grid, repeats), n_seeds)
    who = np.repeat(np.arange(n_seeds), grid.size * repeats)
    offsets = np.round(rng.normal(0.0, jitter_ms, (nominal.size, n_pairings)) / dt_ms) * dt_ms
    actual = nominal[:, None] + offsets
    dw = double_exponential(actual, *window).sum(axis=1)
    return Seeds(nominal, actual.mean(axis=1), dw, who,
                 _pooled_jitter(list(offsets), nominal, who), window, n_pairings, 0.0,
                 f"synthetic: N(0, {jitter_ms:g} ms) jitter on a {dt_ms:g} ms grid")


def pair_rule_truth(data: Seeds, exclude_ms: float) -> dict[str, float]:
    """The values the intervals should contain (module docstring).

    The rule's ΔW over each condition's schedule (every pre–post pair of spikes, so neighbouring
    pairings count) with the post spikes at their measured mean offset from nominal (pooled over the
    seeds), times the jitter factor e^(σ²/2τ²) of the condition, fitted like the data but without
    noise.

    Parameters
    ----------
    data : Seeds
        The seeds' data.
    exclude_ms : float
        Pairs with abs(Δt) at most this (ms) are left out of the fit, as in the data's.

    Returns
    -------
    dict of str to float
        The truth of each of :data:`PARAMS` (τ in ms).
    """
    from .protocols import pairing
    from .kernels import ExponentialKernel
    grid = np.unique(data.nominal)
    x = np.array([np.mean(data.measured[data.nominal == g]) for g in grid])
    a_p, t_p, a_m, t_m = data.window
    if data.frequency_hz > 0:
        kernel = ExponentialKernel(a_p, t_p * 1e-3, -a_m, t_m * 1e-3)
        sched = pairing(x, data.n_pairings, data.frequency_hz)
        theory = np.array([kernel.from_spikes(*sched.pair(k)) for k in range(grid.size)])
    else:  # isolated pairings
        theory = data.n_pairings * double_exponential(x, *data.window)
    factor = jitter_average(lambda d: double_exponential(d, *data.window), x,
                            data.jitter_ms) / double_exponential(x, *data.window)
    ref = fit_window(x, theory * factor, grid, exclude_ms=exclude_ms, n_boot=0).as_dict()
    return {k: float(ref[k]) for k in PARAMS}


def coverage(data: Seeds, exclude_ms: float, n_boot: int = N_BOOT) -> dict[str, Any]:
    """Fit every seed and measure how often each interval contains the truth.

    Per parameter: coverage with its Clopper–Pearson 95 % interval, the width ratio (mean half-width /
    (1.96 × s.d. of the estimates across seeds)) and the bias of the mean estimate in standard errors.

    Parameters
    ----------
    data : Seeds
        The seeds' data.
    exclude_ms : float
        Pairs with abs(Δt) at most this (ms) are left out of every fit.
    n_boot : int
        Bootstrap resamples of each BCa interval.

    Returns
    -------
    dict
        ``rows`` (per parameter: truth, nominal, mean, sd, covered, n, coverage, coverage_ci,
        width_ratio, bias_se), ``n_seeds``, ``failed``, ``source``, ``n_boot``, ``exclude_ms`` and
        ``jitter_ms`` (its range).
    """
    truth = pair_rule_truth(data, exclude_ms)
    fits = []
    for s in np.unique(data.seed):
        part = data.seed == s
        fits.append(fit_window(data.measured[part], data.delta_w[part], data.nominal[part],
                               exclude_ms, seed=int(s), n_boot=n_boot).as_dict())
    n = len(fits)
    rows = {}
    for k in PARAMS:
        est = np.array([f[k] for f in fits])
        ci = np.array([f[f"{k}_ci"] for f in fits])
        hit = int(np.sum((ci[:, 0] <= truth[k]) & (truth[k] <= ci[:, 1])))
        sd = float(np.std(est, ddof=1))
        cp = stats.binomtest(hit, n).proportion_ci(0.95, method="exact")
        rows[k] = {"truth": truth[k], "nominal": _nominal(data, k), "mean": float(est.mean()),
                   "sd": sd, "covered": hit, "n": n, "coverage": hit / n,
                   "coverage_ci": [float(cp.low), float(cp.high)],
                   "width_ratio": float(np.mean((ci[:, 1] - ci[:, 0]) / 2) / (1.96 * sd)),
                   "bias_se": float((est.mean() - truth[k]) / (sd / np.sqrt(n)))}
    return {"rows": rows, "n_seeds": n, "failed": sum(not f["ok"] for f in fits),
            "source": data.source, "n_boot": n_boot, "exclude_ms": exclude_ms,
            "jitter_ms": [float(data.jitter_ms.min()), float(data.jitter_ms.max())]}


def _nominal(data: Seeds, name: str) -> float:
    """The rule's own value (no jitter factor) of a parameter."""
    a_p, t_p, a_m, t_m = data.window
    return dict(zip(PARAMS, (data.n_pairings * a_p, t_p, data.n_pairings * a_m, t_m)))[name]


def format_table(result: dict[str, Any]) -> str:
    """The coverage table as Markdown.

    Parameters
    ----------
    result : dict
        A :func:`coverage` result.

    Returns
    -------
    str
        A header line and a table with one row per parameter.
    """
    lo, hi = result["jitter_ms"]
    out = [f"{result['n_seeds']} seeds, {result['source']}; jitter s.d. {lo:.3f}–{hi:.3f} ms; "
           f"BCa, {result['n_boot']} resamples; fit on |Δt| > {result['exclude_ms']:g} ms; "
           f"failed fits: {result['failed']}", "",
           "| parameter | rule value | truth with e^(σ²/2τ²) | mean estimate | bias (s.e.) "
           "| covered | coverage [95 % CI] | width ratio |",
           "|---|---|---|---|---|---|---|---|"]
    names = {"a_plus": "A+", "tau_plus": "τ+ (ms)", "a_minus": "A−", "tau_minus": "τ− (ms)"}
    for k, r in result["rows"].items():
        out.append(f"| {names[k]} | {r['nominal']:.8g} | {r['truth']:.8g} | {r['mean']:.8g} | "
                   f"{r['bias_se']:+.2f} | {r['covered']}/{r['n']} | {100 * r['coverage']:.0f} % "
                   f"[{100 * r['coverage_ci'][0]:.1f}, {100 * r['coverage_ci'][1]:.1f}] | "
                   f"{r['width_ratio']:.2f} |")
    return "\n".join(out)
