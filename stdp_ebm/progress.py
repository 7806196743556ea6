"""Progress output: tqdm bars over loops and Brian2's own report for long simulations.

One switch per process, set by the runner from ``--quiet`` and whether stderr is a terminal, in the
spirit of Brian2's global ``prefs``: the simulation code deep inside a run asks :func:`brian2_report`
instead of having a flag threaded through every call.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")
_enabled = False


def configure(enabled: bool) -> None:
    """Turn progress output on or off for this process."""
    global _enabled
    _enabled = bool(enabled)


def enabled() -> bool:
    """Whether progress output is on (to switch it off for a while and back)."""
    return _enabled


def iterate(items: Iterable[T], desc: str) -> Iterable[T]:
    """``items`` wrapped in a tqdm bar with ETA when progress is on, else unchanged."""
    if not _enabled:
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, leave=False)


def brian2_report() -> str | None:
    """The ``report`` argument for ``brian2.Network.run``: Brian2's progress on stderr, or none."""
    return "stderr" if _enabled else None
