"""The spiking learner's workers on a Dask cluster (stdp_ebm/spiking/dask_pool.py).

One ``LocalCluster`` of two worker processes (one thread each) for the module. Default suite: the
pool's split, state keeping and recovery with a stand-in learner without Brian2 (seconds), against
the same learners run by hand in this process. Slow: a 3-4-2 network of
3 neurons per unit on Brian2's numpy target (nothing to compile), mini-batches of 2 examples over 2
learners. The reference is the local pool of worker processes (stdp_ebm/spiking/pool.py, itself
checked against one-process learners of half the batch in tests/test_train_spiking.py): same P,
seeds and code, so every comparison is to the bit (``assert_array_equal``), which a stale W, a
lost random stream or a learner rebuilt from the wrong state would break.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import REPO, numpy_sp, run_cli, small_config

distributed = pytest.importorskip("distributed")

SEEDS = [11, 12]
LRS = [0.1, 0.1]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def setup():
    """The network, ρ, [spiking] and two mini-batches of 2 examples."""
    from stdp_ebm.activation import TabulatedRho
    from stdp_ebm.network import network_from_config

    net = network_from_config(small_config(sizes=(3, 4, 2), batch=4, init_scale=0.5),
                              np.random.default_rng(5))
    rho = TabulatedRho(np.linspace(-0.5, 1.5, 21), np.linspace(0.0, 1.2, 21))
    sp = numpy_sp(neurons_per_unit=3, settle_ms=5.0, free_ms=10.0, nudged_ms=10.0)
    return net, rho, sp


class CountingLearner:
    """A stand-in for :class:`SpikingLearner` without Brian2: its answers depend on W, b, its rows
    and a random stream (draw n of seed s: ``default_rng([s, n])``) whose position n is its whole
    state, as a spiking learner's depend on its network state and random numbers."""

    def __init__(self, net, seed: int, batch: int, **kwargs) -> None:
        self.net, self.seed, self.batch, self.n = net.copy(), seed, batch, 0

    def _draw(self) -> float:
        self.n += 1
        return float(np.random.default_rng([self.seed, self.n]).standard_normal())

    def delta(self, x, d):
        z = self._draw()
        return ([w * z + x.sum() for w in self.net.W], [v * z + d.sum() for v in self.net.b[1:]],
                np.full((len(x), d.shape[1]), z))

    def predict(self, x):
        return np.full((len(x), self.net.sizes[-1]), self._draw())

    def full_state(self) -> dict:
        return {"now": {"brian2_t": np.array(float(self.n))}, "training": None}

    def load_full_state(self, state: dict) -> None:
        self.n = int(state["now"]["brian2_t"])


def test_a_lost_worker_is_rebuilt_from_the_state_the_parent_kept(client, setup):
    """Stand-in learners on the cluster, three mini-batches and a prediction; the worker process
    holding learner 2 killed (SIGKILL) before the second: learner 2 is rebuilt on the other
    worker, loads its state and is sent the mini-batch again; W, b, ŷ and the checkpoint are those
    of the two learners run by hand here without a loss (each mini-batch the mean of their ΔW,
    applied by ``apply_update``). A learner rebuilt in its initial state instead, or left out,
    would give other numbers."""
    from stdp_ebm.energy import EQ6
    from stdp_ebm.learning import apply_update
    from stdp_ebm.spiking.dask_pool import DaskSpikingLearner

    net, rho, sp = setup
    x = np.tile(net.x, (2, 1))[:6]
    d = np.tile(net.target, (2, 1))[:6]
    ref, hand = net.copy(), [CountingLearner(net, s, 1) for s in SEEDS]
    expected = []
    for i in range(3):
        for one in hand:
            one.net = ref
        parts = [one.delta(x[2 * i + p:2 * i + p + 1], d[2 * i + p:2 * i + p + 1])
                 for p, one in enumerate(hand)]
        apply_update(ref, LRS, 1.0, [np.mean(w, axis=0) for w in zip(*[q[0] for q in parts])],
                     [np.mean(v, axis=0) for v in zip(*[q[1] for q in parts])])
        if i == 0:
            expected.append(np.concatenate([hand[0].predict(x[:1]), hand[1].predict(x[:1])])[:1])
        expected.extend([a.copy() for a in (*ref.W, *ref.b)])

    dask = DaskSpikingLearner(net, rho, sp, {}, SEEDS, 2, LRS, EQ6, client=client,
                              learner=CountingLearner)
    pids = client.run(os.getpid)

    def kill(i: int) -> None:
        if i == 1:
            os.kill(pids[dask.hosts[1]], signal.SIGKILL)
    try:
        got = _train(dask, (net.copy(), rho, sp), during=kill, x=x, d=d, batches=(0, 1, 2))
        state, lost, hosts = dask.extra_state(), list(dask.lost), list(dask.hosts)
    finally:
        dask.close()
    assert [p for p, _ in lost] == [1] and hosts[1] != lost[0][1]  # rebuilt elsewhere, once
    _equal(got, expected)
    assert state == {"brian2_w0_t": 4.0, "brian2_w1_t": 4.0}  # 3 mini-batches + 1 prediction


