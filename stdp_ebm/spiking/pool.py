"""The spiking learner's mini-batch split over worker processes (``[learner] workers``).

Brian2's runtime target runs on one core. With ``workers`` = P > 1, P processes each hold their own
compiled :class:`~stdp_ebm.spiking.learner.SpikingLearner` for batch/P examples of every mini-batch
(its own Brian2 network and random stream, seeded from the run's master seed). Per mini-batch the
parent sends each worker the current W, b and its slice of the examples; each runs the free and ±β
phases and returns its rule ΔW, Δb (means over its copies) and ŷ; the parent averages the P
estimates, which with equal slices is the mean over all copies, exactly as one network of the whole
batch would form it, and applies the update. Only the random streams differ from the one-process
learner: same seeds and P, same result. Workers start with ``spawn`` (no Brian2 state is forked).
Each worker's learner evaluates over ``eval_free_ms`` as one process does (given a window, it
returns to its training state afterwards; :mod:`stdp_ebm.spiking.learner`).

At each epoch's end the checkpoint holds every worker's network state and random numbers
(``brian2_w<p>_…``, :meth:`SpikingLearner.extra_state`), so a resumed run gives the bits of an
uninterrupted one, as with one process.

Stopping: Ctrl-C (SIGINT to the terminal's process group) is the parent's: workers ignore it, and
the parent, interrupted while it waits for them, stops them at once (the mini-batch in flight is
lost; the finished epochs are in the checkpoint). A worker that dies (killed, out of memory) is one
line (:class:`WorkerLost`, exit status 2 at the command line). A worker whose parent dies exits at
once, silently: a thread waits on the parent's sentinel.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import traceback
from multiprocessing.connection import Connection, wait

import numpy as np

from ..activation import Rho
from ..energy import Energy
from ..errors import UserError
from ..network import Network
from .params import SpikingParams
from .learner import STATE, DeltaLearner, SpikingLearner, has_network_state, pad_batch

__all__ = ["ParallelSpikingLearner", "SplitBatchLearner", "WorkerError", "WorkerLost",
           "pooled_state", "worker_states"]

# the pipe of a parent or worker that is gone
GONE = (EOFError, BrokenPipeError, ConnectionResetError)


class WorkerError(RuntimeError):
    """A worker process failed; the message is its exception's."""


class WorkerLost(UserError):
    """A worker process died (killed, out of memory) without reporting an error."""


