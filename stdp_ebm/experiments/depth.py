"""Depth diagnostics for the deep MNIST nets (Scellier & Bengio 2017).

Two measurements per depth (random nets with 1, 2, 3 hidden layers of ``width`` units, initialised as
the training configs do, and the trained network given with ``--network``), on ``n_images`` training
images:

1. **Free-phase convergence** of the training dynamics (synchronous projected steps of Eq 1–2 at the
   training ε, from rest): after T steps, the fraction of images whose prediction argmax y differs
   from that of a ``reference_steps`` relaxation, and the fraction of free units still moving: changed
   by more than ``moving_tol`` in step T or T−1 (at ε = 1 the two interleaved halves of the
   synchronous dynamics can settle apart, so that a unit moves only every other step: the 784-500-10
   net at initialisation has ~25 % of its units moving at odd steps and ~0.1 % at even ones).
2. **Per-layer gradient scale** on the first ``n_gradient`` of those images whose cost C is not zero
   after the reference relaxation (a trained net fits most images exactly, with clipped outputs on
   their targets, where every gradient vanishes): ‖ΔW_k‖ of the rule as training
   computes it (±β, the training ε and steps, :class:`stdp_ebm.learning.EPLearner`), of the rule at
   small β with converged phases (``beta_small``, symmetric, relaxed to ``tol`` at ``epsilon_converged``),
   the implicit gradient −∂C/∂W_k at that converged free fixed point (:func:`implicit_neg_grad`) and
   feed-forward backprop through the local Jacobians there (:func:`feedforward_backprop`); cosines of
   both rules with the implicit gradient.

data.npz: ``hidden`` (hidden layers per net), ``steps`` (T), ``disagree`` and ``moving`` (n_nets, n_T),
``norm_{rule,rule_small,implicit,backprop}`` and ``cos_{rule,rule_small}`` (n_nets, max layers; NaN
where a net has fewer weight matrices), ``trained`` (1 for a loaded network).
"""

from __future__ import annotations

import numpy as np

from ..activation import HardSigmoid
from ..config import Key, require
from ..errors import ConfigError, NetworkFileError
from ..network import Network, load_network, random_network
from ..plotting import figure, layer_colors, panel_label
from ..rate import RateModel
from ..references import feedforward_backprop, implicit_neg_grad
from ..rule import ep_delta_w
from ..learning import EPLearner, TrainParams
from . import Experiment, Result, RunContext
from .train import SCHEMA as TRAIN_EXPERIMENT_SCHEMA, load_data

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

GRADIENTS = ("rule", "rule_small", "implicit", "backprop")

SCHEMA = {
    "data": TRAIN_EXPERIMENT_SCHEMA["data"],
    "depth": {
        "hidden": Key("ints", [1, 2, 3], "numbers of hidden layers of the random nets", low=1),
        "width": Key("int", 500, "units per hidden layer", low=1),
        "init_scales": Key("floats", [1.0, 0.5, 0.5], "Glorot gain of the random nets, by number "
                                                     "of hidden layers (1, 2, 3 …)", low=0.0),
        "epsilon": Key("float", 1.0, "step ε of the training dynamics", low=0.0, open_low=True,
                       high=1.0),
        "n_images": Key("int", 300, "training images for the convergence measurement", low=1),
        "steps": Key("ints", [5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500], "free steps T",
                     low=2),
        "reference_steps": Key("int", 2000, "steps of the reference relaxation", low=1),
        "moving_tol": Key("float", 1e-6, "a unit still moves if |s_T − s_{T−1}| exceeds this",
                          low=0.0, open_low=True),
        "n_gradient": Key("int", 20, "images for the gradient comparison", low=1),
        "beta": Key("float", 0.5, "β of the training rule (±β)", low=0.0, open_low=True),
        "free_steps": Key("ints", [20, 50, 100], "training free steps, by number of hidden layers",
                          low=1),
        "nudged_steps": Key("ints", [6, 8, 10], "training nudged steps, by number of hidden layers",
                            low=1),
        "beta_small": Key("float", 0.01, "β of the converged rule", low=0.0, open_low=True),
        "epsilon_converged": Key("float", 0.5, "ε of the converged phases", low=0.0,
                                 open_low=True, high=1.0),
        "tol": Key("float", 1e-9, "residual of the converged phases", low=0.0, open_low=True),
        "max_steps": Key("int", 100_000, "step limit of the converged phases", low=1),
    },
}


