"""The training experiment (``train``) end to end: the run directory, same seed same result,
resume after an interruption, drawing a run in progress, bad input, and the acceptance targets
(digits; the MNIST ones are documented slow runs). The learners' arithmetic is in test_train.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomli_w

from conftest import EXPERIMENTS
from stdp_ebm import cli, runner
from stdp_ebm.checkpoint import Checkpoint
from stdp_ebm.experiments import RunContext
from stdp_ebm.network import load_network
from stdp_ebm.seeds import Seeds

DIGITS = EXPERIMENTS / "train_digits.toml"
QUICK = ["data.n_train=200", "data.n_test=100", "train.epochs=2", "network.sizes=[64,30,10]"]


def _data(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "data.npz") as f:
        return {k: f[k] for k in f.files if not k.endswith("wall_s")}


def test_experiment_writes_run_and_is_reproducible(tmp_path):
    cfg, exp = runner.resolve(DIGITS, QUICK)
    out = runner.execute(cfg, exp, tmp_path / "run")
    for name in ("learning_curves", "receptive_fields"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{name}.{ext}").is_file()
    assert (out / "checkpoints" / "ep.npz").is_file() and (out / "checkpoints" / "bp.npz").is_file()
    trained = load_network(out / "trained_network.npz")
    first = _data(out)
    again = exp.run(cfg, RunContext(seeds=Seeds(cfg["seed"]))).data  # same seed, no checkpoints
    assert "bp_test_error" in first and first.keys() <= again.keys()
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    np.testing.assert_array_equal(trained.W[1], first["ep_W_1"])


def test_interrupted_run_continues_from_its_checkpoints(tmp_path, monkeypatch):
    """Ctrl-C during the backprop baseline leaves .run.partial with the rule's checkpoint; the same
    command finishes the run (the rule is not trained again) with the data of an uninterrupted run,
    and a different config is refused while the partial run is there."""
    from stdp_ebm.experiments import train as train_exp

    args = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet"]
    args += [a for o in QUICK for a in ("--set", o)]
    real_bp = train_exp.train_bp

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_exp, "train_bp", interrupted)
    assert cli.main(args) == 130
    partial = tmp_path / ".run.partial"
    assert (partial / "checkpoints" / "ep.npz").is_file() and not (tmp_path / "run").exists()
    assert cli.main(args + ["--set", "train.beta=0.3"]) == 2        # another config: refused
    monkeypatch.setattr(train_exp, "train_bp", real_bp)
    monkeypatch.setattr(train_exp, "train_ep", _resumed_only(train_exp.train_ep))
    assert cli.main(["run", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert not partial.exists() and (tmp_path / "run" / "checkpoints" / "bp.npz").is_file()
    monkeypatch.undo()
    cfg, exp = runner.resolve(DIGITS, QUICK)
    straight = runner.execute(cfg, exp, tmp_path / "straight")
    finished, reference = _data(tmp_path / "run"), _data(straight)
    assert finished.keys() == reference.keys()
    for k in reference:
        np.testing.assert_array_equal(finished[k], reference[k])


def test_plot_draws_a_run_in_progress_from_its_checkpoints(tmp_path, monkeypatch, capsys):
    """``stdp-ebm plot OUT`` of a run interrupted after the rule's epochs draws their learning
    curve (the epochs the checkpoint holds) into .OUT.partial/figures; before any finished epoch
    it is one line and status 2; the run then resumes and finishes as usual."""
    from stdp_ebm.experiments import train as train_exp

    out, partial = tmp_path / "run", tmp_path / ".run.partial"
    args = ["run", str(DIGITS), "--out", str(out), "--quiet"]
    args += [a for o in QUICK for a in ("--set", o)]
    partial.mkdir()
    (partial / "config.toml").write_text(tomli_w.dumps(runner.resolve(DIGITS, QUICK)[0]))
    assert cli.main(["plot", str(out)]) == 2  # no finished epoch yet
    assert "no finished epoch" in capsys.readouterr().err

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_exp, "train_bp", interrupted)
    assert cli.main(args) == 130
    for where in (out, partial):  # the run's --out, or its partial directory itself
        assert cli.main(["plot", str(where)]) == 0
        assert f"drew 2 figures of its finished epochs in {partial / 'figures'}" in \
            capsys.readouterr().out
    assert (partial / "figures" / "learning_curves.png").is_file()
    history, _ = Checkpoint(partial / "checkpoints", "ep").read()
    data, summary = train_exp.interim(runner.resolve(DIGITS, QUICK)[0], partial)
    np.testing.assert_array_equal(data["ep_test_error"], history.test_error)
    assert "bp_test_error" not in data and summary["epochs"] == history.epochs
    monkeypatch.undo()
    assert cli.main(args) == 0 and not partial.exists()
    assert (out / "figures" / "receptive_fields.png").is_file()


def _resumed_only(train_ep):
    """train_ep that fails if it would train an epoch: the checkpoint must hold all of them."""
    def wrapped(model, data, cfg, rng, checkpoint=None, on_epoch=None, on_batch=None):
        def no_epoch(history):
            raise AssertionError("the resumed run trained the rule again")
        return train_ep(model, data, cfg, rng, checkpoint, no_epoch, on_batch)
    return wrapped


@pytest.mark.parametrize("override, message", [
    (["train.lrs=[0.1]"], "one learning rate per weight matrix"),
    (["network.sizes=[60,30,10]"], "must start with 64 inputs"),
    (["data.validation=5000"], "must be between 0 and the 1438 training examples"),
    (["data.dataset='mnist'", "network.sizes=[784,30,10]", "data.dir='/nonexistent'"],
     "no such directory"),
])
def test_bad_training_input_is_one_line_exit_2(override, message, tmp_path, capsys):
    args = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet"]
    for o in override:
        args += ["--set", o]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_digits_config_reaches_3_percent(tmp_path):
    cfg, exp = runner.resolve(DIGITS)
    out = runner.execute(cfg, exp, tmp_path / "run")
    import json
    summary = json.loads((out / "summary.json").read_text())
    print(f"digits: EP test error {summary['ep']['test_error_fraction']:.4f}, "
          f"BP {summary['bp']['test_error_fraction']:.4f}")
    assert summary["ep"]["test_error_fraction"] <= 0.03


MNIST_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files in {MNIST_DIR}")
def test_mnist_config_reaches_2_percent(tmp_path):
    """Issue 7's MNIST target with the documented config (784-500-10, 60 epochs, ~7 min on 2
    cores; float32): the rule's final-epoch test error ≤ 2.0 % (measured 1.48 %; float64 1.47 %)."""
    import json

    from threadpoolctl import threadpool_limits

    cfg, exp = runner.resolve(EXPERIMENTS / "train_mnist.toml",
                              [f"data.dir='{MNIST_DIR}'", "train.baseline=false"])
    with threadpool_limits(1):
        out = runner.execute(cfg, exp, tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    print(f"MNIST: EP test error {summary['ep']['test_error_fraction']:.4f}")
    assert summary["ep"]["test_error_fraction"] <= 0.02


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files in {MNIST_DIR}")
def test_mnist_two_hidden_layers_learn_on_a_subset(tmp_path):
    """Issue 14's nightly check of experiments/train_mnist_2h.toml (784-500-500-10, float32): 3 epochs
    on the first 10 000 training images, tested on the first 2 000 test images (50 CPU-s at one BLAS
    thread). Measured: 8.10 % (7.50–7.70 % with earlier float32 rounding orders; backprop 8.10 %);
    the bound 10 % leaves room for other BLAS builds' float32 rounding, and a net that does not learn
    stays at chance (90 %, docs/deep.md: a Glorot gain of 1.0 instead of 0.5)."""
    import json

    from threadpoolctl import threadpool_limits

    cfg, exp = runner.resolve(EXPERIMENTS / "train_mnist_2h.toml",
                              [f"data.dir='{MNIST_DIR}'", "train.epochs=3", "data.n_train=10000",
                               "data.n_test=2000"])
    with threadpool_limits(1):
        out = runner.execute(cfg, exp, tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    print(f"MNIST 2 hidden, subset: EP test error {summary['ep']['test_error_fraction']:.4f}, "
          f"BP {summary['bp']['test_error_fraction']:.4f}, {summary['ep']['wall_s']:.0f} s")
    assert summary["ep"]["test_error_fraction"] <= 0.10


def test_a_partial_run_from_before_a_new_schema_key_still_resumes(tmp_path):
    """A partial run whose stored config lacks a key added to the schema since (its default keeps
    the old behaviour) is the same config; a changed value is refused, naming the key."""
    from stdp_ebm.errors import UserError
    from stdp_ebm.rundir import partial_directory

    cfg, _ = runner.resolve(DIGITS, QUICK)
    old = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
    del old["data"]["validation"]  # as written before the key existed
    partial = partial_directory(tmp_path / "run")
    partial.mkdir()
    (partial / "config.toml").write_text(tomli_w.dumps(old), encoding="utf-8")
    runner.check_partial(tmp_path / "run", cfg, None)
    changed = {**cfg, "train": {**cfg["train"], "beta": 0.3}}
    with pytest.raises(UserError, match=r"another config \(train\.beta: .* there, 0\.3 now\)"):
        runner.check_partial(tmp_path / "run", changed, None)
