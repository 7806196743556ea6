"""Training with the Brian2 rule synapses (experiments/train_spiking.py, spiking/learner.py).

Default tests: compiled spiking networks (module fixtures) on the quick 2-class task, with the input
as Poisson trains and as a constant current; their first mini-batch ΔW is compared with the
implicit gradient of the calibrated rate model (implicit differentiation of the free fixed point: no
rule code), one update is checked to move W by lr·ΔW in place, reusing the network, and the rule
synapses stepped every 1 ms are checked against every step (same seed, same spikes). The 10-class
accuracy target of the issue is ``slow``.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.errors import ConfigError
from stdp_ebm.experiments import RunContext
from stdp_ebm.runner import resolve
from stdp_ebm.seeds import Seeds
from stdp_ebm.learning import apply_update
from stdp_ebm.rate import DynamicsParams
from stdp_ebm.spiking import SpikingParams
from conftest import EXPERIMENTS

CONFIG = EXPERIMENTS / "train_spiking.toml"
# rule synapses stepped every 1 ms vs every 0.1 ms, same spikes: measured relative ΔW difference
# 0.0135/0.0132 (W_0/W_1), the filtered rates' drift over the 0.9 ms by which the last sample moves;
# a rule that lost or double-counted steps would be off by tens of per cent
RULE_DT_TOL = 0.05
QUICK = EXPERIMENTS / "train_spiking_quick.toml"
FAST = ["calibration.points=21", "calibration.neurons_per_point=50",
        "calibration.duration_ms=500.0", "task.n_train=20", "task.n_test=10",
        "network.init_scale=0.6", "spiking.trials=2"]


def _tiny(overrides: list[str]) -> dict:
    """Config, task, rate model and spiking learner, plus both learners' first-batch ΔW."""
    from stdp_ebm.experiments.train_spiking import (build, first_batch_gradient, load_task,
                                                    rate_train_cfg)
    from stdp_ebm.learning import EPLearner

    cfg = resolve(QUICK, FAST + overrides)[0]
    ctx = RunContext(Seeds(cfg["seed"]))
    data = load_task(cfg["task"], ctx.seeds.rng("data"))
    net, _, model, spk = build(cfg, ctx, data)
    t = rate_train_cfg(cfg)
    x, d = data.x_train[:t.batch_size], data.y_train[:t.batch_size]
    rate = EPLearner(model, t, len(x)).delta(x, d, np.random.default_rng(0))
    return {"cfg": cfg, "t": t, "x": x, "d": d, "net": net, "spk": spk,
            "dW_spk": spk.delta(x, d)[0], "dW_rate": rate[0],
            "implicit": first_batch_gradient(model, x, d, DynamicsParams.of(cfg))}


@pytest.fixture(scope="module")
def tiny():
    return _tiny([])


@pytest.fixture(scope="module")
def tiny_current():
    """The input as the constant current ρ(x)W_0, the rule synapses stepped every 1 ms."""
    return _tiny(["learner.input=current", "learner.rule_dt_ms=1.0"])


@pytest.mark.brian2
@pytest.mark.parametrize("case, learner", [("tiny", "dW_spk"), ("tiny", "dW_rate"),
                                           ("tiny_current", "dW_spk")])
def test_first_batch_dw_follows_the_implicit_gradient(case, learner, request):
    tiny = request.getfixturevalue(case)
    for k, (s, r) in enumerate(zip(tiny[learner], tiny["implicit"])):
        cos = float(np.sum(s * r) / np.linalg.norm(s) / np.linalg.norm(r))
        big = np.abs(r) > 0.5 * np.abs(r).max()  # entries well above the spiking noise
        agree = float(np.mean(np.sign(s[big]) == np.sign(r[big])))
        ratio = np.linalg.norm(s) / np.linalg.norm(r)
        print(f"{learner} W_{k}: cos {cos:.3f}, sign agreement on large entries {agree:.2f}, "
              f"norm ratio {ratio:.2f}")
        # 10 neurons/unit × 2 trials × 10 examples, β = 0.2: measured cos 0.97/0.97 (Brian2),
        # 0.990/0.991 with the input as a current (no input spike noise), and 0.993/0.995 (rate,
        # whose ±β estimate has only the O(β²) bias); 0.8 leaves room for the
        # Poisson noise and fails for a wrong sign, a wrong layer or a transposed ΔW (cos ≈ 0)
        assert cos > 0.8
        assert agree >= 0.8
        # scale: measured 0.89/0.71 (Brian2), 1.08/1.00 (input current), 0.81/0.90 (rate);
        # (0.5, 2) catches a missing or
        # doubled 1/2β
        assert 0.5 < ratio < 2.0


