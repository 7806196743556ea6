"""Early inference approximates backprop (Bengio & Fischer 2015; Bengio et al. 2017, Eq 19, 24, 25).

Start at the free fixed point, nudge the output (β C added to the energy) and watch the first steps of
the discrete dynamics s ← s + ε(R(s) − s) − εβ ∂C/∂s. Here k is the distance from the output: k = 0
is y, k = 1 the hidden layer next to it (h_L in the bottom-up names x, h_1 … h_L, y that figures
use), … The change first reaches the layer k below y at step k+1 and equals

    Δh_k(k+1) = −β ε^(k+1) ∂C/∂h_k + o(β),

with ∂C/∂h_k back-propagated through the local Jacobians ∂R_{k−1}/∂h_k at the fixed point (Eq 24;
:func:`stdp_ebm.references.feedforward_backprop`). The change is measured as the difference between
the nudged run and a β = 0 run from the same state, which removes the residual drift of the
converged free phase exactly (layers the nudge has not reached compute identical numbers).

data.npz: ``epsilons``, ``nudges``, ``k`` (distance from output per layer, output first),
``first_step``/``ratio``/``relerr``/``magnitude`` of shape (n_eps, n_nudges, n_layers), ``predicted``
(same shape, ‖β ε^(k+1) ∂C/∂h_k‖), ``slope`` (n_nudges, n_layers), ``course`` (steps+1, n_layers): ‖Δh_k(t)‖
for the smallest ε and nudge. ``ratio`` = ⟨Δh, ref⟩/⟨ref, ref⟩ with ref = −βε^(k+1)∂C/∂h_k;
``relerr`` = ‖Δh − ref‖/‖ref‖.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import loglog_slope
from ..config import Key, require
from ..network import NETWORK_SCHEMA, network_from_config
from ..plotting import figure, layer_colors, legend_below, panel_label
from ..rate import DYNAMICS_SCHEMA, RateModel, check_dynamics, model_from_config
from ..references import feedforward_backprop
from . import Experiment, Result, RunContext

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "early_inference": {
        "epsilons": Key("floats", [0.005, 0.01, 0.02, 0.05, 0.1], "step sizes ε of the first steps",
                        low=0.0, open_low=True, high=1.0, min_len=2),
        "nudges": Key("floats", [1e-4, 1e-3, 1e-2, 1e-1, 1.0], "nudge strengths β", low=0.0,
                      open_low=True),
        "steps": Key("int", 8, "steps recorded after the nudge (>= number of layers)", low=2),
    },
}


def check(cfg: dict, source: str) -> None:
    check_dynamics(cfg, source, noiseless="the first steps are compared with a deterministic prediction")
    steps, n_layers = cfg["early_inference"]["steps"], len(cfg["network"]["sizes"])
    require(steps >= n_layers, source, "[early_inference] steps", steps,
            f"must be >= the number of layers ({n_layers}) so the nudge reaches the first hidden layer")


def _first_steps(model: RateModel, s_free, target, beta: float, steps: int) -> list[np.ndarray]:
    """Δs(t) = s_β(t) − s_0(t) per layer (output first), shape (steps+1, batch, n)."""
    nudged = model.relax(s_free, beta, target, steps=steps, record=True).trajectory
    free = model.relax(s_free, 0.0, None, steps=steps, record=True).trajectory
    return [n - f for n, f in zip(nudged[:0:-1], free[:0:-1])]


def _measure(delta: list[np.ndarray], dC_dh: list[np.ndarray], beta: float, eps: float) -> np.ndarray:
    """Rows (first_step, ratio, relerr, magnitude, predicted) per layer k = 0 … L."""
    rows = []
    for k, (d, g) in enumerate(zip(delta, dC_dh)):
        moved = np.flatnonzero(np.any(d.reshape(len(d), -1) != 0.0, axis=1))
        first = int(moved[0]) if moved.size else -1
        ref = -beta * eps ** (k + 1) * g
        got = d[k + 1]
        nref = np.linalg.norm(ref)
        rows.append((first, float(np.sum(got * ref) / nref**2), float(np.linalg.norm(got - ref) / nref),
                     float(np.linalg.norm(got)), float(nref)))
    return np.array(rows)


def run(cfg: dict, ctx: RunContext) -> Result:
    net = network_from_config(cfg, ctx.seeds.rng("network"), ctx.network_path)
    model = model_from_config(net, cfg)
    d, e = cfg["dynamics"], cfg["early_inference"]
    free = model.free_phase(net.x, tol=d["tol"], max_steps=d["max_steps"])
    _, dC_dh = feedforward_backprop(net, model.rho, free.s, net.target, model.projected,
                                    model.energy_form)
    dC_dh = dC_dh[:0:-1]  # output first, input layer dropped
    eps_list, nudges = e["epsilons"], e["nudges"]
    grid = np.zeros((len(eps_list), len(nudges), len(dC_dh), 5))
    for i, eps in enumerate(eps_list):
        m = dataclasses.replace(model, epsilon=eps)
        for j, beta in enumerate(nudges):
            grid[i, j] = _measure(_first_steps(m, free.s, net.target, beta, e["steps"]), dC_dh, beta, eps)
    small = dataclasses.replace(model, epsilon=min(eps_list))
    course = _first_steps(small, free.s, net.target, min(nudges), e["steps"])
    slope = np.array([[loglog_slope(eps_list, grid[:, j, k, 3]) for k in range(len(dC_dh))]
                      for j in range(len(nudges))])
    data = {"epsilons": np.array(eps_list), "nudges": np.array(nudges), "k": np.arange(len(dC_dh)),
            "first_step": grid[..., 0].astype(int), "ratio": grid[..., 1], "relerr": grid[..., 2],
            "magnitude": grid[..., 3], "predicted": grid[..., 4], "slope": slope,
            "course": np.array([[np.linalg.norm(c[t]) for c in course] for t in range(e["steps"] + 1)])}
    return Result(data, _summary(data, net.sizes))


def _summary(data: dict, sizes: list[int]) -> dict:
    j = int(np.argmin(data["nudges"]))
    layers = []
    for k in data["k"]:
        ratios = data["ratio"][:, j, k]
        layers.append({
            "k": int(k), "layer_index": len(sizes) - 1 - int(k),
            "role": "output" if k == 0 else "hidden", "expected_first_step": int(k) + 1,
            "first_step": sorted(set(int(v) for v in data["first_step"][:, :, k].ravel())),
            "ratio_at_smallest_nudge": [float(r) for r in ratios],
            "max_ratio_error_at_smallest_nudge": float(np.max(np.abs(ratios - 1))),
            "slope_at_smallest_nudge": float(data["slope"][j, k]), "expected_slope": int(k) + 1,
        })
    return {"sizes": sizes, "smallest_nudge": float(data["nudges"][j]),
            "epsilons": data["epsilons"], "nudges": data["nudges"], "layers": layers,
            "ratio": data["ratio"], "slope": data["slope"]}


def layer_names(n_free: int) -> list[str]:
    """Names of the free layers ordered by k (distance from the output): y, h_L, …, h_1 — the
    bottom-up names (h_1 next to the input x) used in every figure."""
    return ["y"] + [f"h_{n_free - k}" for k in range(1, n_free)]


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    ks = data["k"]
    colors = layer_colors(len(ks))[::-1]  # input side to output side, indexed by k
    name = [f"{n} (k = {k})" for n, k in zip(layer_names(len(ks)), ks)]
    j = int(np.argmin(data["nudges"]))
    eps = data["epsilons"]
    fig1, (ax,) = figure(1, 1, width=3.6, height=3.0)
    for k in ks:
        ax.loglog(eps, data["magnitude"][:, j, k], "o", color=colors[k],
                  label=f"{name[k]}: slope {data['slope'][j, k]:.3f} (theory {k + 1})")
        ax.loglog(eps, data["predicted"][:, j, k], "-", color=colors[k], lw=1.0)
    ax.set_xlabel("step size ε")
    ax.set_ylabel("‖Δs‖ at step k+1 (layer k below y)")
    ax.set_title(f"first change vs ε (β = {data['nudges'][j]:g})\n"
                 "markers: simulation; lines: β ε^(k+1) ‖∂C/∂s‖ (backprop)")
    legend_below(fig1, ax, ncol=1)
    fig2, axes = figure(2, 1, width=3.3, height=2.8)
    for k in ks:
        for i, e in enumerate(eps):
            axes[0].semilogx(data["nudges"], data["ratio"][i, :, k], "-o", color=colors[k],
                             alpha=0.35 + 0.65 * (i == 0), label=name[k] if i == 0 else None)
    axes[0].axhline(1.0, color="0.5", ls=":", lw=0.8)
    axes[0].set_xlabel("nudge strength β")
    axes[0].set_ylabel("Δs / (−β ε^(k+1) ∂C/∂s)")
    axes[0].set_title(f"ratio to backprop\n(opaque: ε = {eps.min():g}; faint: larger ε)")
    t = np.arange(len(data["course"]))
    for k in ks:
        c = data["course"][:, k]
        axes[1].semilogy(t[c > 0], c[c > 0], "-o", color=colors[k], label=name[k])
        axes[1].axvline(k + 1, color=colors[k], ls=":", lw=0.8)
    axes[1].set_xlabel("step t after the nudge")
    axes[1].set_ylabel("‖Δs(t)‖ of the layer")
    axes[1].set_title(f"the layer k below y first moves\nat step k+1 (ε = {eps.min():g})")
    legend_below(fig2, axes[0], ncol=len(ks))
    for ax, lab in zip(axes, "ab"):
        panel_label(ax, lab)
    return {"early_inference_loglog": fig1, "early_inference_ratio_course": fig2}


EXPERIMENT = Experiment(
    name="early_inference",
    doc="Eq 19/24/25: after a nudge, layer k first moves at step k+1 by −ε^(k+1)·∂C/∂h_k (backprop).",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
