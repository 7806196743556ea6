"""Seeds derived from one master seed, by name, so that every random stream is reproducible.

``Seeds(1234).rng("network")`` always gives the same generator; the derived integer seeds that were
used are recorded (``Seeds.used``) and written to the run's manifest.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Seeds"]


class Seeds:
    """Named child seeds of a master seed (numpy ``SeedSequence`` with the name's CRC32 as key)."""

    def __init__(self, master: int) -> None:
        self.master = int(master)
        self.used: dict[str, int] = {}

    def int(self, name: str) -> int:
        """A 31-bit integer seed for ``name`` (suitable for ``brian2.seed``)."""
        seq = np.random.SeedSequence([self.master, zlib.crc32(name.encode())])
        value = int(seq.generate_state(1)[0] & 0x7FFFFFFF)
        self.used[name] = value
        return value

    def rng(self, name: str) -> np.random.Generator:
        """A numpy generator seeded with :meth:`int` of ``name``."""
        return np.random.default_rng(self.int(name))
