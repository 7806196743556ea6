"""Reliability: a resume keyed on the input files' content, damaged checkpoints and run
directories, one writer per --out, resource bounds checked before allocation."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from stdp_ebm import runner, sweep
from stdp_ebm.errors import InputError
from stdp_ebm.network import random_network, save_network

from conftest import (ALIGN_TINY, DIGITS, QUICK, interrupt_digits_training, run_cli,
                      two_networks)

REPO = Path(__file__).resolve().parent.parent
SWEEP = ALIGN_TINY + "[sweep]\nseeds = 3\n"


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
    """MNIST files in [data] dir are inputs too: one changed byte refuses the resume."""
    from stdp_ebm.data import MNIST_SHA256

    for stem in MNIST_SHA256:
        (tmp_path / f"{stem}.gz").write_bytes(stem.encode())
    cfg = {"data": {"dataset": "mnist", "dir": str(tmp_path)}, "seed": 1}
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


# --- damaged checkpoints never lose finished epochs -------------------------------------------------
def _members(run_dir: Path) -> dict[str, bytes]:
    """The bytes of each .npy member of data.npz (header included: dtype, shape, values)."""
    with zipfile.ZipFile(run_dir / "data.npz") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _interrupt_training(tmp_path: Path, monkeypatch) -> tuple[list[str], Path]:
    """A training run stopped by Ctrl-C in the baseline: the rule's 2 epochs are checkpointed."""
    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    checkpoints = partial / "checkpoints"
    assert (checkpoints / "ep.npz").is_file() and (checkpoints / "ep.prev.npz").is_file()
    return args, checkpoints


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.mark.parametrize("truncated", [False, True])
def test_a_resumed_run_equals_the_uninterrupted_one_even_from_a_truncated_checkpoint(
        tmp_path, monkeypatch, truncated):
    args, checkpoints = _interrupt_training(tmp_path, monkeypatch)
    if truncated:
        _truncate(checkpoints / "ep.npz")
    assert run_cli(args)[0] == 0  # truncated: epoch 2 runs again from epoch 1's checkpoint
    cfg, exp = runner.resolve(DIGITS, QUICK)
    straight = _members(runner.execute(cfg, exp, tmp_path / "straight"))
    resumed = _members(tmp_path / "run")
    # the same RNG state and weights: byte for byte the uninterrupted run's data.npz, except
    # the measured seconds per epoch
    differ = sorted(k for k in straight if resumed.get(k) != straight[k])
    assert resumed.keys() == straight.keys() and differ == ["bp_wall_s.npy", "ep_wall_s.npy"]
    assert (tmp_path / "run" / "checkpoints" / "ep.damaged.npz").is_file() == truncated


@pytest.mark.parametrize("damage", ["truncate", "missing_array", "bad_rng"])
def test_all_checkpoints_damaged_stops_in_one_line_and_deletes_nothing(tmp_path, monkeypatch,
                                                                       damage):
    args, checkpoints = _interrupt_training(tmp_path, monkeypatch)
    for path in (checkpoints / "ep.npz", checkpoints / "ep.prev.npz"):
        if damage == "truncate":
            _truncate(path, 0.9)
        else:
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
            if damage == "missing_array":
                del arrays["W_1"]
            else:
                arrays["rng_state"] = np.array('{"bit_generator": "PCG64", "state": 3}')
            np.savez(path, **arrays)
    before = sorted(p.name for p in checkpoints.iterdir())
    code, err = run_cli(args)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "no earlier good checkpoint" in err and "finished epochs are kept" in err
    assert sorted(p.name for p in checkpoints.iterdir()) == before


# --- one writer per --out ---------------------------------------------------------------------------
def test_a_second_run_into_the_same_out_is_refused(tmp_path):
    from stdp_ebm.rundir import out_lock

    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP.split("[sweep]")[0])
    out = tmp_path / "run"
    with out_lock(out):  # another run holds it
        code, err = run_cli(["run", str(cfg), "--out", str(out), "--quiet"])
        assert code == 2 and "another stdp-ebm run is writing it" in err, err
        assert not out.exists()
    assert run_cli(["run", str(cfg), "--out", str(out), "--quiet"])[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "s.toml"]  # no lock file left


