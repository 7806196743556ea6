"""Seeds derived from one master seed, by name, so that every random stream is reproducible.

``Seeds(1234).rng("network")`` always gives the same generator; the derived integer seeds that were
used are recorded (``Seeds.used``) and written to the run's manifest.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Seeds"]


class Seeds:
    """Named child seeds of a master seed (numpy ``SeedSequence`` with the name's CRC32 as key).

    Parameters
    ----------
    master : int
        The run's master seed (``seed`` in a config).

    Attributes
    ----------
    used : dict of str to int
        Every derived seed handed out so far, by name (written to the run's manifest).

    Examples
    --------
    >>> seeds = Seeds(1234)
    >>> seeds.int("network") == Seeds(1234).int("network")
    True
    >>> sorted(seeds.used)
    ['network']
    """

    def __init__(self, master: int) -> None:
        self.master = int(master)
        self.used: dict[str, int] = {}

    def int(self, name: str) -> int:
        """A 31-bit integer seed for ``name`` (suitable for ``brian2.seed``), recorded in :attr:`used`.

        Parameters
        ----------
        name : str
            The stream's name, e.g. ``"network"`` or ``"noise"``.

        Returns
        -------
        int
            A seed in [0, 2³¹), the same for the same master seed and name.
        """
        seq = np.random.SeedSequence([self.master, zlib.crc32(name.encode())])
        value = int(seq.generate_state(1)[0] & 0x7FFFFFFF)
        self.used[name] = value
        return value

    def rng(self, name: str) -> np.random.Generator:
        """A numpy generator seeded with :meth:`int` of ``name``.

        Parameters
        ----------
        name : str
            The stream's name.

        Returns
        -------
        numpy.random.Generator
            A fresh generator; two calls with the same name give identical streams.
        """
        return np.random.default_rng(self.int(name))
