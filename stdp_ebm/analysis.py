"""Alignment metrics between an update ΔW and a reference (e.g. −∂C/∂W), per layer and overall."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .errors import DivergenceError

__all__ = ["METRICS", "NOISE_FLOOR", "direction_where_defined", "alignment", "layer_alignment", "cross_alignment", "metrics_table",
           "headline_near_beta", "loglog_slope"]

METRICS = ("cos", "angle_deg", "norm_ratio", "nrmse", "sign_agree")
#: an update whose norm is below this fraction of its reference's is rounding noise (e.g. a layer
#: the nudge has not reached yet, ‖ΔW‖/‖−∂C/∂W‖ ~ 1e-10): its direction is not defined
NOISE_FLOOR = 1e-6


def direction_where_defined(values: np.ndarray, norm_ratio: np.ndarray) -> np.ndarray:
    """``values`` (a cosine or an angle) with NaN where ``norm_ratio`` < :data:`NOISE_FLOOR`, so that
    figures do not draw the direction of rounding noise."""
    return np.where(np.asarray(norm_ratio) >= NOISE_FLOOR, values, np.nan)


def alignment(update: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Compare two arrays of the same shape.

    * ``cos``: cosine similarity ⟨u, r⟩ / (‖u‖‖r‖)
    * ``angle_deg``: arccos of ``cos`` in degrees
    * ``norm_ratio``: ‖u‖ / ‖r‖
    * ``nrmse``: ‖u − r‖ / ‖r‖ (root-mean-square error normalised by the reference's RMS)
    * ``sign_agree``: fraction of entries with the same sign, among entries where ``|r|`` exceeds
      1e-9 of ``max|r|`` (entries that are zero in the reference have no sign to match)

    A non-finite entry in either array (an overflow upstream, e.g. weights of 1e300 with unprojected
    dynamics) raises :class:`~stdp_ebm.errors.DivergenceError` instead of metrics that are all NaN.
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
    """Per-layer metrics (lists indexed by W_k) plus ``overall`` on all weights concatenated."""
    per = [alignment(u, r) for u, r in zip(updates, references, strict=True)]
    out: dict[str, list[float] | dict[str, float]] = {m: [p[m] for p in per] for m in METRICS}
    out["overall"] = alignment(np.concatenate([np.ravel(u) for u in updates]),
                               np.concatenate([np.ravel(r) for r in references]))
    return out


def cross_alignment(updates: Mapping[str, Sequence[np.ndarray]],
                    references: Mapping[str, Sequence[np.ndarray]]) -> dict[str, dict]:
    """:func:`layer_alignment` of every update against every reference, keyed
    ``"<update>_vs_<reference>"`` (e.g. ``"sym_vs_implicit"``)."""
    return {f"{u}_vs_{r}": layer_alignment(updates[u], references[r])
            for u in updates for r in references}


def metrics_table(al: dict) -> np.ndarray:
    """A :func:`layer_alignment` result as an array (n_W + 1, len(METRICS)), the last row overall."""
    per = np.array([al[m] for m in METRICS]).T
    return np.vstack([per, [al["overall"][m] for m in METRICS]])


def headline_near_beta(by_beta: list[dict], beta: float = 0.01) -> dict:
    """The symmetrised rule vs the implicit gradient at the swept β closest (in log) to ``beta``:
    the least per-layer cosine and the largest per-layer ``|‖ΔW‖ / ‖−∂C/∂W‖ − 1|``."""
    row = min(by_beta, key=lambda r: abs(np.log(r["beta"] / beta)))
    al = row["sym_vs_implicit"]
    return {"beta": row["beta"], "min_cos": min(al["cos"]),
            "max_norm_ratio_error": max(abs(v - 1) for v in al["norm_ratio"])}


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log|y| against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.abs(np.asarray(y, float))), 1)[0])
