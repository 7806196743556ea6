"""cos of the Brian2 rule synapses' ΔW with the implicit gradient at a training checkpoint.

Loads ``W_k``/``b_k`` of a ``train_spiking`` checkpoint (``checkpoints/spk.npz`` in a run directory,
finished or not), builds the spiking learner of ``--config`` with the ``--set`` overrides (e.g.
more neurons per unit) and compares its ΔW on the first ``--batches`` training mini-batches with
−∂C/∂W of the calibrated rate model at the same weights (implicit differentiation of the free fixed point).
Shows whether the spiking estimate's noise floor limits late training: besides the cos it prints,
per layer, the size of the signal ‖∂C/∂W‖ and of the estimate's error ‖ΔW − (−∂C/∂W)‖ (means over
the mini-batches). ``initial`` instead of a checkpoint takes the config's initial network. Usage::

    python benchmarks/spiking_alignment_at_checkpoint.py RUN_DIR/checkpoints/spk.npz \\
        --set spiking.neurons_per_unit=40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--config", default=str(REPO / "experiments" / "train_spiking.toml"))
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--batches", type=int, default=6)
    a = p.parse_args()

    from stdp_ebm.analysis import layer_alignment
    from stdp_ebm.experiments import RunContext
    from stdp_ebm.experiments.train_spiking import (build, first_batch_gradient, load_task,
                                                    rate_train_cfg)
    from stdp_ebm.network import Network
    from stdp_ebm.rate import DynamicsParams, model_from_config
    from stdp_ebm.runner import resolve
    from stdp_ebm.seeds import Seeds

    cfg = resolve(a.config, a.overrides)[0]
    ctx = RunContext(Seeds(cfg["seed"]))
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], ctx.seeds.rng("data"), t.batch_size, cfg["data"]["dir"])
    net0, _, model0, spk = build(cfg, ctx, data)
    layers = len(cfg["network"]["sizes"]) - 1
    if a.checkpoint == "initial":
        W, b = [w.copy() for w in net0.W], [x.copy() for x in net0.b]
    else:
        with np.load(a.checkpoint) as f:
            W, b = [f[f"W_{k}"] for k in range(layers)], [f[f"b_{k}"] for k in range(layers + 1)]
    spk.net = Network([w.copy() for w in W], [x.copy() for x in b])
    model = model_from_config(Network(W, b), DynamicsParams.of(cfg), rho=model0.rho)
    bs, cos, ratio, signal, error = t.batch_size, [], [], [], []
    c0 = time.process_time()
    for i in range(a.batches):
        x, d = data.x_train[i * bs:(i + 1) * bs], data.y_train[i * bs:(i + 1) * bs]
        dW, ref = spk.delta(x, d)[0], first_batch_gradient(model, x, d, DynamicsParams.of(cfg))
        al = layer_alignment(dW, ref)
        cos.append(al["cos"])
        ratio.append(al["norm_ratio"])
        signal.append([np.linalg.norm(r) for r in ref])
        error.append([np.linalg.norm(u - r) for u, r in zip(dW, ref)])
    mean, low = np.round(np.mean(cos, axis=0), 3).tolist(), np.round(np.min(cos, 0), 2).tolist()
    print(f"{a.checkpoint} {a.overrides}: cos per W_k, mean over {a.batches} mini-batches {mean} "
          f"(min {low}), norm ratio {np.round(np.mean(ratio, axis=0), 2).tolist()}, "
          f"|dC/dW| {np.round(np.mean(signal, axis=0), 4).tolist()}, "
          f"|dW - (-dC/dW)| {np.round(np.mean(error, axis=0), 4).tolist()}, "
          f"{(time.process_time() - c0) / a.batches:.2f} s CPU per mini-batch")


if __name__ == "__main__":
    main()
