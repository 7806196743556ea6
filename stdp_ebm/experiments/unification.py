"""EP, CHL and PC vs backprop at the infinitesimal inference limit (Millidge et al. 2022).

On the standard net and on a digits-trained net, each algorithm of :mod:`stdp_ebm.algorithms` is run
(1) to its perturbed fixed point for each perturbation p (β for EP, γ for CHL, λ for PC) and (2) for a
given number of inference steps at p = ``steps_perturbation``. Its ΔW is compared with the backprop
gradient of its own energy's limit: the implicit gradient at the free fixed point (EP, CHL) or the
feed-forward net's backprop (PC). EP and CHL are also compared with feed-forward backprop through the
fixed point (Eq 24, ``references.feedforward_backprop``), which ignores the feedback loops.

summary.json, per net: ``headline`` (per algorithm at the smallest p: least per-layer cosine, overall
distance, whether the distance fell monotonically within ``NOISE``), ``by_perturbation`` and
``by_steps`` (per-layer cos, norm ratio, distance; EP/CHL also ``vs_eq24``), ``chl_fixed_point_gap``;
for the digits net also its learning curve (``training``).

data.npz names (net ∈ {standard, digits}; alg ∈ {EP, CHL, PC}; metric axis ordered as ``metrics``):

* ``perturbations``, ``inference_steps``, ``metrics``, ``algorithms``, ``nets``
* ``{net}_sizes`` — units per layer; ``{net}_layers`` — weight labels W_k, last = "all"
* ``{net}_{alg}_by_perturbation`` — (n_p, n_W + 1, n_metrics); row n_W is all weights together
* ``{net}_{alg}_by_steps`` — (n_steps, n_W + 1, n_metrics)
* ``{net}_{alg}_eq24_by_perturbation`` — EP and CHL vs Eq 24 feed-forward backprop
* ``{net}_chl_gap`` — (n_p, L + 1): per free layer ‖Δs_CHL/γ − Δs_EP/β‖/‖Δs_EP/β‖ at γ = β = p
* ``{net}_{alg}_shift`` — (n_p,): ‖s* − s⁰‖ over all free units, the size of the perturbed shift
"""

from __future__ import annotations

import numpy as np

from ..analysis import METRICS, NOISE_FLOOR, direction_where_defined, layer_alignment
from ..config import Key, require
from ..data import load_digits
from ..network import NETWORK_SCHEMA, Network, NetworkParams, network_from_config, random_network
from ..plotting import figure, layer_colors, layer_name, panel_label
from ..rate import DYNAMICS_SCHEMA, DynamicsParams, model_from_config
from ..references import feedforward_backprop
from ..learning import TRAIN_SCHEMA, TrainParams, train_ep
from ..algorithms import ALGORITHMS, Comparison, fixed_point_gap
from . import Experiment, Result, RunContext, require_noiseless

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

#: the distance may rise by this much (absolute) between two perturbations and still count as falling:
#: the fixed points are solved to tol ≤ 1e-12, so the contrast/p carries errors ≲ tol/p_min = 1e-8.
NOISE = 1e-6

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "unification": {
        "perturbations": Key("floats", [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4],
                             "perturbation strengths: β (EP), γ (CHL clamp), λ (PC)", low=0.0,
                             open_low=True, high=1.0),
        "inference_steps": Key("ints", [1, 2, 3, 5, 10, 20, 50, 100, 200, 500],
                               "perturbed-phase lengths (inference steps) of the step sweep", low=1),
        "steps_perturbation": Key("float", 1e-3, "perturbation p of the step sweep", low=0.0,
                                  open_low=True, high=1.0),
        "pc_epsilon": Key("float", 0.5, "inference step size of PC's gradient descent on F_PC",
                          low=0.0, open_low=True, high=1.0),
    },
    "digits": {
        "enabled": Key("bool", True,
                       "also compare on a net trained on the 8×8 digits with EP ([train] section)"),
        "hidden": Key("ints", [32], "hidden layer sizes of the digits net (64 inputs, 10 outputs)",
                      low=1),
        "examples": Key("int", 16, "test digits in the comparison batch", low=1),
        "test_fraction": Key("float", 0.2, "held-out fraction of the digits", low=0.0, open_low=True,
                             high=1.0, open_high=True),
    },
    "train": TRAIN_SCHEMA,
}


