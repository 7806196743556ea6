"""A Dask cluster given by ``--scheduler ADDRESS``: the address checked, a client connected. Used
by the sweeps (:mod:`stdp_ebm.sweep.executors`) and by the spiking learner's workers
(:mod:`stdp_ebm.spiking.dask_pool`); below both in the import graph."""

from __future__ import annotations

import re
from typing import Any

from .errors import UserError

__all__ = ["check_scheduler", "connect"]

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


def connect(address: str) -> Any:
    """A ``dask.distributed.Client`` connected to the scheduler at ``address``.

    Parameters
    ----------
    address : str
        The scheduler's address, e.g. ``tcp://HOST:8786``.

    Returns
    -------
    distributed.Client
        The connected client (the caller closes it).

    Raises
    ------
    UserError
        A malformed address, Dask not installed, or no scheduler answering within 10 s.
    """
    check_scheduler(address)
    try:
        from dask.distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask: pip install -e '.[distributed]'") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {address}: cannot connect ({exc})") from None
