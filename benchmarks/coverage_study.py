"""Coverage study of the STDP window fit's 95 % intervals on a known rule (pair-based STDP).

Every seed is an independent copy of the protocol (14 Δt from −60 to +60 ms, 10 repeats, 60
pairings at 5 Hz, 2 mV membrane noise); all seeds are pairs of ONE Brian2 run. Each seed is fitted
as the stdp_window experiment fits its run (cut-off 4 ms, BCa bootstrap over the repeats), and the
table gives per parameter the coverage of the truth with its Clopper–Pearson 95 % interval and the
width ratio (mean half-width / (1.96 × s.d. of the estimates across seeds)). The truth includes the
jitter factor e^(σ²/2τ²) (stdp_ebm.stdp.coverage). docs/stdp.md quotes this script's output.

    python benchmarks/coverage_study.py                 # 100 seeds in Brian2 (≈ 1 CPU-min)
    python benchmarks/coverage_study.py --synthetic     # the same without Brian2 (seconds)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stdp_ebm.stdp import coverage as wc

GRID = np.array([-60, -40, -25, -15, -10, -7, -5, 5, 7, 10, 15, 25, 40, 60.0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=4000)
    ap.add_argument("--synthetic", action="store_true",
                    help="draw the data from the known window with N(0, 0.143 ms) jitter on the "
                         "0.1 ms grid instead of simulating it")
    args = ap.parse_args()
    wall, cpu = time.perf_counter(), time.process_time()
    if args.synthetic:
        data = wc.synthetic_seeds(args.seeds, GRID, 10, 60, 0.143, (0.01, 20.0, 0.0105, 20.0),
                                  seed=1)
    else:
        data = wc.simulate_seeds(args.seeds, GRID, repeats=10, n_pairings=60, frequency_hz=5.0,
                                 noise_mV=2.0)
    sim = (time.perf_counter() - wall, time.process_time() - cpu)
    result = wc.coverage(data, exclude_ms=4.0, n_boot=args.n_boot)
    print(wc.format_table(result))
    print(f"\ndata: {sim[0]:.0f} s wall, {sim[1]:.0f} CPU-s; fits: "
          f"{time.perf_counter() - wall - sim[0]:.0f} s wall")


if __name__ == "__main__":
    main()