def _table(al: dict) -> np.ndarray:
    """Metrics dict → array (n_W + 1, n_metrics), last row overall."""
    per = np.array([al[m] for m in METRICS]).T
    return np.vstack([per, [al["overall"][m] for m in METRICS]])


def _shift(s0: list[np.ndarray], s1: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(s0[1:], s1[1:]))))


def _digits_network(cfg: dict, ctx: RunContext) -> tuple[Network, dict]:
    """A net trained for a few epochs on the digits with EP; the batch is held-out test digits.

    Also returns its learning curve."""
    dg = cfg["digits"]
    data = load_digits(ctx.seeds.rng("digits_split"), dg["test_fraction"])
    sizes = [data.x_train.shape[1], *dg["hidden"], data.y_train.shape[1]]
    net = random_network(sizes, ctx.seeds.rng("digits_init"), cfg["network"]["init_scale"],
                         cfg["network"]["bias_low"], cfg["network"]["bias_high"])
    model = model_from_config(net, DynamicsParams.of(cfg))
    history = train_ep(model, data, TrainParams.of(cfg), ctx.seeds.rng("digits_train"))
    n = dg["examples"]
    curve = {"train_error_fraction": history.train_error, "test_error_fraction": history.test_error}
    return Network(net.W, net.b, data.x_test[:n], data.y_test[:n]), curve


