"""Benchmark: wall time per training example of the spiking learner split over worker processes.

The learner of ``experiments/train_spiking.toml`` (or ``--config``) with ``[learner] workers`` =
each of ``--workers`` (1: one process, the default learner; P > 1:
:class:`~stdp_ebm.spiking.pool.ParallelSpikingLearner`), on the first training mini-batches of
its task: one untimed mini-batch (compilation, worker start), then ``--batches`` timed ones. Wall
seconds, since the work is spread over processes: run it on cores nothing else uses. Usage::

    python benchmarks/bench_spiking_workers.py --workers 1 2 [--batches 5] [--set key=value]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "train_spiking.toml"


def per_example(config: str, overrides: list[str], workers: int, batches: int) -> float:
    """Median wall seconds per example of one mini-batch's free and ±β phases and ΔW."""
    import numpy as np

    from stdp_ebm.experiments import RunContext
    from stdp_ebm.experiments.train_spiking import build, load_task
    from stdp_ebm.runner import resolve
    from stdp_ebm.seeds import Seeds

    cfg = resolve(Path(config), overrides + [f"learner.workers={workers}"])[0]
    ctx = RunContext(Seeds(cfg["seed"]))
    bs = cfg["train"]["batch_size"]
    data = load_task(cfg["task"], ctx.seeds.rng("data"), bs, cfg["data"]["dir"])
    spk = build(cfg, ctx, data)[3]
    try:
        times = []
        for i in range(batches + 1):
            rows = slice(i * bs, (i + 1) * bs)
            t0 = time.perf_counter()
            spk.delta(data.x_train[rows], data.y_train[rows])
            times.append((time.perf_counter() - t0) / bs)
    finally:
        spk.close()
    return float(np.median(times[1:]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    rows = {}
    for w in a.workers:
        rows[w] = per_example(a.config, a.overrides, w, a.batches)
        print(f"workers {w}: {1e3 * rows[w]:.1f} ms wall per example "
              f"({rows[min(rows)] / rows[w]:.2f}× the speed with {min(rows)})", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
