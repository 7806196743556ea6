"""Training with the rule: the fast relaxation, the update vs the online rule, backprop baseline,
learning, checkpoint/resume, float32. The experiment end to end is in test_train_experiment.py."""

from __future__ import annotations

import numpy as np
import pytest

from stdp_ebm.activation import HardSigmoid
from stdp_ebm.checkpoint import Checkpoint
from stdp_ebm.data import load_digits
from stdp_ebm.errors import UserError
from stdp_ebm.experiments.train import inference_network
from stdp_ebm.network import random_network
from stdp_ebm.rate import RateModel
from stdp_ebm.references import finite_difference_neg_grad
from stdp_ebm.rule import RuleAccumulator
from stdp_ebm.learning import BPLearner, EPLearner, TrainParams, fit, train_bp, train_ep


@pytest.mark.parametrize("sizes", [[6, 7, 5, 3], [5, 3]])
@pytest.mark.parametrize("beta", [0.0, 0.7, -0.4])
@pytest.mark.parametrize("epsilon", [0.5, 1.0])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_settle_equals_repeated_general_step(sizes, beta, epsilon, dtype):
    rng = np.random.default_rng(1)
    model = RateModel(random_network(sizes, rng, 1.5, -0.2, 0.6).astype(dtype), epsilon=epsilon)
    x, d = rng.uniform(size=(4, sizes[0])).astype(dtype), rng.uniform(size=(4, sizes[-1]))
    s = model.initial_state(x)
    ref = s
    for _ in range(9):
        ref = model.step(ref, beta, d, None, model.input_drive(x))
    fast = model.settle(s, 9, model.input_drive(x), beta, d)
    assert all(sk.dtype == np.dtype(dtype) for sk in fast)
    # the same sums in another order (settle adds the products to ε·(b + input) by BLAS gemm):
    # differences are rounding, ≲ 8 terms × unit roundoff per step, 9 steps of O(1) states:
    # ~1e-14 in float64; ~4e-6 in float32, where unit roundoff is 6e-8 (measured: 2e-7)
    atol = 1e-12 if dtype == "float64" else 5e-6
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    np.testing.assert_array_equal(s[1], model.initial_state(x)[1])   # the input state is untouched


def _online_reference(net, x, d, beta, cfg):
    """Mean over examples of the online integral of the symmetrised rule (RuleAccumulator) along
    the general step-by-step relaxation, one example at a time; bias terms from the end points."""
    model = RateModel(net.copy(), epsilon=cfg["epsilon"])
    dW = [np.zeros_like(w) for w in net.W]
    db = [np.zeros_like(b) for b in net.b[1:]]
    for xi, di in zip(x, d):
        free = model.free_phase(xi[None], steps=cfg["free_steps"]).s
        acc = RuleAccumulator(model.rho, net.sizes)
        nudged = model.nudged_phase(free, di[None], beta, steps=cfg["nudged_steps"], on_step=acc).s
        dW = [a + w / len(x) for a, w in zip(dW, acc.delta_w(beta, "sym"))]
        db = [a + (model.rho(n) - model.rho(f))[0] / (beta * len(x))
              for a, n, f in zip(db, nudged[1:], free[1:])]
    return dW, db


