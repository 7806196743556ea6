"""Compile once, run many: a :class:`SpikingNetwork` built once as a ``cpp_standalone`` program.

Each :meth:`StandaloneProgram.run` starts the compiled program again with new transmission
weights, bias currents (biases, input drive, teaching current), Poisson input rates and random
seed, passed through Brian2's ``run_args`` (Brian2 ≥ 2.6): nothing is generated or compiled again.
Brian2 2.9 has no ``run_args`` entry for the seed; the program reads it from a one-element
``seed_holder`` group set through ``run_args`` and re-seeds its generators right after the
command line is applied (code inserted with ``device.insert_code``), exactly as ``seed(s)`` would.

What it runs is a free-running stretch of ``duration_ms`` with fixed currents: standalone has no
``NetworkOperation``, so the episode's phase changes (:mod:`stdp_ebm.spiking.schedule`) stay with
the runtime device. It is the fast target for sweeps of free-running networks of one shape; the
measured cost is in docs/spiking_engine.md (``benchmarks/bench_standalone_reuse.py``).
The standalone device is process-wide: build one program per process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..activation import Rho
from ..config import ConfigError
from ..network import Network
from .engine import SpikingNetwork

RESEED = """
for (int _i = 0; _i < {threads}; _i++)
    brian::_random_generators[_i].seed((unsigned long){array}[0] + _i);
"""


class StandaloneProgram:
    """``net``'s spiking network as one compiled ``cpp_standalone`` program in ``directory``,
    run on ``threads`` OpenMP threads (0: no OpenMP, Brian2's default)."""

    def __init__(self, net: Network, rho: Rho, sp: dict, models: dict, duration_ms: float,
                 directory: str | Path, threads: int = 0) -> None:
        if sp.get("learn"):
            raise ConfigError("[spiking] learn = true needs Python during the run (online weight "
                              "updates); the standalone program runs without it")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ConfigError(f"threads must be a whole number ≥ 0 (0: no OpenMP), not {threads!r}")
        import brian2 as b2

        b2.prefs.devices.cpp_standalone.openmp_threads = threads
        b2.set_device("cpp_standalone", build_on_run=False, directory=str(directory))
        self.sn = SpikingNetwork(net, rho, {**sp, "codegen": "cython"}, models, seed=0)
        self.holder = b2.NeuronGroup(1, "seed_value : integer (constant)", name="seed_holder")
        self.sn.network.add(self.holder)
        device = b2.get_device()
        device.apply_run_args()
        array = device.get_array_name(self.holder.variables["seed_value"])
        device.insert_code("main", RESEED.format(threads=max(1, threads), array=array))
        self.sn.network.run(duration_ms * b2.ms)
        device.build(directory=str(directory), compile=True, run=False)

    def run(self, W: list[np.ndarray], b: list[np.ndarray], rho_x: np.ndarray, seed: int,
            force: np.ndarray | None = None) -> list[np.ndarray]:
        """One run of the program with these parameters, Poisson inputs ρ(x) (batch, n_0), seed and
        teaching current ``force``·I_unit on the output (copies, n_out); returns the spike count
        of every neuron of the input group and of the LIF group."""
        import brian2 as b2

        sn = self.sn
        weights = np.concatenate([w.ravel() for w in W])
        bias = sn._bias_vector(b)
        if force is not None:
            bias = sn.with_unit_current(bias, len(sn.sizes) - 1, force)
        args = {syn.w: weights[widx] for syn, widx, _ in sn.conns}
        args[sn.neurons.I_bias] = bias * sn.unit_current
        args[sn.source.rates] = sn._input_rates(rho_x)
        args[self.holder.seed_value] = np.array([seed])
        b2.get_device().run(run_args=args)
        return [np.array(m.count[:], dtype=float) for m in sn.counts]
