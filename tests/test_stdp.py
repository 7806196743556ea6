"""STDP window of the rule: theory kernel, fits, protocols and the one-run Brian2 window.

The Brian2 tests share ONE network run (module-scoped fixture): a reduced Δt grid, noise off, three
pairings at 4 Hz (pairs 250 ms apart do not interact: the rate filters decay within ~5 x 32 ms, and
the theory sums every spike pair anyway) and Poisson control pairs, all in one compiled run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad

from stdp_ebm import stdp
from stdp_ebm.protocols import (concat, evoke_latency, measured_delta_t, pairing, poisson,
                                simulate)

KERN = stdp.RuleKernels(tau_pre_decay=16e-3, tau_pre_rise=1e-3, tau_post_decay=32e-3,
                        tau_post_rise=1e-3, eta=0.1, r_max=100.0)
GRID = np.array([-40.0, -20.0, -10.0, -5.0, -2.0, 2.0, 5.0, 10.0, 20.0, 40.0])


# ------------------------------------------------------------------------------ theory (no Brian2)

def _quad_window(delta_s: float, k: stdp.RuleKernels) -> float:
    """Independent reference: the kernel integral of the stdp module docstring by adaptive quad."""
    def pre(t):
        return (np.exp(-t / k.tau_pre_decay) - np.exp(-t / k.tau_pre_rise)) \
            / (k.tau_pre_decay - k.tau_pre_rise) if t >= 0 else 0.0

    def dpost(t):  # d/dt of the post kernel, written out by hand
        return (np.exp(-t / k.tau_post_rise) / k.tau_post_rise
                - np.exp(-t / k.tau_post_decay) / k.tau_post_decay) \
            / (k.tau_post_decay - k.tau_post_rise) if t >= 0 else 0.0
    lo = max(0.0, delta_s)
    val = quad(lambda t: pre(t) * dpost(t - delta_s), lo, lo + 1.0,
               points=[lo + 1e-3, lo + 5e-3, lo + 2e-2, lo + 0.1], limit=400)[0]
    return val * k.eta / k.r_max ** 2


def test_pair_kernel_matches_adaptive_quadrature():
    kernel = stdp.PairKernel(KERN)
    deltas = np.array([-60, -20, -5, -1, -0.3, 0.5, 2, 10, 40]) * 1e-3
    expected = np.array([_quad_window(d, KERN) for d in deltas])
    # midpoint rule on a 10 µs grid plus linear interpolation: O(h²) ≈ (0.01 ms / 1 ms)² = 1e-4
    assert_allclose(kernel(deltas), expected, rtol=0, atol=2e-4 * np.max(np.abs(expected)))


def test_pair_kernel_integrates_to_zero_and_tau_plus_follows_pre_filter():
    kernel = stdp.PairKernel(KERN)
    # ∫K = ∫k_pre · ∫k_post' = 1 · 0; midpoint-rule error O((h/τ_rise)²) = 1e-4 of ∫|K| at most
    assert abs(np.trapezoid(kernel.values, kernel.lags)) < 1e-4 * np.trapezoid(
        np.abs(kernel.values), kernel.lags)
    far = np.array([60.0, 80.0]) * 1e-3  # rise terms e^(−60) are gone: pure e^(−Δt/τ_pre,decay)
    ratio = kernel(far[1]) / kernel(far[0])
    assert_allclose(ratio, np.exp(-20e-3 / KERN.tau_pre_decay), rtol=1e-3)
    ratio_ltd = kernel(-far[1]) / kernel(-far[0])  # LTD tail: e^(−|Δt|/τ_post,decay)
    assert_allclose(ratio_ltd, np.exp(-20e-3 / KERN.tau_post_decay), rtol=1e-3)


def test_fit_recovers_known_double_exponential_with_calibrated_cis():
    x = np.concatenate([-np.geomspace(3, 100, 12)[::-1], np.geomspace(3, 100, 12)])
    truth = {"a_plus": 0.8, "tau_plus": 17.0, "a_minus": 0.3, "tau_minus": 34.0}
    sem = np.full(x.size, 0.01)
    clean = stdp.double_exponential(x, *truth.values())
    fits = [stdp.fit_window(x, clean + np.random.default_rng(seed).normal(0, 0.01, x.size), sem)
            for seed in range(300)]
    for name, true in truth.items():
        values = np.array([getattr(f, name) for f in fits])
        assert_allclose(np.median(values), true, rtol=0.02)  # unbiased to 2% (noise 0.01)
        covered = np.mean([f.as_dict()[f"{name}_ci"][0] < true < f.as_dict()[f"{name}_ci"][1]
                           for f in fits])
        # 95% CIs: coverage of 300 fits within ±3 binomial s.d. (±0.038) of 0.95
        assert 0.91 <= covered <= 0.99, (name, covered)
    assert_allclose(fits[0].area_ratio, 0.8 * 17 / (0.3 * 34), rtol=0.1)


def test_zero_crossing_and_group_stats():
    assert_allclose(stdp.zero_crossing(np.array([-2.0, -1.0, 1.0]), np.array([-1.0, -0.5, 1.5])),
                    -0.5, rtol=1e-12)
    keys, mean, sem, n = stdp.group_stats(np.array([1, 1, 2, 2, 2]), np.array([1, 3, 2, 2, 5]))
    assert_allclose(mean, [2, 3])
    assert_allclose(sem, [np.std([1, 3], ddof=1) / np.sqrt(2), np.std([2, 2, 5], ddof=1) / np.sqrt(3)])
    assert list(n) == [2, 3]


def test_bi_poo_reference_has_provenance():
    ref = stdp.bi_poo()
    assert ref["fit"]["tau_plus_ms"] == 16.8 and ref["fit"]["tau_minus_ms"] == 33.7
    assert "10464" in ref["citation"]["measured"] and "24:139" in ref["citation"]["fitted"]
    assert_allclose(stdp.bi_poo_curve(np.array([16.8])), ref["fit"]["a_plus"] / np.e, rtol=1e-12)


def test_pairing_schedule():
    s = pairing(np.array([-10.0, 10.0]), 3, np.array([1.0, 5.0]))
    pre, post = s.pair(1)
    assert_allclose(np.diff(pre), 0.2, rtol=1e-12)
    assert_allclose(post - pre, 0.010, rtol=1e-9)
    pre0, post0 = s.pair(0)
    assert np.all(post0 > 0)
    assert_allclose(post0 - pre0, -0.010, rtol=1e-9)


# --------------------------------------------------------------------------------- one Brian2 run

@pytest.fixture(scope="module")
def window_run():
    pytest.importorskip("brian2")
    delta = np.repeat(GRID, 2)
    window = pairing(delta, 3, 4.0)
    control = poisson(10.0, 3.0, 40, np.random.default_rng(5))
    schedule, (w, c) = concat(window, control)
    res = simulate(schedule, seed=11, noise_mV=0.0)
    return {"delta": delta, "window": window, "schedule": schedule, "w": w, "c": c, "res": res}


@pytest.mark.brian2
def test_signs_hebbian(window_run):
    keys, mean, _, _ = stdp.group_stats(window_run["delta"], window_run["res"].delta_w[window_run["w"]])
    assert np.all(mean[(keys >= 2) & (keys <= 40)] > 0)
    assert np.all(mean[(keys <= -2) & (keys >= -40)] < 0)


@pytest.mark.brian2
def test_simulation_matches_theory_noise_off(window_run):
    kernel = stdp.PairKernel(KERN)
    window, res, w = window_run["window"], window_run["res"], window_run["w"]
    theory = np.array([kernel.from_spikes(*window.pair(k)) for k in range(window.n)])
    sim = res.delta_w[w]
    # the bar: RMSE < 5% of max|ΔW|; rk4 at 0.1 ms and the 10 µs theory grid reach ~1e-5
    assert stdp.rmse_fraction(sim, theory) < 0.05
    assert_allclose(sim, theory, rtol=0, atol=1e-3 * np.max(np.abs(theory)))
    # the evoked post spikes land on the wanted times (to one 0.1 ms step)
    assert_allclose(measured_delta_t(res, window_run["schedule"].n)[w], window_run["delta"],
                    atol=0.1 + 1e-9)


@pytest.mark.brian2
def test_tied_form_integrates_to_zero(window_run):
    # d(ρ_i ρ_j)/dt integrates to ρ_iρ_j(end) − ρ_iρ_j(start) = 0 once the traces have decayed
    res, w = window_run["res"], window_run["w"]
    assert_allclose(res.delta_w_tied[w], 0.0, atol=1e-4 * np.max(np.abs(res.delta_w[w])))


@pytest.mark.brian2
def test_poisson_control_no_net_change(window_run):
    res, c = window_run["res"], window_run["c"]
    dw = res.delta_w[c]
    sem = dw.std(ddof=1) / np.sqrt(dw.size)
    assert abs(dw.mean()) < 2 * sem
    kernel = stdp.PairKernel(KERN)
    theory = stdp.theory_per_pair(np.arange(c.start, c.stop), res.pre_i, res.pre_t, res.post_i,
                                  res.post_t, kernel)
    # same bilinear sum on the recorded spikes: agreement to rk4/grid precision
    assert_allclose(dw, theory, rtol=0, atol=1e-3 * np.max(np.abs(theory)))


def test_evoke_latency_rejects_weak_or_long_pulses():
    from brian2 import Mohm, mV, ms, nA

    from stdp_ebm.errors import ConfigError
    params = {"R_m": 100 * Mohm, "I_pulse": 3 * nA, "v_th": -54 * mV, "E_L": -70 * mV,
              "tau_m": 20 * ms, "tau_ref": 2 * ms}
    assert_allclose(evoke_latency(params, 2.0), 20e-3 * np.log(300 / 284), rtol=1e-12)
    with pytest.raises(ConfigError, match="does not bring"):
        evoke_latency({**params, "I_pulse": 1 * nA}, 2.0)
    with pytest.raises(ConfigError, match="second one"):
        evoke_latency({**params, "tau_ref": 0.5 * ms}, 2.0)


@pytest.mark.brian2
def test_stdp_window_experiment_end_to_end(tmp_path):
    from stdp_ebm.cli import main
    out = tmp_path / "run"
    code = main(["run", "stdp_window", "--out", str(out), "--quiet",
                 "--set", "protocol.delta_t_ms=[-20, -5, 5, 20]", "--set", "protocol.n_pairings=2",
                 "--set", "protocol.frequency_hz=4", "--set", "protocol.repeats=2",
                 "--set", "control.pairs=5", "--set", "control.duration_s=1",
                 "--set", "tau_sweep.tau_pre_decay_ms=[]", "--set", "tau_sweep.tau_post_decay_ms=[]"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["signs"]["ltp_positive_for_all_2_to_40_ms"]
    assert set(summary["tau_ratio_to_bi_poo"]) == {"tau_plus", "tau_minus"}
    for name in ("window", "control"):
        assert (out / "figures" / f"{name}.png").is_file() and (out / "figures" / f"{name}.svg").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["brian2_codegen_target"] in ("cython", "numpy")


def test_bad_configs_exit_2(tmp_path, capsys):
    from stdp_ebm.cli import main
    base = ["run", "stdp_window", "--out", str(tmp_path / "x"), "--quiet"]
    assert main(base + ["--set", "protocol.delta_t_ms=[600]"]) == 2
    assert main(base + ["--set", "protocol.delta_t_ms=[-10, 10, 10]"]) == 2
    assert main(base + ["--set", "protocol.frequency_hz=20"]) == 2  # |Δt| 100 ms > half period
    assert main(base + ["--set", "spiking.synapse=rule_synaps"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'rule_synapse'" in err


@pytest.mark.brian2
def test_stdp_frequency_experiment_end_to_end(tmp_path):
    from stdp_ebm.cli import main
    out = tmp_path / "freq"
    code = main(["run", "stdp_frequency", "--out", str(out), "--quiet",
                 "--set", "protocol.frequencies_hz=[5, 50]", "--set", "protocol.n_pairings=3",
                 "--set", "protocol.repeats=2", "--set", "spiking.noise=false"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    # noise off: the simulation is the bilinear sum of K over all spike pairs (cross-pairing terms
    # at 50 Hz included); same 1e-3 bar as the window (rk4 at 0.1 ms vs the 10 µs theory grid)
    assert summary["theory_rmse_fraction_of_max"] < 1e-3
    cells = {(c["delta_t_ms"], c["frequency_hz"]): c for c in summary["cells"]}
    assert cells[(10.0, 5.0)]["mean"] > 0 > cells[(-10.0, 5.0)]["mean"]
    assert (out / "figures" / "frequency.png").is_file()
