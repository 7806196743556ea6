"""Training speed on 784-500-10 at batch 256, side by side in one run (issue 7, item 5).

1. A relaxation step of :meth:`RateModel.settle` (the training inner loop, per step, averaged over
   a phase of ``--steps`` steps) against the step's unavoidable matrix products measured alone: the
   top-down ρ(y)W_1ᵀ and bottom-up ρ(h)W_1 products (ρ(x)W_0 is computed once per phase, outside
   the loop). Target: ≤ 1.5×. The general :meth:`RateModel.step` is timed for reference.
2. An epoch of two-phase training (batched, :class:`EPLearner`, batch 256) against a per-example
   loop of the same maths (each example relaxed alone, its ΔW computed alone, the batch's mean
   applied) over the same ``--examples`` examples. Target: ≥ 5× faster. Full-epoch (60k) times are
   extrapolated linearly.

Repeats alternate the contenders so that load changes hit both alike; medians are reported with the
load average. MNIST images are used when ../shared/data/mnist exists, uniform noise otherwise.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_training.py [--repeats 5] [--steps 100]
        [--examples 2560] [--epsilon 0.5]

(one BLAS thread: on a shared 2-core machine, threaded BLAS on these small products mostly waits.)
"""

from __future__ import annotations

import argparse
import os
import time
import tomllib
from pathlib import Path

import numpy as np

from stdp_ebm.network import random_network
from stdp_ebm.rate import RateModel
from stdp_ebm.train import EPLearner, TRAIN_SCHEMA, apply_update

REPO = Path(__file__).resolve().parent.parent
MNIST = REPO.parent / "shared" / "data" / "mnist"
BATCH = 256


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    if MNIST.is_dir():
        from stdp_ebm.data import load_mnist
        data = load_mnist(MNIST)
        return data.x_train[:n], data.y_train[:n], "MNIST"
    return rng.uniform(size=(n, 784)), np.eye(10)[rng.integers(0, 10, n)], "uniform noise"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_step(model: RateModel, x: np.ndarray, steps: int, repeats: int) -> dict[str, float]:
    """Seconds per relaxation step: settle, the general step, and the matrix products alone."""
    drive = model.input_drive(x)
    s = model.settle(model.initial_state(x), 5, drive)
    h, y, w1 = s[1], s[2], model.net.W[1]
    w1t = np.ascontiguousarray(w1.T)
    out_h, out_y = np.empty_like(h), np.empty_like(y)

    def products():
        for _ in range(steps):
            np.matmul(y, w1t, out=out_h)
            np.matmul(h, w1, out=out_y)

    def general():
        state = s
        for _ in range(steps // 10):
            state = model.step(state, 0.0, None, None, drive)

    contenders = {"matmuls": (products, steps), "settle": (lambda: model.settle(s, steps, drive),
                                                           steps),
                  "general_step": (general, steps // 10)}
    out = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, (fn, n) in contenders.items():
            out[name].append(_median_time(fn, 1) / n)
    return {k: float(np.median(v)) for k, v in out.items()}


def bench_epoch(model: RateModel, cfg: dict, x: np.ndarray, d: np.ndarray,
                repeats: int) -> dict[str, float]:
    """Seconds for one pass over (x, d): batched vs one example at a time (same updates)."""
    net0 = model.net.copy()

    def batched():
        model.net = net0.copy()
        learner = EPLearner(model, cfg, len(x))
        for i in range(0, len(x), BATCH):
            learner.update(np.arange(i, i + BATCH), x[i:i + BATCH], d[i:i + BATCH], 1.0,
                           np.random.default_rng(0))

    def per_example():
        model.net = net0.copy()
        learner = EPLearner(model, cfg, len(x))
        for i in range(0, len(x), BATCH):
            parts = [learner.delta(x[j:j + 1], d[j:j + 1], np.random.default_rng(0))
                     for j in range(i, min(i + BATCH, len(x)))]
            dW = [np.mean([p[0][k] for p in parts], axis=0) for k in range(len(net0.W))]
            db = [np.mean([p[1][k] for p in parts], axis=0) for k in range(len(net0.W))]
            apply_update(model.net, cfg["lrs"], 1.0, dW, db)

    times = {"batched": [], "per_example": []}
    for _ in range(repeats):
        times["batched"].append(_median_time(batched, 1))
        times["per_example"].append(_median_time(per_example, 1))
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--examples", type=int, default=2560)
    parser.add_argument("--config", default=str(REPO / "experiments" / "train_mnist.toml"))
    parser.add_argument("--epsilon", type=float, help="step ε (default: the config's)")
    args = parser.parse_args()
    raw = tomllib.loads(Path(args.config).read_text())
    cfg = {**{k: key.default for k, key in TRAIN_SCHEMA.items()}, **raw["train"]}
    epsilon = args.epsilon or raw["dynamics"]["epsilon"]
    rng = np.random.default_rng(0)
    x, d, source = _inputs(args.examples, rng)
    model = RateModel(random_network([784, 500, 10], rng, 1.0, 0.0, 0.0), epsilon=epsilon)
    print(f"784-500-10, batch {BATCH}, ε = {epsilon}, {source}, load average "
          f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    st = bench_step(model, x[:BATCH], args.steps, args.repeats)
    ratio = st["settle"] / st["matmuls"]
    print(f"relaxation step (settle):         {1e6 * st['settle']:8.1f} µs")
    print(f"  its matrix products alone:      {1e6 * st['matmuls']:8.1f} µs   ratio {ratio:.2f} "
          f"(target ≤ 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"  general RateModel.step:         {1e6 * st['general_step']:8.1f} µs")
    ep = bench_epoch(model, cfg, x, d, max(1, args.repeats // 2))
    speed = ep["per_example"] / ep["batched"]
    scale = 60000 / args.examples
    phases = f"{cfg['free_steps']} free + {(2 if cfg['symmetric'] else 1)}×{cfg['nudged_steps']} nudged"
    print(f"training pass over {args.examples} examples ({phases} steps):")
    print(f"  batched (batch {BATCH}):           {ep['batched']:8.2f} s  (60k epoch ≈ "
          f"{scale * ep['batched']:.0f} s)")
    print(f"  per-example loop, same maths:   {ep['per_example']:8.2f} s  (60k epoch ≈ "
          f"{scale * ep['per_example']:.0f} s)   speed-up {speed:.1f}× (target ≥ 5) "
          f"{'OK' if speed >= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
