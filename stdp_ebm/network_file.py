"""A network file read once: its path, bytes and their SHA-256 (:class:`NetworkFile`).

A ``--network`` file is read once: its bytes are hashed for the run's record and parsed from memory
(:func:`stdp_ebm.network.load_network`), and a sweep's points get those bytes, so the file may
change on disk during a run without mixing two networks into one result.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import NetworkFileError
from .resources import memory_limit

__all__ = ["NetworkFile"]


class NetworkFile(str):
    """A network file read once: the path (this string, as given), its bytes (``content``) and
    their SHA-256 as hex digits (``sha256``).

    :func:`load_network` parses these bytes instead of opening the path again, so the hash
    recorded for a run describes the network the run used. Build one with :meth:`read`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file's path, as given.
    content : bytes
        Its bytes.
    """

    content: bytes
    sha256: str

    def __new__(cls, path: str | Path, content: bytes) -> "NetworkFile":
        self = super().__new__(cls, str(path))
        self.content = content
        self.sha256 = hashlib.sha256(content).hexdigest()
        return self

    def __reduce__(self) -> tuple:  # pickled with its bytes (sweep workers, Dask)
        return (NetworkFile, (str(self), self.content))

    @classmethod
    def read(cls, path: str | Path) -> "NetworkFile":
        """Read ``path`` into memory.

        Parameters
        ----------
        path : str or pathlib.Path
            The network file; a :class:`NetworkFile` is returned as it is.

        Returns
        -------
        NetworkFile
            The path with its bytes and their hash.

        Raises
        ------
        NetworkFileError
            A missing file, one that is not a regular file, one larger than the memory limit of
            :mod:`stdp_ebm.resources`, one that changed size while read, or a read error.
        """
        if isinstance(path, NetworkFile):
            return path
        file = Path(path)
        limit = memory_limit()
        try:
            if not file.exists():
                raise NetworkFileError(f"{file}: no such network file")
            if not file.is_file():
                raise NetworkFileError(f"{file}: not a file")
            with open(file, "rb") as f:
                size = os.fstat(f.fileno()).st_size  # of the file opened, not of a later one
                if size > limit:
                    raise NetworkFileError(f"{file}: {size} bytes, more than the memory limit "
                                           f"of {limit} bytes; not read")
                content = f.read(size)
                grew = f.read(1)
        except OSError as exc:
            raise NetworkFileError(f"{file}: cannot read ({exc.strerror})") from None
        if grew or len(content) != size:
            raise NetworkFileError(f"{file}: changed size while it was read; give a file that "
                                   "no one is writing")
        return cls(path, content)
