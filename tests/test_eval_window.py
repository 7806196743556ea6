"""The spiking learner's evaluation window (``[learner] eval_free_ms``,
stdp_ebm/spiking/learner.py).

A 3-4-2 network on Brian2's numpy target (nothing to compile: tiny populations in seconds), as in
tests/test_spiking_resume.py. Predictions count over the evaluation window; the learner returns to
its training state (network variables, clock, random numbers) before it trains again, so its
weights after two epochs of :func:`stdp_ebm.learning.fit` are the same bits whatever the window and
however often it was evaluated. The window's effect is checked against an independent reference: a
network built with that window as its training free phase, same seed. Without a window (the
default) the learner evaluates as it did before the key: a free phase of the engine on the training
stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from stdp_ebm.activation import TabulatedRho
from stdp_ebm.data import Dataset
from stdp_ebm.energy import EQ6
from stdp_ebm.errors import ConfigError
from stdp_ebm.network import network_from_config
from stdp_ebm.runner import resolve
from stdp_ebm.spiking.learner import SpikingLearner
from stdp_ebm.spiking.pool import ParallelSpikingLearner
from stdp_ebm.learning import TrainParams, fit
from conftest import EXPERIMENTS, numpy_sp, small_config

BATCH = 2
TRAIN_MS = 10.0
RHO = TabulatedRho(np.linspace(-0.5, 1.5, 21), np.linspace(0.0, 1.2, 21))


def _net():
    return network_from_config(small_config(sizes=(3, 4, 2), batch=BATCH, init_scale=0.5),
                               np.random.default_rng(5))


def _sp(free_ms: float = TRAIN_MS):
    return numpy_sp(neurons_per_unit=3, settle_ms=5.0, free_ms=free_ms, nudged_ms=10.0)


def _learner(models, eval_free_ms: float | None, free_ms: float = TRAIN_MS, seed: int = 3):
    return SpikingLearner(_net(), RHO, _sp(free_ms), models, seed, BATCH, [0.2, 0.2], EQ6,
                          eval_free_ms=eval_free_ms)


def _data() -> Dataset:
    rng = np.random.default_rng(11)
    x = rng.uniform(0.0, 1.0, (8, 3))
    y = np.eye(2)[rng.integers(0, 2, 8)]
    return Dataset("tiny", x[:4], y[:4], x[4:], y[4:])


def _fit(learner, eval_batch: int):
    cfg = TrainParams(epochs=2, batch_size=BATCH, lr_decay=1.0, eval_batch=eval_batch)
    return fit(learner, _data(), cfg, np.random.default_rng(2))


@pytest.mark.brian2
def test_training_is_the_same_whatever_the_evaluation_window(models):
    """Two epochs of fit() with the training window (10 ms) given as the evaluation window and
    with a 4× window evaluated in chunks of 1 (four predictions per evaluation instead of two):
    same train errors, same weights, same checkpointed network state to the bit; only the test
    predictions differ."""
    short, long = _learner(models, TRAIN_MS), _learner(models, 4 * TRAIN_MS)
    h_short, h_long = _fit(short, BATCH), _fit(long, 1)
    assert h_short.train_error == h_long.train_error
    for a, b in zip(short.net.W + short.net.b, long.net.W + long.net.b):
        np.testing.assert_array_equal(a, b)  # the same random numbers from the same state
    state_short, state_long = short.extra_state(), long.extra_state()
    assert state_short.keys() == state_long.keys()
    for k in state_short:
        np.testing.assert_array_equal(state_short[k], state_long[k], err_msg=k)
    x = _data().x_test
    assert not np.array_equal(short.predict(x[:BATCH]), long.predict(x[:BATCH]))


@pytest.mark.brian2
def test_a_prediction_counts_over_the_evaluation_window_and_leaves_no_trace(models):
    """A learner evaluating over 40 ms predicts what a network whose training free phase is
    40 ms predicts (same seed, same weights: the same random numbers, so the same bits), and the
    default window is the training one. The state a checkpoint takes after predictions is the
    state before them; the training step after them equals one that had no predictions before."""
    x = _data().x_test[:BATCH]
    evaluating = _learner(models, 4 * TRAIN_MS)
    reference = _learner(models, None, free_ms=4 * TRAIN_MS)
    np.testing.assert_array_equal(evaluating.predict(x), reference.predict(x))
    default, explicit = _learner(models, None), _learner(models, TRAIN_MS)
    np.testing.assert_array_equal(default.predict(x), explicit.predict(x))

    d = _data().y_test[:BATCH]
    plain, evaluated = _learner(models, None), _learner(models, 4 * TRAIN_MS)
    before = evaluated.extra_state()
    evaluated.predict(x)
    evaluated.predict(x[:1])
    after = evaluated.extra_state()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    evaluated.predict(x)
    got, want = evaluated.delta(x, d), plain.delta(x, d)
    for a, b in zip(got[0] + got[1] + [got[2]], want[0] + want[1] + [want[2]]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.brian2
def test_without_a_window_a_prediction_is_the_training_free_phase_as_before(models):
    """The default (None): predict is the engine's free phase on the training stream, and the
    training step after it continues from the state it left (the learner before the key)."""
    data = _data()
    x, d, x_test = data.x_train[:BATCH], data.y_train[:BATCH], data.x_test[:BATCH]
    default, engine = _learner(models, None), _learner(models, None)
    y = default.predict(x_test)
    engine._load(x_test)
    np.testing.assert_array_equal(y, engine.sn.free_phase()[1])  # trials = 1: ŷ per copy
    got, want = default.delta(x, d), engine.delta(x, d)
    for a, b in zip(got[0] + got[1] + [got[2]], want[0] + want[1] + [want[2]]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.brian2
def test_two_workers_evaluate_over_the_window_and_train_as_if_they_had_not(models):
    """[learner] workers = 2 (one worker per example): worker 1's prediction over 40 ms equals
    that of a one-process learner with its seed whose training free phase is 40 ms; the
    checkpoint after the predictions holds the state before them, and from it a training step
    preceded by predictions gives the bits of one without."""
    data = _data()
    x, d, x_test = data.x_train[:BATCH], data.y_train[:BATCH], data.x_test[:BATCH]
    par = ParallelSpikingLearner(_net(), RHO, _sp(), models, [1, 2], BATCH, [0.2, 0.2], EQ6,
                                 eval_free_ms=4 * TRAIN_MS)
    try:
        y = par.predict(x_test)
        state = par.extra_state()
        plain = par.delta(x, d)
        par.load_extra_state(state)
        par.predict(x_test)
        par.predict(x_test[:1])
        evaluated = par.delta(x, d)
    finally:
        par.close()
    one = SpikingLearner(_net(), RHO, _sp(4 * TRAIN_MS), models, 1, 1, [0.2, 0.2], EQ6)
    np.testing.assert_array_equal(y[:1], one.predict(x_test[:1]))
    for u, v in zip(plain[0] + plain[1] + [plain[2]],
                    evaluated[0] + evaluated[1] + [evaluated[2]]):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("value", ["-1.0", "inf", "nan", "0.05"])
def test_a_bad_evaluation_window_is_one_line(value):
    """Negative, infinite, not a number, or shorter than one time step (dt 0.2 ms in this
    config): a ConfigError of one line that names the key."""
    with pytest.raises(ConfigError, match=r"eval_free_ms") as info:
        resolve(EXPERIMENTS / "train_spiking.toml", [f"learner.eval_free_ms={value}"])
    assert "\n" not in str(info.value)


def test_the_default_evaluation_window_is_the_training_one():
    cfg = resolve(EXPERIMENTS / "train_spiking.toml", [])[0]
    assert cfg["learner"]["eval_free_ms"] == 0.0  # 0: [spiking] free_ms
    assert resolve(EXPERIMENTS / "train_spiking.toml",
                   ["learner.eval_free_ms=400"])[0]["learner"]["eval_free_ms"] == 400.0


def test_the_learner_refuses_a_window_that_is_not_positive(models):
    with pytest.raises(ValueError, match="eval_free_ms"):
        _learner(models, 0.0)


@pytest.mark.slow
@pytest.mark.brian2
def test_a_resumed_run_with_an_evaluation_window_gives_the_bits_of_an_uninterrupted_one(
        tmp_path, monkeypatch):
    """The quick task through the command line with eval_free_ms = 400 (the evaluation kept apart
    from training): stopped after the spiking learner's first epoch and run again, every array of
    data.npz equals the uninterrupted run's (as tests/test_spiking_resume.py checks for the
    default): the checkpoint holds the training state, not the evaluation's."""
    from stdp_ebm import cli
    from stdp_ebm.checkpoint import Checkpoint
    from stdp_ebm.experiments import train_spiking

    stop = [True]

    class StopAfterEpoch1(Checkpoint):
        def save(self, learner, history, rng):
            super().save(learner, history, rng)
            if self.path.stem == "spk" and history.epochs == 1 and stop[0]:
                raise KeyboardInterrupt

    sets = ["calibration.points=11", "calibration.neurons_per_point=20",
            "calibration.duration_ms=200.0", "task.n_train=20", "task.n_test=10",
            "train.epochs=2", "learner.eval_free_ms=400"]

    def args(out):
        return ["run", str(EXPERIMENTS / "train_spiking_quick.toml"), "--out", str(out),
                "--quiet"] + [a for s in sets for a in ("--set", s)]

    monkeypatch.setattr(train_spiking, "Checkpoint", StopAfterEpoch1)
    assert cli.main(args(tmp_path / "run")) == 130
    stop[0] = False
    assert cli.main(args(tmp_path / "run")) == 0
    assert cli.main(args(tmp_path / "straight")) == 0
    with np.load(tmp_path / "run" / "data.npz") as a, \
            np.load(tmp_path / "straight" / "data.npz") as b:
        assert a.files == b.files and "spk_W0" in a.files
        for k in a.files:
            if not k.endswith("wall_s"):  # measured seconds differ by nature
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
