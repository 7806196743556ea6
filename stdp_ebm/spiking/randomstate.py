"""Brian2's random-number state, saved and restored by content (common random numbers)."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

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
    """
    import brian2 as b2

    device = b2.get_device()
    state = {"numpy": np.random.get_state()}
    for name in ("rand", "randn"):
        address, index = int(getattr(device, f"{name}_buffer")[0]), int(
            getattr(device, f"{name}_buffer_index")[0])
        state[name] = (index, _buffer(address).copy() if address else None)
    return state


def set_random_state(state: dict) -> None:
    """Return Brian2's random numbers to ``state`` (from :func:`random_state`)."""
    import brian2 as b2

    device = b2.get_device()
    np.random.set_state(state["numpy"])
    for name in ("rand", "randn"):
        index, contents = state[name]
        if contents is not None:
            address = int(getattr(device, f"{name}_buffer")[0])
            _buffer(address)[:] = contents  # a buffer, once allocated, is only ever replaced
        getattr(device, f"{name}_buffer_index")[:] = index


def _buffer(address: int) -> np.ndarray:
    """The Cython target's random buffer at ``address`` as a numpy view."""
    import ctypes

    from brian2.codegen.generators.cython_generator import _BUFFER_SIZE

    return np.ctypeslib.as_array((ctypes.c_double * _BUFFER_SIZE).from_address(address))


def check_random_access(target: str) -> None:
    """Refuse, in one line (:class:`~stdp_ebm.errors.UserError`), what :func:`random_state` cannot
    read: another device than Brian2's runtime device, another code-generation ``target`` than
    Cython or numpy, or a Brian2 whose Cython target keeps its random numbers otherwise than in the
    ``rand``/``randn`` buffers of ``_BUFFER_SIZE`` doubles read here (Brian2 2.x)."""
    import brian2 as b2

    device = b2.get_device()
    if target not in TARGETS:
        raise UserError(f"Brian2 code-generation target {target!r}: the spiking network's common "
                        f"random numbers need one of {', '.join(TARGETS)}")
    try:
        from brian2.codegen.generators.cython_generator import _BUFFER_SIZE
        buffers = [getattr(device, f"{name}_buffer{part}") for name in ("rand", "randn")
                   for part in ("", "_index")]
    except (ImportError, AttributeError):
        _BUFFER_SIZE, buffers = None, []
    major = int(b2.__version__.split(".")[0])
    if major != 2 or not isinstance(_BUFFER_SIZE, int) or len(buffers) != 4 or any(
            not isinstance(b, np.ndarray) or b.size != 1 for b in buffers):
        raise UserError(f"Brian2 {b2.__version__} with device {type(device).__name__}: the spiking "
                        "network's common random numbers need Brian2 2.x's runtime device, whose "
                        "Cython target draws from rand/randn buffers (tested with 2.9)")