@pytest.mark.brian2
def test_update_applies_lr_times_dw_on_the_same_network(tiny):
    spk, t = tiny["spk"], tiny["t"]
    network, before = spk.sn.network, [w.copy() for w in spk.net.W]
    dW = spk.delta(tiny["x"], tiny["d"])[0]
    apply_update(spk.net, t.lrs, 1.0, dW, [np.zeros_like(b) for b in spk.net.b[1:]])
    for w, w0, g, lr in zip(spk.net.W, before, dW, t.lrs):
        assert_allclose(w, w0 + lr * g, rtol=0, atol=1e-12)  # exact arithmetic, float rounding
    spk.predict(tiny["x"][:3])  # a short chunk is padded to the compiled batch
    assert spk.sn.network is network
    syn, widx, _ = spk.sn.conns[0]
    # the transmission weights are the learner's W_0 after set_parameters (copied exactly)
    assert_allclose(np.asarray(syn.w[:]), spk.net.W[0].ravel()[widx], rtol=0, atol=1e-12)


@pytest.mark.brian2
def test_rule_every_1_ms_matches_every_step(tiny, models):
    """The rule synapses stepped every 1 ms vs every 0.1 ms step on the same network, seed and
    mini-batch: the same spikes (the rule draws no random numbers), and the tied ΔW telescopes,
    so only its last sample moves (0.9 ms earlier)."""
    import brian2 as b2

    from stdp_ebm.spiking.learner import SpikingLearner

    spk, cfg, seed = tiny["spk"], tiny["cfg"], 7
    out = []
    for rule_dt in (1.0, 0.0):
        learner = SpikingLearner(tiny["net"], spk.rho, SpikingParams.of(cfg), models, seed,
                                 spk.batch, tiny["t"].lrs, spk.energy, "poisson", rule_dt)
        b2.seed(seed)
        out.append(learner.delta(tiny["x"], tiny["d"])[0])
    a, b = out
    for k, (u, v) in enumerate(zip(a, b)):
        rel = float(np.linalg.norm(u - v) / np.linalg.norm(v))
        print(f"W_{k}: relative difference {rel:.2e}")
        assert rel < RULE_DT_TOL


@pytest.mark.brian2
def test_two_workers_give_the_mean_of_two_half_batch_learners_with_their_seeds(tiny, models):
    """The mini-batch split over two worker processes (stdp_ebm/spiking/pool.py) against two
    one-process learners of half the batch, built here with the workers' seeds: the same spikes in
    both (same code, seed and inputs), so the ΔW, Δb and ŷ must be equal to the bit; a wrong split,
    a stale W in a worker or a sum instead of a mean would not be."""
    from stdp_ebm.spiking.learner import SpikingLearner
    from stdp_ebm.spiking.pool import ParallelSpikingLearner

    spk, cfg, x, d = tiny["spk"], tiny["cfg"], tiny["x"], tiny["d"]
    net = tiny["net"].copy()
    net.W[1] = net.W[1] * 1.1  # parameters reach the workers with each request, not only at start
    seeds, half = [21, 22], spk.batch // 2
    kwargs = dict(lrs=tiny["t"].lrs, energy=spk.energy, input_mode="poisson")
    par = ParallelSpikingLearner(tiny["net"], spk.rho, SpikingParams.of(cfg), models, seeds,
                                 spk.batch, **kwargs)
    try:
        par.net = net.copy()
        got = par.delta(x, d), par.predict(x[:3])
    finally:
        par.close()
    parts = []
    for p, seed in enumerate(seeds):
        one = SpikingLearner(tiny["net"], spk.rho, SpikingParams.of(cfg), models, seed, half,
                             **kwargs)
        one.net = net.copy()
        rows = slice(p * half, (p + 1) * half)
        parts.append((one.delta(x[rows], d[rows]), one.predict(x[:3]) if p == 0 else None))
    (dW, db, y), pred = got
    for k in range(len(dW)):
        np.testing.assert_array_equal(dW[k], np.mean([q[0][0][k] for q in parts], axis=0))
    for k in range(len(db)):
        np.testing.assert_array_equal(db[k], np.mean([q[0][1][k] for q in parts], axis=0))
    np.testing.assert_array_equal(y, np.concatenate([q[0][2] for q in parts]))
    np.testing.assert_array_equal(pred, parts[0][1])


@pytest.mark.brian2
def test_a_worker_that_fails_to_build_raises_its_error_in_the_parent_and_all_workers_stop(tiny):
    from stdp_ebm.spiking.pool import ParallelSpikingLearner, WorkerError

    spk, cfg = tiny["spk"], tiny["cfg"]
    with pytest.raises(WorkerError, match="KeyError") as info:
        ParallelSpikingLearner(tiny["net"], spk.rho, SpikingParams.of(cfg), {}, [1, 2], spk.batch,
                               tiny["t"].lrs, spk.energy)  # no model files: KeyError
    assert "Traceback" in str(info.value)  # the worker's own traceback, for a bug report
    assert not multiprocessing.active_children()  # the other worker was stopped too


