"""The rule under Langevin noise (``alignment`` with [dynamics] noise = σ > 0; docs/langevin.md).

K trials per example are burnt in from the free fixed point to stationary samples
(:mod:`stdp_ebm.langevin`). From each sample the nudged phase (F = E + βC, Eq 13) runs for
``noise_steps`` steps with noise, and so does an un-nudged continuation that draws the same η. The
symmetrised rule (Eq 26) integrated over the nudged phase telescopes to its end points
(:mod:`stdp_ebm.rule`), so two estimators of ΔW per trial are exact closed forms:

* ``online`` — (1/β)(ρ^β(T)ᵀρ^β(T) − ρ(0)ᵀρ(0)): the rule as a synapse sees it, over the nudged
  phase alone; the noise's own wandering of ρρ stays in it (mean zero in the stationary state).
* ``paired`` — (1/β)(ρ^β(T)ᵀρ^β(T) − ρ^0(T)ᵀρ^0(T)): the same minus the un-nudged continuation,
  which cancels that wandering with common random numbers.

Both, averaged over trials, are compared with the implicit gradient of the *noise-free* model
(:func:`stdp_ebm.references.implicit_neg_grad`). The bias ‖⟨ΔW⟩ − ΔW_det‖/‖ΔW_det‖ against the
noise-free rule at the same β and phase length isolates what the noise adds.

data.npz: ``noise``, ``trials``, ``noises``, ``estimators``, ``layers``; ``cos_by_trials`` and
``norm_by_trials`` (n_K, 2, n_W + 1; last column all weights) at the configured σ with the first K
trials; ``sweep_cos``/``sweep_norm`` (n_σ, 2, n_W + 1) with all trials; ``bias``/``bias_se``
(n_σ, n_W); ``bias_exponent`` (n_W; log-log fit over the σ where the bias exceeds 3 standard
errors) and ``bias_local_slope`` (n_σ − 1, n_W; between neighbouring σ);
``stationary_sd``/``stationary_offset`` (n_σ, n_free layers, bottom-up); ``ref_implicit_W{k}``,
``dW_det_W{k}``, ``dW_{paired,online}_W{k}`` at the configured σ.

Where the bias comes from: where the dynamics are affine (every unit inside the box) the noise
leaves the mean states at the fixed points and the bias is exactly (Σ^β − Σ^0)/β, the change of the
stationary covariance of the states under the nudge, quadratic in σ (tests/test_langevin.py checks
it against the discrete Lyapunov equation). Units within reach of a bound add more: the hard
sigmoid's flat parts pass perturbations on only with the probability that the noisy state is inside
the box, and rates clipped at a bound make ⟨ρ(s + η)⟩ ≠ ρ(s*) (an offset ∝ σ).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import layer_alignment, loglog_slope
from ..langevin import burn_in, paired_steps, stationary_stats
from ..network import Network
from ..plotting import figure, layer_colors, layer_name, panel_label
from ..rate import RateModel, State
from ..references import implicit_neg_grad
from ..rule import ep_delta_w
from ..seeds import Seeds
from . import Result

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []

ESTIMATORS = ("paired", "online")
GROUPS = 8  # disjoint groups of trials whose spread gives the standard error of the bias


def _estimates(model: RateModel, start: State, nudged: State, free: State, beta: float,
               rows: int) -> dict[str, list[np.ndarray]]:
    """Both estimators of ΔW from the first ``rows`` rows (the first K trials)."""
    r = slice(0, rows)
    cut = [[sk[r] for sk in state] for state in (start, nudged, free)]
    return {"paired": ep_delta_w(model.rho, cut[2], cut[1], beta),
            "online": ep_delta_w(model.rho, cut[0], cut[1], beta)}


def _run_noise(model: RateModel, s_fixed: State, target: np.ndarray, a: dict, trials: int,
               seeds: Seeds) -> tuple[State, State, State]:
    """Stationary samples, and the nudged and un-nudged continuations' end states."""
    sigma = model.noise
    s = burn_in(model, s_fixed, trials, a["burn_in"], seeds.rng(f"burn-in noise={sigma!r}"))
    rows_target = np.tile(target, (trials, 1))
    for _, nudged, _, free in paired_steps(model, s, rows_target, a["noise_beta"], a["noise_steps"],
                                           seeds.int(f"continuation noise={sigma!r}")):
        pass
    return s, nudged, free


def _table(al: dict, metric: str) -> list[float]:
    return list(al[metric]) + [al["overall"][metric]]