def check(cfg: dict, source: str) -> None:
    d = cfg["depth"]
    require(d["steps"][0] >= 2 and all(a < b for a, b in zip(d["steps"], d["steps"][1:])), source,
            "[depth] steps", d["steps"], "must increase from at least 2")
    for key in ("init_scales", "free_steps", "nudged_steps"):
        require(len(d[key]) >= max(d["hidden"]), source, f"[depth] {key}", d[key],
                f"needs an entry for each depth up to {max(d['hidden'])} hidden layers")


def nets(cfg: dict, n_inputs: int, rng: np.random.Generator,
         trained: str | None) -> list[tuple[Network, bool]]:
    """The random nets (input → hidden × width → 10) and the trained one, flagged."""
    d = cfg["depth"]
    out = [(random_network([n_inputs] + [d["width"]] * h + [10], rng, d["init_scales"][h - 1],
                           0.0, 0.0), False) for h in d["hidden"]]
    if trained is not None:
        net = load_network(trained)
        if net.sizes[0] != n_inputs or net.n_hidden > len(d["free_steps"]):
            raise NetworkFileError(f"--network {trained}: sizes {net.sizes} do not fit {n_inputs} inputs "
                              f"and [depth] free_steps {d['free_steps']}")
        out.append((net, True))
    return out


