"""Alignment metrics between an update ΔW and a reference (e.g. −∂C/∂W), per layer and overall."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .errors import DivergenceError

__all__ = ["METRICS", "NOISE_FLOOR", "direction_where_defined", "alignment", "layer_alignment", "cross_alignment", "metrics_table",
           "headline_near_beta", "loglog_slope", "trial_interval", "trial_cosine", "trial_nrmse",
           "trial_means", "layer_intervals", "mcnemar"]

#: The metrics of :func:`alignment`, in the column order of :func:`metrics_table`.
METRICS = ("cos", "angle_deg", "norm_ratio", "nrmse", "sign_agree")
#: an update whose norm is below this fraction of its reference's is rounding noise (e.g. a layer
#: the nudge has not reached yet, ‖ΔW‖/‖−∂C/∂W‖ ~ 1e-10): its direction is not defined
NOISE_FLOOR = 1e-6


def direction_where_defined(values: np.ndarray, norm_ratio: np.ndarray) -> np.ndarray:
    """``values`` with NaN where ``norm_ratio`` < :data:`NOISE_FLOOR`.

    So that figures do not draw the direction of rounding noise.

    Parameters
    ----------
    values : numpy.ndarray
        A cosine or an angle per layer (any shape).
    norm_ratio : numpy.ndarray
        ‖ΔW‖/‖reference‖ for the same entries, broadcastable to ``values``.

    Returns
    -------
    numpy.ndarray
        ``values``, NaN where the update is below the noise floor.
    """
    return np.where(np.asarray(norm_ratio) >= NOISE_FLOOR, values, np.nan)


def alignment(update: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Compare an update with a reference of the same shape.

    * ``cos``: cosine similarity ⟨u, r⟩ / (‖u‖‖r‖)
    * ``angle_deg``: arccos of ``cos`` in degrees
    * ``norm_ratio``: ‖u‖ / ‖r‖
    * ``nrmse``: ‖u − r‖ / ‖r‖ (root-mean-square error normalised by the reference's RMS)
    * ``sign_agree``: fraction of entries with the same sign, among entries where ``|r|`` exceeds
      1e-9 of ``max|r|`` (entries that are zero in the reference have no sign to match)

    Parameters
    ----------
    update : numpy.ndarray
        The update u (e.g. the rule's ΔW_k), any shape.
    reference : numpy.ndarray
        The reference r (e.g. −∂C/∂W_k), the shape of ``update``.

    Returns
    -------
    dict of str to float
        The metrics of :data:`METRICS`; NaN where a norm is zero.

    Raises
    ------
    ValueError
        If the shapes differ.
    DivergenceError
        If either array has a non-finite entry (an overflow upstream, e.g. weights of 1e300 with
        unprojected dynamics), instead of metrics that are all NaN.

    Examples
    --------
    >>> import numpy as np
    >>> al = alignment(np.array([1.0, 1.0]), np.array([2.0, 0.0]))
    >>> print(round(al["cos"], 4), round(al["angle_deg"], 1), round(al["norm_ratio"], 4))
    0.7071 45.0 0.7071
    """
    u = np.ravel(np.asarray(update, float))
    r = np.ravel(np.asarray(reference, float))
    if u.shape != r.shape:
        raise ValueError(f"shape mismatch: {np.shape(update)} vs {np.shape(reference)}")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(r))):
        raise DivergenceError("the weight change or its reference is not finite (overflow): "
                              "the weights are too large for the dynamics")
    scale = max(float(np.max(np.abs(u), initial=0.0)), float(np.max(np.abs(r), initial=0.0)))
    if scale > 0:  # norms of entries near 1e300 would overflow; every metric is scale-free
        u, r = u / scale, r / scale
    nu, nr = np.linalg.norm(u), np.linalg.norm(r)
    cos = float(u @ r / (nu * nr)) if nu > 0 and nr > 0 else float("nan")
    significant = np.abs(r) > 1e-9 * np.max(np.abs(r)) if nr > 0 else np.zeros_like(r, bool)
    sign = float(np.mean(np.sign(u[significant]) == np.sign(r[significant]))) \
        if significant.any() else float("nan")
    return {
        "cos": cos,
        "angle_deg": float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))),
        "norm_ratio": float(nu / nr) if nr > 0 else float("nan"),
        "nrmse": float(np.linalg.norm(u - r) / nr) if nr > 0 else float("nan"),
        "sign_agree": sign,
    }