def _learner(setup, models, client=None):
    from stdp_ebm.energy import EQ6
    from stdp_ebm.spiking.dask_pool import DaskSpikingLearner
    from stdp_ebm.spiking.pool import ParallelSpikingLearner

    net, rho, sp = setup
    if client is None:
        return ParallelSpikingLearner(net, rho, sp, models, SEEDS, 2, LRS, EQ6)
    return DaskSpikingLearner(net, rho, sp, models, SEEDS, 2, LRS, EQ6, client=client)


def _train(learner, setup, batches=(0, 1), during=None, x=None, d=None) -> list[np.ndarray]:
    """``batches`` mini-batch updates of 2 rows of ``x``, ``d`` (default: the network's) with a
    prediction after the first; ŷ, then W, b after each; ``during(i)`` called as mini-batch i is
    sent."""
    net = setup[0]
    x = net.x if x is None else x
    d = net.target if d is None else d
    out = []
    for i in batches:
        rows = slice(2 * i, 2 * i + 2)
        if during is not None:
            during(i)
        learner.update(None, x[rows], d[rows], 1.0, None)
        if i == 0:
            out.append(learner.predict(x[:1]))
        out.extend([a.copy() for a in (*learner.net.W, *learner.net.b)])  # updated in place
    return out


@pytest.fixture(scope="module")
def local_run(setup, models):
    """The local pool's ŷ, W, b over two mini-batches, and its checkpoints after each."""
    par = _learner(setup, models)
    try:
        first = _train(par, setup, (0,))
        state = par.extra_state()
        return first + _train(par, setup, (1,)), state, par.extra_state()
    finally:
        par.close()


