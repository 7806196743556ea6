"""The bridge to spikes: the Langevin rate model with σ matched to the LIF populations' noise
(docs/langevin.md, section 3).

1. Spiking population noise. For each population size n of ``[noise_bridge] populations`` one
   Brian2 run (:func:`stdp_ebm.spiking.simulate`) of the calibrated network with ``trials``
   independent noise copies: the free-phase population rate ρ of every unit is counted over
   ``free_ms``; its s.d. over trials (same example), RMS over the layer's units and examples, is
   the population noise per layer.
2. Matched σ. The rate model's time constant τ is ``spiking.rate_tau_ms``, so one step of Eq 1–2
   lasts ε·τ and the counting window is m = free_ms/(ε·τ) steps; a step's noisy rate ρ(s + η)
   stands for the population's rate over those ε·τ ms (:func:`stdp_ebm.langevin.matched_noise`):

       σ_k = sd_k(ρ counted over free_ms) · √(free_ms / (ε·τ)) / ρ'_k,   σ = RMS_k σ_k,

   with ρ'_k the RMS slope of ρ_LIF at the layer's fixed point. Check: the rate model's ρ(s + η)
   counted over the same m steps (:func:`stdp_ebm.langevin.window_rates`), s.d. per layer beside
   the spiking one.
3. ΔW spread. From ``rate_trials`` stationary samples (burn-in ``burn_in`` steps) the rate model
   runs the spiking run's estimator (``spiking.estimator``: +β against −β or 0) with the spiking
   run's β for nudged_ms/(ε·τ) steps: ``paired`` (common random numbers, as in the spiking run)
   and ``independent`` (fresh η in each run, the control). The s.d. over trials of the
   example-averaged ΔW (:func:`stdp_ebm.langevin.trial_delta_w`), RMS over each W_k's entries, is
   compared with the spiking ``SpikingRun.trial_sd`` of the tied rule. One trial of n neurons per
   unit; t trials averaged (N = n·t) divide every s.d. by √t, so the ratios hold along N.

data.npz: ``populations`` (n), ``trials``, ``noise`` (n: matched σ), ``noise_per_layer``
(n, L+1), ``gain`` (L+1), ``window_steps``, ``nudged_steps``; ``rate_sd_spiking``/``rate_sd_rate``
(n, L+1: s.d. of the counted population rate, free layers bottom-up); ``dw_sd_spiking``,
``dw_sd_paired``, ``dw_sd_independent`` (n, n_W); ``dw_norm_spiking``/``dw_norm_rate`` (n, n_W:
‖mean ΔW‖, the rate model's paired).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib.ticker import NullLocator

from ..analysis import loglog_slope
from ..spiking.calibration import CALIBRATION_SCHEMA
from ..config import Key, require
from ..langevin import burn_in, matched_noise, paired_steps, per_trial, trial_delta_w, window_rates
from ..network import NETWORK_SCHEMA
from ..plotting import figure, layer_colors, layer_name, panel_label
from ..rate import DYNAMICS_SCHEMA, RateModel, State
from ..spiking import SPIKING_SCHEMA, SpikingParams, estimator_reference, simulate
from ..progress import iterate
from . import Experiment, Result, RunContext, require_noiseless
from ._common import calibrated_setup

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

ESTIMATORS = ("paired", "independent")

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,
    "calibration": CALIBRATION_SCHEMA,
    "noise_bridge": {
        "populations": Key("ints", [5, 10, 20, 40], "neurons per unit n of the spiking runs",
                           low=1),
        "trials": Key("int", 8, "independent noise copies per spiking run (the spread's sample)",
                      low=2),
        "rate_trials": Key("int", 400, "noise trials per example of the rate model", low=2),
        "burn_in": Key("int", 200, "noisy steps from the fixed point to a stationary sample",
                       low=1),
    },
}


def _rms_sd(a: np.ndarray, trials: int) -> float:
    """s.d. over trials (ddof 1) of (trials·B, ...) rows, RMS over everything else."""
    return float(np.sqrt(np.mean(per_trial(a.reshape(len(a), -1), trials).var(axis=0, ddof=1))))


def _steps(sp: SpikingParams, epsilon: float, ms: float) -> int:
    """Rate-model steps of ``ms`` of spiking time: one step lasts ε·τ (τ = rate_tau_ms)."""
    return max(1, int(round(ms / (epsilon * sp.rate_tau_ms))))


def _rate_spread(model: RateModel, s: State, target: np.ndarray, sp: SpikingParams, steps: int, K: int,
                 seed: int) -> dict[str, list[np.ndarray]]:
    """Per estimator, the trials' ΔW per W_k (K, n_k, n_{k+1}) from the stationary samples ``s``."""
    sign, scale = estimator_reference(sp.estimator)
    rows = np.tile(target, (K, 1))
    out = {}
    for est in ESTIMATORS:
        for _, nudged, _, ref in paired_steps(model, s, rows, sp.beta, steps, seed,
                                              beta_ref=sign * sp.beta,
                                              common=est == "paired"):
            pass
        out[est] = trial_delta_w(model.rho, ref, nudged, scale * sp.beta, K)
    return out


