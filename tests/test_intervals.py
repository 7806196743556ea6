"""The intervals and the paired test that the figures print, checked against simulations whose
truth is known: coverage (how often the 95 % interval holds the truth) and width (its half-width
against the estimator's real spread), and the McNemar test's type-I rate and power."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binomtest
from scipy.stats import t as student

from stdp_ebm.analysis import mcnemar, trial_cosine, trial_interval, trial_nrmse

SIMS = 400  # simulated experiments per check: coverage known to ±2.2 % (binomial s.d. at 95 %)


def _noisy_trials(rng, mu, T, nrmse):
    """T i.i.d. trials mu + noise whose trial mean has noise ‖·‖/‖mu‖ ≈ ``nrmse``."""
    D = mu.size
    sigma = nrmse * np.linalg.norm(mu) * np.sqrt(T / D)
    return mu + sigma * rng.normal(size=(T, D)), sigma


def _direction_with_cos(rng, r, c):
    """A unit vector at cosine ``c`` to ``r``."""
    rh = r / np.linalg.norm(r)
    v = rng.normal(size=r.size)
    v -= (v @ rh) * rh
    return c * rh + np.sqrt(1 - c * c) * v / np.linalg.norm(v)


def _coverage_and_width(runs, truth, T):
    """Coverage of ``truth`` by the intervals (est, lo, hi) and the mean half-width over the
    ideal one for T trials, t_{T−1, 0.975} × the estimator's s.d. across the simulations."""
    a = np.array(runs)
    covered = int(np.sum((a[:, 1] <= truth) & (truth <= a[:, 2])))
    ideal = student.ppf(0.975, T - 1) * a[:, 0].std()
    return covered, float(np.mean(a[:, 2] - a[:, 1]) / 2 / ideal), a[:, 0]


def test_cosine_interval_covers_the_known_cosine_with_the_right_width():
    rng = np.random.default_rng(11)
    D, T, c0 = 300, 8, 0.9
    r = rng.normal(size=D)
    mu = _direction_with_cos(rng, r, c0)
    runs, naive = [], []
    for _ in range(SIMS):
        u, _ = _noisy_trials(rng, mu, T, 0.3)
        runs.append(trial_interval(u, lambda s: trial_cosine(s, r, np.inf)))
        m = u.mean(axis=0)
        naive.append(m @ r / np.linalg.norm(m) / np.linalg.norm(r))
    covered, width, est = _coverage_and_width(runs, c0, T)
    ci = binomtest(covered, SIMS).proportion_ci(0.95)
    # measured 391/400; the jackknife is slightly conservative: nominal 95 % must be inside the
    # binomial interval of the coverage or below it, never above (an interval that undercovers)
    assert ci.high >= 0.95 and covered / SIMS <= 0.995, (covered, ci)
    # measured 1.18: at most 1.5 times the ideal width, at least 0.8 (not too narrow)
    assert 0.8 <= width <= 1.5, width
    # the bias correction: mean estimate within 0.003 of the truth (its s.e. over 400 runs is
    # ~0.0006), while the plain cosine of the trial mean is low by ≈ 0.04
    assert abs(np.mean(est) - c0) < 0.003
    assert c0 - np.mean(naive) > 0.02
    # at the sample's own trial count the estimate is the plain cosine of the trial mean
    assert_allclose(trial_cosine(u, r), naive[-1], rtol=1e-12)  # the same number, rounding apart


def test_nrmse_interval_covers_the_known_error_with_the_right_width():
    rng = np.random.default_rng(12)
    D, T = 300, 4
    r = rng.normal(size=D)
    r /= np.linalg.norm(r)
    v = rng.normal(size=D)
    mu = r + 0.2 * v / np.linalg.norm(v)  # systematic error 0.2
    runs = []
    for _ in range(SIMS):
        u, sigma = _noisy_trials(rng, mu, T, 0.3)
        runs.append(trial_interval(u, lambda s: trial_nrmse(s, r)))
    truth = np.sqrt(0.2**2 + D * sigma**2 / T)  # ‖E ΔW − r‖² + tr Σ / T, ‖r‖ = 1
    covered, width, est = _coverage_and_width(runs, truth, T)
    ci = binomtest(covered, SIMS).proportion_ci(0.95)
    assert ci.high >= 0.95 and covered / SIMS <= 0.995, (covered, ci)  # measured 384/400
    assert 0.8 <= width <= 1.5, width  # measured 1.08
    # the systematic part alone (trials = inf) is recovered without the noise: within 0.01 of 0.2
    # on average (the s.d. of one estimate is ~0.03 here)
    sys = [trial_nrmse(mu + sigma * rng.normal(size=(T, D)), r, np.inf) for _ in range(SIMS)]
    assert_allclose(np.mean(sys), 0.2, atol=0.01)


