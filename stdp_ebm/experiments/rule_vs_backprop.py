"""Eq 26 and classic STDP rules in the same layered spiking network, each against −∂C/∂W.

Does classic spike-timing-dependent plasticity carry the backprop gradient in this network, and how
far? Every rule of ``[rule_vs_backprop] rules`` (names of shipped synapse model files or paths to a
user's, the ``[spiking] synapse`` contract of docs/spiking_engine.md) runs in the same layered
spiking network: the same weights, inputs, targets, calibration and Brian2 seed, so the same free
phase and noise. For each rule and β one :func:`stdp_ebm.spiking.simulate` run (free phase, ±β
nudged phases with common random numbers; :func:`~stdp_ebm.experiments._common.spiking_sweep`); at
β = ``length_beta`` the rule's integrals are also read at ``phase_ms`` into the nudged phase. Its
ΔW, tied (``sym`` = up + down) and one-way (``up``), is compared with −∂C/∂W of the calibrated rate
model (ρ = ρ_LIF) at its free fixed point, by implicit differentiation and by feed-forward backprop
(Eq 24): cosine, norm ratio, NRMSE, sign agreement per W_k and over all weights
(:func:`stdp_ebm.analysis.cross_alignment`).

The cosine is scale-free. The norm ratio ‖ΔW‖/‖−∂C/∂W‖ is reported as it is: an STDP rule's ΔW is
in its own units (its amplitudes A± per spike pair, summed over the n² neuron pairs' mean), not in
those of the gradient, so only Eq 26's ratio is expected near 1.

data.npz names (r indexes ``rules``, k W_k; metric axis ordered as ``metrics``):

* ``rules`` (labels: a shipped file's stem, a user's ``stem@hash``), ``betas``, ``phase_ms``,
  ``metrics``, ``layers`` (``W_0`` … and ``all``)
* ``ref_{implicit,backprop}_W{k}`` — −∂C/∂W_k, shape (n_k, n_{k+1})
* ``dW_{sym,up,down}_W{k}`` — the rules' ΔW at each β, shape (n_rules, n_betas, n_k, n_{k+1})
* ``align_{form}_vs_{ref}`` — (n_rules, n_betas, n_W + 1, n_metrics); row n_W is all weights
* ``length_{form}_vs_{ref}`` — (n_rules, n_phase, n_W + 1, n_metrics) at β = ``length_beta``
"""

from __future__ import annotations

import numpy as np

from ..spiking.calibration import CALIBRATION_SCHEMA
from ..config import Key
from ..errors import ConfigError, ModelFileError
from ..network import NETWORK_SCHEMA
from ..plotting import figure, panel_label
from ..rate import DYNAMICS_SCHEMA
from ..spiking import SPIKING_SCHEMA, SpikingParams
from . import Experiment, Result, RunContext, require_noiseless
from ._common import alignment_data, calibrated_setup, gradient_references, spiking_sweep

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

SCHEMA = {
    "network": NETWORK_SCHEMA,
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,  # [spiking] synapse is not read: the rules are listed below
    "calibration": CALIBRATION_SCHEMA,
    "rule_vs_backprop": {
        "rules": Key("str", "population_rule, pair_stdp, triplet_stdp",
                     "comma-separated synapse rules run in turn in the same network: shipped "
                     "names or paths to a user's model file (docs/spiking_engine.md)"),
        "betas": Key("floats", [0.4, 0.2, 0.1], "nudge strengths β (Eq 13)", low=0.0,
                     open_low=True),
        "phase_ms": Key("floats", [25.0, 50.0, 100.0, 200.0], "nudged-phase lengths (ms) at which "
                        "the rules' integrals are read (each ≤ [spiking] nudged_ms)", low=0.0,
                        open_low=True),
        "length_beta": Key("float", 0.2, "β of the phase-length sweep", low=0.0, open_low=True),
    },
}
FORMS_SHOWN = ("sym", "up")  # the tied rule and the one-way rule of Eq 26 (down is in data.npz)
#: legend names of the shipped rules (any other rule is shown by its label)
SHIPPED = {"population_rule": "Eq 26 (population_rule)", "rule_synapse": "Eq 26, spike filters",
           "pair_stdp": "pair STDP", "triplet_stdp": "triplet STDP"}
NORM_NOTE = ("norm_ratio = ‖ΔW‖/‖−∂C/∂W‖ as measured: STDP rules' ΔW are in their own units "
             "(amplitudes per spike pair), so only the cosine compares rules")


def rule_names(cfg: dict) -> list[str]:
    """The rules of ``[rule_vs_backprop] rules``, in order, blanks dropped."""
    return [n.strip() for n in cfg["rule_vs_backprop"]["rules"].split(",") if n.strip()]