def run(cfg: dict, ctx: RunContext) -> Result:
    sp, nb = SpikingParams.of(cfg), cfg["noise_bridge"]
    net, models, _, model, free = calibrated_setup(cfg, ctx)
    pops, T, K = sorted(nb["populations"]), nb["trials"], nb["rate_trials"]
    m_window, m_nudged = _steps(sp, model.epsilon, sp.free_ms), _steps(sp, model.epsilon,
                                                                          sp.nudged_ms)
    gain = np.array([np.sqrt(np.mean(model.rho.prime(sk) ** 2)) for sk in free.s[1:]])
    n_w, n_free = len(net.W), len(net.sizes) - 1
    keys = ("rate_sd_spiking", "rate_sd_rate", "noise_per_layer")
    data: dict[str, np.ndarray] = {k: np.zeros((len(pops), n_free)) for k in keys}
    for k in ("dw_sd_spiking", "dw_norm_spiking", "dw_norm_rate",
              *(f"dw_sd_{e}" for e in ESTIMATORS)):
        data[k] = np.zeros((len(pops), n_w))
    data["noise"] = np.zeros(len(pops))
    for i, n in enumerate(iterate(pops, "spiking runs")):
        spk = simulate(net, model.rho, sp.replace(neurons_per_unit=n, trials=T),
                       ctx.seeds.int(f"brian2 n={n}"), models, energy=model.energy_form)
        data["rate_sd_spiking"][i] = [_rms_sd(r, T) for r in spk.rates_free_copies[1:]]
        data["dw_sd_spiking"][i] = [np.sqrt(np.mean(sd**2)) for sd in spk.trial_sd("sym")]
        data["dw_norm_spiking"][i] = [np.linalg.norm(w) for w in spk.delta_w("sym")]
        data["noise_per_layer"][i] = matched_noise(data["rate_sd_spiking"][i], gain, m_window)
        sigma = data["noise"][i] = np.sqrt(np.mean(data["noise_per_layer"][i] ** 2))
        noisy = dataclasses.replace(model, noise=sigma)
        s = burn_in(noisy, free.s, K, nb["burn_in"], ctx.seeds.rng(f"burn-in n={n}"))
        window = window_rates(noisy, s, m_window, ctx.seeds.int(f"window n={n}"))
        data["rate_sd_rate"][i] = [_rms_sd(r, K) for r in window]
        dw = _rate_spread(noisy, s, net.target, sp, m_nudged, K, ctx.seeds.int(f"nudged n={n}"))
        for est in ESTIMATORS:
            data[f"dw_sd_{est}"][i] = [np.sqrt(np.mean(d.var(axis=0, ddof=1))) for d in dw[est]]
        data["dw_norm_rate"][i] = [np.linalg.norm(d.mean(axis=0)) for d in dw["paired"]]
    data.update({"populations": np.array(pops), "trials": np.array(T), "gain": gain,
                 "window_steps": np.array(m_window), "nudged_steps": np.array(m_nudged),
                 "beta": np.array(sp.beta), "estimators": np.array(ESTIMATORS)})
    return Result(data, _summary(data, net.sizes))


def _factor(ratio: np.ndarray) -> list[float]:
    return [float(ratio.min()), float(ratio.max())]


def _summary(data: dict, sizes: list[int]) -> dict:
    n = data["populations"].astype(float)
    ratio = {e: data["dw_sd_spiking"] / data[f"dw_sd_{e}"] for e in ESTIMATORS}
    slope = {key: [loglog_slope(n, data[key][:, k]) for k in range(data[key].shape[1])]
             for key in ("rate_sd_spiking", "dw_sd_spiking", *(f"dw_sd_{e}" for e in ESTIMATORS))}
    return {
        "sizes": sizes, "populations": data["populations"], "trials": int(data["trials"]),
        "window_steps": int(data["window_steps"]), "nudged_steps": int(data["nudged_steps"]),
        "noise": data["noise"], "rate_sd_ratio_rate_over_spiking":
            (data["rate_sd_rate"] / data["rate_sd_spiking"]).tolist(),
        "dw_sd_ratio_spiking_over": {e: r.tolist() for e, r in ratio.items()},
        "slope_vs_n": slope,
        "headline": {"noise_times_sqrt_n": _factor(data["noise"] * np.sqrt(n)),
                     "rate_sd_ratio": _factor(data["rate_sd_rate"] / data["rate_sd_spiking"]),
                     **{f"dw_sd_factor_{e}": _factor(r) for e, r in ratio.items()}},
    }