@pytest.mark.parametrize("symmetric", [False, True])
def test_ep_update_is_the_online_rule(symmetric):
    rng = np.random.default_rng(2)
    net = random_network([6, 8, 5, 4], rng, 1.0, 0.0, 0.5)
    x, d = rng.uniform(size=(5, 6)), np.eye(4)[rng.integers(0, 4, 5)]
    cfg = {"epsilon": 0.5, "free_steps": 30, "nudged_steps": 10, "beta": 0.3,
           "symmetric": symmetric, "random_sign": False, "persistent": False, "lrs": [1.0] * 3}
    before = net.copy()
    train = TrainParams.from_mapping({k: v for k, v in cfg.items() if k != "epsilon"})
    EPLearner(RateModel(net, epsilon=0.5), train, 5).update(np.arange(5), x, d, 1.0, rng)
    if symmetric:   # (1/2β)(ρ⁺ρ⁺ − ρ⁻ρ⁻) is the mean of the +β and −β one-sided estimates
        plus, minus = _online_reference(before, x, d, 0.3, cfg), _online_reference(before, x, d,
                                                                                    -0.3, cfg)
        ref_w = [(a + b) / 2 for a, b in zip(plus[0], minus[0])]
        ref_b = [(a + b) / 2 for a, b in zip(plus[1], minus[1])]
    else:
        ref_w, ref_b = _online_reference(before, x, d, 0.3, cfg)
    # the trapezoidal online sum telescopes exactly to the closed form: rounding only
    for k in range(3):
        np.testing.assert_allclose(net.W[k] - before.W[k], ref_w[k], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(net.b[k + 1] - before.b[k + 1], ref_b[k], rtol=1e-9, atol=1e-12)
    assert max(np.abs(w).max() for w in ref_w) > 1e-3                  # a non-trivial update


def test_backprop_baseline_is_the_gradient():
    rng = np.random.default_rng(3)
    net = random_network([5, 6, 3], rng, 0.1, 0.5, 0.5)   # small weights: outputs inside (0, 1)
    net.b[1] = np.array([-0.4, 0.3, 1.4, 0.5, -0.5, 0.7])  # hidden units 0, 2, 4 clipped
    x, d = rng.uniform(size=(4, 5)), np.eye(3)[[0, 1, 2, 0]]

    def feedforward(n):
        h = np.clip(x @ n.W[0] + n.b[1], 0, 1)
        return [np.clip(h @ n.W[1] + n.b[2], 0, 1)]

    before = net.copy()
    BPLearner(net, HardSigmoid(), TrainParams(lrs=[1.0, 1.0])).update(np.arange(4), x, d, 1.0, rng)
    fds = finite_difference_neg_grad(before, feedforward, d, h=1e-6)
    for k, (w, fd) in enumerate(zip(before.W, fds)):
        # C is quadratic in each weight inside the box: central differences are exact up to
        # rounding, ~1e-16 · C / h ≈ 1e-10
        np.testing.assert_allclose(net.W[k] - w, fd, rtol=0, atol=1e-8)
    assert np.all(net.W[0][:, [0, 2, 4]] == before.W[0][:, [0, 2, 4]])  # clipped units pass nothing


TINY = TrainParams(epochs=3, batch_size=20, beta=0.5, symmetric=True, random_sign=False,
                   persistent=True, lrs=[0.1, 0.05], lr_decay=0.9, free_steps=10, nudged_steps=4,
                   eval_batch=64)


@pytest.fixture(scope="module")
def tiny_digits():
    return load_digits(np.random.default_rng(0)).subset(300, 100)


def _ep(seed: int = 5):
    return RateModel(random_network([64, 40, 10], np.random.default_rng(seed), 1.0, 0.0, 0.0),
                     epsilon=1.0)


@pytest.mark.parametrize("extra", [{}, {"input_dropout": 0.2, "weight_decay": 1e-3}])
def test_training_lowers_the_cost_and_resumes_exactly(tiny_digits, tmp_path, extra):
    cfg = TINY.replace(**extra)
    straight = _ep()
    full = train_ep(straight, tiny_digits, cfg, np.random.default_rng(9),
                    Checkpoint(tmp_path / "a", "ep"))
    assert full.train_cost[-1] < 0.6 * full.train_cost[0]
    if not extra:                   # dropout learns slower: 0.65 after these 3 tiny epochs
        assert full.test_error[-1] < 0.5                                 # chance is 0.9

    class Killed(Exception):
        pass

    def kill_after_two(h):
        if h.epochs == 2:
            raise Killed

    with pytest.raises(Killed):
        train_ep(_ep(), tiny_digits, cfg, np.random.default_rng(9),
                 Checkpoint(tmp_path / "b", "ep"), on_epoch=kill_after_two)
    resumed_model = _ep(seed=77)             # fresh weights: all state must come from the checkpoint
    resumed = train_ep(resumed_model, tiny_digits, cfg, np.random.default_rng(123),
                       Checkpoint(tmp_path / "b", "ep"))
    for a, b in zip(resumed_model.net.W + resumed_model.net.b, straight.net.W + straight.net.b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.test_error, full.test_error)
    np.testing.assert_array_equal(resumed.train_cost, full.train_cost)


def test_backprop_baseline_learns(tiny_digits):
    net = random_network([64, 40, 10], np.random.default_rng(5), 1.0, 0.0, 0.0)
    h = train_bp(net, HardSigmoid(), tiny_digits, TINY, np.random.default_rng(9))
    assert h.train_cost[-1] < 0.8 * h.train_cost[0]


def test_checkpoint_of_another_network_is_refused(tiny_digits, tmp_path):
    train_ep(_ep(), tiny_digits, TINY.replace(epochs=1), np.random.default_rng(0),
             Checkpoint(tmp_path, "ep"))
    other = RateModel(random_network([64, 30, 10], np.random.default_rng(0)), epsilon=1.0)
    with pytest.raises(UserError, match="does not match"):
        train_ep(other, tiny_digits, TINY, np.random.default_rng(0), Checkpoint(tmp_path, "ep"))


DEFAULTS = TrainParams()


@pytest.mark.parametrize("learner", ["ep", "bp"])
def test_weight_decay_adds_minus_lr_lambda_w_to_weights_only(learner):
    rng = np.random.default_rng(4)
    net = random_network([6, 8, 4], rng, 1.0, 0.0, 0.5)
    x, d = rng.uniform(size=(5, 6)), np.eye(4)[rng.integers(0, 4, 5)]
    lrs, scale, lam = [0.3, 0.2], 0.5, 0.1

    def step(n, wd):
        c = DEFAULTS.replace(lrs=lrs, symmetric=True, weight_decay=wd)
        learn = EPLearner(RateModel(n, epsilon=0.5), c, 5) if learner == "ep" else \
            BPLearner(n, HardSigmoid(), c)
        learn.update(np.arange(5), x, d, scale, np.random.default_rng(0))

    plain, decayed = net.copy(), net.copy()
    step(plain, 0.0)
    step(decayed, lam)
    for k, lr in enumerate(lrs):
        np.testing.assert_allclose(decayed.W[k], plain.W[k] - lr * scale * lam * net.W[k],
                                   rtol=0, atol=1e-12)
        np.testing.assert_array_equal(decayed.b[k + 1], plain.b[k + 1])


class _Recorder:
    """A learner that records the inputs fit() hands it (and predicts nothing useful)."""

    def __init__(self) -> None:
        self.net = random_network([64, 5, 10], np.random.default_rng(0))
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []
        self.predicted: list[np.ndarray] = []

    def update(self, idx, x, d, lr_scale, rng):
        self.seen.append((idx, x.copy()))
        return d

    def predict(self, x):
        self.predicted.append(x.copy())
        return np.zeros((len(x), 10))

    def extra_state(self):
        return {}

    def load_extra_state(self, arrays):
        return None


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_input_dropout_masks_training_pixels_afresh_and_predicts_from_the_mean(tiny_digits, p):
    rec = _Recorder()
    fit(rec, tiny_digits, DEFAULTS.replace(epochs=2, input_dropout=p), np.random.default_rng(1))
    per_epoch = len(rec.seen) // 2
    masks = [np.zeros(tiny_digits.x_train.shape, bool) for _ in range(2)]
    for i, (idx, x) in enumerate(rec.seen):
        clean = tiny_digits.x_train[idx]
        assert np.all((x == clean) | (x == 0))                     # a pixel is kept or dropped
        masks[i // per_epoch][idx] = x != 0
    lit = tiny_digits.x_train != 0
    dropped = [1 - m[lit].mean() for m in masks]
    if p == 0.0:
        assert dropped == [0.0, 0.0]
    else:
        assert all(abs(f - p) < 0.02 for f in dropped)              # ~26k lit pixels per epoch
        assert not np.array_equal(masks[0], masks[1])               # fresh for every presentation
    # predictions (after each epoch, test set in one chunk) see the mean input (1 − p)·x
    assert len(rec.predicted) == 2
    for x in rec.predicted:
        np.testing.assert_array_equal(x, (1 - p) * tiny_digits.x_test if p else tiny_digits.x_test)


def test_saved_network_with_input_dropout_predicts_from_the_mean_input():
    rng = np.random.default_rng(6)
    net = random_network([6, 8, 4], rng, 1.0, 0.0, 0.5)
    x = rng.uniform(size=(5, 6))
    w0 = net.W[0].copy()
    saved = inference_network(net, 0.3)
    np.testing.assert_array_equal(net.W[0], w0)                    # the trained weights are kept
    mean_input = RateModel(net, epsilon=1.0).free_phase(0.7 * x, steps=20).s
    clean = RateModel(saved, epsilon=1.0).free_phase(x, steps=20).s
    for a, b in zip(mean_input[1:], clean[1:]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert inference_network(net, 0.0) is net


def test_float32_training_step_matches_float64():
    """dynamics.dtype = float32 (issue 14): one mini-batch's ΔW of the ±β rule in float32 against the
    same computation in float64 (the reference), on a 2-hidden-layer net relaxed with ε = 1 as the
    MNIST configs are. float32 keeps 7 digits; 50 relaxation steps and the 1/(2β) difference of two
    nudged states may cost some of them (measured: 5e-7 of the largest entry), hence 1e-5 of the
    largest entry. Weights and states stay float32."""
    rng = np.random.default_rng(3)
    net = random_network([30, 40, 40, 10], rng, 0.5, 0.0, 0.0)
    x, d = rng.uniform(size=(16, 30)), np.eye(10)[rng.integers(0, 10, 16)]
    cfg = TrainParams(symmetric=True, free_steps=50, nudged_steps=8, lrs=[0.4, 0.1, 0.01])
    out = {}
    for dt in ("float64", "float32"):
        learner = EPLearner(RateModel(net.astype(dt), epsilon=1.0), cfg, len(x))
        out[dt] = learner.delta(x.astype(dt), d.astype(dt), np.random.default_rng(0))
        learner.update(np.arange(len(x)), x.astype(dt), d.astype(dt), 1.0, np.random.default_rng(0))
        assert all(w.dtype == dt for w in learner.net.W + learner.net.b)
    assert all(s.dtype == np.float32 for s in out["float32"][2])
    for w64, w32 in zip(out["float64"][0], out["float32"][0]):
        assert w32.dtype == np.float32
        np.testing.assert_allclose(w32, w64, rtol=0, atol=1e-5 * np.max(np.abs(w64)))
