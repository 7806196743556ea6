"""Training speed, side by side in one run (issue 7, item 5; issue 14: depth and float32).

1. A relaxation step of :meth:`RateModel.settle` (the training inner loop, per step, averaged over
   a phase of ``--steps`` steps, batch 256) against the step's unavoidable matrix products measured
   alone: for every pair of free layers the top-down ρ(s_{k+1})W_kᵀ and bottom-up ρ(s_k)W_k products
   (ρ(x)W_0 is computed once per phase, outside the loop), each by ``np.matmul`` into a preallocated
   output. Target: ≤ 1.3×. (settle adds its products to a buffer with BLAS gemm, C ← AB + C, which
   skips the zeroing of C that matmul's C = AB costs: where the products are the whole step, the
   ratio can be below 1.) One row per depth (784-500-10, 784-500-500-10, 784-500-500-500-10) and
   precision, and 784-500-10 at the training batch of 20, where the fixed cost of each call weighs
   more.
2. A training epoch as the configs run it (:func:`stdp_ebm.learning.fit`: batch 20, the config's steps,
   ±β, input dropout; then the test error on 10 000 images): 784-500-10 (train_mnist.toml) timed on
   ``--fit-examples`` training images plus a sixth as many test images and scaled to 60k + 10k,
   per precision. Target: ≤ 3.5 CPU-s per epoch at one BLAS thread. With ``--deep`` also the 2- and
   3-hidden-layer configs (minutes).
3. An epoch of two-phase training (batched, :class:`EPLearner`, batch 256) against a per-example
   loop of the same maths over the same ``--examples`` examples. Target: ≥ 5× faster.

Times are CPU seconds of this process (``time.process_time``; section 2 also gives wall seconds): with
one BLAS thread that is the benchmark's own work, whereas wall time on the shared machine also counts the
other jobs' turns. Load still slows the CPU time somewhat (shared caches), so repeats alternate the
contenders so that load changes hit both alike; medians are reported with the load average at the start
and end, and the BLAS library's kernel choice (OpenBLAS 0.3.30 takes this machine's AMD Zen 5 for a
Haswell and uses its AVX2 kernels; ``OPENBLAS_CORETYPE=SkylakeX`` selects the AVX-512 ones). MNIST images are used when ../shared/data/mnist exists, uniform noise otherwise.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_training.py [--repeats 5] [--steps 100]
        [--examples 2560] [--fit-examples 6000] [--deep]

(one BLAS thread: on a shared 2-core machine, threaded BLAS on these small products mostly waits.)
"""

from __future__ import annotations

import argparse
import os
import time
import tomllib
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from stdp_ebm.config import CONFIGS_DIR
from stdp_ebm.data import Dataset
from stdp_ebm.network import random_network
from stdp_ebm.rate import RateModel
from stdp_ebm.learning import EPLearner, TrainParams, apply_update, train_ep

REPO = Path(__file__).resolve().parent.parent
MNIST = REPO.parent / "shared" / "data" / "mnist"
BATCH = 256
TRAIN_BATCH = 20   # the MNIST configs' mini-batch
CONFIGS = {1: "train_mnist.toml", 2: "train_mnist_2h.toml", 3: "train_mnist_3h.toml"}
DTYPES = ("float64", "float32")


def _inputs(n: int, n_test: int, rng: np.random.Generator) -> tuple[Dataset, str]:
    if MNIST.is_dir():
        from stdp_ebm.data import load_mnist
        return load_mnist(MNIST).subset(n, n_test), "MNIST"
    x, xt = rng.uniform(size=(n, 784)), rng.uniform(size=(n_test, 784))
    labels = np.eye(10)[rng.integers(0, 10, n + n_test)]
    return Dataset("uniform noise", x, labels[:n], xt, labels[n:]), "uniform noise"


