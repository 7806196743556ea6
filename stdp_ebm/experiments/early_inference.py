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

Under Langevin noise ([dynamics] noise = σ > 0, Eq 1–2; Bengio & Fischer's own setting, where the
result holds in expectation): ``trials`` × ``repeats`` noise trials per example are burnt in from the
fixed point to stationary samples (at [dynamics] epsilon), and the nudged and un-nudged
continuations from each sample share their random numbers (:mod:`stdp_ebm.langevin`). The grid
above then holds the trial means against the noise-free fixed point's reference. At the smallest ε
and β, further arrays: ``noise``, ``trials``, ``repeats``; ``noise_ratio_by_trials``
(n_K, 2, repeats, n_layers): the ratio of the mean over K trials of each independent group to the
reference at the fixed point (index 0) or averaged over the same samples' states (index 1);
``noise_stat_error`` (n_K, n_layers), its s.d. over the groups, and ``noise_stat_slope`` against K;
``noises`` and ``noise_sweep`` (n_σ, ``noise_sweep_rows``, n_layers) with all trials: the ratio
(fixed point, samples, and *gated*: back-propagated with each unit's error passed on with the
probability that its noisy rate lies inside the box), its standard error, the stationary s.d. and
the offset ‖⟨s⟩ − s*‖; ``noise_bias_exponent``: log-log slope of |ratio − 1| against σ.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import loglog_slope
from ..config import Key, require
from ..langevin import burn_in, gate_probability, paired_steps, per_trial, stationary_stats
from ..network import NETWORK_SCHEMA, NetworkParams, network_from_config
from ..plotting import figure, layer_colors, layer_name, legend_below, panel_label
from ..rate import DYNAMICS_SCHEMA, DynamicsParams, RateModel, State, model_from_config
from ..references import feedforward_backprop
from ..seeds import Seeds
from . import Experiment, Result, RunContext

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "early_inference": {
        "epsilons": Key("floats", [0.005, 0.01, 0.02, 0.05, 0.1], "step sizes ε of the first steps",
                        low=0.0, open_low=True, high=1.0, min_len=2),
        "nudges": Key("floats", [1e-4, 1e-3, 1e-2, 1e-1, 1.0], "nudge strengths β", low=0.0,
                      open_low=True),
        "steps": Key("int", 8, "steps recorded after the nudge (>= number of layers)", low=2),
        # used only with [dynamics] noise > 0
        "trials": Key("ints", [10, 30, 100, 300, 1000], "numbers K of noise trials averaged",
                      low=2),
        "repeats": Key("int", 16, "independent groups of trials (their spread is the statistical "
                       "error)", low=2),
        "noises": Key("floats", [], "further noise levels σ of the bias sweep", low=0.0,
                      open_low=True, min_len=0),
        "burn_in": Key("int", 200, "noisy steps (at [dynamics] epsilon) from the fixed point to "
                       "the stationary samples", low=1),
    },
}


def check(cfg: dict, source: str) -> None:
    steps, n_layers = cfg["early_inference"]["steps"], len(cfg["network"]["sizes"])
    require(steps >= n_layers, source, "[early_inference] steps", steps,
            f"must be >= the number of layers ({n_layers}) so the nudge reaches the first hidden layer")


def _name_from_output(k: int, n_free: int) -> str:
    """Layer k counted from the output (k = 0 is y) by its bottom-up name: y, h_{L}, …, h_1."""
    return layer_name(n_free - k, n_free)


