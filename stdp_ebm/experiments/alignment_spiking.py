"""``alignment`` with ``model = "spiking"``: the Brian2 rule synapses' ΔW over β and phase length.

For each β one :func:`stdp_ebm.spiking.simulate` run (free phase, ±β nudged phases with common random
numbers); for ``length_beta`` the rule's integrals are also read at nudged-phase lengths steps·ε·τ
(``spiking.rate_tau_ms``; capped at ``spiking.nudged_ms``). The references are those of the
calibrated rate model (ρ = ρ_LIF, :func:`~stdp_ebm.experiments._common.calibrated_setup`). Same data
and figures as the rate model's alignment (:mod:`stdp_ebm.experiments.alignment`), and with
``spiking.trials`` ≥ 3 noise trials 95 % intervals over them: ``ci_sym_vs_{implicit,backprop}``
(n_betas, n_W + 1, 2 (cos, nrmse), 3 (estimate, low, high)), the jackknife t-interval of the
cosine and NRMSE of the trials' mean (:func:`stdp_ebm.analysis.layer_intervals`), drawn as bars on
the β figures; ``summary.json`` ``intervals`` has them for all weights.
"""

from __future__ import annotations

import numpy as np

from ..analysis import headline_near_beta, layer_intervals, trial_means
from ..spiking.params import SpikingParams
from . import Result, RunContext
from ._common import alignment_data, calibrated_setup, gradient_references, spiking_sweep

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []


def run_spiking(cfg: dict, ctx: RunContext) -> Result:
    sp, a, d = SpikingParams.of(cfg), cfg["alignment"], cfg["dynamics"]
    net, models, _, model, free = calibrated_setup(cfg, ctx)
    refs = gradient_references(net, model, free.s)
    lengths = [n * d["epsilon"] * sp.rate_tau_ms for n in a["nudged_steps"]]
    runs, dw_by_beta, by_length = spiking_sweep(net, model, sp, ctx.seeds.int("brian2"), models,
                                                a["betas"], a["length_beta"], lengths)
    data, by_beta, by_len = alignment_data(refs, a["betas"], dw_by_beta, a["nudged_steps"],
                                           by_length)
    if sp.trials >= 3:
        for r in refs:
            data[f"ci_sym_vs_{r}"] = np.array([layer_intervals(
                trial_means(runs[b].dW_copies["sym"], runs[b].batch), refs[r]) for b in a["betas"]])
    summary = {"model": "spiking", "sizes": net.sizes, "free_phase_steps": free.steps,
               "by_beta": by_beta, "nudged_ms": lengths,
               "by_nudged_steps": [{"steps": n, **row}
                                   for n, row in zip(a["nudged_steps"], by_len)],
               "headline": headline_near_beta(by_beta),
               "cost": {str(b): r.cost for b, r in runs.items()}}
    if "ci_sym_vs_implicit" in data:
        summary["intervals"] = {
            "trials": sp.trials, "level": 0.95,
            "method": "jackknife t-interval over noise trials (tied rule, all weights)",
            "by_beta": [{"beta": b, "cos_vs_implicit": data["ci_sym_vs_implicit"][i, -1, 0].tolist(),
                         "nrmse_vs_implicit": data["ci_sym_vs_implicit"][i, -1, 1].tolist()}
                        for i, b in enumerate(a["betas"])]}
    return Result(data, summary)
