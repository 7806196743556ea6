"""
The STDP window of your own synapse model file
----------------------------------------------
Copy ``stdp_ebm/models/rule_synapse.toml``, change its equations or parameters, and measure the
timing window it produces: spike pairs at each delay Delta t = t_post - t_pre, all in ONE Brian2 run
(one pre/post pair of neurons per delay), next to the kernel theory of your file and of the shipped
rule synapse. Here the "own" file is the shipped one with a slower presynaptic filter, which
stretches the potentiation side (tau+ follows tau_pre_decay).
"""
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from stdp_ebm import models
from stdp_ebm.stdp import kernels, protocols


def main(delays_ms=np.arange(-80, 81, 10), n_pairings=20, out="stdp_window_of_your_synapse.png"):
    text = (models.MODELS_DIR / "rule_synapse.toml").read_text()
    mine = pathlib.Path(tempfile.mkdtemp()) / "my_synapse.toml"
    mine.write_text(text.replace('tau_pre_decay = "16*ms"', 'tau_pre_decay = "30*ms"'))
    synapse = models.load_model(mine)  # checked by Brian2: units, names, syntax

    schedule = protocols.pairing(delays_ms, n_pairings, frequency_hz=1.0)
    result = protocols.run_schedule(schedule, seed=1, synapse=synapse)
    def theory(model):  # the window predicted from the file's filters, without Brian2
        kernel = kernels.PairKernel(kernels.RuleKernels.from_params(model.params))
        return np.array([kernel.from_spikes(*schedule.pair(k)) for k in range(schedule.n)])

    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(delays_ms, result.delta_w / n_pairings, "o", label="my synapse, Brian2")
    ax.plot(delays_ms, theory(synapse) / n_pairings, "-", color="C0", label="my synapse, theory")
    ax.plot(delays_ms, theory(models.load_model("rule_synapse")) / n_pairings, "--", color="0.5",
            label="shipped rule synapse, theory")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.set_ylabel("ΔW per pairing")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return result.delta_w / n_pairings


if __name__ == "__main__":
    main()
    plt.show()
