"""Sweep wall time with 1 vs 2 local workers, side by side (issue 5: 2 workers ≤ 0.65× of 1).

Eight rate-model alignment points (the standard 20-30-20-10 network, batch 64, the phase-length
sweep extended to 5000 steps: ~1.7 s of work each on an idle core, small arrays, so the two workers
compete little for memory bandwidth) run as
``stdp-ebm run CONFIG --workers N --quiet``, the whole command timed (pool start-up, imports,
aggregation and the summary figure included). The runs alternate 1, 2, 1, 2, … so that a change of
machine load hits both alike; the best of the repeats is reported for each, with the load average.
The two sweeps must give the same table (wall times aside).

Control: the same ratio for two pure-Python CPU burners (serial vs two processes), measured right
before. On a shared machine whose cores are busy the control shows how much parallelism the
machine had to give, which separates the sweep engine's overhead from CPU contention.

    python benchmarks/bench_sweep.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIG = """
experiment = "alignment"
seed = 2017
description = "bench_sweep: 8 independent rate-model points of ~1.7 s each"
[network]
batch = 64
[alignment]
nudged_steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
[sweep]
seeds = 8
"""

def run(config: Path, out: Path, workers: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stdp_ebm.cli", "run", str(config), "--out", str(out),
                    "--workers", str(workers), "--quiet"], check=True)
    return time.perf_counter() - t0


def burn(n: int) -> float:
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - t0


def control_ratio(n: int = 10_000_000) -> float:
    """Wall time of two CPU-bound tasks in two processes / in one, after process start-up."""
    from concurrent.futures import ProcessPoolExecutor

    serial = burn(n) + burn(n)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(burn, [1, 1]))  # start both workers first
        t0 = time.perf_counter()
        list(pool.map(burn, [n, n]))
        return (time.perf_counter() - t0) / serial


def table(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "table.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    control = control_ratio()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "bench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.repeats):
            for workers in (1, 2):
                times[workers].append(run(config, tmp / f"w{workers}-{r}", workers))
        point_s = {w: float(np.median(table(tmp / f"w{w}-0")["wall_s"])) for w in (1, 2)}
        same = all(np.array_equal(a, b) for name, a in table(tmp / "w1-0").items()
                   for b in [table(tmp / "w2-0")[name]] if name != "wall_s")
    best = {w: min(t) for w, t in times.items()}
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"8 points, median wall time of one point: {point_s[1]:.2f} s with 1 worker, "
          f"{point_s[2]:.2f} s with 2 (equal on two free cores)\n")
    print("| workers | wall time per run (s)        | best (s) |")
    print("|---------|------------------------------|----------|")
    for w, t in times.items():
        print(f"| {w}       | {', '.join(f'{x:.2f}' for x in t):28s} | {best[w]:8.2f} |")
    print(f"\n2 workers / 1 worker (best of {args.repeats}): {best[2] / best[1]:.3f} "
          f"(target <= 0.65); identical tables: {same}")
    print(f"control, two CPU burners in 2 processes / in 1: {control:.3f} (1.0: no free core, "
          f"0.5: two free cores)")


if __name__ == "__main__":
    main()
