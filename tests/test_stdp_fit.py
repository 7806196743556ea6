"""The window fitter: recovers a known double exponential, never returns an unbounded τ, and says
when a side cannot be fitted (no Brian2 here)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.stdp.window_fit import TAU_BOUNDS_MS, double_exponential, fit_window

TRUTH = {"a_plus": 0.8, "tau_plus": 17.0, "a_minus": 0.3, "tau_minus": 34.0}
GRID = np.array([-100, -60, -40, -25, -15, -10, -5, -3, 3, 5, 10, 15, 25, 40, 60, 100.0])
BI_POO = Path(__file__).resolve().parents[2] / "shared/data/stdp_experiments/bi_poo_stdp_points.csv"


def _repeats(seed: int, n: int = 8, noise: float = 0.03):
    x = np.repeat(GRID, n)
    y = double_exponential(x, *TRUTH.values()) + np.random.default_rng(seed).normal(0, noise, x.size)
    return x, y


@pytest.mark.slow
def test_recovers_known_window_and_intervals_cover_it():
    covered = {name: 0 for name in TRUTH}
    fits = [fit_window(*_repeats(seed), nominal_ms=np.repeat(GRID, 8), seed=seed, n_boot=200)
            for seed in range(40)]
    for f in fits:
        d = f.as_dict()
        assert d["ok"]
        for name, true in TRUTH.items():
            covered[name] += d[f"{name}_ci"][0] <= true <= d[f"{name}_ci"][1]
    for name, true in TRUTH.items():
        # noise 0.03 on a peak of 0.8 with 8 repeats: each fit within 10 %, the median within 2 %
        assert_allclose(np.median([f.as_dict()[name] for f in fits]), true, rtol=0.02)
        # nominal 95 %: ≥ 33 of 40 (a binomial(40, 0.95) falls below 34 with probability 1.4 %;
        # percentile bootstrap intervals run slightly narrow with 8 repeats per condition)
        assert covered[name] >= 33, (name, covered[name])


def test_no_signal_is_a_failure_not_a_number():
    x = np.repeat(GRID, 4)
    y = np.random.default_rng(1).normal(0, 0.1, x.size)  # pure noise: no window
    d = fit_window(x, y, nominal_ms=x, n_boot=100).as_dict()
    assert not d["ok"]
    assert d["problems"]  # a reason per failed side
    for side in ("plus", "minus"):
        if side in d["problems"]:
            assert math.isnan(d[f"tau_{side}"])
        else:
            assert TAU_BOUNDS_MS[0] < d[f"tau_{side}"] < TAU_BOUNDS_MS[1]


def test_too_few_points_fail_with_a_reason():
    d = fit_window(np.array([-5.0, 5.0, 10.0]), np.array([-1.0, 1.0, 0.5])).as_dict()
    assert not d["ok"] and "too few" in d["problems"]["minus"]


@pytest.mark.skipif(not BI_POO.is_file(), reason="digitised Bi & Poo points not in ../shared")
def test_bi_poo_points_with_3_ms_cut_off_stay_bounded():
    # the case that once returned τ− = −1.4e9 without a warning
    pts = np.loadtxt(BI_POO, delimiter=",")
    d = fit_window(pts[:, 0], pts[:, 1], exclude_ms=3.0, n_boot=200).as_dict()
    for side in ("plus", "minus"):
        if d["ok"]:
            lo, hi = d[f"tau_{side}_ci"]
            assert TAU_BOUNDS_MS[0] < lo < d[f"tau_{side}"] < hi < TAU_BOUNDS_MS[1]
        else:
            assert side in d["problems"] or math.isfinite(d[f"tau_{side}"])


def test_compare_recovers_a_known_scale_and_data_absent_is_none(tmp_path):
    from stdp_ebm.stdp import data as stdp_data
    f = np.linspace(-1.0, 1.0, 20)
    c = stdp_data.compare(f, 3.0 * f, 0.5)
    assert_allclose([c["scale"], c["rmse"]], [3.0, 0.0], atol=1e-12)
    # log L of a perfect fit: Σ −log(σ√(2π)) over 20 points
    assert_allclose(c["log_likelihood"], -20 * np.log(0.5 * np.sqrt(2 * np.pi)), rtol=1e-12)
    assert stdp_data.bi_poo_points(tmp_path) is None and stdp_data.sjostrom_points(tmp_path) is None


@pytest.mark.skipif(not BI_POO.is_file(), reason="digitised points not in ../shared")
def test_digitised_files_read_as_documented():
    from stdp_ebm.stdp import data as stdp_data
    pts = stdp_data.bi_poo_points(BI_POO.parent)
    assert pts.x.size == 45 and np.all(np.diff(pts.x) >= 0)
    sj = stdp_data.sjostrom_points(BI_POO.parent)
    # first pair of the +10 ms file: mean 96.89 %, mean + s.d. 100.06 % (100 % = no change)
    assert_allclose([sj[10.0].y[0], sj[10.0].sd[0]], [96.89163 - 100, 100.06159 - 96.89163],
                    atol=1e-4)
    assert sj[-10.0].y[-1] > 0 > sj[-10.0].y[0]  # post-before-pre: LTD at 0.1 Hz, LTP at 50 Hz


def test_noise_free_repeats_give_a_degenerate_interval_not_ok():
    # identical repeats (no noise): the estimate stands, but no interval can come from them
    x = np.repeat(GRID, 4)
    d = fit_window(x, double_exponential(x, *TRUTH.values()), nominal_ms=x, n_boot=200).as_dict()
    assert not d["ok"]
    assert set(d["degenerate"]) == {"plus", "minus"}
    assert all("do not vary" in why for why in d["problems"].values())
    for name, true in TRUTH.items():
        # noise-free data of the model itself: least squares recovers it to its tolerance (1e-14)
        assert_allclose(d[name], true, rtol=1e-8)
        assert all(math.isnan(v) for v in d[f"{name}_ci"])


def test_batch_refits_agree_with_scipy_curve_fit():
    from scipy.optimize import curve_fit
    from stdp_ebm.stdp.window_fit import refit_batch
    rng = np.random.default_rng(3)
    x = np.array([5.0, 7.0, 10.0, 15.0, 25.0, 40.0, 60.0])
    y = 0.8 * np.exp(-x / 17.0) * (1 + 0.05 * rng.normal(size=(50, x.size)))
    a, t = refit_batch(np.broadcast_to(x, y.shape), y, np.ones(x.size))
    for i in range(0, 50, 7):
        (ra, rt), _ = curve_fit(lambda d, a_, t_: a_ * np.exp(-d / t_), x, y[i], p0=(0.8, 17.0),
                                xtol=1e-14, ftol=1e-14, gtol=1e-14)
        # golden section to ~1e-14 of log τ vs trust-region at 1e-14 tolerances: one minimum to 1e-7
        assert_allclose([a[i], t[i]], [ra, rt], rtol=1e-7)


def test_intervals_follow_the_measured_delta_t_of_each_resample():
    # jitter moves a pair's Δt and its ΔW together; the across-seed spread of the estimate is then
    # far below the spread of ΔW over the repeats, and the intervals must follow the estimate
    window = (0.01, 20.0, 0.0105, 20.0)
    grid = np.array([-40.0, -25, -15, -10, -7, 7, 10, 15, 25, 40])
    rng = np.random.default_rng(0)
    est, half = [], []
    for seed in range(30):
        nominal = np.repeat(grid, 8)
        offsets = rng.normal(0.0, 0.15, (nominal.size, 30))
        dw = double_exponential(nominal[:, None] + offsets, *window).sum(axis=1)
        d = fit_window(nominal + offsets.mean(axis=1), dw, nominal, seed=seed,
                       n_boot=1000).as_dict()
        est.append(d["a_plus"])
        half.append(np.diff(d["a_plus_ci"])[0] / 2)
    # within a factor 2 of 1.96 s.d. across 30 seeds (the s.d. itself is known to ±13 %); the
    # intervals that held Δt fixed were 130-400 times wider
    assert 0.5 < np.mean(half) / (1.96 * np.std(est, ddof=1)) < 2.0


@pytest.mark.slow
@pytest.mark.skipif(not BI_POO.is_file(), reason="digitised Bi & Poo points not in ../shared")
def test_bi_poo_bounds_move_less_than_5_percent_between_bootstrap_seeds():
    """Five bootstrap seeds, resampling until every bound's Monte Carlo error is ≤ 1.5 %
    (stdp_ebm.stdp.resampling): every bound moves < 5 % (max/min − 1) over all five. The upper
    bound of A+ needs millions of resamples (it lies in the valley of a bimodal bootstrap
    distribution): at 200,000 it moved 8.9 % over seeds 11-13, at a 2.5 % Monte Carlo target
    5.8 % over these five. The fast suite checks the mechanism (tests/test_resampling.py)."""
    from stdp_ebm.stdp.resampling import MC_REL_DATA
    from stdp_ebm.stdp.window_fit import N_BOOT_DATA
    pts = np.loadtxt(BI_POO, delimiter=",")
    fits = [fit_window(pts[:, 0], pts[:, 1], exclude_ms=3.0, seed=s, n_boot=N_BOOT_DATA,
                       mc_rel=MC_REL_DATA).as_dict() for s in (11, 12, 13, 14, 15)]
    assert all(f["ok"] for f in fits)
    assert all(f[f"mc_error_{side}"] <= MC_REL_DATA for f in fits for side in ("plus", "minus"))
    for name in TRUTH:
        bounds = np.array([f[f"{name}_ci"] for f in fits])  # (seed, lower/upper)
        spread = bounds.max(axis=0) / bounds.min(axis=0) - 1
        assert np.all(spread < 0.05), (name, spread)


def test_count_refits_agree_with_scipy_curve_fit():
    from scipy.optimize import curve_fit
    from stdp_ebm.stdp.window_fit import refit_counts
    rng = np.random.default_rng(4)
    x = np.geomspace(4.0, 90.0, 20)
    y = 70.0 * np.exp(-x / 20.0) + rng.normal(0.0, 15.0, x.size)  # a scatter like Bi & Poo's LTP
    idx = rng.integers(0, x.size, (40, x.size))  # bootstrap resamples of the points
    counts = np.stack([np.bincount(i, minlength=x.size) for i in idx])
    a, t = refit_counts(x, y, counts)
    for i in range(0, 40, 5):
        (ra, rt), _ = curve_fit(lambda d, a_, t_: a_ * np.exp(-d / t_), x[idx[i]], y[idx[i]],
                                p0=(70.0, 20.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
        # four nested parabolas in log τ vs trust-region at 1e-15 tolerances: measured ≤ 4e-8
        # on Bi & Poo's resamples, so one minimum to 1e-7
        assert_allclose([a[i], t[i]], [ra, rt], rtol=1e-7)
