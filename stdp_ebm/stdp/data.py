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

__all__ = ["BI_POO_FILE", "SJOSTROM_FILES", "SJOSTROM_FREQUENCIES_HZ", "SOURCE", "Points",
           "bi_poo_points", "sjostrom_points", "data_scatter", "compare"]

BI_POO_FILE = "bi_poo_stdp_points.csv"
SJOSTROM_FILES = {10.0: "sjo_ltp_freq_extracted.csv", -10.0: "sjo_ltd_freq_extracted.csv"}
SJOSTROM_FREQUENCIES_HZ = np.array([0.1, 10.0, 20.0, 40.0, 50.0])
SOURCE = ("digitisation by dspicher/STDP_Multicompartment (experimental_data/, commit 57e5cf2), "
          "CC BY-NC-ND 4.0, read from the user's directory, not shipped")


@dataclass(frozen=True)
class Points:
    """Measured points: x (Δt in ms or frequency in Hz), y (% change), optional per-point s.d."""

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
    """Bi & Poo's 45 points from ``directory`` (None when the file is not there)."""
    path = Path(directory) / BI_POO_FILE
    if not path.is_file():
        return None
    pts = _read_csv(path)
    order = np.argsort(pts[:, 0])
    return Points(pts[order, 0], pts[order, 1], None, f"Bi & Poo 1998 Fig. 7, {SOURCE}")


def sjostrom_points(directory: str | Path) -> dict[float, Points] | None:
    """Sjöström et al.'s mean ± s.d. (% change, 0 = none) per Δt, by frequency (None if absent)."""
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
    """Per-point scatter σ of measured points about a fitted curve (residual s.d., n − p dof)."""
    r = np.asarray(residuals, float)
    return float(math.sqrt(np.sum(r ** 2) / max(r.size - n_params, 1)))


def _scale_fit(f: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray]:
    """The least-squares scale s ≥ 0 of f to y (weights 1/σ²) and the residuals y − s f."""
    w = 1.0 / sigma ** 2
    denom = float(np.sum(w * f * f))
    scale = max(float(np.sum(w * f * y)) / denom, 0.0) if denom > 0 else 0.0
    return scale, y - scale * f


def compare(curve: np.ndarray, y: np.ndarray, sigma: np.ndarray | float, seed: int = 0,
            n_boot: int = 400) -> dict[str, Any]:
    """Scale ``curve`` (the rule at the points' x) to ``y`` by one fitted s ≥ 0; RMSE and the
    Gaussian log-likelihood with per-point scatter ``sigma`` (module docstring). 95 % intervals of
    s and the RMSE from a bootstrap over the points (the same resamples for every rule with the
    same ``seed``, so rules can be compared)."""
    f, y = np.asarray(curve, float), np.asarray(y, float)
    sigma = np.broadcast_to(np.asarray(sigma, float), y.shape)
    scale, resid = _scale_fit(f, y, sigma)
    loglik = float(np.sum(-0.5 * (resid / sigma) ** 2 - np.log(sigma * math.sqrt(2 * math.pi))))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, y.size, y.size)
        s_b, r_b = _scale_fit(f[idx], y[idx], sigma[idx])
        boots.append((s_b, math.sqrt(np.mean(r_b ** 2))))
    lo, hi = np.percentile(np.array(boots), [2.5, 97.5], axis=0)
    return {"scale": scale, "scale_ci": [float(lo[0]), float(hi[0])],
            "rmse": float(math.sqrt(np.mean(resid ** 2))), "rmse_ci": [float(lo[1]), float(hi[1])],
            "log_likelihood": loglik, "n_points": int(y.size), "fitted": "scale (1 parameter)",
            "fixed": "every parameter of the rule's model file"}