def pooled_state(states: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The checkpoint arrays of P workers' :meth:`SpikingLearner.extra_state`, worker p's keys
    ``brian2_…`` renamed ``brian2_w<p>_…``.

    Parameters
    ----------
    states : list of dict
        Worker p's network state and random numbers, in worker order.

    Returns
    -------
    dict
        All of them, in one namespace.
    """
    out = {}
    for p, arrays in enumerate(states):
        out.update({f"{STATE}w{p}_{k[len(STATE):]}": v for k, v in arrays.items()})
    return out


def worker_states(arrays: dict[str, np.ndarray], workers: int
                  ) -> list[dict[str, np.ndarray]] | None:
    """The inverse of :func:`pooled_state`: worker p's arrays under their own names, for each of
    ``workers``; None (and a warning) for a checkpoint that holds no network state.

    Parameters
    ----------
    arrays : dict
        A checkpoint's arrays.
    workers : int
        P, the number of workers.

    Returns
    -------
    list of dict or None
        One dict per worker, in order.
    """
    if not has_network_state(arrays, f"{STATE}w0_"):
        return None
    out = []
    for p in range(workers):
        prefix = f"{STATE}w{p}_"
        out.append({STATE + k[len(prefix):]: v for k, v in arrays.items()
                    if k.startswith(prefix)})
    return out


def _exit_with_parent() -> None:
    """Exit this worker at once, without a word, when its parent process is gone (killed: no
    ``stop`` will come, and a reply would only meet a closed pipe)."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(conn: Connection, kwargs: dict, cls: type = SpikingLearner) -> None:
    """A worker: build one :class:`SpikingLearner` (or ``cls``), then answer ``delta`` /
    ``predict`` requests with the parameters they carry, and ``state`` / ``load`` requests for its
    network state, until ``stop`` (or the parent goes away)."""
    import brian2  # noqa: F401 - installs its Ctrl-C handler, replaced here

    from .. import progress

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()
    progress.configure(False)  # Brian2's per-run reports: the parent reports progress
    try:
        learner = cls(**kwargs)
        conn.send(("ok", None))
        while True:
            request = conn.recv()
            what = request[0]
            if what == "stop":
                learner.close()
                return
            out: object = None
            if what == "state":
                out = learner.extra_state()
            elif what == "load":
                learner.load_extra_state(request[1])
            else:
                W, b, *args = request[1:]
                learner.net.W, learner.net.b = W, b
                out = learner.delta(*args) if what == "delta" else learner.predict(*args)
            conn.send(("ok", out))
    except (*GONE, KeyboardInterrupt):
        return
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        report = ("user", str(e)) if isinstance(e, UserError) else \
            ("bug", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        try:
            conn.send(report)
        except GONE:
            pass


def _ignoring_sigint(start) -> None:
    """``start()`` with SIGINT ignored: a spawned process inherits the disposition, so a Ctrl-C
    while it imports meets no handler that would print a traceback."""
    if threading.current_thread() is not threading.main_thread():
        start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        start()
    finally:
        signal.signal(signal.SIGINT, previous)


class SplitBatchLearner(DeltaLearner):
    """What the worker pools share: ``workers`` learners of batch/P examples each answer
    :meth:`_ask` with their rows of the mini-batch; ΔW, Δb are the mean of their means."""

    net: Network
    _batch: int
    part: int

    def _split(self, net: Network, lrs: list[float], batch: int, workers: int,
               least: int = 2) -> None:
        """Check that ``workers`` ≥ ``least`` divide ``batch``; keep the parameters the requests
        carry."""
        if workers < least or batch % workers:
            raise UserError(f"[learner] workers = {workers}: needs {least} or more workers that "
                            f"divide [train] batch_size = {batch}")
        self.net, self.lrs, self._batch = net.copy(), lrs, batch
        self.part = batch // workers

    @property
    def batch(self) -> int:
        """Examples per mini-batch, over all workers."""
        return self._batch

    def _ask(self, what: str, *slices: np.ndarray) -> list:
        """Each worker's answer to ``what`` with the current parameters and its rows of each
        array."""
        raise NotImplementedError

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """ΔW_k, Δb_{k+1} (the mean of the workers' means) and ŷ of one full mini-batch.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (batch, n_0); worker p gets rows p·batch/P … (p+1)·batch/P − 1.
        d : numpy.ndarray
            One-hot targets, shape (batch, n_out).

        Returns
        -------
        dW : list of numpy.ndarray
            ΔW_k, shape (n_k, n_{k+1}): the mean of the workers' means over their copies (Eq 26).
        db : list of numpy.ndarray
            Δb_k of layers 1 … L, shape (n_k,), likewise.
        y : numpy.ndarray
            Free-phase ŷ of every example, the workers' rows in order, shape (batch, n_out).
        """
        dWs, dbs, ys = zip(*self._ask("delta", x, d))  # per worker
        return ([np.mean(w, axis=0) for w in zip(*dWs)], [np.mean(v, axis=0) for v in zip(*dbs)],
                np.concatenate(ys))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """ŷ of a free phase of each worker on its rows of ``x`` (padded to the batch).

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (rows, n_0), rows ≤ batch.

        Returns
        -------
        numpy.ndarray
            ŷ averaged over the noise trials, shape (rows, n_out).
        """
        return np.concatenate(self._ask("predict", pad_batch(x, self.batch)))[:len(x)]


class ParallelSpikingLearner(SplitBatchLearner):
    """:class:`SpikingLearner`'s interface with the mini-batch split over ``len(seeds)`` worker
    processes, worker p seeded ``seeds[p]`` (see the module docstring).

    Parameters
    ----------
    net, rho, sp, models, batch, lrs, energy, input_mode, rule_dt_ms, eval_free_ms
        As for :class:`SpikingLearner` (``batch``: the whole mini-batch; each worker's learner
        gets batch/P).
    seeds : list of int
        One Brian2 seed per worker; P = ``len(seeds)`` must divide ``batch``, P ≥ 2 for
        :class:`SpikingLearner` (one process runs it in the caller's), P ≥ 1 for another learner.
    learner : type
        The learner each worker builds with :class:`SpikingLearner`'s arguments (default
        :class:`SpikingLearner`; :class:`~stdp_ebm.spiking.compiled_learner.
        CompiledSpikingLearner`, which needs a process of its own, for the compiled episode).

    Raises
    ------
    UserError
        If P is too small or does not divide ``batch``, or a worker dies while building.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, seeds: list[int],
                 batch: int, lrs: list[float], energy: Energy, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0, eval_free_ms: float | None = None, *,
                 learner: type = SpikingLearner) -> None:
        self._split(net, lrs, batch, len(seeds), 2 if learner is SpikingLearner else 1)
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        self._pending = True  # a request whose answers are not all in: close() stops at once
        for seed in seeds:
            parent, child = ctx.Pipe()
            kwargs = dict(net=net, rho=rho, sp=sp, models=models, seed=seed, batch=self.part,
                          lrs=lrs, energy=energy, input_mode=input_mode, rule_dt_ms=rule_dt_ms,
                          eval_free_ms=eval_free_ms)
            proc = ctx.Process(target=_serve, args=(child, kwargs, learner), daemon=True)
            _ignoring_sigint(proc.start)
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self._gather()

    def _gather(self) -> list:
        """Every worker's answer, in order; a worker's failure raised here, all workers stopped."""
        out = []
        for p, conn in enumerate(self.conns):
            try:
                kind, value = conn.recv()
            except GONE:
                kind, value = "lost", self._lost(p)
            if kind != "ok":
                self.close()
                raise {"user": UserError, "lost": WorkerLost}.get(kind, WorkerError)(value)
            out.append(value)
        self._pending = False
        return out

    def _lost(self, p: int) -> str:
        """What became of worker ``p``, whose pipe closed without an answer."""
        proc = self.procs[p]
        proc.join(timeout=5)
        code = proc.exitcode
        if code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = "exited" if code is None else f"exited with status {code}"
        return (f"[learner] worker {p + 1} of {len(self.procs)} (process {proc.pid}) {how} "
                "before it answered; run the same command again to continue from the last "
                "finished epoch")

    def _send(self, requests: list[tuple]) -> list:
        """Send worker p ``requests[p]``; their answers (:meth:`_gather`)."""
        self._pending = True
        for p, (conn, request) in enumerate(zip(self.conns, requests)):
            try:
                conn.send(request)
            except GONE:
                self.close()
                raise WorkerLost(self._lost(p)) from None
        return self._gather()

    def _ask(self, what: str, *slices: np.ndarray) -> list:
        """Send ``what`` with the current parameters and worker p's rows of each array."""
        return self._send([(what, self.net.W, self.net.b,
                            *(a[p * self.part:(p + 1) * self.part] for a in slices))
                           for p in range(len(self.conns))])

    def extra_state(self) -> dict[str, np.ndarray]:
        """Every worker's network state and random numbers, worker p's as ``brian2_w<p>_…``.

        Returns
        -------
        dict of str to numpy.ndarray
            :func:`pooled_state` of the workers' :meth:`SpikingLearner.extra_state`.
        """
        return pooled_state(self._send([("state",)] * len(self.conns)))

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Each worker back to its state in ``arrays`` (from :meth:`extra_state`).

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays; without a worker state (an earlier version's checkpoint) the
            workers keep theirs, with a warning.
        """
        states = worker_states(arrays, len(self.conns))
        if states is not None:
            self._send([("load", state) for state in states])

    def close(self) -> None:
        """Stop the workers: asked to, or at once if a request is in flight (an error or Ctrl-C
        in the middle of a mini-batch, whose result is not wanted). They also stop when the
        parent exits: they are daemons, and each watches its parent."""
        now = self._pending
        for conn, proc in zip(self.conns, self.procs):
            if now:
                proc.terminate()
                continue
            try:
                conn.send(("stop",))
            except GONE:
                pass
        for conn, proc in zip(self.conns, self.procs):
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        self.conns, self.procs = [], []