def _equal(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_dask_learners_give_the_local_pools_bits_and_resume_from_its_checkpoint(
        client, setup, models, local_run):
    """Two mini-batches and a prediction on the cluster: W, b, ŷ and the checkpoint arrays equal
    to the local pool's. Then the local pool's checkpoint after the first mini-batch, loaded
    with its W, b: the second mini-batch again gives the local pool's bits (a checkpoint moves
    between the two pools)."""
    net = setup[0]
    dask = _learner(setup, models, client)
    try:
        assert sorted(dask.hosts) == sorted(client.scheduler_info()["workers"])  # one each
        got = _train(dask, setup)
        state = dask.extra_state()
        k = len(net.W)
        one = 1 + k + len(net.b)  # ŷ and W, b after the first mini-batch
        after_first = local_run[0][1:one]
        dask.net.W = [w.copy() for w in after_first[:k]]
        dask.net.b = [v.copy() for v in after_first[k:]]
        dask.load_extra_state(local_run[1])
        resumed = _train(dask, setup, (1,))
    finally:
        dask.close()
    _equal(got, local_run[0])
    local_state = local_run[2]
    assert sorted(state) == sorted(local_state) and any(k.startswith("brian2_w1_") for k in state)
    _equal([state[k] for k in sorted(state)], [local_state[k] for k in sorted(state)])
    _equal(resumed, local_run[0][one:])


@pytest.mark.slow
def test_a_killed_dask_worker_is_rebuilt_and_the_run_is_unchanged(client, setup, models,
                                                                    local_run, caplog):
    """SIGKILL to the worker process holding learner 2, 0.2 s after the second mini-batch is sent
    (in the middle of its phases): the learner is rebuilt on the other worker (or the one the
    nanny restarts) from its state before that mini-batch, the mini-batch is sent again, and W, b
    and ŷ are the local pool's bits."""
    dask = _learner(setup, models, client)
    pids = client.run(os.getpid)
    killed = []

    def kill(i: int) -> None:
        if i == 1:
            victim = pids[dask.hosts[1]]
            killed.append(victim)
            threading.Timer(0.2, os.kill, (victim, signal.SIGKILL)).start()
    try:
        got = _train(dask, setup, during=kill)
        lost = list(dask.lost)
    finally:
        dask.close()
    assert killed and lost and lost[0][0] == 1, lost  # learner 2 was lost and rebuilt
    assert "was lost" in caplog.text
    _equal(got, local_run[0])


def test_bad_and_unreachable_schedulers_are_one_line_and_status_2(tmp_path):
    """A malformed address before anything runs; a well-formed one where no scheduler listens
    before the calibration (one line each)."""
    for address, words in (("localhost:8786", "expected a Dask scheduler address"),
                           ("tcp://127.0.0.1:1", "cannot connect")):
        code, err = run_cli(["run", "train_spiking_quick", "--set", "learner.workers=2",
                             "--scheduler", address, "--out", str(tmp_path / "run")])
        assert code == 2 and words in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_learners_of_a_killed_parent_are_released(client, setup):
    """A parent process with two learners on the cluster killed with SIGKILL: the scheduler drops
    its client and the workers drop the learners (within 30 s)."""
    script = (
        "import sys, time, numpy as np\n"
        "from stdp_ebm.activation import TabulatedRho\n"
        "from stdp_ebm.energy import EQ6\n"
        "from stdp_ebm.spiking import load_models\n"
        "from stdp_ebm.spiking.dask_pool import DaskSpikingLearner\n"
        "from stdp_ebm.network import network_from_config\n"
        "sys.path.insert(0, 'tests')\n"
        "from conftest import numpy_sp, small_config\n"
        "net = network_from_config(small_config(sizes=(3, 4, 2), batch=4), "
        "np.random.default_rng(5))\n"
        "rho = TabulatedRho(np.linspace(-0.5, 1.5, 21), np.linspace(0.0, 1.2, 21))\n"
        "sp = numpy_sp(neurons_per_unit=3, settle_ms=5.0, free_ms=10.0, nudged_ms=10.0)\n"
        f"d = DaskSpikingLearner(net, rho, sp, load_models(), [1, 2], 2, [0.1, 0.1], EQ6, "
        f"client={client.scheduler.address!r})\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        def actors(dask_worker) -> int:
            return len(dask_worker.state.actors)
        assert sum(client.run(actors).values()) == 2
        proc.kill()
        t0 = time.monotonic()
        while sum(client.run(actors).values()) and time.monotonic() - t0 < 30:
            time.sleep(0.5)
        print(f"learners released {time.monotonic() - t0:.1f} s after the parent died")
        assert sum(client.run(actors).values()) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
@pytest.mark.brian2
def test_a_training_run_on_the_cluster_equals_the_local_pools(client, tmp_path):
    """``stdp-ebm run`` of the quick spiking training (2 epochs of 2 mini-batches, 2 workers) with
    ``--scheduler``: every array of the spiking learner in data.npz (weights, errors, costs,
    alignment, per-image masks) equal to the run on local worker processes; wall times aside."""
    from test_spiking_resume import _args

    from stdp_ebm import cli

    assert cli.main(_args(tmp_path / "local", 2)) == 0
    assert cli.main(_args(tmp_path / "dask", 2) + ["--scheduler", client.scheduler.address]) == 0
    local, dask = np.load(tmp_path / "local" / "data.npz"), np.load(tmp_path / "dask" / "data.npz")
    keys = [k for k in local.files if k.startswith("spk_") and k != "spk_wall_s"]
    assert "spk_W0" in keys and sorted(keys) == sorted(k for k in dask.files
                                                      if k.startswith("spk_") and k != "spk_wall_s")
    _equal([dask[k] for k in keys], [local[k] for k in keys])