# --- plot on a damaged run directory ----------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    (root / "s.toml").write_text(SWEEP.split("[sweep]")[0])
    assert run_cli(["run", str(root / "s.toml"), "--out", str(root / "run"), "--quiet"])[0] == 0
    return root / "run"


def _drop_array(run: Path) -> None:
    with np.load(run / "data.npz") as f:
        arrays = {k: f[k] for k in f.files}
    first = sorted(arrays)[0]  # the figures need more than one array
    np.savez(run / "data.npz", **{first: arrays[first]})


DAMAGE = {
    "truncated data.npz": lambda run: _truncate(run / "data.npz"),
    "bad summary.json": lambda run: (run / "summary.json").write_text("{\"test\": "),
    "summary.json not an object": lambda run: (run / "summary.json").write_text("[1, 2]"),
    "missing array": _drop_array,
    "figures is a file": lambda run: (shutil.rmtree(run / "figures"),
                                      (run / "figures").write_text("x")),
    "data.npz a directory": lambda run: ((run / "data.npz").unlink(), (run / "data.npz").mkdir()),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_plot_on_a_damaged_run_directory_is_one_line(finished_run, tmp_path, damage):
    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    DAMAGE[damage](run)
    code, err = run_cli(["plot", str(run)])
    assert code == 2 and err.startswith("stdp-ebm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


# --- the memory estimate ----------------------------------------------------------------------------
@pytest.mark.parametrize("over", [
    ["network.sizes=[6,8,4]", "network.batch=20000"],     # dominated by the states of the examples
    ["network.sizes=[300,400,200]", "network.batch=8"],   # dominated by the weights
])
def test_the_memory_estimate_matches_the_traced_peak(over):
    import tracemalloc

    from stdp_ebm.experiments import RunContext
    from stdp_ebm.resources import estimate
    from stdp_ebm.seeds import Seeds

    cfg, exp = runner.resolve(REPO / "experiments" / "alignment.toml",
                              over + ["alignment.betas=[0.1]", "alignment.nudged_steps=[1,5]"])
    tracemalloc.start()
    try:
        exp.run(cfg, RunContext(seeds=Seeds(cfg["seed"])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{over}: estimate {estimate(cfg) / 2**20:.1f} MB, traced peak {peak / 2**20:.1f} MB")
    assert peak / 2 < estimate(cfg) < 2 * peak  # an estimate, not a bound: a factor 2 each way


def test_memory_over_the_limit_is_refused_before_the_run(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP)
    args = ["run", str(cfg), "--out", str(tmp_path / "run"), "--quiet", "--workers", "3"]
    code, err = run_cli(args + ["--set", "network.batch=50000", "--max-memory", "100M"])
    assert code == 2 and "× 3 running at once" in err and "--max-memory" in err, err
    code, err = run_cli(args + ["--max-memory", "lots"])
    assert code == 2 and "expected a size" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_a_damaged_sweep_point_is_named_and_stale_temporaries_are_cleaned(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP.replace("seeds = 3", "seeds = 2"))
    out = tmp_path / "run"
    args = ["run", str(cfg), "--out", str(out), "--workers", "1", "--quiet"]
    assert run_cli(args)[0] == 0
    (out / "summary.json").unlink()  # unfinished again, with one point damaged since
    (out / "points" / "0001" / "manifest.json").write_text('{"status": ')
    (tmp_path / ".run.tmp-x1y2").mkdir()  # left by a SIGKILLed run into the same --out
    code, err = run_cli(args)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "points/0001 is damaged" in err and "remove it and resume" in err
    assert not (tmp_path / ".run.tmp-x1y2").exists()
    shutil.rmtree(out / "points" / "0001")
    assert run_cli(args)[0] == 0 and sweep.finished(out) == {0, 1}


def test_a_worker_refuses_a_network_file_changed_during_the_sweep(tmp_path):
    from stdp_ebm.inputs import sha256

    net1, net2 = two_networks(tmp_path)
    (tmp_path / "s.toml").write_text(SWEEP)
    cfg, exp = runner.resolve(tmp_path / "s.toml")
    point = sweep.expand(cfg, exp, "s.toml")[0]
    at_start = sha256(net1)
    shutil.copy(net2, net1)  # replaced while the sweep runs
    with pytest.raises(InputError, match="changed during the sweep"):
        sweep.run_point(sweep.Task("alignment", 0, point.cfg, str(net1), None, at_start,
                                   client_pid=os.getpid()))


def test_alignment_metrics_are_scale_free_up_to_overflow():
    """The metrics of 1e300·a vs 1e300·b are those of a vs b (computed at unit scale: an
    independent evaluation), where a plain ‖·‖ would overflow to inf and every metric to NaN;
    a non-finite array is an error, not NaN metrics."""
    from numpy.testing import assert_allclose

    from stdp_ebm.analysis import alignment
    from stdp_ebm.errors import DivergenceError

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20), rng.normal(size=20)
    unit, huge = alignment(a, b), alignment(1e300 * a, 1e300 * b)
    for key in unit:
        assert_allclose(huge[key], unit[key], rtol=1e-12)  # scaling by a power of 10: rounding only
    with pytest.raises(DivergenceError):
        alignment(np.array([1.0, np.inf]), np.array([1.0, 2.0]))


def test_saturating_weights_are_one_line_and_write_nothing(tmp_path):
    """W = 1e300 with unprojected dynamics: every unit saturates, −∂C/∂W is zero everywhere; the
    run is refused in one line (exit 2), not finished with every metric NaN."""
    net = random_network([6, 8, 4], np.random.default_rng(1))
    path = tmp_path / "huge.npz"
    save_network(type(net)([np.full_like(w, 1e300) for w in net.W], net.b, net.x, net.target),
                 path)
    code, err = run_cli(["run", "alignment", "--network", str(path), "--out",
                         str(tmp_path / "out"), "--set", "dynamics.projected=false",
                         "--set", "alignment.betas=[0.1]", "--set", "alignment.nudged_steps=[2]"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "saturated" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("transmission", ["population", "neuron"])
def test_spiking_object_count_matches_the_built_layout(transmission):
    """The memory estimate counts the spiking network from the config alone; the count equals the
    index arrays the network is built from (Layout, an independent construction)."""
    from stdp_ebm.resources import spiking_objects
    from stdp_ebm.spiking.layout import Layout

    sizes, batch, trials, n = [5, 4, 3, 2], 3, 2, 3
    lay = Layout(tuple(sizes), batch * trials, n, transmission)
    arrays = lay.transmission_synapses([a * b for a, b in zip(sizes[:-1], sizes[1:])])
    built = (sum(len(a[0]) for a in arrays.values()) + lay.n_inputs + lay.n_neurons
             + len(lay.rule_pairs()[0]))
    cfg = {"spiking": {"neurons_per_unit": n, "trials": trials, "transmission": transmission}}
    assert spiking_objects(cfg, sizes, batch) == (built, lay.n_inputs + lay.n_neurons)


def test_a_spiking_network_too_large_for_memory_is_refused_before_building(tmp_path):
    """n = 3000 neurons per unit with the neuron wiring: 2e11 synapses on the standard net."""
    code, err = run_cli(["run", "rate_vs_spike", "--out", str(tmp_path / "out"), "--quiet",
                         "--set", "spiking.neurons_per_unit=3000",
                         "--set", "spiking.transmission=neuron"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "memory" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("section", ["data", "task"])
def test_mnist_files_are_inputs_of_both_learners(tmp_path, section):
    """The rate learner chooses MNIST in [data], the spiking learner in [task]; both read it
    from [data] dir and record the four files, so a resume with other files is refused for
    either."""
    from stdp_ebm.data import MNIST_SHA256
    from stdp_ebm.inputs import input_files

    for stem in MNIST_SHA256:
        (tmp_path / f"{stem}.gz").write_bytes(b"x")
    cfg = {"data": {"dir": str(tmp_path)}}
    cfg[section] = {**cfg.get(section, {}), "dataset": "mnist"}
    files = input_files([cfg], None)
    assert sorted(files) == sorted(f"[data] {tmp_path / f'{stem}.gz'}" for stem in MNIST_SHA256)
