"""The training fast paths against the plain formulas they replace (issue 14, speed): ρ(x)W_0 over the
active inputs only, ΔW_0 applied from its factors on those rows, and several nudged phases relaxed as
one batch (one β per example)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.network import random_network
from stdp_ebm.rate import RateModel, active_inputs
from stdp_ebm.rule import LowRank, ep_delta_w, ep_input_factors
from stdp_ebm.learning import EPLearner, TrainParams

# Float64 throughout. The fast paths drop exact zero terms or regroup the same products, so they differ
# from the plain formulas by rounding only: a few ulp of O(1) sums over ≤ 40 terms, far below 1e-12.
ATOL = 1e-12


def _sparse_inputs(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    """Images whose first half of pixels is off in every example (as MNIST's borders)."""
    x = rng.uniform(size=(batch, n)) * (rng.uniform(size=(batch, n)) < 0.5)
    x[:, : n // 2] = 0.0
    return x


def test_input_drive_over_active_inputs_is_the_full_product():
    rng = np.random.default_rng(0)
    model = RateModel(random_network([40, 30, 5], rng, 1.0, -0.2, 0.2))
    x = _sparse_inputs(rng, 6, 40)
    rows = active_inputs(model.rho(x))
    assert rows is not None and np.all(rows >= 20)          # the sparse path is the one taken
    assert_allclose(model.input_drive(x), model.rho(x) @ model.net.W[0], rtol=0, atol=ATOL)
    dense = rng.uniform(0.1, 1.0, size=(6, 40))
    assert active_inputs(model.rho(dense)) is None          # every input active: the full product


@pytest.mark.parametrize("epsilon", [0.5, 1.0])
@pytest.mark.parametrize("projected", [True, False])
def test_settle_with_one_beta_per_example_is_separate_phases(epsilon, projected):
    """Two nudged phases (−β and +β) stacked as one batch against each relaxed alone by the general
    step (the plain Eq 1–2 with Eq 13's nudge), from one free state."""
    rng = np.random.default_rng(1)
    model = RateModel(random_network([7, 9, 6, 4], rng, 1.2, -0.2, 0.5), epsilon=epsilon,
                      projected=projected)
    x, d = rng.uniform(size=(5, 7)), np.eye(4)[rng.integers(0, 4, 5)]
    drive = model.input_drive(x)
    s0 = model.settle(model.initial_state(x), 15, drive)
    beta = 0.4
    both = model.settle([np.concatenate([sk, sk]) for sk in s0], 8, np.concatenate([drive, drive]),
                        np.repeat([-beta, beta], 5)[:, None], np.concatenate([d, d]))
    for half, b in ((slice(0, 5), -beta), (slice(5, 10), beta)):
        ref = s0
        for _ in range(8):
            ref = model.step(ref, b, d, None, drive)
        for got, want in zip(both[1:], ref[1:]):
            assert_allclose(got[half], want, rtol=0, atol=ATOL)


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_low_rank_input_update_is_the_plain_closed_form(sparse, dtype):
    """ΔW_0 applied from its factors (one gemm on the rows of the inputs that were on) against
    W_0 + α·(ρ(x)ᵀρ(h^β) − ρ(x)ᵀρ(h⁰))/(β·batch), the closed form with every row computed."""
    rng = np.random.default_rng(2)
    model = RateModel(random_network([30, 12, 4], rng, 1.0, 0.0, 0.3).astype(dtype))
    x = _sparse_inputs(rng, 5, 30) if sparse else rng.uniform(0.1, 1.0, size=(5, 30))
    x, d = x.astype(dtype), np.eye(4, dtype=dtype)[rng.integers(0, 4, 5)]
    drive = model.input_drive(x)
    free = model.settle(model.initial_state(x), 20, drive)
    nudged = model.settle(free, 6, drive, 0.5, d)
    assert (active_inputs(model.rho(x)) is not None) == sparse
    r = model.rho
    plain = (r(x).T @ r(nudged[1]) - r(x).T @ r(free[1])) / (0.5 * 5)
    # float32: the plain form subtracts two sums of 5 products of O(1) (1.2e-7 relative rounding
    # each), so the two forms may differ by a few float32 ulp of O(1): 1e-6
    tol = ATOL if dtype == "float64" else 1e-6
    assert_allclose(ep_delta_w(r, free, nudged, 0.5)[0], plain, rtol=0, atol=tol)
    w = model.net.W[0].copy()
    LowRank(*ep_input_factors(r, free, nudged, 0.5)).add_to(w, 0.3)
    assert_allclose(w, model.net.W[0] + 0.3 * plain, rtol=0, atol=tol)
    if sparse:                                              # rows of inputs that were off: untouched
        off = np.flatnonzero(~r(x).any(axis=0))
        assert np.array_equal(w[off], model.net.W[0][off])
    with pytest.raises(ValueError, match="share the clamped input"):
        ep_input_factors(r, free, [x.copy()] + nudged[1:], 0.5)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_update_applies_the_plain_delta(symmetric, weight_decay):
    """update (ΔW_0 on the active rows, stacked ±β phases) moves the weights by exactly
    lr·(ΔW − λW) of :meth:`EPLearner.delta`'s full matrices (the closed form, all rows)."""
    rng = np.random.default_rng(3)
    net = random_network([40, 20, 20, 5], rng, 1.0, 0.0, 0.3)
    x, d = _sparse_inputs(rng, 8, 40), np.eye(5)[rng.integers(0, 5, 8)]
    cfg = TrainParams(symmetric=symmetric, random_sign=False, free_steps=25, nudged_steps=6,
                      lrs=[0.3, 0.2, 0.1], weight_decay=weight_decay)
    learner = EPLearner(RateModel(net, epsilon=1.0), cfg, len(x))
    before = net.copy()
    dW, db, _ = learner.delta(x, d, np.random.default_rng(0))
    learner.update(np.arange(len(x)), x, d, 0.5, np.random.default_rng(0))
    for lr, w0, w1, g in zip(cfg.lrs, before.W, net.W, dW):
        assert_allclose(w1, w0 + 0.5 * lr * (g - weight_decay * w0), rtol=0, atol=ATOL)
    for lr, b0, b1, g in zip(cfg.lrs, before.b[1:], net.b[1:], db):
        assert_allclose(b1, b0 + 0.5 * lr * g, rtol=0, atol=ATOL)
