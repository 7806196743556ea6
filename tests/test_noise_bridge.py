"""The bridge to spikes (issue 17, item 3): σ matched to the LIF populations' rate noise, and the
rate model's ±β estimator under that noise (docs/langevin.md, section 3)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import EXPERIMENTS, small_config
from stdp_ebm import runner
from stdp_ebm.activation import HardSigmoid
from stdp_ebm.energy import HOPFIELD
from stdp_ebm.experiments import RunContext
from stdp_ebm.langevin import (burn_in, matched_noise, paired_steps, per_trial, step_noise,
                               trial_delta_w, window_rates)
from stdp_ebm.network import Network, network_from_config
from stdp_ebm.rate import RateModel
from stdp_ebm.rule import ep_delta_w
from stdp_ebm.seeds import Seeds


def _affine_model(net: Network, noise: float) -> RateModel:
    """ρ the identity on a box the states never reach: the dynamics are affine in s and η."""
    return RateModel(net, HardSigmoid(-100.0, 100.0), epsilon=0.5, noise=noise,
                     energy_form=HOPFIELD)


def test_step_noise_is_the_noise_the_step_draws():
    """A generator seeded like the step's gives the step's η: one step recomputed by hand from
    s + ε(R(s + η) − s) agrees to rounding (states ~1, one ~6-term sum: atol 1e-14)."""
    net = network_from_config(small_config(init_scale=0.3), np.random.default_rng(7))
    model = _affine_model(net, 0.1)
    s = model.initial_state(net.x)
    eta = step_noise(model, s, np.random.default_rng(3))
    stepped = model.step(s, rng=np.random.default_rng(3))
    drive = model.drive([s[0]] + [sk + ek for sk, ek in zip(s[1:], eta)])
    for k in range(1, len(s)):
        assert_allclose(stepped[k], s[k] + 0.5 * (drive[k] - s[k]), rtol=0, atol=1e-14)


def test_matched_noise_gives_the_counted_rate_sd():
    """matched_noise's σ (rate s.d. · √m / ρ') against the rate model's own noisy rates ρ(s + η)
    counted over m = 30 steps, measured (window_rates) on 4000 stationary trials. Identity ρ
    (ρ' = 1) and weights × 1e-3, so the noise the states pass on through W is ~1e-3 of the private
    part. The s.d. of 9–18 units per layer from 4000 trials each has a standard error ≈ 0.3 %;
    rtol 2 % is ≈ 6 standard errors."""
    net = network_from_config(small_config(init_scale=0.3), np.random.default_rng(7))
    weak = Network([1e-3 * w for w in net.W], net.b, net.x, net.target)
    target_sd, m, trials = np.array([0.01, 0.02, 0.005]), 30, 4000
    sigmas = matched_noise(target_sd, np.ones(3), m)
    for sd, sigma in zip(target_sd, sigmas):
        model = _affine_model(weak, sigma)
        fixed = _affine_model(weak, 0.0).free_phase(weak.x, tol=1e-12).s
        s = burn_in(model, fixed, trials, 20, np.random.default_rng(1))
        counted = window_rates(model, s, m, seed=2)
        measured = [np.sqrt(np.mean(per_trial(r, trials).var(axis=0, ddof=1))) for r in counted]
        assert_allclose(measured, sd, rtol=0.02)


@pytest.mark.parametrize("common", [True, False])
def test_vanishing_noise_recovers_the_deterministic_symmetric_estimator(common):
    """σ = 1e-12: every trial's ±β ΔW (paired_steps with β_ref = −β, trial_delta_w) is the
    noise-free symmetric estimator, (ρρ(+β) − ρρ(−β)) / 2β from two deterministic relaxations
    (RateModel.relax, rule.ep_delta_w), with or without common random numbers. The samples sit
    ~1e-12 from the fixed point; ΔW entries ≥ 1e-6 are differences of products ~0.1 over 2β = 0.02,
    so rounding is ~1e-14 absolute: rtol 1e-6 with atol 1e-10."""
    net = network_from_config(small_config(init_scale=0.6), np.random.default_rng(7))
    model = RateModel(net, HardSigmoid(0.0, 1.0), epsilon=0.5, noise=1e-12, energy_form=HOPFIELD)
    quiet = dataclasses.replace(model, noise=0.0)
    fixed = quiet.free_phase(net.x, tol=1e-12).s
    beta, steps, trials = 0.01, 30, 5
    s = burn_in(model, fixed, trials, 50, np.random.default_rng(1))
    rows = np.tile(net.target, (trials, 1))
    for _, plus, _, minus in paired_steps(model, s, rows, beta, steps, seed=4, beta_ref=-beta,
                                          common=common):
        pass
    noisy = trial_delta_w(model.rho, minus, plus, 2 * beta, trials)
    ends = [quiet.relax(fixed, b, net.target, steps=steps).s for b in (beta, -beta)]
    exact = ep_delta_w(model.rho, ends[1], ends[0], 2 * beta)
    assert max(np.max(np.abs(e)) for e in exact) > 1e-3  # a real signal
    for got, ref in zip(noisy, exact):
        for trial in got:
            assert_allclose(trial, ref, rtol=1e-6, atol=1e-10)


@pytest.mark.slow
def test_bridge_to_spikes_on_the_standard_net():
    """noise_bridge.toml with n = 5 and 10 (≈ 40 CPU-s): (i) the spiking population noise is
    counting noise, s.d. ∝ n^(−½) per layer (slope −½ ± 0.1; the s.d. of ~200 units from 8 trials
    has ≈ 2 % error, ≈ 0.04 in a two-point slope); (ii) the matched rate model's counted rates are
    within 25 % of the spiking ones (the formula leaves out the noise passed on through W: measured
    +5 … +23 %, docs/langevin.md); (iii) the spiking ΔW spread lies between the rate model's with
    common random numbers (below) and with independent η (above), per layer and n."""
    cfg, exp = runner.resolve(EXPERIMENTS / "noise_bridge.toml",
                              ["noise_bridge.populations=[5, 10]", "noise_bridge.rate_trials=200"])
    data = exp.run(cfg, RunContext(Seeds(cfg["seed"]))).data
    n = data["populations"].astype(float)
    slopes = np.diff(np.log(data["rate_sd_spiking"]), axis=0) / np.diff(np.log(n))[:, None]
    assert np.all(np.abs(slopes + 0.5) <= 0.1), slopes
    ratio = data["rate_sd_rate"] / data["rate_sd_spiking"]
    assert np.all(np.abs(ratio - 1.0) <= 0.25), ratio
    assert np.all(data["dw_sd_paired"] < data["dw_sd_spiking"])
    assert np.all(data["dw_sd_spiking"] < data["dw_sd_independent"])
