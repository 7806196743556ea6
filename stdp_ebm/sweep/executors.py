"""Where sweep points run: a local spawn-context process pool, or a Dask cluster
(:func:`stdp_ebm.cluster.connect`), both through the ``concurrent.futures`` API."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from ..cluster import check_scheduler, connect

__all__ = ["check_scheduler", "executor"]


@contextmanager
def executor(workers: int, scheduler: str | None) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor for the sweep's points.

    Parameters
    ----------
    workers : int
        Processes of the local spawn-context pool (ignored with ``scheduler``).
    scheduler : str or None
        A Dask scheduler address: the executor of a Dask ``Client`` connected to it.

    Yields
    ------
    concurrent.futures.Executor
        The pool (shut down on exit; pending points cancelled on an exception) or Dask's executor.

    Raises
    ------
    UserError
        If the address is malformed, Dask is not installed or the scheduler cannot be reached.
    """
    if scheduler is None:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return
    client = connect(scheduler)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
