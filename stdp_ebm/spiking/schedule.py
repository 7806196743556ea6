"""Several phases in one Brian2 run: callbacks at the phases' boundaries (:func:`run_segments`).

Brian2's runtime device pays a set-up at every ``Network.run`` call: it generates the code of every
code object again (only the compiled module is cached) and calls ``gc.collect()``. For the spiking
learner's network that is ~60 ms per call, more than simulating a 100 ms phase of a mini-batch, and
a mini-batch has four phases (settle, count, +β, −β). Here the phases are :class:`Segment` s of one
run: a ``NetworkOperation`` first in every time step (``when="start"``, before the monitors record)
calls each segment's ``start`` and ``end`` at its boundary step. Each callback sees the network
exactly as it would between two ``run`` calls, so results are the same to the bit
(``tests/test_spiking_episode.py``); a callback may change variables, read monitors, save or
restore the state and the random numbers.

The other half of the per-run cost, ``gc.collect()``, is removed by freezing the objects alive
during each of the network's calls (:class:`~stdp_ebm.spiking.brian2_env.Brian2Env`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..progress import run_brian2

#: a segment's ``start`` or ``end``: called with no argument, its result ignored
Callback = Callable[[], None]


@dataclass
class Segment:
    """``ms`` of simulation with ``start`` called before its first step and ``end`` after its last.

    Parameters
    ----------
    ms : float
        Length of the segment in ms (rounded to whole time steps).
    start : callable, optional
        Called with no argument before the segment's first step.
    end : callable, optional
        Called with no argument after the segment's last step.
    """

    ms: float
    start: Callback | None = None
    end: Callback | None = None


def _timeline(segments: list[Segment], first_step: int, dt_s: float) -> tuple[list, int]:
    """[(step, callback)] in call order and the step after the last segment."""
    queue, step = [], first_step
    for seg in segments:
        if seg.start is not None:
            queue.append((step, seg.start))
        step += int(round(seg.ms * 1e-3 / dt_s))
        if seg.end is not None:
            queue.append((step, seg.end))
    return queue, step


def run_segments(network, clock, segments: list[Segment], report=None) -> None:
    """Run ``segments`` back to back in one ``network.run`` on ``clock``'s time steps.

    A callback that raises stops the run at the end of that step; the exception is raised again
    after ``run`` returns, and later callbacks are not called.

    Parameters
    ----------
    network : brian2.Network
        The network run; it continues from its current time ``network.t``.
    clock : brian2.Clock
        The clock whose steps the segments are counted in.
    segments : list of Segment
        The phases, in order.
    report : str or callable, optional
        Brian2's progress report of the run (``Network.run``'s ``report``); None: none.

    Raises
    ------
    Exception
        The first exception a callback raised, after the run stopped.
    KeyboardInterrupt
        Ctrl+C during the run.
    """
    import brian2 as b2

    dt_s = float(clock.dt / b2.second)
    first = int(round(network.t_ / dt_s))
    queue, last = _timeline(segments, first, dt_s)
    state = {"next": 0}
    failed: list[Exception] = []  # the callback's exception, re-raised after the run

    def fire(step: int) -> None:
        while not failed and state["next"] < len(queue) and queue[state["next"]][0] <= step:
            callback = queue[state["next"]][1]
            state["next"] += 1
            try:
                callback()
            except Exception as exc:  # re-raised after the run, with its own type
                failed.append(exc)
                network.stop()

    fire(first)
    if last > first and not failed:
        # network.t_: the time (s) of the step being run, a float the run loop sets every step
        op = b2.NetworkOperation(lambda: fire(int(round(network.t_ / dt_s))), clock=clock,
                                 when="start", order=-1000)
        network.add(op)
        try:
            run_brian2(network, (last - first) * dt_s * b2.second, report=report, namespace={})
        except KeyboardInterrupt:
            if not failed:  # not our own stop for a failing callback: Ctrl+C
                raise
        finally:
            network.remove(op)
    if not failed:
        fire(last)
    if failed:
        raise failed[0]
