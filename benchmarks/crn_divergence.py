"""How fast the +β and −β runs of a nudged phase drift apart, per layer, under each noise source.

The network of ``experiments/rate_vs_spike.toml`` (20-30-20-10) at ``--neurons`` per unit (default 10)
and ``--batch`` examples (default 2): after the free phase, the +β and the −β phase run from the same
checkpoint (common random numbers, as in :func:`stdp_ebm.spiking.simulate`) with the teaching current
±β·(d − ½) into the output neurons. Per layer (x = the Poisson input, h_1 …, y) and per 50 ms of the
phase, two numbers:

* ``mismatch``: the fraction of spikes (neuron, time step) that are not in both runs,
  |A △ B| / (|A| + |B|): 0 while the runs agree spike for spike, about 1 once they are independent;
* ``|Δρ|/2β``: the RMS over units of the difference of the rule's population rates, (ρ₊ − ρ₋)/2β,
  at the end of the window: the quantity whose integral is the ±β estimate of ΔW, its noise included.

The input layer x is clamped at the same rates in both runs, so with common random numbers its spike
trains must be identical (mismatch 0) whatever β. Usage::

    python benchmarks/crn_divergence.py [--neurons 10] [--batch 2] [--beta 0.02 0.2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "rate_vs_spike.toml"
BIN_MS = 50.0


def _spikes(monitor, start: int, t0: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Neuron indices and time steps (from ``t0``) of the monitor's spikes after the first ``start``."""
    return np.asarray(monitor.i[start:]), np.rint((np.asarray(monitor.t_[start:]) - t0) / dt)


def mismatch(a: tuple, b: tuple, lo: int, hi: int, bins: np.ndarray) -> np.ndarray:
    """|A △ B| / (|A| + |B|) per time bin (steps) for the spikes of neurons ``lo`` ≤ i < ``hi``."""
    out = []
    for start, stop in zip(bins[:-1], bins[1:]):
        sets = [{(int(i), int(s)) for i, s in zip(*x) if lo <= i < hi and start <= s < stop}
                for x in (a, b)]
        total = len(sets[0]) + len(sets[1])
        out.append(len(sets[0] ^ sets[1]) / total if total else 0.0)
    return np.array(out)


def measure(source: str, beta: float, neurons: int, batch: int) -> dict:
    """Per layer: spike mismatch and RMS |Δρ|/2β per 50 ms bin of the ±β phases."""
    import brian2 as b2

    from stdp_ebm import runner
    from stdp_ebm.activation import TabulatedRho
    from stdp_ebm.network import NetworkParams, network_from_config
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import SpikingNetwork, SpikingParams, load_models

    cfg, _ = runner.resolve(CONFIG, [f"spiking.noise_source={source}",
                                     f"spiking.neurons_per_unit={neurons}",
                                     f"network.batch={batch}"])
    seeds, sp = Seeds(cfg["seed"]), SpikingParams.of(cfg)
    net = network_from_config(NetworkParams.of(cfg), seeds.rng("network"))
    s = np.linspace(-0.5, 1.5, 41)
    rho = TabulatedRho(s, np.clip(s + 0.3, 0.0, 1.2))  # only sets the input rates ρ(x)·r_max
    sn = SpikingNetwork(net, rho, sp, load_models(), seeds.int("brian2"))
    monitors = [b2.SpikeMonitor(sn.source), b2.SpikeMonitor(sn.neurons)]
    sn.network.add(*monitors)
    sn.free_phase()
    start, force = sn.checkpoint(), net.target - 0.5
    runs, rhos = [], []
    for sign in (1.0, -1.0):
        counts, t0 = [m.num_spikes for m in monitors], float(sn.network.t / b2.second)
        rhos.append(sn.nudged_phase(sign * beta * force, [sp.nudged_ms]).rho)
        runs.append([_spikes(m, c, t0, sp.dt_ms * 1e-3) for m, c in zip(monitors, counts)])
        sn.resume(start)
    bins = np.arange(0.0, sp.nudged_ms + 1e-9, BIN_MS) / sp.dt_ms
    lay, steps_per_sample = sn.layout, int(round(BIN_MS / sp.record_ms))
    layers = {}
    for k, size in enumerate(sn.sizes):
        group = 0 if k == 0 else 1
        lo = lay.neuron_offset(k)
        hi = lo + lay.copies * size * lay.n
        drho = (rhos[0][k] - rhos[1][k]) / (2 * beta)  # (T, copies, n_k)
        rms = np.sqrt(np.mean(drho ** 2, axis=(1, 2)))
        layers[k] = {"mismatch": mismatch(runs[0][group], runs[1][group], lo, hi, bins),
                     "drho": rms[steps_per_sample - 1::steps_per_sample][:len(bins) - 1]}
    return layers


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--beta", type=float, nargs="+", default=[0.02, 0.2])
    args = parser.parse_args(argv)
    results = {}
    for beta in args.beta:
        for source in ("membrane", "poisson"):
            layers = measure(source, beta, args.neurons, args.batch)
            results[(source, beta)] = layers
            names = ["x"] + [f"h_{k}" for k in range(1, len(layers) - 1)] + ["y"]
            print(f"\n{source}, beta = {beta}, n = {args.neurons}: per {BIN_MS:.0f} ms of the phase")
            for k, name in enumerate(names):
                print(f"  {name:4s} mismatch " + " ".join(f"{v:5.2f}" for v in layers[k]["mismatch"])
                      + "   |Δρ|/2β " + " ".join(f"{v:6.2f}" for v in layers[k]["drho"]))
    return results


if __name__ == "__main__":
    main()
