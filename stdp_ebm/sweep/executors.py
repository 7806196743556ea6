"""Where sweep points run: a local spawn-context process pool, or a Dask cluster, both through the
``concurrent.futures`` API."""

from __future__ import annotations

import multiprocessing
import re
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from ..errors import UserError

__all__ = ["check_scheduler", "executor"]

SCHEDULER = re.compile(r"^(tcp|tls|ucx|inproc)://\S+$")


def check_scheduler(address: str) -> None:
    """Reject a malformed ``--scheduler`` address before anything runs."""
    if not SCHEDULER.match(address):
        raise UserError(f"--scheduler {address!r}: expected a Dask scheduler address such as "
                        "tcp://HOST:8786")


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
    check_scheduler(scheduler)
    try:
        from dask.distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask: pip install -e '.[distributed]'") from None
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
