"""Membrane noise vs Poisson background: the statistical error of one trial's tied Brian2 ΔW.

The network, calibration and reference of ``experiments/rate_vs_spike.toml`` (n = 40) with ``--trials``
noise repeats (default 4) under each noise source: per W_k, the trial-to-trial s.d. of ΔW relative to
‖−∂C/∂W_k‖ (the implicit gradient of each source's own calibrated rate model), and the cosine of the
trial-averaged ΔW with it. Usage::

    python benchmarks/noise_sources.py [--trials 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "rate_vs_spike.toml"


def measure(source: str, trials: int) -> dict:
    from stdp_ebm import runner
    from stdp_ebm.analysis import layer_alignment
    from stdp_ebm.experiments import RunContext
    from stdp_ebm.experiments._common import calibrated_setup
    from stdp_ebm.references import implicit_neg_grad
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import SpikingParams, simulate

    cfg, _ = runner.resolve(CONFIG, [f"spiking.noise_source={source}", f"spiking.trials={trials}"])
    ctx = RunContext(seeds=Seeds(cfg["seed"]))
    net, models, _, model, free = calibrated_setup(cfg, ctx)
    ref = implicit_neg_grad(net, model.rho, free.s, net.target, model.projected, model.energy_form)
    run = simulate(net, model.rho, SpikingParams.of(cfg), ctx.seeds.int("brian2"), models,
                   energy=model.energy_form)
    dw = run.delta_w("sym")
    return {"trial_sd_over_ref": [float(np.linalg.norm(s) / np.linalg.norm(r))
                                  for s, r in zip(run.trial_sd("sym"), ref)],
            "cos": layer_alignment(dw, ref)["cos"],
            "wall_s": run.cost["wall_s"]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args(argv)
    rows = {source: measure(source, args.trials) for source in ("membrane", "poisson")}
    print(f"n = 40, {args.trials} trials: one trial's s.d. of ΔW / ‖∂C/∂W‖, and cos of the mean")
    for source, r in rows.items():
        print(f"{source:9s} s.d./ref " + " ".join(f"{v:6.3f}" for v in r["trial_sd_over_ref"])
              + "   cos " + " ".join(f"{v:6.3f}" for v in r["cos"]))
    return rows


if __name__ == "__main__":
    main()
