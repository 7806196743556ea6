"""Benchmark: the standard spiking alignment run, Brian2 Cython runtime vs cpp_standalone.

The network is the one of ``experiments/rate_vs_spike.toml`` (20-30-20-10, batch 8, the [spiking]
defaults there: n neurons per unit, 1 trial). Two measurements:

1. ``simulate`` as the experiments use it (free phase, checkpoint, +β and −β nudged phases with
   common random numbers; Cython runtime, warm cache: one untimed warm-up run first);
2. the same network and schedule without the checkpoint (free phase, then one nudged phase of twice
   the length, so the simulated time is equal), once with the Cython runtime and once under
   ``cpp_standalone`` (a subprocess: the device is global). Standalone cannot read values between
   runs, so the teaching current is fixed at β(d − 0.5) instead of being measured from the free
   phase; the work per time step is the same.

Synaptic events = Σ spikes × out-degree over the transmission synapses. Usage::

    python benchmarks/bench_spiking.py [--neurons-per-unit 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "rate_vs_spike.toml"


def _setup(n: int):
    from stdp_ebm import runner
    from stdp_ebm.calibration import calibrate
    from stdp_ebm.network import network_from_config
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import load_models

    cfg, _ = runner.resolve(CONFIG, [f"spiking.neurons_per_unit={n}", "spiking.trials=1"])
    seeds = Seeds(cfg["seed"])
    net = network_from_config(cfg, seeds.rng("network"))
    models = load_models()
    rho = calibrate(cfg, models, seeds.int("calibration")).tabulate()
    return cfg, net, rho, models, seeds.int("brian2")


def _fixed_schedule(cfg, net, rho, models, seed) -> dict:
    """Free phase + one nudged phase (2 × nudged_ms), reading nothing in between."""
    import brian2 as b2

    from stdp_ebm.spiking import SpikingNetwork

    sp = cfg["spiking"]
    t0 = time.perf_counter()
    sn = SpikingNetwork(net, rho, sp, models, seed)
    sn.network.run((sp["settle_ms"] + sp["free_ms"]) * b2.ms)
    sn.set_teaching(sp["beta"] * (net.target - 0.5))
    sn.rules.active = True
    sn.network.run(2 * sp["nudged_ms"] * b2.ms)
    if b2.get_device().__class__.__name__ == "CPPStandaloneDevice":
        t_build = time.perf_counter()
        b2.get_device().build(directory=tempfile.mkdtemp(prefix="stdp_ebm_standalone_"),
                              compile=True, run=True)
        run_s = b2.get_device()._last_run_time
        compile_s = time.perf_counter() - t_build - run_s
    else:
        run_s, compile_s = time.perf_counter() - t0, 0.0
    counts = [np.array(m.count, dtype=float) for m in sn.counts]
    simulated = sp["settle_ms"] + sp["free_ms"] + 2 * sp["nudged_ms"]
    return {"wall_s": run_s, "compile_s": compile_s, "simulated_ms": simulated,
            "spikes": float(sum(c.sum() for c in counts)),
            "synaptic_events": sn.synaptic_events(counts),
            "neurons": len(sn.neurons) + len(sn.source)}


def _rate(row: dict) -> dict:
    return {**row, "events_per_s": row["synaptic_events"] / row["wall_s"]}


def standalone_worker(n: int) -> None:
    """Run the fixed schedule under cpp_standalone and print its numbers as JSON (subprocess)."""
    import brian2 as b2

    cfg, net, rho, models, seed = _setup(n)
    b2.set_device("cpp_standalone", build_on_run=False)
    cfg["spiking"] = {**cfg["spiking"], "codegen": "cython"}
    print(json.dumps(_rate(_fixed_schedule(cfg, net, rho, models, seed))))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons-per-unit", type=int, default=20)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--standalone-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.standalone_worker:
        standalone_worker(args.neurons_per_unit)
        return {}
    from stdp_ebm.spiking import simulate

    cfg, net, rho, models, seed = _setup(args.neurons_per_unit)
    simulate(net, rho, cfg["spiking"], seed, models)  # warm the Cython cache
    run = simulate(net, rho, cfg["spiking"], seed, models)
    rows = {"simulate (cython, checkpoint, ±β)": _rate({k: run.cost[k] for k in (
        "wall_s", "simulated_ms", "spikes", "synaptic_events", "neurons")}),
        "fixed schedule (cython)": _rate(_fixed_schedule(cfg, net, rho, models, seed))}
    out = subprocess.run([sys.executable, __file__, "--standalone-worker",
                          "--neurons-per-unit", str(args.neurons_per_unit)],
                         capture_output=True, text=True, cwd=REPO)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode == 0 and lines:
        rows["fixed schedule (cpp_standalone)"] = json.loads(lines[-1])
    else:
        rows["fixed schedule (cpp_standalone)"] = {"error": out.stderr.strip().splitlines()[-1:]}
    print(f"standard spiking alignment net {net.sizes}, batch {len(net.x)}, "
          f"{args.neurons_per_unit} neurons/unit, {rows['fixed schedule (cython)']['neurons']} "
          "neurons")
    print(f"{'run':40s} {'wall s':>8s} {'compile s':>9s} {'sim ms':>7s} {'events':>10s} "
          f"{'events/s':>10s}")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:40s} failed: {r['error']}")
            continue
        print(f"{name:40s} {r['wall_s']:8.2f} {r.get('compile_s', 0):9.1f} "
              f"{r['simulated_ms']:7.0f} {r['synaptic_events']:10.3g} {r['events_per_s']:10.3g}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