def _first_steps(model: RateModel, s: State, target: np.ndarray, beta: float, steps: int,
                 trials: int = 1, seed: int | None = None
                 ) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Δs(t) = s_β(t) − s_0(t) per layer (output first) from the paired continuations of ``s``
    (:func:`stdp_ebm.langevin.paired_steps`; common random numbers under noise).

    Returns the mean over trials, shape (steps+1, B, n) per layer; ``moved`` (steps+1, n_layers),
    whether any trial's layer changed at step t; and per layer k the per-trial change at its
    arrival step k+1, shape (trials, B, n).
    """
    n_free = len(s) - 1
    mean = [[np.zeros((len(sk) // trials, sk.shape[1]))] for sk in s[:0:-1]]
    moved = np.zeros((steps + 1, n_free), bool)
    arrival = [np.zeros((trials,) + m[0].shape) for m in mean]
    for t, (_, nudged, _, free) in enumerate(paired_steps(model, s, target, beta, steps, seed), 1):
        for k, (a, b) in enumerate(zip(nudged[:0:-1], free[:0:-1])):
            delta = per_trial(a - b, trials)
            mean[k].append(delta.mean(axis=0))
            moved[t, k] = np.any(delta != 0.0)
            if t == k + 1:
                arrival[k] = delta
    return [np.stack(m) for m in mean], moved, arrival


def _ratio(got: np.ndarray, ref: np.ndarray) -> float:
    """⟨got, ref⟩ / ⟨ref, ref⟩ over examples and units."""
    return float(np.sum(got * ref) / np.linalg.norm(ref) ** 2)


def _measure(delta: list[np.ndarray], moved: np.ndarray, dC_dh: list[np.ndarray], beta: float,
             eps: float) -> np.ndarray:
    """Rows (first_step, ratio, relerr, magnitude, predicted) per layer k = 0 … L."""
    rows = []
    for k, (d, g) in enumerate(zip(delta, dC_dh)):
        steps = np.flatnonzero(moved[:, k])
        ref = -beta * eps ** (k + 1) * g
        got = d[k + 1]
        nref = np.linalg.norm(ref)
        rows.append((int(steps[0]) if steps.size else -1, _ratio(got, ref),
                     float(np.linalg.norm(got - ref) / nref), float(np.linalg.norm(got)), float(nref)))
    return np.array(rows)


def _backprop_error(model: RateModel, s: State, target: np.ndarray,
                    gate: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """∂C/∂h_k per layer, output first (Eq 24, :func:`feedforward_backprop`), at the states ``s``."""
    _, dC_dh = feedforward_backprop(model.net, model.rho, s, target, model.projected,
                                    model.energy_form, gate)
    return dC_dh[:0:-1]


def _grid(model: RateModel, s: State, target: np.ndarray, dC_dh: list[np.ndarray], e: dict,
          trials: int = 1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (ε, β) grid of :func:`_measure` rows and the course ‖Δh_k(t)‖ at the smallest ε and β."""
    grid = np.zeros((len(e["epsilons"]), len(e["nudges"]), len(dC_dh), 5))
    for i, eps in enumerate(e["epsilons"]):
        m = dataclasses.replace(model, epsilon=eps)
        for j, beta in enumerate(e["nudges"]):
            delta, moved, _ = _first_steps(m, s, target, beta, e["steps"], trials, seed)
            grid[i, j] = _measure(delta, moved, dC_dh, beta, eps)
    small = dataclasses.replace(model, epsilon=min(e["epsilons"]))
    course = _first_steps(small, s, target, min(e["nudges"]), e["steps"], trials, seed)[0]
    return grid, np.array([[np.linalg.norm(c[t]) for c in course] for t in range(e["steps"] + 1)])


SWEEP_ROWS = ("ratio", "ratio_sampled", "ratio_gated", "se", "sd", "offset")


def _trial_sweep(arrival: list[np.ndarray], sampled: list[np.ndarray], dC_dh: list[np.ndarray],
                 trials: list[int], repeats: int, beta: float, eps: float) -> np.ndarray:
    """Ratio of the mean first change over K trials to −βε^(k+1)∂C/∂h_k at the fixed point (index 0)
    and averaged over the same K samples' states (index 1), for every K and each of the
    ``repeats`` independent groups of trials: shape (n_K, 2, repeats, n_layers)."""
    out = np.zeros((len(trials), 2, repeats, len(dC_dh)))
    for k, (a, g_s, g) in enumerate(zip(arrival, sampled, dC_dh)):
        scale = -beta * eps ** (k + 1)
        a = a.reshape(repeats, -1, *a.shape[1:])
        g_s = g_s.reshape(repeats, -1, *g_s.shape[1:])
        for i, n in enumerate(trials):
            for r in range(repeats):
                got = a[r, :n].mean(axis=0)
                out[i, :, r, k] = _ratio(got, scale * g), _ratio(got, scale * g_s[r, :n].mean(axis=0))
    return out


