"""A spiking training run that spans sittings, and its worker processes under hostile timing.

``train_spiking`` interrupted after an epoch and resumed gives the bits of an uninterrupted run,
with one process and with the mini-batch split over two workers (the checkpoint holds each network's
clock, state and random numbers: stdp_ebm/spiking/learner.py). A ``[learner]`` worker killed in the
middle of an epoch is one line and exit status 2; workers of a killed parent leave at once and
silently; Ctrl-C of the process group is one line of ours, none of Brian2's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import EXPERIMENTS, REPO
from stdp_ebm import cli
from stdp_ebm.checkpoint import Checkpoint

pytestmark = pytest.mark.brian2

QUICK = EXPERIMENTS / "train_spiking_quick.toml"
# the quick task cut to 2 mini-batches of 10 per epoch and a coarse calibration: seconds per run
SETS = ["calibration.points=11", "calibration.neurons_per_point=20",
        "calibration.duration_ms=200.0", "task.n_train=20", "task.n_test=10", "train.epochs=2"]


def _args(out: Path, workers: int, extra: tuple[str, ...] = ()) -> list[str]:
    sets = SETS + [f"learner.workers={workers}", *extra]
    return ["run", str(QUICK), "--out", str(out), "--quiet"] + \
        [a for s in sets for a in ("--set", s)]


def _data(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "data.npz") as f:  # the measured seconds per epoch differ by nature
        return {k: f[k] for k in f.files if not k.endswith("wall_s")}


@pytest.mark.parametrize("workers, engine", [
    (1, "cython"), pytest.param(2, "cython", marks=pytest.mark.slow),
    # three C++ builds of the compiled episode (one per sitting and the straight run)
    pytest.param(1, "standalone", marks=pytest.mark.slow)])
def test_a_resumed_spiking_run_gives_the_bits_of_an_uninterrupted_one(workers, engine, tmp_path,
                                                                     monkeypatch):
    """Ctrl-C right after the spiking learner's first epoch (its checkpoint written), then the same
    command: it starts from that checkpoint (epoch 2 only) and every array of data.npz equals the
    uninterrupted run's to the bit; without the network state in the checkpoint every ``spk_*``
    array differed. The compiled episode's checkpoint holds its program's state and the index that
    seeds its next run."""
    from stdp_ebm.experiments import train_spiking

    resumed_from, stop = [], [True]

    class StopAfterEpoch1(Checkpoint):
        def save(self, learner, history, rng):
            super().save(learner, history, rng)
            if self.path.stem == "spk" and history.epochs == 1 and stop[0]:
                raise KeyboardInterrupt

        def restore(self, learner, history, rng):
            found = super().restore(learner, history, rng)
            if self.path.stem == "spk":
                resumed_from.append(history.epochs)
            return found

    monkeypatch.setattr(train_spiking, "Checkpoint", StopAfterEpoch1)
    engine_set = (f"learner.engine={engine}",)
    args = _args(tmp_path / "run", workers, engine_set)
    assert cli.main(args) == 130
    assert (tmp_path / ".run.partial" / "checkpoints" / "spk.npz").is_file()
    stop[0] = False
    assert cli.main(args) == 0
    assert resumed_from == [0, 1]  # the second sitting trained epoch 2 only
    assert cli.main(_args(tmp_path / "straight", workers, engine_set)) == 0
    resumed, straight = _data(tmp_path / "run"), _data(tmp_path / "straight")
    assert resumed.keys() == straight.keys() and "spk_W0" in straight
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)


def test_a_checkpoint_without_the_network_state_still_resumes(tmp_path, caplog):
    """A checkpoint of an earlier version (no ``brian2_*`` arrays) is not refused as damaged: the
    run resumes from it with a warning that its noise differs from an uninterrupted run. One that
    holds part of them is damaged."""
    import logging

    from stdp_ebm.checkpoint import History
    from stdp_ebm.errors import RunDirError
    from stdp_ebm.network import random_network
    from stdp_ebm.spiking.learner import DeltaLearner, has_network_state

    class Old(DeltaLearner):  # a learner whose checkpoints hold the network state
        optional_state = ("brian2_",)

        def __init__(self, state: bool, more: bool = False) -> None:
            self.net = random_network([4, 3, 2], np.random.default_rng(0), 0.5, 0.0, 0.0)
            self.state, self.more, self.loaded = state, more, None

        def extra_state(self):
            return {} if not self.state else \
                {"brian2_t": np.array(1.5), **({"brian2_v": np.zeros(3)} if self.more else {})}

        def load_extra_state(self, arrays):
            self.loaded = has_network_state(arrays, "brian2_")

    ck = Checkpoint(tmp_path, "spk")
    ck.save(Old(state=False), History([0.5], [0.5], [1.0], [1.0]), np.random.default_rng(1))
    learner = Old(state=True)
    with caplog.at_level(logging.WARNING):
        assert ck.restore(learner, History(), np.random.default_rng(1))
    assert learner.loaded is False
    assert "draw other random numbers than an uninterrupted run" in caplog.text
    part = Checkpoint(tmp_path / "part", "spk")  # no earlier checkpoint to fall back on
    part.save(Old(state=True), History([0.5], [0.5], [1.0], [1.0]), np.random.default_rng(1))
    with pytest.raises(RunDirError, match="brian2_v is missing"):
        part.restore(Old(state=True, more=True), History(), np.random.default_rng(1))


# --- worker processes under hostile timing (a real command in a subprocess) ---------------------

def _workers(pid: int) -> list[int]:
    """The ``[learner]`` workers among the child processes of ``pid`` (Linux /proc; not
    multiprocessing's resource tracker, which is spawned too)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
            out += [c for c in children
                    if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _start_in_spiking_epochs(tmp_path: Path, workers: int = 2
                             ) -> tuple[subprocess.Popen, list[int]]:
    """``stdp-ebm run`` with ``workers`` in its own process group, stderr to a file, returned
    once the spiking learner trains (the rate learner's checkpoint is written) with the workers'
    process ids."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    err = open(tmp_path / "stderr.txt", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "stdp_ebm.cli",
                             *_args(tmp_path / "run", workers,
                                    ("task.n_train=40", "train.epochs=3"))],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True)
    err.close()
    rate = tmp_path / ".run.partial" / "checkpoints" / "rate.npz"
    deadline = time.monotonic() + 240
    while not rate.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not reach its spiking epochs: "
                        f"{(tmp_path / 'stderr.txt').read_text()}")
        time.sleep(0.1)
    time.sleep(0.5)
    pids = _workers(proc.pid)
    assert len(pids) == (workers if workers > 1 else 0), pids
    return proc, pids


def _stderr(tmp_path: Path) -> list[str]:
    return (tmp_path / "stderr.txt").read_text().splitlines()


@pytest.mark.slow
def test_a_killed_worker_is_one_line_and_status_2(tmp_path):
    """SIGKILL to a worker in the middle of an epoch: the run stops with one line (which worker,
    how, how to continue, where the finished epochs are), status 2, no Brian2 banner, no
    traceback, the other worker stopped and the partial directory kept."""
    proc, workers = _start_in_spiking_epochs(tmp_path)
    os.kill(workers[1], signal.SIGKILL)
    assert proc.wait(timeout=60) == 2
    lines = _stderr(tmp_path)
    print(lines)
    assert len(lines) == 1, lines
    assert "worker 2 of 2" in lines[0] and "SIGKILL" in lines[0]
    assert "run the same command again" in lines[0] and ".run.partial" in lines[0]
    assert not any(_alive(w) for w in workers)
    assert (tmp_path / ".run.partial" / "checkpoints" / "rate.npz").is_file()


@pytest.mark.slow
def test_workers_of_a_killed_parent_leave_at_once_and_silently(tmp_path):
    """SIGKILL to the parent in the middle of an epoch: both workers are gone within 3 s (they
    finished their mini-batch and printed BrokenPipeError tracebacks for up to 10 s) and wrote
    nothing on the shared stderr."""
    proc, workers = _start_in_spiking_epochs(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    t0 = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    gone = time.monotonic() - t0
    print(f"workers gone {gone:.2f} s after the parent")
    assert gone < 3.0  # measured 0.0-0.2 s on 2 loaded cores; a finished mini-batch takes ~1-10 s
    assert _stderr(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_of_the_process_group_is_one_line_of_ours(workers, tmp_path):
    """SIGINT to the whole process group (Ctrl-C at a terminal) during a spiking epoch: workers
    ignore it, the parent stops them (or its own Brian2 run) and exits 130 with its one line (the
    run is unfinished, how to continue): no "Press Ctrl+C again" from Brian2 (it was one line from
    each Brian2 that ran), no traceback."""
    proc, pids = _start_in_spiking_epochs(tmp_path, workers)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    lines = _stderr(tmp_path)
    assert len(lines) == 1, lines
    assert lines[0].startswith("stdp-ebm: interrupted; ") and "is unfinished" in lines[0], lines
    assert not any(_alive(w) for w in pids)


def test_workers_ignore_ctrl_c_and_a_killed_one_is_a_one_line_error(models):
    """Two workers of a 3-4-2 network (Brian2's numpy target: nothing to compile): SIGINT to each
    leaves them working (Ctrl-C is the parent's), and their state round-trips; then one killed
    with SIGKILL is a :class:`WorkerLost` (a UserError: one line, exit 2 at the command line)
    naming it and the signal, and the other is stopped."""
    import multiprocessing

    from stdp_ebm.activation import TabulatedRho
    from stdp_ebm.energy import EQ6
    from stdp_ebm.errors import UserError
    from stdp_ebm.network import network_from_config
    from stdp_ebm.spiking.pool import ParallelSpikingLearner, WorkerLost

    from conftest import numpy_sp, small_config

    net = network_from_config(small_config(sizes=(3, 4, 2), batch=2, init_scale=0.5),
                              np.random.default_rng(5))
    rho = TabulatedRho(np.linspace(-0.5, 1.5, 21), np.linspace(0.0, 1.2, 21))
    sp = numpy_sp(neurons_per_unit=3, settle_ms=5.0, free_ms=10.0, nudged_ms=10.0)
    par = ParallelSpikingLearner(net, rho, sp, models, [1, 2], 2, [0.1, 0.1], EQ6)
    try:
        for proc in par.procs:
            os.kill(proc.pid, signal.SIGINT)
        state = par.extra_state()
        first = par.delta(net.x, net.target)
        par.load_extra_state(state)
        again = par.delta(net.x, net.target)
        for a, b in zip(first[0] + first[1] + [first[2]], again[0] + again[1] + [again[2]]):
            np.testing.assert_array_equal(a, b)  # same state, same random numbers: same bits
        assert all(proc.is_alive() for proc in par.procs)
        victim = par.procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        with pytest.raises(WorkerLost, match=rf"worker 2 of 2 \(process {victim.pid}\) was "
                                             r"killed by SIGKILL") as info:
            par.delta(net.x, net.target)
        assert isinstance(info.value, UserError) and "\n" not in str(info.value)
        assert not multiprocessing.active_children()  # the other worker was stopped too
    finally:
        par.close()


def test_a_random_state_loads_into_a_process_that_has_not_drawn_yet(codegen_target):
    """Cython target: Brian2's random state through the checkpoint's arrays, loaded where no
    buffer is allocated yet (as in a new process: the pointer set to NULL here), draws the numbers
    the saved process drew next: a noisy group run from it is bit-identical."""
    import ctypes
    import ctypes.util

    import brian2 as b2

    from stdp_ebm.spiking.brian2_env import resolve_target
    from stdp_ebm.spiking.randomstate import (random_state, random_state_arrays,
                                              random_state_from_arrays, set_random_state)

    codegen_target(resolve_target("cython"))  # this test's own Brian2 settings
    b2.seed(3)
    group = b2.NeuronGroup(100, "dv/dt = -v/(10*ms) + xi/sqrt(ms) : 1", method="euler")
    net = b2.Network(group)
    net.run(1 * b2.ms)  # 1000 of the buffer's 20000 numbers used: contents matter
    arrays, v0 = random_state_arrays(random_state()), np.array(group.v)
    assert int(arrays["randn_index"]) > 0
    net.run(10 * b2.ms)
    want = np.array(group.v)
    device = b2.get_device()
    held = int(device.randn_buffer[0])
    device.randn_buffer[0] = 0
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(held)  # Brian2 now holds the buffer set_random_state allocates
    set_random_state(random_state_from_arrays(arrays))
    assert int(device.randn_buffer[0]) != 0
    group.v = v0
    net.run(10 * b2.ms)
    np.testing.assert_array_equal(np.array(group.v), want)  # same numbers, same order
