"""Integrity of what a run records: the bytes hashed are the bytes used, an edited partial run is
refused, sittings are recorded, default names are unique, huge or non-finite things are refused in
one line. Timing-dependent cases are made deterministic by injecting the change (a file swapped
right after its first read), never by racing."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from stdp_ebm.network import random_network

from conftest import (ALIGN_TINY, DIGITS, QUICK, interrupt_digits_training, run_cli,
                      two_networks)

ALIGN = ALIGN_TINY


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def swapped_after_first_open(path: Path, other: Path):
    """Every open of ``path`` after the first finds the content of ``other``: the file is replaced
    (renamed over, as a sync tool does) the moment it is first opened, so the first reader still
    reads the old bytes through its open file and any later reader gets the new ones."""
    real_open, real_io_open = builtins.open, io.open
    target = os.path.abspath(path)
    opened = []

    def hooked(real):
        def open_(file, *args, **kwargs):
            f = real(file, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == target \
                    and not opened:
                opened.append(file)
                staged = Path(target + ".staged")
                shutil.copy(other, staged)
                os.replace(staged, target)
            return f
        return open_

    builtins.open, io.open = hooked(real_open), hooked(real_io_open)
    try:
        yield opened
    finally:
        builtins.open, io.open = real_open, real_io_open


# --- 1. the bytes hashed are the bytes used -------------------------------------------------------
def test_a_network_file_swapped_after_its_first_read_does_not_mix_two_networks(tmp_path):
    net1, net2 = two_networks(tmp_path)
    (tmp_path / "a.toml").write_text(ALIGN)
    used = tmp_path / "used.npz"
    shutil.copy(net1, used)
    with swapped_after_first_open(used, net2) as opened:
        code, err = run_cli(["run", str(tmp_path / "a.toml"), "--out", str(tmp_path / "run"),
                             "--network", str(used), "--quiet"])
    assert code == 0, err
    assert opened and sha(used) == sha(net2)  # the swap did happen
    # the reference: the same run from an untouched copy of net1
    assert run_cli(["run", str(tmp_path / "a.toml"), "--out", str(tmp_path / "ref"),
                    "--network", str(net1), "--quiet"])[0] == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["inputs"]["--network"]["sha256"] == sha(net1)  # what the run used …
    assert (tmp_path / "run" / "data.npz").read_bytes() == \
        (tmp_path / "ref" / "data.npz").read_bytes()  # … is what it computed from


def test_sweep_points_use_the_bytes_the_sweep_hashed(tmp_path):
    net1, net2 = two_networks(tmp_path)
    (tmp_path / "s.toml").write_text(ALIGN + "[sweep]\nseeds = 2\n")
    used = tmp_path / "used.npz"
    shutil.copy(net1, used)
    args = ["run", str(tmp_path / "s.toml"), "--workers", "1", "--quiet"]
    with swapped_after_first_open(used, net2):
        code, err = run_cli(args + ["--out", str(tmp_path / "run"), "--network", str(used)])
    assert code == 0, err
    assert sha(used) == sha(net2)
    assert run_cli(args + ["--out", str(tmp_path / "ref"), "--network", str(net1)])[0] == 0
    plan = json.loads((tmp_path / "run" / "sweep.json").read_text())
    assert plan["inputs"]["--network"]["sha256"] == sha(net1)
    for point in ("0000", "0001"):
        assert (tmp_path / "run" / "points" / point / "data.npz").read_bytes() == \
            (tmp_path / "ref" / "points" / point / "data.npz").read_bytes()


def test_dask_points_refuse_a_network_file_swapped_after_the_sweep_read_it(tmp_path):
    """Dask workers get the path (not the bytes in every task): they read the file once and refuse
    bytes whose hash is not the one the sweep recorded; no point is computed from the other file."""
    distributed = pytest.importorskip("dask.distributed")
    net1, net2 = two_networks(tmp_path)
    (tmp_path / "s.toml").write_text(ALIGN + "[sweep]\nseeds = 2\n")
    used = tmp_path / "used.npz"
    shutil.copy(net1, used)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            swapped_after_first_open(used, net2):
        code, err = run_cli(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "run"),
                             "--network", str(used), "--quiet",
                             "--scheduler", cluster.scheduler_address])
    _one_line(code, err)
    assert "changed during the sweep" in err, err
    assert not list((tmp_path / "run" / "points").iterdir())  # no point from the other network


def test_a_network_file_is_pickled_with_its_bytes(tmp_path):
    import pickle

    from stdp_ebm.network import NetworkFile, load_network

    net1, net2 = two_networks(tmp_path)
    read = NetworkFile.read(net1)
    shutil.copy(net2, net1)  # the file changes after it was read: the copy in memory does not
    again = pickle.loads(pickle.dumps(read))
    assert again == str(net1) and again.content == read.content and again.sha256 == read.sha256
    np.testing.assert_array_equal(load_network(again).W[0],  # exact: the same bytes parsed
                                  random_network([6, 8, 4], np.random.default_rng(1)).W[0])


# --- 2. an edited partial run is refused; 3. its sittings are recorded ----------------------------
def _one_line(code: int, err: str) -> None:
    assert code == 2 and err.startswith("stdp-ebm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_a_resume_over_an_edited_partial_config_is_refused(tmp_path, monkeypatch):
    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    config = partial / "config.toml"
    original = config.read_text()
    edited = tomllib.loads(original)
    edited["train"]["lrs"] = [0.5, 0.25]  # other learning rates, valid for the network
    config.write_text(tomli_w.dumps(edited))
    before = sorted(p.name for p in (partial / "checkpoints").iterdir())
    for argv in (["run", "--resume", str(tmp_path / "run"), "--quiet"], args):
        code, err = run_cli(argv)
        _one_line(code, err)
        assert "config.toml: edited since the interrupted run wrote it" in err, err
    assert sorted(p.name for p in (partial / "checkpoints").iterdir()) == before  # kept
    config.write_text(original)  # restored: the run continues
    code, err = run_cli(["run", "--resume", str(tmp_path / "run"), "--quiet"])
    assert code == 0, err


def test_checkpoints_without_their_config_are_refused(tmp_path, monkeypatch):
    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    (partial / "config.toml").unlink()
    code, err = run_cli(args)
    _one_line(code, err)
    assert "holds checkpoints but no config.toml" in err
    assert (partial / "checkpoints" / "ep.npz").is_file()


def test_an_edited_input_record_is_refused(tmp_path, monkeypatch):
    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    assert (partial / "inputs.json").read_text() == "{}\n"  # digits: no input files
    (partial / "inputs.json").write_text("{ }\n")  # the same record, but not the file written
    code, err = run_cli(args)
    _one_line(code, err)
    assert "inputs.json: edited since" in err


def _more_epochs(checkpoint: Path, extra: int = 3) -> None:
    with np.load(checkpoint) as f:
        arrays = {k: f[k] for k in f.files}
    for name in [k for k in arrays if k.startswith("history_")]:
        arrays[name] = np.concatenate([arrays[name], np.full(extra, 0.5)])
    np.savez(checkpoint, **arrays)


def test_a_checkpoint_with_more_epochs_than_the_config_is_refused(tmp_path, monkeypatch):
    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    _more_epochs(partial / "checkpoints" / "ep.npz")
    code, err = run_cli(["plot", str(tmp_path / "run")])  # drawing it: refused, not a ValueError
    _one_line(code, err)
    assert "ep.npz: holds 5 finished epochs but the config trains 2" in err, err
    code, err = run_cli(args)  # resuming it: refused as well, nothing deleted
    _one_line(code, err)
    assert "holds 5 finished epochs" in err and (partial / "checkpoints" / "ep.npz").is_file()


def test_the_sittings_of_a_resumed_run_are_in_its_manifest(tmp_path, monkeypatch):
    import zipfile

    from stdp_ebm import runner

    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    first = json.loads((partial / "sittings.json").read_text())["sittings"]
    assert len(first) == 1 and first[0]["ended"] == "interrupted"
    assert run_cli(args)[0] == 0
    sittings = json.loads((tmp_path / "run" / "manifest.json").read_text())["sittings"]
    assert [s["resumed"] for s in sittings] == [False, True]
    assert [s["ended"] for s in sittings] == ["interrupted", "finished"]
    assert sittings[0]["epochs_at_start"] == {} and sittings[0]["epochs_at_end"] == {"ep": 2}
    assert sittings[1]["epochs_at_start"] == {"ep": 2}
    assert sittings[1]["epochs_at_end"] == {"ep": 2, "bp": 2}
    assert all(s["wall_s"] > 0 and s["started"].endswith("+00:00") for s in sittings)
    # the result is the uninterrupted run's, bit for bit, except the measured seconds per epoch
    cfg, exp = runner.resolve(DIGITS, QUICK)
    straight = runner.execute(cfg, exp, tmp_path / "straight")
    members = {}
    for d in (straight, tmp_path / "run"):
        with zipfile.ZipFile(d / "data.npz") as zf:
            members[d] = {n: zf.read(n) for n in zf.namelist()}
    run = members[tmp_path / "run"]
    differ = sorted(n for n in members[straight] if members[straight][n] != run[n])
    assert differ == ["bp_wall_s.npy", "ep_wall_s.npy"]
    one = json.loads((straight / "manifest.json").read_text())["sittings"]
    assert len(one) == 1 and not one[0]["resumed"] and one[0]["ended"] == "finished"


# --- 4. default names are unique ------------------------------------------------------------------
def test_runs_started_in_the_same_second_get_distinct_default_names(tmp_path, monkeypatch):
    from stdp_ebm import runner
    from stdp_ebm.rundir import out_lock

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "_stamp", lambda: "20261207-120000")  # one second for all
    (tmp_path / "a.toml").write_text(ALIGN)
    first = Path("runs") / "a-20261207-120000"
    assert runner.default_out("a.toml") == first
    with out_lock(first):  # a run that chose the name at the same instant holds it
        code, err = run_cli(["run", "a.toml", "--quiet"])
        assert code == 0, err
    assert (tmp_path / "runs" / "a-20261207-120000-2" / "summary.json").is_file()
    assert not first.exists()
    assert run_cli(["run", "a.toml", "--quiet"])[0] == 0  # the same second again
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")) \
        == ["a-20261207-120000", "a-20261207-120000-2"]
    assert runner.default_out("a.toml").name == "a-20261207-120000-3"
    with out_lock(first):  # an explicit --out is not renamed: refused as before
        code, err = run_cli(["run", "a.toml", "--quiet", "--out", str(first)])
        _one_line(code, err)
        assert "another stdp-ebm run is writing it" in err


# --- 5. a damaged sweep.log -----------------------------------------------------------------------
SWEEP = ALIGN + "[sweep]\nseeds = 2\n"


def _killed_sweep(tmp_path: Path) -> tuple[list[str], Path]:
    """A sweep as if killed after its first point."""
    (tmp_path / "s.toml").write_text(SWEEP)
    out = tmp_path / "run"
    args = ["run", str(tmp_path / "s.toml"), "--out", str(out), "--workers", "1", "--quiet"]
    assert run_cli(args)[0] == 0
    for name in ("summary.json", "manifest.json", "table.csv", "table.npz", "figures",
                 "points/0001"):
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    return args, out


def test_a_sweep_resumes_over_a_binary_log_skipping_its_bad_lines(tmp_path):
    """sweep.log is a journal of sessions; the point directories are the record of what finished.
    A garbled log (bytes that are not UTF-8, a line that is not JSON) loses its bad lines, not
    the sweep: the resume finishes, and the sessions it could read are in the manifest."""
    args, out = _killed_sweep(tmp_path)
    kept = (out / "points" / "0000" / "data.npz").read_bytes()
    with open(out / "sweep.log", "ab") as f:
        f.write(bytes(range(128, 256)) + b"\n\xff\xfe{not json\n" + os.urandom(4096))
    code, err = run_cli(args)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["session"] for s in manifest["sessions"]] == [1, 2]
    assert (out / "points" / "0000" / "data.npz").read_bytes() == kept


@pytest.mark.parametrize("damage", ["huge", "directory"])
def test_a_sweep_log_that_cannot_be_its_own_is_one_line(tmp_path, damage):
    args, out = _killed_sweep(tmp_path)
    log = out / "sweep.log"
    if damage == "huge":
        with open(log, "ab") as f:
            f.truncate(1 << 40)  # 1 TiB, sparse: no data is written
    else:
        log.unlink()
        log.mkdir()
    code, err = run_cli(args)
    _one_line(code, err)
    assert "sweep.log" in err and "resume" in err
    assert sorted(p.name for p in (out / "points").iterdir()) == ["0000"]  # nothing deleted


# --- 6. the implicit-gradient system is counted; ranges that overflow are refused -----------------
@pytest.mark.parametrize("config,over", [
    ("alignment", ["network.sizes=[4, 200000, 3]"]),
    ("unification", ["network.sizes=[4, 200000, 3]"]),
    ("depth", ["depth.width=200000"]),
])
def test_the_implicit_gradient_system_is_counted_before_it_is_allocated(tmp_path, config, over):
    from fuzzing import bounded

    argv = ["run", config, "--out", str(tmp_path / "run"), "--quiet", "--max-memory", "64G"]
    with bounded("implicit-gradient system"):  # refused from the config: no 298 GiB allocation
        code, err = run_cli(argv + [a for o in over for a in ("--set", o)])
    _one_line(code, err)
    assert "this run needs at least" in err and "GiB" in err
    assert not (tmp_path / "run").exists()


def test_the_estimate_counts_the_implicit_gradient_system_as_measured():
    """5 float64 copies of n² (n = all units) at the peak of implicit_neg_grad: the estimate of a
    system-dominated alignment run is within a factor 2 of its traced peak (measured 154 MB vs
    an estimate of 154 MB for sizes [4, 2000, 3])."""
    import tracemalloc

    from stdp_ebm import runner
    from stdp_ebm.experiments import RunContext
    from stdp_ebm.resources import estimate
    from stdp_ebm.seeds import Seeds

    cfg, exp = runner.resolve("alignment", ["network.sizes=[4,1000,3]", "network.batch=2",
                                            "alignment.betas=[0.1]",
                                            "alignment.nudged_steps=[1,5]"])
    tracemalloc.start()
    try:
        exp.run(cfg, RunContext(seeds=Seeds(cfg["seed"])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / 2 < estimate(cfg) < 2 * peak  # an estimate, not a bound: a factor 2 each way


@pytest.mark.parametrize("over,key", [
    (["network.bias_low=-1e308", "network.bias_high=1e308"], "bias_high"),
    (["network.init_scale=1e308"], "init_scale"),
])
def test_random_network_ranges_that_overflow_are_one_line(tmp_path, over, key):
    code, err = run_cli(["run", "alignment", "--out", str(tmp_path / "run"), "--quiet"]
                        + [a for o in over for a in ("--set", o)])
    _one_line(code, err)
    assert f"[network] {key}" in err and "overflow" in err
    assert not (tmp_path / "run").exists()


# --- 7. MNIST files are checked by size before they are hashed or read ----------------------------
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("section", ["data", "sweep"])
def test_a_sparse_terabyte_mnist_file_is_refused_by_its_size(tmp_path, suffix, section):
    from fuzzing import bounded

    from stdp_ebm.data import MNIST_SHA256

    data = tmp_path / "mnist"
    data.mkdir()
    for stem in MNIST_SHA256:
        (data / f"{stem}{suffix}").write_bytes(b"")
    with open(data / f"train-images-idx3-ubyte{suffix}", "wb") as f:
        f.truncate(1 << 40)  # 1 TiB, sparse: no data is written
    argv = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet",
            "--set", "data.dataset=mnist", "--set", f"data.dir={data}",
            "--set", "network.sizes=[784,10,10]", "--set", "data.n_train=100"]
    if section == "sweep":
        argv += ["--set", "sweep.seeds=2", "--workers", "1"]
    with bounded("sparse MNIST file"):
        code, err = run_cli(argv)
    _one_line(code, err)
    assert f"train-images-idx3-ubyte{suffix}: 1099511627776 bytes, more than" in err, err
    assert not (tmp_path / "run").exists()


def test_read_bounded_refuses_a_file_larger_than_mnist_before_reading(tmp_path):
    from stdp_ebm.data import read_bounded
    from stdp_ebm.errors import DataError

    path = tmp_path / "t10k-labels-idx1-ubyte"
    with open(path, "wb") as f:
        f.truncate(1 << 40)
    with pytest.raises(DataError, match="1099511627776 bytes, more than the 10008"):
        read_bounded(path, 10_008)


# --- 8. non-finite headline numbers: exit 3 unless accepted; 9. Ctrl-C says what was kept ---------
def test_nonfinite_headline_finds_the_headline_numbers_only():
    from stdp_ebm.rundir import nonfinite_headline

    nan, inf = float("nan"), float("inf")
    summary = {"headline": {"min_cos": nan, "per_layer": [1.0, -inf], "n": 3},
               "by_beta": [{"cos": nan}]}  # not a headline number
    assert nonfinite_headline("alignment", summary) == ["headline.min_cos",
                                                        "headline.per_layer[1]"]
    assert nonfinite_headline("alignment", {"headline": {"min_cos": 0.99}}) == []
    # an STDP fit with too few points is NaN by design: not a headline number
    assert nonfinite_headline("stdp_window", {"fits": {"rule": {"tau_plus_ms": nan}},
                                              "max_sem_fraction_of_max_mean": 0.1}) == []
    assert nonfinite_headline("train", {"test_error_fraction": np.float64(nan)}) == \
        ["test_error_fraction"]


@pytest.fixture
def alignment_returning(monkeypatch):
    """alignment whose run returns what the test sets (a summary, or an exception to raise)."""
    import dataclasses

    from stdp_ebm import experiments

    real_get = experiments.get
    outcome: dict = {}

    def run(cfg, ctx):
        if "raise" in outcome:
            raise outcome["raise"]
        result = real_get("alignment").run(cfg, ctx)
        result.summary["headline"].update(outcome.get("headline", {}))
        return result

    monkeypatch.setattr(experiments, "get", lambda name, source="config": dataclasses.replace(
        real_get(name, source), run=run) if name == "alignment" else real_get(name, source))
    return outcome


def test_a_run_with_nonfinite_headline_numbers_exits_3_and_keeps_its_directory(
        tmp_path, alignment_returning):
    alignment_returning["headline"] = {"min_cos": float("nan")}
    (tmp_path / "a.toml").write_text(ALIGN)
    argv = ["run", str(tmp_path / "a.toml"), "--quiet"]
    code, err = run_cli(argv + ["--out", str(tmp_path / "run")])
    assert code == 3 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "headline numbers are not finite (summary.json headline.min_cos)" in err
    assert "--allow-nonfinite" in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["headline"]["min_cos"] is None  # written (NaN as null): the work is kept
    assert (tmp_path / "run" / "manifest.json").is_file()
    code, err = run_cli(argv + ["--out", str(tmp_path / "kept"), "--allow-nonfinite"])
    assert code == 0 and err == "", err


def test_a_real_run_with_undefined_headline_numbers_exits_3(tmp_path):
    """early_inference with zero weights: no error reaches the hidden layers, so the measured over
    predicted first change is 0/0 (NaN), and the run says so instead of ending with exit 0."""
    code, err = run_cli(["run", "early_inference", "--out", str(tmp_path / "run"), "--quiet",
                         "--set", "network.init_scale=0"])
    assert code == 3, err
    last = err.strip().splitlines()[-1]  # (numpy's own RuntimeWarnings come before it)
    assert last.startswith("stdp-ebm: error: ") and "headline numbers are not finite" in last
    assert "summary.json layers[" in last
    assert (tmp_path / "run" / "summary.json").is_file()


def test_ctrl_c_of_a_run_that_keeps_nothing_says_so(tmp_path, alignment_returning):
    alignment_returning["raise"] = KeyboardInterrupt()
    (tmp_path / "a.toml").write_text(ALIGN)
    code, err = run_cli(["run", str(tmp_path / "a.toml"), "--quiet", "--out", str(tmp_path / "r")])
    assert code == 130 and err.count("\n") == 1, err
    assert err.startswith("stdp-ebm: interrupted; nothing was kept: a run of alignment is not "
                          "resumable"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml"]


def test_ctrl_c_of_a_training_run_is_one_line_saying_how_to_continue(tmp_path, monkeypatch):
    from stdp_ebm.experiments import train as train_exp

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_exp, "train_bp", interrupted)
    argv = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet"]
    code, err = run_cli(argv + [a for o in QUICK for a in ("--set", o)])
    assert code == 130 and err.count("\n") == 1, err
    assert "interrupted; " in err and "continues from its last finished epoch" in err


def test_an_edited_checkpoint_is_not_used(tmp_path, monkeypatch):
    """A checkpoint loaded, changed (one weight) and saved again no longer matches the digest it was
    saved with: the resume treats it as damaged and continues from the previous epoch's, so the
    result is still the uninterrupted run's (the edit is kept aside as ep.damaged.npz)."""
    from stdp_ebm import runner

    args, partial = interrupt_digits_training(tmp_path, monkeypatch)
    path = partial / "checkpoints" / "ep.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["W_0"] = arrays["W_0"].copy()
    arrays["W_0"][0, 0] += 1.0
    np.savez(path, **arrays)
    code, err = run_cli(args)
    assert code == 0, err
    assert (tmp_path / "run" / "checkpoints" / "ep.damaged.npz").is_file()
    sittings = json.loads((tmp_path / "run" / "manifest.json").read_text())["sittings"]
    assert sittings[1]["epochs_at_start"] == {"ep": 2}  # counted, not trusted
    cfg, exp = runner.resolve(DIGITS, QUICK)
    straight = runner.execute(cfg, exp, tmp_path / "straight")
    with np.load(straight / "data.npz") as a, np.load(tmp_path / "run" / "data.npz") as b:
        for name in ("ep_W_0", "ep_test_error", "bp_test_error"):
            np.testing.assert_array_equal(a[name], b[name])  # exact: the same epochs retrained


