"""
Compile once, run many: a weight-scale and seed sweep of the spiking network
----------------------------------------------------------------------------
The LIF populations of a 20-30-10 network (``n`` neurons per unit, membrane noise, population
transmission) are built once as a Brian2 ``cpp_standalone`` program
(``stdp_ebm.spiking.standalone.StandaloneProgram``); every point of the sweep (all weights times
g, one seed) is then a run of that program with new weights and seed through ``run_args``, with
nothing generated or compiled again. Plotted: each layer's mean population rate against g (mean and
range over the seeds). The first build compiles C++ (~15-25 s); each run then costs about the
simulation alone. Run it in its own Python process: Brian2's standalone device is process-wide.
"""
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import stdp_ebm as se
from stdp_ebm.activation import HardSigmoid
from stdp_ebm.plotting import layer_name
from stdp_ebm.spiking import SpikingParams, load_models
from stdp_ebm.spiking.standalone import StandaloneProgram


def main(sizes=(20, 30, 10), n=10, scales=(0.5, 1.0, 1.5, 2.0), seeds=(1, 2, 3),
         duration_ms=500.0, out="standalone_sweep.png"):
    net = se.random_network(list(sizes), se.Seeds(1).rng("network"))
    net.x = se.Seeds(1).rng("input").uniform(0.0, 1.0, size=(1, sizes[0]))
    spiking = SpikingParams(neurons_per_unit=n)
    rho = HardSigmoid()
    t0 = time.perf_counter()
    program = StandaloneProgram(net, rho, spiking, load_models(), duration_ms,
                                tempfile.mkdtemp(prefix="standalone_sweep_"))
    build_s = time.perf_counter() - t0
    print(f"built once in {build_s:.1f} s")
    rates = np.empty((len(scales), len(seeds), len(sizes) - 1))  # Hz, per layer h_1 ... y
    t0 = time.perf_counter()
    for i, g in enumerate(scales):
        for j, s in enumerate(seeds):
            counts = program.run([g * w for w in net.W], net.b, rho(net.x), seed=s)
            per_layer = program.sn.layout.layer_blocks(counts)[1:]
            rates[i, j] = [c.mean() / (duration_ms * 1e-3) for c in per_layer]
    run_s = (time.perf_counter() - t0) / (len(scales) * len(seeds))
    print(f"{len(scales) * len(seeds)} runs of {duration_ms:.0f} ms, {run_s:.2f} s each")

    fig, ax = plt.subplots(figsize=(4, 3))
    for k in range(len(sizes) - 1):
        name = layer_name(k + 1, len(sizes) - 1)
        mean, lo, hi = rates[:, :, k].mean(1), rates[:, :, k].min(1), rates[:, :, k].max(1)
        ax.errorbar(scales, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=name)
    ax.set_xlabel("weight scale g (all W times g)")
    ax.set_ylabel("population rate (Hz)")
    ax.legend(title=f"{len(seeds)} seeds: mean, range", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return rates, build_s, run_s


if __name__ == "__main__":
    main()