STYLES = {"spiking": ("-", "o", None), "rate model": ("--", "s", "none"),
          "paired": ("--", "s", "none"), "independent": (":", "^", "none")}


def _line(ax, x, y, color, style: str) -> None:
    ls, marker, mfc = STYLES[style]
    ax.loglog(x, y, ls=ls, marker=marker, mfc=mfc, color=color)


def _legend(ax, names: list[str], colors: list, styles: dict[str, str]) -> None:
    """Colours name the layers, line styles the models: one short legend under the panel."""
    handles = [ax.plot([], [], "-", color=c, label=name)[0] for name, c in zip(names, colors)]
    for label, style in styles.items():
        ls, marker, mfc = STYLES[style]
        handles.append(ax.plot([], [], ls=ls, marker=marker, mfc=mfc, color="0.3", label=label)[0])
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3,
              fontsize=6.5)


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    """(a) counted population-rate s.d. per layer vs n, spiking and the matched rate model;
    (b) trial-to-trial s.d. of ΔW per W_k vs n: spiking, rate model paired and independent."""
    n, r_max = data["populations"], SpikingParams.of(cfg).r_max_hz
    n_free, n_w = data["rate_sd_spiking"].shape[1], data["dw_sd_spiking"].shape[1]
    fig, (a, b) = figure(2, 1, width=3.4, height=3.1)
    free_colors, w_colors = layer_colors(n_free), layer_colors(n_w)
    for k, color in enumerate(free_colors):
        _line(a, n, r_max * data["rate_sd_spiking"][:, k], color, "spiking")
        _line(a, n, r_max * data["rate_sd_rate"][:, k], color, "rate model")
    for k, color in enumerate(w_colors):
        for style in ("spiking", "paired", "independent"):
            _line(b, n, data[f"dw_sd_{style}"][:, k], color, style)
    _legend(a, [layer_name(k + 1, n_free) for k in range(n_free)], free_colors,
            {"spiking": "spiking", "rate model, matched σ": "rate model"})
    _legend(b, [f"W_{k}" for k in range(n_w)], w_colors,
            {"spiking": "spiking", "rate, paired η": "paired",
             "rate, independent η": "independent"})
    a.set_ylabel(f"s.d. of population rate (Hz),\ncounted over {cfg['spiking']['free_ms']:g} ms")
    a.set_title(f"free phase; σ = {data['noise'].max():.3g} … {data['noise'].min():.3g}\n"
                f"(window = {int(data['window_steps'])} steps of ε·τ)", fontsize=8)
    b.set_ylabel("s.d. of ΔW over trials (units of W)\nRMS over the entries of W_k")
    b.set_title(f"tied rule, β = {float(data['beta']):g}, {cfg['spiking']['estimator']} "
                f"estimator,\n{int(data['nudged_steps'])} steps = "
                f"{cfg['spiking']['nudged_ms']:g} ms", fontsize=8)
    for ax, lab in ((a, "a"), (b, "b")):
        ax.set_xticks(n, [str(v) for v in n])
        ax.set_xlabel("N = neurons per unit × trials (1 trial)")
        panel_label(ax, lab)
    a.set_yticks([1, 2, 3, 5], ["1", "2", "3", "5"])
    a.minorticks_off()
    b.xaxis.set_minor_locator(NullLocator())
    return {"noise_bridge": fig}


def check(cfg: dict, source: str) -> None:
    """[dynamics] noise stays 0 (σ is matched to the spiking run), and the counting window of the
    free phase must last at least one rate-model step."""
    require_noiseless(cfg, source, "noise_bridge sets σ from the spiking populations")
    sp, eps = SpikingParams.of(cfg), cfg["dynamics"]["epsilon"]
    require(sp.free_ms >= eps * sp.rate_tau_ms, source, "[spiking] free_ms", sp.free_ms,
            f"must last at least one rate-model step ε·τ = {eps * sp.rate_tau_ms:g} ms")


#: the ``noise_bridge`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="noise_bridge",
    doc="Langevin rate model with σ matched to the LIF populations: ΔW spread vs spiking, vs n.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