def test_fewer_than_three_trials_give_no_interval():
    u = np.random.default_rng(0).normal(size=(2, 5))
    est, lo, hi = trial_interval(u, lambda s: trial_nrmse(s, np.ones(5)))
    assert np.isfinite(est) and np.isnan(lo) and np.isnan(hi)


def test_mcnemar_exact_p_value_by_hand():
    # 1 example right only by a, 9 only by b, 10 both right: p = 2·(C(10,0) + C(10,1))/2¹⁰
    a = np.array([1] + [0] * 9 + [1] * 10, bool)
    b = np.array([0] + [1] * 9 + [1] * 10, bool)
    out = mcnemar(a, b)
    assert (out["a_only"], out["b_only"], out["n"]) == (1, 9, 20)
    assert_allclose(out["p"], 2 * 11 / 1024, rtol=1e-12)  # exact arithmetic up to rounding
    assert mcnemar(a, a)["p"] == 1.0


def _paired_learners(rng, n, err_a, err_b, rho=0.5):
    """Per-example correctness of two learners on the same n images: a shared difficulty makes
    their errors correlated (as two learners on one test set are)."""
    z = rng.normal(size=n)
    za = rho * z + np.sqrt(1 - rho**2) * rng.normal(size=n)
    zb = rho * z + np.sqrt(1 - rho**2) * rng.normal(size=n)
    from scipy.stats import norm
    return za > norm.ppf(err_a), zb > norm.ppf(err_b)


def _wilson_bands_apart(a, b):
    """The unpaired reading: do the two error rates' 95 % Wilson intervals not overlap?"""
    (la, ha), (lb, hb) = [binomtest(int(np.sum(~c)), c.size).proportion_ci(0.95, method="wilson")
                          for c in (a, b)]
    return la > hb or lb > ha


def test_mcnemar_type_one_rate_and_power_on_simulated_pairs():
    rng = np.random.default_rng(13)
    sims, n = 1000, 600
    null = [mcnemar(*_paired_learners(rng, n, 0.1, 0.1))["p"] < 0.05 for _ in range(sims)]
    ci = binomtest(int(np.sum(null)), sims).proportion_ci(0.95)
    # equal true error: the exact test rejects at most 5 % (exact, conservative with few discordant
    # pairs; measured 5.3 % of 1000): 5 % must not lie below the rejection rate's binomial interval
    assert ci.low <= 0.05, ci
    # a real difference (10 % vs 5 % error) is found most of the time (measured 92 %), and more
    # often than by asking whether the Wilson bands overlap (measured 72 %)
    pairs = [_paired_learners(rng, n, 0.1, 0.05) for _ in range(sims)]
    power = np.mean([mcnemar(a, b)["p"] < 0.05 for a, b in pairs])
    apart = np.mean([_wilson_bands_apart(a, b) for a, b in pairs])
    assert power > 0.85 and power > apart + 0.1, (power, apart)


def test_training_records_per_image_masks_that_survive_a_resume(tmp_path):
    """Watched keeps one correct-mask per test evaluation (the rate learner, no Brian2): each
    matches the epoch's test error, a resumed run has the same masks as an uninterrupted one, and
    paired_test counts the discordant images of two learners epoch by epoch."""
    from conftest import EXPERIMENTS

    from stdp_ebm.checkpoint import Checkpoint
    from stdp_ebm.experiments.train_spiking import Watched, load_task, rate_train_cfg
    from stdp_ebm.experiments.train_spiking_plots import paired_test
    from stdp_ebm.network import random_network
    from stdp_ebm.rate import model_from_config
    from stdp_ebm.runner import resolve
    from stdp_ebm.learning import EPLearner, fit
    from stdp_ebm.rate import DynamicsParams

    cfg = resolve(str(EXPERIMENTS / "train_spiking_quick.toml"),
                  ["task.n_train=40", "task.n_test=30", "train.epochs=2"])[0]
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], np.random.default_rng(0), t.batch_size)
    labels = np.argmax(data.y_test, axis=1)

    def watched(seed=1):
        net = random_network(cfg["network"]["sizes"], np.random.default_rng(seed), 0.6, 0.0, 0.0)
        return Watched(EPLearner(model_from_config(net, DynamicsParams.of(cfg)), t, len(data.x_train)), cfg, None,
                       every=0, labels=labels)

    straight = watched()
    h = fit(straight, data, t, np.random.default_rng(2))
    assert len(straight.correct) == 2
    for mask, err in zip(straight.correct, h.test_error):
        assert mask.shape == (30,) and np.mean(~mask) == err  # the same count, exactly
    ck = Checkpoint(tmp_path, "rate")
    fit(watched(), data, t.replace(epochs=1), np.random.default_rng(2), ck)
    resumed = watched()
    fit(resumed, data, t, np.random.default_rng(2), ck)
    assert np.array_equal(np.array(resumed.correct), np.array(straight.correct))

    other = watched(seed=7)
    h2 = fit(other, data, t, np.random.default_rng(2))
    out = {"epoch": np.arange(1, 3), "spk_test_error": np.array(h2.test_error),
           "rate_test_error": np.array(h.test_error),
           "spk_test_correct": np.array(other.correct, np.uint8),
           "rate_test_correct": np.array(straight.correct, np.uint8)}
    p, final = paired_test(out)
    a, b = other.correct[-1], straight.correct[-1]
    assert (final["spk_only_correct"], final["rate_only_correct"]) == \
        (int(np.sum(a & ~b)), int(np.sum(~a & b)))
    assert final["epoch"] == 2 and p[-1] == final["mcnemar_p"] and np.all(np.isfinite(p))
    # a learner with only its last epoch recorded (resumed from an older checkpoint): epoch 1 NaN
    p, _ = paired_test({**out, "spk_test_correct": out["spk_test_correct"][1:]})
    assert np.isnan(p[0]) and np.isfinite(p[1])


