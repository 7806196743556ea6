"""Compile once, run many: a :class:`SpikingNetwork` built once as a ``cpp_standalone`` program.

Each :meth:`StandaloneProgram.run` starts the compiled program again with new transmission
weights, bias currents (biases, input drive, teaching current), Poisson input rates and random
seed, passed through Brian2's ``run_args`` (Brian2 ≥ 2.6): nothing is generated or compiled again.
Brian2 2.9 has no ``run_args`` entry for the seed; the program reads it from a one-element
``seed_holder`` group set through ``run_args`` and re-seeds its generators right after the
command line is applied (code inserted with ``device.insert_code``), exactly as ``seed(s)`` would.

What it runs is a free-running stretch of ``duration_ms`` with fixed currents: standalone has no
``NetworkOperation``, so the episode's phase changes (:mod:`stdp_ebm.spiking.schedule`) stay with
the runtime device; :mod:`stdp_ebm.spiking.episode_program` writes the learner's episode for this
device instead. It is the fast target for sweeps of free-running networks of one shape; the
measured cost is in docs/spiking_engine.md (``benchmarks/bench_standalone_reuse.py``).
The standalone device is process-wide: one program can be built per process; a second is refused
(:class:`~stdp_ebm.errors.DeviceError`), since Brian2 would reinitialise the device under the first.
Brian2 is left as the caller set it: after the build the previously active device and the OpenMP
preference are restored, and each run addresses the program's own device.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..activation import Rho
from ..config import ConfigError
from ..errors import DeviceError
from ..network import Network
from .engine import SpikingNetwork
from .params import SpikingParams

_BUILT: list[str] = []  # the directory of the program built in this process, if any

#: C++ inserted after the command line is applied: re-seed each thread's generator from the
#: ``seed_holder`` value (``{array}``: its array's name; ``{threads}``: generators to seed)
RESEED = """
for (int _i = 0; _i < {threads}; _i++)
    brian::_random_generators[_i].seed((unsigned long){array}[0] + _i);
"""


class StandaloneProgram:
    """``net``'s spiking network as one compiled ``cpp_standalone`` program in ``directory``,
    run on ``threads`` OpenMP threads (0: no OpenMP, Brian2's default).

    Parameters
    ----------
    net : Network
        The network (weights W_k (n_k, n_{k+1}), biases b_k (n_k,), inputs whose rows set the
        batch) whose shape is compiled; its parameters are only the build's, each :meth:`run`
        gets its own.
    rho : Rho
        The activation ρ; ρ(x)·r_max is the input rate (Hz).
    sp : SpikingParams
        The ``[spiking]`` parameters (``learn`` must be false; ``codegen`` is replaced by the
        standalone device).
    models : dict
        The Brian2 model files by role (:mod:`stdp_ebm.models`).
    duration_ms : float
        Length of each run (ms).
    directory : str or pathlib.Path
        Where the C++ program is generated and compiled.
    threads : int
        OpenMP threads (≥ 0; 0: no OpenMP).

    Raises
    ------
    ConfigError
        If ``sp.learn`` is true or ``threads`` is not a whole number ≥ 0.
    DeviceError
        If a program was already built in this process.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, duration_ms: float,
                 directory: str | Path, threads: int = 0) -> None:
        if sp.learn:
            raise ConfigError("[spiking] learn = true needs Python during the run (online weight "
                              "updates); the standalone program runs without it")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ConfigError(f"threads must be a whole number ≥ 0 (0: no OpenMP), not {threads!r}")
        if _BUILT:
            raise DeviceError(f"a StandaloneProgram was already built in this process (in "
                              f"{_BUILT[0]}); Brian2's standalone device is process-wide, so build "
                              "each program in its own process")
        import brian2 as b2
        from brian2.devices.device import reset_device

        prefs = b2.prefs.devices.cpp_standalone
        threads_before, make_before = prefs.openmp_threads, prefs.extra_make_args_unix
        prefs.openmp_threads = threads
        prefs.extra_make_args_unix = bounded_make_args(make_before)
        b2.set_device("cpp_standalone", build_on_run=False, directory=str(directory))
        try:
            self.device = b2.get_device()
            self._build(net, rho, sp, models, duration_ms, threads, str(directory))
        finally:
            reset_device()
            prefs.openmp_threads, prefs.extra_make_args_unix = threads_before, make_before
        _BUILT.append(str(directory))

    def _build(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, duration_ms: float,
               threads: int, directory: str) -> None:
        import brian2 as b2

        self.sn = SpikingNetwork(net, rho, sp.replace(codegen="cython"), models, seed=0)
        self._seed_from_run_args(threads)
        # [spiking] dt_ms: leaving the network's Brian2Env wrote the caller's step back into the
        # program (the standalone device records every assignment), so set it again for the run
        b2.defaultclock.dt = sp.dt_ms * b2.ms
        self.sn.network.run(duration_ms * b2.ms)
        self.device.build(directory=directory, compile=True, run=False)

    def _seed_from_run_args(self, threads: int) -> None:
        """From here on the program takes its seed as a run argument (``seed_holder.seed_value``)
        and seeds every thread's generator with it."""
        import brian2 as b2

        self.holder = b2.NeuronGroup(1, "seed_value : integer (constant)", name="seed_holder")
        self.sn.network.add(self.holder)
        self.device.apply_run_args()
        array = self.device.get_array_name(self.holder.variables["seed_value"])
        self.device.insert_code("main", RESEED.format(threads=max(1, threads), array=array))

    def run(self, W: list[np.ndarray], b: list[np.ndarray], rho_x: np.ndarray, seed: int,
            force: np.ndarray | None = None) -> list[np.ndarray]:
        """One run of the program with these parameters, Poisson inputs ρ(x) (batch, n_0), seed and
        teaching current ``force``·I_unit on the output (copies, n_out); returns the spike count
        of every neuron of the input group and of the LIF group.

        Non-finite or misshapen parameters are refused (:class:`ValueError`) before the program
        starts: the C++ program would run on them silently.

        Parameters
        ----------
        W : list of numpy.ndarray
            Weights W_k, shape (n_k, n_{k+1}), k = 0 … L−1.
        b : list of numpy.ndarray
            Biases b_k, shape (n_k,), k = 0 … L; the bias current of a unit of layer k ≥ 1 is
            (b_k + s0)·I_unit.
        rho_x : numpy.ndarray
            ρ of the inputs in units of r_max, shape (batch, n_0) (rate ρ(x)·r_max in Hz).
        seed : int
            Seed of the program's random generators for this run.
        force : numpy.ndarray or None
            Teaching current on the output units, in I_unit, shape (copies, n_out); None: none.

        Returns
        -------
        list of numpy.ndarray
            Spikes per neuron of the input group and of the LIF group over the run (float).
        """
        sn = self.sn
        check_run_inputs(sn.sizes, sn.batch, sn.copies, W, b, rho_x, force)
        weights = np.concatenate([w.ravel() for w in W])
        bias = sn._bias_vector(b)
        if force is not None:
            bias = sn.with_unit_current(bias, len(sn.sizes) - 1, force)
        args = {syn.w: weights[widx] for syn, widx, _ in sn.conns}
        args[sn.neurons.I_bias] = bias * sn.unit_current
        args[sn.source.rates] = sn._input_rates(rho_x)
        args[self.holder.seed_value] = np.array([seed])
        self.device.run(run_args=args)
        return [np.array(m.count[:], dtype=float) for m in sn.counts]


