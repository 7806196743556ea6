"""Progress output: tqdm bars on a terminal, one status line at a fixed interval elsewhere.

One switch per process, set by the runner from ``--quiet``, in the spirit of Brian2's global
``prefs``: the simulation code deep inside a run asks :func:`iterate`, :func:`bar` or
:func:`brian2_report` instead of having a flag threaded through every call.

When stderr is a terminal, loops show tqdm bars with ETA. When it is not (CI, ``nohup``, ``| tee``),
a bar would be one ever-growing line of carriage returns, so each open bar instead prints one plain
line when it starts, every :data:`INTERVAL_S` seconds while it runs (from a timer thread, so a slow
step still reports), and when it ends, e.g.::

    alignment sweep:  25%|##5       | 2/8 [01:00<03:00, 30.00s/point]

Brian2 runs go through :func:`run_brian2`: its report as set here, and a Ctrl+C that Brian2 turned
into an early stop raised as ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from .checkpoint import History

__all__ = ["INTERVAL_S", "configure", "iterate", "bar", "EpochBars", "epoch_lines", "brian2_report",
           "brian2_quiet", "run_brian2"]

T = TypeVar("T")
#: seconds between two status lines when stderr is not a terminal
INTERVAL_S = 30.0
_mode = "off"  # "off", "bar" (tqdm, terminal) or "lines" (status lines, no terminal)
_brian2_reports = True  # Brian2's per-run report lines, when progress is on


def configure(enabled: bool, terminal: bool | None = None) -> None:
    """Turn progress output on or off for this process.

    Parameters
    ----------
    enabled : bool
        Whether to show progress at all (``--quiet`` turns it off).
    terminal : bool or None
        True for tqdm bars, False for status lines every :data:`INTERVAL_S` seconds; None asks whether
        stderr is a terminal.
    """
    global _mode
    if terminal is None:
        terminal = sys.stderr.isatty()
    _mode = "off" if not enabled else ("bar" if terminal else "lines")


class _StatusLines:
    """The part of tqdm's interface the package uses (``update``, context manager), printing a
    status line at start, every ``interval`` seconds and at the end."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int = 0) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.postfix = ""
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._print()
        self._timer = threading.Thread(target=self._tick, args=(INTERVAL_S,), daemon=True)
        self._timer.start()

    def _print(self) -> None:
        from tqdm import tqdm

        with self._lock:
            line = tqdm.format_meter(self.n, self.total, time.monotonic() - self._t0,
                                     prefix=self.desc, unit=self.unit, ascii=True, ncols=100,
                                     postfix=self.postfix or None)
            print(line, file=sys.stderr, flush=True)

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._print()

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n += n

    def set_postfix_str(self, s: str, refresh: bool = False) -> None:
        """Text after the counts (tqdm's method of the same name), e.g. a running error; shown
        with the next status line (``refresh`` is tqdm's, accepted and not needed here)."""
        with self._lock:
            self.postfix = s

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._print()

    def __enter__(self) -> "_StatusLines":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(total: int | None, desc: str, unit: str = "it", initial: int = 0) -> Any:
    """A progress counter for ``with bar(...) as b: ... b.update()``.

    Parameters
    ----------
    total : int or None
        The count at completion; None if unknown.
    desc : str
        The label before the counts.
    unit : str
        What is counted (``"point"``, ``"batch"``, ...).
    initial : int
        The count to start from (work done in an earlier sitting).

    Returns
    -------
    tqdm.tqdm or status-line counter
        A tqdm bar, a status-line counter with tqdm's ``update``/``set_postfix_str``/``close``, or
        (progress off) a disabled tqdm that prints nothing.
    """
    from tqdm import tqdm

    if _mode == "lines":
        return _StatusLines(total, desc, unit, initial)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                disable=_mode == "off")