def _compare(net: Network, cfg: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Both sweeps on one net: arrays (without the net prefix) and the summary block."""
    d, u = cfg["dynamics"], cfg["unification"]
    tol, max_steps, ps = d["tol"], d["max_steps"], u["perturbations"]
    x, target = net.examples()
    cmp = Comparison.build(model_from_config(net, DynamicsParams.of(cfg)), u["pc_epsilon"], x,
                           target, tol, max_steps)
    eq24 = feedforward_backprop(net, cmp.ebm.rho, cmp.s_free, target, cmp.ebm.projected,
                                cmp.ebm.energy_form)[0]
    data: dict[str, np.ndarray] = {"sizes": np.array(net.sizes),
                                   "layers": np.array([f"W_{k}" for k in range(len(net.W))] + ["all"])}
    summary: dict = {"sizes": net.sizes, "by_perturbation": {}, "by_steps": {}}
    fixed = {alg: [cmp.perturbed(alg, p, None, tol, max_steps).s for p in ps] for alg in ALGORITHMS}
    for alg in ALGORITHMS:
        ref = cmp.reference(alg)
        rows = [layer_alignment(cmp.update(alg, s, p), ref) for p, s in zip(ps, fixed[alg])]
        p_n = u["steps_perturbation"]
        by_steps = [layer_alignment(cmp.update(alg, cmp.perturbed(alg, p_n, n, tol, max_steps).s, p_n),
                                    ref) for n in u["inference_steps"]]
        s0 = cmp.s_ff if alg == "PC" else cmp.s_free
        data[f"{alg}_by_perturbation"] = np.stack([_table(r) for r in rows])
        data[f"{alg}_by_steps"] = np.stack([_table(r) for r in by_steps])
        data[f"{alg}_shift"] = np.array([_shift(s0, s) for s in fixed[alg]])
        summary["by_perturbation"][alg] = [{"perturbation": p, "shift": float(sh), **_brief(r)}
                                           for p, sh, r in zip(ps, data[f"{alg}_shift"], rows)]
        summary["by_steps"][alg] = [{"steps": n, **_brief(r)}
                                    for n, r in zip(u["inference_steps"], by_steps)]
        if alg != "PC":
            rows24 = [layer_alignment(cmp.update(alg, s, p), eq24) for p, s in zip(ps, fixed[alg])]
            data[f"{alg}_eq24_by_perturbation"] = np.stack([_table(r) for r in rows24])
            for entry, r in zip(summary["by_perturbation"][alg], rows24):
                entry["vs_eq24"] = _brief(r)
    data["chl_gap"] = np.array([fixed_point_gap(cmp.s_free, sc, p, se, p)
                                for p, sc, se in zip(ps, fixed["CHL"], fixed["EP"])])
    summary["chl_fixed_point_gap"] = [{"perturbation": p, "per_layer": g.tolist()}
                                      for p, g in zip(ps, data["chl_gap"])]
    summary["headline"] = {alg: _headline(ps, data[f"{alg}_by_perturbation"]) for alg in ALGORITHMS}
    for alg in ("EP", "CHL"):
        head = _headline(ps, data[f"{alg}_eq24_by_perturbation"])
        summary["headline"][alg]["vs_eq24"] = {"min_layer_cos": head["min_layer_cos"],
                                               "overall_distance": head["overall_distance"]}
    return data, summary


def _brief(al: dict) -> dict:
    """Cosine, norm ratio and distance (NRMSE) to backprop, per layer and over all weights."""
    return {"cos": al["cos"], "norm_ratio": al["norm_ratio"], "distance": al["nrmse"],
            "overall": {m: al["overall"][m] for m in ("cos", "norm_ratio", "nrmse")}}


def _headline(ps: list[float], table: np.ndarray) -> dict:
    """At the smallest perturbation: least per-layer cosine; is the distance falling as p shrinks?"""
    order = np.argsort(ps)[::-1]
    dist = table[order, -1, METRICS.index("nrmse")]
    small = order[-1]
    return {"perturbation": ps[small], "min_layer_cos": float(np.min(table[small, :-1, 0])),
            "overall_distance": float(table[small, -1, METRICS.index("nrmse")]),
            "distance_monotone": bool(np.all(np.diff(dist) <= NOISE)),
            "distance_largest_rise": float(np.max(np.diff(dist), initial=0.0))}


def run(cfg: dict, ctx: RunContext) -> Result:
    nets = {"standard": network_from_config(NetworkParams.of(cfg), ctx.seeds.rng("network"),
                                            ctx.network_path)}
    training = None
    if cfg["digits"]["enabled"]:
        nets["digits"], training = _digits_network(cfg, ctx)
    u = cfg["unification"]
    data: dict[str, np.ndarray] = {"perturbations": np.array(u["perturbations"]),
                                   "inference_steps": np.array(u["inference_steps"]),
                                   "metrics": np.array(METRICS), "algorithms": np.array(ALGORITHMS),
                                   "nets": np.array(list(nets))}
    summary: dict = {}
    for name, net in nets.items():
        arrays, summary[name] = _compare(net, cfg)
        data.update({f"{name}_{k}": v for k, v in arrays.items()})
    if training is not None:
        summary["digits"]["training"] = training
    return Result(data, summary)


ALG_COLORS = {"EP": "tab:blue", "CHL": "tab:red", "PC": "tab:green"}
LAYER_STYLES = [":", "-.", "--", (0, (1, 3)), (0, (5, 1))]
PANELS = (("cos", "1 − cosine similarity"), ("norm_ratio", "‖ΔW‖ / ‖∂C/∂W‖"),
          ("nrmse", "‖ΔW + ∂C/∂W‖ / ‖∂C/∂W‖"))
#: 1 − cos is drawn no lower than this (double-precision rounding of a cosine of exactly aligned
#: updates), so that a perfectly aligned point stays on the log axis.
COS_FLOOR = 1e-16


def _metric_panel(ax, data: dict, net: str, sweep: str, metric: str, x: np.ndarray) -> None:
    """One metric vs ``x``: colour = algorithm, thick = all weights, thin = per layer."""
    col = list(data["metrics"]).index(metric)
    for alg in data["algorithms"]:
        table = data[f"{net}_{alg}_{sweep}"]
        y = table[:, :, col]
        if metric == "cos":  # no direction for an update that is rounding noise
            norm_ratio = table[:, :, list(data["metrics"]).index("norm_ratio")]
            y = direction_where_defined(np.maximum(1.0 - y, COS_FLOOR), norm_ratio)
        else:
            y = np.where(y > 0, y, np.nan)
        for i in range(y.shape[1] - 1):
            ax.plot(x, y[:, i], ls=LAYER_STYLES[i % len(LAYER_STYLES)], color=ALG_COLORS[alg],
                    lw=0.9, alpha=0.7)
        ax.plot(x, y[:, -1], "-o", color=ALG_COLORS[alg], lw=1.8)
    if metric == "norm_ratio":
        ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_yscale("log")


def _gap_panel(ax, data: dict, net: str, x: np.ndarray) -> None:
    """CHL's fixed-point shift relative to EP's at γ = β, per free layer."""
    gap = data[f"{net}_chl_gap"]
    for i, c in enumerate(layer_colors(gap.shape[1])):
        label = ("output " if i == gap.shape[1] - 1 else "") + layer_name(i + 1, gap.shape[1])
        ax.plot(x, gap[:, i], "-o", color=c, label=label)
    ax.set_ylabel("CHL vs EP fixed-point shift\n‖Δs_CHL/γ − Δs_EP/β‖ / ‖Δs_EP/β‖", fontsize=8)
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="per free\nlayer")


def _sweep_figure(data: dict, sweep: str, xkey: str, xlabel: str, title: str, gap: bool):
    nets = list(data["nets"])
    fig, axes = figure(len(PANELS) + gap, len(nets), width=2.7, height=2.4)
    axes = axes.reshape(len(nets), -1)
    x = data[xkey]
    for row, net in zip(axes, nets):
        for ax, (metric, ylabel) in zip(row, PANELS):
            _metric_panel(ax, data, net, sweep, metric, x)
            ax.set_ylabel(ylabel)
        if gap:
            _gap_panel(row[-1], data, net, x)
        for ax in row:
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_title(f"{net} net {'-'.join(map(str, data[f'{net}_sizes']))}")
    for ax, lab in zip(axes.ravel(), "abcdefghijkl"):
        panel_label(ax, lab)
    n_layers = max(len(data[f"{net}_layers"]) - 1 for net in nets)
    handles = [axes[0, 0].plot([], [], "-o", color=c, lw=1.8, label=f"{alg}, all weights")[0]
               for alg, c in ALG_COLORS.items()]
    handles += [axes[0, 0].plot([], [], ls=LAYER_STYLES[i % len(LAYER_STYLES)], color="0.4", lw=0.9,
                                label=f"W_{i}")[0] for i in range(n_layers)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    fig.suptitle(f"{title}\n1 − cos not drawn where ‖ΔW‖ < {NOISE_FLOOR:g}·‖∂C/∂W‖ (ΔW is rounding "
                 "noise: the perturbation has not reached W_k)", fontsize=9)
    return fig


def check(cfg: dict, source: str) -> None:
    """Cross-key checks: no Langevin noise (deterministic fixed points); lrs fit the digits net."""
    require_noiseless(cfg, source,
                      "the three algorithms are compared at their deterministic fixed points")
    dg, lrs = cfg["digits"], cfg["train"]["lrs"]
    require(not dg["enabled"] or len(lrs) == len(dg["hidden"]) + 1, source, "[train] lrs", lrs,
            f"needs one learning rate per weight matrix of the digits net ({len(dg['hidden']) + 1})")


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    p_steps = cfg["unification"]["steps_perturbation"]
    return {
        "perturbation": _sweep_figure(
            data, "by_perturbation", "perturbations", "perturbation β (EP), γ (CHL), λ (PC)",
            "EP, CHL and PC updates vs the backprop gradient of their energy's limit "
            "(implicit gradient for EP/CHL, feed-forward BP for PC)", gap=True),
        "steps": _sweep_figure(
            data, "by_steps", "inference_steps", "inference steps after the perturbation",
            f"Updates after a given number of inference steps at perturbation {p_steps:g}", gap=False),
    }


#: the ``unification`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="unification",
    doc="EP, CHL and predictive coding vs backprop over perturbation strength and inference steps.",
    schema=SCHEMA, run=run, figures=figures,
    check=check,
)
