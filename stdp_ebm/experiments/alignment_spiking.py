"""``alignment`` with ``model = "spiking"``: the Brian2 rule synapses' ΔW over β and phase length.

For each β one :func:`stdp_ebm.spiking.simulate` run (free phase, ±β nudged phases with common random
numbers); for ``length_beta`` the rule's integrals are also read at nudged-phase lengths steps·ε·τ
(``spiking.rate_tau_ms``; capped at ``spiking.nudged_ms``). The references are those of the
calibrated rate model (ρ = ρ_LIF, :func:`~stdp_ebm.experiments._common.calibrated_setup`). Same data
and figures as the rate model's alignment (:mod:`stdp_ebm.experiments.alignment`).
"""

from __future__ import annotations

from ..analysis import headline_near_beta
from ..progress import iterate
from ..rule import FORMS
from ..spiking import simulate
from . import Result, RunContext
from ._common import alignment_data, calibrated_setup, gradient_references


def run_spiking(cfg: dict, ctx: RunContext) -> Result:
    sp, a, d = cfg["spiking"], cfg["alignment"], cfg["dynamics"]
    net, models, _, model, free = calibrated_setup(cfg, ctx)
    e = model.energy_form
    refs = gradient_references(net, model, free.s)
    lengths = [n * d["epsilon"] * sp["rate_tau_ms"] for n in a["nudged_steps"]]
    runs = {b: simulate(net, model.rho, {**sp, "beta": b}, ctx.seeds.int("brian2"), models,
                        checkpoints_ms=lengths if b == a["length_beta"] else None, energy=e)
            for b in iterate(sorted(set(a["betas"]) | {a["length_beta"]}, reverse=True),
                             "spiking runs")}
    by_length = [{f: runs[a["length_beta"]].delta_w(f, checkpoint=min(t, sp["nudged_ms"]))
                  for f in FORMS} for t in lengths]
    data, by_beta, by_len = alignment_data(
        refs, a["betas"], [{f: runs[b].delta_w(f) for f in FORMS} for b in a["betas"]],
        a["nudged_steps"], by_length)
    summary = {"model": "spiking", "sizes": net.sizes, "free_phase_steps": free.steps,
               "by_beta": by_beta, "nudged_ms": lengths,
               "by_nudged_steps": [{"steps": n, **row}
                                   for n, row in zip(a["nudged_steps"], by_len)],
               "headline": headline_near_beta(by_beta),
               "cost": {str(b): r.cost for b, r in runs.items()}}
    return Result(data, summary)
