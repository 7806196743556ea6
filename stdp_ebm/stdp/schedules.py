"""Spike-pair schedules: which presynaptic spikes and wanted postsynaptic spikes each pair gets.

A :class:`Schedule` lists, for each of N independent pairs k, the presynaptic spike times and the
wanted postsynaptic spike times; :func:`stdp_ebm.stdp.protocols.run_schedule` simulates all of them
in one Brian2 run. Protocols: :func:`pairing` (Δt = t_post − t_pre, number of pairings, pairing
frequency, all per pair, so Δt grids, repeats and frequency sweeps are one schedule) and
:func:`poisson` (independent Poisson pre and post trains at constant rates: the control, where no net
change is expected). :func:`concat` joins schedules so that several protocols share one compiled
run. Pure NumPy; importable from :mod:`stdp_ebm.stdp.protocols` too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["Schedule", "pairing", "poisson", "concat"]

#: silence before the first spike and after the last one (s): the rate traces decay fully (≫ 5τ)
LEAD_S, TAIL_S = 0.05, 0.5


@dataclass(frozen=True)
class Schedule:
    """Spike times of ``n`` independent pairs; ``post_t`` are the wanted post spike times.

    Parameters
    ----------
    n : int
        The number of pairs.
    pre_i : numpy.ndarray
        Pair index of each presynaptic spike, ints in [0, n).
    pre_t : numpy.ndarray
        Time of each presynaptic spike (s), same length as ``pre_i``.
    post_i : numpy.ndarray
        Pair index of each wanted postsynaptic spike.
    post_t : numpy.ndarray
        Wanted time of each postsynaptic spike (s).
    """

    n: int
    pre_i: np.ndarray
    pre_t: np.ndarray
    post_i: np.ndarray
    post_t: np.ndarray

    @property
    def duration(self) -> float:
        """Run length (s): the last spike plus a tail in which the traces decay."""
        last = max(np.max(self.pre_t, initial=0.0), np.max(self.post_t, initial=0.0))
        return float(last + TAIL_S)

    def pair(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(pre, post) spike times of pair ``k``.

        Parameters
        ----------
        k : int
            The pair's index.

        Returns
        -------
        pre : numpy.ndarray
            Its presynaptic spike times (s).
        post : numpy.ndarray
            Its wanted postsynaptic spike times (s).
        """
        return self.pre_t[self.pre_i == k], self.post_t[self.post_i == k]


def pairing(delta_t_ms: np.ndarray, n_pairings: int, frequency_hz: np.ndarray | float = 1.0
            ) -> Schedule:
    """Spike-pair protocol: ``n_pairings`` pre spikes per pair, each with a post spike Δt_k after it.

    Pair k gets ``n_pairings`` pre spikes at ``frequency_hz[k]`` and a post spike at
    Δt_k = t_post − t_pre after each (before it if Δt_k < 0).

    Parameters
    ----------
    delta_t_ms : numpy.ndarray
        Δt of each pair (ms), shape ``(n,)``.
    n_pairings : int
        Pre/post pairings per pair.
    frequency_hz : numpy.ndarray or float
        Pairing frequency (Hz), one for all pairs or one per pair.

    Returns
    -------
    Schedule
        ``n`` pairs, the first pre spike after a silent lead.

    Examples
    --------
    >>> s = pairing([10.0, -10.0], n_pairings=2, frequency_hz=1.0)
    >>> pre, post = s.pair(0)
    >>> print(s.n, ((post - pre) * 1e3).round(6))
    2 [10. 10.]
    """
    delta = np.asarray(delta_t_ms, float) * 1e-3
    freq = np.broadcast_to(np.asarray(frequency_hz, float), delta.shape)
    start = LEAD_S + max(0.0, -float(np.min(delta, initial=0.0)))
    m = np.arange(n_pairings)
    pre_t = start + m[None, :] / freq[:, None]
    idx = np.repeat(np.arange(delta.size), n_pairings)
    return Schedule(delta.size, idx, pre_t.ravel(), idx.copy(), (pre_t + delta[:, None]).ravel())


def poisson(rate_hz: float, duration_s: float, n: int, rng: np.random.Generator,
            dead_time_ms: float = 5.0) -> Schedule:
    """Independent Poisson pre and post trains for ``n`` pairs: the no-correlation control.

    With a dead time so that no two pulses of one neuron overlap.

    Parameters
    ----------
    rate_hz : float
        Rate of each train (Hz).
    duration_s : float
        Length of the trains (s).
    n : int
        The number of pairs.
    rng : numpy.random.Generator
        Draws the intervals.
    dead_time_ms : float
        Minimum interval between two spikes of one train (ms).

    Returns
    -------
    Schedule
        ``n`` pairs of independent trains.

    Raises
    ------
    ConfigError
        If the rate is too high for the dead time.
    """
    def trains() -> tuple[np.ndarray, np.ndarray]:
        dead = dead_time_ms * 1e-3
        mean_isi = 1.0 / rate_hz - dead
        if mean_isi <= 0:
            raise ConfigError(f"Poisson rate {rate_hz} Hz is too high for a {dead_time_ms} ms "
                              "dead time")
        count = int(3 * rate_hz * duration_s + 20)
        isi = dead + rng.exponential(mean_isi, size=(n, count))
        t = LEAD_S + np.cumsum(isi, axis=1)
        keep = t < LEAD_S + duration_s
        return np.nonzero(keep)[0], t[keep]
    pre_i, pre_t = trains()
    post_i, post_t = trains()
    return Schedule(n, pre_i, pre_t, post_i, post_t)


def concat(*schedules: Schedule) -> tuple[Schedule, list[slice]]:
    """One schedule made of several (pair indices shifted), so that they share one compiled run.

    Parameters
    ----------
    *schedules : Schedule
        The schedules, in order.

    Returns
    -------
    schedule : Schedule
        All pairs, the first schedule's first.
    slices : list of slice
        Each part's slice of the pairs.
    """
    parts, slices, offset = [], [], 0
    for s in schedules:
        parts.append((s.pre_i + offset, s.pre_t, s.post_i + offset, s.post_t))
        slices.append(slice(offset, offset + s.n))
        offset += s.n
    cols = [np.concatenate([p[c] for p in parts]) for c in range(4)]
    return Schedule(offset, *cols), slices
