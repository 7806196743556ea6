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
    """Reject a malformed ``--scheduler`` address (scheme, host, numeric port) before anything runs.

    Parameters
    ----------
    address : str
        A Dask scheduler address such as ``tcp://HOST:8786``.

    Raises
    ------
    UserError
        If the address is malformed or its port is not in 1–65535.
    """
    m = SCHEDULER.match(address)
    port = address.rpartition(":")[2] if m and not address.startswith("inproc") else "1"
    if not m or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--scheduler {address!r}: expected a Dask scheduler address such as "
                        "tcp://HOST:8786 (port 1-65535)")


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