def bounded_make_args(args: list[str]) -> list[str]:
    """Brian2's ``make`` arguments with its default unbounded ``-j`` (one compiler per source file
    at once: measured ~100 compilers on 2 cores) capped at this machine's cores; any other choice
    of the user's is kept.

    Parameters
    ----------
    args : list[str]
        ``prefs.devices.cpp_standalone.extra_make_args_unix``.

    Returns
    -------
    list[str]
        The same, with a bare ``-j`` replaced by ``-jN``, N = ``os.cpu_count()``.

    Examples
    --------
    >>> bounded_make_args(["-j", "-s"])[1:]
    ['-s']
    >>> bounded_make_args(["-j4"])
    ['-j4']
    """
    return [f"-j{os.cpu_count() or 1}" if a == "-j" else a for a in args]


def check_run_inputs(sizes: list[int], batch: int, copies: int, W: list[np.ndarray],
                     b: list[np.ndarray], rho_x: np.ndarray, force: np.ndarray | None = None) -> None:
    """Refuse, with one line (:class:`ValueError`), parameters of :meth:`StandaloneProgram.run` that
    do not fit the compiled network (layer ``sizes``, ``batch`` examples, ``copies`` = batch ×
    trials network copies) or are not finite.

    Parameters
    ----------
    sizes : list of int
        Layer sizes n_0 … n_L of the compiled network.
    batch : int
        Examples the network is compiled for.
    copies : int
        Network copies, batch × trials.
    W : list of numpy.ndarray
        Weights W_k, wanted shape (n_k, n_{k+1}).
    b : list of numpy.ndarray
        Biases b_k, wanted shape (n_k,), k = 0 … L.
    rho_x : numpy.ndarray
        Input rates in units of r_max, wanted shape (batch, n_0).
    force : numpy.ndarray or None
        Teaching current in I_unit, wanted shape (copies, n_out); None: not checked.

    Raises
    ------
    ValueError
        On a wrong count or shape or a non-finite value.
    """
    expected: dict[str, tuple[int, ...]] = {f"W[{k}]": (sizes[k], sizes[k + 1])
                                            for k in range(len(sizes) - 1)}
    expected |= {f"b[{k}]": (sizes[k],) for k in range(len(sizes))}
    expected["rho_x"] = (batch, sizes[0])
    if len(W) != len(sizes) - 1 or len(b) != len(sizes):
        raise ValueError(f"StandaloneProgram.run: {len(W)} weight matrices and {len(b)} bias "
                         f"vectors for a network of {len(sizes)} layers (needs {len(sizes) - 1} "
                         f"and {len(sizes)})")
    given = {**{f"W[{k}]": w for k, w in enumerate(W)}, **{f"b[{k}]": v for k, v in enumerate(b)},
             "rho_x": rho_x}
    if force is not None:
        given["force"] = force
        expected["force"] = (copies, sizes[-1])
    for name, value in given.items():
        arr = np.asarray(value, dtype=float)
        shape = expected[name]
        if arr.shape != shape:
            raise ValueError(f"StandaloneProgram.run: {name} has shape {arr.shape}, the compiled "
                             f"network needs {shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"StandaloneProgram.run: {name} holds non-finite values (NaN or inf)")