def _median_time(fn, repeats: int) -> float:
    """Median CPU seconds of the process (one BLAS thread: the work of ``fn`` alone; wall time on
    the shared machine also counts the other jobs' turns)."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def bench_step(model: RateModel, x: np.ndarray, steps: int, repeats: int) -> dict[str, float]:
    """Seconds per relaxation step: settle, the general step, and the matrix products alone."""
    drive = model.input_drive(x)
    s = model.settle(model.initial_state(x), 5, drive)
    pairs = []                                   # (state, weights, output) of every product
    for k, w in enumerate(model.net.W[1:], start=1):
        pairs.append((s[k + 1], np.ascontiguousarray(w.T), np.empty_like(s[k])))
        pairs.append((s[k], w, np.empty_like(s[k + 1])))

    def products():
        for _ in range(steps):
            for a, w, out in pairs:
                np.matmul(a, w, out=out)

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


def _config(hidden: int) -> tuple[list[int], TrainParams, float]:
    raw = tomllib.loads((CONFIGS_DIR / CONFIGS[hidden]).read_text())
    train = {k: v for k, v in raw["train"].items() if k != "baseline"}  # the experiment's own key
    cfg = TrainParams.from_mapping({**train, "epochs": 1})
    return raw["network"]["sizes"], cfg, raw["dynamics"]["epsilon"]


def bench_fit(hidden: int, data: Dataset, repeats: int) -> dict[str, float]:
    """Seconds per 60k + 10k epoch of :func:`fit` with the config of ``hidden`` layers, per precision
    (wall clock, and ``cpu_<dtype>`` the process's CPU time: on a shared machine the better guide
    to the idle wall time at one thread), scaled from ``data`` (training and test images)."""
    sizes, cfg, epsilon = _config(hidden)
    scale = 60000 / len(data.x_train)
    assert abs(10000 / len(data.x_test) - scale) < 1e-9, "test set must be a sixth of the train set"
    net0 = random_network(sizes, np.random.default_rng(0), 1.0, 0.0, 0.0)
    times = {f"{kind}{dt}": [] for dt in DTYPES for kind in ("", "cpu_")}
    for _ in range(repeats):
        for dt in DTYPES:
            model = RateModel(net0.astype(dt), epsilon=epsilon)
            d = data.astype(dt)
            t0, c0 = time.perf_counter(), time.process_time()
            train_ep(model, d, cfg, np.random.default_rng(0))
            times[dt].append((time.perf_counter() - t0) * scale)
            times[f"cpu_{dt}"].append((time.process_time() - c0) * scale)
    return {k: float(np.median(v)) for k, v in times.items()}


def bench_epoch(model: RateModel, cfg: TrainParams, x: np.ndarray, d: np.ndarray,
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
            apply_update(model.net, cfg.lrs, 1.0, dW, db)

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
    parser.add_argument("--fit-examples", type=int, default=6000)
    parser.add_argument("--deep", action="store_true", help="also time the 2- and 3-hidden epochs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = max(args.examples, args.fit_examples)
    data, source = _inputs(n, args.fit_examples // 6, rng)
    blas = next((i for i in threadpool_info() if i["user_api"] == "blas"), {})
    print(f"{source}, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')} BLAS thread(s), "
          f"{blas.get('internal_api', '?')} {blas.get('version', '')} kernels for "
          f"{blas.get('architecture', '?')}")
    print(f"1. relaxation step, batch {BATCH} (target: settle ≤ 1.3× its matrix products) and, for "
          f"784-500-10, the training batch of {TRAIN_BATCH}")
    for hidden, batch in [(h, BATCH) for h in CONFIGS] + [(1, TRAIN_BATCH)]:
        sizes, _, epsilon = _config(hidden)
        net = random_network(sizes, np.random.default_rng(0), 1.0, 0.0, 0.0)
        for dt in DTYPES:
            model = RateModel(net.astype(dt), epsilon=epsilon)
            steps = args.steps * (BATCH // batch)        # phases of similar duration
            st = bench_step(model, data.x_train[:batch].astype(dt), steps, args.repeats)
            ratio = st["settle"] / st["matmuls"]
            print(f"  {'-'.join(map(str, sizes)):>20} {dt} batch {batch:3d}: settle "
                  f"{1e6 * st['settle']:8.1f} µs, products {1e6 * st['matmuls']:8.1f} µs, ratio "
                  f"{ratio:.2f} {'OK' if ratio <= 1.3 else 'MISSED'}; general step "
                  f"{1e6 * st['general_step']:8.1f} µs")
    print(f"2. training epoch as configured (60k train + 10k test, scaled from "
          f"{args.fit_examples} + {args.fit_examples // 6}; target 784-500-10 ≤ 3.5 CPU-s)")
    fit_data = data.subset(args.fit_examples, args.fit_examples // 6)
    for hidden in (1, 2, 3) if args.deep else (1,):
        sizes = _config(hidden)[0]
        t = bench_fit(hidden, fit_data, max(1, args.repeats // 2) if hidden == 1 else 1)
        mark = (" OK" if t["cpu_float32"] <= 3.5 else " MISSED") if hidden == 1 else ""
        print(f"  {'-'.join(map(str, sizes)):>20} ({CONFIGS[hidden]}): float64 {t['float64']:7.1f} s "
              f"({t['cpu_float64']:.1f} CPU-s), float32 {t['float32']:7.1f} s "
              f"({t['cpu_float32']:.1f} CPU-s){mark}")
    sizes, cfg, epsilon = _config(1)
    model = RateModel(random_network(sizes, rng, 1.0, 0.0, 0.0), epsilon=epsilon)
    ep = bench_epoch(model, cfg, data.x_train[:args.examples], data.y_train[:args.examples],
                     max(1, args.repeats // 2))
    speed = ep["per_example"] / ep["batched"]
    phases = f"{cfg.free_steps} free + {(2 if cfg.symmetric else 1)}×{cfg.nudged_steps} nudged"
    print(f"3. training pass over {args.examples} examples, 784-500-10 float64 ({phases} steps):")
    print(f"  batched (batch {BATCH}): {ep['batched']:8.2f} s; per-example loop, same maths: "
          f"{ep['per_example']:8.2f} s; speed-up {speed:.1f}× (target ≥ 5) "
          f"{'OK' if speed >= 5 else 'MISSED'}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
