"""Sweeps: expansion of [sweep], executors (process pool, Dask), reproducibility, failed and
timed-out points, SIGKILL and resume, numerical failures as exit status 2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stdp_ebm import cli, runner, sweep
from stdp_ebm.errors import PointTimeout
from stdp_ebm.sweep.plan import plan
from stdp_ebm.sweep.store import open_sweep
from stdp_ebm.sweep.table import BOOKKEEPING
from stdp_ebm.sweep import worker
from stdp_ebm.sweep.worker import Task, deadline, run_point
from stdp_ebm.config import ConfigError
from stdp_ebm.experiments import RunContext
from stdp_ebm.network import random_network, save_network
from stdp_ebm.rundir import save_npz
from stdp_ebm.seeds import Seeds

# Small, fast alignment points (~20 ms each); the grid value max_steps = 3 cannot converge, so
# two of the eight points fail with a ConvergenceError and must be recorded, not stop the sweep.
SMALL = """
experiment = "alignment"
seed = 11
[network]
sizes = [6, 8, 4]
batch = 2
[dynamics]
tol = 1e-8
[alignment]
betas = [0.1, 0.01]
nudged_steps = [1, 5]
[sweep]
seeds = 2
[sweep.grid]
dynamics.epsilon = [0.3, 0.6]
dynamics.max_steps = [3, 100000]
"""

# Slower points (~0.3 s each) for the kill-and-resume test: a single worker needs a few seconds
# for the eight points, so the sweep is reliably killed half-way.
SLOW = """
experiment = "alignment"
seed = 5
[network]
batch = 16
[sweep]
seeds = 8
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def table(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "table.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def point_manifest(run_dir: Path, index: int) -> dict:
    return json.loads((run_dir / "points" / f"{index:04d}" / "manifest.json").read_text())


# --- expansion ------------------------------------------------------------------------------------
def test_expand_orders_zip_grid_seeds_and_derives_seeds(tmp_path):
    cfg_path = write(tmp_path / "c.toml", SMALL + """
[sweep.zip]
network.init_scale = [0.2, 0.4, 0.6]
network.bias_high = [0.5, 0.6, 0.7]
""")
    cfg, exp = runner.resolve(cfg_path)
    points = sweep.expand(cfg, exp, "c.toml")
    assert len(points) == 3 * 2 * 2 * 2  # zip rows × grid combinations × seeds
    master = Seeds(11)
    assert [p.seed for p in points[:2]] == [master.int("sweep/replicate-0"),
                                           master.int("sweep/replicate-1")]
    assert points[0].values == {"network.init_scale": 0.2, "network.bias_high": 0.5,
                                "dynamics.epsilon": 0.3, "dynamics.max_steps": 3}
    assert points[2].values["dynamics.max_steps"] == 100000  # grid: last key varies fastest
    assert points[-1].values["network.init_scale"] == 0.6
    assert all(p.cfg["dynamics"]["max_steps"] == p.values["dynamics.max_steps"] for p in points)
    assert cfg["sweep"]["seeds"] == [p.seed for p in points[:2]]  # recorded explicitly


def test_without_seeds_every_point_uses_the_master_seed(tmp_path):
    cfg, exp = runner.resolve(write(tmp_path / "c.toml", SMALL.replace("seeds = 2\n", "")))
    assert {p.seed for p in sweep.expand(cfg, exp, "c")} == {11}


@pytest.mark.parametrize("sweep_text, message", [
    ("[sweep]\n", "[sweep] is empty"),
    ("[sweep]\nseeds = 0\n", "[sweep] seeds = 0: must be an integer >= 1"),
    ("[sweep]\nseeds = [1, 1]\n", "must be distinct"),
    ("[sweep]\nseeds = 'two'\n", "[sweep] seeds"),
    ("[sweep]\nseed = 3\n", "unknown key [sweep] seed; did you mean 'seeds'?"),
    ("[sweep]\ntimeout = -1\nseeds = 2\n", "[sweep] timeout = -1: must be a number > 0"),
    ("[sweep.grid]\n", "[sweep.grid] is empty"),
    ("[sweep.grid]\ndynamics.epsilon = []\n", "[sweep.grid] dynamics.epsilon = []: must be a "
                                              "non-empty list"),
    ("[sweep.grid]\ndynamics.epsilon = 0.5\n", "must be a non-empty list"),
    ("[sweep.grid]\ndynamics.epsilonn = [0.5]\n", "did you mean 'dynamics.epsilon'?"),
    ("[sweep.grid]\n'dynamics.epsilon' = [0.5, 1.5]\n",
     "[dynamics] epsilon = 1.5: must be a number > 0 and <= 1 (in [sweep], point 1"),
    ("[sweep.grid]\ndynamics.beta1 = [0.0, 2.0]\n", "[dynamics] beta1 = 2.0: must be < beta2"),
    ("[sweep.zip]\ndynamics.epsilon = [0.5, 0.2]\ndynamics.tol = [1e-8]\n",
     "lists must have equal lengths"),
    ("[sweep]\ngrid = {'dynamics.tol' = [1e-8]}\nzip = {'dynamics.tol' = [1e-9]}\n",
     "in both [sweep.grid] and [sweep.zip]"),
    ("sweep = 3\n", "sweep = 3: must be a table [sweep]"),
])
def test_bad_sweep_tables_are_one_line_config_errors(tmp_path, sweep_text, message):
    path = write(tmp_path / "c.toml", 'experiment = "alignment"\n' + sweep_text)
    with pytest.raises(ConfigError) as info:
        runner.resolve(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# --- end to end: executors, reproducibility, failures ---------------------------------------------
def run_cli(args: list[str]) -> int:
    return cli.main(["run", *args, "--quiet"])


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """The SMALL sweep with 1 and 2 process-pool workers."""
    root = tmp_path_factory.mktemp("sweeps")
    cfg = write(root / "small.toml", SMALL)
    codes = {1: run_cli([str(cfg), "--out", str(root / "w1"), "--workers", "1"])}
    stderr = io.StringIO()  # not a TTY: no progress bar even without --quiet
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        codes[2] = cli.main(["run", str(cfg), "--out", str(root / "w2"), "--workers", "2"])
    (root / "w2.stderr").write_text(stderr.getvalue())
    return root, codes


@pytest.fixture(scope="module")
def dask_run(small_runs):
    """The same sweep through a real Dask LocalCluster on loopback (the optional extra)."""
    distributed = pytest.importorskip("dask.distributed")
    root, _ = small_runs
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        code = run_cli([str(root / "small.toml"), "--out", str(root / "dask"),
                        "--scheduler", cluster.scheduler_address])
    return root / "dask", code


def test_failed_points_are_recorded_and_the_sweep_goes_on(small_runs, capsys):
    root, codes = small_runs
    assert codes == {1: 2, 2: 2}  # exit status 2: some points failed
    t = table(root / "w2")
    failed = t["status"] == "error"
    np.testing.assert_array_equal(failed, t["dynamics.max_steps"] == 3)
    assert all("did not converge in 3 steps" in e for e in t["error"][failed])
    assert np.all(np.isfinite(t["headline.min_cos"][~failed]))
    summary = json.loads((root / "w2" / "summary.json").read_text())
    assert (summary["n_points"], summary["n_ok"], summary["n_failed"]) == (8, 4, 4)
    assert (root / "w2" / "figures" / "sweep_summary.png").is_file()
    # stderr is a file: status lines (no bar), then the one error line
    *status, last = (root / "w2.stderr").read_text().splitlines()
    assert last == (f"stdp-ebm: error: 4 of 8 sweep points failed (first: points/0000: "
                    f"{t['error'][0]}); all results are in {root / 'w2'}/table.csv")
    assert status and all(line.startswith("alignment sweep:") for line in status)
    assert "8/8" in status[-1]
    error = json.loads((root / "w2" / "points" / "0000" / "error.json").read_text())
    assert error["type"] == "ConvergenceError" and "traceback" not in error


def assert_same_results(run_a: Path, run_b: Path) -> None:
    """Same table (wall times aside) and byte-identical data.npz for every finished point."""
    ta, tb = table(run_a), table(run_b)
    for column, values in ta.items():
        if column != "wall_s":
            # Same seeds, one BLAS thread per worker: bit-identical, whatever the executor.
            np.testing.assert_array_equal(tb[column], values, err_msg=column)
    for i in np.flatnonzero(ta["status"] == "ok"):
        data = [(run / "points" / f"{i:04d}" / "data.npz").read_bytes() for run in (run_a, run_b)]
        assert data[0] == data[1]


def test_same_results_with_one_and_two_workers(small_runs):
    root, _ = small_runs
    assert_same_results(root / "w1", root / "w2")
    workers = {(m["worker"]["pid"], m["worker"]["cache_dir"])
               for m in (point_manifest(root / "w2", i) for i in range(8))}
    pids = {pid for pid, _ in workers}
    assert len(pids) == 2 and len({d for _, d in workers}) == 2  # one cache directory per worker


def test_same_results_with_the_dask_executor(small_runs, dask_run):
    root, _ = small_runs
    run, code = dask_run
    assert code == 2  # the same two unconvergeable grid values fail
    assert_same_results(root / "w1", run)
    assert json.loads((run / "manifest.json").read_text())["sessions"][0]["executor"] \
        .startswith("tcp://127.0.0.1:")


def test_a_point_equals_the_single_run_with_its_values(small_runs, tmp_path):
    root, _ = small_runs
    m = point_manifest(root / "w1", 7)
    sets = [f"{k}={v}" for k, v in m["values"].items()] + [f"seed={m['seeds']['master']}"]
    cfg, exp = runner.resolve(root / "small.toml", sets)
    del cfg["sweep"]
    result = exp.run(cfg, RunContext(seeds=Seeds(cfg["seed"])))
    save_npz(tmp_path / "single.npz", result.data)
    assert (tmp_path / "single.npz").read_bytes() == \
        (root / "w1" / "points" / "0007" / "data.npz").read_bytes()


def test_sweep_manifest_and_replot(small_runs):
    root, _ = small_runs
    m = json.loads((root / "w1" / "manifest.json").read_text())
    assert m["seeds"]["master"] == 11 and len(m["seeds"]["points"]) == 8
    assert {"commit", "dirty"} <= set(m["git"]) and m["command_line"]
    assert m["sessions"][0]["pending"] == list(range(8))
    header = (root / "w1" / "table.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == list(BOOKKEEPING) and "headline.min_cos" in header
    assert cli.main(["plot", str(root / "w1")]) == 0


def test_a_complete_sweep_is_not_rerun(small_runs, capsys):
    root, _ = small_runs
    assert run_cli([str(root / "small.toml"), "--out", str(root / "w1")]) == 2
    assert "already complete" in capsys.readouterr().err


# --- timeouts -------------------------------------------------------------------------------------
def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.parametrize("in_thread", [False, True], ids=["main thread", "worker thread"])
def test_deadline_stops_a_long_point(in_thread):
    caught: list[BaseException] = []

    def target() -> None:
        t0 = time.perf_counter()
        try:
            with deadline(0.2):
                busy(5.0)
        except PointTimeout as exc:
            caught.append(exc)
        caught.append(time.perf_counter() - t0)

    if in_thread:
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    else:
        target()
    assert isinstance(caught[0], PointTimeout) and "0.2 s" in str(caught[0])
    assert caught[1] < 2.0  # stopped near 0.2 s, far before the 5 s of work


def test_a_timed_out_point_is_recorded(tmp_path):
    cfg, exp = runner.resolve(write(tmp_path / "c.toml", SLOW))
    point = sweep.expand(cfg, exp, "c")[0]
    outcome = run_point(Task("alignment", 0, point.cfg, None, 0.05, client_pid=os.getpid()))
    assert outcome.result is None and outcome.error["type"] == "PointTimeout"
    assert outcome.wall_s < 0.25  # the point alone takes ~0.3 s


def test_a_point_in_the_callers_process_leaves_its_brian2_cache_alone(tmp_path, monkeypatch):
    """A Dask cluster of threads runs points in the caller's process: no worker cache is claimed
    there (it would move the caller's Cython cache, and every later compile, to a new place)."""
    import brian2 as b2

    monkeypatch.setattr(worker, "worker_cache_dir", lambda: pytest.fail("claimed a worker cache"))
    before = (b2.prefs.codegen.runtime.cython.cache_dir, os.environ.get("CYTHON_CACHE_DIR"))
    cfg, exp = runner.resolve(write(tmp_path / "c.toml", SMALL))
    point = next(p for p in sweep.expand(cfg, exp, "c") if p.cfg["dynamics"]["max_steps"] > 3)
    outcome = run_point(Task("alignment", 0, point.cfg, None, None, client_pid=os.getpid()))
    assert outcome.error is None and outcome.result is not None
    assert (b2.prefs.codegen.runtime.cython.cache_dir, os.environ.get("CYTHON_CACHE_DIR")) == before


# --- kill and resume ------------------------------------------------------------------------------
def test_sigkill_then_resume_loses_and_reruns_nothing(tmp_path):
    cfg = write(tmp_path / "slow.toml", SLOW)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "stdp_ebm.cli", "run", str(cfg), "--out", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(sweep.finished(out)) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker process, mid-run
    proc.wait()
    before = {i: _stamp(out, i) for i in sweep.finished(out)}
    assert 2 <= len(before) < 8, before
    assert not (out / "summary.json").exists()

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sweep.finished(out) == set(range(8))  # nothing lost
    assert {i: _stamp(out, i) for i in before} == before  # finished points untouched: not re-run
    sessions = sweep.sessions(out)
    assert [s["session"] for s in sessions] == [1, 2]
    assert sessions[1]["finished_before"] == sorted(before)
    assert sessions[1]["pending"] == sorted(set(range(8)) - set(before))
    assert {i for i in range(8) if point_manifest(out, i)["session"] == 2} == \
        set(range(8)) - set(before)
    assert not list((out / "points").glob(".*"))  # the point being written when killed is gone
    assert json.loads((out / "summary.json").read_text())["n_ok"] == 8
    print(f"SIGKILL after {len(before)} of 8 points; the resume ran {sessions[1]['pending']}: "
          "0 finished points lost, 0 re-run")


def _stamp(out: Path, index: int) -> tuple:
    pdir = out / "points" / f"{index:04d}"
    return (point_manifest(out, index)["session"], (pdir / "data.npz").stat().st_mtime_ns,
            (pdir / "data.npz").read_bytes())


def test_resume_needs_the_same_config(tmp_path, capsys):
    cfg = write(tmp_path / "c.toml", SMALL)
    out = tmp_path / "run"
    resolved, exp = runner.resolve(cfg)
    points = sweep.expand(resolved, exp, "c")
    open_sweep(out, resolved, plan(resolved, exp, points), resume=False)  # as if killed
    assert run_cli([str(cfg), "--resume", str(out), "--set", "dynamics.tol=1e-9"]) == 2
    assert "holds a sweep of another config (config.dynamics.tol: 1e-08 there, 1e-09 now)" \
        in capsys.readouterr().err
    assert run_cli(["--resume", str(tmp_path)]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert run_cli(["--resume", str(out), "--workers", "1"]) == 2  # config from out/config.toml
    assert "4 of 8 sweep points failed" in capsys.readouterr().err
    assert sweep.finished(out) == set(range(8)) and (out / "summary.json").is_file()


# --- numerical failures of a single run -----------------------------------------------------------
@pytest.mark.parametrize("case, message", [
    ("diverge", "non-finite state"),
    ("no_convergence", "did not converge in 2 steps"),
])
def test_numerical_failure_is_exit_2_without_a_run_dir(tmp_path, capsys, case, message):
    cfg = write(tmp_path / "c.toml", SMALL.split("[sweep]")[0])
    args = [str(cfg), "--out", str(tmp_path / "out")]
    if case == "diverge":
        net = random_network([6, 8, 4], np.random.default_rng(0))
        net.W[1][:] = 1e308  # finite, a valid file; the drive overflows, the unclipped state too
        save_network(net, tmp_path / "net.npz")
        args += ["--network", str(tmp_path / "net.npz"), "--set", "dynamics.projected=false"]
    else:
        args += ["--set", "dynamics.max_steps=2"]
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "net.npz"][:1 + (case == "diverge")]
