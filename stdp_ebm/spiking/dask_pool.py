"""The spiking learner's mini-batch split over the workers of a Dask cluster (``[learner] workers``
with ``--scheduler ADDRESS``).

The split is :mod:`stdp_ebm.spiking.pool`'s: P learners of batch/P examples, learner p seeded
``seeds[p]``, each sent W, b and its rows of every mini-batch; the parent averages their ΔW, Δb
and applies the update. Same P and seeds, same code: the same bits as the local pool.

Each learner lives on a Dask worker as an **actor** (:class:`LearnerActor`): an object the worker
keeps between calls, so the compiled Brian2 network and its random stream stay there from one
mini-batch to the next, and a call goes from this process to that worker directly, without a task
through the scheduler. (A worker plugin with tasks pinned by ``workers=`` would keep the object
too, but each call would be a scheduler task; an actor is the object and its calls, nothing else.)
Learners are placed on the workers with the fewest learners; a cluster with fewer workers than P
holds several on one worker, each with its own random stream (:class:`~stdp_ebm.spiking.
brian2_env.Brian2Env`), answering in turn.

A lost worker. Dask does not move an actor: its object dies with its worker. The parent therefore
keeps, per learner, everything the learner's next answer depends on besides the request: its
network state and random numbers after its last answer (:meth:`SpikingLearner.full_state`, sent
back with every answer). When a call fails because the worker is gone (killed, out of memory, its
machine down), the learner is built again on another worker (or on the one the cluster starts in
its place) with the same arguments, loads that state, and the same request — the mini-batch's
rows, W and b, which the parent still holds — is sent again: the network starts from the same
state with the same random numbers, so its answer, and the run, are the bits of a run without the
loss. A loss is logged (a warning); a learner lost more than :data:`RETRIES` times in one request
is a :class:`~stdp_ebm.spiking.pool.WorkerLost` (one line, exit status 2).

Checkpoints hold every learner's training state under the local pool's names (``brian2_w<p>_…``,
:func:`~stdp_ebm.spiking.pool.pooled_state`), from the states the parent holds (no round trip):
a run checkpointed on a cluster resumes on local processes and back, to the bit.

The learners end with the parent: :meth:`DaskSpikingLearner.close` releases them, and if the
parent dies its client's connection closes and the scheduler releases everything the client held,
the actors included; the cluster's workers stay (they are the cluster's).
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable

import numpy as np

from ..activation import Rho
from ..cluster import connect
from ..energy import Energy
from ..errors import UserError
from ..network import Network
from .learner import SpikingLearner
from .params import SpikingParams
from .pool import SplitBatchLearner, WorkerError, WorkerLost, pooled_state, worker_states

__all__ = ["DaskSpikingLearner", "LearnerActor", "RETRIES"]

LOG = logging.getLogger(__name__)
#: losses of one learner's worker within one request that are recovered from (the learner is
#: rebuilt on another worker and asked again); one more stops the run with :class:`WorkerLost`
RETRIES = 3
WAIT_S = 60.0  # for a worker to take a lost learner's place


def _answer(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", call())``, or the failure as data: a :class:`UserError`'s message, or a bug's
    traceback. An actor call that raises is then always a lost worker, never the learner's own
    error."""
    try:
        return "ok", call()
    except UserError as e:
        return "user", str(e)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        return "bug", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"


