"""Benchmark: the spiking network's cost by transmission wiring and Brian2 target.

The network is the one of ``experiments/rate_vs_spike.toml`` (20-30-20-10, its [spiking] defaults,
``--batch`` copies, default 1) at n neurons per unit. Each row is 1 s of simulated time with every
part switched on (Poisson input, LIF groups with membrane noise, transmission, population-rate
filters, the Eq 26 rule synapses accumulating), in a fresh subprocess (the standalone device is
process-global):

* ``cython``: Brian2's runtime target; one untimed 10 ms run first compiles (or loads from the
  cache) every code object, then ``network.run(1 s)`` is timed (wall and process CPU time);
* ``cpp_standalone``: the same network built into a C++ program; ``run`` is the program's own
  timing of the simulation (single-threaded: its CPU time equals its wall time), ``compile`` the
  code generation and compilation before it.

Columns: wall and CPU seconds, synaptic events (Σ spikes × out-degree of the transmission
synapses), events/s, neuron updates/s (LIF neurons × time steps / wall s) and the number of
transmission synapses. The ratio rows compare the neuron wiring's CPU time with the population
wiring's at each n (issue: ≥ 5× at n = 20, ≥ 20× at n = 100). Usage::

    python benchmarks/bench_spiking.py [--neurons 20 100] [--batch 1] [--targets cython cpp_standalone]
                                       [--json out.json]
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
SIMULATED_S = 1.0


def _network(n: int, batch: int, transmission: str):
    """The benchmark's network, with the hard sigmoid for ρ (the input rates; no calibration)."""
    from stdp_ebm import runner
    from stdp_ebm.activation import HardSigmoid
    from stdp_ebm.network import network_from_config
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.network import NetworkParams
    from stdp_ebm.spiking import SpikingParams, load_models

    cfg, _ = runner.resolve(CONFIG, [f"spiking.neurons_per_unit={n}", "spiking.trials=1",
                                     f"network.batch={batch}",
                                     f"spiking.transmission={transmission}"])
    seeds = Seeds(cfg["seed"])
    net = network_from_config(NetworkParams.of(cfg), seeds.rng("network"))
    return SpikingParams.of(cfg), net, HardSigmoid(), load_models(), seeds.int("brian2")


def worker(n: int, batch: int, transmission: str, target: str) -> dict:
    """One row: build, (warm up), run 1 s, report (runs in its own process)."""
    import brian2 as b2

    from stdp_ebm.spiking import SpikingNetwork

    sp, net, rho, models, seed = _network(n, batch, transmission)
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", build_on_run=False)
    sn = SpikingNetwork(net, rho, sp, models, seed)
    sn.set_teaching(sp.beta * (net.target - 0.5))
    sn.rules.active = True
    if target == "cython":
        sn.network.run(10 * b2.ms)  # compile or load every code object
        before = [np.array(m.count, dtype=float) for m in sn.counts]
        w0, c0 = time.perf_counter(), time.process_time()
        sn.network.run(SIMULATED_S * b2.second)
        wall, cpu, compile_s = time.perf_counter() - w0, time.process_time() - c0, 0.0
        counts = [np.array(m.count, dtype=float) - b for m, b in zip(sn.counts, before)]
    else:
        sn.network.run(SIMULATED_S * b2.second)
        t0 = time.perf_counter()
        b2.get_device().build(directory=tempfile.mkdtemp(prefix="stdp_ebm_bench_"), compile=True,
                              run=True)
        wall = cpu = b2.get_device()._last_run_time
        compile_s = time.perf_counter() - t0 - wall
        counts = [np.array(m.count, dtype=float) for m in sn.counts]
    steps = SIMULATED_S / float(b2.defaultclock.dt)
    events = sn.synaptic_events(counts)
    return {"n": n, "transmission": transmission, "target": target, "wall_s": wall, "cpu_s": cpu,
            "compile_s": compile_s, "synaptic_events": events, "events_per_s": events / wall,
            "neuron_updates_per_s": sn.layout.n_neurons * steps / wall,
            "spikes": float(sum(c.sum() for c in counts)),
            "synapses": int(sum(len(s) for s, _, _ in sn.conns)),
            "neurons": sn.layout.n_neurons + sn.layout.n_inputs}


def _row(n: int, batch: int, transmission: str, target: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", str(n), str(batch), transmission,
                          target], capture_output=True, text=True, cwd=REPO)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode == 0 and lines:
        return json.loads(lines[-1])
    return {"n": n, "transmission": transmission, "target": target,
            "error": (out.stderr.strip().splitlines() or ["no output"])[-1]}


def _print(rows: list[dict], batch: int) -> None:
    print(f"20-30-20-10 net (experiments/rate_vs_spike.toml), batch {batch}, {SIMULATED_S:g} s "
          "simulated")
    print(f"{'n':>4s} {'wiring':>10s} {'target':>14s} {'wall s':>7s} {'CPU s':>7s} "
          f"{'compile s':>9s} {'synapses':>10s} {'events':>9s} {'events/s':>9s} {'updates/s':>9s}")
    for r in rows:
        if "error" in r:
            print(f"{r['n']:4d} {r['transmission']:>10s} {r['target']:>14s} failed: {r['error']}")
            continue
        print(f"{r['n']:4d} {r['transmission']:>10s} {r['target']:>14s} {r['wall_s']:7.2f} "
              f"{r['cpu_s']:7.2f} {r['compile_s']:9.1f} {r['synapses']:10.3g} "
              f"{r['synaptic_events']:9.3g} {r['events_per_s']:9.3g} "
              f"{r['neuron_updates_per_s']:9.3g}")
    for n in sorted({r["n"] for r in rows}):
        for target in sorted({r["target"] for r in rows}):
            pair = {r["transmission"]: r for r in rows
                    if r["n"] == n and r["target"] == target and "error" not in r}
            if len(pair) == 2:
                print(f"n = {n}, {target}: neuron / population CPU time = "
                      f"{pair['neuron']['cpu_s'] / pair['population']['cpu_s']:.1f}x")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--targets", nargs="+", default=["cython", "cpp_standalone"],
                        choices=["cython", "cpp_standalone"])
    parser.add_argument("--wirings", nargs="+", default=["population", "neuron"],
                        choices=["population", "neuron"])
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        n, batch, transmission, target = args.worker
        print(json.dumps(worker(int(n), int(batch), transmission, target)))
        return []
    rows = [_row(n, args.batch, w, t) for n in args.neurons for t in args.targets
            for w in args.wirings]
    _print(rows, args.batch)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
