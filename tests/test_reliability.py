"""Reliability: a resume keyed on the input files' content, damaged checkpoints and run
directories, one writer per --out, resource bounds checked before allocation."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from stdp_ebm import cli, runner, sweep
from stdp_ebm.errors import InputError
from stdp_ebm.network import random_network, save_network

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "experiments" / "train_digits.toml"
QUICK = ["data.n_train=200", "data.n_test=100", "train.epochs=2", "network.sizes=[64,30,10]"]
SWEEP = """
experiment = "alignment"
seed = 11
[network]
sizes = [6, 8, 4]
batch = 2
[alignment]
betas = [0.1, 0.01]
nudged_steps = [1, 5]
[sweep]
seeds = 3
"""


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, err.getvalue()


def two_networks(tmp_path: Path, sizes=(6, 8, 4)) -> tuple[Path, Path]:
    paths = []
    for seed in (1, 2):
        net = random_network(list(sizes), np.random.default_rng(seed))
        paths.append(tmp_path / f"net{seed}.npz")
        save_network(net, paths[-1])
    return paths[0], paths[1]


# --- resume keyed on the inputs ---------------------------------------------------------------------
def test_sweep_resume_with_another_network_file_is_refused(tmp_path):
    net1, net2 = two_networks(tmp_path)
    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP)
    out = tmp_path / "run"
    args = ["run", str(cfg), "--out", str(out), "--workers", "1", "--quiet"]
    assert run_cli(args + ["--network", str(net1)])[0] == 0
    recorded = json.loads((out / "sweep.json").read_text())["inputs"]["--network"]
    assert recorded["sha256"] == hashlib.sha256(net1.read_bytes()).hexdigest()
    assert json.loads((out / "manifest.json").read_text())["inputs"]["--network"] == recorded
    for name in ("summary.json", "manifest.json", "table.csv", "table.npz", "figures",
                 "points/0001"):  # as if killed after two of three points
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    kept = (out / "points" / "0000" / "data.npz").read_bytes()

    code, err = run_cli(args + ["--network", str(net2)])
    assert code == 2 and err.count("\n") == 1, err
    assert f"was started with --network {net1}" in err and str(net2) in err
    assert run_cli(args)[0] == 2  # without --network: refused as well
    assert not (out / "summary.json").exists() and sweep.finished(out) == {0, 2}

    moved = tmp_path / "elsewhere.npz"  # the same content under another name is the same input
    shutil.copy(net1, moved)
    assert run_cli(args + ["--network", str(moved)])[0] == 0
    assert sweep.finished(out) == {0, 1, 2}
    assert (out / "points" / "0000" / "data.npz").read_bytes() == kept


def test_training_resume_with_another_network_file_is_refused(tmp_path, monkeypatch):
    from stdp_ebm.experiments import train as train_exp

    net1, net2 = two_networks(tmp_path, (64, 30, 10))
    args = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet"]
    args += [a for o in QUICK for a in ("--set", o)]

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_exp, "train_bp", interrupted)
    assert run_cli(args + ["--network", str(net1)])[0] == 130
    partial = tmp_path / ".run.partial"
    assert json.loads((partial / "inputs.json").read_text())["--network"]["path"] == str(net1)
    code, err = run_cli(args + ["--network", str(net2)])
    assert code == 2 and "was started with --network" in err and err.count("\n") == 1, err
    assert (partial / "checkpoints" / "ep.npz").is_file()  # the finished epochs are kept
    monkeypatch.undo()
    assert run_cli(args + ["--network", str(net1)])[0] == 0
    assert not partial.exists()


def test_a_changed_data_set_file_is_named(tmp_path):
    """MNIST files in data_dir are inputs too: one changed byte refuses the resume."""
    from stdp_ebm.data import MNIST_SHA256

    for stem in MNIST_SHA256:
        (tmp_path / f"{stem}.gz").write_bytes(stem.encode())
    cfg = {"data": {"dataset": "mnist", "data_dir": str(tmp_path)}, "seed": 1}
    partial = tmp_path / ".run.partial"
    partial.mkdir()
    (partial / "config.toml").write_text(tomli_w.dumps(cfg))
    before = runner.inputs.record(runner.inputs.input_files([cfg], None))
    (partial / "inputs.json").write_text(json.dumps(before))
    runner.check_partial(tmp_path / "run", cfg, before)  # unchanged: accepted
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"other")
    now = runner.inputs.record(runner.inputs.input_files([cfg], None))
    with pytest.raises(InputError, match=r"\[data\] .*t10k-labels-idx1-ubyte.gz"):
        runner.check_partial(tmp_path / "run", cfg, now)
