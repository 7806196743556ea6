"""Benchmark: cost per training example of the Brian2 rule-synapse learner, and where it goes.

One :class:`~stdp_ebm.spiking.learner.SpikingLearner` mini-batch (free phase, ±β nudged phases,
ΔW) on random inputs, with the ``[spiking]`` and ``[learner]`` settings of
``experiments/train_spiking.toml`` unless overridden; one untimed warm-up batch (compilation),
then ``--batches`` timed ones. CPU seconds (``time.process_time``: the machine is shared, so wall
time depends on the load) and wall seconds per batch and per example; Brian2's profile summed over
all runs of the timed batches, in CPU seconds (its clock is pointed at ``time.process_time``),
grouped into neuron updates, synaptic events, rule (rate filters and rule synapses), monitors, and
the rest (Python and Brian2 between and around the code objects).

``--standalone DIR`` adds a second arm in the same run: the same mini-batch as one run of the
compiled episode (:class:`~stdp_ebm.spiking.episode_program.EpisodeProgram`, built in ``DIR``),
CPU seconds of this process plus the program's (``RUSAGE_CHILDREN``) per run; its build is timed
apart (cold: ``DIR`` new or empty; warm: ``DIR`` holds an earlier build of the same program, and
only the unchanged files are skipped); ``--teach-every-step`` builds it with its teaching current
summed every step instead of once per phase (same results, more CPU). Usage::

    python benchmarks/bench_spiking_learning.py --sizes 64 50 10            # the digits task
    python benchmarks/bench_spiking_learning.py --sizes 784 100 10 --input current
    python benchmarks/bench_spiking_learning.py --set spiking.dt_ms=0.1 --set learner.rule_dt_ms=0
    python benchmarks/bench_spiking_learning.py --sizes 784 100 10 --standalone /tmp/episode_784
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "train_spiking.toml"
GROUPS = (("rule", ("rule", "population_rates", "count_")),
          ("synaptic events", ("transmission",)),
          ("monitors", ("spikemonitor", "statemonitor")),
          ("input spikes", ("input",)),
          ("neuron updates", ("neurons", "currents")))


def group_of(name: str) -> str:
    for group, prefixes in GROUPS:
        if any(name.startswith(p) for p in prefixes):
            return group
    return "other code objects"


def cpu_clock() -> None:
    """Make Brian2's profiler (``time.time()`` in ``brian2.core.network``) read CPU time."""
    import brian2.core.network as bnet

    class Clock:
        def __getattr__(self, name):
            return getattr(time, name)

        time = staticmethod(time.process_time)

    bnet.time = Clock()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 50, 10])
    p.add_argument("--input", choices=("poisson", "current"), default=None)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--json", default=None)
    p.add_argument("--standalone", default=None, metavar="DIR",
                   help="also time the compiled episode, built in DIR")
    p.add_argument("--teach-every-step", action="store_true",
                   help="the compiled episode sums its teaching current every step (a comparison)")
    a = p.parse_args()

    from stdp_ebm.spiking.calibration import CalibrationParams, calibrate
    from stdp_ebm.energy import HOPFIELD
    from stdp_ebm.network import random_network
    from stdp_ebm.runner import resolve
    from stdp_ebm.spiking import SpikingParams, load_models
    from stdp_ebm.spiking.learner import SpikingLearner

    cfg = resolve(CONFIG, a.overrides + ["calibration.points=11",
                                         "calibration.duration_ms=200.0"])[0]
    sp, lr, bs = SpikingParams.of(cfg), cfg["learner"], cfg["train"]["batch_size"]
    mode = a.input or lr["input"]
    models = load_models()
    rho = calibrate(sp, CalibrationParams.of(cfg), models, 1).tabulate()
    rng = np.random.default_rng(0)
    net = random_network(a.sizes, rng, cfg["network"]["init_scale"], 0.0, 0.0)
    t0 = time.perf_counter()
    learner = SpikingLearner(net, rho, sp, models, 1, bs, [0.1] * (len(a.sizes) - 1), HOPFIELD,
                             mode, lr["rule_dt_ms"])
    build_s = time.perf_counter() - t0
    x = rng.uniform(0, 1, (bs, a.sizes[0]))
    d = np.eye(a.sizes[-1])[rng.integers(0, a.sizes[-1], bs)]
    learner.delta(x, d)  # warm-up: compiles the code objects

    network, profile = learner.sn.network, defaultdict(float)
    original = network.run

    def profiled_run(duration, **kwargs):
        original(duration, profile=True, **kwargs)
        for name, t in network.profiling_info:
            profile[name] += float(t)

    network.run = profiled_run
    cpu_clock()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(a.batches):
        learner.delta(x, d)
    cpu, wall = (time.process_time() - c0) / a.batches, (time.perf_counter() - w0) / a.batches
    groups: dict[str, float] = defaultdict(float)
    for name, t in profile.items():
        groups[group_of(name)] += t / a.batches
    groups["Python and Brian2 around the code objects"] = cpu - sum(groups.values())
    sim_ms = sp.settle_ms + sp.free_ms + 2 * sp.nudged_ms
    out = {"sizes": a.sizes, "input": mode, "batch": bs, "n": sp.neurons_per_unit,
           "dt_ms": sp.dt_ms, "rule_dt_ms": lr["rule_dt_ms"], "simulated_ms": sim_ms,
           "lif_neurons": len(learner.sn.neurons), "rule_synapses": len(learner.sn.rules),
           "build_s": build_s, "cpu_s_per_batch": cpu, "wall_s_per_batch": wall,
           "cpu_ms_per_example": 1e3 * cpu / bs,
           "cpu_us_per_step": 1e6 * cpu / (sim_ms / sp.dt_ms),
           "cpu_fraction": {k: v / cpu for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}}
    if a.standalone:
        out["standalone"] = standalone_arm(a, net, rho, sp, models, bs, mode, lr["rule_dt_ms"],
                                           x, d)
        out["cpu_ratio_cython_over_standalone"] = \
            out["cpu_ms_per_example"] / out["standalone"]["cpu_ms_per_example"]
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: the compiled programs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def standalone_arm(a, net, rho, sp, models, bs, mode, rule_dt_ms, x, d) -> dict:
    """The same mini-batch as one run of the compiled episode: its build (wall and CPU, this
    process and the compiler) and, after one untimed run, CPU per run over ``--batches`` runs."""
    from stdp_ebm.energy import HOPFIELD
    from stdp_ebm.spiking.episode_program import EpisodeProgram

    directory = Path(a.standalone)
    warm = directory.is_dir() and any(directory.iterdir())
    c0, k0, w0 = time.process_time(), children_cpu(), time.perf_counter()
    prog = EpisodeProgram(net, rho, sp, models, bs, HOPFIELD, directory, mode, rule_dt_ms,
                          teach_every_step=a.teach_every_step)
    build = {"teach_every_step": a.teach_every_step, "build": "warm" if warm else "cold", "build_wall_s": time.perf_counter() - w0,
             "build_cpu_s": time.process_time() - c0 + children_cpu() - k0}
    result = prog.delta(net.W, net.b, x, d, seed=1)  # untimed: the first start of the program
    c0, k0, w0 = time.process_time(), children_cpu(), time.perf_counter()
    for r in range(a.batches):
        result = prog.delta(net.W, net.b, x, d, seed=2 + r, state=result.state)
    cpu = (time.process_time() - c0 + children_cpu() - k0) / a.batches
    return {**build, "cpu_s_per_batch": cpu, "cpu_ms_per_example": 1e3 * cpu / bs,
            "wall_s_per_batch": (time.perf_counter() - w0) / a.batches}


if __name__ == "__main__":
    main()
