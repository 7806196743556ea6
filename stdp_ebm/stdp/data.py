"""Measured STDP data (third-party digitisations) and how well a rule's curve fits them.

The points are NOT shipped with the package: the digitisations (repository
dspicher/STDP_Multicompartment, folder ``experimental_data/``) are licensed CC BY-NC-ND 4.0, which
forbids derivatives and commercial use and so cannot be relicensed under the project's MIT licence.
Experiments read them from a directory the user gives (``[data] dir``); when it is absent the run
goes on, the figures say "points absent" and summary.json records why.

Files (verbatim names of the digitisation):

* ``bi_poo_stdp_points.csv``: Bi & Poo (1998) J Neurosci 18:10464, Fig. 7, 45 points
  (Δt in ms = t_post − t_pre, change of the EPSC amplitude in %; 0 % = no change: the values run
  from −40 % to +99 % and scatter about 0 at Δt ≈ ±100 ms).
* ``sjo_ltp_freq_extracted.csv``, ``sjo_ltd_freq_extracted.csv``: Sjöström, Turrigiano & Nelson
  (2001) Neuron 32:1149, Δt = +10 ms and −10 ms, for 0.1, 10, 20, 40, 50 Hz the pairs (mean,
  mean + s.d.) of the EPSP after pairing in % of before (100 % = no change), in that order.

Comparison of a rule's curve f(Δt) (or f(frequency)) with points y_i: the rule's own parameters are
all FIXED; one scale factor s ≥ 0 (rule units → %) is FITTED by least squares, so a fitted
amplitude cannot hide a wrong shape. Reported: RMSE of s·f against the points, and the Gaussian
log-likelihood Σ log N(y_i; s f(x_i), σ_i²) with the per-point scatter σ estimated from the data
(the residual s.d. of the data's own double-exponential fit for Bi & Poo; the reported s.d. of each
point for Sjöström et al.).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .resampling import MC_REL_DATA, bca

__all__ = ["BI_POO_FILE", "SJOSTROM_FILES", "SJOSTROM_FREQUENCIES_HZ", "SOURCE", "Points",
           "bi_poo_points", "sjostrom_points", "data_scatter", "compare"]

#: the file of Bi & Poo's points in the data directory
BI_POO_FILE = "bi_poo_stdp_points.csv"
#: Sjöström et al.'s files by Δt (ms)
SJOSTROM_FILES = {10.0: "sjo_ltp_freq_extracted.csv", -10.0: "sjo_ltd_freq_extracted.csv"}
#: the pairing frequencies (Hz) of Sjöström et al.'s points, in file order
SJOSTROM_FREQUENCIES_HZ = np.array([0.1, 10.0, 20.0, 40.0, 50.0])
#: bootstrap resamples first drawn for a rule's scale and RMSE (more while the bounds' Monte Carlo
#: error exceeds MC_REL_DATA)
N_BOOT_COMPARE = 50000
#: where the points come from and under which licence
SOURCE = ("digitisation by dspicher/STDP_Multicompartment (experimental_data/, commit 57e5cf2), "
          "CC BY-NC-ND 4.0, read from the user's directory, not shipped")


@dataclass(frozen=True)
class Points:
    """Measured points.

    Parameters
    ----------
    x : numpy.ndarray
        Δt = t_post − t_pre (ms), or the pairing frequency (Hz), shape (n,).
    y : numpy.ndarray
        Change of the synaptic strength (%; 0 = no change), shape (n,).
    sd : numpy.ndarray or None
        Per-point standard deviation (%), shape (n,), when the source reports one.
    source : str
        Citation, digitisation and licence.
    """

    x: np.ndarray
    y: np.ndarray
    sd: np.ndarray | None
    source: str


def _read_csv(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the digitised points ({exc})") from None


def bi_poo_points(directory: str | Path) -> Points | None:
    """Bi & Poo's (1998, Fig. 7) 45 points.

    Parameters
    ----------
    directory : str or Path
        The data directory (``[data] dir``).

    Returns
    -------
    Points or None
        Sorted by Δt (ms); None when the file is not there.
    """
    path = Path(directory) / BI_POO_FILE
    if not path.is_file():
        return None
    pts = _read_csv(path)
    order = np.argsort(pts[:, 0])
    return Points(pts[order, 0], pts[order, 1], None, f"Bi & Poo 1998 Fig. 7, {SOURCE}")


def sjostrom_points(directory: str | Path) -> dict[float, Points] | None:
    """Sjöström et al.'s (2001) mean ± s.d. per Δt, by pairing frequency.

    Parameters
    ----------
    directory : str or Path
        The data directory (``[data] dir``).

    Returns
    -------
    dict[float, Points] or None
        Δt (ms, ±10) → points over frequency (Hz) with y in % change (0 = none) and their s.d.;
        None when a file is absent.
    """
    out = {}
    for delta, name in SJOSTROM_FILES.items():
        path = Path(directory) / name
        if not path.is_file():
            return None
        values = _read_csv(path).ravel()
        if values.size != 2 * SJOSTROM_FREQUENCIES_HZ.size:
            raise ConfigError(f"{path}: expected {2 * SJOSTROM_FREQUENCIES_HZ.size} numbers "
                              f"(mean, mean + s.d. per frequency), found {values.size}")
        mean, upper = values[0::2], values[1::2]
        out[delta] = Points(SJOSTROM_FREQUENCIES_HZ.copy(), mean - 100.0, upper - mean,
                            f"Sjöström et al. 2001, Δt = {delta:+g} ms, {SOURCE}")
    return out


def data_scatter(residuals: np.ndarray, n_params: int) -> float:
    """Per-point scatter σ of measured points about a fitted curve.

    Parameters
    ----------
    residuals : numpy.ndarray
        Points minus the fitted curve, shape (n,).
    n_params : int
        Parameters of the fit (the degrees of freedom are n − n_params).

    Returns
    -------
    float
        The residual standard deviation, in the points' unit.
    """
    r = np.asarray(residuals, float)
    return float(math.sqrt(np.sum(r ** 2) / max(r.size - n_params, 1)))


def _scale_fit(f: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares scale s ≥ 0 of f to y (weights 1/σ²) and the residuals y − s f, along the
    last axis (one fit per row)."""
    w = 1.0 / sigma ** 2
    denom = np.sum(w * f * f, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(denom > 0, np.maximum(np.sum(w * f * y, axis=-1) / denom, 0.0), 0.0)
    return scale, y - scale[..., None] * f


def compare(curve: np.ndarray, y: np.ndarray, sigma: np.ndarray | float, seed: int = 0,
            n_boot: int = N_BOOT_COMPARE, mc_rel: float = MC_REL_DATA) -> dict[str, Any]:
    """Scale ``curve`` (the rule at the points' x) to ``y`` by one fitted s ≥ 0; RMSE and the
    Gaussian log-likelihood with per-point scatter ``sigma`` (module docstring).

    95 % intervals of s and the RMSE: BCa bootstrap over the points (:func:`scipy.stats.bootstrap`,
    paired (x, y, σ), at least ``n_boot`` resamples and more until every bound's Monte Carlo error
    is below ``mc_rel``, :func:`stdp_ebm.stdp.resampling.bca`); with the same ``seed`` every rule
    gets the same resamples (the first ``n_boot``, then as many more as its bounds need), so rules
    can be compared. A bootstrap distribution without spread (a
    perfect fit) gives NaN intervals and says so in ``degenerate``.

    Parameters
    ----------
    curve : numpy.ndarray
        The rule's window (or frequency curve) at the points' x, in the rule's units, shape (n,).
    y : numpy.ndarray
        The measured points (%), shape (n,).
    sigma : numpy.ndarray or float
        Per-point scatter (%), shape (n,) or one value.
    seed : int
        Seed of the bootstrap resamples.
    n_boot : int
        Resamples drawn first.
    mc_rel : float
        Target Monte Carlo error of every bound, relative to its distance from the estimate.

    Returns
    -------
    dict[str, Any]
        ``scale`` and ``scale_ci`` (% per rule unit), ``rmse`` and ``rmse_ci`` (%), ``loglik``,
        the interval's description and, when it could not be formed, ``degenerate``.
    """
    f, y = np.asarray(curve, float), np.asarray(y, float)
    sigma = np.broadcast_to(np.asarray(sigma, float), y.shape)
    scale, resid = _scale_fit(f, y, sigma)
    loglik = float(np.sum(-0.5 * (resid / sigma) ** 2 - np.log(sigma * math.sqrt(2 * math.pi))))
    rmse = float(math.sqrt(np.mean(resid ** 2)))

    def statistic(f_b: np.ndarray, y_b: np.ndarray, s_b: np.ndarray, axis: int = -1
                  ) -> np.ndarray:
        s, r = _scale_fit(f_b, y_b, s_b)
        return np.stack([s, np.sqrt(np.mean(r ** 2, axis=-1))])
    boot, drawn, error = bca((f, y, sigma), statistic, n_boot, seed, mc_rel, paired=True)
    lo, hi = boot.confidence_interval
    spread = np.ptp(boot.bootstrap_distribution, axis=-1)
    flat = bool(np.any(spread <= 1e-12 * np.maximum(np.abs([float(scale), rmse]), 1e-300))
                or not np.all(np.isfinite([*lo, *hi])))
    ci = np.full((2, 2), math.nan) if flat else np.stack([lo, hi], axis=-1)
    return {"scale": float(scale), "scale_ci": [float(v) for v in ci[0]],
            "rmse": rmse, "rmse_ci": [float(v) for v in ci[1]],
            "interval": f"95 % BCa bootstrap over the points, {drawn:,} resamples "
                        f"(Monte Carlo error of the bounds ≤ {error:.2%})" if not flat else "none",
            "degenerate": "the bootstrap distribution has no spread (a perfect fit): no interval"
                          if flat else "",
            "log_likelihood": loglik, "n_points": int(y.size), "fitted": "scale (1 parameter)",
            "fixed": "every parameter of the rule's model file"}
