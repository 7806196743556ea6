"""Benchmark: compile once, run many under ``cpp_standalone`` (:mod:`stdp_ebm.spiking.standalone`).

The 20-30-20-10 net of ``experiments/rate_vs_spike.toml`` (population wiring, membrane noise,
``--neurons`` per unit, ``--batch`` copies, every part on) is built once as a C++ program; then it
runs ``--runs`` times with new seeds and weights through ``run_args`` (all parameters changed from
those compiled in), and once more with the first seed again. Reported: the build (code generation + compilation) time, the wall time of each run
(program start, reading the changed arrays, simulation, writing results), whether the repeated seed
gives the same spikes and a new seed other spikes, and the population rate per layer next to the
same network under Brian2's Cython runtime (another random stream: agreement within the counting
error), and whether the build left Brian2's runtime device active, a second program in the same
process is refused and non-finite parameters are refused. Runs in its own process (the standalone device is process-wide). Usage::

    python benchmarks/bench_standalone_reuse.py [--neurons 20] [--batch 8] [--duration-ms 1000]
                                                [--runs 3] [--threads 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "rate_vs_spike.toml"


def _setup(n: int, batch: int):
    from stdp_ebm import runner
    from stdp_ebm.activation import HardSigmoid
    from stdp_ebm.network import NetworkParams, network_from_config
    from stdp_ebm.spiking import SpikingParams
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import load_models

    cfg = runner.resolve(CONFIG, [f"spiking.neurons_per_unit={n}", f"network.batch={batch}"])[0]
    net = network_from_config(NetworkParams.of(cfg), Seeds(cfg["seed"]).rng("network"))
    return net, HardSigmoid(), SpikingParams.of(cfg), load_models()


def _changed(net) -> tuple:
    """The parameters both targets run with, all different from those compiled in: W/2, b + 0.3,
    x/2 (so the comparison with Cython shows that run_args reach the program)."""
    return [w * 0.5 for w in net.W], [b + 0.3 for b in net.b], net.x * 0.5


def _layer_rates(sn, counts: list[np.ndarray], duration_ms: float) -> list[float]:
    """Mean rate (Hz) per LIF layer h_1 … y from the LIF group's spike counts."""
    blocks = sn.layout.layer_blocks(counts)[1:]
    return [float(c.mean() / (duration_ms * 1e-3)) for c in blocks]


def _children_cpu() -> float:
    """CPU seconds (user + system, all threads) of the finished child processes: the program."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def standalone(n: int, batch: int, duration_ms: float, runs: int, threads: int) -> dict:
    import brian2 as b2
    from brian2.devices.device import runtime_device

    from stdp_ebm.errors import DeviceError
    from stdp_ebm.spiking.standalone import StandaloneProgram

    net, rho, sp, models = _setup(n, batch)
    t0 = time.perf_counter()
    prog = StandaloneProgram(net, rho, sp, models, duration_ms,
                             tempfile.mkdtemp(prefix="stdp_ebm_standalone_"), threads)
    build_s = time.perf_counter() - t0
    restored = b2.get_device() is runtime_device
    try:
        StandaloneProgram(net, rho, sp, models, duration_ms, tempfile.mkdtemp(), threads)
        second_refused = False
    except DeviceError:
        second_refused = True
    try:
        prog.run(net.W, [b * np.nan for b in net.b], rho(net.x), seed=1)
        nan_refused = False
    except ValueError:
        nan_refused = True
    rng, walls, cpus, spikes = np.random.default_rng(0), [], [], []
    first = None
    W, b, x = _changed(net)
    for r in range(runs):
        t, c = time.perf_counter(), _children_cpu()
        counts = prog.run([w * rng.uniform(0.8, 1.2) for w in W] if r else W, b, rho(x),
                          seed=100 + r)
        walls.append(time.perf_counter() - t)
        cpus.append(_children_cpu() - c)
        spikes.append(float(counts[1].sum()))
        first = counts if r == 0 else first
    again = prog.run(W, b, rho(x), seed=100)
    other = prog.run(W, b, rho(x), seed=999)
    return {"build_s": build_s, "run_wall_s": walls, "run_cpu_s": cpus, "spikes": spikes,
            "same_seed_same_spikes": all(np.array_equal(a, b) for a, b in zip(first, again)),
            "new_seed_other_spikes": not np.array_equal(first[1], other[1]),
            "layer_rates_hz": _layer_rates(prog.sn, first, duration_ms),
            "runtime_device_restored": restored, "second_program_refused": second_refused,
            "nan_refused": nan_refused}


def cython(n: int, batch: int, duration_ms: float) -> dict:
    import brian2 as b2

    from stdp_ebm.spiking import SpikingNetwork

    net, rho, sp, models = _setup(n, batch)
    sn = SpikingNetwork(net, rho, sp, models, seed=100)
    W, b, x = _changed(net)
    sn.set_parameters(W, b)
    sn.set_input(rho(x))
    sn.network.run(10 * b2.ms)  # compile or load the code objects
    before = [np.array(m.count, dtype=float) for m in sn.counts]
    c0 = time.process_time()
    sn.network.run(duration_ms * b2.ms)
    cpu = time.process_time() - c0
    counts = [np.array(m.count, dtype=float) - b for m, b in zip(sn.counts, before)]
    return {"cpu_s": cpu, "layer_rates_hz": _layer_rates(sn, counts, duration_ms)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--neurons", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--duration-ms", type=float, default=1000.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: none)")
    p.add_argument("--json", default=None)
    p.add_argument("--worker", choices=("standalone", "cython"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        out = (standalone(a.neurons, a.batch, a.duration_ms, a.runs, a.threads)
               if a.worker == "standalone"
               else cython(a.neurons, a.batch, a.duration_ms))
        print(json.dumps(out))
        return
    rows = {}
    for worker in ("standalone", "cython"):
        cmd = [sys.executable, __file__, "--worker", worker, "--neurons", str(a.neurons),
               "--batch", str(a.batch), "--duration-ms", str(a.duration_ms), "--runs",
               str(a.runs), "--threads", str(a.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows[worker] = json.loads(done.stdout.strip().splitlines()[-1])
    s = rows["standalone"]
    rows["second_run_over_build"] = min(s["run_wall_s"][1:] or s["run_wall_s"]) / s["build_s"]
    print(json.dumps(rows, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