class LearnerActor:
    """One learner (a :class:`SpikingLearner`, or ``cls`` with its interface) held by a Dask worker
    between calls (a Dask actor).

    Each method answers ``("ok", value)``, or the failure as data: ``("user", message)`` for a
    :class:`~stdp_ebm.errors.UserError`, ``("bug", traceback)`` for any other exception.

    The second argument, ``cls`` (a type; default :class:`SpikingLearner`), is the learner's
    class: :class:`SpikingLearner` or one with its interface.

    Parameters
    ----------
    kwargs : dict
        The keyword arguments the learner is built with (:class:`SpikingLearner`'s: ``net``,
        ``rho``, ``sp``, ``models``, ``seed``, ``batch``, …).
    """

    def __init__(self, kwargs: dict, cls: type = SpikingLearner) -> None:
        self.kwargs, self.cls = kwargs, cls
        self.learner: Any = None

    def build(self) -> tuple[str, Any]:
        """Build the learner (compiles on a worker's first one); its :meth:`~SpikingLearner.
        full_state`.

        Returns
        -------
        tuple of (str, object)
            ``("ok", full_state)`` or the failure as data (see the class docstring).
        """
        from .. import progress

        progress.configure(False)  # Brian2's per-run reports: the parent reports progress

        def build() -> dict:
            self.learner = self.cls(**self.kwargs)
            return self.learner.full_state()
        return _answer(build)

    def load(self, state: dict) -> tuple[str, Any]:
        """Back to ``state`` (:meth:`SpikingLearner.load_full_state`).

        Parameters
        ----------
        state : dict
            A learner's :meth:`~SpikingLearner.full_state`.

        Returns
        -------
        tuple of (str, object)
            ``("ok", None)`` or the failure as data (see the class docstring).
        """
        return _answer(lambda: self.learner.load_full_state(state))

    def run(self, what: str, W: list[np.ndarray], b: list[np.ndarray], *args: np.ndarray
            ) -> tuple[str, Any]:
        """``delta`` or ``predict`` with parameters W, b: (its answer, the learner's full state
        after it, the call's CPU seconds in this thread).

        Parameters
        ----------
        what : str
            ``"delta"`` or ``"predict"``.
        W : list of numpy.ndarray
            The current weights W_k, shape (n_k, n_{k+1}).
        b : list of numpy.ndarray
            The current biases b_k, shape (n_k,).
        *args : numpy.ndarray
            The arguments of the call: this learner's rows of x (and of d for ``delta``).

        Returns
        -------
        tuple of (str, object)
            ``("ok", (answer, full_state, cpu_s))`` with the call's answer, the learner's
            :meth:`~SpikingLearner.full_state` after it and the call's CPU time (s); or the
            failure as data (see the class docstring).
        """
        learner = self.learner
        assert learner is not None

        def run() -> tuple:
            cpu = time.thread_time()
            learner.net.W, learner.net.b = W, b
            out = learner.delta(*args) if what == "delta" else learner.predict(*args)
            return out, learner.full_state(), time.thread_time() - cpu
        return _answer(run)