def _relative(dw: list[np.ndarray], ref: list[np.ndarray]) -> np.ndarray:
    return np.array([np.linalg.norm(d - r) / np.linalg.norm(r) for d, r in zip(dw, ref)])


def run_noisy(net: Network, model: RateModel, s_fixed: State, cfg: dict, seeds: Seeds) -> Result:
    """The rule under noise at the configured σ (vs trials) and over the σ sweep (all trials)."""
    a = cfg["alignment"]
    trials = sorted(a["trials"])
    x, target = net.examples()
    n, B, beta = trials[-1], len(x), a["noise_beta"]
    e = model.energy_form
    ref = implicit_neg_grad(net, model.rho, s_fixed, target, model.projected, e)
    quiet = dataclasses.replace(model, noise=0.0)
    det_end = quiet.relax(s_fixed, beta, target, steps=a["noise_steps"]).s
    det = ep_delta_w(model.rho, s_fixed, det_end, beta)
    sigmas = sorted(set(a["noises"]) | {model.noise})
    n_w = len(net.W)
    sweep = {m: np.zeros((len(sigmas), 2, n_w + 1)) for m in ("cos", "norm_ratio")}
    bias, bias_se = np.zeros((len(sigmas), n_w)), np.zeros((len(sigmas), n_w))
    sd, offset = np.zeros((len(sigmas), len(s_fixed) - 1)), np.zeros((len(sigmas), len(s_fixed) - 1))
    data: dict[str, np.ndarray] = {}
    for i, sigma in enumerate(sigmas):
        m = dataclasses.replace(model, noise=sigma)
        s, nudged, free = _run_noise(m, s_fixed, target, a, n, seeds)
        sd[i], offset[i] = stationary_stats(s, s_fixed, n)
        full = _estimates(m, s, nudged, free, beta, n * B)
        for j, est in enumerate(ESTIMATORS):
            al = layer_alignment(full[est], ref)
            for metric in sweep:
                sweep[metric][i, j] = _table(al, metric)
        bias[i] = _relative(full["paired"], det)
        size = n // GROUPS * B
        groups = [[[sk[k * size:(k + 1) * size] for sk in st] for st in (s, nudged, free)]
                  for k in range(GROUPS)]
        spread = np.array([_relative(ep_delta_w(m.rho, g[2], g[1], beta), full["paired"])
                           for g in groups])
        bias_se[i] = np.sqrt(np.mean(spread**2, axis=0) / (GROUPS - 1))
        if sigma == model.noise:
            by_trials = [_estimates(m, s, nudged, free, beta, k * B) for k in trials]
            for metric, key in (("cos", "cos_by_trials"), ("norm_ratio", "norm_by_trials")):
                data[key] = np.array([[_table(layer_alignment(t[est], ref), metric)
                                       for est in ESTIMATORS] for t in by_trials])
            for k in range(n_w):
                data.update({f"ref_implicit_W{k}": ref[k], f"dW_det_W{k}": det[k],
                             **{f"dW_{est}_W{k}": full[est][k] for est in ESTIMATORS}})
    exponent = []
    for k in range(n_w):
        ok = bias[:, k] > 3 * bias_se[:, k]
        exponent.append(loglog_slope(np.array(sigmas)[ok], bias[ok, k]) if ok.sum() >= 3 else np.nan)
    data.update({
        "noise": np.array(model.noise), "trials": np.array(trials), "noises": np.array(sigmas),
        "estimators": np.array(ESTIMATORS), "beta": np.array(beta),
        "layers": np.array([f"W_{k}" for k in range(n_w)] + ["all"]),
        "sweep_cos": sweep["cos"], "sweep_norm": sweep["norm_ratio"], "bias": bias,
        "bias_se": bias_se, "bias_exponent": np.array(exponent),
        "bias_local_slope": np.diff(np.log(bias), axis=0) / np.diff(np.log(sigmas))[:, None],
        "stationary_sd": sd, "stationary_offset": offset,
        "det_cos": np.array(_table(layer_alignment(det, ref), "cos"))})
    return Result(data, _summary(data, net.sizes))