def test_a_users_model_file_is_an_input_of_the_run_and_an_edit_refuses_the_resume(tmp_path):
    """A rule file of the user's (not a shipped one) is hashed like the --network file: a resume
    after it was edited is refused, naming it; shipped rules are part of the package version."""
    from stdp_ebm import inputs
    from stdp_ebm.errors import InputError
    from stdp_ebm.models import MODELS_DIR

    mine = tmp_path / "pair_stdp.toml"
    shutil.copy(MODELS_DIR / "pair_stdp.toml", mine)
    cfg = {"spiking": {"synapse": str(mine), "compare": "rule_synapse, triplet_stdp"}}
    before = inputs.record(inputs.input_files([cfg], None))
    assert list(before) == [f"[model] {mine}"]
    mine.write_text(mine.read_text().replace("# ", "#  ", 1))
    with pytest.raises(InputError, match="pair_stdp.toml"):
        inputs.check_same(before, inputs.record(inputs.input_files([cfg], None)), "the run")


def test_a_sparse_terabyte_model_file_is_refused_by_its_size_before_it_is_hashed(tmp_path):
    from stdp_ebm import inputs
    from stdp_ebm.errors import DataError

    huge = tmp_path / "rule.toml"
    with open(huge, "wb") as f:
        f.truncate(1 << 40)
    with pytest.raises(DataError, match="more than the 262144 that a model file can be"):
        inputs.record(inputs.input_files([{"rule_vs_backprop": {"rules": str(huge)}}], None))