@pytest.mark.brian2
def test_spiking_alignment_with_three_trials_writes_intervals(tmp_path):
    """alignment --model spiking on the tiny net (numpy target) with 3 noise trials: per β an
    interval whose estimate is the plain cosine of the trials' mean, as the alignment table has it
    (computed by analysis.alignment from the averaged ΔW), and bounds around it."""
    import json

    from conftest import EXPERIMENTS
    from test_alignment_spiking import SETTINGS

    from stdp_ebm.cli import main

    out = tmp_path / "al"
    sets = SETTINGS + ["spiking.trials=3"]
    assert main(["run", str(EXPERIMENTS / "alignment.toml"), "--out", str(out), "--quiet"]
                + [a for s in sets for a in ("--set", s)]) == 0
    data = np.load(out / "data.npz")
    ci = data["ci_sym_vs_implicit"]
    assert ci.shape == (1, 3, 2, 3)  # β, (W_0, W_1, all), (cos, nrmse), (estimate, low, high)
    metrics = list(data["metrics"])
    table = data["align_sym_vs_implicit"][0]
    # the same numbers by two code paths: rounding only
    assert_allclose(ci[0, :, 0, 0], table[:, metrics.index("cos")], rtol=1e-9)
    assert_allclose(ci[0, :, 1, 0], table[:, metrics.index("nrmse")], rtol=1e-9)
    assert np.all(ci[..., 1] <= ci[..., 0]) and np.all(ci[..., 0] <= ci[..., 2])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["intervals"]["trials"] == 3
    assert (out / "figures" / "beta_sym.png").is_file()


def test_population_figure_sets_equal_n_apart_and_draws_the_intervals():
    """alignment_vs_population on synthetic sweeps: the two population sizes that reach N = 40
    (5 × 8 and 40 × 1) are drawn at different x, and each point with t ≥ 3 trials has a bar."""
    import matplotlib.pyplot as plt

    from stdp_ebm.analysis import METRICS, layer_intervals
    from stdp_ebm.experiments.rate_vs_spike_figures import _fig_alignment

    rng = np.random.default_rng(3)
    pops, trials = np.array([5, 40]), np.array([1, 8])
    ref = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    per_trial = [r + 0.2 * rng.normal(size=(8, *r.shape)) for r in ref]
    ci = layer_intervals(per_trial, ref)
    table = np.full((2, 2, 3, len(METRICS)), 0.5)
    data = {"metrics": np.array(METRICS), "layers": np.array(["W_0", "W_1", "all"]),
            "populations": pops, "trials": trials, "sweep_sym_vs_implicit": table,
            "sweep_sym_vs_rate": table, "sweep_noise_nrmse": np.full((2, 2, 3), 0.1),
            "sweep_sym_vs_implicit_ci": np.stack([np.stack([np.full_like(ci, np.nan), ci])] * 2)}
    fig = _fig_alignment(data, {})
    a = fig.axes[0]
    at_40 = sorted({round(float(x), 3) for line in a.get_lines() for x in line.get_xdata()
                    if 35 < x < 46})
    assert len(at_40) == 2 and at_40[1] / at_40[0] > 1.05  # set apart by a factor e^0.06
    # one bar per layer and population at t = 8 (3 layers × 2 populations), none at t = 1
    bars = [c for c in a.containers if len(c.lines[2]) and len(c.lines[2][0].get_segments())]
    assert len(bars) == 6
    plt.close(fig)
