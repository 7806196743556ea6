"""Benchmark: the spiking network in NEST 3 beside Brian2, measured in the same run.

The network of ``benchmarks/bench_spiking.py`` (``experiments/rate_vs_spike.toml``: 20-30-20-10,
n neurons per unit, ``--batch`` copies, 1 s simulated) built in NEST with the same neuron and
wiring (``pip install -e '.[peers]'``; the script says so and exits 0 when NEST is absent):

* ``iaf_psc_exp`` with the parameters of ``models/lif_neuron.toml`` (C_m = τ_m/R_m, τ_syn = τ_s for
  both signs) and the bias current I_e = (b_i + s0)·I_unit;
* membrane noise of s.d. σ on v from a ``noise_generator`` updated every time step Δ: a current
  of s.d. σ_I = (σ/R_m)·√(2τ_m/Δ) held over Δ gives the free membrane potential the variance
  (R_m σ_I)²Δ/(2τ_m) = σ² (each target gets its own realisation);
* the input layer: one ``poisson_generator`` per input unit and copy at ρ(x)·r_max feeding n
  ``parrot_neuron`` (independent trains, one per input neuron);
* transmission all-to-all from every neuron of unit j to every neuron of unit i with weight
  W_ij·J, J = I_unit/(n·r_max·τ_s) — NEST has no shared per-population current, so this is the
  ``neuron`` wiring; both ways between free layers, upward from the input.

NEST runs transmission only (no rate filters, no rule synapses), single-threaded; the Brian2 rows
(from ``bench_spiking.worker``, Cython) include the rule synapses and rate filters, so the NEST
figure is a lower bound on its cost for the same work. Usage::

    python benchmarks/bench_nest.py [--neurons 20] [--batch 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_spiking import SIMULATED_S, _network, _row  # noqa: E402


def build(sp, net, rho, models: dict, seed: int) -> tuple[list, object]:
    """The spiking network of ``net`` in NEST (see the module docstring): per layer the list of
    its units' node collections (copy-major), and a spike recorder of every neuron."""
    import nest

    p = models["neuron"].params
    n, dt = sp.neurons_per_unit, sp.dt_ms
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": dt, "rng_seed": seed % 2**31 or 1,
                          "local_num_threads": 1})
    ms, mV, pA = 1e-3, 1e-3, 1e-12
    tau_m, R_m = float(p["tau_m"]), float(p["R_m"])
    I_unit = sp.unit_current_nA * 1e-9
    J = I_unit / (n * sp.r_max_hz * float(p["tau_s"])) / pA  # pA per unit weight
    params = {"C_m": tau_m / R_m / 1e-12, "tau_m": tau_m / ms, "t_ref": float(p["tau_ref"]) / ms,
              "E_L": float(p["E_L"]) / mV, "V_th": float(p["v_th"]) / mV,
              "V_reset": float(p["v_reset"]) / mV, "V_m": float(p["E_L"]) / mV,
              "tau_syn_ex": float(p["tau_s"]) / ms, "tau_syn_in": float(p["tau_s"]) / ms}
    sigma_I = sp.noise_mV * mV / R_m * np.sqrt(2 * tau_m / (dt * ms)) / pA
    noise = nest.Create("noise_generator", params={"std": sigma_I, "dt": dt})
    copies, x = len(net.x), rho(net.x)
    layers = []
    for k, size in enumerate(net.sizes):
        units = []
        for c in range(copies):
            for u in range(size):
                if k == 0:
                    gen = nest.Create("poisson_generator",
                                      params={"rate": float(x[c, u] * sp.r_max_hz)})
                    pop = nest.Create("parrot_neuron", n)
                    nest.Connect(gen, pop)
                else:
                    pop = nest.Create("iaf_psc_exp", n, params={
                        **params, "I_e": (net.b[k][u] + sp.offset) * I_unit / pA})
                    nest.Connect(noise, pop)
                units.append(pop)
        layers.append(units)
    for k, W in enumerate(net.W):
        for c in range(copies):
            for i in range(net.sizes[k]):
                for j in range(net.sizes[k + 1]):
                    lo, hi = layers[k][c * net.sizes[k] + i], layers[k + 1][c * net.sizes[k + 1] + j]
                    spec = {"weight": float(W[i, j] * J), "delay": dt}
                    nest.Connect(lo, hi, "all_to_all", spec)
                    if k > 0:
                        nest.Connect(hi, lo, "all_to_all", spec)
    recorder = nest.Create("spike_recorder")
    for units in layers:
        for pop in units:
            nest.Connect(pop, recorder)
    return layers, recorder


def unit_rates(layers: list, recorder, start_ms: float, stop_ms: float) -> list[np.ndarray]:
    """Population rate (Hz per neuron) of every unit in [start, stop), per layer (copies·units)."""
    events = recorder.get("events")
    senders, times = np.asarray(events["senders"]), np.asarray(events["times"])
    keep = (times >= start_ms) & (times < stop_ms)
    counts = np.bincount(senders[keep], minlength=max(max(p.tolist()) for u in layers for p in u) + 1)
    return [np.array([counts[p.tolist()].sum() / (len(p) * (stop_ms - start_ms) * 1e-3)
                      for p in units]) for units in layers]


def nest_row(n: int, batch: int) -> dict:
    """Build the network in NEST, run 10 ms (untimed), then time 1 s."""
    import nest

    sp, net, rho, models, seed = _network(n, batch, "neuron")
    layers, recorder = build(sp, net, rho, models, seed)
    nest.Simulate(10.0)
    before = recorder.n_events
    w0, c0 = time.perf_counter(), time.process_time()
    nest.Simulate(SIMULATED_S * 1000.0)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"n": n, "transmission": "neuron", "target": f"NEST {nest.__version__}",
            "wall_s": wall, "cpu_s": cpu, "compile_s": 0.0, "spikes": recorder.n_events - before,
            "synapses": int(nest.GetKernelStatus("num_connections")),
            "neurons": sum(len(p) for u in layers for p in u)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    try:
        import nest  # noqa: F401
    except ImportError:
        print("NEST is not installed (pip install -e '.[peers]'): nothing to compare")
        return []
    rows = [nest_row(args.neurons, args.batch)] + [
        _row(args.neurons, args.batch, w, "cython") for w in ("population", "neuron")]
    print(f"20-30-20-10 net, n = {args.neurons}, batch {args.batch}, {SIMULATED_S:g} s simulated, "
          "one thread")
    print(f"{'simulator':>24s} {'wiring':>10s} {'wall s':>7s} {'CPU s':>7s} {'synapses':>10s} "
          f"{'NEST CPU / this':>15s}")
    for r in rows:
        if "error" in r:
            print(f"{r['target']:>24s} {r['transmission']:>10s} failed: {r['error']}")
            continue
        print(f"{r['target']:>24s} {r['transmission']:>10s} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
              f"{r['synapses']:10.3g} {rows[0]['cpu_s'] / r['cpu_s']:15.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
