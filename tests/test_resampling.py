"""Bootstrap intervals whose Monte Carlo error is measured and bounded (stdp_ebm.stdp.resampling),
and the rule-vs-points comparison built on them (stdp_ebm.stdp.data.compare). No Brian2 here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.stdp import data as stdp_data
from stdp_ebm.stdp.resampling import bca, mc_error

DATA = Path(__file__).resolve().parents[2] / "shared/data/stdp_experiments"


def _spread(bounds: np.ndarray) -> np.ndarray:
    """max/min − 1 of each bound over seeds (axis 0), as the seed-stability target measures it."""
    b = np.abs(np.asarray(bounds, float))
    return b.max(axis=0) / b.min(axis=0) - 1


def test_mc_error_predicts_the_spread_of_a_quantile_over_independent_draws():
    # the truth: 400 independent sets of 2,000 draws of a skewed law; the s.d. of their 97.5 %
    # quantile is the Monte Carlo error mc_error must predict from ONE set
    rng = np.random.default_rng(0)
    draws = rng.lognormal(0.0, 1.0, (400, 2000))
    q = np.quantile(draws, 0.975, axis=1)
    predicted_sd = mc_error(draws[:1], q[:1, None])[0, 0] * q[0] / 1.96
    # the s.d. over 400 sets is known to ±3.5 % (1/√800); the prediction from one set of 2,000
    # (a difference of two order statistics ~88 ranks apart) to ~±15 %: a factor 1.3 either way
    assert 1 / 1.3 < predicted_sd / np.std(q, ddof=1) < 1.3


def test_resampling_goes_on_until_the_bounds_are_seed_stable():
    # mean of 25 skewed points: 500 resamples leave the bounds a few % apart between seeds;
    # asking for 1 % Monte Carlo error draws more, and five seeds then agree within 5 %
    x = np.random.default_rng(1).lognormal(0.0, 1.2, 25)

    def mean(v: np.ndarray, axis: int = -1) -> np.ndarray:
        return v.mean(axis=axis)
    few = [bca((x,), mean, 500, seed)[0].confidence_interval for seed in range(5)]
    runs = [bca((x,), mean, 500, seed, mc_rel=0.01) for seed in range(5)]
    assert all(drawn > 500 and error <= 0.01 for _, drawn, error in runs)
    stable = np.array([[r.confidence_interval.low, r.confidence_interval.high] for r, _, _ in runs])
    assert np.all(_spread(stable) < 0.05)
    assert np.max(_spread(np.array(few))) > np.max(_spread(stable))


def test_compare_scale_interval_covers_a_known_scale():
    # 200 simulated data sets y = 2.5 f + N(0, 1) at 45 points: the 95 % BCa interval of the scale
    # must contain 2.5 about 95 % of the time (binomial(200, 0.95): 182-196 with probability 99 %)
    rng = np.random.default_rng(2)
    f = np.sin(np.linspace(0.0, 3.0, 45)) + 0.2
    hits = 0
    for seed in range(200):
        c = stdp_data.compare(f, 2.5 * f + rng.normal(0.0, 1.0, f.size), 1.0, seed=seed,
                              n_boot=1000, mc_rel=0.0)
        hits += c["scale_ci"][0] <= 2.5 <= c["scale_ci"][1]
    assert 182 <= hits <= 196, hits


def test_compare_perfect_fit_has_no_interval_and_says_so():
    f = np.linspace(-1.0, 1.0, 20)
    c = stdp_data.compare(f, 3.0 * f, 0.5)
    assert_allclose([c["scale"], c["rmse"]], [3.0, 0.0], atol=1e-12)
    assert np.all(np.isnan(c["scale_ci"] + c["rmse_ci"])) and "no spread" in c["degenerate"]


@pytest.mark.skipif(not (DATA / stdp_data.BI_POO_FILE).is_file(),
                    reason="digitised points not in ../shared")
@pytest.mark.parametrize("which", ["sjostrom", "bi_poo"])
def test_compare_bounds_move_less_than_5_percent_between_bootstrap_seeds(which):
    if which == "sjostrom":
        sj = stdp_data.sjostrom_points(DATA)
        y = np.concatenate([sj[10.0].y, sj[-10.0].y])
        sigma = np.concatenate([sj[10.0].sd, sj[-10.0].sd])
        # a curve of the triplet rule's shape (LTP rising with frequency for both orders)
        curve = np.concatenate([np.linspace(0.1, 1.0, 5), np.linspace(-0.5, 0.8, 5)])
    else:
        pts = stdp_data.bi_poo_points(DATA)
        y, sigma = pts.y, 18.8
        curve = np.where(pts.x > 0, np.exp(-pts.x / 17.0), -0.5 * np.exp(pts.x / 34.0))
    fits = [stdp_data.compare(curve, y, sigma, seed=s) for s in range(4)]
    assert all(f["scale_ci"][0] < f["scale"] < f["scale_ci"][1] for f in fits)
    for key in ("scale_ci", "rmse_ci"):
        spread = _spread([f[key] for f in fits])
        assert np.all(spread < 0.05), (key, spread)


def test_a_bound_on_a_clip_has_no_monte_carlo_error():
    # a scale clipped at 0 in 10 % of the resamples: a 2.5 % bound is 0 for every seed
    rng = np.random.default_rng(3)
    d = np.concatenate([np.zeros(1000), rng.random(9000)])[None]
    assert_allclose(mc_error(d, np.array([[0.0], [0.9]]))[0], 0.0)
    assert 0.0 < mc_error(d, np.array([[0.0], [0.9]]))[1, 0] < 0.05
