"""The spiking learner's mini-batch split over worker processes (``[learner] workers``).

Brian2's runtime target runs on one core. With ``workers`` = P > 1, P processes each hold their own
compiled :class:`~stdp_ebm.spiking_learner.SpikingLearner` for batch/P examples of every mini-batch
(its own Brian2 network and random stream, seeded from the run's master seed). Per mini-batch the
parent sends each worker the current W, b and its slice of the examples; each runs the free and ±β
phases and returns its rule ΔW, Δb (means over its copies) and ŷ; the parent averages the P
estimates, which with equal slices is the mean over all copies, exactly as one network of the whole
batch would form it, and applies the update. Only the random streams differ from the one-process
learner: same seeds and P, same result. Workers start with ``spawn`` (no Brian2 state is forked)
and stop with the parent.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from multiprocessing.connection import Connection

import numpy as np

from .activation import Rho
from .energy import Energy
from .errors import UserError
from .network import Network
from .spiking_learner import DeltaLearner, SpikingLearner, pad_batch


class WorkerError(RuntimeError):
    """A worker process failed; the message is its exception's."""


def _serve(conn: Connection, kwargs: dict) -> None:
    """A worker: build one :class:`SpikingLearner`, then answer ``delta`` / ``predict`` requests
    with the parameters they carry until ``stop`` (or the parent goes away)."""
    from . import progress

    progress.configure(False)  # Brian2's per-run reports: the parent reports progress
    try:
        learner = SpikingLearner(**kwargs)
        conn.send(("ok", None))
        while True:
            request = conn.recv()
            if request[0] == "stop":
                return
            what, W, b, *args = request
            learner.net.W, learner.net.b = W, b
            out = learner.delta(*args) if what == "delta" else learner.predict(*args)
            conn.send(("ok", out))
    except (EOFError, KeyboardInterrupt):
        return
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        if isinstance(e, UserError):  # bad input: its one line
            conn.send(("user", str(e)))
        else:
            conn.send(("bug", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))


class ParallelSpikingLearner(DeltaLearner):
    """:class:`SpikingLearner`'s interface with the mini-batch split over ``len(seeds)`` worker
    processes, worker p seeded ``seeds[p]`` (see the module docstring)."""

    def __init__(self, net: Network, rho: Rho, sp: dict, models: dict, seeds: list[int],
                 batch: int, lrs: list[float], energy: Energy, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0) -> None:
        workers = len(seeds)
        if workers < 2 or batch % workers:
            raise UserError(f"[learner] workers = {workers}: needs 2 or more workers that divide "
                            f"[train] batch_size = {batch}")
        self.net, self.lrs, self._batch = net.copy(), lrs, batch
        self.part = batch // workers
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for seed in seeds:
            parent, child = ctx.Pipe()
            kwargs = dict(net=net, rho=rho, sp=sp, models=models, seed=seed, batch=self.part,
                          lrs=lrs, energy=energy, input_mode=input_mode, rule_dt_ms=rule_dt_ms)
            proc = ctx.Process(target=_serve, args=(child, kwargs), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self._gather()

    @property
    def batch(self) -> int:
        return self._batch

    def _gather(self) -> list:
        """Every worker's answer, in order; a worker's failure raised here, all workers stopped."""
        out = []
        for p, conn in enumerate(self.conns):
            try:
                kind, value = conn.recv()
            except EOFError:
                kind, value = "bug", f"worker {p} exited (code {self.procs[p].exitcode})"
            if kind != "ok":
                self.close()
                raise UserError(value) if kind == "user" else WorkerError(value)
            out.append(value)
        return out

    def _ask(self, what: str, *slices: np.ndarray) -> list:
        """Send ``what`` with the current parameters and worker p's rows of each array."""
        for p, conn in enumerate(self.conns):
            rows = slice(p * self.part, (p + 1) * self.part)
            conn.send((what, self.net.W, self.net.b, *(a[rows] for a in slices)))
        return self._gather()

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """ΔW_k, Δb_{k+1} (the mean of the workers' means) and ŷ of one full mini-batch."""
        dWs, dbs, ys = zip(*self._ask("delta", x, d))  # per worker
        return ([np.mean(w, axis=0) for w in zip(*dWs)], [np.mean(v, axis=0) for v in zip(*dbs)],
                np.concatenate(ys))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate(self._ask("predict", pad_batch(x, self.batch)))[:len(x)]

    def close(self) -> None:
        """Stop the workers (they also stop when the parent exits: they are daemons)."""
        for conn, proc in zip(self.conns, self.procs):
            try:
                conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        self.conns, self.procs = [], []