@pytest.mark.parametrize("override, key", [("task.n_train=25", "n_train"),
                                           ("spiking.estimator=one_sided", "estimator"),
                                           ("learner.workers=3", "workers"),
                                           ("learner.workers=1000", "workers"),
                                           ("network.sizes=[64, 50, 3]", "sizes")])
def test_config_errors(override, key):
    with pytest.raises(ConfigError, match=key):
        resolve(CONFIG, [override])


@pytest.mark.parametrize("sets, options, says", [
    (["spiking.synapse=pair_stdp"], [], "rate-form rules only"),
    ([], ["--scheduler", "tcp://127.0.0.1:9", "--set", "learner.workers=2"],
     "local worker processes")])
def test_the_compiled_engine_refuses_what_it_cannot_run_in_one_line(sets, options, says,
                                                                     tmp_path, capsys):
    """[learner] engine = standalone with a spike-form rule, or on a Dask cluster: one line and
    exit status 2, before the calibration or any build."""
    from stdp_ebm import cli

    argv = ["run", str(QUICK), "--out", str(tmp_path / "run"), "--quiet",
            "--set", "learner.engine=standalone", *options,
            *[a for s in sets for a in ("--set", s)]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "run").exists()


def test_validation_holds_out_the_end_of_the_training_split():
    """[task] validation = n: the last n training examples become the evaluation set, the test
    set is not used; the training part is still cut to a multiple of the batch size."""
    from stdp_ebm.experiments.train_spiking import load_task

    cfg = resolve(CONFIG, [])[0]
    full = load_task(cfg["task"], np.random.default_rng(0), 1)  # batch 1: nothing cut
    val = load_task({**cfg["task"], "validation": 300}, np.random.default_rng(0), 10)
    assert len(val.x_test) == 300 and len(val.x_train) == (len(full.x_train) - 300) // 10 * 10
    assert_allclose(val.x_test, full.x_train[-300:], rtol=0, atol=0)
    assert_allclose(val.x_train, full.x_train[:len(val.x_train)], rtol=0, atol=0)
    assert "validation" in val.name
    with pytest.raises(Exception, match=r"\[task\] validation = 5000"):
        load_task({**cfg["task"], "validation": 5000}, np.random.default_rng(0), 10)


@pytest.mark.slow
@pytest.mark.brian2
def test_ten_class_digits_spiking_meets_the_issue_targets():
    """The full experiments/train_spiking.toml (10 classes, 1430 train / 359 test, 10 epochs;
    ~12 min CPU with the one-run engine, docs/spiking_learning.md): the issue's numbers."""
    from stdp_ebm.experiments.train_spiking import run

    cfg = resolve(CONFIG)[0]
    summary = run(cfg, RunContext(Seeds(cfg["seed"]))).summary
    spk, rate = summary["spk"], summary["rate"]
    print(f"test error: spiking {100 * spk['test_error_fraction']:.2f} %, rate "
          f"{100 * rate['test_error_fraction']:.2f} %; spiking worst after epoch 2 "
          f"{100 * spk['worst_test_error_after_epoch_2_fraction']:.2f} %")
    assert spk["test_error_fraction"] <= 0.05
    assert spk["test_error_fraction"] <= rate["test_error_fraction"] + 0.02
    assert spk["worst_test_error_after_epoch_2_fraction"] <= 3 * spk["test_error_fraction"]


def test_alignment_record_of_the_rate_learner_survives_a_resume(tmp_path):
    """Watched wraps the rate learner (hard sigmoid, no Brian2): its applied ΔW follows the implicit
    gradient, and a run resumed from the epoch-1 checkpoint continues the same record."""
    from stdp_ebm.experiments.train_spiking import Watched, load_task, rate_train_cfg
    from stdp_ebm.network import random_network
    from stdp_ebm.rate import model_from_config
    from stdp_ebm.checkpoint import Checkpoint
    from stdp_ebm.learning import EPLearner, fit

    cfg = resolve(QUICK, ["task.n_train=40", "task.n_test=10", "train.epochs=2"])[0]
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], np.random.default_rng(0), t.batch_size)

    def watched():
        net = random_network(cfg["network"]["sizes"], np.random.default_rng(1), 0.6, 0.0, 0.0)
        model = model_from_config(net, DynamicsParams.of(cfg))
        return Watched(EPLearner(model, t, len(data.x_train)), cfg, model.rho, every=2)

    straight = watched()
    fit(straight, data, t, np.random.default_rng(2))
    ck = Checkpoint(tmp_path, "rate")
    first = watched()
    fit(first, data, t.replace(epochs=1), np.random.default_rng(2), ck)
    resumed = watched()
    fit(resumed, data, t, np.random.default_rng(2), ck)
    assert straight.batches == resumed.batches == [1, 3, 5, 7]
    # deterministic rate dynamics: the resumed record equals the uninterrupted one (float rounding)
    assert_allclose(resumed.cos_array(), straight.cos_array(), rtol=0, atol=1e-12)
    # the ±β estimate at β = 0.2 vs the implicit gradient: measured cos 0.984-0.9996 over the
    # records (O(β²) bias only); 0.9 fails for a ΔW of the wrong sign or of another layer
    print("cos per record and layer:", np.round(straight.cos_array(), 4).tolist())
    assert np.all(straight.cos_array() > 0.9)


