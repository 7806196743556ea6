"""Brian2's process-wide settings, set for one simulation's calls and given back after each.

Brian2 keeps its code-generation target (``prefs.codegen.target``), the default clock's step and its
random numbers (numpy's global generator and, on the Cython target, two C buffers drawn from it)
for the whole process, and calls ``gc.collect()`` at every run. A simulation of this package needs
its own target, step and random stream, and the caller's must be as they were afterwards:
:class:`Brian2Env` sets them on entering :meth:`Brian2Env.active` and restores the caller's on
leaving, keeping the simulation's random stream for its next call (so a network's results do not
depend on what the caller simulates between its calls). The objects alive on entry are hidden from
the cyclic collector for the call (``gc.freeze``; Brian2's per-run collection then costs
microseconds instead of ~0.1 s) and given back to it on exit.

The Cython target's fallback to numpy (no Cython importable) is logged once under this module's
logger, ``stdp_ebm.spiking.brian2_env``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from .randomstate import check_random_access, random_state, set_random_state

__all__ = ["Brian2Env", "last_target", "resolve_target"]

log = logging.getLogger(__name__)
_warned: set[str] = set()
_last: list[str] = []  # the target the latest simulation of this process ran on (the manifest's)


def last_target() -> str | None:
    """The code-generation target the latest simulation of this process ran on.

    Returns
    -------
    str or None
        ``"cython"`` or ``"numpy"`` (what the run's manifest records); None before any
        simulation.
    """
    return _last[-1] if _last else None


def resolve_target(target: str) -> str:
    """The runtime target that ``target`` runs on here.

    ``"cython"`` falls back to ``"numpy"`` (logged once, as a warning) when Cython is not
    importable.

    Parameters
    ----------
    target : str
        The requested target, ``"cython"`` or ``"numpy"`` (``[spiking] codegen``).

    Returns
    -------
    str
        The target used.
    """
    if target == "cython":
        try:
            import Cython  # noqa: F401
        except ImportError:
            if target not in _warned:
                _warned.add(target)
                log.warning("Cython is not importable: Brian2 simulations run on the numpy target "
                            "(correct, several times slower); pip install cython to compile them")
            return "numpy"
    return target


class Brian2Env:
    """The settings one simulation runs under: a runtime target, a time step and its own random
    stream (module docstring).

    Parameters
    ----------
    target : str
        The code-generation target, ``"cython"`` or ``"numpy"`` (:func:`resolve_target`).
    dt_ms : float
        Brian2's default clock step in ms.
    seed : int or None
        Starts the simulation's random stream (``brian2.seed``) on first entry; None: a
        simulation that draws no random numbers (it starts from the caller's state).
    """

    def __init__(self, target: str, dt_ms: float, seed: int | None) -> None:
        self.target = resolve_target(target)
        self.dt_ms, self.seed = dt_ms, seed
        self._random: dict | None = None  # the stream's state between calls
        self._depth = 0

    @contextmanager
    def active(self) -> Iterator[None]:
        """Within: this simulation's target, step and random stream; the caller's on exit, however
        the call ends.

        Re-entrant: a nested entry (a public method calling another) changes nothing.

        Returns
        -------
        contextlib.AbstractContextManager
            A context manager, entered with ``with env.active():``; it yields None.

        Raises
        ------
        UserError
            (On entry) Brian2's random buffers cannot be read on this version, device or target
            (:func:`~stdp_ebm.spiking.randomstate.check_random_access`).
        """
        if self._depth:
            yield
            return
        import brian2 as b2
        from brian2.devices.device import RuntimeDevice

        # A standalone device (a StandaloneProgram's build) keeps its random numbers in the program
        runtime = isinstance(b2.get_device(), RuntimeDevice)
        if runtime:
            check_random_access(self.target)
        saved = (b2.prefs.codegen.target, b2.defaultclock.dt, random_state() if runtime else None)
        freeze = gc.get_freeze_count() == 0  # the caller's own frozen objects stay theirs
        b2.prefs.codegen.target = self.target
        _last[:] = [self.target]
        b2.defaultclock.dt = self.dt_ms * b2.ms
        if self._random is not None and runtime:
            set_random_state(self._random)
        elif self.seed is not None:
            b2.seed(self.seed)
        if freeze:
            gc.freeze()
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            b2.prefs.codegen.target, b2.defaultclock.dt = saved[0], saved[1]
            if runtime:
                self._random = random_state()
                assert saved[2] is not None  # taken above whenever runtime
                set_random_state(saved[2])
            if freeze:
                gc.unfreeze()
