"""Brian2's random-number state, saved and restored by content (common random numbers, resume)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError

#: the Cython target's random-number buffers (uniform and normal numbers)
BUFFERS = ("rand", "randn")
#: the code-generation targets whose random state :func:`random_state` can read
TARGETS = ("cython", "numpy")


def random_state() -> dict:
    """Brian2's random-number state, safe to restore after any amount of simulation.

    Brian2's Cython target (2.9) draws ``rand``/``randn`` from C buffers of 20000 numbers that it
    frees and reallocates whenever one runs out, and ``Device.get_random_state`` records the
    buffers' *addresses*. Restoring that after a refill points Brian2 at freed memory: the replay
    reads other numbers (no common random numbers) and the next refill frees the block a second
    time ("munmap_chunk(): invalid pointer", "corrupted size vs. prev_size"); Brian2's
    ``store``/``restore`` do the same. This keeps numpy's state, each buffer's read position and a
    copy of its *contents*; :func:`set_random_state` writes them into the buffers Brian2 holds then.

    Returns
    -------
    dict
        ``"numpy"``: numpy's global generator state (``numpy.random.get_state()``); ``"rand"``
        and ``"randn"``: (read position, copy of the buffer's contents, or None for a buffer
        not allocated yet).
    """
    import brian2 as b2

    device = b2.get_device()
    state: dict[str, Any] = {"numpy": np.random.get_state()}
    for name in BUFFERS:
        address, index = int(getattr(device, f"{name}_buffer")[0]), int(
            getattr(device, f"{name}_buffer_index")[0])
        state[name] = (index, _buffer(address).copy() if address else None)
    return state


def set_random_state(state: dict) -> None:
    """Return Brian2's random numbers to ``state``, in this process or another one.

    A buffer read from position 0 is refilled from numpy's generator before its first number is
    used, so only a position > 0 needs the contents; a process that has not drawn from a buffer yet
    gets one allocated (with ``malloc``: Brian2 frees it with ``free`` when it runs out).

    Parameters
    ----------
    state : dict
        From :func:`random_state` or :func:`random_state_from_arrays`.
    """
    import brian2 as b2

    device = b2.get_device()
    np.random.set_state(state["numpy"])
    for name in BUFFERS:
        index, contents = state[name]
        if contents is not None and index > 0:
            pointer = getattr(device, f"{name}_buffer")
            if not int(pointer[0]):
                pointer[0] = _allocate()
            _buffer(int(pointer[0]))[:] = contents  # a buffer, once allocated, is only replaced
        getattr(device, f"{name}_buffer_index")[:] = index


def random_state_arrays(state: dict) -> dict[str, np.ndarray]:
    """``state`` as arrays of fixed shapes, for a checkpoint's ``.npz``.

    Parameters
    ----------
    state : dict
        From :func:`random_state`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``numpy_key`` (MT19937 key, 624 uint32), ``numpy_pos`` (position and has-Gaussian flag),
        ``numpy_gauss`` (the cached Gaussian), and per buffer ``rand``/``randn`` its read position
        ``*_index`` and contents ``*_buffer`` (zeros for a buffer not allocated yet: its position
        is 0, so its contents are never read).

    Raises
    ------
    ValueError
        If numpy's global generator is not MT19937.
    """
    kind, key, pos, has_gauss, gauss = state["numpy"]
    if kind != "MT19937":
        raise ValueError(f"numpy's global generator is {kind}, not MT19937")
    out: dict[str, np.ndarray] = {"numpy_key": np.asarray(key, np.uint32),
           "numpy_pos": np.array([pos, has_gauss], np.int64),
           "numpy_gauss": np.array(gauss, np.float64)}
    for name in BUFFERS:
        index, contents = state[name]
        out[f"{name}_index"] = np.array(index, np.int64)
        out[f"{name}_buffer"] = np.zeros(_buffer_size()) if contents is None else contents
    return out


def random_state_from_arrays(arrays: dict[str, np.ndarray]) -> dict:
    """The inverse of :func:`random_state_arrays`.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        As :func:`random_state_arrays` returns them (e.g. read from a checkpoint).

    Returns
    -------
    dict
        A state for :func:`set_random_state`.
    """
    pos, has_gauss = (int(v) for v in arrays["numpy_pos"])
    state: dict = {"numpy": ("MT19937", np.asarray(arrays["numpy_key"], np.uint32), pos, has_gauss,
                             float(arrays["numpy_gauss"]))}
    for name in BUFFERS:
        state[name] = (int(arrays[f"{name}_index"]), np.asarray(arrays[f"{name}_buffer"], float))
    return state


def _buffer_size() -> int:
    from brian2.codegen.generators.cython_generator import _BUFFER_SIZE

    return int(_BUFFER_SIZE)


def _buffer(address: int) -> np.ndarray:
    """The Cython target's random buffer at ``address`` as a numpy view."""
    import ctypes

    return np.ctypeslib.as_array((ctypes.c_double * _buffer_size()).from_address(address))


def _allocate() -> int:
    """The address of a new buffer from the C library's ``malloc``, as Brian2's own are freed."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    address = libc.malloc(_buffer_size() * ctypes.sizeof(ctypes.c_double))
    if not address:
        raise MemoryError("no memory for Brian2's random-number buffer")
    return int(address)


def check_random_access(target: str) -> None:
    """Refuse, in one line (:class:`~stdp_ebm.errors.UserError`), what :func:`random_state` cannot
    read: another device than Brian2's runtime device, another code-generation ``target`` than
    Cython or numpy, or a Brian2 whose Cython target keeps its random numbers otherwise than in the
    ``rand``/``randn`` buffers of ``_BUFFER_SIZE`` doubles read here (Brian2 2.x).

    Parameters
    ----------
    target : str
        The code-generation target the simulation will run on.

    Raises
    ------
    UserError
        Any of the cases above.
    """
    import brian2 as b2

    device = b2.get_device()
    if target not in TARGETS:
        raise UserError(f"Brian2 code-generation target {target!r}: the spiking network's common "
                        f"random numbers need one of {', '.join(TARGETS)}")
    try:
        size: int | None = _buffer_size()
        buffers = [getattr(device, f"{name}_buffer{part}") for name in BUFFERS
                   for part in ("", "_index")]
    except (ImportError, AttributeError):
        size, buffers = None, []
    major = int(b2.__version__.split(".")[0])
    if major != 2 or size is None or len(buffers) != 4 or any(
            not isinstance(b, np.ndarray) or b.size != 1 for b in buffers):
        raise UserError(f"Brian2 {b2.__version__} with device {type(device).__name__}: the spiking "
                        "network's common random numbers need Brian2 2.x's runtime device, whose "
                        "Cython target draws from rand/randn buffers (tested with 2.9)")