class DaskSpikingLearner(SplitBatchLearner):
    """:class:`SpikingLearner`'s interface with the mini-batch split over ``len(seeds)`` learners
    on a Dask cluster, learner p seeded ``seeds[p]`` (see the module docstring).

    Parameters
    ----------
    net, rho, sp, models, batch, lrs, energy, input_mode, rule_dt_ms, eval_free_ms
        As for :class:`SpikingLearner` (``batch``: the whole mini-batch).
    seeds : list of int
        One Brian2 seed per learner; P = ``len(seeds)`` ≥ 2 must divide ``batch``.
    client : distributed.Client or str
        The cluster: a client, or a scheduler address to connect to.
    owns_client : bool or None
        Whether :meth:`close` closes the client (None: if it was given as an address).
    learner : type
        The learner each actor holds, built with :class:`SpikingLearner`'s arguments and answering
        its ``delta``, ``predict``, ``full_state`` and ``load_full_state``.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, seeds: list[int],
                 batch: int, lrs: list[float], energy: Energy, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0, eval_free_ms: float | None = None, *,
                 client: Any, owns_client: bool | None = None,
                 learner: type = SpikingLearner) -> None:
        self._split(net, lrs, batch, len(seeds))
        self._own = isinstance(client, str) if owns_client is None else owns_client
        self._cls = learner
        self.client = connect(client) if isinstance(client, str) else client
        self.kwargs = [dict(net=net, rho=rho, sp=sp, models=models, seed=seed, batch=self.part,
                            lrs=lrs, energy=energy, input_mode=input_mode,
                            rule_dt_ms=rule_dt_ms, eval_free_ms=eval_free_ms) for seed in seeds]
        self.hosts: list[str] = []
        self.actors: list[Any] = []
        self._futures: list[Any] = []  # the actors live while these are held
        self.gone: set[str] = set()  # workers lost during the run
        self.lost: list[tuple[int, str]] = []  # (learner, worker address) of each loss
        self.cpu_s: list[float] = []  # each learner's CPU seconds in its last request
        try:
            self.client.wait_for_workers(1, timeout=WAIT_S)
            for p in range(len(seeds)):
                self._place(p)
            self.states = self._check(self._wait([a.build() for a in self.actors]))
        except BaseException:
            self.close()
            raise

    def _place(self, p: int) -> None:
        """An actor for learner p (appended, or in its place) on the live worker that holds the
        fewest learners; waits up to :data:`WAIT_S` for one."""
        deadline = time.monotonic() + WAIT_S
        while True:
            live = sorted(set(self.client.scheduler_info()["workers"]) - self.gone)
            if live:
                break
            if time.monotonic() > deadline:
                raise WorkerLost(f"[learner] no Dask worker left to hold learner {p + 1} "
                                 f"(waited {WAIT_S:g} s)")
            time.sleep(0.5)
        others = [h for q, h in enumerate(self.hosts) if q != p]
        host = min(live, key=others.count)
        future = self.client.submit(LearnerActor, self.kwargs[p], self._cls, actor=True,
                                    pure=False, workers=[host], allow_other_workers=False)
        actor = future.result()
        if p < len(self.actors):
            self._futures[p].release()
            self.hosts[p], self.actors[p], self._futures[p] = host, actor, future
        else:
            self.hosts.append(host)
            self.actors.append(actor)
            self._futures.append(future)

    @staticmethod
    def _wait(calls: list) -> list:
        """The results of actor calls, in order (an exception: a worker gone)."""
        return [c.result() for c in calls]

    def _check(self, replies: list[tuple[str, Any]]) -> list:
        """The values of ``("ok", value)`` replies; a learner's failure is raised here, all
        learners released."""
        for kind, value in replies:
            if kind != "ok":
                self.close()
                raise (UserError if kind == "user" else WorkerError)(value)
        return [value for _, value in replies]

    def _rebuild(self, p: int, exc: BaseException) -> None:
        """Learner p again, on another worker, in the state it held before the lost request."""
        lost = self.hosts[p]
        self.gone.add(lost)
        self.lost.append((p, lost))
        self._place(p)
        LOG.warning("[learner] worker %s holding learner %d of %d was lost (%s); rebuilt on %s "
                    "in the state of its last answer", lost, p + 1, len(self.actors), exc,
                    self.hosts[p])
        self._check([self.actors[p].build().result()])
        self._check([self.actors[p].load(self.states[p]).result()])

    def _ask(self, what: str, *slices: np.ndarray) -> list:
        """Each learner's answer to ``what`` with the current parameters and its rows; a learner
        whose worker is lost is rebuilt and asked again (see the module docstring)."""
        requests = [(what, self.net.W, self.net.b,
                     *(a[p * self.part:(p + 1) * self.part] for a in slices))
                    for p in range(len(self.actors))]
        try:
            return self._answers(requests)
        except BaseException:  # a failure, Ctrl-C: the learners are released
            self.close()
            raise

    def _answers(self, requests: list[tuple]) -> list:
        """The answers to ``requests`` (one per learner), recomputing a lost learner's."""
        calls = [actor.run(*r) for actor, r in zip(self.actors, requests)]
        out, cpu = [], []
        for p, call in enumerate(calls):
            for attempt in range(RETRIES + 1):
                try:
                    reply = call.result()
                    break
                except Exception as exc:  # noqa: BLE001 - the actor answers errors as data
                    if attempt == RETRIES:
                        raise WorkerLost(f"[learner] learner {p + 1} of {len(self.actors)}: "
                                         f"{RETRIES + 1} workers lost in one request (last: "
                                         f"{exc})") from None
                    self._rebuild(p, exc)
                    call = self.actors[p].run(*requests[p])
            answer, self.states[p], seconds = self._check([reply])[0]
            out.append(answer)
            cpu.append(seconds)
        self.cpu_s = cpu
        return out

    def extra_state(self) -> dict[str, np.ndarray]:
        """Every learner's training state and random numbers, learner p's as ``brian2_w<p>_…``
        (the local pool's checkpoint).

        Returns
        -------
        dict of str to numpy.ndarray
            :func:`~stdp_ebm.spiking.pool.pooled_state` of each learner's training state.
        """
        return pooled_state([s["now"] if s["training"] is None else s["training"]
                             for s in self.states])

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Each learner back to its state in ``arrays`` (from :meth:`extra_state`).

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays; without learner states (an earlier version's checkpoint) the
            learners keep theirs, with a warning.
        """
        states = worker_states(arrays, len(self.actors))
        if states is None:
            return
        self.states = [{"now": s, "training": None} for s in states]
        calls = [a.load(s) for a, s in zip(self.actors, self.states)]
        for p, call in enumerate(calls):
            try:
                reply = call.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker: rebuilt in this state
                self._rebuild(p, exc)
                continue
            self._check([reply])

    def close(self) -> None:
        """Release the learners (their workers drop them) and a client this learner opened."""
        for future in self._futures:
            future.release()
        self.actors, self._futures, self.hosts = [], [], []
        if self._own:
            self.client.close()
            self._own = False