def convergence(model: RateModel, x: np.ndarray, steps: list[int], reference_steps: int,
                moving_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per T (increasing): fraction of predictions differing from the reference, fraction of units
    moving; and the reference output y."""
    drive = model.input_drive(x)
    state = model.initial_state(x)
    y_ref = model.settle(state, reference_steps, drive)[-1]
    ref = np.argmax(y_ref, axis=1)
    disagree, moving, done = [], [], 0
    for t in steps:
        earlier = model.settle(state, t - 2 - done, drive)
        before = model.settle(earlier, 1, drive)
        after = state = model.settle(before, 1, drive)
        done = t
        disagree.append(np.mean(np.argmax(after[-1], axis=1) != ref))
        moved = [(np.abs(a - b) > moving_tol) | (np.abs(b - c) > moving_tol)
                 for a, b, c in zip(after[1:], before[1:], earlier[1:])]
        moving.append(np.mean(np.concatenate(moved, axis=1)))
    return np.array(disagree), np.array(moving), y_ref


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def gradients(net: Network, x: np.ndarray, target: np.ndarray, d: dict, free_steps: int,
              nudged_steps: int) -> dict[str, list[float]]:
    """Per-layer norms of the four ΔW_k and the cosines of the two rules with the implicit one."""
    rho = HardSigmoid()
    train_cfg = TrainParams(beta=d["beta"], symmetric=True, free_steps=free_steps,
                            nudged_steps=nudged_steps)
    learner = EPLearner(RateModel(net, rho, epsilon=d["epsilon"]), train_cfg, len(x))
    rule = learner.delta(x, target, np.random.default_rng(0))[0]
    slow = RateModel(net, rho, epsilon=d["epsilon_converged"])
    kw = {"tol": d["tol"], "max_steps": d["max_steps"]}
    free = slow.free_phase(x, **kw)
    plus, minus = (slow.nudged_phase(free.s, target, b, **kw).s
                   for b in (d["beta_small"], -d["beta_small"]))
    small = ep_delta_w(rho, minus, plus, 2 * d["beta_small"])
    implicit = implicit_neg_grad(net, rho, free.s, target)
    backprop = feedforward_backprop(net, rho, free.s, target)[0]
    out = {name: [float(np.linalg.norm(g)) for g in grads] for name, grads in
           zip(GRADIENTS, (rule, small, implicit, backprop))}
    out["cos_rule"] = [_cos(a, b) for a, b in zip(rule, implicit)]
    out["cos_rule_small"] = [_cos(a, b) for a, b in zip(small, implicit)]
    return out


def _padded(rows: list[list[float]]) -> np.ndarray:
    out = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def run(cfg: dict, ctx: RunContext) -> Result:
    d = cfg["depth"]
    data = load_data(cfg["data"], ctx.seeds.rng("data"))
    x, target = data.x_train[:d["n_images"]], data.y_train[:d["n_images"]]
    rows: dict[str, list] = {k: [] for k in ("disagree", "moving", "hidden", "trained", *GRADIENTS,
                                             "cos_rule", "cos_rule_small")}
    for net, trained in nets(cfg, data.n_inputs, ctx.seeds.rng("network"), ctx.network_path):
        model = RateModel(net.astype(np.float32), HardSigmoid(), epsilon=d["epsilon"])  # as trained
        dis, mov, y = convergence(model, x, d["steps"], d["reference_steps"], d["moving_tol"])
        some_cost = np.flatnonzero(np.sum((y - target) ** 2, axis=1) > 0)[:d["n_gradient"]]
        if len(some_cost) == 0:
            raise ConfigError(f"[depth] n_images = {d['n_images']}: the net fits every image exactly "
                              "(C = 0, no gradient to compare); raise n_images")
        xg, tg = x[some_cost], target[some_cost]
        rows["disagree"].append(dis)
        rows["moving"].append(mov)
        rows["hidden"].append(net.n_hidden)
        rows["trained"].append(int(trained))
        h = net.n_hidden
        for k, v in gradients(net, xg, tg, d, d["free_steps"][h - 1], d["nudged_steps"][h - 1]).items():
            rows[k].append(v)
    out = {"steps": np.array(d["steps"]), "hidden": np.array(rows["hidden"]),
           "trained": np.array(rows["trained"]), "disagree": np.array(rows["disagree"]),
           "moving": np.array(rows["moving"])}
    out.update({f"norm_{k}": _padded(rows[k]) for k in GRADIENTS})
    out.update({k: _padded(rows[k]) for k in ("cos_rule", "cos_rule_small")})
    summary = {"dataset": data.name, "nets": [
        {"hidden": h, "trained": bool(t),
         "steps_to_agree": _first_below(d["steps"], dis, 0.0),
         "min_cos_rule_small": float(np.nanmin(out["cos_rule_small"][i])),
         "min_cos_rule": float(np.nanmin(out["cos_rule"][i])),
         "rule_over_implicit": (out["norm_rule"][i] / out["norm_implicit"][i]).tolist()[:h + 1],
         "backprop_over_implicit": (out["norm_backprop"][i] / out["norm_implicit"][i]).tolist()[:h + 1]}
        for i, (h, t, dis) in enumerate(zip(rows["hidden"], rows["trained"], rows["disagree"]))]}
    return Result(out, summary)


def _first_below(steps: list[int], values: np.ndarray, level: float) -> int | None:
    """The first T whose value is <= level (None if none is)."""
    hits = [t for t, v in zip(steps, values) if v <= level]
    return hits[0] if hits else None


def _label(hidden: int, trained: int) -> str:
    return f"{hidden} hidden, {'trained' if trained else 'initial'}"


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    return {"free_convergence": _convergence_figure(data, summary, cfg),
            "layer_gradients": _gradient_figure(data)}


def _convergence_figure(data: dict, summary: dict, cfg: dict):
    fig, (ax_p, ax_m) = figure(2, 1, width=3.3, height=2.7)
    colors = layer_colors(len(data["hidden"]))
    for i, (h, t) in enumerate(zip(data["hidden"], data["trained"])):
        style = "--" if t else "-"
        ax_p.plot(data["steps"], 100 * data["disagree"][i], style, marker="o", color=colors[i],
                  label=_label(h, t))
        ax_m.plot(data["steps"], 100 * data["moving"][i], style, marker="o", color=colors[i],
                  label=_label(h, t))
    ax_p.set_xscale("log")
    ax_p.set_xlabel("free steps T (ε = 1, synchronous)")
    ax_p.set_ylabel("predictions ≠ reference (%)")
    ax_m.set_xscale("log")
    ax_m.set_xlabel("free steps T (ε = 1, synchronous)")
    ax_m.set_ylabel("units moving at T−1 or T (%)")
    ax_p.legend()
    panel_label(ax_p, "a")
    panel_label(ax_m, "b")
    fig.suptitle(f"free phase vs depth, {summary['dataset']}: predictions vs a "
                 f"{cfg['depth']['reference_steps']}-step reference (a), units still moving (b)",
                 fontsize=9)
    return fig


def _gradient_figure(data: dict):
    nets = len(data["hidden"])
    fig, axes = figure(nets, 1, width=2.6, height=2.7)
    names = {"rule": "rule, training ±β", "rule_small": "rule, β small, converged",
             "implicit": "implicit gradient", "backprop": "feed-forward backprop"}
    markers = {"rule": "o", "rule_small": "x", "implicit": "s", "backprop": "^"}
    for i, ax in enumerate(axes):
        h = int(data["hidden"][i])
        layers = np.arange(h + 1)
        for k, label in names.items():
            ax.plot(layers, data[f"norm_{k}"][i, :h + 1], marker=markers[k],
                    fillstyle="none" if k == "implicit" else "full", label=label)
        ax.set_yscale("log")
        ax.set_xticks(layers, [f"W_{k}" for k in layers])
        ax.set_xlabel("weights (W_0: x → h_1)")
        ax.set_ylabel("‖ΔW_k‖ (Frobenius)")
        ax.set_title(_label(h, int(data["trained"][i])))
        panel_label(ax, "abcdefgh"[i])
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
    return fig


#: the ``depth`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="depth",
    doc="Depth diagnostics: free-phase convergence and per-layer gradient scale vs depth.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
