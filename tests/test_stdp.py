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

from stdp_ebm.stdp import kernels as stdp
from stdp_ebm.stdp.protocols import (concat, evoke_latency, measured_delta_t, pairing, poisson,
                                run_schedule)

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


def test_zero_crossing_and_group_stats():
    assert_allclose(stdp.zero_crossing(np.array([-2.0, -1.0, 1.0]), np.array([-1.0, -0.5, 1.5])),
                    -0.5, rtol=1e-12)
    keys, mean, sem, n = stdp.group_stats(np.array([1, 1, 2, 2, 2]), np.array([1, 3, 2, 2, 5]))
    assert_allclose(mean, [2, 3])
    assert_allclose(sem, [np.std([1, 3], ddof=1) / np.sqrt(2), np.std([2, 2, 5], ddof=1) / np.sqrt(3)])
    assert list(n) == [2, 3]


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
    res = run_schedule(schedule, seed=11, noise_mV=0.0)
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
                 "--set", "tau_sweep.plus_ms=[]", "--set", "tau_sweep.minus_ms=[]",
                 "--set", "fit.n_boot=50", "--set", "spiking.compare=triplet_stdp",
                 "--set", f"data.dir={tmp_path}"])  # no points there: the run says so
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["signs"]["ltp_positive_for_all_2_to_40_ms"]
    assert summary["rules"] == ["rule_synapse", "triplet_stdp"]
    assert "triplet_stdp" in summary["skipped"] and "rule_synapse" not in summary["skipped"]
    assert summary["bi_poo_points"]["present"] is False and summary["bi_poo_points"]["note"]
    for name in ("window", "control"):
        assert (out / "figures" / f"{name}.png").is_file() and (out / "figures" / f"{name}.svg").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["brian2_codegen_target"] in ("cython", "numpy")



@pytest.mark.brian2
def test_noise_off_run_reports_degenerate_intervals_not_ok(tmp_path, caplog):
    """Noise off: every repeat of a Δt gives the same ΔW, so no interval can come from the
    repeats; the run says so (summary, console) instead of ok: true with zero-width intervals."""
    from stdp_ebm.cli import main
    out = tmp_path / "run"
    code = main(["run", "stdp_window", "--out", str(out), "--quiet",
                 "--set", "protocol.delta_t_ms=[-20, -10, -5, 5, 10, 20]",
                 "--set", "protocol.n_pairings=2", "--set", "protocol.frequency_hz=4",
                 "--set", "protocol.repeats=2", "--set", "spiking.noise=false",
                 "--set", "control.pairs=0", "--set", "fit.exclude_ms=4",
                 "--set", "tau_sweep.plus_ms=[]", "--set", "tau_sweep.minus_ms=[]",
                 "--set", "spiking.compare=''", "--set", f"data.dir={tmp_path}"])
    assert code == 0
    fit = json.loads((out / "summary.json").read_text())["fits"]["rule_synapse"]
    assert fit["ok"] is False and set(fit["degenerate"]) == {"plus", "minus"}
    # no zero-width "interval": NaN, written as null in summary.json
    assert all(v is None for k in ("a_plus_ci", "tau_plus_ci", "a_minus_ci", "tau_minus_ci")
               for v in fit[k])
    # this package's own messages only: Brian2's debug log names code objects after the synapses
    said = [r.getMessage() for r in caplog.records
            if r.name.startswith("stdp_ebm") and "rule_synapse" in r.getMessage()]
    assert len(said) == 2 and all("do not vary" in m for m in said), said