def run(cfg: dict, ctx: RunContext) -> Result:
    from ..spiking import load_models

    sp, rv = SpikingParams.of(cfg), cfg["rule_vs_backprop"]
    rules: dict[str, dict] = {}
    for name in rule_names(cfg):  # every file checked before the calibration
        models = load_models(name)
        rules.setdefault(models["rule"].label, models)  # a file named twice runs once
    net, _, _, model, free = calibrated_setup(cfg, ctx)
    refs = gradient_references(net, model, free.s)
    per_rule: list[dict] = []
    summary_rules: dict[str, list[dict]] = {}
    cost: dict[str, dict] = {}
    for label, models in rules.items():
        runs, dw_beta, dw_len = spiking_sweep(net, model, sp, ctx.seeds.int("brian2"), models,
                                              rv["betas"], rv["length_beta"], rv["phase_ms"],
                                              f"{label}: spiking runs")
        data, by_beta, by_len = alignment_data(refs, rv["betas"], dw_beta, rv["phase_ms"], dw_len)
        per_rule.append(data)
        summary_rules[label] = _rows(label, by_beta, by_len, rv)
        cost[label] = {str(b): r.cost for b, r in runs.items()}
    first = per_rule[0]
    data = {k: v for k, v in first.items() if not k.startswith(("dW_", "align_", "length_"))}
    data["phase_ms"] = data.pop("nudged_steps")
    data["rules"] = np.array(list(rules))
    data.update({k: np.stack([d[k] for d in per_rule]) for k in first
                 if k.startswith(("dW_", "align_", "length_"))})
    summary = {"sizes": net.sizes, "free_phase_steps": free.steps, "rules": list(rules),
               "betas": rv["betas"], "phase_ms": rv["phase_ms"], "length_beta": rv["length_beta"],
               "nudged_ms": sp.nudged_ms, "reference": "implicit", "note": NORM_NOTE,
               "table": [row for label in rules for row in summary_rules[label]], "cost": cost}
    return Result(data, summary)


def _rows(rule: str, by_beta: list[dict], by_len: list[dict], rv: dict) -> list[dict]:
    """The summary table's rows of one rule (its label ``rule``): per form, cos and norm ratio per
    W_k and over all weights against the implicit gradient, at each β (full phase) and each phase
    length."""
    out = []
    for form in FORMS_SHOWN:
        key = f"{form}_vs_implicit"
        for sweep, rows, xs in (("beta", by_beta, rv["betas"]), ("phase", by_len, rv["phase_ms"])):
            for x, row in zip(xs, rows):
                al = row[key]
                out.append({"rule": rule, "form": form, "sweep": sweep,
                            "beta": x if sweep == "beta" else rv["length_beta"],
                            "phase_ms": x if sweep == "phase" else None,
                            "cos": al["cos"], "cos_all": al["overall"]["cos"],
                            "norm_ratio": al["norm_ratio"],
                            "norm_ratio_all": al["overall"]["norm_ratio"]})
    return out


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    metrics, layers, rules = list(data["metrics"]), list(data["layers"]), list(data["rules"])
    styles = [":", "--", "-."]  # per layer W_k (thin); all weights: thick, solid
    fig, axes = figure(3, 1, width=3.0, height=2.6)
    cos, ratio = metrics.index("cos"), metrics.index("norm_ratio")
    beta_label = "nudge strength β (dimensionless)"
    panels = ((axes[0], "align", data["betas"], beta_label, cos),
              (axes[1], "length", data["phase_ms"], "nudged-phase length (ms)", cos),
              (axes[2], "align", data["betas"], beta_label, ratio))
    for ax, sweep, x, xlabel, m in panels:
        table = data[f"{sweep}_sym_vs_implicit"]
        for r in range(len(rules)):
            for i, layer in enumerate(layers):
                last = layer == "all"
                ax.plot(x, table[r, :, i, m], "-" if last else styles[i % len(styles)],
                        marker="o" if last else None, color=f"C{r}", lw=2.0 if last else 0.9)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        if m == cos:
            ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
            ax.set_ylim(-1.05, 1.05)
            ax.set_ylabel("cos(ΔW, −∂C/∂W)\n(dimensionless)")
        else:
            ax.set_yscale("log")
            ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
            ax.set_ylabel("‖ΔW‖ / ‖−∂C/∂W‖\n(rule's units per gradient unit)")
    for ax, lab in zip(axes, "abc"):
        panel_label(ax, lab)
    axes[0].set_title(f"full phase ({summary['nudged_ms']:g} ms)", fontsize=8)
    axes[1].set_title(f"β = {summary['length_beta']:g}", fontsize=8)
    axes[2].set_title("norm ratio, as measured", fontsize=8)
    handles = [Line2D([], [], color=f"C{r}", lw=2.0, marker="o",
                      label=SHIPPED.get(rule, rule))
               for r, rule in enumerate(rules)]
    handles += [Line2D([], [], color="0.3", lw=2.0 if layer == "all" else 0.9,
                       ls="-" if layer == "all" else styles[i % len(styles)],
                       label="all weights" if layer == "all" else layer)
                for i, layer in enumerate(layers)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    fig.suptitle("tied ΔW (up + down) of each synapse rule in the same spiking network vs the "
                 "implicit gradient −∂C/∂W", fontsize=8)
    return {"rule_vs_backprop": fig}


def _check(cfg: dict, source: str) -> None:
    from ..models import resolve_path

    require_noiseless(cfg, source, "the spiking model brings its own noise")
    names = rule_names(cfg)
    if not names:
        raise ConfigError(f"{source}: [rule_vs_backprop] rules names no rule")
    for name in names:
        try:
            resolve_path(name)
        except ModelFileError as exc:
            raise ConfigError(f"{source}: [rule_vs_backprop] rules: {exc}") from None
    nudged = SpikingParams.of(cfg).nudged_ms
    if max(cfg["rule_vs_backprop"]["phase_ms"]) > nudged:
        raise ConfigError(f"{source}: [rule_vs_backprop] phase_ms = "
                          f"{cfg['rule_vs_backprop']['phase_ms']} goes past [spiking] nudged_ms = "
                          f"{nudged:g}: the nudged phase ends there")


#: the ``rule_vs_backprop`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="rule_vs_backprop",
    doc="Eq 26, pair and triplet STDP and user rules in one spiking network vs −∂C/∂W, over β and "
        "phase length.",
    schema=SCHEMA, run=run, figures=figures, check=_check,
)