def layer_alignment(updates: Sequence[np.ndarray],
                    references: Sequence[np.ndarray]) -> dict[str, list[float] | dict[str, float]]:
    """Per-layer :func:`alignment` plus ``overall`` on all weights concatenated.

    Parameters
    ----------
    updates : sequence of numpy.ndarray
        ΔW_k per weight matrix.
    references : sequence of numpy.ndarray
        The reference per weight matrix, same length and shapes.

    Returns
    -------
    dict
        Each metric of :data:`METRICS` as a list indexed by k, and ``"overall"``: the metrics dict of
        all weights together.
    """
    per = [alignment(u, r) for u, r in zip(updates, references, strict=True)]
    out: dict[str, list[float] | dict[str, float]] = {m: [p[m] for p in per] for m in METRICS}
    out["overall"] = alignment(np.concatenate([np.ravel(u) for u in updates]),
                               np.concatenate([np.ravel(r) for r in references]))
    return out


def cross_alignment(updates: Mapping[str, Sequence[np.ndarray]],
                    references: Mapping[str, Sequence[np.ndarray]]) -> dict[str, dict]:
    """:func:`layer_alignment` of every update against every reference.

    Parameters
    ----------
    updates : mapping of str to sequence of numpy.ndarray
        Updates by name (e.g. ``"sym"``), each one array per W_k.
    references : mapping of str to sequence of numpy.ndarray
        References by name (e.g. ``"implicit"``).

    Returns
    -------
    dict of str to dict
        Keyed ``"<update>_vs_<reference>"`` (e.g. ``"sym_vs_implicit"``).
    """
    return {f"{u}_vs_{r}": layer_alignment(updates[u], references[r])
            for u in updates for r in references}


def metrics_table(al: dict) -> np.ndarray:
    """A :func:`layer_alignment` result as an array, the last row overall.

    Parameters
    ----------
    al : dict
        A :func:`layer_alignment` result.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_W + 1, len(METRICS))``.
    """
    per = np.array([al[m] for m in METRICS]).T
    return np.vstack([per, [al["overall"][m] for m in METRICS]])


def headline_near_beta(by_beta: list[dict], beta: float = 0.01) -> dict:
    """The symmetrised rule vs the implicit gradient at the swept β closest (in log) to ``beta``.

    Parameters
    ----------
    by_beta : list of dict
        One row per swept β, each with ``"beta"`` and a ``"sym_vs_implicit"``
        :func:`layer_alignment` result.
    beta : float
        The nudge strength to report.

    Returns
    -------
    dict
        ``beta`` (the swept value used), ``min_cos`` (the least per-layer cosine) and
        ``max_norm_ratio_error`` (the largest per-layer ``|‖ΔW‖ / ‖−∂C/∂W‖ − 1|``).
    """
    row = min(by_beta, key=lambda r: abs(np.log(r["beta"] / beta)))
    al = row["sym_vs_implicit"]
    return {"beta": row["beta"], "min_cos": min(al["cos"]),
            "max_norm_ratio_error": max(abs(v - 1) for v in al["norm_ratio"])}


def loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of log|y| against log x.

    Parameters
    ----------
    x : array_like
        Positive abscissae (e.g. β), shape ``(n,)``.
    y : array_like
        Values whose magnitude is fitted, shape ``(n,)``, non-zero.

    Returns
    -------
    float
        The exponent p of abs(y) ∝ x^p.

    Examples
    --------
    >>> print(round(loglog_slope([1.0, 10.0, 100.0], [2.0, 200.0, 20000.0]), 6))
    2.0
    """
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.abs(np.asarray(y, float))), 1)[0])


# --- intervals over noise trials and paired tests ------------------------------------------------
def trial_interval(samples: np.ndarray, statistic: Callable[[np.ndarray], float],
                   level: float = 0.95) -> tuple[float, float, float]:
    """``statistic(samples)`` and its jackknife t-interval over the trials (first axis).

    θ̂ ± t_{T−1}·se_jack, se_jack² = (T−1)/T·Σ(θ̂_(i) − θ̄)² over the leave-one-out values. Trials are
    independent noise repeats (i.i.d.). Coverage and width against simulated truth:
    ``tests/test_intervals.py``.

    Parameters
    ----------
    samples : numpy.ndarray
        One sample per trial along the first axis, shape ``(T, ...)``.
    statistic : callable
        Maps ``samples`` (or any T−1 of them) to a float.
    level : float
        The interval's confidence level.

    Returns
    -------
    tuple of float
        ``(estimate, low, high)``; with fewer than three trials the bounds are NaN.
    """
    from scipy.stats import t as student

    samples = np.asarray(samples, float)
    n = len(samples)
    est = float(statistic(samples))
    if n < 3:
        return est, float("nan"), float("nan")
    loo = np.array([statistic(np.delete(samples, i, axis=0)) for i in range(n)])
    se = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
    q = float(student.ppf(0.5 + level / 2, n - 1))
    return est, est - q * se, est + q * se


def _trial_moments(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """Trial mean (flattened) and tr Σ̂, the summed per-entry variance over trials (ddof 1)."""
    u = np.asarray(samples, float).reshape(len(samples), -1)
    mean = u.mean(axis=0)
    return mean, float(np.sum((u - mean) ** 2) / (len(u) - 1))


def trial_cosine(samples: np.ndarray, reference: np.ndarray, trials: float | None = None) -> float:
    """cos of a ``trials``-trial mean of ΔW with ``reference``, the noise by its expected power.

    ⟨E ΔW, r̂⟩ / √(‖E ΔW‖² + tr Σ/trials), estimated from T noisy trials with the numerator and the
    squared norm unbiased (‖ΔW̄‖² − tr Σ̂/T estimates ‖E ΔW‖²). ``inf`` gives the cosine of the
    noise-free E ΔW, which the plain cosine underestimates (in hundreds of weights the noise's tr Σ/T
    outweighs the cosine's spread many times).

    Parameters
    ----------
    samples : numpy.ndarray
        ΔW of each trial, shape ``(T, ...)``, T ≥ 2.
    reference : numpy.ndarray
        The reference, T-free shape ``(...)`` (flattened).
    trials : float or None
        The number of trials averaged; None is T (the plain cosine of their mean), ``inf`` the
        noise-free limit.

    Returns
    -------
    float
        The cosine; NaN when the estimated squared norm is not positive.
    """
    mean, tr = _trial_moments(samples)
    n = len(samples)
    r = np.ravel(np.asarray(reference, float))
    t = n if trials is None else trials
    sq = float(mean @ mean) - tr / n + (0.0 if np.isinf(t) else tr / t)
    return float(mean @ r / np.linalg.norm(r) / np.sqrt(sq)) if sq > 0 else float("nan")


def trial_nrmse(samples: np.ndarray, reference: np.ndarray, trials: float | None = None) -> float:
    """Root-mean-square NRMSE of a ``trials``-trial mean of ΔW against ``reference``.

    √(E‖ΔW̄_trials − r‖²)/‖r‖ = √(‖E ΔW − r‖² + tr Σ/trials)/‖r‖, estimated without bias in the square
    from T samples.

    Parameters
    ----------
    samples : numpy.ndarray
        ΔW of each trial, shape ``(T, ...)``, T ≥ 2.
    reference : numpy.ndarray
        The reference, shape ``(...)`` (flattened).
    trials : float or None
        The number of trials averaged; None is T (the NRMSE of their own mean), ``inf`` its
        systematic part.

    Returns
    -------
    float
        The NRMSE (dimensionless, ≥ 0).
    """
    mean, tr = _trial_moments(samples)
    n = len(samples)
    r = np.ravel(np.asarray(reference, float))
    t = n if trials is None else trials
    sq = float(np.sum((mean - r) ** 2)) - tr / n + (0.0 if np.isinf(t) else tr / t)
    return float(np.sqrt(max(sq, 0.0)) / np.linalg.norm(r))


def trial_means(copies: Sequence[np.ndarray], batch: int) -> list[np.ndarray]:
    """Per W_k, the ΔW of each noise trial averaged over its ``batch`` examples.

    Parameters
    ----------
    copies : sequence of numpy.ndarray
        Per W_k, the per-example ΔW ordered trial-major (trial 0's examples first), shape
        ``(trials * batch, ...)``.
    batch : int
        Examples per trial.

    Returns
    -------
    list of numpy.ndarray
        Per W_k, shape ``(trials, ...)``.
    """
    return [np.asarray(a).reshape(-1, batch, *np.shape(a)[1:]).mean(axis=1) for a in copies]


def layer_intervals(per_trial: Sequence[np.ndarray], reference: Sequence[np.ndarray],
                    trials: float | None = None, level: float = 0.95) -> np.ndarray:
    """:func:`trial_cosine` and :func:`trial_nrmse` with intervals, per W_k and overall.

    Each with its :func:`trial_interval` over the trials. The bounds are clipped to [−1, 1] (cos) and
    ≥ 0 (NRMSE); the estimates are not.

    Parameters
    ----------
    per_trial : sequence of numpy.ndarray
        Per W_k, the ΔW of each trial, shape ``(T, n_k, n_{k+1})``.
    reference : sequence of numpy.ndarray
        Per W_k, the reference, shape ``(n_k, n_{k+1})``.
    trials : float or None
        Passed to :func:`trial_cosine` and :func:`trial_nrmse`.
    level : float
        The intervals' confidence level.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_W + 1, 2, 3)``: per W_k and for all weights together (last row), (cos, nrmse) ×
        (estimate, low, high); all NaN for one trial.
    """
    n = len(per_trial[0])
    parts = [np.reshape(w, (n, -1)) for w in per_trial]
    parts.append(np.concatenate(parts, axis=1))
    refs = [np.ravel(r) for r in reference]
    refs.append(np.concatenate(refs))
    if n < 2:
        return np.full((len(parts), 2, 3), np.nan)
    out = np.array([[trial_interval(u, lambda s: trial_cosine(s, r, trials), level),
                     trial_interval(u, lambda s: trial_nrmse(s, r, trials), level)]
                    for u, r in zip(parts, refs)])
    out[:, 0, 1:] = np.clip(out[:, 0, 1:], -1.0, 1.0)  # the bounds kept to where a cosine can be
    out[:, 1, 1] = np.maximum(out[:, 1, 1], 0.0)  # and an NRMSE
    return out


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test of two classifiers on the same test examples.

    Parameters
    ----------
    correct_a : numpy.ndarray
        Per-example correct mask of classifier a, shape ``(n,)``.
    correct_b : numpy.ndarray
        The same for classifier b, shape ``(n,)``.

    Returns
    -------
    dict of str to float
        ``a_only``/``b_only`` the discordant counts, ``p`` the two-sided binomial p-value of ``a_only``
        among the discordant pairs at ½ (scipy.stats.binomtest; 1 when there are none), ``n`` the
        number of examples.

    Raises
    ------
    ValueError
        If the masks differ in shape.
    """
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = float(binomtest(a_only, n, 0.5).pvalue) if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": p, "n": int(a.size)}
