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
    """A ``concurrent.futures`` executor: a spawn-context process pool of ``workers`` processes,
    or, with ``scheduler``, the executor of a Dask ``Client`` connected to it."""
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