def _noise_sweeps(model: RateModel, s_fixed: State, target: np.ndarray, dC_dh: list[np.ndarray],
                  e: dict, seeds: Seeds) -> tuple[np.ndarray, np.ndarray, dict]:
    """Early inference under Langevin noise (see the module doc): the (ε, β) grid at the configured
    σ with all trials, the ratio vs K at the smallest ε and β, and the bias vs σ."""
    trials, repeats = sorted(e["trials"]), e["repeats"]
    n = trials[-1] * repeats
    eps, beta = min(e["epsilons"]), min(e["nudges"])
    rows_target = np.tile(target, (n, 1))
    sigmas = sorted(set(e["noises"]) | {model.noise})
    sweep = np.zeros((len(sigmas), len(SWEEP_ROWS), len(dC_dh)))
    for i, sigma in enumerate(sigmas):
        m = dataclasses.replace(model, noise=sigma)
        s = burn_in(m, s_fixed, n, e["burn_in"], seeds.rng(f"burn-in noise={sigma!r}"))
        seed = seeds.int(f"continuation noise={sigma!r}")
        arrival = _first_steps(dataclasses.replace(m, epsilon=eps), s, rows_target, beta,
                               len(dC_dh), n, seed)[2]
        sampled = [per_trial(g, n) for g in _backprop_error(m, s, rows_target)]
        gated = [per_trial(g, n).mean(axis=0) for g in
                 _backprop_error(m, s, rows_target, gate_probability(m, s, sigma))]
        by_trials = _trial_sweep(arrival, sampled, dC_dh, trials, repeats, beta, eps)
        sd, offset = stationary_stats(s, s_fixed, n)
        mean = [a.mean(axis=0) for a in arrival]
        sweep[i] = np.vstack([by_trials[-1, 0].mean(axis=0), by_trials[-1, 1].mean(axis=0),
                              [_ratio(a, -beta * eps ** (k + 1) * g)
                               for k, (a, g) in enumerate(zip(mean, gated))],
                              by_trials[-1, 0].std(axis=0, ddof=1) / np.sqrt(repeats),
                              sd[::-1], offset[::-1]])
        if sigma == model.noise:
            grid, course = _grid(m, s, rows_target, dC_dh, e, n, seed)
            at_noise = by_trials
    stat_error = at_noise[:, 0].std(axis=1, ddof=1)
    return grid, course, {
        "noise": np.array(model.noise), "trials": np.array(trials), "repeats": np.array(repeats),
        "noise_ratio_by_trials": at_noise, "noise_stat_error": stat_error,
        "noise_stat_slope": np.array([loglog_slope(trials, stat_error[:, k])
                                      for k in range(len(dC_dh))]),
        "noises": np.array(sigmas), "noise_sweep": sweep, "noise_sweep_rows": np.array(SWEEP_ROWS),
        "noise_bias_exponent": _bias_exponent(np.array(sigmas), sweep)}


def _bias_exponent(sigmas: np.ndarray, sweep: np.ndarray) -> np.ndarray:
    """Per layer, the log-log slope of |ratio − 1| (fixed-point reference) against σ over the σ
    where the bias exceeds 3 standard errors; NaN where fewer than 3 such σ."""
    bias, se = np.abs(sweep[:, 0] - 1.0), sweep[:, 3]
    out = []
    for k in range(bias.shape[1]):
        ok = bias[:, k] > 3 * se[:, k]
        out.append(loglog_slope(sigmas[ok], bias[ok, k]) if ok.sum() >= 3 else np.nan)
    return np.array(out)


def run(cfg: dict, ctx: RunContext) -> Result:
    net = network_from_config(NetworkParams.of(cfg), ctx.seeds.rng("network"), ctx.network_path)
    model = model_from_config(net, DynamicsParams.of(cfg))
    d, e = cfg["dynamics"], cfg["early_inference"]
    x, target = net.examples()
    free = dataclasses.replace(model, noise=0.0).free_phase(x, tol=d["tol"],
                                                            max_steps=d["max_steps"])
    dC_dh = _backprop_error(model, free.s, target)
    if model.noise > 0.0:
        grid, course, noisy = _noise_sweeps(model, free.s, target, dC_dh, e, ctx.seeds)
    else:
        (grid, course), noisy = _grid(model, free.s, target, dC_dh, e), {}
    eps_list, nudges = e["epsilons"], e["nudges"]
    slope = np.array([[loglog_slope(eps_list, grid[:, j, k, 3]) for k in range(len(dC_dh))]
                      for j in range(len(nudges))])
    data = {"epsilons": np.array(eps_list), "nudges": np.array(nudges), "k": np.arange(len(dC_dh)),
            "first_step": grid[..., 0].astype(int), "ratio": grid[..., 1], "relerr": grid[..., 2],
            "magnitude": grid[..., 3], "predicted": grid[..., 4], "slope": slope, "course": course,
            **noisy}
    return Result(data, _summary(data, net.sizes))