def test_a_run_in_progress_is_drawn_from_the_checkpoints_of_its_finished_epochs(tmp_path):
    """interim() reads the rate learner's checkpoint (the spiking one has none yet) back as the
    learning curve and alignment record that fit and Watched kept; figures() draws both."""
    import matplotlib.pyplot as plt

    from stdp_ebm.checkpoint import Checkpoint
    from stdp_ebm.experiments.train_spiking import (Watched, figures, interim, load_task,
                                                    rate_train_cfg)
    from stdp_ebm.network import random_network
    from stdp_ebm.rate import model_from_config
    from stdp_ebm.learning import EPLearner, fit

    cfg = resolve(QUICK, ["task.n_train=40", "task.n_test=10", "train.epochs=2"])[0]
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], Seeds(cfg["seed"]).rng("data"), t.batch_size)
    model = model_from_config(random_network(cfg["network"]["sizes"], np.random.default_rng(1),
                                             0.6, 0.0, 0.0), DynamicsParams.of(cfg))
    assert interim(cfg, tmp_path) is None  # no finished epoch yet
    learner = Watched(EPLearner(model, t, len(data.x_train)), cfg, model.rho, every=2)
    h = fit(learner, data, t, np.random.default_rng(2), Checkpoint(tmp_path / "checkpoints", "rate"))
    got, summary = interim(cfg, tmp_path)
    assert_allclose(got["rate_test_error"], h.test_error, rtol=0)  # stored as written
    assert_allclose(got["rate_align_cos"], learner.cos_array(), rtol=0)
    assert "spk_test_error" not in got and summary["epochs_done"] == {"rate": 2}
    assert got["rate_test_ci"].shape == (2, 2) and summary["n_test"] == 10
    figs = figures(got, summary, cfg)
    assert sorted(figs) == ["alignment", "learning_curves"]
    for fig in figs.values():
        plt.close(fig)


def test_each_epoch_shows_a_bar_whose_running_error_is_the_epochs_train_error(capsys):
    """Status lines (no terminal) for each epoch's mini-batches; the last line of an epoch shows the
    running error that fit records as that epoch's train error (50 examples in batches of 20: the
    last batch is short); Brian2's reports are off inside brian2_quiet; the bar of an epoch cut
    short stops ticking when closed."""
    from stdp_ebm import progress
    from stdp_ebm.experiments.train_spiking import load_task, rate_train_cfg
    from stdp_ebm.network import random_network
    from stdp_ebm.rate import model_from_config
    from stdp_ebm.learning import EPLearner, fit

    cfg = resolve(QUICK, ["task.n_train=60", "task.n_test=10", "train.epochs=2",
                          "train.batch_size=20"])[0]
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], np.random.default_rng(0), t.batch_size).subset(50, 10)
    model = model_from_config(random_network(cfg["network"]["sizes"], np.random.default_rng(1),
                                             0.6, 0.0, 0.0), DynamicsParams.of(cfg))
    learner, bars = EPLearner(model, t, len(data.x_train)), progress.EpochBars("rate")
    progress.configure(True, terminal=False)
    try:
        with progress.brian2_quiet():
            assert progress.brian2_report() is None
            h = fit(learner, data, t, np.random.default_rng(2), on_batch=bars)
        assert progress.brian2_report() == "stderr"
        assert bars._bar is None  # closed at each epoch's end
        bars(3, 1, 3, 0.5)  # an epoch cut short after one mini-batch ...
        ticking = bars._bar
        bars.__exit__(KeyboardInterrupt, None, None)  # ... as train_both's `with` closes it
        assert ticking._stop.is_set() and bars._bar is None
    finally:
        progress.configure(False)
    lines = capsys.readouterr().err.splitlines()
    assert len(h.train_error) == 2
    for epoch, train_error in enumerate(h.train_error, start=1):
        last = [ln for ln in lines if ln.startswith(f"rate epoch {epoch}:")][-1]
        assert "3/3" in last
        assert f"running error {100 * train_error:.1f} %" in last
