"""Reading ``.npz`` files that may be hostile or damaged: nothing is read before it is checked.

Every member's name, its ``.npy`` header (dtype and declared shape) and the size the zip declares
for it are checked first; only then are arrays read (``allow_pickle=False``). The size a zip member
declares bounds what its decompression can produce, so neither a header claiming 10¹² floats nor a
deflate bomb allocates more than ``limit`` bytes.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import UserError

#: name -> (declared shape, dtype)
Headers = dict[str, tuple[tuple[int, ...], np.dtype]]
#: What reading a damaged zip or ``.npy`` member can raise; each becomes the caller's ``error``.
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


def headers(path: Path, limit: int, error: type[UserError],
            content: bytes | None = None) -> Headers:
    """The members of ``path`` as declared by their ``.npy`` headers (no array data read).

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.npz`` file (also named in error messages).
    limit : int
        The most bytes all arrays together may declare (the memory limit).
    error : type
        The :class:`~stdp_ebm.errors.UserError` subclass to raise (e.g. ``NetworkFileError``).
    content : bytes or None
        The bytes already read from ``path`` (parsed instead of opening it again).

    Returns
    -------
    dict of str to tuple
        Member name (without ``.npy``) -> (declared shape, dtype).

    Raises
    ------
    UserError
        ``error``, for a file that is not a zip of ``.npy`` arrays, an object dtype, a header whose
        shape disagrees with the member's size, or arrays that together declare more than ``limit``
        bytes.
    """
    out: Headers = {}
    total = 0
    try:
        with zipfile.ZipFile(path if content is None else io.BytesIO(content)) as zf:
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                if name == info.filename:
                    raise error(f"{path}: member {info.filename!r} is not a .npy array")
                if info.file_size > limit - total:
                    raise error(f"{path}: {name} declares {info.file_size} bytes; with the "
                                f"others that is more than the memory limit of {limit} bytes")
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version not in ((1, 0), (2, 0)):
                        raise error(f"{path}: {name} has .npy format {version}, expected 1.0/2.0")
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                    offset = f.tell() if f.seekable() else None
                if dtype.hasobject:
                    raise error(f"{path}: {name} holds Python objects; only plain arrays are read")
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if offset is not None and offset + nbytes != info.file_size:
                    raise error(f"{path}: {name} declares shape {shape} ({nbytes} bytes) but "
                                f"holds {info.file_size - offset}: damaged")
                total += nbytes
                out[name] = (tuple(shape), dtype)
    except UserError:
        raise
    except READ_ERRORS as exc:
        raise error(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    return out


def load(path: str | Path, limit: int, error: type[UserError],
         check_names: Callable[[Headers], None] | None = None,
         content: bytes | None = None) -> dict[str, np.ndarray]:
    """All arrays of ``path``, read only after their headers were checked.

    :func:`headers` (and ``check_names``, which sees the declared names, shapes and dtypes) accept them
    first; any failure raises ``error``.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.npz`` file (also named in error messages).
    limit : int
        The most bytes all arrays together may declare (the memory limit).
    error : type
        The :class:`~stdp_ebm.errors.UserError` subclass to raise (e.g. ``NetworkFileError``).
    check_names : callable or None
        ``check_names(headers)``: raises if the declared members are not what the caller expects.
    content : bytes or None
        The bytes already read from ``path``: the file is not opened again, so what was hashed is
        what is parsed.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays by name.

    Raises
    ------
    UserError
        ``error``, for a missing, damaged, hostile or oversized file.
    """
    path = Path(path)
    if content is None and not path.is_file():
        raise error(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    declared = headers(path, limit, error, content)
    if check_names is not None:
        check_names(declared)
    try:
        with np.load(path if content is None else io.BytesIO(content), allow_pickle=False) as f:
            return {name: f[name] for name in declared}
    except READ_ERRORS as exc:
        raise error(f"{path}: damaged .npz file ({type(exc).__name__}: {exc})") from None