def _summary(data: dict, sizes: list[int]) -> dict:
    i = int(np.flatnonzero(data["noises"] == data["noise"])[0])
    per_est = {est: {"cos": [float(v) for v in data["sweep_cos"][i, j, :-1]],
                     "norm_ratio": [float(v) for v in data["sweep_norm"][i, j, :-1]],
                     "min_cos": float(np.min(data["sweep_cos"][i, j, :-1]))}
               for j, est in enumerate(ESTIMATORS)}
    return {"sizes": sizes, "noise": float(data["noise"]), "beta": float(data["beta"]),
            "trials": data["trials"], "noises": data["noises"], "at_noise": per_est,
            "noise_free_cos": [float(v) for v in data["det_cos"][:-1]],
            "bias_vs_noise": data["bias"], "bias_exponent": data["bias_exponent"],
            "bias_local_slope": data["bias_local_slope"],
            "stationary_offset_vs_noise": data["stationary_offset"],
            "headline": {"noise": float(data["noise"]), "trials": int(data["trials"][-1]),
                         "min_cos_paired": per_est["paired"]["min_cos"],
                         "min_cos_online": per_est["online"]["min_cos"]}}


def figures_noisy(data: dict) -> dict:
    """Cos and norm ratio vs trials (configured σ); cos, bias and stationary offset vs σ."""
    layers = list(data["layers"])
    n_w = len(layers) - 1
    colors = layer_colors(n_w) + ["k"]
    K, sigmas = data["trials"], data["noises"]
    fig1, axes = figure(2, 1, width=3.3, height=2.8)
    for i, layer in enumerate(layers):
        for j, (est, ls) in enumerate(zip(ESTIMATORS, ("-o", "--"))):
            lab = f"{layer}, {est}" if (i == n_w or j == 0) else None
            axes[0].semilogx(K, data["cos_by_trials"][:, j, i], ls, color=colors[i], label=lab,
                             lw=2.0 if layer == "all" else 1.2)
            axes[1].semilogx(K, data["norm_by_trials"][:, j, i], ls, color=colors[i],
                             lw=2.0 if layer == "all" else 1.2)
    axes[0].axhline(0.99, color="0.6", ls=":", lw=0.8)
    axes[1].axhline(1.0, color="0.6", ls=":", lw=0.8)
    axes[0].set_ylabel("cosine with −∂C/∂W (noise-free)")
    axes[1].set_ylabel("‖⟨ΔW⟩‖ / ‖−∂C/∂W‖")
    axes[0].set_title(f"σ = {float(data['noise']):g}, β = {float(data['beta']):g}:\n"
                      "paired (solid), online (dashed)")
    axes[0].legend(fontsize=6)
    for ax in axes:
        ax.set_xlabel("noise trials K per example")
    fig2, axes2 = figure(3, 1, width=3.0, height=2.8)
    for i, layer in enumerate(layers):
        for j, (est, ls) in enumerate(zip(ESTIMATORS, ("-o", "--"))):
            axes2[0].semilogx(sigmas, data["sweep_cos"][:, j, i], ls, color=colors[i],
                              label=layer if j == 0 else None, lw=2.0 if layer == "all" else 1.2)
        if i < n_w:
            ok = data["bias"][:, i] > 3 * data["bias_se"][:, i]
            axes2[1].loglog(sigmas[ok], data["bias"][ok, i], "-o", color=colors[i],
                            label=layer)
    fcolors = layer_colors(data["stationary_offset"].shape[1])
    names = [layer_name(k + 1, len(fcolors)) for k in range(len(fcolors))]
    for k, name in enumerate(names):
        axes2[2].loglog(sigmas, data["stationary_offset"][:, k], "-s", color=fcolors[k],
                        label=f"{name}: offset")
        axes2[2].loglog(sigmas, data["stationary_sd"][:, k], ":", color=fcolors[k])
    axes2[0].axhline(0.99, color="0.6", ls=":", lw=0.8)
    axes2[0].set_ylabel("cosine with −∂C/∂W (noise-free)")
    axes2[0].set_title(f"{int(K[-1])} trials: paired (solid),\nonline (dashed)")
    axes2[0].legend(fontsize=6)
    axes2[1].set_ylabel("‖⟨ΔW⟩ − ΔW₀‖ / ‖ΔW₀‖")
    axes2[1].set_title("bias vs the noise-free rule ΔW₀ (paired;\npoints > 3 standard errors)")
    axes2[1].loglog(sigmas, data["bias"][0, 0] * (sigmas / sigmas[0]) ** 2, ":", color="0.5",
                    lw=0.8, label="∝ σ²")
    axes2[1].legend(fontsize=6)
    axes2[2].set_ylabel("RMS over units")
    axes2[2].set_title("stationary offset ‖⟨s⟩ − s*‖ (squares),\ns.d. (dotted)")
    axes2[2].legend(fontsize=6)
    for ax in axes2:
        ax.set_xlabel("noise σ (per step, Eq 2)")
    for ax, lab in zip(list(axes) + list(axes2), "ababc"):
        panel_label(ax, lab)
    return {"noise_trials": fig1, "noise_sigma": fig2}