def _summary(data: dict, sizes: list[int]) -> dict:
    j = int(np.argmin(data["nudges"]))
    layers = []
    for k in data["k"]:
        ratios = data["ratio"][:, j, k]
        layers.append({
            "k": int(k), "layer_index": len(sizes) - 1 - int(k),
            "name": _name_from_output(int(k), len(data["k"])),
            "role": "output" if k == 0 else "hidden", "expected_first_step": int(k) + 1,
            "first_step": sorted(set(int(v) for v in data["first_step"][:, :, k].ravel())),
            "ratio_at_smallest_nudge": [float(r) for r in ratios],
            "max_ratio_error_at_smallest_nudge": float(np.max(np.abs(ratios - 1))),
            "slope_at_smallest_nudge": float(data["slope"][j, k]), "expected_slope": int(k) + 1,
        })
    out = {"sizes": sizes, "smallest_nudge": float(data["nudges"][j]),
           "epsilons": data["epsilons"], "nudges": data["nudges"], "layers": layers,
           "ratio": data["ratio"], "slope": data["slope"]}
    if "noise" in data:
        out["noise"] = _noise_summary(data)
    return out


def _noise_summary(data: dict) -> dict:
    """Headline numbers of the noisy run: ratio at the most trials, statistical error vs K, bias vs σ."""
    by_trials, sweep = data["noise_ratio_by_trials"], data["noise_sweep"]
    i = int(np.flatnonzero(data["noises"] == data["noise"])[0])
    layers = [{
        "k": int(k), "name": _name_from_output(int(k), len(data["k"])),
        "ratio_fixed_point": float(sweep[i, 0, k]), "ratio_sampled": float(sweep[i, 1, k]),
        "ratio_gated": float(sweep[i, 2, k]), "ratio_standard_error": float(sweep[i, 3, k]),
        "ratio_fixed_point_per_repeat_at_most_trials": [float(r) for r in by_trials[-1, 0, :, k]],
        "stat_error_vs_trials": [float(v) for v in data["noise_stat_error"][:, k]],
        "stat_error_slope": float(data["noise_stat_slope"][k]),
        "ratio_fixed_point_vs_noise": [float(v) for v in sweep[:, 0, k]],
        "ratio_sampled_vs_noise": [float(v) for v in sweep[:, 1, k]],
        "ratio_gated_vs_noise": [float(v) for v in sweep[:, 2, k]],
        "stationary_sd_vs_noise": [float(v) for v in sweep[:, 4, k]],
        "stationary_offset_vs_noise": [float(v) for v in sweep[:, 5, k]],
        "bias_exponent": float(data["noise_bias_exponent"][k]),
    } for k in data["k"]]
    return {"noise": float(data["noise"]), "trials": data["trials"], "repeats": int(data["repeats"]),
            "pooled_trials": int(data["trials"][-1] * data["repeats"]),
            "epsilon": float(data["epsilons"].min()), "nudge": float(data["nudges"].min()),
            "noises": data["noises"], "layers": layers,
            "max_ratio_error": float(np.max(np.abs(sweep[i, 0] - 1)))}


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    ks = data["k"]
    colors = layer_colors(len(ks))[::-1]  # input side to output side, indexed by k
    name = [f"{_name_from_output(k, len(ks))} (k = {k})" for k in ks]
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
    first = int(np.argmin(eps))
    others = [i for i in range(len(eps)) if i != first]
    for k in ks:
        axes[0].semilogx(data["nudges"], data["ratio"][first, :, k], "-", color=colors[k],
                         label=name[k])
        for i, m in zip(others, "osD^v<>"):  # the other ε on top: open markers, one shape each
            axes[0].plot(data["nudges"], data["ratio"][i, :, k], m, ls="none", mfc="none",
                         mec=colors[k], ms=3 + 1.5 * others.index(i), mew=0.8)
    for i, m in zip(others, "osD^v<>"):
        axes[0].plot([], [], m, ls="none", mfc="none", mec="0.3", ms=3 + 1.5 * others.index(i),
                     label=f"ε = {eps[i]:g}")
    spread = float(np.max(np.abs(data["ratio"] - data["ratio"][first])))
    axes[0].axhline(1.0, color="0.5", ls=":", lw=0.8)
    axes[0].set_xlabel("nudge strength β")
    axes[0].set_ylabel("Δs / (−β ε^(k+1) ∂C/∂s)")
    axes[0].set_title(f"ratio to backprop; lines: ε = {eps[first]:g}; open markers:\n"
                      f"larger ε (they coincide: differences ≤ {spread:.1g})", fontsize=8)
    t = np.arange(len(data["course"]))
    for k in ks:
        c = data["course"][:, k]
        axes[1].semilogy(t[c > 0], c[c > 0], "-o", color=colors[k], label=name[k])
        axes[1].axvline(k + 1, color=colors[k], ls=":", lw=0.8)
    axes[1].set_xlabel("step t after the nudge")
    axes[1].set_ylabel("‖Δs(t)‖ of the layer")
    axes[1].set_title(f"the layer k below y first moves\nat step k+1 (ε = {eps.min():g})")
    legend_below(fig2, axes[0], ncol=len(ks) + len(others))
    for ax, lab in zip(axes, "ab"):
        panel_label(ax, lab)
    out = {"early_inference_loglog": fig1, "early_inference_ratio_course": fig2}
    if "noise" in data:
        out.update(_noise_figures(data, name, colors))
    return out


