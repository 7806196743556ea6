"""Ground truth for the window fit: pair-based STDP (models/pair_stdp.toml) has a known window, so
the fitted A± and τ± and the coverage of their 95 % bootstrap intervals can be checked; and Eq 26's
fitted τ± intervals must contain its noise-free theory values.

One Brian2 run holds all the independent "seeds": each seed is a block of pairs (every Δt,
several repeats) with its own membrane noise, so 20 independent experiments share one compiled
network (two code objects' worth of compiling instead of forty).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.stdp import kernels as stdp
from stdp_ebm.models import load_model
from stdp_ebm.stdp.protocols import measured_delta_t, pairing, run_schedule
from stdp_ebm.stdp.window_fit import fit_window

pytestmark = [pytest.mark.brian2, pytest.mark.slow]

GRID = np.array([-60, -40, -25, -15, -10, -5, -3, 3, 5, 10, 15, 25, 40, 60.0])
SEEDS, REPEATS, PAIRINGS, FREQ_HZ = 20, 5, 10, 2.0  # 2 Hz: neighbours 500 ms apart, e^(−25) ≈ 1e-11


def _blocks(synapse: str, seeds: int, noise_mV: float = 2.0):
    """One run; per seed block: (Δt nominal per pair, measured condition Δt per pair, ΔW per pair)."""
    delta = np.tile(np.repeat(GRID, REPEATS), seeds)
    res = run_schedule(pairing(delta, PAIRINGS, FREQ_HZ), seed=2024, noise_mV=noise_mV, synapse=synapse)
    measured = measured_delta_t(res, delta.size)
    per = GRID.size * REPEATS
    out = []
    for s in range(seeds):
        part = slice(s * per, (s + 1) * per)
        d, m = delta[part], measured[part]
        cond = np.array([m[d == g].mean() for g in GRID])  # the measured Δt of each condition
        out.append((d, cond[np.searchsorted(GRID, d)], res.delta_w[part]))
    return out


def test_pair_stdp_window_recovered_with_calibrated_intervals():
    params = load_model("pair_stdp").params
    truth = {"a_plus": PAIRINGS * params["Apre"], "tau_plus": float(params["taupre"]) * 1e3,
             "a_minus": -PAIRINGS * params["Apost"], "tau_minus": float(params["taupost"]) * 1e3}
    covered = dict.fromkeys(truth, 0)
    for s, (d, x, dw) in enumerate(_blocks("pair_stdp", SEEDS)):
        fit = fit_window(x, dw, nominal_ms=d, seed=s, n_boot=300).as_dict()
        assert fit["ok"], fit["problems"]
        for name, true in truth.items():
            # the bar: every seed's fit within 1 % of the known window
            assert_allclose(fit[name], true, rtol=0.01, err_msg=name)
            covered[name] += fit[f"{name}_ci"][0] <= true <= fit[f"{name}_ci"][1]
    # the bar: the 95 % intervals cover the truth in ≥ 90 % of the 20 seeds
    for name, n in covered.items():
        assert n >= 0.9 * SEEDS, (name, n)


def test_eq26_tau_intervals_contain_noise_free_theory():
    # cut-off 4 ms: within ~3 τ_rise (1 ms) of Δt = 0 the window curves sharply, and the post
    # spikes' jitter (s.d. ~0.15 ms with 2 mV noise) shifts the mean ΔW there by ~1 % (second
    # order, K''σ²/2); with the 2 ms cut-off the |Δt| = 3 ms points bias τ− by +0.3 % (measured:
    # 34.15-34.32 ms against the noise-free 34.07 ms, outside the intervals)
    kernel = stdp.PairKernel(stdp.RuleKernels.from_params(load_model("rule_synapse").namespace()))
    theory = np.array([kernel.from_spikes(*pairing(np.array([g]), PAIRINGS, FREQ_HZ).pair(0))
                       for g in GRID])
    ref = fit_window(GRID, theory, exclude_ms=4.0, n_boot=0).as_dict()  # noise-free theory values
    inside = []
    for s, (d, x, dw) in enumerate(_blocks("rule_synapse", 4)):
        fit = fit_window(x, dw, nominal_ms=d, exclude_ms=4.0, seed=s, n_boot=300).as_dict()
        assert fit["ok"], fit["problems"]
        inside += [fit[f"{k}_ci"][0] <= ref[k] <= fit[f"{k}_ci"][1] for k in ("tau_plus", "tau_minus")]
    assert all(inside), inside
