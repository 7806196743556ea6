"""One sweep point, run in a worker process (or a Dask worker thread): its own Brian2 cache, a
deadline, one BLAS thread, and any failure returned as the point's error instead of raised."""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import socket
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .. import experiments
from ..errors import InputError, PointTimeout, UserError
from ..network import NetworkFile
from ..rundir import codegen_target
from ..seeds import Seeds

__all__ = ["Task", "Outcome", "worker_cache_dir", "deadline", "run_point"]


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one sweep point (picklable).

    Parameters
    ----------
    experiment : str
        The experiment's name.
    index : int
        The point's index.
    cfg : dict
        The point's validated config.
    network_path : str, NetworkFile or None
        The ``--network`` file: its bytes (a :class:`~stdp_ebm.network.NetworkFile`, process pool)
        or its path (Dask workers read it once).
    timeout : float or None
        Seconds the point may run (None: no limit).
    network_sha256 : str or None
        The ``--network`` file's hash when the sweep started; a worker refuses other bytes.
    client_pid : int or None
        The process that started the sweep: a point run in it (a Dask cluster of threads in the
        caller's process) leaves the caller's Brian2 settings, its Cython cache included, alone.
    """
    experiment: str
    index: int
    cfg: dict[str, Any]
    network_path: str | None  # a NetworkFile carries the bytes the sweep read and hashed
    timeout: float | None
    network_sha256: str | None = None  # the --network file's hash when the sweep started
    client_pid: int | None = None  # the sweep's own process (its Brian2 settings are the user's)


@dataclass
class Outcome:
    """What a worker returns for one point.

    Parameters
    ----------
    index : int
        The point's index.
    wall_s : float
        Its wall time (s).
    worker : dict
        ``host``, ``pid``, ``cache_dir`` and ``brian2_codegen_target`` of the worker.
    seeds : dict of str to int
        The derived seeds it used.
    result : Result or None
        The experiment's result; None if it failed.
    error : dict of str to str or None
        ``type``, ``message`` (and ``traceback`` for a bug) of its failure; None if it ran.
    """
    index: int
    wall_s: float
    worker: dict[str, Any]
    seeds: dict[str, int]
    result: experiments.Result | None = None
    error: dict[str, str] | None = None


_CACHE: list[tuple[Any, Path]] = []  # (lock file held for the life of the process, cache dir)


def worker_cache_dir() -> Path:
    """This worker process's own Cython cache for Brian2, claimed once per process.

    ``$XDG_CACHE_HOME/stdp-ebm/cython/<machine>-<python tag>/worker-<slot>``: a slot is claimed with an
    exclusive ``flock`` held until the process exits, so no two live workers share a cache (no lock
    contention), later sweeps reuse the compiled code of earlier ones, and the machine/Python tag keeps
    binaries of different architectures apart in a shared home.

    Returns
    -------
    pathlib.Path
        The cache directory (also set as ``CYTHON_CACHE_DIR`` and Brian2's Cython cache).
    """
    if _CACHE:
        return _CACHE[0][1]
    import fcntl

    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = home / "stdp-ebm" / "cython" / f"{platform.machine()}-{sys.implementation.cache_tag}"
    root.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        lock = open(root / f"worker-{slot}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            lock.close()
            slot += 1
    path = root / f"worker-{slot}"
    path.mkdir(exist_ok=True)
    os.environ["CYTHON_CACHE_DIR"] = str(path)  # read by Cython when Brian2 first compiles
    if "brian2" in sys.modules:
        sys.modules["brian2"].prefs.codegen.runtime.cython.cache_dir = str(path / "brian_extensions")
    _CACHE.append((lock, path))
    return path


def caller_cache_dir() -> Path:
    """The Cython cache Brian2 uses in this process as its user set it (a point run in the
    sweep's own process claims no worker cache: the caller's settings stay as they are)."""
    chosen = sys.modules["brian2"].prefs.codegen.runtime.cython.cache_dir \
        if "brian2" in sys.modules else None
    return Path(chosen) if chosen else Path.home() / ".cython" / "brian_extensions"


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`PointTimeout` in this thread after ``seconds``.

    In a process-pool worker (main thread) by SIGALRM; in a Dask worker thread by an asynchronous
    exception. Either is delivered between Python bytecodes, so a long call into compiled code
    finishes first.

    Parameters
    ----------
    seconds : float or None
        The limit (s); None is no limit.

    Yields
    ------
    None
        While the deadline runs.
    """
    if seconds is None:
        yield
        return
    message = f"ran past the sweep timeout of {seconds:g} s"
    if threading.current_thread() is threading.main_thread():
        def on_alarm(signum: int, frame: Any) -> None:
            raise PointTimeout(message)
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    active = threading.Lock()
    thread = ctypes.c_ulong(threading.get_ident())

    def interrupt() -> None:
        with active:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, ctypes.py_object(PointTimeout))
    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        yield
    except PointTimeout:
        raise PointTimeout(message) from None
    finally:
        with active:
            timer.cancel()


def run_point(task: Task) -> Outcome:
    """Run one point (in a worker); any exception is caught and returned as the point's error.

    With one BLAS thread, the worker's own Cython cache and the point's deadline.

    Parameters
    ----------
    task : Task
        The point to run.

    Returns
    -------
    Outcome
        Its result or error, wall time and worker.

    Raises
    ------
    InputError
        If the ``--network`` file's bytes are not those the sweep started with.
    """
    from threadpoolctl import threadpool_limits

    cache = caller_cache_dir() if os.getpid() == task.client_pid else worker_cache_dir()
    network = NetworkFile.read(task.network_path) if task.network_path else None
    if task.network_sha256 is not None and (network is None or
                                            network.sha256 != task.network_sha256):
        raise InputError(f"--network {task.network_path} changed during the sweep (sha256 "
                         f"{task.network_sha256[:12]}… at its start); the finished points are "
                         "kept, restore the file and resume")
    exp = experiments.get(task.experiment)
    ctx = experiments.RunContext(seeds=Seeds(task.cfg["seed"]), network_path=network)
    t0 = time.perf_counter()
    result, error = None, None
    try:
        # One BLAS thread per worker: no oversubscription, and the same floating-point summation
        # order whatever the number of workers (results identical with 1, 2 or Dask workers).
        with threadpool_limits(limits=1), deadline(task.timeout):
            result = exp.run(task.cfg, ctx)
    except Exception as exc:  # noqa: BLE001 -- a failed point is recorded and the sweep goes on
        error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
        if not isinstance(exc, UserError):
            error["traceback"] = traceback.format_exc()
    worker = {"host": socket.gethostname(), "pid": os.getpid(), "cache_dir": str(cache),
              "brian2_codegen_target": codegen_target()}
    return Outcome(task.index, time.perf_counter() - t0, worker, dict(ctx.seeds.used), result, error)
