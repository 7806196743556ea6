"""Seed stability and cost of the 95 % BCa intervals on Bi & Poo's points (|Δt| > 3 ms).

For each bootstrap seed the double exponential is fitted as the stdp_window experiment fits the
points: ``--n-boot`` resamples per side, drawn again until every bound's Monte Carlo error is at most
``--mc-rel`` (stdp_ebm.stdp.resampling; 0: exactly ``--n-boot``). Printed: each seed's bounds, the
resamples drawn per side and the CPU-s, then each bound's spread over the seeds (max/min − 1), the
quantity the 5 % target of docs/stdp.md is about.

    python benchmarks/data_intervals.py --data-dir ../shared/data/stdp_experiments
    python benchmarks/data_intervals.py --data-dir DIR --mc-rel 0     # fixed 200,000 resamples
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from stdp_ebm.stdp import data as stdp_data
from stdp_ebm.stdp.resampling import MC_REL_DATA
from stdp_ebm.stdp.window_fit import N_BOOT_DATA, fit_window

NAMES = ("a_plus", "tau_plus", "a_minus", "tau_minus")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what the platform module knows."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    ap.add_argument("--n-boot", type=int, default=N_BOOT_DATA)
    ap.add_argument("--mc-rel", type=float, default=MC_REL_DATA)
    args = ap.parse_args()
    pts = stdp_data.bi_poo_points(args.data_dir)
    if pts is None:
        raise SystemExit(f"no {stdp_data.BI_POO_FILE} in {args.data_dir}")
    print(f"CPU: {cpu_model()}; {args.n_boot:,} resamples first, "
          f"Monte Carlo error ≤ {args.mc_rel:.1%}")
    fits = []
    for seed in args.seeds:
        cpu = time.process_time()
        d = fit_window(pts.x, pts.y, exclude_ms=3.0, seed=seed, n_boot=args.n_boot,
                       mc_rel=args.mc_rel).as_dict()
        fits.append(d)
        print(f"seed {seed}: ok {d['ok']}, " + ", ".join(
            f"{n} [{d[n + '_ci'][0]:.4g}, {d[n + '_ci'][1]:.4g}]" for n in NAMES)
            + f"; resamples {d['n_boot_plus']:,} (LTP) {d['n_boot_minus']:,} (LTD), Monte Carlo "
              f"error {d['mc_error_plus']:.2%} / {d['mc_error_minus']:.2%}; "
              f"{time.process_time() - cpu:.1f} CPU-s", flush=True)
    for n in NAMES:
        b = np.array([f[n + "_ci"] for f in fits])
        spread = b.max(axis=0) / b.min(axis=0) - 1
        print(f"{n}: lower bound spread {spread[0]:.2%}, upper {spread[1]:.2%}")


if __name__ == "__main__":
    main()
