"""Early inference and the rule under Langevin noise (Eq 1–2 with η ≠ 0), issue 17."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import EXPERIMENTS, small_config
from stdp_ebm import runner
from stdp_ebm.activation import HardSigmoid
from stdp_ebm.energy import HOPFIELD
from stdp_ebm.experiments import RunContext
from stdp_ebm.langevin import burn_in, paired_steps
from stdp_ebm.network import network_from_config
from stdp_ebm.rate import RateModel
from stdp_ebm.references import feedforward_backprop
from stdp_ebm.seeds import Seeds


def _run(config: str, *overrides: str):
    cfg, exp = runner.resolve(EXPERIMENTS / config, list(overrides))
    return exp.run(cfg, RunContext(Seeds(cfg["seed"])))


ZERO_NOISE = ("early_inference.epsilons=[0.05, 0.1]", "early_inference.nudges=[0.01]",
              "early_inference.trials=[2, 4]", "early_inference.repeats=2",
              "early_inference.burn_in=20")


def test_vanishing_noise_recovers_the_deterministic_early_inference():
    """σ → 0: the noisy estimator (burn-in, K trials, common random numbers) gives the noise-free
    ratios, with Hopfield's energy (the same noise-free dynamics as Eq 6 here). The samples sit
    ~σ = 1e-12 from the fixed point; the rounding of the smallest first change
    (β ε^4 |∂C/∂h| ≈ 1e-9) is ~1e-16 / 1e-9 = 1e-7 relative, hence rtol 1e-6."""
    exact = _run("early_inference.toml", *ZERO_NOISE, "dynamics.energy=hopfield")
    noisy = _run("early_inference.toml", *ZERO_NOISE, "dynamics.energy=hopfield",
                 "dynamics.noise=1e-12")
    assert np.all(noisy.data["first_step"] == exact.data["first_step"])
    assert_allclose(noisy.data["ratio"], exact.data["ratio"], rtol=1e-6)
    assert_allclose(noisy.data["slope"], exact.data["slope"], rtol=1e-6)


def test_eq6_gate_makes_the_zero_noise_limit_discontinuous():
    """With Eq 6's drive R = ρ'(s + η)(b + Wρ(s + η)) and the hard sigmoid, a unit pinned at 0 by a
    negative drive loses that drive whenever η < 0 (ρ' = 0 outside [β1, β2]), however small σ: the
    nudge then lifts it. So even σ = 1e-12 moves the ratio of h_2 by several per cent
    (measured 7.7 %); the noise experiments use Hopfield's energy (docs/langevin.md)."""
    exact = _run("early_inference.toml", *ZERO_NOISE)
    noisy = _run("early_inference.toml", *ZERO_NOISE, "dynamics.noise=1e-12")
    gap = np.abs(noisy.data["ratio"] - exact.data["ratio"])[:, :, 1:]
    assert np.max(gap) > 0.01


def _affine_model(net, noise: float) -> RateModel:
    """ρ the identity on a box the states never reach: the dynamics are affine in s and η."""
    return RateModel(net, HardSigmoid(-100.0, 100.0), epsilon=0.5, noise=noise,
                     energy_form=HOPFIELD)


def test_common_random_numbers_cancel_the_noise_exactly():
    """Where the dynamics are affine the paired difference of every single trial is
    −β ε^(k+1) ∂C/∂h_k at that trial's sample (Eq 19/24/25), the noise cancelling to rounding:
    the differences (1e-8 … 1e-4) are taken between states of size ~1, whose rounding over ≤ 3 steps
    of ~6-term sums is a few 1e-16 (atol 1e-14, still 1e-6 of the smallest change). With independent
    noise the same difference is dominated by the noise (error > 10× the signal)."""
    small_net = network_from_config(small_config(init_scale=0.3), np.random.default_rng(7))
    model, trials, beta, eps = _affine_model(small_net, 0.05), 50, 1e-3, 0.1
    fixed = _affine_model(small_net, 0.0).free_phase(small_net.x, tol=1e-12).s
    s = burn_in(model, fixed, trials, 100,
                np.random.default_rng(1))
    assert max(np.max(np.abs(sk)) for sk in s) < 10.0  # far inside the box: affine dynamics
    target = np.tile(small_net.target, (trials, 1))
    _, dC_dh = feedforward_backprop(small_net, model.rho, s, target, projected=False,
                                    energy=HOPFIELD)
    fast = RateModel(small_net, model.rho, epsilon=eps, noise=model.noise, energy_form=HOPFIELD)
    n_free = len(s) - 1
    steps = list(paired_steps(fast, s, target, beta, n_free, seed=7))
    independent = fast.relax(s, 0.0, None, steps=n_free, rng=np.random.default_rng(8)).s
    for t, (_, nudged, _, free) in enumerate(steps, 1):
        for k in range(t, n_free):               # layers the nudge has not reached: identical
            assert np.all(nudged[n_free - k] == free[n_free - k])
    for k in range(n_free):                      # k from the output: layer index n_free − k
        layer = n_free - k
        _, nudged, _, free = steps[k]            # after step k + 1
        expected = -beta * eps ** (k + 1) * dC_dh[layer]
        assert_allclose(nudged[layer] - free[layer], expected, rtol=1e-9, atol=1e-14)
    signal = -beta * eps ** n_free * dC_dh[1]
    without_crn = steps[-1][1][1] - independent[1]
    assert np.linalg.norm(without_crn - signal) > 10 * np.linalg.norm(signal)


@pytest.fixture(scope="module")
def noisy_early_inference():
    return _run("early_inference_noise.toml", "early_inference.noises=[0.01]",
                "early_inference.epsilons=[0.01, 0.02]", "early_inference.nudges=[0.001]")


@pytest.mark.slow
def test_early_inference_holds_in_expectation_at_small_noise(noisy_early_inference):
    """σ = 0.001 (stationary s.d. ≈ 2e-4 per unit), K = 1024 trials, each of 16 independent groups:
    the mean first change of every layer is within 5 % of −β ε^(k+1) ∂C/∂h_k at the noise-free
    fixed point (the issue's number; measured 0.45 % at most)."""
    data = noisy_early_inference.data
    assert data["trials"][-1] >= 1000 and float(data["noise"]) == 0.001
    assert np.all(np.abs(data["noise_ratio_by_trials"][-1, 0] - 1.0) <= 0.05)


@pytest.mark.slow
def test_statistical_error_falls_as_one_over_root_k(noisy_early_inference):
    """The spread of the ratio over 16 independent groups of K trials, K = 16 … 1024: fitted
    log-log slope −½ ± 0.1 for every layer."""
    slopes = noisy_early_inference.data["noise_stat_slope"]
    assert np.all(np.abs(slopes + 0.5) <= 0.1), slopes


@pytest.mark.slow
def test_the_noise_gate_accounts_for_the_bias(noisy_early_inference):
    """σ = 0.01: the mean first change of the hidden layers falls > 10 % short of the fixed-point
    reference (an output unit sits 0.0014 below the bound), yet is within 1 % of the reference whose
    back-propagation passes each unit's error with the probability that its noisy rate is inside
    the box (stdp_ebm.langevin.gate_probability), averaged over the samples."""
    data = noisy_early_inference.data
    sweep = data["noise_sweep"][int(np.flatnonzero(data["noises"] == 0.01)[0])]
    rows = list(data["noise_sweep_rows"])
    assert np.all(np.abs(sweep[rows.index("ratio"), 1:] - 1.0) > 0.1)
    assert np.all(np.abs(sweep[rows.index("ratio_gated"), 1:] - 1.0) < 0.01)


@pytest.mark.slow
def test_rule_under_noise_follows_the_noise_free_gradient():
    """alignment_noise.toml (σ = 0.001, β = 0.01, 3000 trials per example): per weight matrix the
    trial-averaged symmetrised rule has cos ≥ 0.99 with the implicit gradient of the noise-free
    model, for both estimators (the issue's number)."""
    result = _run("alignment_noise.toml", "alignment.noises=[]")
    data = result.data
    assert float(data["noise"]) == 0.001 and data["trials"][-1] == 3000
    assert np.all(data["sweep_cos"][0, :, :-1] >= 0.99)
    assert np.all(np.abs(data["sweep_norm"][0, :, :-1] - 1.0) <= 0.05)


def test_rule_bias_in_the_box_is_the_change_of_the_stationary_covariance():
    """Affine dynamics (no bound within reach): the noise leaves the means at the noise-free fixed
    points, so the paired estimator's mean exceeds the noise-free rule by (Σ^β − Σ^0)/β, the change
    of the states' stationary covariance under the nudge, with Σ from the discrete Lyapunov
    equation Σ = AΣAᵀ + ε²σ² W Wᵀ (A the step's linear map over the free units; W_0 has none, x is
    clamped). Quadratic in σ. Compared within the statistical error of 20000 trials per example
    (10 groups): RMS z-score below 2 per weight matrix, while the bias itself is > 10 errors."""
    from scipy.linalg import solve_discrete_lyapunov
    from stdp_ebm.rule import ep_delta_w

    net = network_from_config(small_config(init_scale=0.3), np.random.default_rng(7))
    sigma, eps, beta, trials, steps = 2.0, 0.5, 0.1, 20000, 80
    fixed = _affine_model(net, 0.0).free_phase(net.x, tol=1e-13).s
    quiet_end = _affine_model(net, 0.0).relax(fixed, beta, net.target, steps=steps).s
    noise_free = ep_delta_w(HardSigmoid(-100.0, 100.0), fixed, quiet_end, beta)
    model = _affine_model(net, sigma)
    s = burn_in(model, fixed, trials, 100, np.random.default_rng(1))
    for _, nudged, _, free in paired_steps(model, s, np.tile(net.target, (trials, 1)), beta, steps,
                                           seed=5):
        pass
    sizes = net.sizes[1:]
    w = np.zeros((sum(sizes), sum(sizes)))           # couplings among the free units
    edges = np.cumsum([0] + sizes)
    for k in range(1, len(net.W)):
        w[edges[k - 1]:edges[k], edges[k]:edges[k + 1]] = net.W[k]
    w = w + w.T

    def covariance(b: float) -> np.ndarray:
        a = (1 - eps) * np.eye(len(w)) + eps * w
        a[edges[-2]:, edges[-2]:] -= eps * b * np.eye(sizes[-1])
        return solve_discrete_lyapunov(a, eps**2 * sigma**2 * w @ w.T)

    change = (covariance(beta) - covariance(0.0)) / beta
    rows = len(net.x) * trials // 10
    groups = [ep_delta_w(model.rho, [a[g * rows:(g + 1) * rows] for a in free],
                         [a[g * rows:(g + 1) * rows] for a in nudged], beta) for g in range(10)]
    for k in range(len(net.W)):
        expected = noise_free[k] + (change[edges[k - 1]:edges[k], edges[k]:edges[k + 1]]
                                    if k > 0 else 0.0)
        runs = np.array([g[k] for g in groups])
        se = runs.std(axis=0, ddof=1) / np.sqrt(10)
        z = (runs.mean(axis=0) - expected) / se
        assert np.sqrt(np.mean(z**2)) < 2.0, (k, np.sqrt(np.mean(z**2)))
        if k > 0:  # the bias itself is resolved: far outside the statistical error
            bias_z = (runs.mean(axis=0) - noise_free[k]) / se
            assert np.sqrt(np.mean(bias_z**2)) > 10.0