def _noise_figures(data: dict, name: list[str], colors: list) -> dict:
    """Ratio and statistical error vs K; ratio, bias and stationary spread vs σ."""
    K, sigmas, sweep = data["trials"], data["noises"], data["noise_sweep"]
    by_trials, err = data["noise_ratio_by_trials"], data["noise_stat_error"]
    fig1, axes = figure(2, 1, width=3.7, height=2.8)
    for k in data["k"]:
        axes[0].errorbar(K * (1 + 0.04 * (k - 1)), by_trials[:, 0, :, k].mean(axis=1),
                         yerr=err[:, k], fmt="-o", color=colors[k], capsize=2, label=name[k])
        axes[1].loglog(K, err[:, k], "o", color=colors[k],
                       label=f"{name[k]}: slope {data['noise_stat_slope'][k]:.2f}")
        axes[1].loglog(K, err[-1, k] * np.sqrt(K[-1] / K), "-", color=colors[k], lw=0.8)
    axes[0].axhspan(0.95, 1.05, color="0.9", zorder=0)
    axes[0].axhline(1.0, color="0.5", ls=":", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("noise trials K")
    axes[0].set_ylabel("mean Δh_k(k+1) / reference")
    axes[0].set_title(f"σ = {float(data['noise']):g}; reference −β ε^(k+1) ∂C/∂h_k at the\n"
                      f"fixed point; bars: s.d. over {int(data['repeats'])} groups; grey ±5 %")
    axes[0].legend()
    axes[1].set_xlabel("noise trials K")
    axes[1].set_ylabel("statistical error of the ratio (s.d.)")
    axes[1].set_title("error vs K; lines: slope −½")
    axes[1].legend(loc="center right")
    fig2, axes2 = figure(3, 1, width=3.0, height=2.8)
    for k in data["k"]:
        axes2[0].errorbar(sigmas, sweep[:, 0, k], yerr=sweep[:, 3, k], fmt="-o", color=colors[k],
                          capsize=2, label=f"{name[k]}, fixed point")
        axes2[0].plot(sigmas, sweep[:, 1, k], "--", color=colors[k], label=f"{name[k]}, samples")
        axes2[0].plot(sigmas, sweep[:, 2, k], ":s", color=colors[k], label=f"{name[k]}, gated")
        bias = np.abs(sweep[:, 0, k] - 1)
        ok = bias > 3 * sweep[:, 3, k]
        axes2[1].loglog(sigmas[ok], bias[ok], "-o", color=colors[k],
                        label=name[k])
        axes2[2].loglog(sigmas, sweep[:, 4, k], "-o", color=colors[k], label=f"{name[k]}: s.d.")
        axes2[2].loglog(sigmas, sweep[:, 5, k], "--s", color=colors[k], label=f"{name[k]}: offset")
    axes2[0].axhline(1.0, color="0.5", ls=":", lw=0.8)
    axes2[0].set_xscale("log")
    axes2[0].set_ylabel("mean first change / reference")
    axes2[0].set_title("reference: fixed point (solid), samples\n(dashed), noise-gated (dotted)")
    axes2[0].legend(fontsize=6)
    axes2[1].set_ylabel("|ratio − 1| (fixed-point reference)")
    axes2[1].set_title("bias vs σ (points > 3 standard errors)")
    axes2[1].legend(loc="upper left")
    axes2[2].set_ylabel("RMS over units")
    axes2[2].set_title("stationary s.d. and offset ‖⟨s⟩ − s*‖")
    axes2[2].legend(fontsize=6)
    for ax, lab in zip(list(axes) + list(axes2), "ababc"):
        panel_label(ax, lab)
    for ax in axes2:
        ax.set_xlabel("noise σ (per step, Eq 2)")
    return {"early_inference_noise_trials": fig1, "early_inference_noise_sigma": fig2}


#: the ``early_inference`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="early_inference",
    doc="Eq 19/24/25: after a nudge, layer k first moves at step k+1 by −ε^(k+1)·∂C/∂h_k (backprop).",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