class EpochBars:
    """The ``on_batch`` callback of :func:`stdp_ebm.learning.fit`: a bar per epoch over its batches.

    Shows the running training error; nothing when progress is off. Used as a context manager, so that
    the bar of an epoch cut short (an exception, Ctrl+C) is closed: its status lines would keep
    printing. Call it as ``bars(epoch, batch, batches, running_error)``.

    Parameters
    ----------
    desc : str
        The label of the bars (the learner's name).
    """

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self._bar: Any = None  # a tqdm bar or _StatusLines, made on the epoch's first batch

    def __call__(self, epoch: int, batch: int, batches: int, running_error: float) -> None:
        if _mode == "off":
            return
        if self._bar is None:
            self._bar = bar(batches, f"{self.desc} epoch {epoch}", "batch")
        self._bar.set_postfix_str(f"running error {100 * running_error:.1f} %", refresh=False)
        self._bar.update()  # redraws at tqdm's own pace, not on every mini-batch
        if batch == batches:
            self.close()

    def close(self) -> None:
        """Close the current epoch's bar, if one is open (its final line is printed)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "EpochBars":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def epoch_lines(desc: str, epochs: int) -> Callable[["History"], None]:
    """The ``on_epoch`` callback of :func:`stdp_ebm.learning.fit`: one line on stderr after each epoch.

    The line holds the epoch's running training error (the one fit records), its test error, its time,
    the ETA (the median epoch so far times the epochs left: a first epoch slowed by other jobs does not
    dominate it) and the training time so far, resumed sittings included; nothing when progress is off.

    Parameters
    ----------
    desc : str
        The label of the lines (the learner's name).
    epochs : int
        The epochs the run trains in all (for the ETA).

    Returns
    -------
    callable
        ``report(history)``, to be called with the :class:`~stdp_ebm.checkpoint.History` after each
        epoch.
    """
    def report(history: "History") -> None:
        if _mode == "off":
            return
        wall = history.wall_s
        eta = statistics.median(wall) * (epochs - history.epochs)
        print(f"{desc} epoch {history.epochs}/{epochs}: train error (running) "
              f"{100 * history.train_error[-1]:.2f} %, test error "
              f"{100 * history.test_error[-1]:.2f} %, {wall[-1]:.1f} s/epoch, ETA {eta / 60:.1f} min "
              f"({sum(wall) / 60:.1f} min trained)", file=sys.stderr, flush=True)
    return report


@contextlib.contextmanager
def brian2_quiet() -> Iterator[None]:
    """Brian2's per-run reports off inside the block; progress bars as configured.

    For a training loop of thousands of short runs.

    Yields
    ------
    None
        Inside the block the reports are off; the previous setting is restored on exit.
    """
    global _brian2_reports
    saved, _brian2_reports = _brian2_reports, False
    try:
        yield
    finally:
        _brian2_reports = saved


def iterate(items: Iterable[T], desc: str) -> Iterable[T]:
    """``items`` with progress (a tqdm bar or status lines) when progress is on, else unchanged.

    Parameters
    ----------
    items : iterable
        What to loop over; its ``len`` (if any) is the total.
    desc : str
        The label of the bar.

    Returns
    -------
    iterable
        The same items, in the same order.
    """
    if _mode == "off":
        return items
    if _mode == "bar":
        from tqdm import tqdm
        return tqdm(items, desc=desc, leave=False)
    return _iterate_lines(items, desc)


def _iterate_lines(items: Iterable[T], desc: str) -> Iterator[T]:
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    with _StatusLines(total, desc, "it") as status:
        for item in items:
            yield item
            status.update()


def brian2_report() -> str | None:
    """The ``report`` argument for ``brian2.Network.run``.

    Returns
    -------
    str or None
        ``"stderr"`` (Brian2's progress lines on stderr) when progress is on and not inside
        :func:`brian2_quiet`, else None.
    """
    return "stderr" if _mode != "off" and _brian2_reports else None


def run_brian2(network, duration, report: str | None = "configured", **kwargs) -> None:
    """``network.run(duration, ...)`` that simulates all of ``duration`` or raises KeyboardInterrupt.

    During a run Brian2 takes a first Ctrl+C as "stop at the end of this step" and returns normally;
    the caller would then analyse a simulation cut short (seen: the spiking learner took a cut-short
    phase for a whole one, NaN rates).

    Parameters
    ----------
    network : brian2.Network
        The network to run.
    duration : brian2.Quantity
        Simulated time to run (a time, e.g. ``200*ms``).
    report : str or None
        Brian2's ``report``; ``"configured"`` (the default) uses :func:`brian2_report`.
    **kwargs
        Passed to ``network.run`` (e.g. ``namespace``).

    Raises
    ------
    KeyboardInterrupt
        If Brian2 stopped before the end of ``duration``.
    """
    import logging

    from brian2 import second

    t_end = float(network.t / second) + float(duration / second)
    brian2_log = logging.getLogger("brian2")
    brian2_log.addFilter(_no_second_ctrl_c_hint)  # a first Ctrl+C already interrupts here
    try:
        network.run(duration, report=brian2_report() if report == "configured" else report,
                    **kwargs)
    finally:
        brian2_log.removeFilter(_no_second_ctrl_c_hint)
    half_step = 0.5 * min(float(obj.clock.dt / second) for obj in network.objects)
    t = float(network.t / second)
    if t < t_end - half_step:
        raise KeyboardInterrupt(f"Brian2 stopped the run at t = {t:.4f} s of {t_end:.4f} s")


def _no_second_ctrl_c_hint(record) -> bool:
    """Drop Brian2's "Simulation stop requested. Press Ctrl+C again to interrupt.": under
    :func:`run_brian2` the first Ctrl+C interrupts."""
    return "Press Ctrl+C again" not in record.getMessage()