def test_bad_configs_exit_2(tmp_path, capsys):
    from stdp_ebm.cli import main
    base = ["run", "stdp_window", "--out", str(tmp_path / "x"), "--quiet"]
    assert main(base + ["--set", "protocol.delta_t_ms=[600]"]) == 2
    assert main(base + ["--set", "protocol.delta_t_ms=[-10, 10, 10]"]) == 2
    assert main(base + ["--set", "protocol.frequency_hz=20"]) == 2  # |Δt| 100 ms > half period
    assert main(base + ["--set", "spiking.synapse=rule_synaps"]) == 2
    # not a plasticity rule (no weight_change), and a switch the rule does not have: both refused
    # before anything is simulated
    assert main(base + ["--set", "spiking.synapse=population_synapse"]) == 2
    assert main(base + ["--set", "spiking.synapse=pair_stdp", "--set", "spiking.tied=true"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'rule_synapse'" in err


@pytest.mark.brian2
def test_stdp_frequency_experiment_end_to_end(tmp_path):
    from stdp_ebm.cli import main
    out = tmp_path / "freq"
    code = main(["run", "stdp_frequency", "--out", str(out), "--quiet",
                 "--set", "protocol.frequencies_hz=[5, 50]", "--set", "protocol.n_pairings=3",
                 "--set", "protocol.repeats=2", "--set", "spiking.noise=false",
                 "--set", "spiking.compare=pair_stdp"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    # noise off: the simulation is the bilinear sum of K over all spike pairs (cross-pairing terms
    # at 50 Hz included); same 1e-3 bar as the window (rk4 at 0.1 ms vs the 10 µs theory grid);
    # pair-based STDP is event-driven and exact, so its bar is rounding
    assert summary["theory_rmse_fraction_of_max"]["rule_synapse"] < 1e-3
    assert summary["theory_rmse_fraction_of_max"]["pair_stdp"] < 1e-9
    data = np.load(out / "data.npz")
    assert data["rule_synapse_mean"][0, 0] > 0 > data["rule_synapse_mean"][1, 0]  # +10 / −10 ms at 5 Hz
    assert (out / "figures" / "frequency.png").is_file()


def _triplet_reference(pre_t: np.ndarray, post_t: np.ndarray, p: dict) -> float:
    """Independent reference: Pfister & Gerstner (2006) Eqs 3-4, all-to-all, A3- = 0, stepped
    event by event through the spike times (traces decay exactly between events; at a post spike
    o2 is read before its own increment, the epsilon of Eq 4)."""
    events = sorted([(t, 0) for t in pre_t] + [(t, 1) for t in post_t])
    r1 = o1 = o2 = 0.0
    last, dw = 0.0, 0.0
    for t, is_post in events:
        gap = t - last
        r1 *= np.exp(-gap / p["tau_plus"])
        o1 *= np.exp(-gap / p["tau_minus"])
        o2 *= np.exp(-gap / p["tau_y"])
        last = t
        if is_post:
            dw += r1 * (p["A2_plus"] + p["A3_plus"] * o2)
            o1, o2 = o1 + 1.0, o2 + 1.0
        else:
            dw -= o1 * p["A2_minus"]
            r1 += 1.0
    return dw


@pytest.mark.brian2
def test_triplet_model_file_is_pfister_gerstner_minimal_rule():
    from stdp_ebm.models import load_model
    pytest.importorskip("brian2")
    model = load_model("triplet_stdp")
    p = {k: float(v) for k, v in model.params.items() if k != "J"}  # seconds, dimensionless
    delta = np.repeat([10.0, -10.0], 3)
    freq = np.tile([1.0, 20.0, 50.0], 2)  # at 20-50 Hz the post-pre-post (triplet) term acts
    schedule = pairing(delta, 15, freq)  # Sjöström's protocol, shortened from 60 pairings
    res = run_schedule(schedule, seed=3, noise_mV=0.0, synapse="triplet_stdp")
    ref = np.array([_triplet_reference(res.pre_t[res.pre_i == k], res.post_t[res.post_i == k], p)
                    for k in range(schedule.n)])
    # both are exact exponentials on the same recorded spike times: only rounding differs
    assert_allclose(res.delta_w, ref, rtol=1e-9, atol=1e-12)
    # the minimal visual-cortex fit: at 1 Hz pre-before-post gives almost nothing (A2+ = 0; only
    # the o2 left from 1 s earlier, e^(-1000/114)), post-before-pre the pair LTD; at 50 Hz both
    # orders potentiate (Sjöström et al. 2001)
    assert abs(ref[0]) < 1e-3 * abs(ref[3]) and ref[3] < 0 and ref[2] > 0 and ref[5] > 0


def test_lag_attribution_recovers_a_known_pair_kernel():
    # independent reference: ΔW built directly as a sum of a known kernel over all spike pairs
    from stdp_ebm.experiments.stdp_random_trains import attribute, lag_counts
    rng = np.random.default_rng(3)
    kernel = stdp.ExponentialKernel(0.01, 0.02, -0.0105, 0.02)
    pre = [np.sort(rng.uniform(0, 10, 100)) for _ in range(300)]
    post = [np.sort(rng.uniform(0, 10, 100)) for _ in range(300)]
    dw = np.array([kernel.from_spikes(a, b) for a, b in zip(pre, post)])
    edges = np.arange(-0.1, 0.1 + 1e-9, 0.01)
    c, lo, hi = attribute(lag_counts(pre, post, edges), dw, rng, 50)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fine = np.linspace(-0.1, 0.1, 20001)
    bin_mean = np.array([kernel(fine[(fine > a) & (fine < b)]).mean()
                         for a, b in zip(edges[:-1], edges[1:])])
    # the only error is K's variation within a bin, averaged over ~100 pairs per bin and synapse:
    # 10 % of the peak bounds it (measured 3.4 % with this seed)
    assert_allclose(c, bin_mean, rtol=0, atol=0.1 * np.max(np.abs(bin_mean)))
    assert np.sign(c[centres > 0.01]).min() > 0 and np.sign(c[centres < -0.01]).max() < 0


@pytest.mark.brian2
def test_stdp_random_trains_experiment_end_to_end(tmp_path):
    from stdp_ebm.cli import main
    out = tmp_path / "rt"
    code = main(["run", "experiments/stdp_random_trains.toml", "--out", str(out), "--quiet",
                 "--set", "protocol.pairs=60", "--set", "protocol.duration_s=3",
                 "--set", "protocol.bin_ms=20", "--set", "protocol.n_boot=20",
                 "--set", "paired.n_pairings=2", "--set", "spiking.compare=''"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rules"] == ["rule_synapse"]
    assert summary["per_rule"]["rule_synapse"]["corr_with_paired"] > 0.5  # same-signed windows
    ref = summary["bi_poo_points"]  # present where ../shared/data holds the digitisation
    if ref["present"]:
        # points inside the outermost bin centres (±90 ms with 20 ms bins): 43 of the 45
        assert ref["n"] > 30 and 0.0 < ref["rules"]["rule_synapse"]["corr"] <= 1.0
    else:
        assert "not compared" in ref["note"]
    assert (out / "figures" / "random_trains.png").is_file()
