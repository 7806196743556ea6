"""Rule ΔW (Eq 26, integrated over the nudged phase) vs backprop gradients, over β and phase length.

For each β the free phase relaxes to its fixed point, the nudged phase (F = E + βC, Eq 13) runs to
its fixed point with the rule accumulated online, and the three forms of the rule (``sym``, ``up``,
``down``; see :mod:`stdp_ebm.rule`) are compared with (a) the implicit gradient and (b) feed-forward
backprop at the free fixed point (:mod:`stdp_ebm.references`). A second sweep stops the nudged phase
after a given number of steps at β = ``length_beta``.

data.npz names (k indexes W_k; metric axis ordered as ``metrics``):

* ``betas``, ``nudged_steps``, ``metrics``, ``layers`` (layer labels, last = "all")
* ``dW_{sym,up,down}_W{k}`` — rule ΔW at each β, shape (n_betas, n_k, n_{k+1})
* ``ref_implicit_W{k}``, ``ref_backprop_W{k}`` — −∂C/∂W_k, shape (n_k, n_{k+1})
* ``align_{form}_vs_{ref}`` — shape (n_betas, n_W + 1, n_metrics); row n_W is all weights together
* ``length_{form}_vs_{ref}`` — shape (n_steps, n_W + 1, n_metrics) for the phase-length sweep
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import NOISE_FLOOR, direction_where_defined, headline_near_beta
from ..config import Key
from ..network import NETWORK_SCHEMA, NetworkParams, network_from_config
from ..progress import iterate
from ..plotting import figure, layer_colors, legend_below, panel_label
from ..rate import DYNAMICS_SCHEMA, DynamicsParams, RateModel, model_from_config
from ..rule import FORMS, RuleAccumulator
from ..spiking.calibration import CALIBRATION_SCHEMA
from ..spiking import SPIKING_SCHEMA
from . import Experiment, Result, RunContext, require_noiseless
from .alignment_noise import figures_noisy, run_noisy
from .alignment_spiking import run_spiking
from ._common import alignment_data, gradient_references

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,  # used with model = "spiking"
    "calibration": CALIBRATION_SCHEMA,  # used with model = "spiking"
    "alignment": {
        "model": Key("str", "rate", "which model produces the rule's ΔW",
                     choices=("rate", "spiking")),
        "betas": Key("floats", [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001],
                     "nudge strengths β (Eq 13)", low=0.0, open_low=True),
        "nudged_steps": Key("ints", [1, 2, 5, 10, 20, 50, 100, 200, 500],
                            "nudged-phase lengths (steps) of the length sweep", low=1),
        "length_beta": Key("float", 0.01, "β of the phase-length sweep", low=0.0, open_low=True),
        # used only with [dynamics] noise > 0 (stdp_ebm.experiments.alignment_noise)
        "trials": Key("ints", [10, 30, 100, 300, 1000], "numbers K of noise trials averaged",
                      low=1),
        "noises": Key("floats", [], "further noise levels σ of the bias sweep", low=0.0,
                      open_low=True, min_len=0),
        "burn_in": Key("int", 100, "noisy steps from the fixed point to the stationary samples",
                       low=1),
        "noise_beta": Key("float", 0.01, "β of the nudged phase under noise", low=0.0,
                          open_low=True),
        "noise_steps": Key("int", 60, "length (steps) of the nudged phase under noise", low=1),
    },
}


def _rule(model: RateModel, s_free, target, beta: float, steps: int | None, tol: float,
          max_steps: int) -> dict[str, list[np.ndarray]]:
    acc = RuleAccumulator(model.rho, model.net.sizes)
    model.nudged_phase(s_free, target, beta, steps=steps, tol=tol, max_steps=max_steps, on_step=acc)
    return {f: acc.delta_w(beta, f) for f in FORMS}


def run(cfg: dict, ctx: RunContext) -> Result:
    if cfg["alignment"]["model"] == "spiking":
        return run_spiking(cfg, ctx)
    net = network_from_config(NetworkParams.of(cfg), ctx.seeds.rng("network"), ctx.network_path)
    model = model_from_config(net, DynamicsParams.of(cfg))
    d, a = cfg["dynamics"], cfg["alignment"]
    x, target = net.examples()
    free = dataclasses.replace(model, noise=0.0).free_phase(x, tol=d["tol"],
                                                            max_steps=d["max_steps"])
    if model.noise > 0.0:
        return run_noisy(net, model, free.s, cfg, ctx.seeds)
    refs = gradient_references(net, model, free.s)
    dw_by_beta = [_rule(model, free.s, target, beta, None, d["tol"], d["max_steps"])
                  for beta in iterate(a["betas"], "β sweep")]
    dw_by_length = [_rule(model, free.s, target, a["length_beta"], n, d["tol"], d["max_steps"])
                    for n in iterate(a["nudged_steps"], "length sweep")]
    data, by_beta, by_len = alignment_data(refs, a["betas"], dw_by_beta, a["nudged_steps"],
                                           dw_by_length)
    summary = {"sizes": net.sizes, "free_phase_steps": free.steps, "by_beta": by_beta,
               "by_nudged_steps": [{"steps": n, **row} for n, row in zip(a["nudged_steps"], by_len)],
               "headline": headline_near_beta(by_beta)}
    return Result(data, summary)


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    if "noises" in data:
        return figures_noisy(data)
    metrics = list(data["metrics"])
    layers = list(data["layers"])
    n_w = len(layers) - 1
    colors = layer_colors(n_w) + ["k"]
    out = {}
    for sweep, xkey, xlabel, xlog in (("align", "betas", "nudge strength β", True),
                                      ("length", "nudged_steps", "nudged-phase length (steps)", True)):
        for form, title in (("sym", "symmetrised rule"), ("up", "one-way rule, ρ(pre)·ṡ(post) up")):
            fig, axes = figure(3, 1, width=2.9, height=2.5)
            x = data[xkey]
            for ax, m, lab in zip(axes, ("cos", "angle_deg", "norm_ratio"), "abc"):
                for ref, ls in (("implicit", "-"), ("backprop", "--")):
                    table = data[f"{sweep}_{form}_vs_{ref}"]
                    for i, layer in enumerate(layers):
                        y = table[:, i, metrics.index(m)]
                        if m != "norm_ratio":
                            y = direction_where_defined(y, table[:, i, metrics.index("norm_ratio")])
                        ax.plot(x, y, ls, marker="o" if ls == "-" else None,
                                color=colors[i], lw=2.0 if layer == "all" else 1.2,
                                label=f"{layer} vs {ref}" if ref == "implicit" or i == n_w else None)
                        ci = data.get(f"ci_{form}_vs_{ref}") if sweep == "align" else None
                        if ci is not None and m == "cos":  # 95 % interval over noise trials
                            est, lo, hi = ci[:, i, 0].T  # est: the plotted cosine
                            ax.errorbar(x, est, yerr=np.vstack([est - lo, hi - est]), fmt="none",
                                        capsize=2, ecolor=colors[i], elinewidth=0.9)
                if xlog:
                    ax.set_xscale("log")
                ax.set_xlabel(xlabel)
                ax.set_ylabel({"cos": "cosine similarity", "angle_deg": "angle (deg)",
                               "norm_ratio": "‖ΔW‖ / ‖−∂C/∂W‖"}[m])
                if m == "norm_ratio":
                    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
                panel_label(ax, lab)
            legend_below(fig, axes[0], ncol=n_w + 2)
            masked = any(np.any(data[f"{sweep}_{form}_vs_{ref}"][..., metrics.index("norm_ratio")]
                                < NOISE_FLOOR) for ref in ("implicit", "backprop"))
            note = (f"\ncos and angle not drawn where ‖ΔW‖ < {NOISE_FLOOR:g}·‖−∂C/∂W‖ (ΔW is "
                    "rounding noise: the nudge has not reached W_k)") if masked else ""
            if sweep == "align" and f"ci_{form}_vs_implicit" in data:
                note += ("\ncos bars: 95 % jackknife intervals over the "
                         f"{summary['intervals']['trials']} noise trials")
            fig.suptitle(f"{title} vs −∂C/∂W: implicit gradient (solid), feed-forward BP "
                         f"(dashed){note}", fontsize=8)
            out[f"{sweep.replace('align', 'beta')}_{form}"] = fig
    return out


def _check(cfg: dict, source: str) -> None:
    if cfg["alignment"]["model"] == "spiking":
        require_noiseless(cfg, source, "the spiking model brings its own noise")


#: the ``alignment`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="alignment",
    doc="Rule ΔW (Eq 26) vs implicit and feed-forward backprop gradients over β and phase length.",
    schema=SCHEMA, run=run, figures=figures,
    check=_check,
)
