"""Benchmark: the STDP window in ONE Brian2 run vs one Brian2 simulation per Δt.

The one-run pattern (stdp_ebm.stdp.protocols) simulates every Δt and repeat as its own pre/post pair of
one network. The per-Δt pattern is that of Brian's own STDP examples: a loop that builds and runs a
network for each Δt (here with the same ``repeats`` pairs in it, so both do the same work). Both run
side by side in this process with a warm Cython cache: each is run once, untimed, on a short
schedule first, so compilation is excluded. Absolute wall times and the speed-up are printed
(and written as JSON with --json).

    python benchmarks/bench_stdp_window.py                 # 30 Δt, 10 repeats, 10 pairings at 1 Hz
    python benchmarks/bench_stdp_window.py --pairings 60   # the full Bi & Poo protocol (slow)
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from stdp_ebm.experiments.stdp_window import DEFAULT_GRID
from stdp_ebm.stdp.protocols import pairing, run_schedule


def one_run(grid: np.ndarray, repeats: int, pairings: int, seed: int) -> np.ndarray:
    """Every Δt and repeat in one network."""
    return run_schedule(pairing(np.repeat(grid, repeats), pairings, 1.0), seed).delta_w


def per_delta_t(grid: np.ndarray, repeats: int, pairings: int, seed: int) -> np.ndarray:
    """One network (``repeats`` pairs) per Δt, built and run in a loop."""
    return np.concatenate([run_schedule(pairing(np.full(repeats, d), pairings, 1.0), seed).delta_w
                           for d in grid])


def timed(fn, *args) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairings", type=int, default=10, help="pairings per pair (1 Hz)")
    parser.add_argument("--repeats", type=int, default=10, help="pairs per Δt")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()
    grid = np.array(DEFAULT_GRID)
    for fn in (one_run, per_delta_t):  # warm-up: compile / load every code object once
        fn(grid[:2], 1, 1, 0)
    t_one, dw_one = timed(one_run, grid, args.repeats, args.pairings, 1)
    t_loop, dw_loop = timed(per_delta_t, grid, args.repeats, args.pairings, 1)
    # same pairs, noise off: identical ΔW (up to the floating-point order of the runs)
    agree = float(np.max(np.abs(dw_one - dw_loop)) / np.max(np.abs(dw_one)))
    result = {"n_delta_t": int(grid.size), "repeats": args.repeats, "pairings": args.pairings,
              "simulated_s": pairing(grid, args.pairings, 1.0).duration, "one_run_s": t_one,
              "per_delta_t_s": t_loop, "speedup": t_loop / t_one, "max_rel_difference": agree,
              "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    print(f"STDP window, {grid.size} Δt x {args.repeats} repeats, {args.pairings} pairings at 1 Hz")
    print(f"  one Brian2 run for all Δt : {t_one:8.2f} s")
    print(f"  one Brian2 run per Δt     : {t_loop:8.2f} s")
    print(f"  speed-up                  : {t_loop / t_one:8.1f} x   (max |ΔW difference| / max|ΔW| = {agree:.1e})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
