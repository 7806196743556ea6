"""
The rule synapse in your own Brian2 network
-------------------------------------------
Eq 26 of Bengio et al. (2017), dW/dt = eta * rho(pre) * d rho(post)/dt, as the plastic synapse of
``stdp_ebm/models/rule_synapse.toml``, from 20 Poisson inputs (5 to 100 Hz) onto 10 LIF neurons of
``lif_neuron.toml``. A bias current ramps up, so the postsynaptic rates rise (d rho/dt > 0) and every
synapse potentiates in proportion to its presynaptic rate: the final Delta W grows linearly with the
input rate (the scatter is the Poisson noise of the rate estimates). The model files are plain TOML:
read the equations there.
"""
import matplotlib.pyplot as plt
from brian2 import (Hz, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses, TimedArray, linspace, ms,
                    mV, nA, run, second, seed)

from stdp_ebm.models import load_model


def main(duration=20 * second, n_inputs=20, n_cells=10, out="rule_synapse_in_your_network.png"):
    seed(1)
    neuron, synapse = load_model("lif_neuron"), load_model("rule_synapse")
    rates = linspace(5, 100, n_inputs) * Hz
    inputs = PoissonGroup(n_inputs, rates=rates)
    cells = NeuronGroup(n_cells, **neuron.group_kwargs(sigma=2 * mV))
    neuron.initialise(cells)
    ramp = TimedArray(linspace(0, 0.25, 100) * nA, dt=duration / 100)
    cells.run_regularly("I_bias = ramp(t)", dt=1 * ms)
    rule = Synapses(inputs, cells, **synapse.group_kwargs(J=5 * synapse.params["J"] / n_inputs))
    rule.connect()
    synapse.initialise(rule)
    spikes = SpikeMonitor(cells)
    run(duration, namespace={"ramp": ramp})

    dw = rule.delta_w[:].reshape(n_inputs, n_cells).mean(axis=1)
    print(f"postsynaptic rate {spikes.num_spikes / (n_cells * duration / second):.1f} Hz on average")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(rates / Hz, dw, "o")
    ax.set_xlabel("presynaptic rate (Hz)")
    ax.set_ylabel("ΔW (mean over the 10 targets)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return rates / Hz, dw


if __name__ == "__main__":
    main()
    plt.show()
